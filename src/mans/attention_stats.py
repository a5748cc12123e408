"""What an attention curve says, computed from the curve itself (pure NumPy, no torch).

A curve is the TARM's per-frame weights of one sequence (mean over the x, y, z channels), on the
model's S rows; ``keep`` marks the rows that hold a frame (padding rows are left out).

- :func:`max_min_ratio` and :func:`attention_label`: how far from uniform the curve is. Below
  :data:`NEAR_UNIFORM` (1.5) the largest weight is less than 1.5 times the smallest, and the
  label says so (``mans predict``, ``mans show``, the model card), e.g.
  ``"attention (near-uniform for this model: max/min 1.07)"``; otherwise
  ``"attention (max/min 3.2)"``.
- :func:`window_mass` and :func:`spearman`: against a known window of frames (the planted-signal
  benchmark, :mod:`mans.synth.planted`), the share of the attention inside the window and the
  rank correlation of the weights with the window indicator.
"""

from __future__ import annotations

import numpy as np

NEAR_UNIFORM = 1.5  # max/min below this: the label calls the curve near-uniform


def _kept(curve, keep) -> np.ndarray:
    c = np.asarray(curve, dtype=np.float64).reshape(-1)
    if keep is None:
        return c
    keep = np.asarray(keep, dtype=bool).reshape(-1)
    if keep.shape != c.shape:
        raise ValueError(f"keep has {keep.size} rows, the curve {c.size}")
    return c[keep]


def max_min_ratio(curve, keep=None) -> float:
    """``max / min`` of the (non-negative) weights of ``curve (S,)`` on the ``keep (S,)`` rows
    (all rows when None); ``inf`` when the smallest is 0, ``nan`` when no row is kept."""
    c = _kept(curve, keep)
    if c.size == 0:
        return float("nan")
    lo, hi = float(c.min()), float(c.max())
    if lo <= 0:
        return float("inf") if hi > 0 else float("nan")
    return hi / lo


def format_ratio(ratio: float) -> str:
    """``1.07`` (two decimals below :data:`NEAR_UNIFORM`), ``3.2`` (one decimal below 100),
    ``> 100`` above; ``n/a`` for nan."""
    if not np.isfinite(ratio):
        return "n/a" if np.isnan(ratio) else "> 100"
    if ratio < NEAR_UNIFORM:
        return f"{ratio:.2f}"
    return f"{ratio:.1f}" if ratio < 100 else "> 100"


def ratio_label(ratio: float, what: str = "for this model") -> str:
    """The label of a max/min ratio: ``"attention (near-uniform for this model: max/min 1.07)"``
    below :data:`NEAR_UNIFORM`, else ``"attention (max/min 3.2)"`` (``what`` names whose curve it
    is in the near-uniform case)."""
    if np.isfinite(ratio) and ratio < NEAR_UNIFORM:
        return f"attention (near-uniform {what}: max/min {format_ratio(ratio)})"
    return f"attention (max/min {format_ratio(ratio)})"


def attention_label(curve, keep=None) -> str:
    """:func:`ratio_label` of :func:`max_min_ratio` of ``curve`` on the ``keep`` rows."""
    return ratio_label(max_min_ratio(curve, keep))


def window_mass(curve, in_window, keep=None) -> float:
    """Share of the attention inside a window: ``sum(curve[keep & in_window]) /
    sum(curve[keep])`` for ``curve``, ``in_window``, ``keep`` of shape ``(S,)``; uniform weights
    give the share of the kept rows that lie in the window."""
    c = np.asarray(curve, dtype=np.float64).reshape(-1)
    w = np.asarray(in_window, dtype=bool).reshape(-1)
    k = np.ones_like(w) if keep is None else np.asarray(keep, dtype=bool).reshape(-1)
    total = c[k].sum()
    return float(c[k & w].sum() / total) if total > 0 else float("nan")


def rankdata(x) -> np.ndarray:
    """Ranks 1..n of ``x (n,)``, ties given the mean of their ranks (as scipy's default)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(x.size)
    ranks[order] = np.arange(1, x.size + 1)
    values, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def spearman(a, b, keep=None) -> float:
    """Spearman rank correlation of ``a`` and ``b`` (same shape ``(S,)``) over the ``keep``
    rows: the Pearson correlation of their tie-averaged ranks; ``nan`` when either is constant
    there."""
    ra, rb = rankdata(_kept(a, keep)), rankdata(_kept(b, keep))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / den) if den > 0 else float("nan")
