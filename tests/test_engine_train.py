"""End-to-end training on a tiny prepared store: outputs, determinism, resume equivalence,
divergence handling, selection rules and user errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import mans.engine.train as train_mod
from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.engine.checkpoint import Checkpoint, build_model_from_checkpoint, load_checkpoint
from mans.engine.config import load_config
from mans.engine.evaluate import run_eval
from mans.engine.train import TrainingDiverged, run_training
from mans.errors import ConfigError, MansError
from mans.data.store import PreparedStore
from helpers_pipeline import joint_image


def train(store: Path, out: Path, *extra: str, **kw) -> dict:
    return run_training("base", data=store, out=out, overrides=[*TINY, *extra], progress=False,
                        **kw)


def comparable(metrics: dict) -> dict:
    """metrics.json minus the path of the figure (which names the run folder)."""
    return {k: v for k, v in metrics.items() if k != "confusion_png"}


def csv_rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def finished_run(tiny_store, tmp_path_factory) -> tuple[Path, dict]:  # noqa: F811
    out = tmp_path_factory.mktemp("run") / "run"
    return out, train(tiny_store, out)


def test_run_writes_every_output(finished_run, tiny_store):  # noqa: F811
    out, metrics = finished_run
    for name in ("config.yaml", "last.pt", "best.pt", "metrics.csv", "metrics.json",
                 "confusion.png"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp"))  # atomic writes leave no temporaries
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert json.loads((out / "metrics.json").read_text()) == metrics
    # the config snapshot is complete and loads back to the same config
    snap = load_config(out / "config.yaml")
    assert snap == load_config("base", TINY) and snap.train.epochs == 3
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["size"] == 28

    for key in ("top1", "top5", "mean_class_acc", "per_class", "selection", "epochs",
                "selected_epoch", "n_train", "n_val", "n_test"):
        assert key in metrics, key
    assert metrics["selection"] == "val" and metrics["epochs"] == 3
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (16, 8, 24)
    assert metrics["validation_rule"] == "subjects [5]"  # 1 of the 3 odd training subjects
    assert set(metrics["per_class"]) == {"raise", "push", "lift", "lower"}
    assert 0 <= metrics["top1"] <= metrics["top5"] <= 1
    assert metrics["top5"] == 1.0  # 4 classes: the true one is always among the top 5
    assert metrics["mean_class_acc"] == pytest.approx(np.mean(list(metrics["per_class"].values())))

    rows = csv_rows(out)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "time"}
    val_acc = [float(r["val_acc"]) for r in rows]
    best = int(np.argmax(val_acc)) + 1  # first epoch with the highest validation accuracy
    assert metrics["selected_epoch"] == best
    assert metrics["val_top1"] == pytest.approx(val_acc[best - 1], abs=1e-6)


def test_checkpoints_hold_what_predict_and_resume_need(finished_run):
    out, metrics = finished_run
    last, best = Checkpoint.load(out / "last.pt"), Checkpoint.load(out / "best.pt")
    assert last.train.epoch == 3 and best.train.epoch == metrics["selected_epoch"]
    d = last.data
    assert d.size == 28 and d.layout.name == "ntu25" and d.protocol == "xsub"
    assert d.class_names == ("raise", "push", "lift", "lower") and d.dataset == "enginetest"
    assert d.prep["view"] == "none" and d.prep["max_bodies"] == 1
    assert (d.stream, d.test_mirror, d.input) == ("joint", False, "image")
    assert last.model_name == "mans_resnet" and last.num_classes == 4
    tr = last.train
    assert tr.optimizer["state"] and tr.scheduler is not None and tr.config["train"]["epochs"] == 3
    assert set(tr.rng) >= {"python", "numpy", "torch"}
    assert len(tr.history) == 3 and tr.best_epoch == metrics["selected_epoch"]
    assert tr.split_sizes == {"train": metrics["n_train"], "val": metrics["n_val"],
                              "test": metrics["n_test"]}
    # the image size is saved once, in the model's config
    raw = load_checkpoint(out / "last.pt")
    assert "size" not in raw["data"] and raw["model"]["config"]["size"] == 28


def test_final_metrics_match_an_independent_evaluation(finished_run, tiny_store):  # noqa: F811
    """Recompute the test accuracy sample by sample from best.pt, without the engine's loaders."""
    out, metrics = finished_run
    state = load_checkpoint(out / "best.pt")
    model = build_model_from_checkpoint(state)
    store = PreparedStore.open(tiny_store)
    idx = store.split("xsub", "test")
    with torch.no_grad():
        x = torch.stack([torch.from_numpy(joint_image(np.array(store.sequence(i)), 28))
                         for i in idx])
        logits = model(x).numpy()
    pred, y = logits.argmax(1), store.labels[idx]
    assert metrics["top1"] == pytest.approx(float((pred == y).mean()))
    for c, name in enumerate(store.class_names):
        assert metrics["per_class"][name] == pytest.approx(float((pred[y == c] == c).mean()))
    # and `mans eval` on the run folder (best.pt) reproduces metrics.json
    ev = run_eval(out, data=tiny_store, progress=False, out=out / "eval")
    for key in ("top1", "top5", "mean_class_acc", "per_class"):
        assert ev[key] == pytest.approx(metrics[key])
    assert (out / "eval" / "metrics.json").is_file() and (out / "eval" / "confusion.png").is_file()
    val = run_eval(out, data=tiny_store, split="val", progress=False)
    assert val["n"] == 8 and val["top1"] == pytest.approx(metrics["val_top1"])


