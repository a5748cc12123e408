"""Shared pieces of the pose-estimator readers (COCO-17 JSON, OpenPose, MediaPipe, PYSKL).

* :class:`Person`: one detected person in one frame: key points ``(V, C)`` in image (or world)
  coordinates, per-joint scores ``(V,)``, and the estimator's ``track_id`` when it tracks.
* :func:`assign_slots`: people of every frame -> the ``(T, M, V, C)`` body-slot array of a
  :class:`~mans.skeleton.Sequence`, the same person kept in the same slot across frames:
  by ``track_id`` when every detection has one, else by the nearest position (centroid of the
  valid joints) to where each slot was last seen. ``M`` = the most people in one frame; a frame
  without a detection (or a slot nobody fills) is a zero row: *missing detections are zeros*.
* :func:`load_json`: JSON with a :class:`~mans.errors.FormatError` naming the line on bad syntax.
* :func:`place_frames`: frames put at the frame number the estimator wrote, gaps filled.

A joint is *valid* when its score is > 0; an invalid joint's coordinates are set to 0 (the
estimators write 0 or garbage there), so "absent" has one meaning everywhere: zeros.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..coordinates import check_coordinates
from ..errors import FormatError

_FMAX = float(np.finfo(np.float32).max)
MAX_SPAN = 1_000_000  # frames: a wider range of frame numbers is a corrupt number, not a video


@dataclass
class Person:
    """One detection. ``keypoints``: ``(V, C)`` float64; ``scores``: ``(V,)`` in [0, 1];
    ``track_id``: the estimator's identity (any hashable), None when it does not track."""

    keypoints: np.ndarray
    scores: np.ndarray
    track_id: object = None

    @property
    def valid(self) -> np.ndarray:
        return self.scores > 0

    def centroid(self) -> np.ndarray | None:
        """``(C,)`` mean of the valid joints, None when no joint is valid."""
        ok = self.valid
        return self.keypoints[ok].mean(axis=0) if ok.any() else None


def place_frames(path: Path, ids: list, frames: list, empty: Callable[[], object],
                 what: str = "frame id") -> list:
    """``frames`` (one entry a frame, in file order) placed at their frame numbers ``ids``
    (each a non-negative int or None, as the file gave it), lowest first, a number nobody wrote
    getting ``empty()``: the output's length is the span of the numbers. When no frame has a
    number the list order stands.

    Raises:
        FormatError: a number is not a non-negative integer (a bool, float or string is not),
            some frames have a number and some not, a number appears twice, or the numbers span
            ``MAX_SPAN`` frames or more (``what`` names the number in messages).
    """
    for k, i in enumerate(ids):
        if i is not None and (not isinstance(i, int) or isinstance(i, bool) or i < 0):
            raise FormatError(path, f"frame {k}: {what} {i!r:.30} is not a non-negative integer")
    if all(i is None for i in ids):
        return frames
    if any(i is None for i in ids):
        raise FormatError(path, f"some frames have a {what} and some do not")
    at = [int(i) for i in ids]  # type: ignore[arg-type]
    lo, span = min(at), max(at) - min(at) + 1
    if span > MAX_SPAN:
        raise FormatError(path, f"{what}s span {span} frames (> {MAX_SPAN})")
    rows: list = [None] * span
    filled = np.zeros(span, dtype=bool)
    for k, (i, frame) in enumerate(zip(at, frames)):
        if filled[i - lo]:
            raise FormatError(path, f"frame {k}: {what} {i} appears twice")
        rows[i - lo], filled[i - lo] = frame, True
    return [row if ok else empty() for row, ok in zip(rows, filled)]


