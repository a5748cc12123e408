"""The torch-free half of inference: raw file -> model input, logits -> top-k record -> text.

Shared by ``mans predict`` on PyTorch (:mod:`mans.inference.predict`) and on onnxruntime
(:mod:`mans.inference.onnx_predict`), so that both preprocess a file identically: reader ->
:func:`~mans.data.transforms.prepare_sequence` (bodies, view) -> :func:`~mans.data.streams.model_input`
(the model's input stream; S frames, S joint columns). Only NumPy is imported here; this module must never import torch
(``mans predict --onnx`` runs without it, checked by tests/test_export.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..attention_stats import attention_label, max_min_ratio
from ..coordinates import first_invalid
from ..errors import ConfigError, MansError
from ..formats import read_sequence
from ..skeleton import Layout, Sequence
from ..data.spec import DataSpec
from ..data.streams import model_input
from ..data.transforms import PrepConfig, frame_rows, prepare_sequence

# 8 levels: the lowest frame of a sequence gets a visible bar, the highest a full block
BARS = "▁▂▃▄▅▆▇█"


class ModelInputs:
    """The input side that the PyTorch and the ONNX predictor share: the model's data settings
    (``spec``, a :class:`~mans.data.spec.DataSpec`) and the file they came from (``path``)."""

    spec: DataSpec
    path: Path

    @property
    def size(self) -> int:
        """``S``: the model's frames x joint columns."""
        return self.spec.size

    @property
    def class_names(self) -> list[str]:
        return list(self.spec.class_names)

    @property
    def layout(self) -> Layout:
        return self.spec.layout

    @property
    def prep(self) -> PrepConfig:
        return self.spec.prep_config

    @property
    def stream(self) -> str:
        return self.spec.stream

    def image(self, x: str | Path | Sequence, fmt: str | None = None
              ) -> tuple[np.ndarray, dict]:
        """The model input ``(C, S, S)`` for one raw file (or a sequence already read), and the
        sequence's metadata (:func:`file_image`)."""
        return file_image(x, self.spec, model_path=self.path, fmt=fmt)


def file_image(x: str | Path | Sequence, spec: DataSpec, *, model_path: str | Path,
               fmt: str | None = None) -> tuple[np.ndarray, dict]:
    """The model input ``(C, S, S)`` float32 (``spec``'s stream, size and prep settings) for one
    raw file (or a sequence already read) and the sequence's metadata (with ``frames_used`` =
    T', the prepared frames before resizing to S)."""
    seq = x if isinstance(x, Sequence) else read_sequence(x, fmt, spec.layout)
    img, used = sequence_image(seq, spec, model_path=model_path)
    return img, {**seq.metadata(), "frames_used": used}


