"""Training-time augmentation of prepared sequences, before they become images.

Every function takes a ``(C, T, J)`` float32 array (C coordinates, T frames, J joint columns, as
stored by :mod:`mans.data.store`) and an :class:`numpy.random.Generator`, and returns a new array; the
input is never modified. A joint that is absent in a frame (all C coordinates exactly zero: a
missing second body, a dropped frame) stays exactly zero, so augmentation never invents joints.

:func:`build_augment` composes the enabled steps from an
:class:`~mans.engine.config.AugmentConfig`; with the default config every step is the identity and
it returns None (augmentation is OFF unless asked for).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from ..geometry import euler_to_matrix
from ..skeleton import Layout
from .streams import column_mirror

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def present_mask(x: np.ndarray) -> np.ndarray:
    """``(T, J)`` bool: True where a joint has any non-zero coordinate."""
    return np.any(x != 0, axis=0)


def rotation_matrix(ax: float, ay: float, az: float) -> np.ndarray:
    """``(3, 3)`` rotation by ``ax``, ``ay``, ``az`` radians about x, then y, then z:
    ``Rz @ Ry @ Rx``."""
    return euler_to_matrix(np.array([ax, ay, az]), "xyz")


def rotate(x: np.ndarray, rng: np.random.Generator,
           max_deg: tuple[float, float, float]) -> np.ndarray:
    """Rotate every joint about the origin by angles drawn uniformly in ``[-max, +max]`` degrees
    about x, y and z (one rotation per sequence).

    Which axis is vertical depends on the prepared view: in the authors' view frame
    (``prep.view = "authors"``, the default) and the GCN-style frame, +z runs up the spine, so
    ``max_deg = (a, b, c)`` with a large ``c`` mimics viewpoint changes around the performer and
    small ``a``, ``b`` mimic camera tilt; with ``view = "none"`` (raw Kinect camera space) y is
    vertical and ``b`` plays that role. 2-D data (C = 2) is rotated in-plane by the z angle.
    Zero joints stay zero because a rotation maps the origin to itself.
    """
    angles = np.deg2rad([rng.uniform(-m, m) if m > 0 else 0.0 for m in max_deg])
    r = rotation_matrix(*angles)  # (3, 3)
    if x.shape[0] == 2:
        r = rotation_matrix(0.0, 0.0, angles[2])[:2, :2]  # in-plane: about the (absent) z axis
    elif x.shape[0] != 3:
        raise ValueError(f"rotate expects 2 or 3 coordinate channels, got {x.shape[0]}")
    return np.einsum("ij,jtv->itv", r, x).astype(np.float32)  # (C, T, J)


def scale(x: np.ndarray, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Multiply all coordinates by one factor drawn uniformly in ``[low, high]``."""
    return (x * np.float32(rng.uniform(low, high))).astype(np.float32)


def add_noise(x: np.ndarray, rng: np.random.Generator, std: float) -> np.ndarray:
    """Add i.i.d. Gaussian noise of standard deviation ``std`` to present joints only."""
    noise = rng.normal(0.0, std, size=x.shape).astype(np.float32)  # (C, T, J)
    return x + noise * present_mask(x)[None]


