"""Deletion curves (mans.engine.deletion): removal orders and counts by hand, the cut input equal
to the training input when nothing is removed, and the curves of a tiny trained run."""

from __future__ import annotations

import numpy as np
import pytest

from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from helpers_pipeline import pipeline_for
from mans.engine.deletion import (FRACTIONS, cut_sample, frame_weights, removal_order,
                                  removed_count, seen_frames)
from mans.skeleton import NTU25


def test_removal_orders_by_hand():
    w = np.array([0.2, 0.9, 0.5, 0.9, 0.1])
    assert removal_order(w, "most").tolist() == [1, 3, 2, 0, 4]  # ties: earlier frame first
    assert removal_order(w, "least").tolist() == [4, 0, 2, 1, 3]
    r = removal_order(w, "random", np.random.default_rng(3))
    assert sorted(r.tolist()) == [0, 1, 2, 3, 4]
    assert r.tolist() == removal_order(w, "random", np.random.default_rng(3)).tolist()
    with pytest.raises(ValueError, match="order"):
        removal_order(w, "middle")


def test_removed_count_rounds_half_up_and_leaves_a_frame():
    assert [removed_count(5, f) for f in FRACTIONS] == [0, 1, 1, 2, 2, 3, 3]
    assert removed_count(32, 0.6) == 19 and removed_count(32, 0.5) == 16
    assert removed_count(1, 0.6) == 0 and removed_count(2, 0.6) == 1


def test_cut_keeps_the_rest_in_time_order():
    seen = np.arange(6, dtype=np.float32).reshape(1, 6, 1)  # frame t holds t
    assert cut_sample(seen, [4, 1]).ravel().tolist() == [0, 2, 3, 5]
    assert cut_sample(seen, []).ravel().tolist() == list(range(6))


@pytest.mark.parametrize("stream", ["joint", "bone", "motion"])
@pytest.mark.parametrize("t", [7, 30, 47])
def test_nothing_removed_is_the_training_input(stream, t):
    """Cutting 0 frames feeds the model exactly the input the pipeline builds from the sample."""
    rng = np.random.default_rng(t)
    x = rng.normal(size=(3, t, 25)).astype(np.float32)
    pipe = pipeline_for(NTU25, 30, stream)
    s = seen_frames(x, pipe)
    assert s.shape == (3, min(t, 30), 25)
    np.testing.assert_array_equal(pipe.sample(cut_sample(s, []))[0], pipe.sample(x)[0])


def test_frame_weights_average_a_frames_rows():
    att = np.array([[0.2, 0.4, 0.6, 0.0], [0.4, 0.6, 0.8, 0.0]])  # (C=2, S=4); row 3 padding
    np.testing.assert_allclose(frame_weights(att, np.array([0, 1, 1, -1]), 2), [0.3, 0.6])
    np.testing.assert_allclose(frame_weights(att, np.array([0, 1, 2, -1]), 3), [0.3, 0.5, 0.7])


def test_curves_of_a_tiny_run(tiny_store, tmp_path):
    from mans.engine.deletion import deletion_curves, plot_deletion
    from mans.engine.evaluate import run_eval
    from mans.engine.train import run_training

    run_training("base", data=tiny_store, out=tmp_path / "r", overrides=TINY, progress=False,
                 device="cpu")
    c = deletion_curves(tmp_path / "r", tiny_store, device="cpu", fractions=(0.0, 0.3, 0.6))
    ev = run_eval(tmp_path / "r", data=tiny_store, device="cpu", progress=False)
    assert c["n"] == ev["n"] and c["fractions"] == [0.0, 0.3, 0.6]
    for order in ("most", "random", "least"):
        acc = c["accuracy"][order]
        assert len(acc) == 3 and acc[0] == pytest.approx(ev["top1"], abs=1e-4)
        assert all(0 <= a <= 1 for a in acc)
    assert c["removed_mean"][0] == 0 and 0 < c["removed_mean"][1] < c["removed_mean"][2]
    png = plot_deletion({"tiny": c}, tmp_path / "d.png", title="t")
    assert png.read_bytes()[:4] == b"\x89PNG"
