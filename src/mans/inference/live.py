"""Live streams: one frame at a time in, a prediction every ``stride`` frames out
(``mans stream CKPT``; :meth:`mans.inference.api.Classifier.stream`).

A :class:`Stream` keeps the last ``window`` frames in a ring buffer. Every ``stride``-th pushed
frame (once ``min_frames`` frames have arrived; default: ``stride``) it classifies the buffered
frames, oldest first, exactly as :meth:`~mans.inference.api.Classifier.predict` classifies that array, and
returns ``{"frame": index of the newest frame, "start": index of the oldest, "top": [...],
"latency_ms": ...}`` (the time to prepare the buffer and run the model).

Input lines (``mans stream``; one JSON object per line, the frame's people):

* ``{"joints": J, "scores": S?}``: ``J`` ``(V, C)`` or ``(M, V, C)`` in the checkpoint's layout,
  ``S`` ``(V,)`` / ``(M, V)``; or
* ``{"people": [person, ...]}`` (also ``instances``): COCO-style people as in the COCO-17 JSON
  reader (``keypoints``, ``keypoint_scores``?, ``track_id``?), matched to the body slots frame by
  frame (:class:`~mans.formats.keypoints.SlotTracker`, as the file readers do);
* an empty line or ``{}``: a frame without detection (a zero row).

A line that is not one of these is reported on stderr as ``FILE:LINE: reason`` and skipped; the
stream goes on.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from ..coordinates import as_frames
from ..errors import ConfigError, FormatError
from ..formats.coco import person_from_dict
from ..formats.keypoints import SlotTracker, numbers
from ..skeleton import Sequence


class Stream:
    """Ring buffer + periodic prediction (module docstring).

    Args:
        classifier: a :class:`mans.inference.api.Classifier`.
        window: frames kept; stride: frames between predictions; topk: classes reported;
        min_frames: frames needed before the first prediction (default ``stride``).
    """

    def __init__(self, classifier, *, window: int, stride: int = 5, topk: int = 5,
                 min_frames: int | None = None):
        if window < 1 or stride < 1:
            raise ConfigError(f"window and stride must be >= 1, got {window}, {stride}")
        self.clf = classifier
        self.window, self.stride, self.topk = int(window), int(stride), int(topk)
        self.min_frames = int(min_frames or stride)
        lay = classifier.layout
        self.m = classifier.prep.max_bodies
        self.v = lay.num_joints
        self.c: int | None = None  # fixed by the first frame with coordinates
        self.joints: np.ndarray | None = None  # (window, M, V, C) ring
        self.scores = np.zeros((self.window, self.m, self.v), np.float32)
        self.has_scores = False
        self.count = 0  # frames pushed
        self.tracker: SlotTracker | None = None

    def _ring(self, c: int) -> None:
        if self.c is None:
            self.c = c
            self.joints = np.zeros((self.window, self.m, self.v, c), np.float32)
        elif c != self.c:
            raise ConfigError(f"frame {self.count}: {c}-D coordinates, earlier frames are "
                              f"{self.c}-D")

    def push(self, joints: np.ndarray | None, scores: np.ndarray | None = None) -> dict | None:
        """Add one frame: ``joints`` ``(V, C)`` / ``(M', V, C)`` (None: no detection), optional
        ``scores`` ``(V,)`` / ``(M', V)``. Returns a prediction every ``stride`` frames."""
        slot = self.count % self.window
        if joints is None:
            if self.joints is not None:
                self.joints[slot] = 0
            self.scores[slot] = 0
        else:
            j4, s4 = as_frames(joints, self.v, scores, what=f"frame {self.count}",
                               one_frame=True)  # (1, M', V, C), (1, M', V)
            j = j4[0]
            self._ring(j.shape[2])
            frame = np.zeros((self.m, self.v, self.c), np.float32)
            k = min(self.m, j.shape[0])
            frame[:k] = j[:k]
            self.joints[slot] = frame  # type: ignore[index]
            # a frame given without scores: full confidence where a joint is present, so that it
            # is not dropped as undetected once other frames brought scores (2-D path)
            self.scores[slot] = np.any(frame != 0, axis=-1)
            if s4 is not None:
                self.scores[slot, :k] = s4[0, :k]
                self.has_scores = True
        self.count += 1
        if self.count < self.min_frames or self.count % self.stride or self.joints is None:
            return None
        return self.predict_now()

    def push_people(self, people: list) -> dict | None:
        """Add one frame of :class:`~mans.formats.keypoints.Person` detections (2-D)."""
        if self.tracker is None:
            self.tracker = SlotTracker(self.m, self.v, 2)
        if not people and self.joints is None:
            return self.push(None)
        j, s = self.tracker.step(people)
        return self.push(j, s)

    def buffer(self) -> Sequence:
        """The buffered frames, oldest first, as a Sequence."""
        n = min(self.count, self.window)
        order = (np.arange(self.count - n, self.count)) % self.window
        assert self.joints is not None
        return Sequence(joints=self.joints[order], layout=self.clf.layout, name="stream",
                        scores=self.scores[order] if self.has_scores else None)

    def predict_now(self) -> dict:
        t0 = time.perf_counter()
        seq = self.buffer()
        try:
            x = self.clf.pipeline.model_input(seq).x  # (C, S, W)
            prob = self.clf.probabilities(x[None])[0]
            top = self.clf.top(prob, self.topk)
            reason = None
        except FormatError as e:  # no body in the buffer
            top, reason = [], e.reason
        out = {"frame": self.count - 1, "start": self.count - seq.num_frames, "top": top,
               "latency_ms": round(1000 * (time.perf_counter() - t0), 3)}
        if reason:
            out["reason"] = reason
        return out


def parse_line(stream: Stream, text: str, source: str, line: int) -> dict | None:
    """Push one input line (module docstring) into ``stream``; FormatError names the line."""
    text = text.strip()
    if not text:
        return stream.push(None)
    try:
        d = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise FormatError(source, f"not a JSON object: {getattr(e, 'msg', e)}", line) from None
    if not isinstance(d, dict):
        raise FormatError(source, "expected a JSON object per line", line)
    try:
        if "joints" in d:
            j = numbers(Path(source), d["joints"], "(V, C) or (M, V, C) numbers", "joints")
            s = None if d.get("scores") is None else numbers(
                Path(source), d["scores"], "(V,) or (M, V) numbers", "scores")
            return stream.push(j, s)
        people = d.get("people", d.get("instances"))
        if people is None:
            if d:
                raise FormatError(source, "expected 'joints' or 'people'", line)
            return stream.push(None)
        if not isinstance(people, list):
            raise FormatError(source, "'people' must be a list", line)
        return stream.push_people([person_from_dict(Path(source), p, stream.v, f"person {k}")
                                   for k, p in enumerate(people)])
    except FormatError as e:
        raise FormatError(source, e.reason, line) from None
    except ConfigError as e:
        raise FormatError(source, str(e), line) from None


def follow_lines(f: IO[str], follow: bool, idle_exit: float | None,
                 poll: float = 0.02) -> Iterator[str]:
    """Lines of ``f``; with ``follow``, wait for more at EOF (a growing file) until
    ``idle_exit`` seconds pass without a new line (None: forever). A partial last line is kept
    until its newline arrives."""
    pending = ""
    idle = 0.0
    while True:
        chunk = f.readline()
        if chunk:
            idle = 0.0
            pending += chunk
            if pending.endswith("\n"):
                yield pending
                pending = ""
            continue
        if not follow or (idle_exit is not None and idle >= idle_exit):
            if pending:
                yield pending
            return
        time.sleep(poll)
        idle += poll


def run_stream(classifier, source: str | None, *, stride: int, window: int | None, topk: int,
               follow: bool = False, idle_exit: float | None = None,
               out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """``mans stream``: read frames from ``source`` (a file; None or ``-``: stdin), write one
    JSON line per prediction to ``out``. Returns the number of input lines skipped."""
    out, err = out or sys.stdout, err or sys.stderr
    stream = classifier.stream(window=window, stride=stride, topk=topk)
    name = "<stdin>" if source in (None, "-") else str(source)
    f = sys.stdin if source in (None, "-") else open(source, encoding="utf-8")
    bad = 0
    try:
        for n, text in enumerate(follow_lines(f, follow, idle_exit), start=1):
            try:
                r = parse_line(stream, text, name, n)
            except FormatError as e:
                bad += 1
                print(f"mans stream: skipped {e}", file=err, flush=True)
                continue
            if r is not None:
                print(json.dumps(r), file=out, flush=True)
    finally:
        if f is not sys.stdin:
            f.close()
    return bad
