"""Distributed data parallel on the CPU: 2 Gloo processes spawned with torch.multiprocessing.

Why one DDP step equals one single-process step on the same global batch: each process computes
the mean loss gradient of its half of the batch, DDP averages the two gradients, and the mean of
two equal-size half-batch means is the full-batch mean -- *provided each sample's loss does not
depend on the other samples of its batch*. BatchNorm in training mode breaks that: it normalises
with the statistics of the batch it sees, which are those of the half-batch under DDP (unless
SyncBatchNorm, which PyTorch implements only on GPUs). So the exact-equality test runs the real
MANs network with BatchNorm (and dropout) in eval mode, where normalisation uses the running
statistics, and a second check shows that in training mode the two steps indeed differ.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)

BATCH = 8  # global batch; 4 samples per process


def tiny_model():
    from mans.models import build_model

    torch.manual_seed(0)
    return build_model("mans_resnet", num_classes=4, size=28, hidden=8, resnet_width=8,
                       resnet_stages=[1])


def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(BATCH, 3, 28, 28, generator=g), torch.randint(0, 4, (BATCH,), generator=g)


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                           weight_decay=1e-4)


def one_step(model, x, y, train_mode: bool, dist=None):
    from mans.engine.train import train_step

    model.train(train_mode)
    return train_step(model, x, y, sgd(model), dist=dist)


def _ddp_step_worker(rank: int, world: int, init_file: str, out: str) -> None:
    from mans.engine.distributed import DistInfo

    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                             world_size=world)
    try:
        x, y = batch()
        shard = slice(rank * BATCH // world, (rank + 1) * BATCH // world)
        result = {}
        for train_mode in (False, True):
            model = tiny_model()  # same initial weights everywhere (DDP would broadcast anyway)
            ddp = torch.nn.parallel.DistributedDataParallel(model)
            loss, _ = one_step(ddp, x[shard], y[shard], train_mode,
                               dist=DistInfo(rank=rank, world_size=world))
            result[f"train={train_mode}"] = {"state": model.state_dict(), "loss": loss}
        torch.save(result, f"{out}.rank{rank}")
    finally:
        tdist.destroy_process_group()


def test_ddp_step_equals_single_process_step(tmp_path):
    out = str(tmp_path / "ddp")
    mp.spawn(_ddp_step_worker, args=(2, str(tmp_path / "pg"), out), nprocs=2, join=True)
    r0, r1 = (torch.load(f"{out}.rank{r}", weights_only=True) for r in (0, 1))

    x, y = batch()
    single = tiny_model()
    loss, _ = one_step(single, x, y, train_mode=False)
    ref = single.state_dict()
    for k in ref:
        torch.testing.assert_close(r0["train=False"]["state"][k], r1["train=False"]["state"][k],
                                   rtol=0, atol=0)  # the processes stay in sync
        torch.testing.assert_close(r0["train=False"]["state"][k], ref[k], rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(ref[k], tiny_model().state_dict()[k]) for k in ref)  # it moved
    assert r0["train=False"]["loss"] == pytest.approx(loss, rel=1e-5)  # = full-batch loss

    # Training-mode BatchNorm: half-batch statistics, so the step is NOT the single-process one.
    single = tiny_model()
    one_step(single, x, y, train_mode=True)
    ddp_state = r0["train=True"]["state"]
    diff = max((ddp_state[k] - single.state_dict()[k]).abs().max().item()
               for k in ref if ref[k].is_floating_point())
    assert diff > 1e-4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_training_worker(rank: int, world: int, port: int, store: str, out: str) -> None:
    from mans.engine.train import run_training

    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    metrics = run_training("base", data=store, out=out, overrides=[*TINY, "train.epochs=2"],
                           device="cpu", progress=False)
    Path(f"{out}.rank{rank}.json").write_text(json.dumps(metrics))


def test_run_training_under_two_gloo_processes(tiny_store, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    mp.spawn(_run_training_worker, args=(2, _free_port(), str(tiny_store), str(out)), nprocs=2,
             join=True)
    m0 = json.loads(Path(f"{out}.rank0.json").read_text())
    m1 = json.loads(Path(f"{out}.rank1.json").read_text())
    # evaluation is sharded and all-reduced: both processes report the whole split's metrics
    for key in ("top1", "top5", "mean_class_acc", "per_class", "n", "selected_epoch"):
        assert m0[key] == m1[key], key
    assert m0["n"] == m0["n_test"] == 24
    for name in ("config.yaml", "last.pt", "best.pt", "metrics.csv", "metrics.json",
                 "confusion.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text())["top1"] == m0["top1"]
    from mans.engine.checkpoint import load_checkpoint

    assert load_checkpoint(out / "last.pt")["train"]["epoch"] == 2
    assert len(list((out / "tb").glob("events.*"))) == 1  # rank 0 only
