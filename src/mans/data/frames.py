"""Frames, a load-time step of the input pipeline (:mod:`mans.data.pipeline`): which prepared frame
each of the model's ``S`` rows holds (the input stream is then taken of those frames, and the
tensor layout, :mod:`mans.data.layout`, puts them at their rows).

Frames (``data.frames``; a row list holds ``-1`` for a padding row):

- ``pad`` (:func:`frame_rows`, the authors' rule): ``T > S`` frames are sub-sampled to the rows
  ``floor(linspace(0, T-1, S))`` (the authors' ``np.linspace(..., dtype=int)``); ``T <= S``
  frames are centred between zero rows (:func:`mans.data.layout.centre_offset`: ``(S - T) // 2``
  before, the rest after, the authors' ``pad3``);
- ``resample`` (:func:`resample_indices`, CTR-GCN's small-data feeder): exactly ``S`` frames, at
  training drawn uniformly *with replacement* from the ``T`` frames and sorted (from the
  sample's RNG), at test the centres of ``S`` equal bins, ``floor((i + 1/2) T / S)``.
"""

from __future__ import annotations

import numpy as np

from .layout import centre_offset


def frame_indices(t: int, size: int) -> np.ndarray:
    """``(size,)`` rows sampled from ``t > size`` frames: ``floor(linspace(0, t-1, size))``."""
    return np.linspace(0, t - 1, size).astype(np.int64)


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
