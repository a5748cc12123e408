"""Learning-rate schedules (train.scheduler: none | plateau | cosine | step, warm-up): the
per-epoch factors against hand-computed values, what a run logs, and resume through them."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.engine.checkpoint import load_checkpoint
from mans.engine.config import SchedulerConfig, load_config
from mans.engine.run_setup import build_scheduler, lr_factor, step_scheduler
from mans.engine.train import run_training
from mans.errors import ConfigError


def lrs(s: SchedulerConfig, epochs: int, lr: float = 1.0) -> list[float]:
    """The lr of epochs 1..epochs as the trainer sees them (read before, stepped after)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = build_scheduler(opt, s, epochs)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        step_scheduler(sched, 1.0)
    return out


def test_cosine_with_warmup_by_hand():
    got = lrs(SchedulerConfig(name="cosine", warmup_epochs=2), 6)
    # warm-up 0.1, 0.55; then (1 + cos(pi k / 4)) / 2 for k = 0..3
    want = [0.1, 0.55, 1.0, (1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2]
    assert got == pytest.approx(want, abs=1e-12)


def test_step_and_none_by_hand():
    got = lrs(SchedulerConfig(name="step", milestones=(2, 4), gamma=0.5), 6, lr=0.2)
    assert got == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05, 0.05], abs=1e-12)
    got = lrs(SchedulerConfig(name="step", milestones=(3,), warmup_epochs=2), 5)
    assert got == pytest.approx([0.1, 0.55, 1.0, 0.1, 0.1], abs=1e-12)
    assert lrs(SchedulerConfig(name="none", warmup_epochs=4), 6) == pytest.approx(
        [0.1, 0.325, 0.55, 0.775, 1.0, 1.0], abs=1e-12)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert build_scheduler(opt, SchedulerConfig(name="none"), 5) is None
    assert lr_factor(SchedulerConfig(name="cosine"), 10)(10) == pytest.approx(0.0)


def test_plateau_still_reduces_on_the_monitored_loss():
    s = SchedulerConfig(name="plateau", factor=0.5, patience=0, cooldown=0, min_lr=0.0)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, s, 5)
    for loss in (1.0, 2.0, 3.0):
        step_scheduler(sched, loss)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.25)


def test_schedule_keys_are_checked():
    with pytest.raises(ConfigError, match="'train.scheduler.name' must be one of"):
        load_config("base", ["train.scheduler.name=linear"])
    with pytest.raises(ConfigError, match="needs train.scheduler.milestones"):
        load_config("base", ["train.scheduler.name=step"])
    with pytest.raises(ConfigError, match="reduce-on-plateau has no warm-up"):
        load_config("base", ["train.scheduler.warmup_epochs=3"])
    with pytest.raises(ConfigError, match="train.scheduler.milestones"):
        load_config("base", ["train.scheduler.name=step", "train.scheduler.milestones=[5,2]"])
    with pytest.raises(ConfigError, match="train.scheduler.warmup_epochs"):
        load_config("base", ["train.scheduler.name=cosine", "train.scheduler.warmup_epochs=50"])


def _rows(run) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k != "time"} for r in csv.DictReader(f)]


PIPE = ["model.name=mans_cooccurrence", "model.cooc_width=16", "data.centre=spine",
        "data.normalise=minmax", "data.frames=resample", "data.augment.rotation_deg=[60,0,60]",
        "data.augment.scale=[0.5,1.5]", "train.scheduler.name=cosine",
        "train.scheduler.warmup_epochs=2", "train.epochs=4", "train.selection=last"]


def test_cosine_run_logs_its_lrs_and_resumes_bit_exactly(tiny_store, tmp_path):  # noqa: F811
    def train(out, *extra, **kw):
        return run_training("base", data=tiny_store, out=out, overrides=[*TINY, *PIPE, *extra],
                            progress=False, **kw)

    full = train(tmp_path / "full")
    lr = 0.05  # TINY's
    assert [float(r["lr"]) for r in _rows(tmp_path / "full")] == pytest.approx(
        [0.1 * lr, 0.55 * lr, lr, 0.5 * lr], rel=1e-9)
    part = tmp_path / "part"
    assert train(part, "train.stop_after_epoch=2")["status"] == "stopped"
    resumed = train(part, resume=True)
    drop = lambda m: {k: v for k, v in m.items() if k != "confusion_png"}  # noqa: E731
    assert drop(resumed) == drop(full)
    assert _rows(part) == _rows(tmp_path / "full")
    wf = load_checkpoint(tmp_path / "full" / "last.pt")
    wr = load_checkpoint(part / "last.pt")
    assert all(torch.equal(wf["state_dict"][k], wr["state_dict"][k]) for k in wf["state_dict"])
    data = wf["data"]
    assert (data["input"], data["centre"], data["normalise"], data["frames"]) == (
        "sequence", "spine", "minmax", "resample")
    assert wf["model"]["config"]["joints"] == 25 and wf["model"]["config"]["bodies"] == 1