def test_deterministic_runs_are_identical(tiny_store, tmp_path):  # noqa: F811
    a = train(tiny_store, tmp_path / "a", deterministic=True)
    b = train(tiny_store, tmp_path / "b", deterministic=True)
    ja = json.loads((tmp_path / "a" / "metrics.json").read_text())
    jb = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert comparable(ja) == comparable(jb) and comparable(a) == comparable(b)
    wa = load_checkpoint(tmp_path / "a" / "last.pt")["state_dict"]
    wb = load_checkpoint(tmp_path / "b" / "last.pt")["state_dict"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not torch.are_deterministic_algorithms_enabled()  # process-wide state restored


@pytest.mark.parametrize("how", ["stop_after_epoch", "fewer_epochs"])
def test_resume_ends_like_an_uninterrupted_run(tiny_store, tmp_path, how):  # noqa: F811
    # augmentation on, so that per-epoch randomness (order, augmentation, dropout) is exercised
    aug = ["data.augment.rotation_deg=[5, 20, 5]", "data.augment.noise_std=0.01",
           "data.augment.crop=[0.8, 1.0]", "train.scheduler.patience=0",
           "train.scheduler.cooldown=0", "train.lr=0.2", "train.epochs=4"]
    full = train(tiny_store, tmp_path / "full", *aug)
    part = tmp_path / "part"
    if how == "stop_after_epoch":
        first = train(tiny_store, part, *aug, "train.stop_after_epoch=2")
        assert first["status"] == "stopped" and first["epoch"] == 2
        assert not (part / "metrics.json").exists()
    else:
        train(tiny_store, part, *aug[:-1], "train.epochs=2")
    assert load_checkpoint(part / "last.pt")["train"]["epoch"] == 2
    resumed = train(tiny_store, part, *aug, resume=True)
    assert comparable(resumed) == comparable(full)
    wf = load_checkpoint(tmp_path / "full" / "last.pt")["state_dict"]
    wr = load_checkpoint(part / "last.pt")["state_dict"]
    assert all(torch.equal(wf[k], wr[k]) for k in wf)
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "time"} for r in rows]  # noqa
    assert drop_time(csv_rows(part)) == drop_time(csv_rows(tmp_path / "full"))
    # the learning rate was reduced within the run, so the scheduler state mattered
    assert len({r["lr"] for r in csv_rows(part)}) > 1


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_store, tmp_path, monkeypatch):  # noqa
    calls = {"n": 0}
    real = train_mod.compute_loss

    def poisoned(logits, y, label_smoothing=0.0):  # 2 steps per epoch: 4th = epoch 2, step 2
        calls["n"] += 1
        loss = real(logits, y, label_smoothing)
        return loss * float("nan") if calls["n"] >= 4 else loss

    monkeypatch.setattr(train_mod, "compute_loss", poisoned)
    with pytest.raises(TrainingDiverged) as e:
        train(tiny_store, tmp_path / "run")
    msg = str(e.value)
    assert isinstance(e.value, MansError)
    assert "nan" in msg and "epoch 2, step 2" in msg and "last.pt" in msg and "(epoch 1)" in msg
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["train"]["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values()
               if v.is_floating_point())
    assert len(csv_rows(tmp_path / "run")) == 1 and not (tmp_path / "run" / "metrics.json").exists()


def test_test_selection_names_every_output(tiny_store, tmp_path):  # noqa: F811
    out = tmp_path / "authors"
    m = train(tiny_store, out, "train.selection=test", "data.val_fraction=0")
    assert (out / "best-test-selected.pt").is_file() and not (out / "best.pt").exists()
    assert (out / "confusion-test-selected.png").is_file() and not (out / "confusion.png").exists()
    assert m["selection"] == "test-selected" and "test-selected" in m["note"]
    assert "top1" not in m and {"test_selected_top1", "test_selected_top5",
                                "test_selected_mean_class_acc", "test_selected_per_class"} <= set(m)
    assert m["n_val"] == 0 and m["n_train"] == 24  # the authors train on the whole split
    rows = csv_rows(out)
    assert "test_acc" in rows[0] and "val_acc" not in rows[0]
    best = int(np.argmax([float(r["test_acc"]) for r in rows])) + 1
    assert m["selected_epoch"] == best
    assert m["test_selected_top1"] == pytest.approx(float(rows[best - 1]["test_acc"]), abs=1e-6)
    ev = run_eval(out, data=tiny_store, progress=False)
    assert ev["selection"] == "test-selected" and "test_selected_top1" in ev


