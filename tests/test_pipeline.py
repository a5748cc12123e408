"""The input pipeline (mans.data.pipeline, mans.data.normalise): spine centring, min-max and torso
normalisation and frame resampling against hand-computed arrays; the order of the steps; the
dataset's training and test frames. (That the defaults give what the code before the pipeline
gave: tests/test_pipeline_reference.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from helpers_engine import one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from helpers_pipeline import pipeline_for
from mans.data.dataset import SkeletonDataset
from mans.data.frames import resample_indices
from mans.data.normalise import centre_spine, minmax, torso_length, torso_scale
from mans.data.pipeline import InputPipeline
from mans.data.store import PreparedStore
from mans.data.streams import motion
from mans.errors import ConfigError
from mans.skeleton import Layout, builtin_layout

# 3 joints: 0 = spine base (root), 1 = spine top, 2 = hand
CHAIN = Layout(name="chain3", joints=("base", "top", "hand"), parents=(-1, 0, 1),
               roles={"spine_base": 0, "spine_top": 1})
# no spine roles: centre = hip mid-point, torso = hip mid-point -> shoulder mid-point
HIPS = Layout(name="hips4", joints=("lh", "rh", "ls", "rs"), parents=(-1, 0, 0, 1),
              roles={"left_hip": 0, "right_hip": 1, "left_shoulder": 2, "right_shoulder": 3})


def test_centre_spine_per_slot_from_the_first_present_frame():
    # (C=2, T=3, J=6): two slots of CHAIN. Slot 0's base is absent in frame 0, present in frame 1
    x = np.zeros((2, 3, 6), dtype=np.float32)
    x[:, 0, 1] = [5.0, 5.0]  # slot 0 frame 0: only the top
    x[:, 1, 0], x[:, 1, 2] = [1.0, 2.0], [3.0, 3.0]  # frame 1: base (1, 2), hand (3, 3)
    x[:, 2, 0] = [2.0, 2.0]  # frame 2: base moved
    x[:, 0, 3], x[:, 0, 5] = [10.0, 0.0], [11.0, 1.0]  # slot 1 frame 0: base (10, 0), hand
    y = centre_spine(x, CHAIN)
    assert y[:, 0, 1].tolist() == [4.0, 3.0]  # (5, 5) - (1, 2)
    assert y[:, 1, 0].tolist() == [0.0, 0.0] and y[:, 1, 2].tolist() == [2.0, 1.0]
    assert y[:, 2, 0].tolist() == [1.0, 0.0]
    assert y[:, 0, 5].tolist() == [1.0, 1.0] and y[:, 0, 3].tolist() == [0.0, 0.0]
    absent = ~np.any(x != 0, axis=0)
    absent[0, 3] = absent[1, 0] = False  # the two centres themselves become (0, 0)
    assert np.all(y[:, absent] == 0)
    assert np.all(y[:, 1:, 3:] == 0)  # slot 1 is absent in frames 1, 2: stays absent


def test_centre_falls_back_to_the_hips_and_needs_a_role():
    x = np.zeros((3, 1, 4), dtype=np.float32)
    x[:, 0] = [[0.0, 2.0, 1.0, 3.0], [0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0]]
    y = centre_spine(x, HIPS)  # centre (1, 0, 1)
    assert y[:, 0, 2].tolist() == [0.0, 1.0, 1.0] and y[:, 0, 0].tolist() == [-1.0, 0.0, 0.0]
    bare = Layout(name="bare", joints=("a", "b"), parents=(-1, 0))
    with pytest.raises(ConfigError, match="data.centre=spine: layout 'bare'"):
        pipeline_for(bare, 4, view="none", centre="spine")
    with pytest.raises(ConfigError, match="data.normalise=torso: layout 'bare'"):
        pipeline_for(bare, 4, view="none", normalise="torso")


def test_minmax_one_scalar_range_of_present_coordinates():
    x = np.zeros((2, 2, 3), dtype=np.float32)
    x[:, 0, 0] = [1.0, 3.0]
    x[:, 1, 1] = [-1.0, 5.0]  # lo = -1, hi = 5; joint 2 and the rest absent
    y = minmax(x)
    # v -> 2 (v + 1) / 6 - 1
    np.testing.assert_allclose(y[:, 0, 0], [-1 / 3, 1 / 3], atol=1e-6)
    np.testing.assert_allclose(y[:, 1, 1], [-1.0, 1.0], atol=1e-6)
    assert np.all(y[:, :, 2] == 0) and np.all(y[:, 0, 1] == 0) and np.all(y[:, 1, 0] == 0)


def test_torso_scale_divides_by_the_mean_torso_length():
    x = np.zeros((3, 3, 3), dtype=np.float32)
    x[:, 0, 0], x[:, 0, 1] = [0, 0, 0.5], [0, 0, 3.5]  # torso 3 (base at z = 0.5: present)
    x[:, 1, 0], x[:, 1, 1] = [1, 0, 0], [1, 4, 3]  # torso 5
    x[:, 2, 1] = [9, 9, 9]  # no base: not counted
    assert torso_length(x, CHAIN) == pytest.approx(4.0)
    np.testing.assert_allclose(torso_scale(x, CHAIN), x / 4.0, rtol=1e-6)
    h = np.zeros((2, 1, 4), dtype=np.float32)
    h[:, 0] = [[-1.0, 1.0, -1.0, 1.0], [0.0, 0.0, 2.0, 2.0]]  # hips at y 0, shoulders at y 2
    assert torso_length(h, HIPS) == pytest.approx(2.0)


def test_resample_indices_by_hand():
    assert resample_indices(4, 8).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert resample_indices(10, 4).tolist() == [1, 3, 6, 8]
    draws = [resample_indices(5, 12, np.random.default_rng(s)) for s in range(3)]
    for d in draws:
        assert d.shape == (12,) and np.all(np.diff(d) >= 0) and d.min() >= 0 and d.max() <= 4
    assert not np.array_equal(draws[0], draws[1])
    np.testing.assert_array_equal(draws[0], resample_indices(5, 12, np.random.default_rng(0)))


def test_sequence_layout_and_resampled_frames():
    lay = builtin_layout("kinect20")
    x = np.random.default_rng(0).normal(size=(3, 7, 20)).astype(np.float32)
    seq, rows = pipeline_for(lay, 10, input="sequence").sample(x)
    ref = np.zeros((3, 10, 20), np.float32)  # (3, 10, 20): no columns added
    ref[:, 1:8] = x  # (10 - 7) // 2 = 1 padding row before
    np.testing.assert_array_equal(seq, ref)
    assert rows.tolist() == [-1, 0, 1, 2, 3, 4, 5, 6, -1, -1]
    idx = resample_indices(7, 10)
    res = pipeline_for(lay, 10, input="sequence", frames="resample")
    np.testing.assert_array_equal(res.sample(x)[0], x[:, idx])
    img = pipeline_for(lay, 24, "motion", frames="resample")
    # the frames are taken before the stream: a motion row spans one model row
    ref = np.zeros((3, 24, 24), np.float32)
    ref[:, :, 2:22] = motion(x[:, resample_indices(7, 24)])  # (24 - 20) // 2 = 2 columns before
    np.testing.assert_array_equal(img.sample(x)[0], ref)
    assert img.rows(7).tolist() == resample_indices(7, 24).tolist()


def test_order_centre_then_normalise_then_stream():
    lay = builtin_layout("kinect20")
    x = np.random.default_rng(1).normal(size=(3, 9, 20)).astype(np.float32) + 3.0
    p = pipeline_for(lay, 9, "bone", input="sequence", centre="spine", normalise="torso")
    from mans.data.streams import bones, column_parents

    ref = bones(torso_scale(centre_spine(x, lay), lay), column_parents(lay, 20))
    np.testing.assert_allclose(p.sample(x)[0], ref, rtol=1e-6, atol=1e-7)


def test_dataset_draws_training_frames_from_the_sample_rng(tiny_store):  # noqa: F811
    store = PreparedStore.open(tiny_store)
    idx = store.split("xsub", "train")[:4]
    p = InputPipeline.for_store(store, 16, input="sequence", centre="spine", normalise="minmax",
                                frames="resample")
    train = SkeletonDataset(store, idx, p, train=True)
    test = SkeletonDataset(store, idx, p)
    a, b = train[0][0].numpy(), train[0][0].numpy()
    np.testing.assert_array_equal(a, b)  # a function of (seed, epoch, sample)
    train.set_epoch(1)
    assert not np.array_equal(train[0][0].numpy(), a)
    i = int(idx[0])
    rng = np.random.default_rng((0, 0, i))
    ref, rows = p.sample(store.sequence(i), rng)
    np.testing.assert_array_equal(a, ref)
    assert not np.array_equal(rows, p.rows(store.lengths[i]))  # drawn, not the test frames
    np.testing.assert_array_equal(test[0][0].numpy(), p.sample(store.sequence(i))[0])
    assert a.shape == (3, 16, 25) and float(np.abs(a).max()) <= 1.0 + 1e-6
