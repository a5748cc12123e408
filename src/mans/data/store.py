"""The prepared store: its on-disk format (this module is its one home: :mod:`mans.data.prepare` writes it
with the names and the frames writer defined here), reading it, and serving it as a Dataset.

Store layout (a folder)::

    frames.npy      (total_T, C, J) float32  all kept frames of all samples, sample after sample
    offsets.npy     (N + 1,) int64            sample i is frames[offsets[i]:offsets[i + 1]]
    labels.npy      (N,) int64                0-based class, -1 if the reader gave none
    samples.jsonl   N lines                   {"key", Sequence.metadata()..., "kept_frames"}
    protocols.json  {protocol: {split: [sample indices]}}
    manifest.json   format, version, dataset, counts, skipped list, per-protocol split sizes,
                    prep settings (view, max_bodies, layout), class names, mans version

Importing this module does not import torch (the prepare workers import it);
:class:`SkeletonDataset` imports it when it builds a sample.

The frames are memory-mapped, so opening a store costs only its small index files, each sample is
read from disk (page cache) when it is used, and DataLoader worker processes share the pages.
:class:`SkeletonDataset` turns a stored ``(C, T, J)`` sequence into the model's input (the
``(C, S, S)`` image, or a ``(C, S, J)`` sequence) with :class:`mans.data.pipeline.InputPipeline`
-- the pipeline ``predict`` uses (:meth:`mans.data.spec.DataSpec.pipeline`).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .augment import Augment

if TYPE_CHECKING:
    import torch
from ..errors import ConfigError, FormatError
from ..skeleton import Layout
from .pipeline import InputPipeline
from .spec import DEFAULT_STREAM
from .streams import check_stream, model_input

# --- the format -----------------------------------------------------------------------------------

STORE_FORMAT = "mans-prepared-store"
STORE_VERSION = 1
FRAMES, OFFSETS, LABELS = "frames.npy", "offsets.npy", "labels.npy"
SAMPLES, PROTOCOLS, MANIFEST = "samples.jsonl", "protocols.json", "manifest.json"
_NPY_HEADER_BYTES = 128  # fixed-size .npy header, rewritten with the final shape at the end


def is_store(path: str | Path) -> bool:
    """True if ``path`` is a folder holding a prepared store's manifest."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == STORE_FORMAT


# --- streaming .npy writer ------------------------------------------------------------------------


def npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """A version 1.0 ``.npy`` header of exactly :data:`_NPY_HEADER_BYTES` bytes (space padded,
    which the format allows), so the final shape can be written over the placeholder."""
    d = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
         "shape": tuple(int(s) for s in shape)}
    text = repr(d).ljust(_NPY_HEADER_BYTES - 10 - 1) + "\n"
    assert len(text) == _NPY_HEADER_BYTES - 10, "shape too long for the fixed .npy header"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


class FramesWriter:
    """Appends ``(T_i, C, J)`` float32 blocks to one ``.npy`` file of shape ``(sum T_i, C, J)``."""

    def __init__(self, path: Path, joints: int):
        self.path, self.joints = path, joints
        self.channels: int | None = None  # fixed by the first block
        self.rows = 0
        self._f = open(path, "wb", buffering=1 << 20)
        self._f.write(npy_header((0, 0, joints), np.float32))  # placeholder

    def append(self, block: np.ndarray) -> None:
        """``block``: ``(T, C, J)`` float32, C-contiguous."""
        self._f.write(memoryview(np.ascontiguousarray(block, dtype="<f4")).cast("B"))
        self.rows += block.shape[0]

    def close(self) -> tuple[int, int, int]:
        """Write the final header and close; returns the array's shape."""
        shape = (self.rows, self.channels or 0, self.joints)
        self._f.seek(0)
        self._f.write(npy_header(shape, np.float32))
        self._f.close()
        return shape

    def __enter__(self) -> "FramesWriter":
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()  # on an error path: the file is discarded with its folder



# --- reading ----------------------------------------------------------------------------------------


