"""mans.data.frames and mans.data.layout, the last steps of the input pipeline: which frame each
model row holds and the tensor layout, against hand-computed cases and the authors'
``np.linspace`` call."""

from __future__ import annotations

import numpy as np
import pytest

from mans.data.frames import frame_indices, frame_rows, take_rows
from mans.data.layout import arrange, centre_offset, check_columns
from mans.errors import ConfigError


@pytest.mark.parametrize("t,s,rows", [(7, 3, [0, 3, 6]), (11, 4, [0, 3, 6, 10]),
                                      (10, 4, [0, 3, 6, 9]), (5, 5, [0, 1, 2, 3, 4]),
                                      (3, 6, [-1, 0, 1, 2, -1, -1]),
                                      (2, 5, [-1, 0, 1, -1, -1]), (1, 1, [0])])
def test_frame_rows_hand_computed(t, s, rows):
    """T > S: floor(linspace); T <= S: the frames centred, (S - T) // 2 padding rows before."""
    assert frame_rows(t, s).tolist() == rows


@pytest.mark.parametrize("t", [51, 100, 120, 300])
def test_frame_indices_match_authors_call(t):
    assert frame_indices(t, 50).tolist() == np.linspace(0, t - 1, 50, dtype=int).tolist()


def test_centre_offset_is_the_authors_pad():
    assert [centre_offset(n, 50) for n in (25, 31, 50, 1)] == [12, 9, 0, 24]


def test_take_rows():
    x = np.arange(2 * 7 * 3, dtype=np.float32).reshape(2, 7, 3)
    assert take_rows(x, frame_rows(7, 10)) is x  # every frame in order: no copy
    np.testing.assert_array_equal(take_rows(x, frame_rows(7, 3)), x[:, [0, 3, 6]])
    np.testing.assert_array_equal(take_rows(x, np.array([2, 2, 5])), x[:, [2, 2, 5]])


def test_arrange_image_and_sequence():
    x = np.arange(1, 3 * 31 * 25 + 1, dtype=np.float32).reshape(3, 31, 25)
    rows = frame_rows(31, 50)
    img = arrange(take_rows(x, rows), rows, 50)
    assert img.shape == (3, 50, 50) and img.dtype == np.float32
    # (50 - 31) // 2 = 9 rows before, 10 after; (50 - 25) // 2 = 12 columns before, 13 after
    np.testing.assert_array_equal(img[:, 9:40, 12:37], x)
    assert not img[:, :9].any() and not img[:, 40:].any()
    assert not img[:, :, :12].any() and not img[:, :, 37:].any()
    seq = arrange(take_rows(x, rows), rows, 25)  # the (C, S, J) sequence: columns as they are
    assert seq.shape == (3, 50, 25)
    np.testing.assert_array_equal(seq[:, 9:40], x)
    long = np.random.default_rng(0).normal(size=(3, 120, 20)).astype(np.float32)
    rows = frame_rows(120, 50)
    np.testing.assert_array_equal(arrange(take_rows(long, rows), rows, 50)[:, :, 15:35],
                                  long[:, np.linspace(0, 119, 50).astype(int)])


@pytest.mark.parametrize("t", [1, 19, 20, 49, 50, 51, 300])
def test_arrange_equals_the_frame_rows_gather(t):
    """The block fast path puts every frame where :func:`frame_rows` says (T < S with an odd and
    even remainder, T = S, T > S): bit-identical to a masked gather."""
    x = np.random.default_rng(t).normal(size=(3, t, 25)).astype(np.float32)
    rows = frame_rows(t, 50)
    keep = rows >= 0
    ref = np.zeros((3, 50, 50), np.float32)
    ref[:, keep, 12:37] = x[:, rows[keep]]
    assert np.array_equal(arrange(take_rows(x, rows), rows, 50), ref)


def test_columns_must_fit():
    check_columns(25, 25)
    with pytest.raises(ConfigError, match="at least 25"):
        check_columns(25, 24)
    with pytest.raises(ConfigError, match="at least 25"):
        arrange(np.zeros((3, 4, 25), np.float32), frame_rows(4, 24), 24)
