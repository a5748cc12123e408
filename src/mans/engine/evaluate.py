"""``mans eval`` and the evaluation loop the trainer shares.

The metric functions themselves are pure NumPy (:mod:`mans.engine.metrics`, re-exported here):
top-1, top-k, mean class accuracy, per-class accuracy and the confusion matrix.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..devices import DEFAULT_DEVICE
from ..errors import ConfigError
from ..data.store import PreparedStore, SkeletonDataset
from .attention import AttentionSums
from .checkpoint import Checkpoint, build_model_from_checkpoint
from .config import RunConfig
from .data import labelled, protocol_train_val
from .distributed import DistInfo, all_reduce_sum, resolve_device
from .metrics import (accuracy, confusion_matrix, mean_class_accuracy, per_class_accuracy,
                      summarize, topk_correct)
from .plots import plot_confusion
from .selection import find_checkpoint, label_test_selected, selection_name

__all__ = ["accuracy", "confusion_matrix", "mean_class_accuracy", "per_class_accuracy",
           "summarize", "topk_correct", "evaluate_model", "final_metrics", "run_eval",
           "write_eval_outputs"]

TOPK = 5


@torch.no_grad()
def evaluate_model(model: torch.nn.Module, loader, device: torch.device, *, num_classes: int,
                   amp_dtype: torch.dtype | None = None, dist: DistInfo | None = None,
                   progress: bool = False, desc: str = "eval", keep_scores: bool = False,
                   attention: AttentionSums | None = None) -> dict:
    """Run ``model`` (in eval mode) over ``loader`` and sum the sufficient statistics.

    Under DDP each process evaluates its shard and the sums are all-reduced, so every process
    returns the metrics of the whole split. With ``attention`` (single process, unshuffled
    loader) the same forward pass also returns the TARM's weights, which are added to it.

    Returns:
        ``{"loss": mean cross-entropy, "top1": accuracy, "cm": (K, K) int64 confusion matrix,
        "topk_hits": samples with the true class among the top 5 logits, "n": samples}``,
        plus, with ``keep_scores`` (single process only), ``"scores": (N, K) float32 softmax``
        in loader order.
    """
    if (keep_scores or attention is not None) and dist is not None and dist.enabled:
        raise ValueError("keep_scores and attention are for single-process evaluation")
    scores = []
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss sum, top-k hits
    for x, y in tqdm(loader, desc=desc, leave=False, disable=not progress, dynamic_ncols=True):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32,
                            enabled=amp_dtype is not None):
            if attention is None:
                logits = model(x)  # (B, K)
            else:  # (B, K), (B, C, S) or None: the attention of this very pass
                logits, att = model(x, return_attention=True)
        if attention is not None:
            attention.add(att, y)
        logits = logits.float()
        if keep_scores:
            scores.append(torch.softmax(logits, dim=1).cpu())
        sums[0] += F.cross_entropy(logits, y, reduction="sum").double()
        k = min(TOPK, num_classes)
        sums[1] += (logits.topk(k, dim=1).indices == y[:, None]).any(dim=1).sum()
        cm += torch.bincount(y * num_classes + logits.argmax(dim=1),
                             minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    if dist is not None:
        all_reduce_sum(cm, dist)
        all_reduce_sum(sums, dist)
    cm_np = cm.cpu().numpy()
    n = int(cm_np.sum())
    out = {"loss": float(sums[0] / max(n, 1)), "top1": accuracy(cm_np), "cm": cm_np,
           "topk_hits": int(sums[1].item()), "n": n}
    if keep_scores:
        out["scores"] = (torch.cat(scores).numpy().astype(np.float32) if scores
                         else np.zeros((0, num_classes), np.float32))
    return out


def write_scores(out: str | Path, scores: np.ndarray, labels: np.ndarray, keys: list[str],
                 class_names: list[str], k: int = TOPK) -> tuple[Path, Path]:
    """Per-sample outputs of an evaluation, for fusion and inspection: ``scores.npy`` (``(N, K)``
    float32 softmax probabilities, rows in the order of ``keys``) and ``predictions.csv`` (key,
    true label and class, predicted label and class, its probability, the top-``k`` labels)."""
    import csv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "scores.npy", scores.astype(np.float32))
    order = np.argsort(-scores, axis=1, kind="stable")[:, :min(k, scores.shape[1])]  # (N, k)
    with open(out / "predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["key", "label", "class", "pred", "pred_class", "prob", f"top{k}"])
        for key, y, top, row in zip(keys, labels, order, scores):
            w.writerow([key, int(y), class_names[y] if y >= 0 else "", int(top[0]),
                        class_names[top[0]], f"{row[top[0]]:.6f}", " ".join(map(str, top))])
    return out / "scores.npy", out / "predictions.csv"


def final_metrics(result: dict, class_names: list[str], *, selection: str) -> dict:
    """The metric dict of one evaluation: top1, top5, mean_class_acc, per_class, loss, n."""
    m = summarize(result["cm"], result["topk_hits"], class_names, k=TOPK)
    return {"selection": selection, "top1": m["top1"], "top5": m[f"top{TOPK}"],
            "mean_class_acc": m["mean_class_acc"], "loss": result["loss"], "n": m["n"],
            "per_class": m["per_class"]}


def write_eval_outputs(metrics: dict, cm: np.ndarray, class_names: list[str], out: str | Path,
                       *, title: str, selection: str, name: str = "metrics.json") -> dict:
    """Write ``metrics`` as JSON and the confusion-matrix PNG into folder ``out``; returns the
    metrics with ``confusion_png`` added. With selection ``test-selected`` the figure's file name
    and title say so."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-test-selected" if selection == "test-selected" else ""
    stem = Path(name).stem
    png_name = f"confusion{suffix}.png" if stem == "metrics" else f"{stem}-confusion{suffix}.png"
    how = {"val": "validation-selected", "last": "last-epoch"}.get(selection, selection)
    png = plot_confusion(cm, class_names, out / png_name, title=f"{title}, {how} checkpoint")
    metrics = {**metrics, "confusion_png": str(png)}
    tmp = out / (name + ".tmp")
    tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    tmp.replace(out / name)
    return metrics


