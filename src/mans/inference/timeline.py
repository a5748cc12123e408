"""Timelines of long recordings: the windows of a recording classified (:func:`classify_windows`),
merged segments, per-frame labels, and their JSON / CSV forms (``mans predict --window W --stride
K``; :meth:`mans.inference.api.Classifier.timeline`).

Frame indices are 0-based indices of the recording's rows as read (UT-Kinect: rows of the joints
file, not its frame numbers); ``end`` is inclusive.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.pipeline import ModelInput
from ..errors import ConfigError, FormatError
from ..outputs import atomic_path, check_out_folder
from ..skeleton import Sequence
from .records import top_classes

BATCH = 64  # windows per forward pass


def merge_segments(windows: list[dict]) -> list[dict]:
    """Neighbouring windows with the same top-1 class merged into one segment.

    Args:
        windows: ``[{"start", "end", "top": [{"label", "class", "prob"}, ...]}, ...]`` in time
            order; a window with an empty ``top`` (no prediction) ends the current segment.

    Returns:
        ``[{"start", "end", "label", "class", "windows": n, "mean_prob"}]``: ``start`` of the
        first window, ``end`` of the last one, the mean top-1 probability over the windows.
    """
    out: list[dict] = []
    run: list[dict] = []

    def close() -> None:
        if run:
            out.append({"start": run[0]["start"], "end": run[-1]["end"],
                        "label": run[0]["top"][0]["label"], "class": run[0]["top"][0]["class"],
                        "windows": len(run),
                        "mean_prob": float(np.mean([w["top"][0]["prob"] for w in run]))})
        run.clear()

    for w in windows:
        if not w.get("top"):
            close()
            continue
        if run and w["top"][0]["label"] != run[-1]["top"][0]["label"]:
            close()
        run.append(w)
    close()
    return out


def frame_labels(windows: list[dict], probs: np.ndarray, frames: int) -> np.ndarray:
    """``(frames,)`` int: each frame's class, the argmax of the summed probabilities of the
    windows covering it (-1 where no window with a prediction covers it).

    Args:
        windows: as in :func:`merge_segments`; ``probs``: ``(len(windows), K)`` (NaN rows for
            windows without a prediction).
    """
    acc = np.zeros((frames, probs.shape[1]))
    covered = np.zeros(frames, dtype=bool)
    for w, p in zip(windows, probs):
        if np.isnan(p).any():
            continue
        acc[w["start"]:w["end"] + 1] += p
        covered[w["start"]:w["end"] + 1] = True
    return np.where(covered, acc.argmax(axis=1), -1)


@dataclass
class Timeline:
    """Per-window predictions of one recording.

    Attributes:
        windows: ``[{"start", "end", "top": [...]}]`` (``reason`` instead of a prediction when a
            window holds no body).
        segments: :func:`merge_segments` of ``windows``.
        probs: ``(n_windows, K)`` class probabilities (NaN rows: no prediction).
    """

    file: str | None
    name: str
    frames: int
    window: int
    stride: int
    windows: list[dict]
    segments: list[dict]
    probs: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))

    def frame_labels(self) -> np.ndarray:
        return frame_labels(self.windows, self.probs, self.frames)

    def to_dict(self) -> dict:
        return {"file": self.file, "name": self.name, "frames": self.frames,
                "window": self.window, "stride": self.stride, "windows": self.windows,
                "segments": self.segments}

    def top_k(self) -> int:
        """The most classes any window lists."""
        return max((len(w.get("top", [])) for w in self.windows), default=0)

    def windows_csv(self, k: int | None = None, header: bool = True) -> str:
        """One row per window: start, end, then class and probability of each of the top ``k``
        (default: :meth:`top_k`; several timelines in one file share the largest)."""
        k = self.top_k() if k is None else k
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        if header:
            wr.writerow(["file", "start", "end"]
                        + [c for i in range(1, k + 1) for c in (f"class{i}", f"prob{i}")])
        for w in self.windows:
            top = w.get("top", [])
            wr.writerow([self.file or self.name, w["start"], w["end"]]
                        + [v for t in top for v in (t["class"], f"{t['prob']:.6f}")]
                        + [""] * (2 * (k - len(top))))
        return buf.getvalue()

    def segments_csv(self, header: bool = True) -> str:
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        if header:
            wr.writerow(["file", "start", "end", "label", "class", "windows", "mean_prob"])
        for s in self.segments:
            wr.writerow([self.file or self.name, s["start"], s["end"], s["label"], s["class"],
                         s["windows"], f"{s['mean_prob']:.6f}"])
        return buf.getvalue()


def check_window(window: int, stride: int) -> None:
    """ConfigError unless ``window`` and ``stride`` are at least 1."""
    if window < 1 or stride < 1:
        raise ConfigError(f"--window and --stride must be >= 1, got {window}, {stride}")


def window_starts(t: int, window: int, stride: int) -> list[int]:
    """First frames of the windows of ``t`` frames: every ``stride`` frames, the last one aligned
    to the end so that every frame is covered (one window when ``t <= window``)."""
    starts = list(range(0, max(t - window, 0) + 1, stride))
    if starts[-1] + window < t:
        starts.append(t - window)
    return starts


def classify_windows(seq: Sequence, *, window: int, stride: int, topk: int,
                     model_input: Callable[[Sequence], ModelInput],
                     probabilities: Callable[[np.ndarray], np.ndarray],
                     class_names: list[str], file: str | Path | None = None) -> Timeline:
    """The :class:`Timeline` of ``seq`` (read and checked by the model's input pipeline):
    every window (:func:`window_starts`) made into a model input by ``model_input`` (the
    pipeline's :meth:`~mans.data.pipeline.InputPipeline.model_input`) and classified by
    ``probabilities`` (``(B, C, S, W) -> (B, K)``), :data:`BATCH` windows at a time. A window
    without any body gets no prediction (its ``reason`` says why, e.g. no body in its frames).
    ``window``, ``stride``: at least 1 (:func:`check_window`)."""
    t = seq.num_frames
    starts = window_starts(t, window, stride)
    windows, inputs, rows = [], [], []
    probs = np.full((len(starts), len(class_names)), np.nan)
    for i, s in enumerate(starts):
        e = min(s + window, t)  # exclusive
        part = Sequence(joints=seq.joints[s:e], layout=seq.layout, name=seq.name,
                        source=seq.source,
                        scores=None if seq.scores is None else seq.scores[s:e])
        entry = {"start": s, "end": e - 1}
        try:
            inputs.append(model_input(part).x)
            rows.append(i)
        except FormatError as err:  # e.g. no body in these frames
            entry.update(top=[], reason=err.reason)
        windows.append(entry)
        if len(inputs) == BATCH or (i == len(starts) - 1 and inputs):  # bounded memory
            probs[rows] = probabilities(np.stack(inputs))
            inputs, rows = [], []
    for r, w in enumerate(windows):
        if "reason" not in w:
            w["top"] = top_classes(probs[r], class_names, topk)
    return Timeline(file=None if file is None else str(file), name=seq.name, frames=t,
                    window=window, stride=stride, windows=windows,
                    segments=merge_segments(windows), probs=probs)


def check_timeline_out(out: str | Path) -> Path:
    """``--timeline-out``, checked before any work: a ``.json`` or ``.csv`` path in a folder that
    can be written (ConfigError naming it otherwise)."""
    out = Path(out)
    if out.suffix.lower() not in (".json", ".csv"):
        raise ConfigError(f"--timeline-out {out}: expected a .json or .csv path")
    check_out_folder(out.parent, "--timeline-out")
    if out.is_dir():
        raise ConfigError(f"--timeline-out {out} is a folder")
    return out


def write_timelines(timelines: list[Timeline], out: str | Path | None) -> str | None:
    """Write timelines to ``out``: ``.json`` (a list of :meth:`Timeline.to_dict`) or ``.csv``
    (windows in ``out``, segments in ``<out stem>.segments.csv`` beside it; both files or
    neither). With ``out`` None, return the JSON text instead."""
    if out is None:
        return json.dumps([t.to_dict() for t in timelines], indent=2)
    out = check_timeline_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps([t.to_dict() for t in timelines], indent=2) + "\n")
        return None
    k = max((t.top_k() for t in timelines), default=0)  # one header for every file
    windows = "".join(t.windows_csv(k, header=not i) for i, t in enumerate(timelines))
    segments = "".join(t.segments_csv(header=not i) for i, t in enumerate(timelines))
    with atomic_path(out) as tmp, \
            atomic_path(out.with_name(out.stem + ".segments.csv")) as tmp_segments:
        tmp.write_text(windows)
        tmp_segments.write_text(segments)
    return None
