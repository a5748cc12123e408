"""Dataset collections: file discovery, labels, class names and evaluation protocols.

Each module here defines one :class:`DatasetSpec` and registers it, so ``mans prepare NAME`` and the
prepared store find it by name. A spec turns a raw folder into a list of :class:`Item` (one per
sample; cheap, picklable, sent to worker processes), reads one item into a
:class:`~mans.skeleton.Sequence`, and maps per-sample metadata to protocol splits.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError
from ..skeleton import Layout, Sequence, as_layout


@dataclass(frozen=True)
class Item:
    """One sample to prepare: its unique ``key`` (sample name), the file holding it, and whatever
    the spec needs to cut it out of the file (e.g. a UT-Kinect frame range) in ``info``."""

    key: str
    path: Path
    info: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Discovery:
    """What :meth:`DatasetSpec.discover` found: items to read, plus samples already known to be
    unusable (``skipped``: list of ``{"file": ..., "reason": ...}``), so that
    ``found == len(items) + len(skipped)`` before reading starts. ``layout`` is the joint layout
    when it depends on the files (custom data) rather than on the dataset (``DatasetSpec.layout``);
    ``max_bodies`` likewise (the most bodies found in one frame of the files, capped by the
    spec)."""

    items: list[Item]
    skipped: list[dict] = field(default_factory=list)
    layout: Layout | None = None
    max_bodies: int | None = None

    def __post_init__(self) -> None:
        if self.layout is not None:  # a built-in layout may be named
            object.__setattr__(self, "layout", as_layout(self.layout))


@dataclass(frozen=True)
class DatasetSpec:
    """How to turn one dataset's raw folder into labelled sequences and protocol splits.

    Attributes:
        name: registry key (``ntu60``, ``ntu120``, ``utkinect``, ``hdm05``, ``custom``).
        layout: joint layout of the sequences it reads (a built-in one may be named); None
            when it depends on the files (:attr:`Discovery.layout`).
        max_bodies: body slots kept by preprocessing (2 for NTU, 1 for single-person data).
        class_names: callable ``raw_dir -> list[str]`` (index = 0-based label).
        discover: callable ``(raw_dir, options) -> Discovery``.
        read: callable ``Item -> Sequence``; raises :class:`~mans.errors.FormatError` on bad input.
        protocols: callable ``list[dict] -> {protocol: {"train": idx, "test": idx}}`` taking the
            per-sample metadata dicts (:meth:`Sequence.metadata`) in store order and returning
            int64 index arrays into that list.
        default_protocol: the protocol used when a config names none.
    """

    name: str
    layout: Layout | None
    max_bodies: int
    class_names: Callable[[Path], list[str]]
    discover: Callable[[Path, dict], Discovery]
    read: Callable[[Item], Sequence]
    protocols: Callable[[list[dict]], dict[str, dict[str, np.ndarray]]]
    default_protocol: str

    def __post_init__(self) -> None:
        if self.layout is not None:
            object.__setattr__(self, "layout", as_layout(self.layout))


_SPECS: dict[str, DatasetSpec] = {}
# Modules that register a spec when imported; imported lazily so `mans inspect` stays fast.
_MODULES = {
    "ntu60": "ntu",
    "ntu120": "ntu",
    "utkinect": "utkinect",
    "hdm05": "hdm05",
    "custom": "custom",
    "pyskl": "pyskl",
}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    _SPECS[spec.name] = spec
    return spec


def get_dataset(name: str) -> DatasetSpec:
    """The registered spec called ``name`` (importing its module on first use)."""
    if name not in _SPECS and name in _MODULES:
        importlib.import_module(f"{__name__}.{_MODULES[name]}")
    try:
        return _SPECS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {sorted(_MODULES)}") from None


def dataset_names() -> list[str]:
    """Names of the datasets ``mans prepare`` knows (their modules are not imported here)."""
    return sorted(_MODULES)


def split_indices(mask: np.ndarray) -> dict[str, np.ndarray]:
    """``{"train": indices where mask, "test": indices where not mask}`` as int64 arrays."""
    mask = np.asarray(mask, dtype=bool)
    return {
        "train": np.flatnonzero(mask).astype(np.int64),
        "test": np.flatnonzero(~mask).astype(np.int64),
    }