def load_json(path: Path):
    """Parse ``path`` as JSON (UTF-8); FormatError naming the line on any problem."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise FormatError(path, f"cannot read file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise FormatError(path, "not UTF-8 text; expected JSON") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(path, f"not valid JSON: {e.msg}", e.lineno) from None
    except RecursionError:
        raise FormatError(path, "not valid JSON: nested too deeply") from None


def numbers(path: Path, value, shape_hint: str, where: str) -> np.ndarray:
    """``value`` (nested lists of numbers) as a float64 array; FormatError naming ``where`` for
    non-numbers, ragged lists, NaN/inf or magnitudes beyond float32."""
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise FormatError(path, f"{where}: expected {shape_hint}, found {type(value).__name__}")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise FormatError(path, f"{where}: expected {shape_hint} of numbers") from None
    if not (np.abs(a) <= _FMAX).all():
        raise FormatError(path, f"{where}: NaN/inf or a value beyond float32")
    return a


def make_person(path: Path, kp: np.ndarray, scores: np.ndarray | None, v: int, c: int,
                track_id, where: str) -> Person:
    """Validate one detection: ``kp`` ``(v, c)`` or ``(v, c + 1)`` (last column = score when
    ``scores`` is None); scores are clipped to [0, 1]; invalid joints' coordinates become 0, valid
    ones must be valid coordinates (:mod:`mans.coordinates`; 2-D: within 100,000 pixels)."""
    if kp.ndim == 1 and kp.size in (v * c, v * (c + 1)):
        kp = kp.reshape(v, -1)
    if kp.ndim != 2 or kp.shape[0] != v or kp.shape[1] not in (c, c + 1):
        raise FormatError(path, f"{where}: expected {v} key points of {c} or {c + 1} numbers, "
                          f"found shape {kp.shape}")
    if scores is None:
        scores = kp[:, c] if kp.shape[1] == c + 1 else np.ones(v)
    elif scores.shape != (v,):
        raise FormatError(path, f"{where}: expected {v} key-point scores, found shape "
                          f"{scores.shape}")
    scores = np.clip(scores, 0.0, 1.0)
    xy = kp[:, :c].copy()
    xy[scores <= 0] = 0.0  # an undetected joint's coordinates are garbage: not checked
    check_coordinates(path, xy, c, locate=lambda j: (None, f"{where}, key point {j[0]}"))
    if track_id is not None and not isinstance(track_id, (int, str)):
        raise FormatError(path, f"{where}: track_id must be an integer or string, found "
                          f"{type(track_id).__name__}")
    return Person(keypoints=xy, scores=scores, track_id=track_id)


class SlotTracker:
    """Frame-by-frame body-slot assignment with ``m`` fixed slots (used by :func:`assign_slots`
    and by live streams, which cannot look ahead).

    Identity: by ``track_id`` if every detection so far had one (a track keeps its slot while it
    is free; a new track takes the free slot nearest to where that slot was last seen, else the
    lowest free one), else greedily by the distance of each person's centroid to each free slot's
    last position (closest pair first). People with no valid joint are ignored; when a frame has
    more people than slots, those with the lowest mean score are dropped.
    """

    def __init__(self, m: int, v: int, c: int):
        self.m, self.v, self.c = m, v, c
        self.slot_of: dict = {}
        self.last: list[np.ndarray | None] = [None] * m  # where each slot was last seen
        self.tracked = True

    def step(self, people: list[Person]) -> tuple[np.ndarray, np.ndarray]:
        """One frame -> ``(joints (m, V, C) float32, scores (m, V) float32)``."""
        people = [p for p in people if p.valid.any()]
        if len(people) > self.m:
            people = sorted(people, key=lambda p: -float(p.scores.mean()))[:self.m]
        self.tracked = self.tracked and all(p.track_id is not None for p in people)
        tracked = self.tracked
        free = list(range(self.m))
        placed: dict[int, Person] = {}
        rest = []
        seen_ids = set()
        for p in people:
            s = self.slot_of.get(p.track_id) if tracked and p.track_id not in seen_ids else None
            seen_ids.add(p.track_id)
            if s is not None and s in free:
                placed[s] = p
                free.remove(s)
            else:
                rest.append(p)
        # nearest free slot first (by last position), then the lowest free slots
        pairs = sorted((float(np.linalg.norm(p.centroid() - self.last[s])), k, s)
                       for k, p in enumerate(rest) for s in free if self.last[s] is not None)
        done: set[int] = set()
        for _, k, s in pairs:
            if k in done or s not in free:
                continue
            placed[s] = rest[k]
            free.remove(s)
            done.add(k)
        for k, p in enumerate(rest):
            if k not in done:
                placed[free.pop(0)] = p
        joints = np.zeros((self.m, self.v, self.c), dtype=np.float32)
        scores = np.zeros((self.m, self.v), dtype=np.float32)
        for s, p in placed.items():
            joints[s] = p.keypoints
            scores[s] = p.scores
            self.last[s] = p.centroid()
            if tracked:
                self.slot_of[p.track_id] = s
        return joints, scores


def assign_slots(frames: list[list[Person]], v: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """People of each frame -> ``(joints (T, M, V, C) float32, scores (T, M, V) float32)``,
    ``M = max(1, most people in one frame)``, identities kept by :class:`SlotTracker` (by
    ``track_id`` when every detection has one, else by position)."""
    frames = [[p for p in f if p.valid.any()] for f in frames]
    m = max([1] + [len(f) for f in frames])
    tracker = SlotTracker(m, v, c)
    tracker.tracked = all(p.track_id is not None for f in frames for p in f)
    out = [tracker.step(f) for f in frames]
    joints = np.stack([o[0] for o in out]) if out else np.zeros((0, m, v, c), np.float32)
    scores = np.stack([o[1] for o in out]) if out else np.zeros((0, m, v), np.float32)
    return joints, scores
