"""``mans predict`` helpers; the end-to-end run on real NTU files is in test_ntu_fidelity.py."""

from __future__ import annotations

import numpy as np

from mans.predict import _frame_map, format_prediction
from mans.runtime import sparkline
from mans.transforms import resize_frames


def test_frame_map_matches_resize_frames():
    for t, s in [(7, 10), (10, 10), (50, 10), (11, 10), (1, 5)]:
        x = np.arange(1, t + 1, dtype=np.float32)[None, :, None]  # frame k holds k + 1
        rows = resize_frames(x, s)[0, :, 0]  # (S,)
        m = _frame_map(t, s)
        assert np.array_equal(rows, np.where(m >= 0, m + 1, 0)), (t, s)


def test_format_prediction_lists_classes_and_marks_padding():
    # kept rows hold 1.0 and 0.5: min-max over the kept rows maps them to the top and bottom
    # bars; the padding row's 0.0 does not stretch the scale
    r = {"file": "a.skeleton", "top": [{"class": "sit down", "prob": 0.75},
                                       {"class": "stand up", "prob": 0.25}],
         "attention": [[0.0, 1.0, 0.5, 0.5]] * 3, "frame_index": [-1, 0, 1, -1]}
    text = format_prediction(r)
    assert "1. sit down" in text and "0.750" in text and "2. stand up" in text
    assert "scaled 0.5000..1.0000" in text
    assert text.rstrip().endswith("·█▁·")


def test_sparkline_is_scaled_to_the_sequence():
    # a trained TARM's weights span ~0.49-0.51: the absolute scale drew them all as one bar
    att = np.array([0.49, 0.495, 0.50, 0.505, 0.51])
    text, lo, hi = sparkline(att, np.ones(5, bool))
    assert (lo, hi) == (0.49, 0.51)
    # (a - 0.49) / 0.02 * 7 = 0, 1.75, 3.5, 5.25, 7 -> rounded levels 0, 2, 4 (half to even), 5, 7
    assert text == "▁▃▅▆█"
    assert sparkline(np.full(3, 0.3), np.ones(3, bool))[0] == "▅▅▅"  # constant: mid height
    assert sparkline(att, np.zeros(5, bool))[0] == "·····"


def test_format_prediction_without_tarm():
    r = {"file": "a.skeleton", "top": [{"class": "sit down", "prob": 1.0}], "attention": None,
         "frame_index": [0, 1]}
    assert format_prediction(r).endswith("attention: none (the model has no TARM)")
