"""Tests of mans.data.store: opening a prepared store, splits, and the torch Dataset."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import helpers_prepare as tiny
from helpers_pipeline import joint_image
from mans.data.pipeline import prepare_sequence
from mans.data.spec import PrepConfig
from mans.data.dataset import SkeletonDataset
from mans.data.pipeline import InputPipeline
from mans.datasets import Item
from mans.errors import ConfigError, FormatError
from mans.data.prepare import prepare
from mans.data.store import PreparedStore


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    tiny.write_tiny_raw(root / "raw", n=10, corrupt=False)
    prepare("tinytest", root / "raw", root / "store", workers=1, progress=False)
    return root / "store"


def test_open_and_contents(store_dir):
    s = PreparedStore.open(store_dir)
    assert len(s) == 10 and s.labels.dtype == np.int64
    assert s.class_names == tiny.CLASSES and s.num_classes == 3
    assert s.default_protocol == "xsub" and s.dataset == "tinytest"
    assert s.prep["view"] == "authors" and s.prep["layout"] == "ntu25"
    assert PrepConfig.from_dict(s.prep) == PrepConfig("authors", 2)
    assert [m["key"] for m in s.meta] == sorted(m["key"] for m in s.meta)
    # sequence(i) is prepare_sequence of the raw file, as (C, T_i, J), without a copy
    raw = store_dir.parent / "raw"
    for i in (0, 3, 9):
        seq = tiny._read(Item(s.meta[i]["key"], raw / f"{s.meta[i]['key']}.npy",
                                   {"label": 0, "subject": 1}))
        expect = prepare_sequence(seq, PrepConfig("authors", 2))
        got = s.sequence(i)
        assert got.shape == expect.shape == (3, s.lengths[i], 50)
        np.testing.assert_array_equal(got, expect)
        assert not got.flags.writeable and not got.flags.owndata
    with pytest.raises(IndexError):
        s.sequence(10)


def test_splits(store_dir):
    s = PreparedStore.open(store_dir)
    tr, te = s.split("xsub", "train"), s.split(None, "test")
    subj = np.array([m["subject"] for m in s.meta])
    np.testing.assert_array_equal(tr, np.flatnonzero(subj % 2 == 1))
    np.testing.assert_array_equal(te, np.flatnonzero(subj % 2 == 0))
    assert tr.dtype == np.int64 and set(s.protocols) == {"xsub", "all"}
    with pytest.raises(ConfigError, match=r"'xview'.*available: all, xsub"):
        s.split("xview", "train")
    with pytest.raises(ConfigError, match="no split 'val'"):
        s.split("xsub", "val")


def test_open_errors(store_dir, tmp_path):
    with pytest.raises(ConfigError, match="not a prepared store"):
        PreparedStore.open(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ConfigError, match="not a prepared store"):
        PreparedStore.open(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    for p in store_dir.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    np.save(bad / "offsets.npy", np.load(store_dir / "offsets.npy")[:-1])
    with pytest.raises(FormatError, match="inconsistent store"):
        PreparedStore.open(bad)
    (bad / "labels.npy").unlink()
    with pytest.raises(FormatError, match="labels.npy: missing"):
        PreparedStore.open(bad)


def test_dataset_items(store_dir):
    s = PreparedStore.open(store_dir)
    idx = s.split("xsub", "train")
    ds = SkeletonDataset(s, idx, InputPipeline.for_store(s, 50))
    assert len(ds) == len(idx)
    np.testing.assert_array_equal(ds.labels, s.labels[idx])
    for k in range(len(ds)):
        x, y = ds[k]
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (3, 50, 50)
        assert y == s.labels[idx[k]] and isinstance(y, int)
        np.testing.assert_array_equal(x.numpy(), joint_image(s.sequence(int(idx[k])), 50))
    big = SkeletonDataset(s, idx, InputPipeline.for_store(s, 224))[0][0]
    assert big.shape == (3, 224, 224)
    t = s.lengths[idx[0]]
    rows = slice((224 - t) // 2, (224 - t) // 2 + t)  # centre-padded frames, centred joints
    np.testing.assert_array_equal(big[:, rows, 87:137].numpy(), s.sequence(int(idx[0])))
    # nothing outside the centred block (the two sums add in different orders: approx)
    assert big.abs().sum().item() == pytest.approx(big[:, rows, 87:137].abs().sum().item(),
                                                   rel=1e-6)


def _jitter(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x[0] += rng.normal()  # modifies its argument: the store must hand out a private copy
    return x


def test_augment_is_deterministic_per_epoch_and_index(store_dir):
    s = PreparedStore.open(store_dir)
    before = np.array(s.frames)
    pipeline = InputPipeline.for_store(s, 50, augment=_jitter)
    ds = SkeletonDataset(s, [0, 1, 2], pipeline, seed=3, train=True)
    a0, a0b = ds[1][0], ds[1][0]
    np.testing.assert_array_equal(a0.numpy(), a0b.numpy())
    ds.set_epoch(1)
    a1 = ds[1][0]
    assert not torch.equal(a0, a1)
    # the RNG depends on the store index, not the position in the dataset
    other = SkeletonDataset(s, [2, 1], pipeline, seed=3, train=True)
    other.set_epoch(1)
    np.testing.assert_array_equal(other[1][0].numpy(), a1.numpy())
    shift = a1[0].numpy() - joint_image(s.sequence(1), 50)[0]
    t = s.lengths[1]
    expect = np.random.default_rng((3, 1, 1)).normal()
    np.testing.assert_allclose(shift[(50 - t) // 2:(50 - t) // 2 + t], expect, rtol=1e-5)
    np.testing.assert_array_equal(np.array(s.frames), before)
    # evaluation samples are never augmented, whatever the pipeline holds
    test = SkeletonDataset(s, [0, 1, 2], pipeline, seed=3)
    np.testing.assert_array_equal(test[1][0].numpy(), joint_image(s.sequence(1), 50))


def test_pickle_and_dataloader_workers(store_dir):
    s = PreparedStore.open(store_dir)
    s.frames  # open the memmap
    blob = pickle.dumps(s)
    assert len(blob) < s.frames.nbytes  # the memmap is not pickled
    s2 = pickle.loads(blob)
    np.testing.assert_array_equal(s2.sequence(4), s.sequence(4))
    ds = SkeletonDataset(s, np.arange(len(s)), InputPipeline.for_store(s, 50))
    loader = DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    xs, ys = zip(*loader)
    x, y = torch.cat(xs), torch.cat(ys)
    assert x.shape == (10, 3, 50, 50)
    np.testing.assert_array_equal(x[7].numpy(), ds[7][0].numpy())
    np.testing.assert_array_equal(y.numpy(), s.labels)
