"""The state of a training run as a checkpoint, and ``--resume`` from one (part of
:class:`mans.engine.train._Trainer`): every epoch writes :meth:`RunState._state` as ``last.pt``
(and ``best.pt``); :meth:`RunState._resume` restores weights, optimiser, schedule, RNGs and
history from ``last.pt``, so a resumed run ends as an uninterrupted one.
"""

from __future__ import annotations

from .checkpoint import Checkpoint, TrainState, rng_state, set_rng_state
from .config import RESUMABLE_KEYS, RunConfig, diff_configs
from ..errors import ConfigError


class RunState:
    """Checkpoint and resume of a run (see module docstring)."""

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
