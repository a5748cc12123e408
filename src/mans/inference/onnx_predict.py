"""``mans predict --onnx``: classify raw skeleton files with an exported model on onnxruntime.

No torch at inference time: the file is read and prepared by the NumPy code shared with the
PyTorch path (:mod:`mans.inference.runtime`), with the preprocessing settings that :mod:`mans.inference.export`
stored in the ONNX file's ``mans`` metadata entry. This module must never import torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError, FormatError
from .runtime import ModelInputs, file_of, predict_each, prediction_record
from ..skeleton import Sequence
from ..data.spec import DataSpec
from ..threads import default_threads

# The exported file's metadata entry, defined here, by its torch-free reader; mans.inference.export
# writes it: {"format", "version", "mans_version", "model": the checkpoint's model entry, "data":
# DataSpec.to_dict(), "checkpoint": {"name", "sha256", "epoch"}}. Version 1 (before
# mans.data.spec) also held the image size in "data"; both are read.
METADATA_KEY = "mans"
FORMAT = "mans-onnx"
VERSION = 2


class OnnxPredictor(ModelInputs):
    """An exported ``.onnx`` model loaded once into an onnxruntime session (CPU); its data
    settings (``spec``) come from the file's metadata.

    Args:
        model: path of a file written by ``mans export CKPT --onnx FILE``.
        threads: intra-op threads of the session (None: onnxruntime's default).
    """

    def __init__(self, model: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("mans predict --onnx needs onnxruntime: pip install "
                              "'mans[onnx]'") from None
        self.path = Path(model)
        if not self.path.is_file():
            raise FormatError(self.path, "no such ONNX model file")
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            raise FormatError(self.path, f"not a readable ONNX model ({type(e).__name__}: "
                                         f"{str(e).splitlines()[0][:200]})") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise FormatError(self.path, f"an ONNX model without the {METADATA_KEY!r} metadata "
                                         f"entry: not written by mans export")
        try:
            meta = json.loads(raw)
        except json.JSONDecodeError as e:
            raise FormatError(self.path, f"the {METADATA_KEY!r} metadata entry is not JSON "
                                         f"({e.msg})") from None
        found = meta.get("format") if isinstance(meta, dict) else None
        if found != FORMAT:
            raise FormatError(self.path, f"metadata format {found!r}, expected {FORMAT!r}")
        if int(meta.get("version", 1)) > VERSION:
            raise FormatError(self.path, f"metadata version {meta['version']} is newer than this "
                                         f"mans (reads up to {VERSION}); upgrade mans")
        config = (meta.get("model") or {}).get("config") or {}
        self.spec = DataSpec.from_dict(meta.get("data"), size=config.get("size"),
                                       source=self.path)
        self.has_attention = bool(config.get("use_tarm", True))

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``images (B, C, S, S)`` (``(B, C, S, J)``: a sequence model) float32 -> ``logits
        (B, K)``, ``attention (B, C, S)``."""
        logits, attention = self.session.run(
            ["logits", "attention"], {"image": np.ascontiguousarray(images, dtype=np.float32)})
        return logits, attention

    def predict(self, x: str | Path | Sequence, topk: int = 5, fmt: str | None = None) -> dict:
        """Top-k classes with probabilities and the per-frame attention of one file, or of a
        sequence already read (the same record as :meth:`mans.inference.predict.Predictor.predict`)."""
        img, meta = self.image(x, fmt)
        logits, attention = self.run(img[None])  # (1, K), (1, C, S)
        return prediction_record(file_of(x), meta, logits[0],
                                 attention[0] if self.has_attention else None,
                                 size=self.size, class_names=self.class_names, topk=topk)


def predict_files_onnx(model: str | Path, files: list[str | Path], *, topk: int = 5,
                       fmt: str | None = None, errors: list[dict] | None = None,
                       threads: int | None = None) -> list[dict]:
    """Predict every file with one loaded ONNX model (see :meth:`OnnxPredictor.predict`) on
    ``threads`` intra-op threads (None: :func:`mans.threads.default_threads`, as for torch); bad
    files as :func:`mans.inference.runtime.predict_each` handles them (``errors``)."""
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    predictor = OnnxPredictor(model, threads=threads or default_threads())
    return predict_each(lambda f: predictor.predict(f, topk=topk, fmt=fmt), files, errors)
