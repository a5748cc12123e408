"""Rotation matrices shared by the Acclaim forward kinematics, the synthetic data generator and the
augmentations (one right-handed convention for the whole project)."""

from __future__ import annotations

import numpy as np

_PLANE = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}  # the plane each axis' rotation turns


def axis_rotation(axis: str, angle) -> np.ndarray:
    """``(..., 3, 3)`` right-handed rotation matrices by ``angle`` (radians, shape ``(...)``) about
    the coordinate axis ``"x"``, ``"y"`` or ``"z"``."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    i, j = _PLANE[axis]
    k = 3 - i - j  # the fixed axis
    out = np.zeros(angle.shape + (3, 3))
    out[..., k, k] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """Rotations about fixed axes applied in ``order`` (e.g. ``"xyz"`` -> ``Rz @ Ry @ Rx``).

    Args:
        angles: ``(..., k)`` radians, one column per letter of ``order``.
    Returns:
        ``(..., 3, 3)``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3))
    for k, axis in enumerate(order.lower()):
        out = axis_rotation(axis, angles[..., k]) @ out
    return out
