"""Deletion curves: accuracy as the frames the TARM attends to most are removed, against removing
random frames and the least attended ones.

If the attention selects the frames the decision rests on, removing the most-attended frames
hurts first and most; if it is uninformative, the three curves fall together. How a sample is
cut (:func:`cut_sample`):

1. The frames the model sees: the frames of the stored ``(C, T, J)`` sequence that the
   checkpoint's input pipeline puts in the model's ``S`` rows at test time
   (:meth:`~mans.data.pipeline.InputPipeline.rows`: with ``data.frames=pad`` all ``T`` frames
   when ``T <= S``, else the ``S`` sub-sampled ones), ``n <= min(T, S)`` distinct frames.
2. Their weights: the attention of the intact input (mean of the channels) on the rows that
   hold them (the mean over its rows for a frame that fills several).
3. Removing ``k = round(f n)`` of them (at most ``n - 1``) for a fraction ``f``: the remaining
   ``n - k`` frames, in time order, are fed to the model as a recording of ``n - k`` frames would
   be (:meth:`~mans.data.pipeline.InputPipeline.sample` without augmentation: with ``pad``,
   centred in ``S`` rows with zero padding, the stream computed on them; a motion difference
   then spans the removed gap).
   Orders: ``most`` (largest weights first, ties by time), ``random`` (one permutation per
   sample, seeded from ``(seed, store index)``), ``least`` (smallest first). The removed sets are
   nested: ``k + 1`` frames are the ``k`` frames plus one.

The network runs without test-time mirroring, in eval mode, on the CPU or the given device.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import torch

from ..data.pipeline import InputPipeline
from ..devices import DEFAULT_DEVICE
from .checkpoint import build_model_from_checkpoint
from .distributed import resolve_device
from .evaluate import checkpoint_split, open_checkpoint

FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
ORDERS = ("most", "random", "least")


def seen_frames(x: np.ndarray, pipeline: InputPipeline) -> np.ndarray:
    """``(C, n, J)``: the distinct frames of ``x (C, T, J)`` that the model's rows hold at test
    time, in time order."""
    rows = pipeline.rows(x.shape[1])
    return np.asarray(x[:, np.unique(rows[rows >= 0])], dtype=np.float32)


def frame_weights(attention: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """``(n,)``: the mean over channels of ``attention (C, S)`` for each of ``n`` frames, the
    mean over the rows that hold it (``rows (S,)``: the frame of each row, -1 padding)."""
    a = np.asarray(attention, dtype=np.float64).mean(axis=0)
    keep = rows >= 0
    return np.bincount(rows[keep], a[keep], n) / np.bincount(rows[keep], minlength=n)


def removal_order(weights: np.ndarray, order: str, rng: np.random.Generator | None = None
                  ) -> np.ndarray:
    """``(n,)`` frame indices in the order they are removed: ``most`` = largest weight first,
    ``least`` = smallest first (ties: earlier frame first), ``random`` = ``rng.permutation``."""
    w = np.asarray(weights, dtype=np.float64)
    if order == "most":
        return np.argsort(-w, kind="stable")
    if order == "least":
        return np.argsort(w, kind="stable")
    if order == "random":
        return rng.permutation(w.size)
    raise ValueError(f"order must be one of {ORDERS}, got {order!r}")


def removed_count(n: int, fraction: float) -> int:
    """``round(fraction * n)`` frames (half up), at most ``n - 1`` so that one frame is left."""
    return int(min(n - 1, np.floor(fraction * n + 0.5)))


def cut_sample(seen: np.ndarray, remove: np.ndarray) -> np.ndarray:
    """``seen (C, n, J)`` without the frames ``remove`` (indices), the rest in time order."""
    keep = np.ones(seen.shape[1], dtype=bool)
    keep[np.asarray(remove, dtype=np.int64)] = False
    return seen[:, keep]


@torch.no_grad()
def _predict(model, images: list[np.ndarray], device, batch: int = 64
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(predicted labels (N,), attention (N, C, S) or None)`` of model inputs ``images``
    ``[(C, S, S)]`` or ``[(C, S, J)]``."""
    preds, atts = [], []
    for i in range(0, len(images), batch):
        x = torch.from_numpy(np.stack(images[i:i + batch])).to(device)
        logits, att = model(x, return_attention=True)
        preds.append(logits.argmax(dim=1).cpu().numpy())
        if att is not None:
            atts.append(att.float().cpu().numpy())
    return np.concatenate(preds), (np.concatenate(atts) if atts else None)


