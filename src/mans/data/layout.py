"""The tensor layout, the last step of the input pipeline (:mod:`mans.data.pipeline`): where a
sample's values go in the tensor the model declares (``DataSpec.input``).

The values of the frames the model's rows hold (:mod:`mans.data.frames`, after the input stream)
are placed at their rows, and the ``J`` joint columns centred in ``W`` columns (``W = S`` for the
square ``(C, S, S)`` image of the ResNet / DenseNet STCMs, ``W = J`` for the ``(C, S, J)``
sequence of the co-occurrence STCM). Centring, rows and columns alike, is the authors' ``pad3`` /
``pad4``: :func:`centre_offset` zeros before, the rest after.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def centre_offset(n: int, size: int) -> int:
    """Zero rows (or columns) before ``n`` of them centred in ``size``: ``(size - n) // 2`` (the
    authors' ``pad3``/``pad4``; the rest go after). The one padding rule of the model input."""
    return (size - n) // 2


def check_columns(j: int, width: int) -> None:
    """ConfigError when ``j`` joint columns do not fit in an image of side ``width``."""
    if j > width:
        raise ConfigError(f"image size {width} is smaller than the {j} joint columns of a sample; "
                          f"use a size of at least {j}")


def arrange(values: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """The model's tensor: ``values (C, n, J)`` (the frames of the ``n`` non-padding ``rows``,
    :func:`mans.data.frames.take_rows`) at their rows of ``(C, S, width)`` float32,
    ``S = len(rows)``, the ``J`` columns centred in ``width`` (:func:`centre_offset`); everything
    else zero.

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
