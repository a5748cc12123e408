"""Dataset collections: file discovery, labels, class names and evaluation protocols.

Each module here defines the :class:`DatasetSpec` of one dataset (two for NTU), named in the one
table of built-in datasets, :data:`BUILTIN`, so that ``mans prepare NAME`` finds it. A spec turns
a raw folder into a list of :class:`Item` (one per sample; cheap, picklable, sent to worker
processes), reads one item into a :class:`~mans.skeleton.Sequence`, and maps per-sample metadata
to protocol splits.
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
    spec); ``dims`` the coordinate dimension (2 or 3) when discovery already read a file (so
    that choosing the view needs no extra read), else None."""

    items: list[Item]
    skipped: list[dict] = field(default_factory=list)
    layout: Layout | None = None
    max_bodies: int | None = None
    dims: int | None = None

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


# The built-in datasets, the one list of them: name -> (module of mans.datasets, the module's
# DatasetSpec attribute). A module is imported when its dataset is first asked for, so that
# `mans inspect` and `mans --help` stay fast; importing it registers nothing.
BUILTIN: dict[str, tuple[str, str]] = {
    "ntu60": ("ntu", "NTU60"),
    "ntu120": ("ntu", "NTU120"),
    "utkinect": ("utkinect", "SPEC"),
    "hdm05": ("hdm05", "SPEC"),
    "custom": ("custom", "SPEC"),
    "pyskl": ("pyskl", "SPEC"),
}
# Datasets defined outside mans (tests, a user's own spec), added by register_dataset.
_REGISTERED: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Make a dataset defined outside mans known by its name (``mans prepare NAME``); the
    built-in ones are in :data:`BUILTIN` and cannot be replaced."""
    if spec.name in BUILTIN:
        raise ConfigError(f"{spec.name!r} is already a built-in dataset; name yours otherwise")
    _REGISTERED[spec.name] = spec
    return spec


def get_dataset(name: str) -> DatasetSpec:
    """The spec called ``name``: a built-in one (:data:`BUILTIN`, its module imported on first
    use) or one added by :func:`register_dataset`."""
    if name in BUILTIN:
        module, attr = BUILTIN[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    try:
        return _REGISTERED[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; choose one of "
                          f"{dataset_names()}") from None


def dataset_names() -> list[str]:
    """Names of the datasets ``mans prepare`` knows (their modules are not imported here)."""
    return sorted([*BUILTIN, *_REGISTERED])


def split_indices(mask: np.ndarray) -> dict[str, np.ndarray]:
    """``{"train": indices where mask, "test": indices where not mask}`` as int64 arrays."""
    mask = np.asarray(mask, dtype=bool)
    return {
        "train": np.flatnonzero(mask).astype(np.int64),
        "test": np.flatnonzero(~mask).astype(np.int64),
    }