def deletion_curves(target: str | Path, data: str | Path, *, split: str = "test",
                    fractions: tuple[float, ...] = FRACTIONS, orders: tuple[str, ...] = ORDERS,
                    seed: int = 0, device: str = DEFAULT_DEVICE) -> dict:
    """Accuracy on ``split`` of a run's checkpoint (``target``: run folder or ``.pt``) on the
    store ``data`` as frames are removed (module docstring).

    Returns:
        ``{"split", "n": samples, "frames_seen_mean", "fractions": [...], "removed_mean": mean
        frames removed per fraction, "accuracy": {order: [accuracy per fraction]}}``; every
        curve starts at the intact accuracy (fraction 0).
    """
    opened = open_checkpoint(target, data)
    state, store = opened["state"], opened["store"]
    dev = resolve_device(device)
    model = build_model_from_checkpoint(state, dev).eval()
    idx = checkpoint_split(state, store, split, opened["ckpt"])
    pipe = opened["pipeline"]
    labels = store.labels[idx]
    seen = [seen_frames(store.sequence(int(i)), pipe) for i in idx]
    intact, att = _predict(model, [pipe.sample(s)[0] for s in seen], dev)
    if att is None:
        raise ValueError(f"{opened['ckpt']}: the model has no TARM, so no attention to rank by")
    weights = [frame_weights(a, pipe.rows(s.shape[1]), s.shape[1]) for s, a in zip(seen, att)]
    base = float((intact == labels).mean())
    out = {"split": split, "n": int(len(idx)),
           "frames_seen_mean": round(float(np.mean([s.shape[1] for s in seen])), 2),
           "fractions": [float(f) for f in fractions],
           "removed_mean": [round(float(np.mean([removed_count(s.shape[1], f) for s in seen])), 2)
                            for f in fractions],
           "accuracy": {}}
    for order in orders:
        ranks = [removal_order(w, order, np.random.default_rng((seed, int(i))))
                 for w, i in zip(weights, idx)]
        curve = []
        for f in fractions:
            if f == 0:
                curve.append(base)
                continue
            images = [pipe.sample(cut_sample(s, r[:removed_count(s.shape[1], f)]))[0]
                      for s, r in zip(seen, ranks)]
            pred, _ = _predict(model, images, dev)
            curve.append(float((pred == labels).mean()))
        out["accuracy"][order] = [round(v, 4) for v in curve]
    return out


def plot_deletion(panels: dict[str, dict], path: str | Path, title: str = "") -> Path:
    """One panel per entry of ``panels`` (``{name: deletion_curves(...) result}``, or with the
    accuracy lists averaged over seeds): accuracy against the fraction of frames removed, one
    line per order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.3), squeeze=False, sharey=True)
    styles = {"most": ("tab:red", "most attended first"), "random": ("0.4", "random"),
              "least": ("tab:blue", "least attended first")}
    for ax, (name, c) in zip(axes[0], panels.items()):
        for order, acc in c["accuracy"].items():
            colour, label = styles.get(order, (None, order))
            ax.plot(np.asarray(c["fractions"]) * 100, np.asarray(acc) * 100, marker=".",
                    color=colour, label=label)
        ax.set_title(textwrap.fill(name, 44), fontsize=8)
        ax.set_xlabel("frames removed (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (%)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