class PreparedStore:
    """A prepared store folder, opened read-only. Use :meth:`open`.

    Attributes:
        path: the store folder.
        manifest: ``manifest.json`` as a dict.
        labels: ``(N,)`` int64 0-based class of each sample (-1: unknown).
        offsets: ``(N + 1,)`` int64; sample ``i`` is rows ``offsets[i]:offsets[i+1]`` of the frames.
        meta: per-sample metadata dicts (``key``, ``name``, ``subject``, ``camera``, ...).
        protocols: ``{protocol: {split: (n,) int64 sample indices}}``.
    """

    def __init__(self, path: Path, manifest: dict, offsets: np.ndarray, labels: np.ndarray,
                 meta: list[dict], protocols: dict[str, dict[str, np.ndarray]]):
        self.path = path
        self.manifest = manifest
        self.offsets = offsets
        self.labels = labels
        self.meta = meta
        self.protocols = protocols
        self._frames: np.ndarray | None = None  # memmap, opened lazily (also after unpickling)

    # --- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> "PreparedStore":
        """Open the store at ``path``; raises :class:`ConfigError` if it is not one and
        :class:`FormatError` if one of its files is damaged."""
        path = Path(path)
        mpath = path / MANIFEST
        if not mpath.is_file():
            raise ConfigError(f"{path} is not a prepared store (no {MANIFEST}); create one with "
                              f"`mans prepare DATASET --raw RAW --out {path}`")
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise FormatError(mpath, f"unreadable manifest: {e}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT:
            raise ConfigError(f"{path} is not a prepared store ({MANIFEST} lacks "
                              f"format {STORE_FORMAT!r})")
        if manifest.get("version") != STORE_VERSION:
            raise ConfigError(f"{path}: store version {manifest.get('version')!r} is not "
                              f"supported (expected {STORE_VERSION}); prepare it again")
        for name in (FRAMES, OFFSETS, LABELS, SAMPLES, PROTOCOLS):
            if not (path / name).is_file():
                raise FormatError(path / name, "missing: the store is incomplete; prepare again")
        offsets = _load_array(path / OFFSETS)
        labels = _load_array(path / LABELS)
        reading = path / SAMPLES
        try:
            with open(reading, encoding="utf-8") as f:
                meta = [json.loads(line) for line in f if line.strip()]
            reading = path / PROTOCOLS
            with open(reading, encoding="utf-8") as f:
                protocols = {p: {s: np.asarray(idx, dtype=np.int64) for s, idx in d.items()}
                             for p, d in json.load(f).items()}
        except (OSError, ValueError, TypeError, AttributeError) as e:
            raise FormatError(reading, f"unreadable ({type(e).__name__}: {str(e)[:100]}); "
                                       f"prepare the store again") from None
        store = cls(path, manifest, offsets, labels, meta, protocols)
        store._validate()
        return store

    def _validate(self) -> None:
        """Everything a damaged or hand-edited store could get wrong, checked once here so that
        training never meets it as an IndexError mid-epoch."""
        n = len(self.labels)
        frames = self.frames
        if self.offsets.ndim != 1 or self.labels.ndim != 1 or \
                not np.issubdtype(self.offsets.dtype, np.integer) or \
                not np.issubdtype(self.labels.dtype, np.integer):
            raise FormatError(self.path, f"{OFFSETS} and {LABELS} must be 1-D integer arrays; "
                                         f"prepare it again")
        k = self.manifest.get("num_classes")
        if not isinstance(k, int) or k < 1 or len(self.manifest.get("class_names", [])) != k:
            raise FormatError(self.path / MANIFEST, f"num_classes {k!r} does not match its "
                                                    f"class_names; prepare it again")
        bad = np.flatnonzero((self.labels < -1) | (self.labels >= k))
        if bad.size:
            i = int(bad[0])
            raise FormatError(self.path / LABELS, f"sample {i} has label {int(self.labels[i])}, "
                              f"outside -1..{k - 1} ({k} classes; {bad.size} such samples); "
                              f"prepare it again")
        if (self.offsets.shape != (n + 1,) or len(self.meta) != n or self.offsets[0] != 0
                or np.any(np.diff(self.offsets) < 0) or self.offsets[-1] != frames.shape[0]):
            raise FormatError(self.path, f"inconsistent store: {n} labels, {len(self.meta)} "
                              f"samples, {self.offsets.shape[0]} offsets ending at "
                              f"{self.offsets[-1] if self.offsets.size else None}, "
                              f"{frames.shape[0]} frames; prepare it again")
        for p, d in self.protocols.items():
            for s, idx in d.items():
                if idx.size and (idx.min() < 0 or idx.max() >= n):
                    raise FormatError(self.path / PROTOCOLS, f"{p}/{s}: index out of 0..{n - 1}")

    # --- contents ---------------------------------------------------------------------------------

    @property
    def frames(self) -> np.ndarray:
        """``(total_T, C, J)`` float32 memory map of all frames."""
        if self._frames is None:
            frames = _load_array(self.path / FRAMES, mmap_mode="r")
            if frames.ndim != 3 or frames.dtype != np.float32:
                raise FormatError(self.path / FRAMES, f"expected a (frames, C, J) float32 array, "
                                  f"found {frames.dtype} {frames.shape}; prepare it again")
            self._frames = frames
        return self._frames

    def __getstate__(self) -> dict:
        # A memmap pickles as a full copy of its data; DataLoader workers (spawn) reopen it instead.
        return {**self.__dict__, "_frames": None}

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def dataset(self) -> str | None:
        return self.manifest.get("dataset")

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["class_names"])

    @property
    def num_classes(self) -> int:
        return int(self.manifest["num_classes"])

    @property
    def default_protocol(self) -> str:
        return str(self.manifest["default_protocol"])

    @property
    def prep(self) -> dict:
        """How the samples were prepared: ``view``, ``max_bodies``, ``layout`` (name),
        ``layout_def`` (:meth:`Layout.to_dict`), ``channels``, ``joints``."""
        return dict(self.manifest["prep"])

    @property
    def layout(self) -> Layout:
        """The joint layout of the stored samples, as saved in the manifest (``layout_def``): a
        user's layout (a custom ``.npz`` definition, an ``acclaim-...`` skeleton) is rebuilt
        from it, not looked up among the built-ins of :mod:`mans.skeleton`."""
        return Layout.from_dict(self.manifest["prep"]["layout_def"])

    @property
    def lengths(self) -> np.ndarray:
        """``(N,)`` int64 stored frames per sample."""
        return np.diff(self.offsets)

    def sequence(self, i: int) -> np.ndarray:
        """Sample ``i`` as a read-only ``(C, T_i, J)`` view of the memory map (no copy)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"sample {i} out of range for a store of {len(self)}")
        i = int(i) % len(self)
        return self.frames[self.offsets[i]:self.offsets[i + 1]].transpose(1, 0, 2)

    def split(self, protocol: str | None = None, split: str = "train") -> np.ndarray:
        """``(n,)`` int64 sample indices of ``split`` under ``protocol`` (None: the default)."""
        protocol = protocol or self.default_protocol
        if protocol not in self.protocols:
            names = sorted(self.protocols)
            shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12
                                             else "")
            raise ConfigError(f"protocol {protocol!r} is not defined for the "
                              f"{self.dataset} store at {self.path}; available: {shown}")
        splits = self.protocols[protocol]
        if split not in splits:
            raise ConfigError(f"protocol {protocol!r} has no split {split!r}; available: "
                              f"{sorted(splits)}")
        return splits[split]


def _load_array(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """``np.load`` of one store array, any damage (truncation, a bad header, pickled objects)
    raised as :class:`FormatError` naming the file."""
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        if "mmap length is greater than file size" in why or "cannot reshape" in why:
            why = "the file is shorter than its header says (truncated)"
        raise FormatError(path, f"damaged ({why}); prepare the store again") from None


class SkeletonDataset:
    """Samples of a store as ``(input (C, size, size) float32 tensor, label int)`` (``(C, size,
    J)`` for a sequence pipeline): a map-style dataset (``len`` and indexing) for
    :class:`torch.utils.data.DataLoader`.

    Args:
        store: an open :class:`PreparedStore`.
        indices: store indices of the samples (e.g. ``store.split("xsub", "train")``).
        size: image side ``S`` (50 for the ResNet variant, 224 for DenseNet-161).
        augment: optional ``(x (C, T, J) ndarray, rng) -> x``, applied between the pipeline's
            centring and the rest of it (:class:`~mans.data.pipeline.InputPipeline`); receives a
            private copy of the sample.
        seed: base seed of the augmentation RNG.
        stream: input stream (:data:`mans.data.streams.STREAMS`), computed after augmentation.
        pipeline: the whole input pipeline (centring, normalisation, frames, input layout);
            when given, ``size`` and ``stream`` must agree with it. None: the paper's (``size``,
            ``stream``, image input).
        train: a training set: ``data.frames: resample`` draws its frames from the sample's RNG
            (evaluation sets take the deterministic test frames).

    The augmentation RNG of a sample is ``np.random.default_rng((seed, epoch, store_index))``:
    the same sample gets the same augmentation in the same epoch whatever the worker, batch
    order or number of workers, and a new one after :meth:`set_epoch`. With a DataLoader,
    call ``set_epoch`` before iterating (workers receive a copy of the dataset when the iterator
    starts, so use ``persistent_workers=False`` or the epoch will not reach them).
    """

    def __init__(self, store: PreparedStore, indices, size: int, augment: Augment | None = None,
                 seed: int = 0, stream: str = DEFAULT_STREAM, *,
                 pipeline: InputPipeline | None = None, train: bool = False):
        self.store = store
        self.stream = check_stream(stream)
        if pipeline is not None and (pipeline.size, pipeline.stream) != (int(size), stream):
            raise ConfigError(f"SkeletonDataset: size {size} / stream {stream!r} differ from the "
                              f"pipeline's {pipeline.size} / {pipeline.stream!r}")
        self.pipeline = pipeline if pipeline is not None and not pipeline.is_default else None
        self.layout = store.layout if stream != "joint" else None
        self.train = bool(train)
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= len(store)):
            raise ConfigError(f"sample indices outside 0..{len(store) - 1}")
        self.size = int(size)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0

    @classmethod
    def for_spec(cls, store: PreparedStore, indices, spec, **kwargs) -> "SkeletonDataset":
        """The samples ``indices`` fed as a checkpoint's :class:`~mans.data.spec.DataSpec`
        says (its size, stream and input pipeline); ``kwargs``: augment, seed, train."""
        return cls(store, indices, spec.size, stream=spec.stream, pipeline=spec.pipeline(),
                   **kwargs)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def labels(self) -> np.ndarray:
        """``(len(self),)`` int64 labels, in dataset order (for samplers and class counts)."""
        return self.store.labels[self.indices]

    def __getitem__(self, k: int) -> tuple["torch.Tensor", int]:
        import torch  # here, not at module level: see the module docstring

        i = int(self.indices[k])
        x = self.store.sequence(i)  # (C, T, J) memmap view
        p = self.pipeline
        random_frames = self.train and p is not None and p.frames == "resample"
        rng = (np.random.default_rng((self.seed, self.epoch, i))
               if self.augment is not None or random_frames else None)
        if p is not None:
            x = p.centred(x)  # (C, T, J)
        if self.augment is not None:
            x = self.augment(np.array(x, dtype=np.float32), rng)
        if p is None:  # the paper's pipeline
            img = model_input(x, self.size, self.stream, self.layout)  # (C, S, S)
        else:
            img = p.finish(x, rng if random_frames else None)  # (C, S, S) or (C, S, J)
        return torch.from_numpy(img), int(self.store.labels[i])
