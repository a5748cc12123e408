"""Input streams: what the network sees of a prepared ``(C, T, J)`` sequence, computed from the
layout's parents (the four streams of the field: 2s-AGCN, MS-G3D, CTR-GCN):

- ``joint``: the coordinates themselves (the paper's input);
- ``bone``: ``joint - parent joint`` for every joint (the root, which has no parent, gets 0);
- ``motion``: frame differences of the joints, ``x[t + 1] - x[t]`` (the last row 0);
- ``bone_motion``: frame differences of the bones.

The input pipeline (:mod:`mans.data.pipeline`) takes a stream of the frames the model's rows hold
(:mod:`mans.data.frames`), not of every recorded frame: a motion difference then always spans one
model row, whatever the recording's frame rate and length, and a bone (a per-frame quantity, so the
same either way) is computed for the ``S`` kept frames only.

Absent joints (all coordinates exactly 0: a missing second body, an empty frame) never produce a
value: a bone is 0 unless the joint and its parent are present, a motion is 0 unless the joint is
present in both frames. The stream is saved in every checkpoint
(:class:`~mans.data.spec.DataSpec`), so a checkpoint is always fed the stream it was trained on.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ConfigError
from ..skeleton import Layout
from .spec import STREAMS


def check_stream(stream: str) -> str:
    """``stream`` if it is one of :data:`STREAMS`, else :class:`ConfigError`."""
    if stream not in STREAMS:
        raise ConfigError(f"unknown input stream {stream!r}; choose one of {', '.join(STREAMS)}")
    return stream


def _per_body(layout: Layout, columns: int, index: np.ndarray) -> np.ndarray:
    """A per-joint ``(V,)`` joint index (-1: none) repeated for each body of the ``columns = bodies
    * V`` stored columns (bodies side by side, as :func:`~mans.data.views.to_channels_first`
    lays them out), shifted to that body's columns: ``(J,)`` int64."""
    v = layout.num_joints
    if columns % v:
        raise ConfigError(f"{columns} joint columns are not a whole number of {layout.name!r} "
                          f"bodies of {v} joints")
    index = np.asarray(index, dtype=np.int64)  # (V,)
    return np.concatenate([np.where(index >= 0, index + b * v, -1)
                           for b in range(columns // v)])


@lru_cache(maxsize=64)
def column_parents(layout: Layout, columns: int) -> np.ndarray:
    """``(J,)`` int64 parent column of each stored column; ``-1`` for each root.

    Cached per ``(layout, columns)`` (a :class:`~mans.skeleton.Layout` is frozen, so hashable):
    the bone streams need it for every sample of every epoch. The array is read-only because
    every caller shares it."""
    out = _per_body(layout, columns, layout.parents)
    out.setflags(write=False)
    return out


def column_mirror(layout: Layout, columns: int) -> np.ndarray:
    """``(J,)`` int64 column permutation that swaps left and right joints within every body
    (:meth:`~mans.skeleton.Layout.mirror_permutation`)."""
    return _per_body(layout, columns, layout.mirror_permutation())


def bones(x: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """``(C, T, J)`` joints -> ``(C, T, J)`` bone vectors ``x[:, :, j] - x[:, :, parent(j)]``;
    0 for roots and wherever the joint or its parent is absent."""
    present = np.any(x != 0, axis=0)  # (T, J)
    has_parent = parents >= 0  # (J,)
    p = np.where(has_parent, parents, 0)
    out = x - x[:, :, p]  # (C, T, J)
    ok = present & present[:, p] & has_parent[None]  # (T, J)
    return np.where(ok[None], out, 0.0).astype(np.float32)


def motion(x: np.ndarray) -> np.ndarray:
    """``(C, T, J)`` -> ``(C, T, J)`` forward differences ``x[:, t + 1] - x[:, t]``; the last frame
    and every joint absent in either frame get 0."""
    out = np.zeros_like(x, dtype=np.float32)
    if x.shape[1] < 2:
        return out
    present = np.any(x != 0, axis=0)  # (T, J)
    both = present[1:] & present[:-1]  # (T - 1, J)
    out[:, :-1] = np.where(both[None], x[:, 1:] - x[:, :-1], 0.0)
    return out


def apply_stream(x: np.ndarray, stream: str, layout: Layout | None) -> np.ndarray:
    """The ``stream`` of a ``(C, T, J)`` float32 sequence, ``(C, T, J)`` (``x`` itself for
    ``joint``). ``layout`` is needed for the bone streams only (the parent of each joint)."""
    check_stream(stream)
    if stream == "joint":
        return x
    if stream in ("bone", "bone_motion"):
        if layout is None:
            raise ConfigError(f"the {stream!r} stream needs the joint layout (its parents)")
        x = bones(x, column_parents(layout, x.shape[2]))
    if stream in ("motion", "bone_motion"):
        x = motion(x)
    return x
