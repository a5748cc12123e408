"""``mans predict``: classify raw skeleton files with a trained checkpoint.

A file walks the same path as a training sample, with the settings saved in the checkpoint:
reader -> :func:`~mans.transforms.prepare_sequence` (bodies, view) -> :func:`~mans.streams.model_input`
(the checkpoint's input stream; S frames, S joint columns) -> model. So training and inference cannot preprocess differently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .engine.checkpoint import build_model_from_checkpoint, checkpoint_stream, load_checkpoint
from .errors import ConfigError, MansError
from .formats import read_sequence
from .skeleton import Layout, get_layout, register_layout
from .streams import model_input
from .transforms import PrepConfig, frame_indices, prepare_sequence


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Predictor:
    """A checkpoint loaded once, applied to many files.

    Args:
        checkpoint: path of a ``.pt`` written by ``mans train``, or a run folder (its selected
            checkpoint, else ``last.pt``, as ``mans eval`` picks it).
        device: ``cpu``, ``cuda[:N]`` or ``auto``.
    """

    def __init__(self, checkpoint: str | Path, device: str = "auto"):
        from .engine.evaluate import find_checkpoint

        self.path = find_checkpoint(checkpoint)
        state = load_checkpoint(self.path)
        self.device = resolve_device(device)
        self.model = build_model_from_checkpoint(state, self.device)
        data = state["data"]
        self.size = int(data["size"])
        self.class_names = list(data["class_names"])
        self.prep = PrepConfig.from_dict(data["prep"])
        self.stream = checkpoint_stream(state)
        layout_def = data["prep"].get("layout_def")
        self.layout = Layout.from_dict(layout_def) if layout_def else get_layout(data["layout"])
        try:
            get_layout(self.layout.name)
        except ConfigError:  # a user layout: make it known to the transforms
            register_layout(self.layout)

    def image(self, path: str | Path, fmt: str | None = None) -> tuple[np.ndarray, dict]:
        """The model input ``(3, S, S)`` for one raw file, and the sequence's metadata."""
        seq = read_sequence(path, fmt)
        if seq.layout != self.layout.name:
            raise ConfigError(
                f"{path}: the file has joint layout {seq.layout!r} but the checkpoint "
                f"{self.path} was trained on {self.layout.name!r}"
            )
        x = prepare_sequence(seq, self.prep)  # (C, T', J)
        meta = seq.metadata()
        meta["frames_used"] = int(x.shape[1])
        return model_input(x, self.size, self.stream, self.layout), meta

    @torch.no_grad()
    def scores(self, path: str | Path, fmt: str | None = None
               ) -> tuple[np.ndarray, np.ndarray, dict]:
        """``(prob (K,) softmax, attention (3, S), metadata)`` of one raw file."""
        img, meta = self.image(path, fmt)
        x = torch.from_numpy(img).unsqueeze(0).to(self.device)  # (1, 3, S, S)
        logits, attention = self.model(x, return_attention=True)  # (1, K), (1, 3, S)
        prob = torch.softmax(logits.float(), dim=1)[0].cpu().numpy()
        return prob, attention[0].float().cpu().numpy(), meta

    def predict(self, path: str | Path, topk: int = 5, fmt: str | None = None) -> dict:
        """Top-k classes with probabilities and the per-frame attention of one file.

        The attention is returned per coordinate channel (x, y, z) on the model's S frames; for a
        sequence of T' ≤ S frames the zero-padded rows are marked by ``frame_index`` = -1, and for
        T' > S ``frame_index`` gives the original (kept) frame each row was sampled from.
        """
        prob, attention, meta = self.scores(path, fmt)
        return self._result(path, prob, attention, meta, topk)

    def _result(self, path, prob: np.ndarray, attention: np.ndarray, meta: dict,
                topk: int) -> dict:
        k = min(topk, prob.size)
        order = np.argsort(-prob, kind="stable")[:k]
        return {
            "file": str(path),
            "name": meta["name"],
            "top": [{"label": int(i), "class": self.class_names[i], "prob": float(prob[i])}
                    for i in order],
            "attention": attention.round(4).tolist(),  # (3, S)
            "frame_index": _frame_map(meta["frames_used"], self.size).tolist(),
            "true_label": meta.get("label"),
        }


def _frame_map(t: int, size: int) -> np.ndarray:
    """For each of the S model rows, the index of the prepared frame it holds (-1 for padding)."""
    if t > size:
        return frame_indices(t, size)
    rows = np.full(size, -1, dtype=np.int64)
    before = (size - t) // 2
    rows[before:before + t] = np.arange(t)
    return rows


def predict_files(checkpoint: str | Path, files: list[str | Path], *, topk: int = 5,
                  device: str = "auto", fmt: str | None = None,
                  ensemble: list[str | Path] = (), errors: list[dict] | None = None
                  ) -> list[dict]:
    """Predict every file with one loaded checkpoint (see :meth:`Predictor.predict`), or, with
    ``ensemble`` checkpoints, with the mean of the softmax scores of all of them (each fed its
    own input stream; the attention shown is the first checkpoint's).

    With ``errors`` (a list), a file that cannot be read or does not fit the checkpoint does not
    stop the others: ``{"file", "error"}`` is appended to ``errors`` and the file is left out of
    the returned list. Without it the first such file raises its :class:`MansError`.
    """
    if topk < 1:
        raise ConfigError(f"topk must be >= 1, got {topk}")
    predictors = [Predictor(c, device) for c in [checkpoint, *ensemble]]
    for p in predictors[1:]:
        if p.class_names != predictors[0].class_names:
            raise ConfigError(f"{p.path} predicts other classes than {predictors[0].path}; "
                              f"only checkpoints of the same classes can be fused")
    results = []
    for f in files:
        try:
            outs = [p.scores(f, fmt) for p in predictors]  # [(prob (K,), attention, meta)]
        except MansError as e:
            if errors is None:
                raise
            errors.append({"file": str(f), "error": str(e)})
            continue
        prob = np.mean([o[0] for o in outs], axis=0)
        r = predictors[0]._result(f, prob, outs[0][1], outs[0][2], topk)
        if len(predictors) > 1:
            r["checkpoints"] = [str(p.path) for p in predictors]
        results.append(r)
    return results


def format_prediction(r: dict) -> str:
    """Human-readable lines: the top classes, then the mean attention per frame as a sparkline."""
    lines = [f"{r['file']}"]
    for i, t in enumerate(r["top"], 1):
        lines.append(f"  {i}. {t['class']:<40s} {t['prob']:.3f}")
    att = np.asarray(r["attention"]).mean(axis=0)
    rows = np.asarray(r["frame_index"]) >= 0
    bars = " ▁▂▃▄▅▆▇█"
    spark = "".join(bars[int(round(a * 8))] if keep else "·" for a, keep in zip(att, rows))
    lines.append(f"  attention per frame (mean of x, y, z; · = padding): {spark}")
    return "\n".join(lines)
