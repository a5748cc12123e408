"""``mans eval --attention``: the TARM's mean attention curve per class over a split.

The paper's claim is that the TARM learns which frames matter; the per-class mean of the
per-frame weights over many samples is the place to look for it. Rows of the ``(C, S, S)`` image
that are zero padding (sequences shorter than S are centre-padded) are left out of the means,
so each row's mean is over the samples that have a frame there (``count``).

Beside the means, each sample's own curve (mean of the channels over its frame rows) is
summarised by its max/min ratio (:mod:`mans.attention_stats`): :func:`attention_summary` gives
their median and the label ``mans predict``, ``mans show`` and the model card print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..attention_stats import max_min_ratio, ratio_label


class AttentionSums:
    """Per-class sums of the attention over a split, fed batch by batch by the evaluation loop
    (:func:`mans.engine.evaluate.evaluate_model`) from the same forward pass that scores the
    batch, so ``mans eval --attention`` runs the network once, under the evaluation's autocast.

    Args:
        num_classes: K.
        lengths: ``(N,)`` the stored frames of each sample, in loader order (unshuffled).
        rows: ``t -> (S,)`` the prepared frame each model row holds, -1 for padding (the input
            pipeline's :meth:`~mans.data.pipeline.InputPipeline.rows`); a row holds a frame when
            it says so (not when the row is non-zero: a still frame of a motion stream is all
            zeros and still a frame).
    """

    def __init__(self, num_classes: int, lengths: np.ndarray,
                 rows: Callable[[int], np.ndarray]):
        self.num_classes = int(num_classes)
        self.lengths = np.asarray(lengths)
        self.rows = rows
        self.seen = 0
        self.sums = self.counts = self.samples = None
        self.ratios: list[float] = []  # per sample: max/min of its curve over its frame rows
        self.without_tarm = False

    def add(self, attention: torch.Tensor | None, y: torch.Tensor) -> None:
        """One batch: ``attention (B, C, S)`` of the model (None: it has no TARM), labels
        ``y (B,)``."""
        if attention is None:
            self.without_tarm = True
            return
        att = attention.double().cpu().numpy()
        B, C, S = att.shape
        valid = np.stack([self.rows(int(t)) >= 0  # (B, S): the row holds a frame
                          for t in self.lengths[self.seen:self.seen + B]])
        self.seen += B
        y = y.cpu().numpy()
        if self.sums is None:
            self.sums = np.zeros((self.num_classes, C, S))
            self.counts = np.zeros((self.num_classes, S), np.int64)
            self.samples = np.zeros(self.num_classes, np.int64)
        np.add.at(self.sums, y, att * valid[:, None, :])
        np.add.at(self.counts, y, valid.astype(np.int64))
        np.add.at(self.samples, y, 1)
        curves = att.mean(axis=1)  # (B, S): mean of the channels
        self.ratios += [max_min_ratio(c, v) for c, v in zip(curves, valid)]

    def result(self) -> dict | None:
        """``{"sum": (K, C, S) float64 attention summed over the samples with a frame in that
        row, "count": (K, S) int64 such samples, "samples": (K,) int64, "max_min": (N,) float64
        each sample's max/min ratio}``; None when the model has no TARM (or nothing was
        added)."""
        if self.without_tarm or self.sums is None:
            return None
        return {"sum": self.sums, "count": self.counts, "samples": self.samples,
                "max_min": np.asarray(self.ratios, dtype=np.float64)}


def attention_summary(stats: dict) -> dict:
    """``{"samples", "max_min_median", "max_min_p10", "max_min_p90", "label"}`` of the
    per-sample max/min ratios of an :meth:`AttentionSums.result` (the label of the median,
    :func:`mans.attention_stats.ratio_label`); percentiles are sample values (numpy's
    ``nearest``), rounded to 4 decimals, and an infinite one (a weight of 0) is None."""
    r = np.asarray(stats["max_min"], dtype=np.float64)
    r = r[~np.isnan(r)]
    if r.size == 0:
        return {"samples": 0, "max_min_median": None, "max_min_p10": None,
                "max_min_p90": None, "label": None}
    # "nearest" picks sample values: no interpolation across an infinite ratio (a weight of 0)
    q10, med, q90 = (float(v) for v in np.percentile(r, [10, 50, 90], method="nearest"))

    def num(v: float):
        return round(v, 4) if np.isfinite(v) else None

    return {"samples": int(r.size), "max_min_median": num(med), "max_min_p10": num(q10),
            "max_min_p90": num(q90), "label": ratio_label(med)}


def mean_curves(stats: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(per-channel means (K, C, S), channel-mean curves (K, S))``; NaN where no sample of the
    class has a frame in that row."""
    with np.errstate(invalid="ignore", divide="ignore"):
        per_channel = stats["sum"] / stats["count"][:, None, :]
    return per_channel, per_channel.mean(axis=1)


def write_attention_outputs(stats: dict, class_names: list[str], out: str | Path, *,
                            title: str) -> dict:
    """Write ``attention.json`` (numbers) and ``attention.png`` (one curve per class) to ``out``.

    ``attention.json``: ``{"rows": S, "classes": {name: {"samples", "count" (S,), "mean" (S,)
    channel-mean curve, "mean_xyz" (C, S), "range": [min, max] of the curve}}, "per_sample":
    attention_summary(stats)}`` for the classes with samples; NaN (no frame in that row) is
    written as null.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_channel, curves = mean_curves(stats)
    present = np.flatnonzero(stats["samples"] > 0)

    def clean(a: np.ndarray) -> list:
        return [None if not np.isfinite(v) else round(float(v), 6) for v in a]

    classes = {}
    for k in present:
        c = curves[k]
        classes[class_names[k]] = {
            "samples": int(stats["samples"][k]), "count": stats["count"][k].tolist(),
            "mean": clean(c), "mean_xyz": [clean(ch) for ch in per_channel[k]],
            "range": [float(np.nanmin(c)), float(np.nanmax(c))]}
    doc = {"rows": int(curves.shape[1]), "title": title, "classes": classes}
    if "max_min" in stats:
        doc["per_sample"] = attention_summary(stats)
    (out / "attention.json").write_text(json.dumps(doc, indent=1) + "\n")

    n = len(present)
    cols = min(4, max(n, 1))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows), squeeze=False,
                             sharex=True)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, k in zip(axes.flat, present):
        # each class on its own range: a trained TARM's weights differ by hundredths
        ax.plot(np.arange(curves.shape[1]), curves[k], lw=1.2)
        ax.set_title(f"{class_names[k]} (n={stats['samples'][k]})", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("model row (frame)", fontsize=8)
    fig.suptitle(f"{title}: mean attention per class (mean of x, y, z)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "attention.png", dpi=90)
    plt.close(fig)
    return {"attention_json": str(out / "attention.json"),
            "attention_png": str(out / "attention.png"), "attention_classes": n}
