"""mans.attention_stats on hand-made curves, and where its label appears."""

from __future__ import annotations

import numpy as np
import pytest

from mans.attention_stats import (attention_label, format_ratio, max_min_ratio, rankdata,
                                  ratio_label, spearman, window_mass)


def test_ratio_and_label_of_a_near_uniform_curve():
    curve = np.array([0.50, 0.49, 0.5243, 0.51])  # 0.5243 / 0.49 = 1.07
    assert max_min_ratio(curve) == pytest.approx(0.5243 / 0.49)
    assert attention_label(curve) == "attention (near-uniform for this model: max/min 1.07)"


def test_label_of_a_selective_curve():
    curve = np.array([0.1, 0.32, 0.2])
    assert attention_label(curve) == "attention (max/min 3.2)"
    assert ratio_label(1.5) == "attention (max/min 1.5)"  # the threshold is not near-uniform
    assert ratio_label(1.4999) == "attention (near-uniform for this model: max/min 1.50)"
    assert format_ratio(250.0) == "> 100" and format_ratio(float("inf")) == "> 100"
    assert format_ratio(float("nan")) == "n/a"


def test_padding_rows_are_left_out():
    curve = np.array([0.0, 0.5, 0.55, 0.0])  # zeros on the padding rows
    keep = np.array([False, True, True, False])
    assert max_min_ratio(curve, keep) == pytest.approx(1.1)
    assert max_min_ratio(curve) == float("inf")
    assert np.isnan(max_min_ratio(curve, np.zeros(4, bool)))
    with pytest.raises(ValueError, match="rows"):
        max_min_ratio(curve, np.ones(3, bool))


def test_window_mass_by_hand():
    curve = np.array([1.0, 1.0, 4.0, 2.0, 2.0])
    win = np.array([False, False, True, True, False])
    assert window_mass(curve, win) == pytest.approx(6 / 10)
    keep = np.array([False, True, True, True, True])
    assert window_mass(curve, win, keep) == pytest.approx(6 / 9)
    # uniform weights: the share of the kept rows in the window
    assert window_mass(np.ones(5), win, keep) == pytest.approx(2 / 4)


def test_rankdata_averages_ties():
    np.testing.assert_array_equal(rankdata([10, 20, 20, 5]), [2.0, 3.5, 3.5, 1.0])


def test_spearman_by_hand():
    # ranks of a: 1..5; indicator ranks (2, 2, 2, 4.5, 4.5)
    a = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    ind = np.array([0, 0, 0, 1, 1])
    ra = np.arange(1, 6) - 3.0
    rb = np.array([2, 2, 2, 4.5, 4.5]) - 3.0
    want = (ra * rb).sum() / np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    assert spearman(a, ind) == pytest.approx(want)
    assert spearman(a, ind[::-1]) == pytest.approx(-want)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.ones(5), ind))  # a constant curve has no rank order
    assert spearman(a, ind, np.array([1, 1, 0, 1, 0], bool)) == pytest.approx(
        np.corrcoef([1, 2, 3], [1.5, 1.5, 3])[0, 1])


def test_prediction_record_and_text_carry_the_label():
    from mans.data.pipeline import ModelInput
    from mans.inference.records import format_prediction, prediction_record
    from mans.skeleton import NTU25, Sequence

    att = np.array([[0.5, 0.52, 0.51, 0.0]] * 3)  # last row: padding (3 frames in 4 rows)
    seq = Sequence(joints=np.zeros((3, 25, 3), np.float32), layout=NTU25, name="a")
    inp = ModelInput(x=np.zeros((3, 4, 4), np.float32), rows=np.array([0, 1, 2, -1]), frames=3,
                     sequence=seq)
    r = prediction_record("a.npz", inp, np.zeros(2), att, class_names=["x", "y"])
    assert r["frame_index"] == [0, 1, 2, -1]
    assert r["attention_max_min"] == pytest.approx(1.04)
    assert r["attention_label"] == "attention (near-uniform for this model: max/min 1.04)"
    assert "attention (near-uniform for this model: max/min 1.04) per frame" in \
        format_prediction(r)


def test_model_card_states_the_attention():
    from mans.engine.report import _attention_lines

    att = {"samples": 99, "max_min_median": 1.04, "max_min_p10": 1.02, "max_min_p90": 1.07,
           "label": "attention (near-uniform for this model: max/min 1.04)"}
    line, = _attention_lines({"attention": att}, {"use_tarm": True, "attention": True})
    assert line.startswith("- Attention: sigmoid over channels and frames, from the time MLP.")
    assert "attention (near-uniform for this model: max/min 1.04)" in line
    assert "does not single out frames" in line
    sharp = {**att, "max_min_median": 8.0, "label": "attention (max/min 8.0)"}
    line, = _attention_lines({"attention": sharp}, {"attention_form": "softmax",
                                                    "attention_scope": "frame",
                                                    "attention_source": "memory"})
    assert line.startswith("- Attention: softmax over frames, from the BiGRU memory.")
    assert "does not single out" not in line
    assert "not measured" in _attention_lines({}, {})[0]
    assert _attention_lines({"attention": att}, {"attention": False}) == []


def test_attention_summary_of_per_sample_ratios():
    from mans.engine.attention import attention_summary

    r = np.array([1.02, 1.04, 1.10, np.inf, np.nan])  # a weight of 0; a sample with no frame
    a = attention_summary({"max_min": r})
    assert a["samples"] == 4 and a["max_min_median"] in (1.04, 1.1)
    assert a["max_min_p90"] is None  # the infinite ratio, not an interpolation through it
    assert a["label"].startswith("attention (near-uniform for this model: max/min 1.")
    assert attention_summary({"max_min": np.array([])})["label"] is None
