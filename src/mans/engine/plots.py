"""Confusion-matrix figure (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def restrict_to_present(cm: np.ndarray, class_names: list[str]
                        ) -> tuple[np.ndarray, list[str], list[str]]:
    """The rows and columns of the classes with at least one true sample, plus an ``other``
    column counting predictions of absent classes when there are any.

    Returns:
        ``(sub (P, P) or (P, P + 1) counts, row names, column names)``.
    """
    present = np.flatnonzero(cm.sum(axis=1) > 0)  # (P,)
    sub = cm[np.ix_(present, present)]  # (P, P)
    other = cm[present].sum(axis=1) - sub.sum(axis=1)  # (P,) predictions to absent classes
    rows = [class_names[i] for i in present]
    cols = list(rows)
    if other.any():
        sub = np.concatenate([sub, other[:, None]], axis=1)
        cols.append("other")
    return sub, rows, cols


def plot_confusion(cm: np.ndarray, class_names: list[str], path: str | Path, *,
                   title: str) -> Path:
    """Save a row-normalised confusion matrix restricted to the classes present in the split.

    Rows: true classes with at least one sample; columns: the same classes, plus an ``other``
    column when some samples were predicted as a class absent from the split (synthetic NTU data
    uses a dozen of the 60 NTU classes, so the full 60 x 60 matrix would be mostly empty). Colours
    are row fractions; cells show counts when there are at most 30 classes.

    Args:
        cm: ``(K, K)`` counts, rows = true class, columns = predicted class.
        class_names: ``K`` names.
        path: output ``.png``.
        title: figure title (says which split and which selection rule).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub, rows, cols = restrict_to_present(cm, class_names)
    frac = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1)

    p = len(rows)
    side = min(4 + 0.35 * p, 30)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), labels=cols, rotation=90, fontsize=8)
    ax.set_yticks(range(p), labels=rows, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{title}\n{int(cm.sum())} samples, {p} classes present, top-1 {acc:.3f}",
                 fontsize=10)
    if p <= 30:
        for i in range(sub.shape[0]):
            for j in range(sub.shape[1]):
                if sub[i, j]:
                    ax.text(j, i, str(int(sub[i, j])), ha="center", va="center", fontsize=7,
                            color="white" if frac[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
