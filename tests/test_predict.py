"""``mans predict`` helpers; the end-to-end run on real NTU files is in test_ntu_fidelity.py."""

from __future__ import annotations

import numpy as np

from mans.predict import _frame_map, format_prediction
from mans.transforms import resize_frames


def test_frame_map_matches_resize_frames():
    for t, s in [(7, 10), (10, 10), (50, 10), (11, 10), (1, 5)]:
        x = np.arange(1, t + 1, dtype=np.float32)[None, :, None]  # frame k holds k + 1
        rows = resize_frames(x, s)[0, :, 0]  # (S,)
        m = _frame_map(t, s)
        assert np.array_equal(rows, np.where(m >= 0, m + 1, 0)), (t, s)


def test_format_prediction_lists_classes_and_marks_padding():
    r = {"file": "a.skeleton", "top": [{"class": "sit down", "prob": 0.75},
                                       {"class": "stand up", "prob": 0.25}],
         "attention": [[0.0, 1.0, 0.5, 0.5]] * 3, "frame_index": [-1, 0, 1, -1]}
    text = format_prediction(r)
    assert "1. sit down" in text and "0.750" in text and "2. stand up" in text
    assert text.rstrip().endswith("·█▄·")
