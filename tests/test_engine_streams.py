"""The engine with input streams, mirror augmentation and the regularisers (label smoothing, mixup,
weight EMA, test-time mirroring); per-sample scores of ``mans eval``; ``mans ensemble`` and fused
``mans predict``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.cli.commands import main
from mans.engine.checkpoint import build_model_from_checkpoint, load_checkpoint
from mans.engine.ensemble import choose_weights, fuse, run_ensemble, simplex_grid
from mans.engine.evaluate import run_eval
from mans.engine.train import compute_loss, mix_batch, run_training
from mans.errors import ConfigError
from mans.models.tta import MirrorAverage
from mans.data.store import PreparedStore
from helpers_pipeline import pipeline_for


def train(store: Path, out: Path, *extra: str, **kw) -> dict:
    return run_training("base", data=store, out=out, overrides=[*TINY, *extra], progress=False,
                        **kw)


@pytest.fixture(scope="module")
def bone_run(tiny_store, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("bone") / "run"
    torch.set_num_threads(1)
    m = train(tiny_store, out, "data.stream=bone", "data.test_mirror=true",
              "data.augment.mirror=0.5")
    return out, m


def test_stream_is_saved_and_used_by_eval(bone_run, tiny_store):  # noqa: F811
    out, m = bone_run
    state = load_checkpoint(out / "best.pt")
    assert state["data"]["stream"] == "bone" and state["data"]["test_mirror"] is True
    model = build_model_from_checkpoint(state)
    assert isinstance(model, MirrorAverage)
    # independent evaluation: bone images built here, fed to the checkpoint's model
    store = PreparedStore.open(tiny_store)
    idx = store.split("xsub", "test")
    bone = pipeline_for(store.layout, 28, "bone")
    x = torch.stack([torch.from_numpy(bone.sample(np.array(store.sequence(i)))[0]) for i in idx])
    with torch.no_grad():
        pred = model(x).argmax(1).numpy()
    assert np.mean(pred == store.labels[idx]) == pytest.approx(m["top1"])
    ev = run_eval(out, data=tiny_store, progress=False)
    assert ev["top1"] == pytest.approx(m["top1"])


def test_eval_writes_per_sample_scores(bone_run, tiny_store, tmp_path):  # noqa: F811
    out, _ = bone_run
    ev = run_eval(out, data=tiny_store, progress=False, out=tmp_path / "ev")
    scores = np.load(tmp_path / "ev" / "scores.npy")
    store = PreparedStore.open(tiny_store)
    idx = store.split("xsub", "test")
    assert scores.shape == (len(idx), 4)
    np.testing.assert_allclose(scores.sum(axis=1), 1, atol=1e-5)
    assert np.mean(scores.argmax(1) == store.labels[idx]) == pytest.approx(ev["top1"])
    with open(tmp_path / "ev" / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["key"] for r in rows] == [store.meta[i]["key"] for i in idx]
    assert [int(r["pred"]) for r in rows] == scores.argmax(1).tolist()
    assert all(int(r["label"]) == store.labels[i] for r, i in zip(rows, idx))
    assert all(r["top5"].split()[0] == r["pred"] for r in rows)


def test_label_smoothing_loss_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    y = torch.tensor([0])
    logp = F.log_softmax(logits, 1)[0]
    eps = 0.3
    manual = -((1 - eps) * logp[0] + eps * logp.mean())
    torch.testing.assert_close(compute_loss(logits, y, eps), manual)


def test_mixup_mixes_images_with_a_beta_weight():
    torch.manual_seed(5)
    x = torch.randn(6, 3, 4, 4)
    mixed, perm, lam = mix_batch(x, 0.4)
    # replay the same seeded draws: lam from Beta(0.4, 0.4), then the pairing
    torch.manual_seed(5)
    torch.randn(6, 3, 4, 4)
    lam_ref = float(torch.distributions.Beta(0.4, 0.4).sample())
    perm_ref = torch.randperm(6)
    assert lam == lam_ref and torch.equal(perm, perm_ref)
    assert not torch.equal(perm, torch.arange(6))  # a real pairing, so the mix is visible
    torch.testing.assert_close(mixed, lam_ref * x + (1 - lam_ref) * x[perm_ref])
    assert not torch.allclose(mixed, x)


def test_ema_run_resumes_bit_exactly(tiny_store, tmp_path):  # noqa: F811
    opts = ["train.ema=0.9", "train.mixup=0.2", "train.label_smoothing=0.1",
            "data.augment.mirror=0.5", "data.stream=motion", "train.epochs=4"]
    full = train(tiny_store, tmp_path / "full", *opts, deterministic=True)
    train(tiny_store, tmp_path / "part", *opts, "train.stop_after_epoch=2", deterministic=True)
    resumed = train(tiny_store, tmp_path / "part", *opts, resume=True, deterministic=True)
    assert resumed["top1"] == full["top1"]
    a, b = (load_checkpoint(p / "last.pt") for p in (tmp_path / "full", tmp_path / "part"))
    for key in ("state_dict",):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    raw = a["train"]["raw_state_dict"]
    assert any(not torch.equal(raw[k], a["state_dict"][k]) for k in raw
               if raw[k].is_floating_point())  # the average differs from the raw weights
    assert a["train"]["ema_n_averaged"] == b["train"]["ema_n_averaged"] > 0


def test_fuse_and_weight_choice_by_hand():
    a = np.array([[0.6, 0.4], [0.2, 0.8]])
    b = np.array([[0.1, 0.9], [0.7, 0.3]])
    np.testing.assert_allclose(fuse([a, b]), [[0.35, 0.65], [0.45, 0.55]])
    np.testing.assert_allclose(fuse([a, b], [1, 0]), a)
    assert simplex_grid(3, 2).tolist() == [[0, 0, 1], [0, .5, .5], [0, 1, 0], [.5, 0, .5],
                                          [.5, .5, 0], [1, 0, 0]]
    # labels [0, 0] with c: w (on a) gets sample 0 right when 0.6 w + 0.1 (1 - w) >
    # 0.4 w + 0.9 (1 - w), i.e. w > 0.8, and sample 1 when 0.2 w + 0.75 (1 - w) > 0.8 w +
    # 0.25 (1 - w), i.e. w < 0.4545: never both, and equal weights get neither. The best is 1 of
    # 2, and of those weights the closest to equal is w = 0.4.
    c = np.array([[0.1, 0.9], [0.75, 0.25]])
    w = choose_weights([a, c], np.array([0, 0]), grid=10)
    assert (fuse([a, c], [0.5, 0.5]).argmax(1) == 0).mean() == 0
    assert (fuse([a, c], w).argmax(1) == 0).mean() == 0.5
    np.testing.assert_allclose(w, [0.4, 0.6])


def test_ensemble_of_two_runs(bone_run, tiny_store, tmp_path):  # noqa: F811
    joint = tmp_path / "joint"
    train(tiny_store, joint)
    out = tmp_path / "ens"
    m = run_ensemble([joint, bone_run[0]], data=tiny_store, out=out)
    e1 = run_eval(joint, data=tiny_store, progress=False, out=tmp_path / "e1")
    e2 = run_eval(bone_run[0], data=tiny_store, progress=False, out=tmp_path / "e2")
    s1, s2 = np.load(tmp_path / "e1" / "scores.npy"), np.load(tmp_path / "e2" / "scores.npy")
    store = PreparedStore.open(tiny_store)
    y = store.labels[store.split("xsub", "test")]
    expected = ((s1 + s2) / 2).argmax(1)
    assert m["top1"] == pytest.approx(np.mean(expected == y))
    assert m["run_top1"] == pytest.approx([e1["top1"], e2["top1"]])
    assert m["streams"] == ["joint", "bone"] and m["weights"] == [0.5, 0.5]
    np.testing.assert_allclose(np.load(out / "scores.npy"), (s1 + s2) / 2, atol=1e-6)
    assert json.loads((out / "metrics.json").read_text())["top1"] == m["top1"]
    assert (out / "confusion.png").is_file()
    vm = run_ensemble([joint, bone_run[0]], data=tiny_store, weights="val")
    assert sum(vm["weights"]) == pytest.approx(1) and vm["weights_rule"] == "val"
    with pytest.raises(ConfigError, match="at least 2"):
        run_ensemble([joint], data=tiny_store)


def _old_simplex_grid(r: int, grid: int) -> np.ndarray:
    """The enumeration before stars and bars: the filtered (grid + 1) ** r product."""
    import itertools

    rows = [c for c in itertools.product(range(grid + 1), repeat=r) if sum(c) == grid]
    return np.asarray(rows, dtype=np.float64) / grid


def _old_choose_weights(scores, labels, grid):
    best, best_key = None, None
    equal = np.full(len(scores), 1 / len(scores))
    for w in _old_simplex_grid(len(scores), grid):
        acc = float((fuse(scores, w).argmax(axis=1) == labels).mean())
        key = (acc, -float(np.abs(w - equal).sum()))
        if best_key is None or key > best_key:
            best, best_key = w, key
    return best


@pytest.mark.parametrize("r", [1, 2, 3, 4])
@pytest.mark.parametrize("grid", [1, 3, 10])
def test_simplex_grid_equals_the_product_enumeration(r, grid):
    assert np.array_equal(simplex_grid(r, grid), _old_simplex_grid(r, grid))


@pytest.mark.parametrize("r", [2, 3, 4])
def test_weight_choice_equals_the_old_enumeration(r):
    rng = np.random.default_rng(r)
    scores = [rng.dirichlet(np.ones(5), size=40) for _ in range(r)]  # (40, 5) each
    labels = rng.integers(0, 5, size=40)
    for grid in (4, 10):
        assert np.array_equal(choose_weights(scores, labels, grid),
                              _old_choose_weights(scores, labels, grid))


def _forged(run: Path, dest: Path, **changes) -> Path:
    """A copy of ``run``'s best.pt with ``changes`` ("data.protocol": ...) applied."""
    from mans.engine.checkpoint import save_checkpoint

    state = load_checkpoint(run / "best.pt")
    for key, value in changes.items():
        section, name = key.split("__")
        state[section][name] = value
    return save_checkpoint(dest, state)


