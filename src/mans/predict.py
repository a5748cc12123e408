"""``mans predict``: classify raw skeleton files with a trained checkpoint.

A file walks the same path as a training sample, with the settings saved in the checkpoint:
reader -> :func:`~mans.transforms.prepare_sequence` (bodies, view) -> :func:`~mans.transforms.to_image`
(S frames, S joint columns) -> model. So training and inference cannot preprocess differently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .engine.checkpoint import build_model_from_checkpoint, load_checkpoint
from .runtime import file_image, format_prediction, frame_map, layout_from_data, prediction_record
from .transforms import PrepConfig

__all__ = ["Predictor", "predict_files", "format_prediction", "resolve_device"]
_frame_map = frame_map  # the name the tests and older callers use


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Predictor:
    """A checkpoint loaded once, applied to many files.

    Args:
        checkpoint: path of a ``.pt`` written by ``mans train``.
        device: ``cpu``, ``cuda[:N]`` or ``auto``.
    """

    def __init__(self, checkpoint: str | Path, device: str = "auto"):
        self.path = Path(checkpoint)
        state = load_checkpoint(self.path)
        self.device = resolve_device(device)
        self.model = build_model_from_checkpoint(state, self.device)
        data = state["data"]
        self.size = int(data["size"])
        self.class_names = list(data["class_names"])
        self.prep = PrepConfig.from_dict(data["prep"])
        self.layout = layout_from_data(data)

    def image(self, path: str | Path, fmt: str | None = None) -> tuple[np.ndarray, dict]:
        """The model input ``(3, S, S)`` for one raw file, and the sequence's metadata."""
        return file_image(path, layout=self.layout, prep=self.prep, size=self.size,
                          model_path=self.path, fmt=fmt)

    @torch.no_grad()
    def predict(self, path: str | Path, topk: int = 5, fmt: str | None = None) -> dict:
        """Top-k classes with probabilities and the per-frame attention of one file.

        The attention is returned per coordinate channel (x, y, z) on the model's S frames; for a
        sequence of T' ≤ S frames the zero-padded rows are marked by ``frame_index`` = -1, and for
        T' > S ``frame_index`` gives the original (kept) frame each row was sampled from.
        """
        img, meta = self.image(path, fmt)
        x = torch.from_numpy(img).unsqueeze(0).to(self.device)  # (1, 3, S, S)
        logits, attention = self.model(x, return_attention=True)  # (1, K), (1, 3, S) or None
        return prediction_record(
            path, meta, logits[0].float().cpu().numpy(),
            None if attention is None else attention[0].float().cpu().numpy(),
            size=self.size, class_names=self.class_names, topk=topk)


def predict_files(checkpoint: str | Path, files: list[str | Path], *, topk: int = 5,
                  device: str = "auto", fmt: str | None = None) -> list[dict]:
    """Predict every file with one loaded checkpoint (see :meth:`Predictor.predict`)."""
    predictor = Predictor(checkpoint, device)
    return [predictor.predict(f, topk=topk, fmt=fmt) for f in files]
