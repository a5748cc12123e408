"""``mans train``: the paper's training recipe on a prepared store, with validation-based
checkpoint selection and one final evaluation of the test split.

One epoch::

    reseed RNGs from (seed, epoch, rank)          -> dropout etc. independent of history
    shuffled batches (order from (seed, epoch))   -> SGD steps (bf16 autocast on CUDA)
    evaluate the monitored split                  -> val (default) | test (selection "test")
    scheduler step (train.scheduler)              -> reduce-on-plateau x0.2 of the monitored
                                                     loss, or cosine / step (+ warm-up)
    best.pt if the monitored accuracy improved, last.pt, metrics.csv, TensorBoard

and at the end the selected checkpoint is evaluated once on the test split (``metrics.json``,
confusion-matrix PNG). Because every epoch's randomness is a function of ``(seed, epoch)`` and the
optimizer/scheduler states are checkpointed, ``--resume`` from ``last.pt`` ends with the same
metrics as an uninterrupted run.

Run folder::

    config.yaml        the resolved config (every key)
    last.pt            the latest epoch (resume from here)
    best.pt            the selected checkpoint (best-test-selected.pt with selection "test")
    metrics.csv        one row per epoch
    train.log          the progress lines (also with -q), appended across resumes
    tb/                TensorBoard events
    metrics.json       final test metrics (written once, at the end)
    confusion.png      confusion matrix of the test split (confusion-test-selected.png)
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..devices import DEFAULT_DEVICE
from ..errors import ConfigError, MansError
from ..models import attention_penalty
from ..outputs import check_out_folder, output_lock
from .config import RunConfig, resolve_config, save_config
from .data import epoch_seed
from .distributed import DistInfo, all_reduce_sum, barrier, broadcast_buffers, init_distributed
from .resume import resume_config
from .run_evaluation import RunEvaluation
from .run_outputs import RunOutputs
from .run_setup import RunSetup, deterministic_mode, seed_everything, step_scheduler
from .run_state import RunState
from .selection import best_name, selection_name


class TrainingDiverged(MansError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


def compute_loss(logits: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0
                 ) -> torch.Tensor:
    """Mean cross-entropy (with ``label_smoothing``), in float32 whatever the autocast dtype of
    ``logits (B, K)``."""
    return F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)


def mix_batch(x: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mixup (Zhang et al. 2018) of whole images: ``lam * x + (1 - lam) * x[perm]`` with ``lam``
    drawn from Beta(alpha, alpha) and a random pairing ``perm`` (both from torch's global RNG,
    which the trainer reseeds every epoch, so a resumed run draws the same). Returns
    ``(mixed (B, C, S, S), perm (B,), lam)``."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.shape[0]).to(x.device)
    return lam * x + (1 - lam) * x[perm], perm, lam


def train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
               optimizer: torch.optim.Optimizer, *, amp_dtype: torch.dtype | None = None,
               grad_clip: float | None = None, dist: DistInfo | None = None,
               label_smoothing: float = 0.0, mixup: float = 0.0,
               attention_entropy: float = 0.0, attention_l1: float = 0.0) -> tuple[float, int]:
    """One optimisation step on this process's batch ``x (B, C, S, S)``, ``y (B,)``, with
    optional label smoothing and mixup (``mixup`` = Beta parameter; 0: off), and the TARM
    attention regularisers (:func:`mans.models.attention_penalty` with these weights, added to
    the loss; 0: off, and the forward pass is then the plain ``model(x)``).

    Under DDP the gradients are averaged over processes by ``model`` (a
    DistributedDataParallel), and the returned loss is the mean over processes. Raises
    :class:`TrainingDiverged` before the update if that loss is not finite.

    Returns:
        ``(loss, correct)``: the (process-mean) batch loss and this process's correct count.
    """
    perm, lam = None, 1.0
    if mixup > 0:
        x, perm, lam = mix_batch(x, mixup)
    regularised = bool(attention_entropy or attention_l1)
    with torch.autocast(device_type=x.device.type, dtype=amp_dtype or torch.float32,
                        enabled=amp_dtype is not None):
        if regularised:
            logits, att = model(x, return_attention=True)  # (B, K), (B, C, S)
        else:
            logits = model(x)  # (B, K)
    loss = compute_loss(logits, y, label_smoothing)
    if perm is not None:
        loss = lam * loss + (1 - lam) * compute_loss(logits, y[perm], label_smoothing)
    if regularised:
        if att is None:
            raise ConfigError("train.attention_entropy / train.attention_l1 need a model with a "
                              "TARM (model.use_tarm: true)")
        loss = loss + attention_penalty(att, attention_entropy, attention_l1)
    # The check is collective under DDP: every process stops together, none hangs in a reduce.
    check = loss.detach().reshape(1).clone()
    if dist is not None and dist.enabled:
        all_reduce_sum(check, dist).div_(dist.world_size)
    value = float(check.item())
    if not math.isfinite(value):
        raise TrainingDiverged(f"training loss became {value}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    correct = int((logits.detach().argmax(dim=1) == y).sum().item())
    return value, correct


def run_training(config: str | Path | RunConfig | dict, *, data: str | Path, out: str | Path,
                 overrides: Iterable[str] = (), resume: bool = False,
                 device: str = DEFAULT_DEVICE, deterministic: bool = False,
                 progress: bool = True) -> dict:
    """Train on the prepared store ``data`` into the run folder ``out`` (see module docstring).

    Args:
        config: config file, built-in config name, RunConfig or dict.
        overrides: ``"section.key=value"`` strings applied on top of ``config``.
        resume: continue from ``out/last.pt`` with the config saved in it (``config`` is not
            used); ``overrides`` may only change :data:`RESUMABLE_KEYS` (see
            :mod:`mans.engine.resume`).
        device: ``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``.
        deterministic: deterministic algorithms, one CPU thread, no loader workers: two runs
            on the same machine give identical ``metrics.json``.
        progress: tqdm bars and one summary line per epoch (rank 0 only).

    Returns:
        The final metrics (``metrics.json``), or, when ``train.stop_after_epoch`` stopped the run
        early, ``{"status": "stopped", "epoch": ...}``.
    """
    check_out_folder(out)
    # one writer per run folder (under torchrun rank 0 writes it, and holds the lock)
    with output_lock(out, enabled=os.environ.get("RANK", "0") == "0"):
        # --resume: the run's saved config (resume.py); CONFIG is not used
        cfg = resume_config(Path(out), overrides) if resume else resolve_config(config, overrides)
        dist = init_distributed(device)
        try:
            with deterministic_mode(deterministic, dist.device):
                trainer = _Trainer(cfg, Path(data), Path(out), dist, deterministic=deterministic,
                                   progress=progress and dist.is_main)
                return trainer.run(resume=resume)
        finally:
            dist.close()


class _Trainer(RunSetup, RunEvaluation, RunState, RunOutputs):
    """State of one run; :meth:`run` is the whole procedure. Its parts, by concern: set-up and
    loaders (:mod:`~mans.engine.run_setup`), evaluation (:mod:`~mans.engine.run_evaluation`),
    checkpoint and resume (:mod:`~mans.engine.run_state`), running outputs
    (:mod:`~mans.engine.run_outputs`); the loop is here."""

    # --- the procedure -------------------------------------------------------------------------

    def run(self, *, resume: bool) -> dict:
        cfg, out = self.cfg, self.out
        if resume:
            self._resume()
        elif (out / "last.pt").exists():
            raise ConfigError(f"{out} already holds a run (last.pt); pass --resume to continue it "
                              f"or choose another --out")
        if self.dist.is_main:
            out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, out / "config.yaml")
        writer = self._writer()
        self._log(f"{self.model_name} on {self.store.dataset}/{self.protocol}: "
                  f"{len(self.train_idx)} train, {len(self.val_idx)} val ({self.val_rule}), "
                  f"{len(self.test_idx)} test; selection {selection_name(self.sel)}; "
                  f"device {self.device}")
        try:
            stop = cfg.train.stop_after_epoch
            while self.epoch < cfg.train.epochs:
                if stop is not None and self.epoch >= stop:
                    self._log(f"stopped after epoch {self.epoch} (train.stop_after_epoch)")
                    return {"status": "stopped", "epoch": self.epoch,
                            "epochs": cfg.train.epochs, "last": str(out / "last.pt")}
                self._epoch(self.epoch + 1, writer)
            metrics = self._final(writer)
        finally:
            if writer is not None:
                writer.close()
        return metrics

    def _epoch(self, epoch: int, writer) -> None:
        t0 = time.perf_counter()
        seed_everything(epoch_seed(self.cfg.train.seed, epoch, self.dist.rank))
        loader = self._train_loader(epoch)
        lr = self.optimizer.param_groups[0]["lr"]
        self.net.train()
        sums = torch.zeros(3, dtype=torch.float64)  # loss * n, correct, n
        bar = tqdm(loader, desc=f"epoch {epoch}/{self.cfg.train.epochs}", leave=False,
                   disable=not self.progress, dynamic_ncols=True)
        for step, (x, y) in enumerate(bar):
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            try:
                loss, correct = train_step(self.net, x, y, self.optimizer,
                                           amp_dtype=self.amp_dtype,
                                           grad_clip=self.cfg.train.grad_clip, dist=self.dist,
                                           label_smoothing=self.cfg.train.label_smoothing,
                                           mixup=self.cfg.train.mixup,
                                           attention_entropy=self.cfg.train.attention_entropy,
                                           attention_l1=self.cfg.train.attention_l1)
                if self.ema is not None:
                    self.ema.update_parameters(self.model)
            except TrainingDiverged as e:
                bar.close()
                kept = (f"the last good checkpoint is {self.out / 'last.pt'} (epoch "
                        f"{self.epoch})" if self.epoch else "no checkpoint was written yet")
                raise TrainingDiverged(
                    f"{e} at epoch {epoch}, step {step + 1} (lr {lr:g}); {kept}. Lower train.lr, "
                    f"set train.grad_clip (also allowed with --resume), or check the data for "
                    f"extreme values") from None
            n = y.shape[0]
            sums += torch.tensor([loss * n, correct, n], dtype=torch.float64)
            bar.set_postfix(loss=f"{sums[0] / sums[2]:.4f}", acc=f"{sums[1] / sums[2]:.3f}")
        bar.close()
        # Every process saw the same (process-mean) loss per step; counts add up over processes.
        sums = all_reduce_sum(sums.to(self.device), self.dist).cpu()
        row = {"epoch": epoch, "lr": lr, "train_loss": float(sums[0] / sums[2]),
               "train_acc": float(sums[1] / sums[2])}
        broadcast_buffers(self.model, self.dist)

        monitored = None
        if self.monitor is not None:
            monitored = self._evaluate(self.monitor_idx, f"{self.monitor} {epoch}")
            row[f"{self.monitor}_loss"], row[f"{self.monitor}_acc"] = monitored["loss"], \
                monitored["top1"]
        step_scheduler(self.scheduler, monitored["loss"] if monitored else row["train_loss"])
        row["time"] = time.perf_counter() - t0

        self.epoch = epoch
        self.history.append(row)
        improved = monitored is not None and (self.best_metric is None
                                              or monitored["top1"] > self.best_metric)
        if improved:
            self.best_metric, self.best_epoch = monitored["top1"], epoch
        if self.sel == "last":
            self.best_epoch = epoch
        if self.dist.is_main:
            state = self._state()
            if improved and self.sel != "last":
                state.save(self.out / best_name(self.sel))
            state.save(self.out / "last.pt")
            self._write_csv()
            if writer is not None:
                for key in ("lr", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
                            "test_acc"):
                    if key in row:
                        writer.add_scalar(key.replace("_", "/", 1), row[key], epoch)
                writer.flush()
        barrier(self.dist)
        mon = (f", {self.monitor} loss {row[self.monitor + '_loss']:.4f} acc "
               f"{row[self.monitor + '_acc']:.4f}" if self.monitor else "")
        self._log(f"epoch {epoch}/{self.cfg.train.epochs}: lr {lr:g}, train loss "
                  f"{row['train_loss']:.4f} acc {row['train_acc']:.4f}{mon}"
                  f"{' *' if improved else ''} ({row['time']:.1f} s)")
