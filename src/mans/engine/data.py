"""The engine's view of a prepared store: protocol splits, the validation split carved from the
training split, and DataLoaders whose order depends only on ``(seed, epoch)``.

The validation split never depends on ``train.seed`` (it is drawn with a fixed seed), so runs
with different seeds are compared on the same validation samples.
"""

from __future__ import annotations

import difflib

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from ..errors import ConfigError

VAL_SEED = 20180418  # fixed: the validation split is a property of the data, not of the run


def epoch_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (e.g. ``(seed, epoch, rank)``) with NumPy's
    SeedSequence, so nearby inputs give unrelated seeds."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0]
               >> np.uint64(1))


def carve_validation(train_idx: np.ndarray, labels: np.ndarray, meta: list[dict],
                     fraction: float, by_subject: bool = True
                     ) -> tuple[np.ndarray, np.ndarray, str]:
    """Split a protocol's training indices into ``(train, val, how)``.

    By subject (when ``by_subject`` and every training sample has a subject id and there are at
    least 2 subjects): ``max(1, round(fraction * n_subjects))`` whole subjects (at most all but
    one) are held out, drawn with a fixed seed, so no performer is in both splits -- the
    cross-subject question the test split asks. Otherwise stratified random: in each class,
    ``round(fraction * n_c)`` samples (at least 1 when the class has 2 or more, never all).

    Args:
        train_idx: ``(n,)`` store indices of the protocol's training split.
        labels: ``(N,)`` labels of the whole store.
        meta: per-sample metadata of the whole store (``subject`` key used).
        fraction: share to hold out, in [0, 1); 0 gives an empty validation split.

    Returns:
        ``(train (n - v,), val (v,), how)`` sorted int64 store indices and a description of the
        rule used, e.g. ``"subjects [3, 8]"`` or ``"stratified 10%"``.
    """
    train_idx = np.asarray(train_idx, dtype=np.int64)
    if fraction <= 0 or train_idx.size == 0:
        return train_idx, np.zeros(0, dtype=np.int64), "none"
    rng = np.random.default_rng(VAL_SEED)
    subjects = [meta[i].get("subject") for i in train_idx]
    unique = sorted({s for s in subjects if s is not None}, key=str)
    if by_subject and None not in subjects and len(unique) >= 2:
        n_hold = min(len(unique) - 1, max(1, round(fraction * len(unique))))
        held = sorted((unique[k] for k in rng.permutation(len(unique))[:n_hold]), key=str)
        is_val = np.array([s in set(held) for s in subjects])
        return train_idx[~is_val], train_idx[is_val], f"subjects {held}"
    is_val = np.zeros(train_idx.size, dtype=bool)
    y = labels[train_idx]
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if members.size < 2:
            continue
        k = min(members.size - 1, max(1, round(fraction * members.size)))
        is_val[rng.permutation(members)[:k]] = True
    return train_idx[~is_val], train_idx[is_val], f"stratified {fraction:.0%}"


class ShardSampler(Sampler[int]):
    """Every ``world``-th index starting at ``rank``, in order, without padding: the processes'
    shards partition the dataset exactly, so summed evaluation counts are exact."""

    def __init__(self, n: int, rank: int = 0, world: int = 1):
        self.indices = list(range(rank, n, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def train_loader(dataset, *, batch_size: int, seed: int, epoch: int, rank: int, world: int,
                 num_workers: int, pin_memory: bool) -> DataLoader:
    """Shuffled loader of one epoch: the permutation is a function of ``(seed, epoch)`` only
    (DistributedSampler: ``randperm`` with a generator seeded ``seed + epoch``, each process taking
    every ``world``-th item), and augmentation draws depend on ``(seed, epoch, sample)``, so a
    resumed run sees exactly the batches an uninterrupted one would.

    ``batch_size`` is per process. A final batch of a single sample is dropped (BatchNorm cannot
    normalise one sample in training mode).
    """
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    drop_last = len(sampler) % batch_size == 1 and len(sampler) > 1
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      pin_memory=pin_memory, drop_last=drop_last,
                      generator=torch.Generator().manual_seed(epoch_seed(seed, epoch)))


def eval_loader(dataset, *, batch_size: int, rank: int, world: int, num_workers: int,
                pin_memory: bool) -> DataLoader:
    """Ordered loader over this process's shard of ``dataset``."""
    sampler = ShardSampler(len(dataset), rank, world)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      pin_memory=pin_memory)


def check_protocol(store, protocol: str | None) -> str:
    """The protocol to use (the store's default when None), checked to exist in the store."""
    protocol = protocol or store.default_protocol
    names = sorted(store.protocols)
    if protocol not in names:
        # Group numbered folds ("loso-01".."loso-10") so the list stays readable.
        groups: dict[str, list[str]] = {}
        for n in names:
            head, _, tail = n.rpartition("-")
            groups.setdefault(head if head and tail.isdigit() else n, []).append(n)
        shown = ", ".join(g[0] if len(g) == 1 else f"{g[0]}..{g[-1]}" for g in groups.values())
        near = difflib.get_close_matches(protocol, names, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"data.protocol {protocol!r} is not defined for the {store.dataset} "
                          f"store at {store.path}{hint} (available: {shown})")
    store.split(protocol, "train")  # raises ConfigError if a split is missing
    store.split(protocol, "test")
    return protocol


def protocol_train_val(store, protocol: str, selection: str, val_fraction: float,
                       val_by_subject: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    """The run's training and validation store indices: the labelled training split of
    ``protocol`` with a validation split carved off (:func:`carve_validation`), none under
    ``selection == "test"`` (the authors' rule trains on the whole training split).

    The one rule the trainer and ``mans eval --split val`` (which re-derives the split from a
    checkpoint's saved config) share.

    Returns:
        ``(train (n_train,), val (n_val,), how)`` int64 store indices and the rule's description.
    """
    train_idx = labelled(store, store.split(protocol, "train"), "train")
    fraction = 0.0 if selection == "test" else val_fraction
    return carve_validation(train_idx, store.labels, store.meta, fraction, val_by_subject)


def labelled(store, idx: np.ndarray, what: str) -> np.ndarray:
    """``idx`` without samples of unknown label (-1); ConfigError if none is left."""
    idx = np.asarray(idx, dtype=np.int64)
    keep = idx[store.labels[idx] >= 0]
    if keep.size == 0:
        raise ConfigError(f"the {what} split of the store at {store.path} has no labelled sample")
    return keep
