"""Training, evaluation and checkpoints.

- :mod:`~mans.engine.config`: the typed run config (``load_config``) and built-in configs.
- :mod:`~mans.engine.train`: ``run_training`` (``mans train``), ``train_step`` and the epoch loop;
  the run's set-up and loaders, evaluation, checkpoint/resume and running outputs are
  :mod:`~mans.engine.run_setup`, :mod:`~mans.engine.run_evaluation`,
  :mod:`~mans.engine.run_state`, :mod:`~mans.engine.run_outputs`.
- :mod:`~mans.engine.evaluate`: ``run_eval`` (``mans eval``) and the evaluation loop.
- :mod:`~mans.engine.metrics`: top-k, mean class accuracy, confusion matrix (pure NumPy).
- :mod:`~mans.engine.checkpoint`: the checkpoint schema (``Checkpoint``) and its atomic,
  code-free files.
- :mod:`~mans.engine.data`: validation split and per-epoch loaders.
- :mod:`~mans.engine.distributed`: DDP set-up under ``torchrun``.
"""

from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import RunConfig, load_config

__all__ = ["Checkpoint", "RunConfig", "load_config", "load_checkpoint", "save_checkpoint",
           "run_training", "run_eval"]


def __getattr__(name: str):
    # The trainer pulls in the models and the store; import it only when asked for.
    if name == "run_training":
        from .train import run_training

        return run_training
    if name == "run_eval":
        from .evaluate import run_eval

        return run_eval
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
