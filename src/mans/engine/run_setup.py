"""Set-up of a training run (the first part of :class:`mans.engine.train._Trainer`): the store and
its splits, the network, optimiser, learning-rate schedule, weight EMA and augmentation, the
loaders each epoch draws from, and the process-wide modes of a run (seeds, deterministic
kernels).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.augment import build_augment
from ..data.dataset import SkeletonDataset
from ..data.pipeline import InputPipeline
from ..data.spec import DataSpec
from ..data.store import PreparedStore
from ..errors import ConfigError
from ..models import MANsConfig, build_model, fill_data_overrides
from .checkpoint import with_test_mirror
from .config import RunConfig, SchedulerConfig, TrainConfig
from .data import check_protocol, eval_loader, labelled, protocol_train_val, train_loader
from .distributed import DistInfo


def build_optimizer(model: nn.Module, t: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``train.optimizer`` over ``model``'s parameters."""
    params = model.parameters()
    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, nesterov=t.nesterov,
                               weight_decay=t.weight_decay)
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
    return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)


def lr_factor(s: SchedulerConfig, epochs: int):
    """``f(i)``: the factor of ``train.lr`` in epoch ``i + 1`` (``i`` = completed epochs) for the
    schedules ``none``, ``cosine`` and ``step``, with ``W = warmup_epochs``, ``E = epochs``::

        i < W        0.1 + 0.9 * i / W                    linear warm-up from lr / 10
        none         1
        cosine       (1 + cos(pi * (i - W) / (E - W))) / 2   1 in epoch W + 1, -> 0 at epoch E + 1
        step         gamma ** #{m in milestones : m <= i}  epochs after milestone m: times gamma
    """
    w, name = int(s.warmup_epochs), s.name
    milestones = tuple(int(m) for m in s.milestones or ())

    def factor(i: int) -> float:
        if i < w:
            return 0.1 + 0.9 * i / w
        if name == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * (i - w) / max(1, epochs - w)))
        if name == "step":
            return float(s.gamma) ** sum(m <= i for m in milestones)
        return 1.0

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, s: SchedulerConfig, epochs: int = 1):
    """The learning-rate schedule of ``train.scheduler`` (the one function that makes it),
    stepped once per epoch by :func:`step_scheduler`: reduce-on-plateau of the monitored loss,
    a :class:`~torch.optim.lr_scheduler.LambdaLR` of :func:`lr_factor` for ``cosine``, ``step``
    and a warmed-up ``none``, or None for ``none`` without warm-up (``epochs``: the run's
    ``train.epochs``, the length of the cosine)."""
    if s.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=s.factor, patience=s.patience, cooldown=s.cooldown,
            min_lr=s.min_lr)
    if s.name == "none" and not s.warmup_epochs:
        return None
    # A plain function: LambdaLR's state holds only its epoch count; the factor is rebuilt from
    # the config on --resume (a resumed run with another train.epochs follows the new length).
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(s, epochs))


def step_scheduler(scheduler, monitored_loss: float) -> None:
    """End-of-epoch step: reduce-on-plateau watches ``monitored_loss``; the others count."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(monitored_loss)
    elif scheduler is not None:
        scheduler.step()


def seed_everything(seed: int) -> None:
    """Python, NumPy (legacy global) and torch (CPU and every CUDA device) RNGs from ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


@contextlib.contextmanager
def deterministic_mode(on: bool, device: torch.device):
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


def check_confidence_augment(prep: dict, augment) -> None:
    """A store with a confidence channel (view ``2d --confidence``) holds (x, y, score): the
    geometric augmentations would rotate / scale / perturb the scores as if they were a
    coordinate, so they are refused rather than silently applied."""
    if not prep.get("confidence"):
        return
    bad = [k for k, off in (("rotation_deg", all(a == 0 for a in augment.rotation_deg)),
                            ("scale", tuple(augment.scale) == (1.0, 1.0)),
                            ("shear", augment.shear == 0),
                            ("noise_std", augment.noise_std == 0)) if not off]
    if bad:
        raise ConfigError(f"the store has a confidence channel (prepared with --view 2d "
                          f"--confidence), which data.augment.{', '.join(bad)} would treat as a "
                          f"coordinate; set them off (rotation_deg=[0,0,0], scale=[1,1], "
                          f"noise_std=0) or prepare without --confidence")


