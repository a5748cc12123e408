"""``mans predict``: classify raw skeleton files with a trained checkpoint.

A file walks the same path as a training sample, with the settings saved in the checkpoint:
reader -> :func:`~mans.data.transforms.prepare_sequence` (bodies, view) -> :func:`~mans.data.streams.model_input`
(the checkpoint's input stream; S frames, S joint columns) -> model. So training and inference cannot preprocess differently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..engine.checkpoint import Checkpoint
from ..engine.distributed import resolve_device
from ..engine.ensemble import fuse
from ..engine.selection import find_checkpoint
from ..devices import DEFAULT_DEVICE
from ..errors import ConfigError
from ..formats import read_sequence
from .runtime import (ModelInputs, file_of, format_prediction, predict_each, prediction_record,
                      softmax)
from ..skeleton import Sequence

__all__ = ["Predictor", "predict_files", "format_prediction"]


class Predictor(ModelInputs):
    """A checkpoint loaded once, applied to many files (its data settings: ``spec``, and the
    ``size``, ``class_names``, ``layout``, ``prep``, ``stream`` read from them).

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
        self.spec = ckpt.data

    @torch.no_grad()
    def scores(self, x: str | Path | Sequence, fmt: str | None = None
               ) -> tuple[np.ndarray, np.ndarray | None, dict]:
        """``(logits (K,), attention (C, S) or None, metadata)`` of one raw file, or of a
        sequence already read (several checkpoints fused on one file read it once)."""
        img, meta = self.image(x, fmt)
        x = torch.from_numpy(img).unsqueeze(0).to(self.device)  # (1, 3, S, S)
        logits, attention = self.model(x, return_attention=True)  # (1, K), (1, 3, S) or None
        return (logits[0].float().cpu().numpy(),
                None if attention is None else attention[0].float().cpu().numpy(), meta)

    def predict(self, x: str | Path | Sequence, topk: int = 5, fmt: str | None = None) -> dict:
        """Top-k classes with probabilities and the per-frame attention of one file (or of a
        sequence already read).

        The attention is returned per coordinate channel (x, y, z) on the model's S frames; for a
        sequence of T' ≤ S frames the zero-padded rows are marked by ``frame_index`` = -1, and for
        T' > S ``frame_index`` gives the original (kept) frame each row was sampled from.
        """
        logits, attention, meta = self.scores(x, fmt)
        return prediction_record(file_of(x), meta, logits, attention, size=self.size,
                                 class_names=self.class_names, topk=topk)


def predict_files(checkpoint: str | Path, files: list[str | Path], *, topk: int = 5,
                  device: str = DEFAULT_DEVICE, fmt: str | None = None,
                  ensemble: list[str | Path] = (), errors: list[dict] | None = None
                  ) -> list[dict]:
    """Predict every file with one loaded checkpoint (see :meth:`Predictor.predict`), or, with
    ``ensemble`` checkpoints, with the mean of the softmax scores of all of them
    (:func:`mans.engine.ensemble.fuse`, as ``mans ensemble`` fuses runs; each fed its own input
    stream; the attention shown is the first checkpoint's).

    ``errors``: as in :func:`mans.inference.runtime.predict_each` (a bad file is listed there and left
    out, instead of raising).
    """
    if topk < 1:
        raise ConfigError(f"topk must be >= 1, got {topk}")
    predictors = [Predictor(c, device) for c in [checkpoint, *ensemble]]
    first = predictors[0]
    for p in predictors[1:]:
        if p.class_names != first.class_names:
            raise ConfigError(f"{p.path} predicts other classes than {first.path}; only "
                              f"checkpoints of the same classes can be fused")

    def one(f: str | Path) -> dict:
        seq = read_sequence(f, fmt, first.layout)  # read once, prepared by each its own way
        outs = [p.scores(seq) for p in predictors]  # [(logits (K,), attention, meta)]
        prob = fuse([softmax(o[0])[None] for o in outs])[0]  # (K,): as mans ensemble fuses
        r = prediction_record(f, outs[0][2], None, outs[0][1], size=first.size,
                              class_names=first.class_names, topk=topk, prob=prob)
        if len(predictors) > 1:
            r["checkpoints"] = [str(p.path) for p in predictors]
        return r

    return predict_each(one, files, errors)
