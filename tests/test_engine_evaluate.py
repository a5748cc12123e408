"""Metrics against hand-computed examples; the evaluation loop against the pure functions; the
confusion figure's class restriction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mans.engine.evaluate import (
    accuracy,
    confusion_matrix,
    evaluate_model,
    final_metrics,
    mean_class_accuracy,
    per_class_accuracy,
    summarize,
    topk_correct,
    write_eval_outputs,
)
from mans.engine.plots import restrict_to_present

Y_TRUE = np.array([0, 0, 1, 1, 1, 2])
Y_PRED = np.array([0, 1, 1, 1, 0, 2])
# Rows = true, columns = predicted; class 3 has no sample.
CM = np.array([[1, 1, 0, 0],
               [1, 2, 0, 0],
               [0, 0, 1, 0],
               [0, 0, 0, 0]])


def test_confusion_matrix_by_hand():
    np.testing.assert_array_equal(confusion_matrix(Y_TRUE, Y_PRED, 4), CM)
    assert confusion_matrix([], [], 2).tolist() == [[0, 0], [0, 0]]


def test_accuracies_by_hand():
    assert accuracy(CM) == pytest.approx(4 / 6)
    acc = per_class_accuracy(CM)
    np.testing.assert_allclose(acc[:3], [1 / 2, 2 / 3, 1.0])
    assert np.isnan(acc[3])  # no sample: not 0, not counted
    assert mean_class_accuracy(CM) == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert accuracy(np.zeros((2, 2), dtype=int)) == 0.0


def test_topk_by_hand():
    logits = np.array([[0.1, 0.5, 0.3, 0.2],     # true 2: rank 2
                       [0.9, 0.0, 0.05, 0.05],   # true 3: tie with class 2 -> rank 3
                       [1.0, 1.0, 1.0, 1.0]])    # true 0: all tied -> rank 1
    y = np.array([2, 3, 0])
    assert [topk_correct(logits, y, k) for k in (1, 2, 3, 4)] == [1, 2, 3, 3]
    assert topk_correct(logits, y, 5) == 3  # k is capped at the number of classes


def test_summarize_names_present_classes():
    m = summarize(CM, topk_hits=5, class_names=["a", "b", "c", "d"])
    assert m["top1"] == pytest.approx(4 / 6) and m["top5"] == pytest.approx(5 / 6)
    assert m["n"] == 6 and m["per_class"] == pytest.approx({"a": 0.5, "b": 2 / 3, "c": 1.0})


class Readout(nn.Module):
    """Logits are the first K pixels of channel 0: the test controls every prediction."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x[:, 0, 0, : self.k] + 0 * self.dummy


def test_evaluate_model_matches_pure_functions():
    rng = np.random.default_rng(0)
    n, k = 37, 7
    logits = rng.normal(size=(n, k)).astype(np.float32)
    y = rng.integers(0, k, size=n)
    y[y == 6] = 5  # class 6 absent
    x = np.zeros((n, 3, 8, 8), dtype=np.float32)
    x[:, 0, 0, :k] = logits
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(ds, batch_size=5)  # uneven last batch
    r = evaluate_model(Readout(k), loader, torch.device("cpu"), num_classes=k)
    np.testing.assert_array_equal(r["cm"], confusion_matrix(y, logits.argmax(1), k))
    assert r["topk_hits"] == topk_correct(logits, y, 5)
    assert r["n"] == n and r["top1"] == pytest.approx(float((logits.argmax(1) == y).mean()))
    expected_loss = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)).item()
    assert r["loss"] == pytest.approx(expected_loss, rel=1e-5)
    names = [f"c{i}" for i in range(k)]
    m = final_metrics(r, names, selection="val")
    assert "c6" not in m["per_class"] and m["mean_class_acc"] == pytest.approx(
        np.mean(list(m["per_class"].values())))


def test_confusion_figure_keeps_present_classes_only(tmp_path):
    cm = np.zeros((60, 60), dtype=int)
    cm[5, 5], cm[5, 7], cm[7, 7], cm[7, 40] = 3, 1, 2, 1  # class 40 is predicted, never true
    sub, rows, cols = restrict_to_present(cm, [f"A{i:03d}" for i in range(1, 61)])
    assert rows == ["A006", "A008"] and cols == ["A006", "A008", "other"]
    np.testing.assert_array_equal(sub, [[3, 1, 0], [0, 2, 1]])
    sub, rows, cols = restrict_to_present(cm[:8, :8], [str(i) for i in range(8)])
    assert cols == rows == ["5", "7"]

    m = write_eval_outputs({"selection": "test-selected", "test_selected_top1": 5 / 7}, cm,
                           [f"A{i:03d}" for i in range(1, 61)], tmp_path, title="t",
                           selection="test-selected")
    assert (tmp_path / "confusion-test-selected.png").stat().st_size > 1000
    assert json.loads((tmp_path / "metrics.json").read_text()) == m
