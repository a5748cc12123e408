"""Checkpoint files: one ``.pt`` file per checkpoint, written atomically, loaded without unpickling
arbitrary objects.

A checkpoint is a plain dict (only tensors, str, int, float, bool, None, lists and dicts), so that
:func:`load_checkpoint` can use ``torch.load(weights_only=True)``, which refuses any pickled class
or callable: opening a checkpoint from an untrusted source cannot run code.

Layout of the dict (``version`` 1)::

    format      "mans-checkpoint"
    version     1
    model       {"name": registry name, e.g. "mans_resnet",
                 "config": MANsConfig.to_dict()}      # pretrained=None: weights are below
    state_dict  {parameter/buffer name: tensor}        # weights, on the CPU
    data        {"dataset": str | None,                # store's dataset name
                 "protocol": str,                      # protocol the run trained on
                 "prep": dict,                         # store.prep: how raw files were prepared
                 "size": int,                          # S: image side fed to the model
                 "layout": str | None,                 # joint layout name
                 "class_names": [str, ...],            # index = label
                 "num_classes": int,
                 "stream": str,                        # input stream (mans.data.streams); "joint"
                                                       # when absent (older checkpoints)
                 "test_mirror": bool}                  # average with the mirrored input
    train       {"epoch": int,                         # completed epochs (1-based count)
                 "selection": "val" | "test" | "last",
                 "best_metric": float | None,          # best selection accuracy so far
                 "best_epoch": int | None,
                 "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict() | None,
                 "rng": {"python": list, "numpy": list, "torch": uint8 tensor,
                         "cuda": [uint8 tensor, ...]},
                 "history": [{metrics.csv row}, ...],   # one per completed epoch
                 "config": RunConfig.to_dict(),
                 "split_sizes": {"train": n, "val": n, "test": n}}

    sha256      hex SHA-256 of every tensor in the file   # see payload_sha256; checked on load

``mans predict`` needs only ``model``, ``state_dict`` and ``data``; ``--resume`` needs ``train``.
The zip container torch writes has no check on the tensor bytes that ``torch.load`` enforces, so a
flipped byte inside a weight would load silently; ``sha256`` catches it. Files written before the
checksum existed (no ``sha256`` key) still load, unverified.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..errors import FormatError
from ..data.streams import stream_from_data

FORMAT = "mans-checkpoint"
VERSION = 1


CHECKSUM_KEY = "sha256"
SOURCE_KEY = "_loaded_from"  # added by load_checkpoint: the file a state came from


def _tensors(obj, prefix: str = ""):
    """``(key path, tensor)`` for every tensor in nested dicts/lists, in a fixed order (dict keys
    sorted by their text), so that the same content always hashes the same."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            yield from _tensors(obj[k], f"{prefix}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}/{i}")


def payload_sha256(state: dict) -> str:
    """Hex SHA-256 over every tensor of ``state`` (except the checksum entry itself): for each,
    its key path, dtype, shape and raw bytes (CPU, C order)."""
    h = hashlib.sha256()
    for key, t in _tensors({k: v for k, v in state.items() if k != CHECKSUM_KEY}):
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(path: str | Path, state: dict) -> Path:
    """Write ``state`` to ``path`` atomically and return the path.

    The dict is first written to ``path.tmp`` in the same folder, flushed to disk, then renamed over
    ``path`` with :func:`os.replace`, so a crash mid-write leaves the previous file intact.
    ``format``/``version`` keys are added when absent.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": FORMAT, "version": VERSION, **state}
    state[CHECKSUM_KEY] = payload_sha256(state)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # disk full, interrupted: no half-written .tmp left behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Uses ``torch.load(weights_only=True)``: a file whose pickle stream references anything but
    tensors and plain containers (a class, a function such as ``os.system``) is refused with
    :class:`~mans.errors.FormatError` before any of it runs.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(path, "no such checkpoint file")
    if not zipfile.is_zipfile(path):  # torch.save's format since PyTorch 1.6
        raise FormatError(path, "not a readable PyTorch checkpoint (not a torch.save zip file)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is a paragraph; keep the line that names the offending object.
        lines = [ln for ln in str(e).splitlines() if "GLOBAL" in ln or "global" in ln]
        why = lines[0].strip() if lines else type(e).__name__
        raise FormatError(
            path, f"refusing to load: the file holds pickled objects other than tensors and plain "
            f"containers, which could run code when unpickled ({why})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise FormatError(path, f"not a readable PyTorch checkpoint ({e})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise FormatError(path, f"not a mans checkpoint (expected a dict with format={FORMAT!r})")
    if int(state.get("version", -1)) > VERSION:
        raise FormatError(path, f"checkpoint version {state['version']} is newer than this mans "
                                f"(reads up to {VERSION}); upgrade mans")
    for key in ("model", "state_dict", "data"):
        if key not in state:
            raise FormatError(path, f"checkpoint lacks the {key!r} entry")
    saved = state.get(CHECKSUM_KEY)
    if saved is not None and payload_sha256(state) != saved:
        raise FormatError(path, "checksum mismatch: the tensor data differs from the SHA-256 "
                                "written with it; the file is damaged (use another checkpoint)")
    state[SOURCE_KEY] = str(path)  # for messages about this state; never saved back
    return state


def build_model_from_checkpoint(state: dict, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The network described by ``state["model"]`` with ``state["state_dict"]`` loaded, in eval
    mode on ``device``; wrapped in :class:`~mans.models.tta.MirrorAverage` when the run used
    test-time mirror averaging (``data.test_mirror``)."""
    from ..models import model_from_config

    model = model_from_config(state["model"]["config"])
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as e:  # torch lists every mismatching tensor: keep the first
        lines = [ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()]
        raise FormatError(state.get(SOURCE_KEY, "checkpoint"),
                          "the model config does not match the weights"
                          + (f" ({lines[0]}" + (f"; {len(lines) - 1} more)" if len(lines) > 1
                                                else ")") if lines else "")) from None
    return with_test_mirror(model, state["data"]).to(device).eval()


def checkpoint_stream(state: dict) -> str:
    """The input stream a checkpoint was trained on (``joint`` for checkpoints older than
    streams)."""
    return stream_from_data(state["data"])


def with_test_mirror(model: torch.nn.Module, data: dict) -> torch.nn.Module:
    """``model`` wrapped in :class:`~mans.models.tta.MirrorAverage` when ``data["test_mirror"]``
    (the ``data`` entry of a checkpoint), else ``model`` itself."""
    if not data.get("test_mirror"):
        return model
    from ..models.tta import MirrorAverage, image_mirror_columns
    from ..skeleton import Layout
    from ..data.streams import column_mirror

    layout = Layout.from_dict(data["prep"]["layout_def"])
    cols = column_mirror(layout, int(data["prep"]["joints"]))
    return MirrorAverage(model, image_mirror_columns(cols, int(data["size"])))


# --- RNG states as plain containers ---------------------------------------------------------------


def rng_state() -> dict:
    """Python, NumPy (legacy global) and torch (CPU + CUDA) RNG states, converted to lists and
    tensors so that they survive ``weights_only`` loading."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [int(version), [int(v) for v in mt], gauss],
        "numpy": [str(kind), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos),
                  int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`rng_state`."""
    version, mt, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), int(pos), int(has_gauss),
                         float(cached)))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
