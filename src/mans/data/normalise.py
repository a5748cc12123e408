"""Input-side normalisations of a prepared ``(C, T, J)`` sequence (``data.centre``,
``data.normalise``), applied at load time by :mod:`mans.data.pipeline` to training and test
samples alike (so a checkpoint's predictions see what its training saw).

``J = M * V``: ``M`` body slots of ``V`` layout joints side by side. A joint is *absent* in a frame
when all its coordinates are exactly 0 (a missing body, an empty frame); every function here keeps
absent joints exactly 0 and computes its statistics over present joints only. The joints used are
found by their layout *roles*, never by index.

- :func:`centre_spine` (``data.centre: spine``): per body slot, subtract the slot's centre joint
  (role ``spine_base``; the hip mid-point where a layout has no ``spine_base``) in the first frame
  where it is present, from every present joint of the slot (CTR-GCN's spine centring, per slot).
  The centre joint itself is 0 in that frame afterwards, which later steps read as absent
  (as a view normalisation's origin joint already is).
- :func:`minmax` (``data.normalise: minmax``): one scalar min-max over all present coordinates of
  the sample, mapped to ``[-1, 1]``.
- :func:`torso_scale` (``data.normalise: torso``): divide by the mean torso length
  (``|spine_top - spine_base|``, or ``|shoulder mid-point - hip mid-point|`` where a layout lacks
  the spine roles) over the frames and slots where its joints are present.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..skeleton import Layout
from .spec import CENTRES, NORMALISES

_EPS = 1e-8

# (a, b): the two ends of a segment, each a role or the mid-point of two roles.
_HIPS = ("left_hip", "right_hip")
_SHOULDERS = ("left_shoulder", "right_shoulder")


def _point_roles(layout: Layout, *options) -> tuple[int, ...]:
    """The joint indices of the first option whose roles all exist in ``layout`` (an option is
    a tuple of roles whose mean is the point), or ``()``."""
    for roles in options:
        if all(r in layout.roles for r in roles):
            return tuple(layout.role(r) for r in roles)
    return ()


def centre_joints(layout: Layout) -> tuple[int, ...]:
    """The joints whose mean is a body's centre: ``spine_base``, else the two hips."""
    idx = _point_roles(layout, ("spine_base",), _HIPS)
    if not idx:
        raise ConfigError(f"data.centre=spine: layout {layout.name!r} has neither the role "
                          f"spine_base nor both hips (left_hip, right_hip)")
    return idx


def torso_joints(layout: Layout) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The two ends of the torso segment: ``(spine_base,), (spine_top,)`` or the hip and
    shoulder pairs."""
    if "spine_base" in layout.roles and "spine_top" in layout.roles:
        return (layout.role("spine_base"),), (layout.role("spine_top"),)
    low, high = _point_roles(layout, _HIPS), _point_roles(layout, _SHOULDERS)
    if not (low and high):
        raise ConfigError(f"data.normalise=torso: layout {layout.name!r} has neither the roles "
                          f"spine_base and spine_top nor both hips and both shoulders")
    return low, high


def _bodies(x: np.ndarray, layout: Layout) -> np.ndarray:
    """``(C, T, M*V)`` -> ``(C, T, M, V)`` view."""
    c, t, j = x.shape
    v = layout.num_joints
    if j % v:
        raise ConfigError(f"{j} joint columns are not a whole number of {layout.name!r} bodies "
                          f"of {v} joints")
    return x.reshape(c, t, j // v, v)


def _point(xb: np.ndarray, idx: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of joints ``idx`` of every frame and slot, ``(C, T, M)``, and where all of them are
    present, ``(T, M)`` bool."""
    pts = xb[:, :, :, list(idx)]  # (C, T, M, k)
    ok = np.all(np.any(pts != 0, axis=0), axis=2)  # (T, M)
    return pts.mean(axis=3), ok


def centre_spine(x: np.ndarray, layout: Layout) -> np.ndarray:
    """``(C, T, J)`` with each body slot's first present centre (:func:`centre_joints`)
    subtracted from its present joints; a slot whose centre is never present is unchanged."""
    x = np.asarray(x, dtype=np.float32)
    xb = _bodies(x, layout)  # (C, T, M, V)
    centre, ok = _point(xb, centre_joints(layout))  # (C, T, M), (T, M)
    first = ok.argmax(axis=0)  # (M,) first frame with the centre present (0 if never)
    origin = centre[:, first, np.arange(xb.shape[2])]  # (C, M)
    origin = np.where(ok.any(axis=0)[None], origin, 0.0)  # (C, M): untouched slots
    present = np.any(xb != 0, axis=0)  # (T, M, V)
    out = np.where(present[None], xb - origin[:, None, :, None], 0.0)  # (C, T, M, V)
    return out.reshape(x.shape).astype(np.float32)


def minmax(x: np.ndarray) -> np.ndarray:
    """``(C, T, J)`` -> present coordinates mapped by one affine map ``2 (v - lo) / (hi - lo) - 1``
    to ``[-1, 1]`` (``lo``, ``hi``: the min and max over every coordinate of every present joint);
    absent joints stay 0. A sample without a present joint, or with ``hi - lo < 1e-8``, maps its
    present coordinates to ``-1`` (the span is floored at 1e-8)."""
    x = np.asarray(x, dtype=np.float32)
    present = np.any(x != 0, axis=0)  # (T, J)
    if not present.any():
        return x.copy()
    vals = x[:, present]  # (C, n)
    lo, hi = float(vals.min()), float(vals.max())
    span = max(hi - lo, _EPS)
    out = np.where(present[None], 2.0 * (x - lo) / span - 1.0, 0.0)
    return out.astype(np.float32)


def torso_length(x: np.ndarray, layout: Layout) -> float | None:
    """Mean torso length (:func:`torso_joints`) over the frames and slots where both ends are
    present, or None when there is no such frame."""
    xb = _bodies(np.asarray(x, dtype=np.float32), layout)
    (a, ok_a), (b, ok_b) = (_point(xb, ends) for ends in torso_joints(layout))
    ok = ok_a & ok_b  # (T, M)
    if not ok.any():
        return None
    lengths = np.sqrt(((a - b) ** 2).sum(axis=0))  # (T, M)
    return float(lengths[ok].mean())


def torso_scale(x: np.ndarray, layout: Layout) -> np.ndarray:
    """``(C, T, J)`` divided by :func:`torso_length` (unchanged when it is None or below 1e-8)."""
    x = np.asarray(x, dtype=np.float32)
    length = torso_length(x, layout)
    if length is None or length < _EPS:
        return x.copy()
    return (x / np.float32(length)).astype(np.float32)


def check_normalisation(layout: Layout | None, centre: str, normalise: str) -> None:
    """ConfigError naming the key when ``centre`` / ``normalise`` is unknown or cannot run on
    ``layout`` (its roles; None: only the names are checked)."""
    if centre not in CENTRES:
        raise ConfigError(f"data.centre: expected one of {list(CENTRES)}, got {centre!r}")
    if normalise not in NORMALISES:
        raise ConfigError(f"data.normalise: expected one of {list(NORMALISES)}, "
                          f"got {normalise!r}")
    if layout is None:
        return
    if centre == "spine":
        centre_joints(layout)
    if normalise == "torso":
        torso_joints(layout)