def check_store_matches(state: Checkpoint, store: PreparedStore, ckpt: Path) -> None:
    """The store must have been prepared the way the checkpoint's training data was."""
    d = state.data
    if list(d.class_names) != store.class_names:
        raise ConfigError(f"{ckpt} was trained on classes {list(d.class_names[:5])}... but the "
                          f"store at {store.path} has {store.class_names[:5]}...: a different "
                          f"dataset")
    saved, now = d.prep, store.prep
    for key in ("view", "max_bodies", "layout", "channels", "joints"):
        if key in saved and key in now and saved[key] != now[key]:
            raise ConfigError(f"{ckpt} was trained on data prepared with {key}={saved[key]!r}, "
                              f"but the store at {store.path} has {key}={now[key]!r}; prepare "
                              f"the data again with the checkpoint's settings")


def checkpoint_split(state: Checkpoint, store: PreparedStore, split: str, ckpt: Path
                     ) -> np.ndarray:
    """The labelled store indices of ``split`` (``test``, ``train`` or ``val``) of the protocol a
    checkpoint's run trained on; ``val`` is re-derived from the run's saved config, as training
    carved it. (Not :func:`mans.datasets.split_indices`, which makes a protocol's train/test
    indices from a mask.)"""
    protocol = state.data.protocol
    if split != "val":
        return labelled(store, store.split(protocol, split), split)
    if state.train is None:
        raise ConfigError(f"{ckpt} holds no training config to re-derive the validation split")
    cfg = RunConfig.from_dict(state.train.config, source=str(ckpt))
    _, idx, _ = protocol_train_val(store, protocol, cfg.train.selection, cfg.data.val_fraction,
                                   cfg.data.val_by_subject)
    if idx.size == 0:
        raise ConfigError(f"the run of {ckpt} had no validation split")
    return idx


def open_checkpoint(target: str | Path, store: PreparedStore | str | Path) -> dict:
    """The cheap part of :func:`checkpoint_scores`: find and load a run's checkpoint and check
    it against the store, without building the network or scoring anything.

    Returns:
        ``{"ckpt": Path, "state": the Checkpoint, "store": the open store}``.
    """
    ckpt = find_checkpoint(target)
    state = Checkpoint.load(ckpt)
    if not isinstance(store, PreparedStore):  # opened after the checkpoint: its errors first
        store = PreparedStore.open(store)
    check_store_matches(state, store, ckpt)
    return {"ckpt": ckpt, "state": state, "store": store}


