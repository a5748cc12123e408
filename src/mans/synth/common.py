"""Shared constants of the synthetic dataset, the seeding rule, and rotation and timing helpers
(degrees; ``v`` is an action's normalised time in [0, 1]); see :mod:`mans.synth`."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from ..geometry import axis_rotation
from ..skeleton import NTU25

V = NTU25.num_joints  # 25
J = {name: i for i, name in enumerate(NTU25.joints)}  # joint name -> index
PARENTS = np.array(NTU25.parents)
MIN_FRAMES, MAX_FRAMES = 40, 130  # clip of every file's length
SETUP = 1
NTU60_SUBJECTS = 40

# Tags that keep the seed streams of different things apart (see the module docstring).
_TAG_BODY, _TAG_PERFORMANCE, _TAG_CAMERA = 1, 2, 3


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


@lru_cache(maxsize=1)
def xsub_train_subjects() -> tuple[int, ...]:
    """NTU-60's cross-subject training performers (package data ``ntu_protocols.yaml``, shared
    with :mod:`mans.datasets.ntu`); every other id in 1..40 is a test performer."""
    text = resources.files("mans").joinpath("resources/ntu_protocols.yaml").read_text("utf-8")
    return tuple(int(i) for i in yaml.safe_load(text)["ntu60"]["protocols"]["xsub"]["train"])


# =================================================================================================
# 1. Rotation and timing helpers
# =================================================================================================


def _rot(axis: int, deg) -> np.ndarray:
    """Right-handed rotation(s) by ``deg`` degrees about coordinate ``axis`` -> ``(..., 3, 3)``."""
    return axis_rotation("xyz"[axis], np.radians(np.asarray(deg, dtype=np.float64)))


def rx(deg) -> np.ndarray:
    return _rot(0, deg)


def ry(deg) -> np.ndarray:
    return _rot(1, deg)


def rz(deg) -> np.ndarray:
    return _rot(2, deg)


def window(v: np.ndarray, a: float, b: float) -> np.ndarray:
    """Linear 0 -> 1 as ``v`` goes from ``a`` to ``b`` (clipped outside)."""
    return np.clip((v - a) / max(b - a, 1e-9), 0.0, 1.0)


def ease(x: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 (zero velocity at both ends) for ``x`` in [0, 1]."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))
