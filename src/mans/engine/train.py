"""``mans train``: the paper's training recipe on a prepared store, with validation-based
checkpoint selection and one final evaluation of the test split.

One epoch::

    reseed RNGs from (seed, epoch, rank)          -> dropout etc. independent of history
    shuffled batches (order from (seed, epoch))   -> SGD steps (bf16 autocast on CUDA)
    evaluate the monitored split                  -> val (default) | test (selection "test")
    scheduler.step(monitored loss)                -> reduce-on-plateau x0.2
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

import contextlib
import csv
import math
import os
import random
import time
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..data.augment import build_augment
from ..devices import DEFAULT_DEVICE
from ..errors import ConfigError, MansError
from ..outputs import check_out_folder
from ..models import MANsConfig, build_model
from ..data.store import PreparedStore, SkeletonDataset
from ..data.spec import DataSpec
from .checkpoint import Checkpoint, TrainState, rng_state, set_rng_state, with_test_mirror
from .config import RESUMABLE_KEYS, RunConfig, diff_configs, resolve_config, save_config
from .data import check_protocol, epoch_seed, eval_loader, labelled, protocol_train_val, \
    train_loader
from .distributed import DistInfo, all_reduce_sum, barrier, broadcast_buffers, init_distributed
from .evaluate import evaluate_model, final_metrics, write_eval_outputs
from .resume import resume_config
from .selection import best_name, label_test_selected, selection_name

CSV_FIELDS = ("epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
              "test_acc", "time")


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
               label_smoothing: float = 0.0, mixup: float = 0.0) -> tuple[float, int]:
    """One optimisation step on this process's batch ``x (B, C, S, S)``, ``y (B,)``, with
    optional label smoothing and mixup (``mixup`` = Beta parameter; 0: off).

    Under DDP the gradients are averaged over processes by ``model`` (a
    DistributedDataParallel), and the returned loss is the mean over processes. Raises
    :class:`TrainingDiverged` before the update if that loss is not finite.

    Returns:
        ``(loss, correct)``: the (process-mean) batch loss and this process's correct count.
    """
    perm, lam = None, 1.0
    if mixup > 0:
        x, perm, lam = mix_batch(x, mixup)
    with torch.autocast(device_type=x.device.type, dtype=amp_dtype or torch.float32,
                        enabled=amp_dtype is not None):
        logits = model(x)  # (B, K)
    loss = compute_loss(logits, y, label_smoothing)
    if perm is not None:
        loss = lam * loss + (1 - lam) * compute_loss(logits, y[perm], label_smoothing)
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
    # --resume: the run's saved config (resume.py); CONFIG is not used
    cfg = resume_config(Path(out), overrides) if resume else resolve_config(config, overrides)
    dist = init_distributed(device)
    try:
        with _deterministic_mode(deterministic, dist.device):
            trainer = _Trainer(cfg, Path(data), Path(out), dist, deterministic=deterministic,
                               progress=progress and dist.is_main)
            return trainer.run(resume=resume)
    finally:
        dist.close()


@contextlib.contextmanager
def _deterministic_mode(on: bool, device: torch.device):
    """Deterministic kernels and a fixed thread count for the duration of a run (restored after,
    as this changes process-wide torch state)."""
    if not on:
        yield
        return
    prev = (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads(),
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # On CUDA, warn_only: a few backward kernels (e.g. adaptive pooling) have no deterministic
    # implementation and warn instead of stopping the run. On the CPU a nondeterministic kernel
    # is an error.
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    torch.set_num_threads(1)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev[0])
        torch.set_num_threads(prev[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = prev[2], prev[3]


def _check_confidence_augment(prep: dict, augment) -> None:
    """A store with a confidence channel (view ``2d --confidence``) holds (x, y, score): the
    geometric augmentations would rotate / scale / perturb the scores as if they were a
    coordinate, so they are refused rather than silently applied."""
    if not prep.get("confidence"):
        return
    bad = [k for k, off in (("rotation_deg", all(a == 0 for a in augment.rotation_deg)),
                            ("scale", tuple(augment.scale) == (1.0, 1.0)),
                            ("noise_std", augment.noise_std == 0)) if not off]
    if bad:
        raise ConfigError(f"the store has a confidence channel (prepared with --view 2d "
                          f"--confidence), which data.augment.{', '.join(bad)} would treat as a "
                          f"coordinate; set them off (rotation_deg=[0,0,0], scale=[1,1], "
                          f"noise_std=0) or prepare without --confidence")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


class _Trainer:
    """State of one run; :meth:`run` is the whole procedure."""

    def __init__(self, cfg: RunConfig, data: Path, out: Path, dist: DistInfo, *,
                 deterministic: bool, progress: bool):
        self.cfg, self.out, self.dist, self.progress = cfg, out, dist, progress
        self.device = dist.device
        t = cfg.train
        self.sel = t.selection
        self.amp_dtype = torch.bfloat16 if (t.amp and self.device.type == "cuda") else None
        self.num_workers = 0 if deterministic else cfg.data.num_workers
        if t.batch_size % dist.world_size:
            raise ConfigError(f"train.batch_size={t.batch_size} is the global batch; it must be "
                              f"divisible by the {dist.world_size} processes")
        self.batch = t.batch_size // dist.world_size  # per process

        # --- data ---------------------------------------------------------------------------
        self.store = PreparedStore.open(data)
        if cfg.data.dataset is not None and self.store.dataset != cfg.data.dataset:
            raise ConfigError(f"the config is for dataset {cfg.data.dataset!r} but the store at "
                              f"{data} holds {self.store.dataset!r} (data.dataset)")
        self.protocol = check_protocol(self.store, cfg.data.protocol)
        self.train_idx, self.val_idx, self.val_rule = protocol_train_val(
            self.store, self.protocol, self.sel, cfg.data.val_fraction, cfg.data.val_by_subject)
        self.test_idx = labelled(self.store, self.store.split(self.protocol, "test"), "test")
        if self.sel == "val" and self.val_idx.size == 0:
            raise ConfigError(f"the training split of {self.protocol!r} is too small to hold out "
                              f"a validation split; use train.selection=last")
        # The split monitored each epoch (scheduler + selection): validation, or the test split
        # under the authors' rule, or nothing (selection "last" without validation).
        if self.sel == "test":
            self.monitor, self.monitor_idx = "test", self.test_idx
        elif self.val_idx.size:
            self.monitor, self.monitor_idx = "val", self.val_idx
        else:
            self.monitor, self.monitor_idx = None, None

        # --- model, optimiser, scheduler ---------------------------------------------------------
        _seed_everything(t.seed)
        self.model_name = cfg.model.name
        overrides = cfg.model.overrides()
        k = overrides.setdefault("num_classes", self.store.num_classes)
        if k < self.store.num_classes:
            raise ConfigError(f"model.num_classes={k} but the store has "
                              f"{self.store.num_classes} classes")
        channels = self.store.prep.get("channels")
        if channels is not None:
            overrides.setdefault("in_channels", int(channels))
        self.model = build_model(self.model_name, **overrides).to(self.device)
        self.model_config: MANsConfig = self.model.config
        self.size = self.model_config.size
        self.net: nn.Module = self.model
        if dist.enabled:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = self._optimizer()
        s = t.scheduler
        self.scheduler = None if s.name == "none" else torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=s.factor, patience=s.patience, cooldown=s.cooldown,
            min_lr=s.min_lr)

        self.augment = build_augment(cfg.data.augment, self.store.layout)
        self.stream = cfg.data.stream
        # Weight EMA: the average is what is evaluated, selected and saved for inference; the raw
        # weights keep training (and are saved for --resume).
        self.ema = None
        if t.ema is not None:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(t.ema),
                                     use_buffers=True)
        # the checkpoint's data entry: what inference needs to feed the model
        self.spec = DataSpec.from_store(self.store, protocol=self.protocol, size=self.size,
                                        stream=self.stream, test_mirror=cfg.data.test_mirror)
        self.eval_model = with_test_mirror(self.ema.module if self.ema else self.model,
                                           self.spec)
        _check_confidence_augment(self.store.prep, cfg.data.augment)
        self.epoch = 0  # completed epochs
        self.best_metric: float | None = None
        self.best_epoch: int | None = None
        self.history: list[dict] = []

    def _optimizer(self) -> torch.optim.Optimizer:
        t = self.cfg.train
        params = self.model.parameters()
        if t.optimizer == "sgd":
            return torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, nesterov=t.nesterov,
                                   weight_decay=t.weight_decay)
        if t.optimizer == "adam":
            return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)

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
        rank = self.dist.rank
        seed = self.cfg.train.seed
        _seed_everything(epoch_seed(seed, epoch, rank))
        ds = SkeletonDataset(self.store, self.train_idx, self.size, augment=self.augment,
                             seed=seed, stream=self.stream)
        loader = train_loader(ds, batch_size=self.batch, seed=seed, epoch=epoch, rank=rank,
                              world=self.dist.world_size, num_workers=self.num_workers,
                              pin_memory=self.device.type == "cuda")
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
                                           mixup=self.cfg.train.mixup)
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
        if self.scheduler is not None:
            self.scheduler.step(monitored["loss"] if monitored else row["train_loss"])
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

    def _evaluate(self, idx: np.ndarray, desc: str) -> dict:
        ds = SkeletonDataset(self.store, idx, self.size, stream=self.stream)
        loader = eval_loader(ds, batch_size=self.batch, rank=self.dist.rank,
                             world=self.dist.world_size, num_workers=self.num_workers,
                             pin_memory=self.device.type == "cuda")
        return evaluate_model(self.eval_model, loader, self.device, num_classes=self.model_config
                              .num_classes, amp_dtype=self.amp_dtype, dist=self.dist,
                              progress=self.progress, desc=desc)

    def _final(self, writer) -> dict:
        """Evaluate the selected checkpoint once on the test split; write the outputs."""
        label = selection_name(self.sel)
        if self.sel != "last":
            if self.best_epoch is None:
                raise MansError("no checkpoint was selected (the monitored accuracy was never "
                                "computed)")
            barrier(self.dist)
            state = Checkpoint.load(self.out / best_name(self.sel), map_location=self.device)
            (self.ema.module if self.ema else self.model).load_state_dict(state.state_dict)
        result = self._evaluate(self.test_idx, "test")
        metrics = final_metrics(result, self.store.class_names, selection=label)
        metrics.update({
            "dataset": self.store.dataset, "protocol": self.protocol, "model": self.model_name,
            "epochs": self.epoch, "selected_epoch": self.best_epoch,
            "n_train": int(len(self.train_idx)), "n_val": int(len(self.val_idx)),
            "n_test": int(len(self.test_idx)), "validation_rule": self.val_rule,
            "seed": self.cfg.train.seed,
            "checkpoint": best_name(self.sel) if self.sel != "last" else "last.pt",
        })
        if self.sel == "val":
            metrics["val_top1"] = self.best_metric
        if self.sel == "test":
            metrics = label_test_selected(metrics)
        if self.dist.is_main:
            metrics = write_eval_outputs(metrics, result["cm"], self.store.class_names, self.out,
                                         title=f"{self.model_name}, {self.store.dataset} "
                                               f"{self.protocol} test split",
                                         selection=label)
            if writer is not None:
                for k in ("top1", "top5", "mean_class_acc"):
                    key = k if self.sel != "test" else f"test_selected_{k}"
                    writer.add_scalar(f"final/{key}", metrics[key], self.epoch)
            from .report import write_report  # report.html, MODEL_CARD.md (engine/report.py)

            try:  # the run is finished and saved: a failed figure must not fail it
                self._log(f"report: {write_report(self.out)['html']}")
            except Exception as e:  # noqa: BLE001
                self._log(f"warning: the run report could not be written ({e}); "
                          f"`mans report {self.out}` tries again")
        self._log(f"test ({label}, epoch {self.best_epoch}): "
                  + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                              if k.endswith(("top1", "top5", "mean_class_acc"))
                              and isinstance(v, float)))
        return metrics

    # --- state ---------------------------------------------------------------------------------

    def _state(self) -> Checkpoint:
        mcfg = self.model_config.to_dict()
        mcfg["pretrained"] = None  # the weights are in the checkpoint; the file may not exist later
        weights = lambda m: {k: v.detach().cpu() for k, v in m.state_dict().items()}  # noqa: E731
        extra = {}
        if self.ema is not None:  # state_dict holds the average (inference); raw for --resume
            extra = {"raw_state_dict": weights(self.model),
                     "ema_n_averaged": int(self.ema.n_averaged.item())}
        train = TrainState(
            **extra, epoch=self.epoch, selection=self.sel, best_metric=self.best_metric,
            best_epoch=self.best_epoch, optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict() if self.scheduler else None,
            rng=rng_state(), history=list(self.history), config=self.cfg.to_dict(),
            split_sizes={"train": int(len(self.train_idx)), "val": int(len(self.val_idx)),
                         "test": int(len(self.test_idx))})
        return Checkpoint(model_name=self.model_name, model_config=mcfg,
                          state_dict=weights(self.ema.module if self.ema else self.model),
                          data=self.spec, train=train)

    def _resume(self) -> None:
        path = self.out / "last.pt"
        if not path.is_file():
            raise ConfigError(f"--resume: {path} does not exist (nothing to resume)")
        state = Checkpoint.load(path, map_location="cpu")
        tr = state.train
        if tr is None:
            raise ConfigError(f"--resume: {path} holds no training state")
        saved = RunConfig.from_dict(tr.config, source=str(path))
        changed = [k for k in diff_configs(saved, self.cfg) if k not in RESUMABLE_KEYS]
        if changed:
            raise ConfigError(f"--resume: the config differs from the run's in {changed}; only "
                              f"{list(RESUMABLE_KEYS)} may change when resuming")
        if self.ema is not None:
            self.model.load_state_dict(tr.raw_state_dict)
            self.ema.module.load_state_dict(state.state_dict)
            self.ema.n_averaged.fill_(int(tr.ema_n_averaged))
        else:
            self.model.load_state_dict(state.state_dict)
        self.optimizer.load_state_dict(tr.optimizer)
        if self.scheduler is not None and tr.scheduler is not None:
            self.scheduler.load_state_dict(tr.scheduler)
        self.epoch = int(tr.epoch)
        self.best_metric, self.best_epoch = tr.best_metric, tr.best_epoch
        self.history = [dict(r) for r in tr.history]
        set_rng_state(tr.rng)
        self._log(f"resumed from {path} after epoch {self.epoch}, with the run's saved config")

    # --- outputs ------------------------------------------------------------------------------

    def _write_csv(self) -> None:
        fields = [f for f in CSV_FIELDS if any(f in r for r in self.history)]
        tmp = self.out / "metrics.csv.tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            for r in self.history:
                w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                            for k, v in r.items() if k in fields})
        os.replace(tmp, self.out / "metrics.csv")

    def _writer(self):
        if not self.dist.is_main:
            return None
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a crashed run logged after its last checkpoint.
        return SummaryWriter(str(self.out / "tb"), purge_step=self.epoch + 1)

    def _log(self, msg: str) -> None:
        """A progress line: on the terminal unless quiet, and always appended to
        ``RUN/train.log`` (rank 0), so a quiet run still leaves its per-epoch record."""
        if self.progress:
            tqdm.write(msg)
        if self.dist.is_main and self.out.is_dir():
            with open(self.out / "train.log", "a", encoding="utf-8") as f:
                f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}\n")