def temporal_crop(x: np.ndarray, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Keep a random contiguous window of ``round(f * T)`` frames (at least 1), ``f`` uniform in
    ``[low, high]``; the window start is uniform over the valid positions."""
    t = x.shape[1]
    keep = int(np.clip(round(rng.uniform(low, high) * t), 1, t))
    start = int(rng.integers(0, t - keep + 1))
    return x[:, start:start + keep].copy()


def interpolate_frames(x: np.ndarray, new_t: int) -> np.ndarray:
    """``(C, T, J)`` -> ``(C, new_t, J)`` sampled at ``new_t`` evenly spaced positions
    ``linspace(0, T - 1, new_t)`` of the input.

    Between two frames where a joint is present in both, positions are linearly interpolated;
    where it is absent in either neighbour the nearest frame is copied, so absent joints stay
    exactly zero and are never blended with present ones.
    """
    t = x.shape[1]
    pos = np.linspace(0.0, t - 1, new_t)  # (T',) fractional source frame of each output frame
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo).astype(np.float32)[None, :, None]  # (1, T', 1)
    linear = (1 - w) * x[:, lo] + w * x[:, hi]  # (C, T', J)
    nearest = x[:, np.where(w[0, :, 0] < 0.5, lo, hi)]  # (C, T', J)
    present = present_mask(x)  # (T, J)
    both = (present[lo] & present[hi])[None]  # (1, T', J)
    return np.where(both, linear, nearest).astype(np.float32)


def resample(x: np.ndarray, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Change the playback speed by a factor ``s`` uniform in ``[low, high]``: the output has
    ``max(1, round(T / s))`` frames sampled at evenly spaced positions of the input
    (:func:`interpolate_frames`)."""
    t = x.shape[1]
    new_t = max(1, int(round(t / rng.uniform(low, high))))
    return interpolate_frames(x, new_t)


def crop_resize(x: np.ndarray, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Random temporal crop, resized back: a contiguous window of ``round(p * T)`` frames (at
    least 1), ``p`` uniform in ``[low, high]``, its start uniform over the valid positions, then
    :func:`interpolate_frames` back to ``T`` frames (the crop-resize of CTR-GCN's feeder, with a
    random ratio)."""
    t = x.shape[1]
    keep = int(np.clip(round(rng.uniform(low, high) * t), 1, t))
    start = int(rng.integers(0, t - keep + 1))
    return interpolate_frames(x[:, start:start + keep], t)


def scale_axes(x: np.ndarray, rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """Multiply each coordinate axis by its own factor, drawn uniformly in ``[low, high]``
    (``data.augment.scale`` with ``scale_per_axis: true``); zero joints stay zero."""
    f = rng.uniform(low, high, size=x.shape[0]).astype(np.float32)  # (C,)
    return (x * f[:, None, None]).astype(np.float32)


def shear(x: np.ndarray, rng: np.random.Generator, max_shear: float) -> np.ndarray:
    """Apply ``I + S`` to every joint, ``S`` with zero diagonal and off-diagonal entries uniform
    in ``[-max_shear, max_shear]`` (one matrix per sequence; drawn row by row, ``C (C - 1)``
    numbers). A linear map keeps the origin, so zero joints stay zero."""
    c = x.shape[0]
    m = np.eye(c)
    off = ~np.eye(c, dtype=bool)
    m[off] = rng.uniform(-max_shear, max_shear, size=c * (c - 1))
    return np.einsum("ij,jtv->itv", m, x).astype(np.float32)  # (C, T, J)


def joint_dropout(x: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Zero each joint column for the whole sequence with probability ``p`` (one draw per
    column: a body slot's joint is dropped independently of the other slots')."""
    keep = rng.uniform(size=x.shape[2]) >= p  # (J,)
    return np.where(keep[None, None, :], x, 0.0).astype(np.float32)


def mirror_sequence(x: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Mirror a ``(C, T, J)`` sequence left <-> right: the joint columns are permuted by
    ``columns`` (e.g. :func:`mans.data.streams.column_mirror`) and the lateral axis, channel 0, is
    negated. In the authors' and the GCN-style view frames channel 0 is the body's left -> right
    (hip) axis; with ``view = "none"`` it is the camera's horizontal axis, so the result is the
    mirror image of the scene. Mirroring twice is the identity; absent joints stay 0."""
    out = x[:, :, columns].astype(np.float32, copy=True)
    out[0] *= -1
    out[0][out[0] == 0] = 0.0  # no -0.0: keeps "absent" tests (x != 0) and bit-exact round trips
    return out


@dataclass
class Mirror:
    """Augmentation step: with probability ``p``, :func:`mirror_sequence` by ``layout``'s
    left/right pairs (checked when built: a layout without pairs raises ConfigError)."""

    layout: Layout
    p: float = 0.5

    def __post_init__(self) -> None:
        self.layout.mirror_permutation()  # fail now, not in a DataLoader worker
        self._columns: dict[int, np.ndarray] = {}  # J -> column permutation, built once

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.uniform() >= self.p:
            return x
        j = x.shape[2]
        if j not in self._columns:
            self._columns[j] = column_mirror(self.layout, j)
        return mirror_sequence(x, self._columns[j])


@dataclass
class Compose:
    """Apply ``steps`` in order; picklable (DataLoader workers receive a copy)."""

    steps: tuple[Augment, ...]

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for step in self.steps:
            x = step(x, rng)
        return x


def build_augment(cfg, layout: Layout | None = None) -> Compose | None:
    """Compose the enabled steps of an ``AugmentConfig`` (mirror, temporal crop, resampling,
    crop-resize, rotation, shear, scaling (one factor, or one per axis), noise, joint dropout,
    in that order), or None when every step is the identity. ``layout`` is needed when
    mirroring is on (``cfg.mirror > 0``)."""
    steps: list[Augment] = []
    if getattr(cfg, "mirror", 0.0) > 0:
        if layout is None:
            raise ValueError("mirror augmentation needs the joint layout")
        steps.append(Mirror(layout, float(cfg.mirror)))
    if tuple(cfg.crop) != (1.0, 1.0):
        steps.append(partial(temporal_crop, low=cfg.crop[0], high=cfg.crop[1]))
    if tuple(cfg.resample) != (1.0, 1.0):
        steps.append(partial(resample, low=cfg.resample[0], high=cfg.resample[1]))
    crop_ratio = tuple(getattr(cfg, "crop_resize", (1.0, 1.0)))
    if crop_ratio != (1.0, 1.0):
        steps.append(partial(crop_resize, low=crop_ratio[0], high=crop_ratio[1]))
    if any(a > 0 for a in cfg.rotation_deg):
        steps.append(partial(rotate, max_deg=tuple(cfg.rotation_deg)))
    if getattr(cfg, "shear", 0.0) > 0:
        steps.append(partial(shear, max_shear=float(cfg.shear)))
    if tuple(cfg.scale) != (1.0, 1.0):
        fn = scale_axes if getattr(cfg, "scale_per_axis", False) else scale
        steps.append(partial(fn, low=cfg.scale[0], high=cfg.scale[1]))
    if cfg.noise_std > 0:
        steps.append(partial(add_noise, std=cfg.noise_std))
    if getattr(cfg, "joint_dropout", 0.0) > 0:
        steps.append(partial(joint_dropout, p=float(cfg.joint_dropout)))
    return Compose(tuple(steps)) if steps else None
