"""``mans export``: a checkpoint as an ONNX model (logits and TARM attention, dynamic batch).

The ONNX graph has one input and two outputs::

    image      float32 (batch, C, S, W)   the model input its input pipeline makes (W = S: the
                                          image; W = J: a sequence; mans.data.pipeline)
    logits     float32 (batch, K)
    attention  float32 (batch, C, S)      per-frame TARM weights; all ones for a model without
                                          a TARM or with attention disabled

Everything ``mans predict --onnx`` needs to preprocess a raw file and name the classes (the
checkpoint's ``model`` and ``data`` entries: image size, prep, layout, class names, stream) travels
inside the file as the metadata entry ``mans`` (JSON), so the ``.onnx`` file alone is a deployable
model.

The TARM's recurrence is exported as its plain loop (:func:`mans.models.gru.gru_scan_loop`),
unrolled over the S frames; the trace runs under ``torch.no_grad`` so that the training-time
autograd function (which writes into preallocated buffers) is never traced.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .. import __version__
from ..engine.checkpoint import Checkpoint
from ..engine.selection import find_checkpoint
from ..errors import ConfigError
from ..outputs import atomic_path, check_out_folder
from .onnx_predict import FORMAT, METADATA_KEY, VERSION

OPSET = 17
# opsets this graph exports to: the TARM's einsum needs 12; torch's TorchScript exporter
# (dynamo=False, below) goes up to 20
OPSETS = range(12, 21)
INPUT, OUTPUTS = "image", ("logits", "attention")


class _WithAttention(nn.Module):
    """``x -> (logits, attention)`` with attention ``(B, C, S)`` always a tensor (ones when the
    model has no TARM), as one ONNX graph needs a fixed set of outputs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits, attention = self.model(x, return_attention=True)
        if attention is None:
            attention = torch.ones_like(x[:, :, :, 0])  # (B, C, S)
        return logits, attention


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_onnx(checkpoint: str | Path, out: str | Path, *, opset: int = OPSET,
                check: bool = True) -> dict:
    """Write ``checkpoint`` as an ONNX model to ``out``.

    Args:
        checkpoint: a ``.pt`` written by ``mans train``, or a run folder (its selected
            checkpoint, as ``mans eval`` picks it).
        out: the ``.onnx`` path (its folder is created).
        opset: ONNX opset of the graph.
        check: run the file on onnxruntime (when installed) at a batch size other than the one
            traced and report the largest absolute difference to PyTorch.

    Returns:
        ``{"onnx", "checkpoint", "variant", "size", "num_classes", "opset", "bytes"}`` plus,
        with ``check``, ``max_abs_diff_logits`` / ``max_abs_diff_attention`` (or
        ``check: "skipped: onnxruntime not installed"``).
    """
    checkpoint, out = find_checkpoint(checkpoint), Path(out)
    if out.suffix != ".onnx":
        raise ConfigError(f"{out}: the ONNX file name must end in .onnx")
    if opset not in OPSETS:
        raise ConfigError(f"--opset {opset}: mans exports to opsets {OPSETS.start}-"
                          f"{OPSETS.stop - 1} (default {OPSET})")
    check_out_folder(out.parent, "--onnx")
    if importlib.util.find_spec("onnx") is None:  # checked before any work: the metadata needs it
        raise ConfigError("mans export needs the onnx package: pip install 'mans[onnx]'")
    state = Checkpoint.load(checkpoint)
    model = state.build_model("cpu")
    with atomic_path(out) as tmp:  # a failed export leaves no half-made model
        wrapper = export_model(model, tmp, opset=opset)
        _add_metadata(tmp, state, checkpoint)
    cfg = model.config
    info = {"onnx": str(out), "checkpoint": str(checkpoint), "variant": cfg.variant,
            "size": cfg.size,
            "num_classes": cfg.num_classes, "opset": opset, "bytes": out.stat().st_size}
    if check:
        info.update(parity(wrapper, out, batch=3))
    return info


def export_model(model: nn.Module, out: str | Path, *, opset: int = OPSET) -> nn.Module:
    """Write the ONNX graph of a :class:`~mans.models.MANs` ``model`` (moved to the CPU, eval
    mode, plain memory format, TARM on its scan) to ``out``, without the ``mans`` metadata; its
    input is the one the model declares (``config.input_shape``). Returns the wrapped module that
    was traced (``x -> (logits, attention)``)."""
    out = Path(out)
    model = model.cpu().to(memory_format=torch.contiguous_format).eval()
    tarm = getattr(getattr(model, "net", model), "tarm", None)  # net: under MirrorAverage
    if tarm is not None:
        tarm.recurrence = "scan"  # the plain loop exports to plain ONNX ops
    wrapper = _WithAttention(model).eval()
    example = torch.zeros(2, *model.config.input_shape)  # (2, C, S, S or J): batch 2, dynamic
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # the trace turns Python shape arithmetic ('same' padding, S) into constants: intended,
        # as S is fixed per model; only the batch axis is dynamic
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # dynamo=False: the torch.export-based exporter needs onnxscript, which mans does not
        # depend on; the TorchScript exporter (deprecated, still shipped) needs only onnx
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapper, (example,), str(out), dynamo=False, opset_version=opset,
            input_names=[INPUT], output_names=list(OUTPUTS),
            dynamic_axes={INPUT: {0: "batch"}, OUTPUTS[0]: {0: "batch"},
                          OUTPUTS[1]: {0: "batch"}},
        )
    return wrapper


def _add_metadata(path: Path, state: Checkpoint, checkpoint: Path) -> None:
    """Store the checkpoint's ``model`` and ``data`` entries in the ONNX file (``mans`` key; see
    :mod:`mans.inference.onnx_predict`)."""
    import onnx

    entries = state.to_dict()
    meta = {"format": FORMAT, "version": VERSION, "mans_version": __version__,
            "model": entries["model"], "data": entries["data"],
            "checkpoint": {"name": checkpoint.name, "sha256": _sha256(checkpoint),
                           "epoch": state.train.epoch if state.train else None}}
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def parity(wrapper: nn.Module, path: str | Path, *, batch: int = 3, seed: int = 0) -> dict:
    """Largest absolute differences between PyTorch and onnxruntime on one random batch."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {"check": "skipped: onnxruntime not installed"}
    model = wrapper.model
    x = torch.randn(batch, *model.config.input_shape,
                    generator=torch.Generator().manual_seed(seed))  # (B, C, S, S or J)
    with torch.no_grad():
        ref_logits, ref_att = wrapper(x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, att = session.run(list(OUTPUTS), {INPUT: x.numpy()})
    return {"max_abs_diff_logits": float(np.abs(logits - ref_logits.numpy()).max()),
            "max_abs_diff_attention": float(np.abs(att - ref_att.numpy()).max())}