def test_ensemble_refusals_come_before_any_scoring(bone_run, tiny_store, tmp_path,  # noqa: F811
                                                   monkeypatch):
    import mans.engine.evaluate as ev_mod

    run = bone_run[0]
    scored = []
    real = ev_mod.evaluate_model
    monkeypatch.setattr(ev_mod, "evaluate_model",
                        lambda *a, **k: scored.append(1) or real(*a, **k))
    other = _forged(run, tmp_path / "other.pt", data__protocol="nosubj")
    with pytest.raises(ConfigError, match=r"different protocols \['nosubj', 'xsub'\]"):
        run_ensemble([run, other], data=tiny_store)
    test_sel = _forged(run, tmp_path / "testsel.pt", train__selection="test")
    with pytest.raises(ConfigError, match="selected on the test split"):
        run_ensemble([run, test_sel], data=tiny_store)
    with pytest.raises(ConfigError, match="cannot be scored on it"):
        run_ensemble([run, run], data=tiny_store, weights="val", split="val")
    with pytest.raises(ConfigError, match="no such run folder or checkpoint"):
        run_ensemble([run, run, tmp_path / "missing"], data=tiny_store)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="--out .*afile exists and is not a folder"):
        run_ensemble([run, run], data=tiny_store, out=tmp_path / "afile")
    assert scored == []  # no run was scored before any of these refusals


