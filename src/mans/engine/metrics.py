"""Classification metrics as pure NumPy functions.

Everything is derived from two sufficient statistics that add up across batches and processes:
the confusion matrix ``cm (K, K)`` (rows = true class, columns = predicted class) and the count of
samples whose true class is among the ``k`` highest logits. Accuracies are fractions in [0, 1].
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` int64 counts: ``cm[i, j]`` = samples of true class i predicted as j."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    flat = y_true * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def topk_correct(logits: np.ndarray, y_true: np.ndarray, k: int) -> int:
    """Samples whose true class is among the ``min(k, K)`` largest of its logits ``(N, K)``.

    Ties are counted in the true class's favour only if it is strictly within the top k by rank
    of a stable descending sort (lower class index first among equal logits), as ``torch.topk``
    usually resolves them.
    """
    logits = np.asarray(logits)
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    k = min(k, logits.shape[1])
    order = np.argsort(-logits, axis=1, kind="stable")[:, :k]  # (N, k)
    return int((order == y_true[:, None]).any(axis=1).sum())


def accuracy(cm: np.ndarray) -> float:
    """Top-1 accuracy: trace / total (0.0 for an empty matrix)."""
    total = cm.sum()
    return float(np.trace(cm) / total) if total else 0.0


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` recall of each class (``cm[i, i] / sum(cm[i])``); NaN for classes with no
    samples."""
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def mean_class_accuracy(cm: np.ndarray) -> float:
    """Mean of :func:`per_class_accuracy` over the classes that have samples."""
    acc = per_class_accuracy(cm)
    present = ~np.isnan(acc)
    return float(acc[present].mean()) if present.any() else 0.0


def summarize(cm: np.ndarray, topk_hits: int, class_names: list[str], k: int = 5) -> dict:
    """The standard metric dict of one evaluation.

    Returns:
        ``{"top1", "top{k}", "mean_class_acc", "n", "per_class": {name: acc}}``; ``per_class``
        lists only the classes present among the true labels.
    """
    n = int(cm.sum())
    acc = per_class_accuracy(cm)
    return {
        "top1": accuracy(cm),
        f"top{k}": float(topk_hits / n) if n else 0.0,
        "mean_class_acc": mean_class_accuracy(cm),
        "n": n,
        "per_class": {class_names[i]: float(a) for i, a in enumerate(acc) if not np.isnan(a)},
    }
