"""The config of a resumed run: the run's own, saved in its ``last.pt``, never the command line's.

A resumed run must end exactly like an uninterrupted one, so ``--resume`` does not re-read the
config file named on the command line (which may have changed, or lack the ``--set`` values the
run started with). Only :data:`~mans.engine.config.RESUMABLE_KEYS` may be changed with ``--set``
(e.g. ``train.epochs`` to extend a run); any other ``--set`` that would change the run is refused
with the differences. ``train.stop_after_epoch`` is an instruction to one invocation ("stop after
epoch N"), so it is cleared on resume unless given again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import ConfigError
from .checkpoint import Checkpoint
from .config import RESUMABLE_KEYS, RunConfig, resolve_config
from .typed_config import flatten

_PER_INVOCATION = "train.stop_after_epoch"


def saved_config(out: Path) -> RunConfig:
    """The config stored in ``out/last.pt`` (ConfigError if there is nothing to resume)."""
    path = Path(out) / "last.pt"
    if not path.is_file():
        raise ConfigError(f"--resume: {path} does not exist (nothing to resume)")
    tr = Checkpoint.load(path, map_location="cpu").train
    if tr is None:
        raise ConfigError(f"--resume: {path} holds no training state")
    return RunConfig.from_dict(tr.config, source=str(path))


def resume_config(out: Path, overrides: Iterable[str] = ()) -> RunConfig:
    """The run's saved config with ``overrides`` applied, when they touch only resumable keys.

    Raises:
        ConfigError: nothing to resume, or an override that changes another key; the message
            lists each such key as ``key: saved -> requested``.
    """
    overrides = list(overrides or ())
    saved = saved_config(out)
    if not any(item.split("=", 1)[0].strip() == _PER_INVOCATION for item in overrides):
        overrides = [f"{_PER_INVOCATION}=null", *overrides]
    cfg = resolve_config(saved, overrides)
    before, after = flatten(saved.to_dict()), flatten(cfg.to_dict())
    changed = sorted(k for k in before.keys() | after.keys()
                     if before.get(k) != after.get(k) and k not in RESUMABLE_KEYS)
    if changed:
        diff = "; ".join(f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in changed)
        raise ConfigError(f"--resume continues the run with its saved config; --set may change "
                          f"only {', '.join(RESUMABLE_KEYS)}, not: {diff}")
    return cfg
