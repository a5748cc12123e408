"""Validation split carving and per-epoch loader order."""

from __future__ import annotations

import numpy as np
import torch

from mans.engine.data import ShardSampler, carve_validation, epoch_seed, train_loader


def fake_meta(subjects):
    return [{"subject": s} for s in subjects]


def test_by_subject_holds_out_whole_subjects():
    subjects = np.repeat(np.arange(1, 11), 6)  # 10 subjects x 6 samples
    labels = np.tile(np.arange(3), 20)
    idx = np.arange(60)
    tr, va, how = carve_validation(idx, labels, fake_meta(subjects), 0.2)
    held = sorted(set(subjects[va]))
    assert len(held) == 2 and how == f"subjects {held}"  # round(0.2 * 10) subjects
    assert not set(subjects[tr]) & set(held)  # no performer on both sides
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(60))
    again = carve_validation(idx, labels, fake_meta(subjects), 0.2)
    assert np.array_equal(again[1], va)  # fixed seed: always the same split
    # at least one and at most all-but-one subject
    assert len(set(subjects[carve_validation(idx, labels, fake_meta(subjects), 0.01)[1]])) == 1
    two = np.array([1, 1, 2, 2])
    tr, va, _ = carve_validation(np.arange(4), np.zeros(4, int), fake_meta(two), 0.9)
    assert len(set(two[va])) == 1 and len(set(two[tr])) == 1


def test_stratified_when_subjects_are_unknown():
    labels = np.array([0] * 10 + [1] * 5 + [2] * 1)
    meta = fake_meta([None] * 16)
    tr, va, how = carve_validation(np.arange(16), labels, meta, 0.2)
    assert how == "stratified 20%"
    counts = np.bincount(labels[va], minlength=3)
    assert counts.tolist() == [2, 1, 0]  # round(0.2 n_c), at least 1, never a class's only sample
    tr2, va2, _ = carve_validation(np.arange(16), labels, fake_meta(range(16)), 0.2,
                                   by_subject=False)
    assert np.array_equal(va, va2)
    assert carve_validation(np.arange(16), labels, meta, 0.0)[1].size == 0


def test_carving_uses_store_indices():
    idx = np.array([40, 41, 42, 43, 50, 51])
    labels = np.zeros(60, int)
    subjects = np.zeros(60, int)
    subjects[[40, 41, 42]] = 1
    subjects[[43, 50, 51]] = 2
    tr, va, _ = carve_validation(idx, labels, fake_meta(subjects), 0.5)
    assert set(tr) | set(va) == set(idx) and len(va) == 3


class Items(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n, self.epoch = n, None

    def set_epoch(self, e):
        self.epoch = e

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def order(loader):
    return torch.cat(list(loader)).tolist()


def test_epoch_order_depends_on_seed_and_epoch_only():
    ds = Items(20)
    kw = dict(batch_size=4, rank=0, world=1, num_workers=0, pin_memory=False)
    a = order(train_loader(ds, seed=0, epoch=3, **kw))
    assert ds.epoch == 3 and sorted(a) == list(range(20))
    torch.manual_seed(123)  # the global RNG plays no part
    assert order(train_loader(ds, seed=0, epoch=3, **kw)) == a
    assert order(train_loader(ds, seed=0, epoch=4, **kw)) != a
    assert order(train_loader(ds, seed=1, epoch=3, **kw)) != a
    # two processes split the same permutation
    r0 = order(train_loader(ds, seed=0, epoch=3, **{**kw, "world": 2, "batch_size": 2}))
    r1 = order(train_loader(ds, seed=0, epoch=3, **{**kw, "world": 2, "rank": 1, "batch_size": 2}))
    assert sorted(r0 + r1) == list(range(20)) and r0 == a[0::2] and r1 == a[1::2]


def test_single_sample_last_batch_is_dropped():
    kw = dict(seed=0, epoch=1, rank=0, world=1, num_workers=0, pin_memory=False)
    assert len(order(train_loader(Items(9), batch_size=4, **kw))) == 8
    assert len(order(train_loader(Items(10), batch_size=4, **kw))) == 10


def test_shards_partition_without_padding():
    shards = [list(ShardSampler(10, r, 3)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(10)) and [len(s) for s in shards] == [4, 3, 3]


def test_epoch_seed_mixes():
    seeds = {epoch_seed(0, e, r) for e in range(50) for r in range(4)}
    assert len(seeds) == 200 and all(0 <= s < 2**63 for s in seeds)