def test_last_selection_without_validation(tiny_store, tmp_path):  # noqa: F811
    m = train(tiny_store, tmp_path / "r", "train.selection=last", "data.val_fraction=0",
              "train.epochs=2")
    assert m["selection"] == "last" and m["selected_epoch"] == 2 and m["checkpoint"] == "last.pt"
    assert not (tmp_path / "r" / "best.pt").exists()
    assert set(csv_rows(tmp_path / "r")[0]) == {"epoch", "lr", "train_loss", "train_acc", "time"}


def test_stratified_validation_without_subjects(tiny_store, tmp_path):  # noqa: F811
    m = train(tiny_store, tmp_path / "r", "data.val_by_subject=false", "train.epochs=1")
    # 6 training samples per class: round(0.3 * 6) = 2 of each class
    assert m["validation_rule"] == "stratified 30%" and m["n_val"] == 8


def test_user_errors(tiny_store, tmp_path):  # noqa: F811
    out = tmp_path / "r"
    train(tiny_store, out, "train.epochs=1")
    with pytest.raises(ConfigError, match="already holds a run"):
        train(tiny_store, out, "train.epochs=1")
    with pytest.raises(ConfigError, match=r"train\.lr"):
        train(tiny_store, out, "train.epochs=2", "train.lr=0.5", resume=True)
    with pytest.raises(ConfigError, match="nothing to resume"):
        train(tiny_store, tmp_path / "new", resume=True)
    with pytest.raises(ConfigError, match="holds 'enginetest'"):
        train(tiny_store, tmp_path / "x", "data.dataset=ntu60")
    with pytest.raises(ConfigError, match="available: nosubj, xsub"):
        train(tiny_store, tmp_path / "x", "data.protocol=xview")
    with pytest.raises(ConfigError, match="store has 4 classes"):
        train(tiny_store, tmp_path / "x", "model.num_classes=3")


def test_training_learns(tiny_store, tmp_path):  # noqa: F811
    run_training("base", data=tiny_store, out=tmp_path / "r", progress=False,
                 overrides=[*TINY, "train.epochs=8", "train.selection=last",
                            "data.val_fraction=0"])
    losses = [float(r["train_loss"]) for r in csv_rows(tmp_path / "r")]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.8 * losses[0]


def test_cli_train_and_eval(tiny_store, tmp_path, capsys):  # noqa: F811
    from mans.cli.commands import main

    out = tmp_path / "r"
    sets = [a for s in TINY for a in ("--set", s)]
    assert main(["train", "base", "--data", str(tiny_store), "--out", str(out), "-q", *sets,
                 "--set", "train.epochs=1", "--device", "cpu"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["epochs"] == 1 and "per_class" not in printed  # scalars only
    assert main(["eval", str(out), "--data", str(tiny_store), "-q", "--split", "val"]) == 0
    assert json.loads(capsys.readouterr().out)["split"] == "val"
    # a user error is one line on stderr and exit status 1
    assert main(["train", "base", "--data", str(tiny_store), "--out", str(tmp_path / "x"), "-q",
                 "--set", "train.lrr=1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("mans train: error:") and "did you mean 'train.lr'" in err
    assert "\n" not in err


@pytest.mark.parametrize("extra", [
    [],  # by subject
    ["data.val_by_subject=false", "data.val_fraction=0.25"],  # stratified
    ["train.selection=last", "data.val_fraction=0.5"],
])
def test_eval_val_split_is_the_trainers(tiny_store, tmp_path, extra):  # noqa: F811
    """``mans eval --split val`` re-derives exactly the samples the trainer held out."""
    from mans.engine.config import resolve_config
    from mans.engine.distributed import init_distributed
    from mans.engine.evaluate import checkpoint_split
    from mans.engine.train import _Trainer

    cfg = resolve_config("base", [*TINY, *extra])
    tr = _Trainer(cfg, tiny_store, tmp_path, init_distributed("cpu"), deterministic=True,
                  progress=False)
    val = checkpoint_split(tr._state(), tr.store, "val", tmp_path / "x.pt")
    assert val.size > 0 and np.array_equal(val, tr.val_idx)
    assert np.intersect1d(val, tr.train_idx).size == 0
    assert np.array_equal(np.sort(np.concatenate([val, tr.train_idx])),
                          np.sort(tr.store.split(tr.protocol, "train")))


def test_eval_val_split_of_a_test_selected_run_is_refused(tiny_store, tmp_path):  # noqa: F811
    """Under the authors' rule the trainer holds nothing out, and eval says so."""
    from mans.engine.config import resolve_config
    from mans.engine.distributed import init_distributed
    from mans.engine.evaluate import checkpoint_split
    from mans.engine.train import _Trainer
    from mans.errors import ConfigError

    cfg = resolve_config("base", [*TINY, "train.selection=test"])
    tr = _Trainer(cfg, tiny_store, tmp_path, init_distributed("cpu"), deterministic=True,
                  progress=False)
    assert tr.val_idx.size == 0 and tr.train_idx.size == tr.store.split(tr.protocol, "train").size
    with pytest.raises(ConfigError, match="had no validation split"):
        checkpoint_split(tr._state(), tr.store, "val", tmp_path / "x.pt")