def score_split(opened: dict, split: str, device: str = DEFAULT_DEVICE, progress: bool = False,
                model: torch.nn.Module | None = None, idx: np.ndarray | None = None,
                attention: AttentionSums | None = None) -> dict:
    """Score ``split`` with an :func:`open_checkpoint` result.

    Args:
        model: the network already built from this checkpoint (e.g. to score a second split)
            on ``device``; built from the checkpoint when None.
        idx: the split's store indices when already derived (:func:`checkpoint_split`).
        attention: sums the attention of the scoring pass (:func:`evaluate_model`).

    Returns:
        ``opened`` plus ``"idx"`` (N,) store indices, ``"result"`` (:func:`evaluate_model` output
        with ``"scores"`` (N, K)), ``"model"`` and ``"loader"`` (the split's DataLoader).
    """
    ckpt, state, store = opened["ckpt"], opened["state"], opened["store"]
    dev = resolve_device(device)
    if model is None:
        model = build_model_from_checkpoint(state, dev)
    if idx is None:
        idx = checkpoint_split(state, store, split, ckpt)
    ds = SkeletonDataset.for_spec(store, idx, state.data)
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=False)
    result = evaluate_model(model, loader, dev, num_classes=state.num_classes,
                            amp_dtype=torch.bfloat16 if dev.type == "cuda" else None,
                            progress=progress, desc=f"eval {split}", keep_scores=True,
                            attention=attention)
    return {**opened, "idx": idx, "result": result, "model": model, "loader": loader}


def checkpoint_scores(target: str | Path, store: PreparedStore | str | Path,
                      split: str = "test", device: str = DEFAULT_DEVICE,
                      progress: bool = False) -> dict:
    """Evaluate a run folder's selected checkpoint (or a checkpoint file) on ``split`` of its
    protocol, keeping the per-sample scores (:func:`open_checkpoint` then :func:`score_split`).

    Returns:
        ``{"ckpt": Path, "state": the Checkpoint, "store": the open store, "idx": (N,) store
        indices, "result": evaluate_model(...) output with "scores" (N, K), "model": the network,
        "loader": the split's DataLoader}``.
    """
    return score_split(open_checkpoint(target, store), split, device, progress)


def run_eval(target: str | Path, *, data: str | Path, split: str = "test",
             device: str = DEFAULT_DEVICE, out: str | Path | None = None, progress: bool = True,
             attention: bool = False) -> dict:
    """Evaluate a run folder (its selected checkpoint) or a checkpoint file on a store split.

    Args:
        target: run folder or ``.pt`` checkpoint.
        data: prepared store (same classes and preparation as at training time).
        split: ``test``, ``train`` or ``val`` (the validation split is re-derived with the run's
            config) of the checkpoint's protocol.
        out: a folder (``metrics.json``, the confusion PNG, ``scores.npy`` and
            ``predictions.csv`` are written there) or a ``.json`` file (beside which the same
            files go).
        attention: also write the mean TARM attention curve per class (``attention.json``,
            ``attention.png``; :mod:`mans.engine.attention`) to ``out``'s folder, or beside the
            checkpoint when ``out`` is None.

    Returns:
        ``selection``, ``top1``, ``top5``, ``mean_class_acc``, ``loss``, ``n``, ``per_class``,
        plus ``checkpoint``, ``epoch``, ``protocol``, ``split``. Test metrics of a checkpoint
        chosen on the test split are keyed ``test_selected_*``.
    """
    opened = open_checkpoint(target, data)
    ckpt, state, store = opened["ckpt"], opened["state"], opened["store"]
    if attention and not state.model_config.get("use_tarm", True):
        raise ConfigError(f"{ckpt}: the model has no TARM (use_tarm: false), so it has no "
                          f"attention to average")
    idx = checkpoint_split(state, store, split, ckpt)
    sums = AttentionSums(len(store.class_names), store.lengths[idx]) if attention else None
    ev = score_split(opened, split, device, progress, idx=idx, attention=sums)
    result = ev["result"]
    protocol = state.data.protocol
    sel = selection_name(state.train.selection if state.train else "val")
    metrics = final_metrics(result, store.class_names, selection=sel)
    metrics.update({"checkpoint": str(ckpt), "epoch": state.train.epoch if state.train else None,
                    "protocol": protocol,
                    "split": split, "dataset": store.dataset})
    if sel == "test-selected" and split == "test":
        metrics = label_test_selected(metrics)
    if attention:
        from .attention import write_attention_outputs

        stats = sums.result()
        where = ckpt.parent if out is None else (Path(out).parent if Path(out).suffix == ".json"
                                                 else Path(out))
        metrics.update(write_attention_outputs(
            stats, store.class_names, where,
            title=f"{state.model_name}, {store.dataset} {protocol} {split}"))
    if out is not None:
        out = Path(out)
        folder, name = (out.parent, out.name) if out.suffix == ".json" else (out, "metrics.json")
        metrics = write_eval_outputs(metrics, result["cm"], store.class_names, folder,
                                     title=f"{state.model_name}, {store.dataset} "
                                           f"{protocol} {split} split",
                                     selection=sel, name=name)
        write_scores(folder, result["scores"], store.labels[idx],
                     [str(store.meta[i].get("key", i)) for i in idx], store.class_names)
    return metrics