def check_confidence_pipeline(prep: dict, data) -> None:
    """Likewise for ``data.centre`` and ``data.normalise``, which would shift / scale the
    scores."""
    if prep.get("confidence") and (data.centre, data.normalise) != ("none", "none"):
        raise ConfigError("the store has a confidence channel (prepared with --view 2d "
                          "--confidence), which data.centre / data.normalise would treat as a "
                          "coordinate; set them to none or prepare without --confidence")


class RunSetup:
    """What one run trains with, set up from its config and store (see module docstring)."""

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
        seed_everything(t.seed)
        self.model_name = cfg.model.name
        overrides = cfg.model.overrides()
        k = overrides.setdefault("num_classes", self.store.num_classes)
        if k < self.store.num_classes:
            raise ConfigError(f"model.num_classes={k} but the store has "
                              f"{self.store.num_classes} classes")
        channels = self.store.prep.get("channels")
        if channels is not None:
            overrides.setdefault("in_channels", int(channels))
        # a sequence STCM sees the joint columns as they are: their number and body slots
        bodies = int(self.store.prep["max_bodies"])
        fill_data_overrides(self.model_name, overrides, bodies=bodies,
                            joints=self.store.prep.get("joints")
                            or bodies * self.store.layout.num_joints,
                            parents=self.store.layout.parents)
        self.model = build_model(self.model_name, **overrides).to(self.device)
        self.model_config: MANsConfig = self.model.config
        self.size = self.model_config.size
        self.net: nn.Module = self.model
        if dist.enabled:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = build_optimizer(self.model, t)
        self.scheduler = build_scheduler(self.optimizer, t.scheduler, t.epochs)

        # Weight EMA: the average is what is evaluated, selected and saved for inference; the raw
        # weights keep training (and are saved for --resume).
        self.ema = None
        if t.ema is not None:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(t.ema),
                                     use_buffers=True)
        # the checkpoint's data entry (what inference needs to feed the model: the input the
        # model declares, the run's pipeline settings) and the input pipeline built from it,
        # with the run's augmentation for the training samples
        d = cfg.data
        self.spec = DataSpec.from_store(self.store, protocol=self.protocol, size=self.size,
                                        stream=d.stream, test_mirror=d.test_mirror,
                                        input=self.model_config.input, centre=d.centre,
                                        normalise=d.normalise, frames=d.frames)
        self.pipeline = InputPipeline(self.spec, augment=build_augment(d.augment,
                                                                       self.store.layout),
                                      source=data)  # checks the roles centre / normalise need
        self.eval_model = with_test_mirror(self.ema.module if self.ema else self.model,
                                           self.spec)
        check_confidence_augment(self.store.prep, cfg.data.augment)
        check_confidence_pipeline(self.store.prep, cfg.data)
        self.epoch = 0  # completed epochs
        self.best_metric: float | None = None
        self.best_epoch: int | None = None
        self.history: list[dict] = []

    # --- loaders ------------------------------------------------------------------------------

    def _train_loader(self, epoch: int) -> torch.utils.data.DataLoader:
        """This process's shuffled, augmented batches of the training split for ``epoch``."""
        seed = self.cfg.train.seed
        ds = SkeletonDataset(self.store, self.train_idx, self.pipeline, seed=seed, train=True)
        return train_loader(ds, batch_size=self.batch, seed=seed, epoch=epoch,
                            rank=self.dist.rank, world=self.dist.world_size,
                            num_workers=self.num_workers, pin_memory=self.device.type == "cuda")

    def _eval_loader(self, idx: np.ndarray) -> torch.utils.data.DataLoader:
        """This process's shard of the samples ``idx``, in order, without augmentation."""
        ds = SkeletonDataset(self.store, idx, self.pipeline)
        return eval_loader(ds, batch_size=self.batch, rank=self.dist.rank,
                           world=self.dist.world_size, num_workers=self.num_workers,
                           pin_memory=self.device.type == "cuda")
