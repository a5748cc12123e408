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

from ..devices import DEFAULT_DEVICE
from ..errors import ConfigError
from ..outputs import check_out_folder
from ..data.store import PreparedStore
from .evaluate import (TOPK, checkpoint_split, final_metrics, open_checkpoint, score_split,
                       write_eval_outputs, write_scores)
from .metrics import confusion_matrix, topk_correct


def _stack(scores: list[np.ndarray]) -> np.ndarray:
    return np.stack(scores).astype(np.float64)  # (R, N, K)


def _fuse_stacked(stack: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    r = stack.shape[0]
    w = np.full(r, 1 / r) if weights is None else np.asarray(weights, float)
    return np.tensordot(w, stack, axes=1)  # (N, K)


def fuse(scores: list[np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
    """``(N, K)`` weighted mean of ``R`` score arrays ``(N, K)`` (equal weights when None)."""
    return _fuse_stacked(_stack(scores), weights)


def simplex_grid(r: int, grid: int) -> np.ndarray:
    """``(G, r)`` every weight vector with entries in ``{0, 1/grid, ..., 1}`` summing to 1, in
    lexicographic order of the integer parts, ``G = C(grid + r - 1, r - 1)``.

    Built by stars and bars: each choice of ``r - 1`` bar positions among ``grid + r - 1`` slots
    is one composition of ``grid`` into ``r`` parts (the gaps between bars), so only the ``G``
    vectors are made, not the ``(grid + 1) ** r`` tuples of a filtered product. Bars in
    lexicographic order give the parts in lexicographic order."""
    if r == 1:
        return np.ones((1, 1))
    bars = np.asarray(list(itertools.combinations(range(grid + r - 1), r - 1)),
                      dtype=np.int64).reshape(-1, r - 1)  # (G, r - 1)
    edges = np.concatenate([np.full((len(bars), 1), -1), bars,
                            np.full((len(bars), 1), grid + r - 1)], axis=1)  # (G, r + 1)
    return (np.diff(edges, axis=1) - 1).astype(np.float64) / grid  # (G, r)


def choose_weights(scores: list[np.ndarray], labels: np.ndarray, grid: int = 10) -> np.ndarray:
    """The simplex-grid weights with the highest top-1 on ``(scores, labels)`` -- a validation
    split; among equally good weights, the closest to equal weights (then the first in grid
    order)."""
    labels = np.asarray(labels)
    stack = _stack(scores)  # (R, N, K), once for every grid point
    best, best_key = None, None
    equal = np.full(len(scores), 1 / len(scores))
    for w in simplex_grid(len(scores), grid):
        acc = float((_fuse_stacked(stack, w).argmax(axis=1) == labels).mean())
        key = (acc, -float(np.abs(w - equal).sum()))
        if best_key is None or key > best_key:
            best, best_key = w, key
    return best


def run_ensemble(runs: list[str | Path], *, data: str | Path, weights: str = "equal",
                 split: str = "test", out: str | Path | None = None, device: str = DEFAULT_DEVICE,
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
    if out is not None:
        check_out_folder(out)
    store = PreparedStore.open(data)
    # every cheap check of every run before any run is scored: a bad run k must not cost the
    # evaluation of runs 1..k-1
    opened = [open_checkpoint(r, store) for r in runs]
    protocols = {o["state"].data.protocol for o in opened}
    if len(protocols) > 1:
        raise ConfigError(f"the runs were trained on different protocols {sorted(protocols)}")
    sels = {o["state"].train.selection if o["state"].train else "val" for o in opened}
    if "test" in sels:
        raise ConfigError("a run was selected on the test split (selection test): its scores "
                          "cannot be fused into an honest test estimate")
    idxs = [checkpoint_split(o["state"], store, split, o["ckpt"]) for o in opened]
    for o, i in zip(opened[1:], idxs[1:]):
        if not np.array_equal(i, idxs[0]):
            raise ConfigError(f"{o['ckpt']} is evaluated on other samples than "
                              f"{opened[0]['ckpt']}")
    if weights == "val":
        val_idxs = [checkpoint_split(o["state"], store, "val", o["ckpt"]) for o in opened]
        for v in val_idxs[1:]:
            if not np.array_equal(v, val_idxs[0]):
                raise ConfigError("the runs hold out different validation splits; weights=val "
                                  "needs runs with the same data.val_fraction and protocol")
    evs = [score_split(o, split, device, progress, idx=i) for o, i in zip(opened, idxs)]
    idx = idxs[0]
    w = np.full(len(runs), 1 / len(runs))
    if weights == "val":  # the networks built for the split are reused, not rebuilt
        vals = [score_split(o, "val", device, progress, model=e["model"], idx=v)
                for o, e, v in zip(opened, evs, val_idxs)]
        w = choose_weights([v["result"]["scores"] for v in vals], store.labels[val_idxs[0]],
                           grid)
    fused = fuse([e["result"]["scores"] for e in evs], w).astype(np.float32)  # (N, K)
    y = store.labels[idx]
    k = store.num_classes
    cm = confusion_matrix(y, fused.argmax(axis=1), k)
    result = {"cm": cm, "topk_hits": topk_correct(fused, y, TOPK), "n": int(len(y)),
              "loss": float(-np.log(np.maximum(fused[np.arange(len(y)), y], 1e-12)).mean())}
    metrics = final_metrics(result, store.class_names, selection="+".join(sorted(sels)))
    metrics.update({
        "runs": [str(e["ckpt"]) for e in evs], "weights": [round(float(v), 6) for v in w],
        "weights_rule": weights, "run_top1": [float(e["result"]["top1"]) for e in evs],
        "streams": [e["state"].data.stream for e in evs],
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
