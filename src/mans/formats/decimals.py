"""Vectorised conversion of many short decimal numbers in a byte buffer to float64.

``float()`` and NumPy's text readers convert one number at a time, and an NTU skeleton file holds
about 10^4 coordinates (speeds: docs/performance.md, "NTU reader: decimal conversion"). :func:`parse_decimals` converts them
all with a few dozen whole-array operations, exactly: each token's digits form an integer
``M < 10**15``, which float64 holds exactly, and ``M / 10**k`` is one correctly rounded
division, the same value ``float(token)`` gives.

Tokens are looked at right-aligned in a window of :data:`WIDTH` bytes, column-major
``(WIDTH, K)`` so that every operation runs along the long axis::

    window column   0 ...    6  7  8  9 ... 15
    bytes           (before)  -  0  .  2 ... 7      token "-0.2058097", length 10, dot in column 8

A digit in column ``j`` right of the dot is worth ``10**(15 - j)`` units of the last digit; the
integer-part digits are first moved one column right (onto the dot), after which the same
weights apply to them: above, ``M = 02058097`` and the value is ``-M / 10**7``.
"""

from __future__ import annotations

import numpy as np

WIDTH = 16  # window width; tokens of up to WIDTH - 1 characters are converted
_ROW = np.arange(WIDTH)[:, None]  # (W, 1) window column of each row
_POWERS = 10.0 ** np.arange(WIDTH - 1, -1, -1)  # (W,) 10**(15 - j): all exact in float64
_TENS = 10.0 ** np.arange(WIDTH)  # (W,) float64 powers of ten, exact
_COUNT_AND_POSITION = np.stack([np.ones(WIDTH), np.arange(WIDTH)]).astype(np.float32)  # (2, W)


def parse_decimals(buf: np.ndarray, ends: np.ndarray,
                   lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert the tokens ``buf[end - length : end]`` of the form ``-?[0-9]+(.[0-9]+)?``.

    Args:
        buf: ``(n,)`` uint8 text.
        ends: ``(K,)`` int index one past each token's last byte; ``ends >= WIDTH`` (pad the
            buffer in front), since the window reaches back WIDTH bytes whatever the length.
        lengths: ``(K,)`` int token lengths.

    Returns:
        ``values (K,) float64`` and ``ok (K,) bool``. Where ``ok``, the value equals
        ``float(token)`` bit for bit. ``ok`` is False (value meaningless) for any other token:
        exponents, ``+``, a dot without a digit on both sides, more than WIDTH - 1 characters,
        empty tokens; the caller converts those another way.
    """
    window = np.take(buf, ends[None, :] - WIDTH + _ROW)  # (W, K) bytes ending at each token end
    in_token = _ROW >= WIDTH - lengths  # (W, K)
    digit = window - np.uint8(48)  # (W, K) digit values; other bytes wrap to >= 10
    is_digit = (digit < 10) & in_token
    is_dot = (window == 46) & in_token
    negative = buf[ends - lengths] == 45  # (K,) first byte is '-'

    # Counts and the dot's column by matrix products (exact small integers in float32).
    n_digits = (_COUNT_AND_POSITION[0] @ is_digit.astype(np.float32)).astype(np.int64)  # (K,)
    n_dots, dot_col = (_COUNT_AND_POSITION @ is_dot.astype(np.float32)).astype(np.int64)
    ok = (lengths >= 1) & (lengths < WIDTH) & (n_dots <= 1) & (n_digits >= 1)
    ok &= n_digits + n_dots + negative == lengths  # nothing but digits, one dot, a leading '-'
    has_dot = n_dots == 1
    ok &= ~has_dot | ((dot_col > WIDTH - lengths + negative) & (dot_col < WIDTH - 1))

    # Move the integer-part digits one column right, onto the dot, so that every digit of the
    # token sits where a dotless integer's would; uint8 arithmetic wraps but ends in 0..9.
    digits = digit * is_digit  # (W, K) uint8 digit values, 0 outside digits
    shifted = np.zeros_like(digits)
    shifted[1:] = digits[:-1]
    shift = ((_ROW <= dot_col) & has_dot).view(np.uint8)  # (W, K) integer part and dot
    digits += (shifted - digits) * shift
    mantissa = _POWERS @ digits.astype(np.float64)  # (K,) the digits as one integer < 10**15
    scale = _TENS[np.where(has_dot, WIDTH - 1 - dot_col, 0)]  # (K,) 10**(fraction digits)
    out = mantissa / scale  # exact / exact: one correctly rounded division
    return np.where(negative, -out, out), ok
