"""Augmentations over (C, T, J) arrays: hand-checked geometry, absent joints stay zero, OFF by
default."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from mans.data.augment import (
    Compose,
    add_noise,
    build_augment,
    resample,
    rotate,
    rotation_matrix,
    scale,
    temporal_crop,
)
from mans.engine.config import AugmentConfig


def sample(t: int = 40, j: int = 50, seed: int = 0) -> np.ndarray:
    """A (3, T, J) sequence whose second body (columns 25..49) is absent, and whose frames 30..39
    are empty (as a dropped frame would be)."""
    x = np.random.default_rng(seed).normal(size=(3, t, j)).astype(np.float32)
    x[:, :, 25:] = 0.0
    x[:, 30:] = 0.0
    return x


def zero_stays_zero(x: np.ndarray, y: np.ndarray) -> None:
    """Where x was absent, y is exactly 0 (for same-length outputs)."""
    absent = ~np.any(x != 0, axis=0)
    assert np.all(y[:, absent] == 0)


def test_rotation_matrix_hand_values():
    r = rotation_matrix(0.0, np.pi / 2, 0.0)  # 90 degrees about y: x -> -z, z -> x
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(r @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    r = rotation_matrix(np.pi / 2, 0.0, 0.0)  # about x: y -> z
    np.testing.assert_allclose(r @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    r = rotation_matrix(0.0, 0.0, np.pi / 2)  # about z: x -> y
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_rotate_about_vertical_matches_drawn_angle():
    x = np.zeros((3, 2, 3), dtype=np.float32)
    x[:, 0, 0] = [1.0, 0.0, 0.0]
    x[:, 1, 1] = [0.0, 2.0, 0.0]  # on the y axis: unchanged by a rotation about y
    y = rotate(x, np.random.default_rng(7), max_deg=(0.0, 30.0, 0.0))
    a = np.deg2rad(np.random.default_rng(7).uniform(-30.0, 30.0))  # the one angle drawn
    np.testing.assert_allclose(y[:, 0, 0], [np.cos(a), 0.0, -np.sin(a)], atol=1e-6)
    np.testing.assert_allclose(y[:, 1, 1], [0.0, 2.0, 0.0], atol=1e-6)
    assert abs(np.rad2deg(a)) <= 30.0 and a != 0.0


def test_rotate_is_rigid_and_keeps_zeros():
    x = sample()
    y = rotate(x, np.random.default_rng(1), max_deg=(10.0, 45.0, 10.0))
    assert y.dtype == np.float32 and y.shape == x.shape
    zero_stays_zero(x, y)
    # distances between joints of one frame are preserved
    d = lambda a: np.linalg.norm(a[:, 5, :, None] - a[:, 5, None, :], axis=0)  # noqa: E731
    np.testing.assert_allclose(d(y), d(x), atol=1e-5)
    assert not np.allclose(y, x)


def test_rotate_2d_is_in_plane():
    x = np.zeros((2, 1, 2), dtype=np.float32)
    x[:, 0, 0] = [1.0, 0.0]
    y = rotate(x, np.random.default_rng(3), max_deg=(0.0, 0.0, 20.0))
    a = np.deg2rad(np.random.default_rng(3).uniform(-20.0, 20.0))
    np.testing.assert_allclose(y[:, 0, 0], [np.cos(a), np.sin(a)], atol=1e-6)
    np.testing.assert_array_equal(y[:, 0, 1], [0.0, 0.0])


def test_scale_one_factor_in_range():
    x = sample()
    y = scale(x, np.random.default_rng(2), 0.8, 1.2)
    present = np.any(x != 0, axis=0)
    ratio = y[:, present] / x[:, present]
    f = np.random.default_rng(2).uniform(0.8, 1.2)
    np.testing.assert_allclose(ratio, f, rtol=1e-5)
    zero_stays_zero(x, y)


def test_noise_only_on_present_joints():
    x = sample(t=200)
    y = add_noise(x, np.random.default_rng(4), std=0.05)
    zero_stays_zero(x, y)
    present = np.any(x != 0, axis=0)
    diff = (y - x)[:, present]
    assert diff.std() == pytest.approx(0.05, rel=0.05)  # ~15k draws
    assert abs(diff.mean()) < 0.003


def test_temporal_crop_is_a_contiguous_window():
    x = np.arange(3 * 20 * 4, dtype=np.float32).reshape(3, 20, 4) + 1
    for seed in range(5):
        y = temporal_crop(x, np.random.default_rng(seed), 0.5, 0.8)
        assert 10 <= y.shape[1] <= 16
        start = int(y[0, 0, 0] - 1) // 4  # the values encode their frame index
        np.testing.assert_array_equal(y, x[:, start:start + y.shape[1]])
    assert temporal_crop(x, np.random.default_rng(0), 1.0, 1.0).shape == x.shape


def test_resample_linear_ramp_and_length():
    t = 21
    ramp = np.broadcast_to(np.arange(1, t + 1, dtype=np.float32)[None, :, None], (3, t, 2)).copy()
    s = np.random.default_rng(5).uniform(0.5, 2.0)
    y = resample(ramp, np.random.default_rng(5), 0.5, 2.0)
    new_t = max(1, round(t / s))
    assert y.shape == (3, new_t, 2)
    # linear interpolation of a linear signal is exact: frame k sits at position k*(t-1)/(new_t-1)
    np.testing.assert_allclose(y[0, :, 0], 1 + np.linspace(0, t - 1, new_t), atol=1e-5)


def test_resample_never_blends_absent_joints():
    # a joint at constant 1.0 in frames 0..9, absent (0) in frames 10..19; a second joint absent
    x = np.zeros((3, 20, 2), dtype=np.float32)
    x[:, :10, 0] = 1.0
    for seed in range(20):
        y = resample(x, np.random.default_rng(seed), 0.6, 1.7)
        # linear blending with the zero frame would give values strictly between 0 and 1
        assert set(np.unique(y).tolist()) <= {0.0, 1.0}
        assert np.all(y[:, :, 1] == 0)
        assert y[0, 0, 0] == 1.0 and y[0, -1, 0] == 0.0


def test_functions_do_not_modify_input():
    x = sample()
    ref = x.copy()
    rng = np.random.default_rng(0)
    for f in (lambda a: rotate(a, rng, (5, 5, 5)), lambda a: scale(a, rng, 0.9, 1.1),
              lambda a: add_noise(a, rng, 0.1), lambda a: temporal_crop(a, rng, 0.5, 0.9),
              lambda a: resample(a, rng, 0.8, 1.2)):
        f(x)
        np.testing.assert_array_equal(x, ref)


def test_build_augment_off_by_default_and_composed():
    assert build_augment(AugmentConfig()) is None
    cfg = AugmentConfig(rotation_deg=(5.0, 30.0, 5.0), scale=(0.9, 1.1), noise_std=0.01,
                        crop=(0.8, 1.0), resample=(0.9, 1.1))
    aug = build_augment(cfg)
    assert isinstance(aug, Compose) and len(aug.steps) == 5
    aug = pickle.loads(pickle.dumps(aug))  # DataLoader workers get a copy
    x = sample()
    y1 = aug(x, np.random.default_rng(11))
    y2 = aug(x, np.random.default_rng(11))
    np.testing.assert_array_equal(y1, y2)  # a function of (x, rng state) only
    assert y1.dtype == np.float32 and y1.shape[0] == 3 and y1.shape[2] == 50
    assert np.all(y1[:, :, 25:] == 0)  # the absent body stays absent through the whole chain
    only_noise = build_augment(AugmentConfig(noise_std=0.02))
    assert len(only_noise.steps) == 1


# --- the field's augmentations (issue 17): shear, per-axis scale, crop-resize, joint dropout ----


def test_shear_applies_the_drawn_matrix():
    from mans.data.augment import shear

    x = np.zeros((3, 1, 3), dtype=np.float32)
    x[:, 0, 0] = [1.0, 0.0, 0.0]
    x[:, 0, 1] = [0.0, 0.0, 2.0]  # joint 2 absent
    d = np.random.default_rng(3).uniform(-0.4, 0.4, size=6)  # the 6 off-diagonals, row by row
    m = np.array([[1, d[0], d[1]], [d[2], 1, d[3]], [d[4], d[5], 1]])
    y = shear(x, np.random.default_rng(3), 0.4)
    np.testing.assert_allclose(y[:, 0, 0], m[:, 0], atol=1e-6)  # the first column of I + S
    np.testing.assert_allclose(y[:, 0, 1], 2 * m[:, 2], atol=1e-6)
    assert np.all(y[:, 0, 2] == 0) and np.all(np.abs(d) <= 0.4)
    y2 = shear(x[:2], np.random.default_rng(3), 0.4)  # 2-D: 2 off-diagonals
    np.testing.assert_allclose(y2[:, 0, 0], [1.0, d[1]], atol=1e-6)


def test_scale_per_axis_draws_one_factor_per_axis():
    from mans.data.augment import scale_axes

    x = np.ones((3, 2, 2), dtype=np.float32)
    x[:, :, 1] = 0.0
    f = np.random.default_rng(4).uniform(0.5, 1.5, size=3)
    y = scale_axes(x, np.random.default_rng(4), 0.5, 1.5)
    np.testing.assert_allclose(y[:, 0, 0], f, rtol=1e-6)
    assert len(set(np.round(f, 6))) == 3 and np.all(y[:, :, 1] == 0)
    aug = build_augment(AugmentConfig(scale=(0.5, 1.5), scale_per_axis=True))
    np.testing.assert_array_equal(aug(x, np.random.default_rng(4)), y)


def test_crop_resize_crops_then_stretches_back():
    from mans.data.augment import crop_resize

    t = 11
    ramp = np.broadcast_to(np.arange(1, t + 1, dtype=np.float32)[None, :, None], (3, t, 2)).copy()
    rng = np.random.default_rng(9)
    keep = int(np.clip(round(rng.uniform(0.5, 0.5) * t), 1, t))  # ratio 0.5 -> 6 frames
    start = int(rng.integers(0, t - keep + 1))
    y = crop_resize(ramp, np.random.default_rng(9), 0.5, 0.5)
    assert y.shape == ramp.shape and keep == 6
    # frames start+1 .. start+6 stretched linearly over 11 frames
    np.testing.assert_allclose(y[0, :, 0], start + 1 + np.linspace(0, 5, t), atol=1e-5)


def test_joint_dropout_zeroes_whole_columns():
    from mans.data.augment import joint_dropout

    x = sample(t=10, j=50)
    drop = np.random.default_rng(2).uniform(size=50) < 0.3
    y = joint_dropout(x, np.random.default_rng(2), 0.3)
    assert np.all(y[:, :, drop] == 0)
    np.testing.assert_array_equal(y[:, :, ~drop], x[:, :, ~drop])
    assert 0 < drop[:25].sum() < 25


def test_build_augment_orders_the_new_steps():
    cfg = AugmentConfig(rotation_deg=(5.0, 5.0, 5.0), shear=0.2, scale=(0.9, 1.1),
                        scale_per_axis=True, crop_resize=(0.8, 1.0), joint_dropout=0.1)
    names = [s.func.__name__ for s in build_augment(cfg).steps]
    assert names == ["crop_resize", "rotate", "shear", "scale_axes", "joint_dropout"]
