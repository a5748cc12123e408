"""``mans eval --attention``: mean TARM attention per class, padding rows excluded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans import cli
from mans.data.frames import frame_rows
from mans.engine.attention import AttentionSums, mean_curves, write_attention_outputs
from mans.engine.evaluate import evaluate_model
from mans.engine.train import run_training


class FirstColumn(torch.nn.Module):
    """A stand-in model whose attention is the image's first column, ``a = x[:, :, :, 0]``."""

    def forward(self, x, return_attention=False):
        return torch.zeros(x.shape[0], 3), x[:, :, :, 0]


def test_means_per_class_skip_padding_rows(tmp_path):
    # S = 4 rows; sample 0 (class 1) has rows 1..2 only (rows 0 and 3 are zero padding)
    x = torch.zeros(3, 3, 4, 4)
    x[0, :, 1:3] = torch.tensor([0.2, 0.4])[None, :, None]
    x[1] = 1.0  # class 1, every row 1.0
    x[2] = 0.5  # class 0
    x[1, 2] = 0.0  # channel z zero everywhere in sample 1: rows stay valid (x, y non-zero)
    x[2, :, 0] = 0.0  # sample 2: a still first frame (all zeros in a motion stream), still a frame
    y = torch.tensor([1, 1, 0])
    sums = AttentionSums(num_classes=3, lengths=np.array([2, 4, 4]),
                         rows=lambda t: frame_rows(t, 4))
    evaluate_model(FirstColumn(), [(x[:2], y[:2]), (x[2:], y[2:])], torch.device("cpu"),
                   num_classes=3, attention=sums)
    stats = sums.result()
    assert stats["samples"].tolist() == [1, 2, 0]
    assert stats["count"].tolist() == [[1, 1, 1, 1], [1, 2, 2, 1], [0, 0, 0, 0]]
    per_channel, curves = mean_curves(stats)
    # class 1, row 1: x, y channels (0.2 + 1) / 2 = 0.6, z channel (0.2 + 0) / 2 = 0.1
    assert np.allclose(per_channel[1, :, 1], [0.6, 0.6, 0.1])
    assert np.allclose(curves[1], [2 / 3, (0.6 * 2 + 0.1) / 3, (0.7 * 2 + 0.2) / 3, 2 / 3])
    assert np.allclose(curves[0], [0.0, 0.5, 0.5, 0.5]) and np.isnan(curves[2]).all()
    info = write_attention_outputs(stats, ["a", "b", "c"], tmp_path, title="t")
    doc = json.loads((tmp_path / "attention.json").read_text())
    assert sorted(doc["classes"]) == ["a", "b"] and info["attention_classes"] == 2
    assert doc["classes"]["b"]["mean"] == pytest.approx(curves[1].tolist())
    assert doc["classes"]["b"]["range"] == pytest.approx([curves[1].min(), curves[1].max()])
    import imageio.v3 as iio

    img = iio.imread(tmp_path / "attention.png")
    assert img.shape[:2] == (round(2.2 * 90), round(3.2 * 2 * 90))  # 1 row x 2 classes


def test_cli_eval_attention_on_a_run(tiny_store, tmp_path, capsys):
    run = tmp_path / "run"
    run_training("base", data=tiny_store, out=run, overrides=[*TINY, "train.epochs=1"],
                 progress=False, device="cpu")
    assert cli.main(["eval", str(run), "--data", str(tiny_store), "--out", str(tmp_path / "ev"),
                     "--attention", "-q", "--device", "cpu"]) == 0
    printed = json.loads(capsys.readouterr().out)
    doc = json.loads((tmp_path / "ev" / "attention.json").read_text())
    assert printed["attention_classes"] == len(doc["classes"]) == 4
    assert sum(c["samples"] for c in doc["classes"].values()) == printed["n"]
    for c in doc["classes"].values():
        assert len(c["mean"]) == doc["rows"] == 28
        vals = [v for v in c["mean"] if v is not None]
        assert all(0 < v < 1 for v in vals)  # sigmoid weights


def test_eval_attention_runs_the_network_once(tiny_store, tmp_path, monkeypatch):
    """Scores and attention come from one forward pass per batch (under the evaluation's
    autocast), not from a second pass over the split; the numbers are those of separate passes."""
    import mans.engine.evaluate as ev_mod

    run = tmp_path / "run"
    run_training("base", data=tiny_store, out=run, overrides=[*TINY, "train.epochs=1"],
                 progress=False, device="cpu")
    calls = []
    real = ev_mod.build_model_from_checkpoint

    def counted(*a, **k):
        model = real(*a, **k)
        model.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
        return model

    monkeypatch.setattr(ev_mod, "build_model_from_checkpoint", counted)
    with_att = ev_mod.run_eval(run, data=tiny_store, device="cpu", progress=False,
                               out=tmp_path / "a", attention=True)
    assert sum(calls) == with_att["n"] == 24  # every test sample through the network once
    calls.clear()
    plain = ev_mod.run_eval(run, data=tiny_store, device="cpu", progress=False)
    assert sum(calls) == 24
    for k in ("top1", "top5", "loss", "per_class"):
        assert with_att[k] == plain[k]
    # the attention written equals a separate pass's, sample by sample
    from mans.data.dataset import SkeletonDataset
    from mans.data.pipeline import InputPipeline
    from mans.data.store import PreparedStore
    from mans.engine.checkpoint import Checkpoint

    ckpt = Checkpoint.load(run / "best.pt")
    store = PreparedStore.open(tiny_store)
    idx = store.split("xsub", "test")
    net = real(ckpt, "cpu")
    ds = SkeletonDataset(store, idx, InputPipeline(ckpt.data))
    x = torch.stack([ds[k][0] for k in range(len(idx))])
    with torch.no_grad():
        _, att = net(x, return_attention=True)  # (N, 3, 28)
    doc = json.loads((tmp_path / "a" / "attention.json").read_text())
    k = store.labels[idx] == 0
    valid = np.stack([frame_rows(int(t), 28) >= 0 for t in store.lengths[idx]])  # (N, S)
    mean0 = (att.numpy()[k].mean(axis=1) * valid[k]).sum(0) / valid[k].sum(0)
    got = np.array([np.nan if v is None else v for v in doc["classes"]["raise"]["mean"]])
    np.testing.assert_allclose(got, mean0, atol=2e-6)
