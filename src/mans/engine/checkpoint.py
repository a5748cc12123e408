"""Checkpoint files: one ``.pt`` file per checkpoint, written atomically, loaded without unpickling
arbitrary objects, and their one schema, :class:`Checkpoint`.

Everything that writes or reads a checkpoint goes through :class:`Checkpoint` (``save`` /
``load``, ``to_dict`` / ``from_dict``): the trainer, ``save_untrained``, eval, ensemble, report,
export, predict, ``--resume``. On disk a checkpoint is a plain dict (only tensors, str, int, float,
bool, None, lists and dicts), so that :func:`load_checkpoint` can use
``torch.load(weights_only=True)``, which refuses any pickled class or callable: opening a
checkpoint from an untrusted source cannot run code.

Layout of the dict (``version`` 2)::

    format      "mans-checkpoint"
    version     2
    model       {"name": registry name, e.g. "mans_resnet",
                 "config": MANsConfig.to_dict()}      # pretrained=None: weights are below;
                                                       # config["size"] is the image side S
    state_dict  {parameter/buffer name: tensor}        # weights, on the CPU
    data        DataSpec.to_dict()                     # mans.data.spec: input, dataset,
                                                       # protocol, prep, class_names, stream,
                                                       # test_mirror
    train       TrainState.to_dict()                   # absent for an untrained checkpoint:
                {"epoch": int,                         # completed epochs (1-based count)
                 "selection": "val" | "test" | "last",
                 "best_metric": float | None,          # best selection accuracy so far
                 "best_epoch": int | None,
                 "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict() | None,
                 "rng": {"python": list, "numpy": list, "torch": uint8 tensor,
                         "cuda": [uint8 tensor, ...]},
                 "history": [{metrics.csv row}, ...],   # one per completed epoch
                 "config": RunConfig.to_dict(),
                 "split_sizes": {"train": n, "val": n, "test": n},
                 "raw_state_dict", "ema_n_averaged"}   # only with weight EMA: the raw weights
    sha256      hex SHA-256 of every tensor in the file   # see payload_sha256; checked on load

Version 1 (before :mod:`mans.data.spec`) had the same entries, with the image size, the layout
name and the number of classes also in ``data`` (and, in older files, no ``stream`` or
``test_mirror``); :meth:`Checkpoint.from_dict` reads both. ``mans predict`` needs only ``model``,
``state_dict`` and ``data``; ``--resume`` needs ``train``. The zip container torch writes has no
check on the tensor bytes that ``torch.load`` enforces, so a flipped byte inside a weight would
load silently; ``sha256`` catches it. Files written before the checksum existed (no ``sha256``
key) still load, unverified.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from ..data.spec import DataSpec
from ..errors import FormatError

FORMAT = "mans-checkpoint"
VERSION = 2


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


# --- the schema -----------------------------------------------------------------------------------


@dataclass
class TrainState:
    """The ``train`` entry: what ``--resume`` needs to continue a run where it stopped (see the
    module docstring for each field)."""

    epoch: int
    selection: str
    best_metric: float | None
    best_epoch: int | None
    optimizer: dict
    scheduler: dict | None
    rng: dict
    history: list[dict]
    config: dict
    split_sizes: dict
    raw_state_dict: dict | None = None  # weight EMA only: the raw (trained) weights
    ema_n_averaged: int | None = None

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in d.items()
                if v is not None or k not in ("raw_state_dict", "ema_n_averaged")}

    @classmethod
    def from_dict(cls, d: dict, source: str | Path = "checkpoint") -> "TrainState":
        names = {f.name for f in fields(cls)}
        required = [f.name for f in fields(cls) if f.name not in ("raw_state_dict",
                                                                    "ema_n_averaged")]
        if not isinstance(d, dict):
            raise FormatError(source, "the train entry is not a mapping")
        missing = [k for k in required if k not in d]
        if missing:
            raise FormatError(source, f"the train entry lacks {missing}")
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Checkpoint:
    """One checkpoint: the network (registry name, config, weights), the data settings it was
    trained with (:class:`~mans.data.spec.DataSpec`), and, for a training run, the state to
    resume it.

    Attributes:
        model_name: registry name (:func:`mans.models.build_model`).
        model_config: ``MANsConfig.to_dict()``; ``size`` is the model's image side ``S``.
        state_dict: ``{name: tensor}`` weights on the CPU.
        data: the data settings (layout, prep, classes, stream, mirroring, input).
        train: the training state, or None (an untrained checkpoint, ``save_untrained``).
        source: the file it was loaded from (None for one built in memory; never saved).
        sha256: the checksum the file carried (None before saving, and for files older than
            the checksum).
    """

    model_name: str
    model_config: dict
    state_dict: dict
    data: DataSpec
    train: TrainState | None = None
    source: str | None = field(default=None, compare=False)
    sha256: str | None = field(default=None, compare=False)

    @property
    def num_classes(self) -> int:
        """Logits of the network (at least ``len(data.class_names)``)."""
        return int(self.model_config["num_classes"])

    def to_dict(self) -> dict:
        """The dict written to disk (version :data:`VERSION`, without the checksum, which
        :func:`save_checkpoint` adds)."""
        d = {"format": FORMAT, "version": VERSION,
             "model": {"name": self.model_name, "config": dict(self.model_config)},
             "state_dict": self.state_dict, "data": self.data.to_dict()}
        if self.train is not None:
            d["train"] = self.train.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str | Path | None = None) -> "Checkpoint":
        """Read and check a checkpoint dict of any version up to :data:`VERSION`.

        Raises:
            FormatError: naming ``source``, for a missing or malformed entry.
        """
        source = source if source is not None else d.get(SOURCE_KEY)
        where = source or "checkpoint"
        for key in ("model", "state_dict", "data"):
            if key not in d:
                raise FormatError(where, f"checkpoint lacks the {key!r} entry")
        model = d["model"]
        if not isinstance(model, dict) or not isinstance(model.get("name"), str) \
                or not isinstance(model.get("config"), dict):
            raise FormatError(where, "the model entry must hold a registry 'name' and a "
                                     "'config' mapping")
        config = model["config"]
        size = config.get("size")
        if isinstance(size, bool) or not isinstance(size, int):
            raise FormatError(where, f"the model config's image size is {size!r}, not an "
                                     f"integer")
        weights = d["state_dict"]
        if not isinstance(weights, dict) or not all(
                isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
            raise FormatError(where, "the state_dict entry must map names to tensors")
        data = DataSpec.from_dict(d["data"], size=size, source=where)
        from ..models.mans import INPUT_OF

        want = INPUT_OF.get(config.get("variant", "resnet"))
        if want is not None and data.input != want:
            raise FormatError(where, f"the model ({config.get('variant')!r}) takes a {want} but "
                                     f"the data entry feeds it a {data.input}")
        k = config.get("num_classes")
        if not isinstance(k, int) or k < data.num_classes:
            raise FormatError(where, f"the model has {k!r} outputs for "
                                     f"{data.num_classes} class names")
        train = d.get("train")
        return cls(model_name=model["name"], model_config=config, state_dict=weights,
                   data=data, train=None if not train else TrainState.from_dict(train, where),
                   source=None if source is None else str(source),
                   sha256=d.get(CHECKSUM_KEY))

    def save(self, path: str | Path) -> Path:
        """Write atomically to ``path`` (:func:`save_checkpoint`); returns the path."""
        path = save_checkpoint(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: str | Path, *, map_location: str | torch.device = "cpu"
             ) -> "Checkpoint":
        """Read ``path`` (:func:`load_checkpoint`: safe unpickling, checksum) and check it."""
        state = load_checkpoint(path, map_location=map_location)
        return cls.from_dict(state, source=path)

    def build_model(self, device: str | torch.device = "cpu") -> torch.nn.Module:
        """The network with its weights (:func:`build_model_from_checkpoint`)."""
        return build_model_from_checkpoint(self, device)


def build_model_from_checkpoint(ckpt: "Checkpoint | dict", device: str | torch.device = "cpu"
                                ) -> torch.nn.Module:
    """The network described by a :class:`Checkpoint` (or a checkpoint dict) with its weights
    loaded, in eval mode on ``device``; wrapped in :class:`~mans.models.tta.MirrorAverage` when
    the run used test-time mirror averaging (``data.test_mirror``)."""
    from ..models import model_from_config

    if not isinstance(ckpt, Checkpoint):
        ckpt = Checkpoint.from_dict(ckpt)
    model = model_from_config(ckpt.model_config)
    try:
        model.load_state_dict(ckpt.state_dict)
    except RuntimeError as e:  # torch lists every mismatching tensor: keep the first
        lines = [ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()]
        raise FormatError(ckpt.source or "checkpoint",
                          "the model config does not match the weights"
                          + (f" ({lines[0]}" + (f"; {len(lines) - 1} more)" if len(lines) > 1
                                                else ")") if lines else "")) from None
    return with_test_mirror(model, ckpt.data).to(device).eval()


def with_test_mirror(model: torch.nn.Module, data: DataSpec) -> torch.nn.Module:
    """``model`` wrapped in :class:`~mans.models.tta.MirrorAverage` when ``data.test_mirror``,
    else ``model`` itself."""
    if not data.test_mirror:
        return model
    from ..data.pipeline import InputPipeline
    from ..models.tta import MirrorAverage

    return MirrorAverage(model, InputPipeline(data).mirror_columns())


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
