"""``mans ensemble``: fuse the softmax scores of several runs (e.g. the joint, bone and motion
streams) on one store split.

The fused score of a sample is ``sum_r w_r * p_r`` with ``p_r (K,)`` run ``r``'s softmax and
weights ``w`` that sum to 1: equal, or chosen on the *validation* split (never the test split) by
a grid search over the simplex in steps of ``1 / grid``, ties going to the weights closest to
equal. Every run must share the store's classes and the protocol.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..store import PreparedStore
from .evaluate import TOPK, checkpoint_scores, final_metrics, write_eval_outputs, write_scores
from .metrics import confusion_matrix, topk_correct


def fuse(scores: list[np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
    """``(N, K)`` weighted mean of ``R`` score arrays ``(N, K)`` (equal weights when None)."""
    stack = np.stack(scores).astype(np.float64)  # (R, N, K)
    w = np.full(len(scores), 1 / len(scores)) if weights is None else np.asarray(weights, float)
    return np.tensordot(w, stack, axes=1)  # (N, K)


def simplex_grid(r: int, grid: int) -> np.ndarray:
    """``(G, r)`` every weight vector with entries in ``{0, 1/grid, ..., 1}`` summing to 1."""
    rows = [c for c in itertools.product(range(grid + 1), repeat=r) if sum(c) == grid]
    return np.asarray(rows, dtype=np.float64) / grid


def choose_weights(scores: list[np.ndarray], labels: np.ndarray, grid: int = 10) -> np.ndarray:
    """The simplex-grid weights with the highest top-1 on ``(scores, labels)`` -- a validation
    split; among equally good weights, the closest to equal weights (then the first in grid
    order)."""
    labels = np.asarray(labels)
    best, best_key = None, None
    equal = np.full(len(scores), 1 / len(scores))
    for w in simplex_grid(len(scores), grid):
        acc = float((fuse(scores, w).argmax(axis=1) == labels).mean())
        key = (acc, -float(np.abs(w - equal).sum()))
        if best_key is None or key > best_key:
            best, best_key = w, key
    return best


def run_ensemble(runs: list[str | Path], *, data: str | Path, weights: str = "equal",
                 split: str = "test", out: str | Path | None = None, device: str = "auto",
                 grid: int = 10, progress: bool = False) -> dict:
    """Fuse ``runs`` (run folders or checkpoints) on ``split`` of their protocol.

    Args:
        weights: ``equal``, or ``val`` (grid search on the runs' shared validation split).
        out: folder for ``metrics.json``, the confusion PNG, ``scores.npy`` and
            ``predictions.csv``.

    Returns:
        The metrics (as ``mans eval``) plus ``runs``, ``weights`` and ``run_top1`` (each run's
        own top-1 on the split).
    """
    if len(runs) < 2:
        raise ConfigError("an ensemble needs at least 2 runs")
    if weights not in ("equal", "val"):
        raise ConfigError(f"--weights must be 'equal' or 'val', got {weights!r}")
    if weights == "val" and split == "val":
        raise ConfigError("weights chosen on the validation split cannot be scored on it")
    store = PreparedStore.open(data)
    evs = [checkpoint_scores(r, store, split, device, progress) for r in runs]
    protocols = {e["state"]["data"]["protocol"] for e in evs}
    if len(protocols) > 1:
        raise ConfigError(f"the runs were trained on different protocols {sorted(protocols)}")
    idx = evs[0]["idx"]
    for e in evs[1:]:
        if not np.array_equal(e["idx"], idx):
            raise ConfigError(f"{e['ckpt']} is evaluated on other samples than {evs[0]['ckpt']}")
    w = np.full(len(runs), 1 / len(runs))
    if weights == "val":
        vals = [checkpoint_scores(r, store, "val", device, progress) for r in runs]
        for v in vals[1:]:
            if not np.array_equal(v["idx"], vals[0]["idx"]):
                raise ConfigError("the runs hold out different validation splits; weights=val "
                                  "needs runs with the same data.val_fraction and protocol")
        w = choose_weights([v["result"]["scores"] for v in vals], store.labels[vals[0]["idx"]],
                           grid)
    fused = fuse([e["result"]["scores"] for e in evs], w).astype(np.float32)  # (N, K)
    y = store.labels[idx]
    k = store.num_classes
    cm = confusion_matrix(y, fused.argmax(axis=1), k)
    result = {"cm": cm, "topk_hits": topk_correct(fused, y, TOPK), "n": int(len(y)),
              "loss": float(-np.log(np.maximum(fused[np.arange(len(y)), y], 1e-12)).mean())}
    sels = {e["state"].get("train", {}).get("selection", "val") for e in evs}
    if "test" in sels:
        raise ConfigError("a run was selected on the test split (selection test): its scores "
                          "cannot be fused into an honest test estimate")
    metrics = final_metrics(result, store.class_names, selection="+".join(sorted(sels)))
    metrics.update({
        "runs": [str(e["ckpt"]) for e in evs], "weights": [round(float(v), 6) for v in w],
        "weights_rule": weights, "run_top1": [float(e["result"]["top1"]) for e in evs],
        "streams": [e["state"]["data"].get("stream", "joint") for e in evs],
        "protocol": protocols.pop(), "split": split, "dataset": store.dataset,
    })
    if out is not None:
        out = Path(out)
        metrics = write_eval_outputs(metrics, cm, store.class_names, out,
                                     title=f"ensemble of {len(runs)}, {store.dataset} "
                                           f"{metrics['protocol']} {split} split",
                                     selection=metrics["selection"])
        write_scores(out, fused, y, [str(store.meta[i].get("key", i)) for i in idx],
                     store.class_names)
    return metrics
