"""Frames and the tensor layout, the last steps of the input pipeline (:mod:`mans.data.pipeline`):
which prepared frame each of the model's ``S`` rows holds, and where a sample's values go in the
tensor the model takes.

Frames (``data.frames``; a row list holds ``-1`` for a padding row):

- ``pad`` (:func:`frame_rows`, the authors' rule): ``T > S`` frames are sub-sampled to the rows
  ``floor(linspace(0, T-1, S))`` (the authors' ``np.linspace(..., dtype=int)``); ``T <= S``
  frames are centred between zero rows (:func:`centre_offset`: ``(S - T) // 2`` before, the rest
  after, the authors' ``pad3``);
- ``resample`` (:func:`resample_indices`, CTR-GCN's small-data feeder): exactly ``S`` frames, at
  training drawn uniformly *with replacement* from the ``T`` frames and sorted (from the
  sample's RNG), at test the centres of ``S`` equal bins, ``floor((i + 1/2) T / S)``.

Layout (:func:`arrange`): the values of the rows' frames placed at their rows, and the ``J`` joint
columns centred in ``W`` columns the same way (``W = S`` for the square ``(C, S, S)`` image of the
ResNet / DenseNet STCMs, ``W = J`` for a ``(C, S, J)`` sequence).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def frame_indices(t: int, size: int) -> np.ndarray:
    """``(size,)`` rows sampled from ``t > size`` frames: ``floor(linspace(0, t-1, size))``."""
    return np.linspace(0, t - 1, size).astype(np.int64)


def centre_offset(n: int, size: int) -> int:
    """Zero rows (or columns) before ``n`` of them centred in ``size``: ``(size - n) // 2`` (the
    authors' ``pad3``/``pad4``; the rest go after). The one padding rule of the model input."""
    return (size - n) // 2


def frame_rows(t: int, size: int) -> np.ndarray:
    """``(size,)`` int64: the frame each of the model's ``size`` rows holds, -1 for a padding
    row: :func:`frame_indices` sub-sampling when ``t > size``, else the ``t`` frames centred
    (:func:`centre_offset`)."""
    if t > size:
        return frame_indices(t, size)
    rows = np.full(size, -1, dtype=np.int64)
    before = centre_offset(t, size)
    rows[before:before + t] = np.arange(t)
    return rows


def resample_indices(t: int, size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``(size,)`` int64 frame indices of ``data.frames: resample``: sorted uniform draws with
    replacement from ``0..t-1`` when ``rng`` is given (training), else ``floor((i + 0.5) t /
    size)`` for ``i = 0..size-1`` (test: evenly spaced, every frame about ``size / t`` times)."""
    if rng is not None:
        return np.sort(rng.integers(0, t, size=size)).astype(np.int64)
    return np.floor((np.arange(size) + 0.5) * t / size).astype(np.int64)


def take_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``(C, T, J)`` -> ``(C, n, J)``: the frames the non-padding ``rows`` hold, in row order
    (``x`` itself when that is every frame in order, as for ``T <= S`` centred frames)."""
    frames = rows[rows >= 0]
    if frames.size == x.shape[1] and np.array_equal(frames, np.arange(x.shape[1])):
        return x
    return x[:, frames]


def check_columns(j: int, width: int) -> None:
    """ConfigError when ``j`` joint columns do not fit in an image of side ``width``."""
    if j > width:
        raise ConfigError(f"image size {width} is smaller than the {j} joint columns of a sample; "
                          f"use a size of at least {j}")


def arrange(values: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """The model's tensor: ``values (C, n, J)`` (the frames of the ``n`` non-padding ``rows``,
    :func:`take_rows`) at their rows of ``(C, S, width)`` float32, ``S = len(rows)``, the ``J``
    columns centred in ``width`` (:func:`centre_offset`); everything else zero.

    ``width = S``: the ``(C, S, S)`` image; ``width = J``: the ``(C, S, J)`` sequence."""
    c, n, j = values.shape
    check_columns(j, width)
    out = np.zeros((c, len(rows), width), dtype=np.float32)
    j0 = centre_offset(j, width)
    if n == len(rows):  # every row holds a frame: no mask
        out[:, :, j0:j0 + j] = values
    else:
        out[:, rows >= 0, j0:j0 + j] = values
    return out
