"""Input streams: what the network sees of a prepared ``(C, T, J)`` sequence, and the one function
that turns a stored sample into the model's ``(C, S, S)`` image.

The four streams of the field (2s-AGCN, MS-G3D, CTR-GCN), computed from the layout's parents:

- ``joint``: the coordinates themselves (the paper's input);
- ``bone``: ``joint - parent joint`` for every joint (the root, which has no parent, gets 0);
- ``motion``: frame differences of the joints, ``x[t + 1] - x[t]`` (the last row 0);
- ``bone_motion``: frame differences of the bones.

Every stream but ``joint`` is taken *after* the time axis is brought to the model's ``S`` rows
(the same :func:`~mans.data.transforms.frame_indices` sub-sampling :func:`~mans.data.transforms.to_image`
applies): a motion difference then always spans one model row, whatever the recording's frame
rate and length, and a bone (a per-frame quantity, so the same either way) is computed for the
``S`` kept frames only.

Absent joints (all coordinates exactly 0: a missing second body, an empty frame) never produce a
value: a bone is 0 unless the joint and its parent are present, a motion is 0 unless the joint is
present in both frames. :func:`model_input` is the single entry point used by training
(:class:`~mans.data.store.SkeletonDataset`), ``mans eval`` and ``mans predict``; the stream is saved in
every checkpoint, so a checkpoint is always fed the stream it was trained on.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ConfigError
from ..skeleton import Layout
from .transforms import frame_indices, to_image

STREAMS = ("joint", "bone", "motion", "bone_motion")


def stream_from_data(data: dict) -> str:
    """The input stream named by a checkpoint's (or an exported model's) ``data`` entry
    (``joint`` for those made before streams)."""
    return str(data.get("stream") or "joint")


def check_stream(stream: str) -> str:
    """``stream`` if it is one of :data:`STREAMS`, else :class:`ConfigError`."""
    if stream not in STREAMS:
        raise ConfigError(f"unknown input stream {stream!r}; choose one of {', '.join(STREAMS)}")
    return stream


def _per_body(layout: Layout, columns: int, index: np.ndarray) -> np.ndarray:
    """A per-joint ``(V,)`` joint index (-1: none) repeated for each body of the ``columns = bodies
    * V`` stored columns (bodies side by side, as :func:`~mans.data.transforms.to_channels_first`
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


def apply_stream(x: np.ndarray, stream: str, layout: Layout | None, size: int) -> np.ndarray:
    """The ``stream`` of a ``(C, T, J)`` sequence, as ``(C, T', J)`` with ``T' = min(T, size)``
    for every stream but ``joint`` (sub-sampled to the model's rows first) and ``T' = T`` for
    ``joint`` (:func:`~mans.data.transforms.to_image` sub-samples it).

    Bones are per frame, so taking them after the sub-sampling gives the same rows as taking them
    on all ``T`` frames and sub-sampling after, for ``size / T`` of the work.

    ``layout`` is needed for the bone streams only (the parent of each joint)."""
    check_stream(stream)
    if stream == "joint":
        return x
    if x.shape[1] > size:
        x = x[:, frame_indices(x.shape[1], size)]  # (C, size, J)
    if stream in ("bone", "bone_motion"):
        if layout is None:
            raise ConfigError(f"the {stream!r} stream needs the joint layout (its parents)")
        x = bones(x, column_parents(layout, x.shape[2]))
    if stream in ("motion", "bone_motion"):
        x = motion(x)
    return x


def model_input(x: np.ndarray, size: int, stream: str = "joint",
                layout: Layout | None = None) -> np.ndarray:
    """A stored ``(C, T, J)`` sample -> the ``(C, size, size)`` float32 image of ``stream``: the
    one function training, evaluation and prediction call."""
    return to_image(apply_stream(np.asarray(x, dtype=np.float32), stream, layout, size), size)
