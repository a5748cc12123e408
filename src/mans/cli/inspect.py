"""``mans inspect``: a JSON summary of one skeleton file, for checking data before preparing it, or
of a prepared store (opened and checked as training opens it)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from ..formats import detect_format, read_sequence


def inspect_store(path: str | Path) -> dict:
    """Open the prepared store at ``path`` (every file checked, as training does) and summarise
    it: :func:`~mans.cli.prepare_summary.short_summary` plus the layout, frames and classes."""
    from ..data.store import PreparedStore
    from .prepare_summary import short_summary

    store = PreparedStore.open(path)
    m = store.manifest
    return {"store": str(path), **short_summary(m, path), "layout": m["prep"].get("layout"),
            "frames_shape": m.get("frames_shape"), "class_names": m.get("class_names")}


def inspect_file(path: str | Path, fmt: str | None = None) -> dict:
    """Read ``path`` and summarise it: format, frames, bodies-per-frame histogram, joints, the
    fields parsed from its name, and the coordinate range (metres for 3D data)."""
    fmt = fmt or detect_format(path)
    seq = read_sequence(path, fmt)
    bodies = Counter(int(b) for b in seq.bodies_per_frame())
    present = seq.joints[np.any(seq.joints != 0, axis=-1)]
    summary = {
        "file": str(path),
        "format": fmt,
        "frames": seq.num_frames,
        "body_slots": int(seq.joints.shape[1]),
        "bodies_per_frame": {str(k): v for k, v in sorted(bodies.items())},
        "joints": int(seq.joints.shape[2]),
        "channels": int(seq.joints.shape[3]),
        "layout": seq.layout.name,
        **{k: v for k, v in seq.metadata().items() if k not in ("frames", "layout", "source")},
    }
    if present.size:
        summary["coord_min"] = [round(float(v), 4) for v in present.min(axis=0)]
        summary["coord_max"] = [round(float(v), 4) for v in present.max(axis=0)]
    if seq.scores is not None:  # pose-estimator output: how much was detected, how surely
        detected = seq.scores > 0  # (T, M, V)
        summary["detected_joints"] = round(float(detected.mean()), 4)
        summary["mean_score"] = round(float(seq.scores[detected].mean()), 4) \
            if detected.any() else None
        summary["frames_without_detection"] = int((~detected.any(axis=(1, 2))).sum())
    return summary
