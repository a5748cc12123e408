"""``mans predict``: classify raw skeleton files with a trained checkpoint.

A file goes the checkpoint's input pipeline (:class:`~mans.data.pipeline.InputPipeline`, built
from the settings saved in the checkpoint: reader -> bodies -> view -> frames -> stream -> the
tensor the model takes), as a training sample did; then the model
(:class:`~mans.inference.records.PredictorBase` makes the record).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..devices import DEFAULT_DEVICE
from ..engine.checkpoint import Checkpoint
from ..engine.distributed import resolve_device
from ..engine.ensemble import fuse
from ..engine.selection import find_checkpoint
from ..errors import ConfigError
from .records import (PredictorBase, format_prediction, predict_each, prediction_record,
                      softmax)

__all__ = ["Predictor", "predict_files", "format_prediction"]


class Predictor(PredictorBase):
    """A checkpoint loaded once, applied to many files (its data settings: ``spec``, its input
    pipeline: ``pipeline``; ``size``, ``class_names``, ``layout``, ``prep`` read from them).

    Args:
        checkpoint: path of a ``.pt`` written by ``mans train``, or a run folder (its selected
            checkpoint, else ``last.pt``, as ``mans eval`` picks it).
        device: ``cpu``, ``cuda[:N]`` or ``auto`` (default :data:`mans.devices.DEFAULT_DEVICE`).
    """

    def __init__(self, checkpoint: str | Path, device: str = DEFAULT_DEVICE):
        self.path = find_checkpoint(checkpoint)
        ckpt = Checkpoint.load(self.path)
        self.device = resolve_device(device)
        self.model = ckpt.build_model(self.device)
        self._set_spec(ckpt.data)

    @torch.no_grad()
    def network(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(B, C, S, W)`` model inputs -> ``logits (B, K)``, ``attention (B, C, S)`` or None."""
        t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)
        logits, attention = self.model(t, return_attention=True)
        return (logits.float().cpu().numpy(),
                None if attention is None else attention.float().cpu().numpy())


def predict_files(checkpoint: str | Path, files: list[str | Path], *, topk: int = 5,
                  device: str = DEFAULT_DEVICE, fmt: str | None = None,
                  ensemble: list[str | Path] = (), errors: list[dict] | None = None
                  ) -> list[dict]:
    """Predict every file with one loaded checkpoint (see :meth:`Predictor.predict`), or, with
    ``ensemble`` checkpoints, with the mean of the softmax scores of all of them
    (:func:`mans.engine.ensemble.fuse`, as ``mans ensemble`` fuses runs; each fed by its own
    input pipeline; the attention shown is the first checkpoint's).

    ``errors``: as in :func:`mans.inference.records.predict_each` (a bad file is listed there and
    left out, instead of raising).
    """
    if topk < 1:
        raise ConfigError(f"topk must be >= 1, got {topk}")
    predictors = [Predictor(c, device) for c in [checkpoint, *ensemble]]
    first = predictors[0]
    for p in predictors[1:]:
        if p.class_names != first.class_names:
            raise ConfigError(f"{p.path} predicts other classes than {first.path}; only "
                              f"checkpoints of the same classes can be fused")
    if len(predictors) == 1:
        return predict_each(lambda f: first.predict(f, topk=topk, fmt=fmt), files, errors)

    def fused(f: str | Path) -> dict:
        seq = first.pipeline.read(f, fmt=fmt)  # read once, made into each model's input
        inputs = [p.pipeline(seq) for p in predictors]
        outs = [p.scores(inp) for p, inp in zip(predictors, inputs)]  # [(logits, attention)]
        prob = fuse([softmax(o[0])[None] for o in outs])[0]  # (K,): as mans ensemble fuses
        r = prediction_record(f, inputs[0], None, outs[0][1], class_names=first.class_names,
                              topk=topk, prob=prob)
        r["checkpoints"] = [str(p.path) for p in predictors]
        return r

    return predict_each(fused, files, errors)
