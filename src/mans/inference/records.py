"""The torch-free half of prediction: what both predictors share (:class:`PredictorBase`: the
model's input pipeline, one file in, one record out), logits -> top-k record -> text.

``mans predict`` on PyTorch (:class:`mans.inference.predict.Predictor`) and on onnxruntime
(:class:`mans.inference.onnx_predict.OnnxPredictor`) differ only in how they run the network
(``network``); the input is made by the checkpoint's :class:`~mans.data.pipeline.InputPipeline` for
both. Only NumPy is imported here; this module must never import torch (``mans predict --onnx``
runs without it, checked by tests/test_export.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..attention_stats import attention_label, max_min_ratio
from ..data.pipeline import InputPipeline, ModelInput
from ..data.spec import DataSpec, PrepConfig
from ..errors import MansError
from ..skeleton import Layout, Sequence

# 8 levels: the lowest frame of a sequence gets a visible bar, the highest a full block
BARS = "▁▂▃▄▅▆▇█"


class PredictorBase:
    """What the PyTorch and the ONNX predictor share: a model file (``path``), its data settings
    (``spec``) and the input pipeline built from them; a subclass sets these and runs the
    network (:meth:`network`).

    Every input goes the pipeline's one way (:meth:`InputPipeline.__call__`: read, check the
    layout, bodies, view, frames, stream, layout of the tensor) and comes out as one record."""

    path: Path
    spec: DataSpec
    pipeline: InputPipeline

    def _set_spec(self, spec: DataSpec) -> None:
        self.spec = spec
        self.pipeline = InputPipeline(spec, source=self.path)

    @property
    def size(self) -> int:
        """``S``: the model's frames (rows)."""
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

    def network(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(B, C, S, W)`` model inputs -> ``logits (B, K)``, ``attention (B, C, S)`` or None
        (a model without a TARM)."""
        raise NotImplementedError

    def scores(self, inp: ModelInput) -> tuple[np.ndarray, np.ndarray | None]:
        """``(logits (K,), attention (C, S) or None)`` of one model input."""
        logits, attention = self.network(inp.x[None])
        return logits[0], None if attention is None else attention[0]

    def record(self, inp: ModelInput, topk: int = 5, path: str | Path | None = None) -> dict:
        """The prediction record (:func:`prediction_record`) of one model input (``path``: the
        file it was read from; default: the sequence's source)."""
        logits, attention = self.scores(inp)
        return prediction_record(path or file_of(inp.sequence), inp, logits, attention,
                                 class_names=self.class_names, topk=topk)

    def predict(self, x, topk: int = 5, fmt: str | None = None, *, layout=None,
                scores=None) -> dict:
        """Top-k classes with probabilities and the per-frame attention of one file, Sequence
        or array (:meth:`InputPipeline.read`: ``fmt``, ``layout``, ``scores``)."""
        inp = self.pipeline(x, layout=layout, scores=scores, fmt=fmt)
        return self.record(inp, topk, file_of(x) if isinstance(x, (str, Path, Sequence)) else None)


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


def prediction_record(path: str | Path | None, inp: ModelInput, logits: np.ndarray | None,
                      attention: np.ndarray | None, *, class_names: list[str], topk: int = 5,
                      prob: np.ndarray | None = None) -> dict:
    """The result of one file as ``mans predict`` prints it (``--json``).

    Args:
        path: the file (None for a sequence that came from no file, e.g. an array).
        inp: the file's model input (:class:`~mans.data.pipeline.ModelInput`: the frame each row
            holds, the sequence read).
        logits: ``(K,)`` of the file (or None with ``prob``).
        prob: ``(K,)`` class probabilities instead of ``logits`` (e.g. fused over models).
        attention: ``(C, S)`` per-frame TARM weights, or None for a model without a TARM.

    The attention is given per coordinate channel on the model's S frames; for a sequence of
    T' <= S frames the zero-padded rows are marked by ``frame_index`` = -1, and for T' > S
    ``frame_index`` gives the original (kept) frame each row was sampled from.
    """
    prob = softmax(logits) if prob is None else np.asarray(prob, dtype=np.float64)
    rows = np.asarray(inp.rows)
    curve = None if attention is None else np.asarray(attention, np.float64).mean(axis=0)  # (S,)
    ratio = None if curve is None else max_min_ratio(curve, rows >= 0)
    return {
        "file": None if path is None else str(path),
        "name": inp.sequence.name,
        "top": top_classes(prob, class_names, topk),
        "attention": None if attention is None else
        np.asarray(attention, dtype=np.float32).round(4).tolist(),  # (C, S)
        "frame_index": rows.tolist(),
        # max/min of the frames' mean-of-channels weights and what it says (attention_stats)
        "attention_max_min": None if ratio is None or not np.isfinite(ratio) else
        round(float(ratio), 4),
        "attention_label": None if curve is None else attention_label(curve, rows >= 0),
        "true_label": inp.sequence.label,
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