def test_ensemble_val_weights_build_each_network_once(bone_run, tiny_store,  # noqa: F811
                                                      monkeypatch):
    import mans.engine.evaluate as ev_mod

    built = []
    real = ev_mod.build_model_from_checkpoint
    monkeypatch.setattr(ev_mod, "build_model_from_checkpoint",
                        lambda *a, **k: built.append(1) or real(*a, **k))
    m = run_ensemble([bone_run[0], bone_run[0]], data=tiny_store, weights="val")
    assert len(built) == 2  # one per run, shared by the val and test scoring
    # the same run twice: every grid point scores alike, so the closest to equal wins
    assert m["weights"] == [0.5, 0.5] and m["weights_rule"] == "val"


def test_cli_ensemble_and_fused_predict(bone_run, tiny_store, tmp_path, capsys,  # noqa: F811
                                        monkeypatch):
    joint = tmp_path / "joint"
    train(tiny_store, joint)
    assert main(["ensemble", str(joint), str(bone_run[0]), "--data", str(tiny_store), "-q",
                 "--out", str(tmp_path / "ens")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["weights"] == [0.5, 0.5] and 0 <= out["top1"] <= 1
    raw = sorted((tiny_store.parent / "raw").glob("*.npy"))[:2]
    # the enginetest files are .npy arrays, not a format predict reads: hand predict the reader
    import mans.inference.predict as predict_mod
    from mans.inference.records import softmax
    from mans.skeleton import Sequence

    def read(path, fmt=None, layout=None):
        return Sequence(joints=np.load(path), layout="ntu25", name=Path(path).stem,
                        source=str(path))

    import mans.data.pipeline as pipeline_mod

    monkeypatch.setattr(pipeline_mod, "read_sequence", read)
    fused = predict_mod.predict_files(joint / "best.pt", raw, topk=4, device="cpu",
                                      ensemble=[bone_run[0] / "best.pt"])
    p1 = predict_mod.Predictor(joint / "best.pt", "cpu")
    p2 = predict_mod.Predictor(bone_run[0] / "best.pt", "cpu")
    assert (p1.stream, p2.stream) == ("joint", "bone")
    for f, r in zip(raw, fused):
        expected = (softmax(p1.scores(p1.pipeline(f))[0])
                    + softmax(p2.scores(p2.pipeline(f))[0])) / 2  # (K,)
        got = {t["label"]: t["prob"] for t in r["top"]}
        assert got == pytest.approx({k: float(expected[k]) for k in range(4)}, abs=1e-6)
        assert r["checkpoints"] == [str(joint / "best.pt"), str(bone_run[0] / "best.pt")]
    # each checkpoint got its own stream: the bone model's image is the bone stream
    img = p2.pipeline(raw[0]).x
    seq = read(raw[0])
    from mans.data.pipeline import prepare_sequence

    x = prepare_sequence(seq, p2.prep)
    np.testing.assert_array_equal(img, pipeline_for(p2.layout, 28, "bone").sample(x)[0])
