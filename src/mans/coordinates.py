"""The one rule for a valid coordinate, applied wherever a sequence comes in from outside: every
reader in :mod:`mans.formats` and the arrays of the API and live inputs (:func:`as_frames`).

A coordinate is valid when it is finite, representable in float32 (sequences hold float32) and
within the bound of its kind:

* **3-D** (x, y, z in metres: Kinect, motion capture, MediaPipe world landmarks, the custom
  format's 3-D data): ``|v| <= 100`` m. Kinect v2 tracks bodies up to ~4.5 m away and mocap
  volumes are a few metres wide, so 100 m leaves room for any real recording yet refuses corrupt
  values (a 1e30 coordinate once made the test loss 2.6e27).
* **2-D** (image key points: pixels, or MediaPipe's fractions of the image size):
  ``|v| <= 100000``. No pose estimator writes a key point 100,000 pixels away from the image (an
  8K frame is 7,680 pixels wide; key points estimated just outside the frame stay within a frame
  width of it).

Each bound can be changed with an environment variable (:data:`BOUND_ENV`) or per call
(``bound=``). The readers also check the layout's joint count (:func:`check_joints`). An error
names the file and the line or frame, as each reader locates it (``locate``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import ConfigError, FormatError
from .skeleton import Layout

MAX_METRES = 100.0  # 3-D: |x|, |y|, |z| in metres
MAX_IMAGE = 1e5  # 2-D: |x|, |y| in pixels (or normalised image units)
BOUND_ENV = {3: "MANS_MAX_COORD_M", 2: "MANS_MAX_COORD_PX"}
_DEFAULT = {3: MAX_METRES, 2: MAX_IMAGE}
_KIND = {3: "3-D coordinates in metres", 2: "2-D image coordinates"}
_UNIT = {3: " m", 2: ""}
AXES = "xyz"
# float64 values at or above this magnitude round to inf when cast to float32 (halfway between
# float32 max and 2**128, ties going to the even neighbour 2**128).
F32_OVERFLOW = float.fromhex("0x1.ffffffp+127")

# (line or None, where in the file) of the coordinate row at an index of the checked array
Locate = Callable[[tuple[int, ...]], tuple["int | None", str]]


def _dims(dims: int) -> int:
    if dims not in _DEFAULT:
        raise ValueError(f"coordinates are 2-D or 3-D, not {dims}-D")
    return dims


def coordinate_bound(dims: int) -> float:
    """The bound in use for ``dims``-D coordinates (2 or 3): ``$MANS_MAX_COORD_PX`` /
    ``$MANS_MAX_COORD_M`` when set (a positive number), else :data:`MAX_IMAGE` /
    :data:`MAX_METRES`."""
    env = BOUND_ENV[_dims(dims)]
    text = os.environ.get(env)
    if text is None or not text.strip():
        return _DEFAULT[dims]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise ConfigError(f"{env}={text!r}: expected a positive number "
                          f"({'metres' if dims == 3 else 'pixels'})")
    return value


def describe_bound(dims: int, bound: float | None = None) -> str:
    """E.g. ``the coordinate bound of 100 m (3-D coordinates in metres; set MANS_MAX_COORD_M to
    change it)``."""
    b = coordinate_bound(dims) if bound is None else bound
    return (f"the coordinate bound of {b:g}{_UNIT[dims]} ({_KIND[dims]}; set {BOUND_ENV[dims]} "
            f"to change it)")


def value_problem(value: float, dims: int, bound: float | None = None) -> str:
    """What is wrong with one coordinate (``""`` when it is valid): ``is not finite``, ``is
    beyond the float32 range`` or ``is beyond the coordinate bound of ...``."""
    b = coordinate_bound(dims) if bound is None else bound
    if not math.isfinite(value):
        return "is not finite"
    if abs(value) >= F32_OVERFLOW:
        return "is beyond the float32 range"
    if abs(value) > b:
        return f"is beyond {describe_bound(dims, b)}"
    return ""


def all_valid(values: np.ndarray, dims: int, bound: float | None = None) -> bool:
    """True when every value of ``values`` (any shape) is a valid ``dims``-D coordinate (one
    vectorised test; NaN compares False)."""
    b = min(coordinate_bound(dims) if bound is None else bound, np.nextafter(F32_OVERFLOW, 0))
    return bool((np.abs(np.asarray(values, dtype=np.float64)) <= b).all())


def first_invalid(values: np.ndarray, dims: int, bound: float | None = None
                  ) -> tuple[tuple[int, ...], str] | None:
    """The first invalid coordinate of ``values`` ``(..., C)`` (C-order; the last axis is x, y(,
    z)): ``(index of its row: every axis but the last, "x = 1e+30 is beyond ...")``, or None
    when all are valid."""
    a = np.asarray(values, dtype=np.float64)
    if all_valid(a, dims, bound):
        return None
    flat = np.flatnonzero(~(np.abs(a) <= min(coordinate_bound(dims) if bound is None else bound,
                                             np.nextafter(F32_OVERFLOW, 0))))
    k = np.unravel_index(int(flat[0]), a.shape)
    v = float(a[k])
    axis = AXES[k[-1]] if a.ndim and k[-1] < len(AXES) else f"coordinate {k[-1]}"
    return tuple(int(i) for i in k[:-1]), f"{axis} = {v:.6g} {value_problem(v, dims, bound)}"


def check_coordinates(source: str | Path, values: np.ndarray, dims: int, *,
                      locate: Locate | None = None, bound: float | None = None) -> None:
    """Raise :class:`~mans.errors.FormatError` ``SOURCE[:LINE]: WHERE: x = ... is ...`` at the
    first invalid coordinate of ``values`` ``(..., C)``; ``locate(row index) -> (line, where)``
    places it in the file (default: the row index)."""
    found = first_invalid(values, dims, bound)
    if found is None:
        return
    index, problem = found
    line, where = (locate or _index_text)(index)
    raise FormatError(source, f"{where}: {problem}" if where else problem, line)


def _index_text(index: tuple[int, ...]) -> tuple[None, str]:
    return None, "at " + ", ".join(map(str, index)) if index else ""


def check_joints(source: str | Path, joints: np.ndarray, layout: Layout, *,
                 locate: Locate | None = None, bound: float | None = None) -> np.ndarray:
    """The joints of a new :class:`~mans.skeleton.Sequence`, checked: ``(T, M, V, C)`` with
    ``V == layout.num_joints``, C = 2 or 3, every coordinate valid (:func:`check_coordinates`;
    default place: ``frame t, body slot m, joint v (name)``, 0-based). Returns them as float32.

    Raises:
        FormatError: naming ``source`` (and the line where ``locate`` knows it).
    """
    a = np.asarray(joints)
    if a.ndim != 4 or a.shape[3] not in (2, 3):
        raise FormatError(source, f"joints of shape {a.shape}; expected (T, M, V, C) with "
                          f"C = 2 or 3")
    if a.shape[2] != layout.num_joints:
        raise FormatError(source, f"{a.shape[2]} joints per body, but layout {layout.name!r} "
                          f"has {layout.num_joints}")

    def joint_text(index: tuple[int, ...]) -> tuple[None, str]:
        t, m, v = index
        return None, f"frame {t}, body slot {m}, joint {v} ({layout.joints[v]})"

    check_coordinates(source, a, a.shape[3], locate=locate or joint_text, bound=bound)
    return a.astype(np.float32, copy=False)


def as_frames(joints, v: int, scores=None, *, what: str = "array", one_frame: bool = False
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """User-given coordinates checked and shaped as a :class:`Sequence` holds them.

    Args:
        joints: ``(T, V, C)`` or ``(T, M, V, C)``; with ``one_frame`` a single frame ``(V, C)`` or
            ``(M, V, C)``. V = ``v``, C = 2 or 3, finite numbers.
        scores: ``(T, V)`` / ``(T, M, V)`` (``(V,)`` / ``(M, V)`` for one frame), or None.
        what: how the error messages name the input (e.g. ``"frame 12"``).

    Returns:
        ``(joints (T, M, V, C) float32, scores (T, M, V) float32 or None)``; T = 1 for one frame.

    Raises:
        ConfigError: a wrong shape, or a coordinate that is not valid (naming the frame, body
            and joint): NaN/inf, or beyond the bound of its kind (:mod:`mans.coordinates`:
            100 m for 3-D, 100,000 for 2-D image coordinates).
    """
    try:
        a = np.asarray(joints, dtype=np.float64)  # checked as given, then held as float32
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: joints must be an array of numbers") from None
    axes = "(V, C) or (M, V, C)" if one_frame else "(T, V, C) or (T, M, V, C)"
    a = a[None] if one_frame and a.ndim in (2, 3) else a
    a = a[:, None] if a.ndim == 3 else a  # (T, 1, V, C)
    if a.ndim != 4 or a.shape[2] != v or a.shape[3] not in (2, 3) or 0 in a.shape[:2]:
        raise ConfigError(f"{what}: joints of shape {np.shape(joints)}; expected {axes} with "
                          f"V = {v}, C = 2 or 3 and no empty axis")
    found = first_invalid(a, a.shape[3])  # the rule of every reader
    if found is not None:
        (t, m, j), problem = found
        at = f"body {m}, joint {j}" if one_frame else f"frame {t}, body {m}, joint {j}"
        raise ConfigError(f"{what}: {at}: {problem}")
    a = a.astype(np.float32)
    sc = None
    if scores is not None:
        sc = np.asarray(scores, dtype=np.float32)
        sc = sc[None] if one_frame and sc.ndim in (1, 2) else sc
        sc = sc[:, None] if sc.ndim == 2 else sc
        if sc.shape != a.shape[:3] or not np.isfinite(sc).all():
            raise ConfigError(f"{what}: scores of shape {np.shape(scores)}; expected finite "
                              f"numbers of shape {a.shape[1:3] if one_frame else a.shape[:3]}")
    return a, sc