def as_frames(joints, v: int, scores=None, *, what: str = "array", one_frame: bool = False
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """User-given coordinates checked and shaped as a :class:`Sequence` holds them.

    Args:
        joints: ``(T, V, C)`` or ``(T, M, V, C)``; with ``one_frame`` a single frame ``(V, C)`` or
            ``(M, V, C)``. V = ``v``, C = 2 or 3, finite numbers.
        scores: ``(T, V)`` / ``(T, M, V)`` (``(V,)`` / ``(M, V)`` for one frame), or None.
        what: how the error messages name the input (e.g. ``"frame 12"``).

    Returns:
        ``(joints (T, M, V, C) float32, scores (T, M, V) float32 or None)``; T = 1 for one frame.

    Raises:
        ConfigError: a wrong shape, or a coordinate that is not valid (naming the frame, body
            and joint): NaN/inf, or beyond the bound of its kind (:mod:`mans.coordinates`:
            100 m for 3-D, 100,000 for 2-D image coordinates).
    """
    try:
        a = np.asarray(joints, dtype=np.float64)  # checked as given, then held as float32
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: joints must be an array of numbers") from None
    axes = "(V, C) or (M, V, C)" if one_frame else "(T, V, C) or (T, M, V, C)"
    a = a[None] if one_frame and a.ndim in (2, 3) else a
    a = a[:, None] if a.ndim == 3 else a  # (T, 1, V, C)
    if a.ndim != 4 or a.shape[2] != v or a.shape[3] not in (2, 3) or 0 in a.shape[:2]:
        raise ConfigError(f"{what}: joints of shape {np.shape(joints)}; expected {axes} with "
                          f"V = {v}, C = 2 or 3 and no empty axis")
    found = first_invalid(a, a.shape[3])  # the rule of every reader (mans.coordinates)
    if found is not None:
        (t, m, j), problem = found
        at = f"body {m}, joint {j}" if one_frame else f"frame {t}, body {m}, joint {j}"
        raise ConfigError(f"{what}: {at}: {problem}")
    a = a.astype(np.float32)
    sc = None
    if scores is not None:
        sc = np.asarray(scores, dtype=np.float32)
        sc = sc[None] if one_frame and sc.ndim in (1, 2) else sc
        sc = sc[:, None] if sc.ndim == 2 else sc
        if sc.shape != a.shape[:3] or not np.isfinite(sc).all():
            raise ConfigError(f"{what}: scores of shape {np.shape(scores)}; expected finite "
                              f"numbers of shape {a.shape[1:3] if one_frame else a.shape[:3]}")
    return a, sc


def check_layout(seq: Sequence, layout: Layout, model_path: str | Path) -> None:
    """ConfigError unless ``seq`` has the joints of ``layout``, the model's (same name, same
    joint names in the same order)."""
    if (seq.layout.name, seq.layout.joints) != (layout.name, layout.joints):
        raise ConfigError(
            f"{seq.source or seq.name}: the data has joint layout {seq.layout.name!r}"
            f"{' (other joints)' if seq.layout.name == layout.name else ''} but the model "
            f"{model_path} was trained on {layout.name!r}")


def sequence_image(seq: Sequence, spec: DataSpec, *, model_path: str | Path
                   ) -> tuple[np.ndarray, int]:
    """``(model input (C, S, S) float32 of spec's input stream, T' prepared frames)`` of one
    sequence: the one path from a read sequence to what a model sees (files, arrays, windows,
    streams)."""
    check_layout(seq, spec.layout, model_path)
    x = prepare_sequence(seq, spec.prep_config)  # (C, T', J)
    return model_input(x, spec.size, spec.stream, spec.layout), int(x.shape[1])


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64 (stable: the maximum is subtracted first)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def predict_each(predict: Callable[[str | Path], dict], files: Iterable[str | Path],
                 errors: list[dict] | None) -> list:
    """``predict(file)`` of every file, in order. With ``errors`` (a list), a file raising
    :class:`~mans.errors.MansError` (unreadable, does not fit the model) does not stop the others:
    ``{"file", "error"}`` is appended to ``errors`` and the file is left out; without it the
    first such error is raised."""
    results = []
    for f in files:
        try:
            results.append(predict(f))
        except MansError as e:
            if errors is None:
                raise
            errors.append({"file": str(f), "error": str(e)})
    return results


def file_of(x: str | Path | Sequence) -> str | Path | None:
    """What a prediction record names as its ``file``: the path, or the file a sequence was read
    from (None for one that came from no file)."""
    return (x.source or None) if isinstance(x, Sequence) else x


def top_classes(prob: np.ndarray, class_names: list[str], topk: int = 5) -> list[dict]:
    """The ``topk`` most probable classes of ``prob (K,)``, most probable first (ties: lower
    label first), as ``{"label", "class", "prob"}``."""
    prob = np.asarray(prob)
    order = np.argsort(-prob, kind="stable")[:min(topk, prob.size)]
    return [{"label": int(i), "class": class_names[i], "prob": float(prob[i])} for i in order]


def prediction_record(path: str | Path | None, meta: dict, logits: np.ndarray | None,
                      attention: np.ndarray | None, *, size: int, class_names: list[str],
                      topk: int = 5, prob: np.ndarray | None = None) -> dict:
    """The result of one file as ``mans predict`` prints it (``--json``).

    Args:
        path: the file (None for a sequence that came from no file, e.g. an array).
        logits: ``(K,)`` of the file (or None with ``prob``).
        prob: ``(K,)`` class probabilities instead of ``logits`` (e.g. fused over models).
        attention: ``(C, S)`` per-frame TARM weights, or None for a model without a TARM.

    The attention is given per coordinate channel on the model's S frames; for a sequence of
    T' <= S frames the zero-padded rows are marked by ``frame_index`` = -1, and for T' > S
    ``frame_index`` gives the original (kept) frame each row was sampled from.
    """
    prob = softmax(logits) if prob is None else np.asarray(prob, dtype=np.float64)
    rows = frame_rows(meta["frames_used"], size)
    curve = None if attention is None else np.asarray(attention, np.float64).mean(axis=0)  # (S,)
    ratio = None if curve is None else max_min_ratio(curve, rows >= 0)
    return {
        "file": None if path is None else str(path),
        "name": meta["name"],
        "top": top_classes(prob, class_names, topk),
        "attention": None if attention is None else
        np.asarray(attention, dtype=np.float32).round(4).tolist(),  # (C, S)
        "frame_index": rows.tolist(),
        # max/min of the frames' mean-of-channels weights and what it says (attention_stats)
        "attention_max_min": None if ratio is None or not np.isfinite(ratio) else
        round(float(ratio), 4),
        "attention_label": None if curve is None else attention_label(curve, rows >= 0),
        "true_label": meta.get("label"),
    }


def sparkline(values: np.ndarray, keep: np.ndarray) -> tuple[str, float, float]:
    """One character per value, scaled min-max over the kept values (``·`` where not kept).

    The TARM's sigmoid weights of a trained model often span only 0.49-0.51, which an absolute
    0-1 scale draws as one flat line; scaled to the sequence's own range the shape shows. A
    constant sequence is drawn at mid height.

    Returns:
        ``(text, min, max)`` of the kept values (``nan`` when none is kept).
    """
    values, keep = np.asarray(values, dtype=np.float64), np.asarray(keep, dtype=bool)
    if not keep.any():
        return "·" * len(values), float("nan"), float("nan")
    lo, hi = float(values[keep].min()), float(values[keep].max())
    span = hi - lo
    scaled = (values - lo) / span if span > 0 else np.full_like(values, 0.5)
    levels = np.clip(np.round(scaled * (len(BARS) - 1)), 0, len(BARS) - 1).astype(int)
    return "".join(BARS[i] if k else "·" for i, k in zip(levels, keep)), lo, hi


def format_prediction(r: dict) -> str:
    """Human-readable lines: the top classes, then the mean attention per frame as a sparkline
    scaled to the sequence's own range (the range is printed beside it), labelled with its
    max/min ratio (:func:`mans.attention_stats.attention_label`: "near-uniform" below 1.5)."""
    lines = [f"{r['file']}"]
    for i, t in enumerate(r["top"], 1):
        lines.append(f"  {i}. {t['class']:<40s} {t['prob']:.3f}")
    if r.get("attention") is None:
        lines.append("  attention: none (the model has no TARM)")
        return "\n".join(lines)
    att = np.asarray(r["attention"]).mean(axis=0)  # (S,)
    keep = np.asarray(r["frame_index"]) >= 0
    spark, lo, hi = sparkline(att, keep)
    label = r.get("attention_label") or attention_label(att, keep)
    lines.append(f"  {label} per frame (mean of x, y, z; scaled {lo:.4f}..{hi:.4f}; "
                 f"· = padding): {spark}")
    return "\n".join(lines)
