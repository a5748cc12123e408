"""NTU RGB+D (``ntu60``) and NTU RGB+D 120 (``ntu120``): one ``.skeleton`` file per sample.

Labels and protocol ids come from the sample name ``SsssCcccPpppRrrrAaaa``. Which setups and
actions each dataset holds, and its protocols (cross-subject ``xsub``, cross-view ``xview`` for
NTU-60, cross-setup ``xset`` for NTU-120), are package data in ``mans/data/ntu_protocols.yaml``;
the 120 official action names are in ``mans/data/ntu120_classes.txt`` (the first 60 are NTU-60's).

Discovery searches the raw folder recursively for ``*.skeleton``. A file whose name is an NTU
RGB+D 120 sample outside this dataset (e.g. ``S018...`` or ``A061`` for ``ntu60``) is ignored,
so one folder holding all of NTU-120 serves both datasets. Samples named in the official
missing-skeleton list (option ``missing_list``), files whose names are not NTU sample names and
repeated sample names are reported as skipped; reading a file in which no frame lists a body
raises :class:`~mans.errors.FormatError`, so ``prepare`` records it as skipped too.
"""

from __future__ import annotations

from functools import lru_cache, partial
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from ..errors import ConfigError, FormatError
from ..formats.ntu import parse_sample_name, read_skeleton
from ..skeleton import NTU25, Sequence
from . import DatasetSpec, Discovery, Item, split_indices

MAX_BODIES = 2  # NTU actions involve one or two people


def _package_text(name: str) -> str:
    """Text of the package data file ``mans/data/<name>``."""
    return resources.files("mans").joinpath("resources").joinpath(name).read_text("utf-8")


@lru_cache(maxsize=None)
def _config() -> dict:
    """The parsed ``ntu_protocols.yaml``."""
    return yaml.safe_load(_package_text("ntu_protocols.yaml"))


@lru_cache(maxsize=None)
def ntu120_class_names() -> tuple[str, ...]:
    """The 120 official NTU RGB+D 120 action names; index = 0-based label (action id - 1)."""
    text = _package_text("ntu120_classes.txt")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != 120:
        raise ConfigError(f"package data ntu120_classes.txt holds {len(names)} names, not 120")
    return names


def class_names(dataset: str, raw: Path | None = None) -> list[str]:
    """Action names of ``dataset`` (``ntu60``: the first 60); ``raw`` is not needed."""
    first, last = _config()[dataset]["actions"]
    return list(ntu120_class_names()[first - 1:last])


def read_missing_list(path: str | Path) -> set[str]:
    """Sample names in an official ``*samples_with_missing_skeletons.txt`` list.

    One name per line (a ``.skeleton`` suffix is allowed); blank lines and ``#`` comments are
    ignored. Raises ConfigError if the file does not exist, FormatError naming the line if a
    line is not a sample name.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"missing-skeleton list {path}: no such file")
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise FormatError(path, f"cannot read the missing-skeleton list as ASCII text: {e}") \
            from None
    names = set()
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        name = name.removesuffix(".skeleton")
        if parse_sample_name(name) is None:
            raise FormatError(path, f"expected a sample name like S001C002P005R002A008, "
                              f"found {line.strip()[:60]!r}", line=number)
        names.add(name)
    return names


def _in_range(value: int, bounds: list[int]) -> bool:
    return bounds[0] <= value <= bounds[1]


def discover(dataset: str, raw: str | Path, options: dict | None = None) -> Discovery:
    """Every ``*.skeleton`` file under ``raw`` (recursively, by sample name) that belongs to
    ``dataset``; see the module docstring for what is skipped or ignored.

    Options:
        missing_list: path of the official missing-skeleton list (optional).
    """
    raw = Path(raw)
    options = options or {}
    if not raw.is_dir():
        raise ConfigError(f"raw folder {raw} does not exist or is not a folder")
    cfg, full = _config()[dataset], _config()["ntu120"]
    missing_path = options.get("missing_list")
    missing = read_missing_list(missing_path) if missing_path else set()

    items: list[Item] = []
    skipped: list[dict] = []
    seen: dict[str, Path] = {}
    # Sorted by sample name (then path), so the order does not depend on the folder layout
    # (NTU-120 ships as two archives, often unpacked into two folders).
    files = sorted((p for p in raw.rglob("*.skeleton") if p.is_file()), key=lambda p: (p.stem, p))
    for path in files:
        key = path.stem
        ids = parse_sample_name(key)
        if ids is None or not (_in_range(ids["setup"], full["setups"])
                               and _in_range(ids["action"], full["actions"])):
            (s0, s1), (a0, a1) = full["setups"], full["actions"]
            skipped.append({"file": str(path), "reason": "file name is not an NTU RGB+D sample "
                            f"name SsssCcccPpppRrrrAaaa (setups {s0}-{s1}, actions {a0}-{a1})"})
            continue
        if not (_in_range(ids["setup"], cfg["setups"])
                and _in_range(ids["action"], cfg["actions"])):
            continue  # an NTU-120 sample that is not part of this dataset: not counted
        if key in seen:
            skipped.append({"file": str(path), "reason": f"duplicate sample {key} "
                            f"(already found at {seen[key]})"})
            continue
        seen[key] = path
        if key in missing:
            skipped.append({"file": str(path), "reason": "listed in official missing-skeleton "
                            f"list {missing_path}"})
            continue
        items.append(Item(key=key, path=path))
    return Discovery(items=items, skipped=skipped)


def read_item(item: Item) -> Sequence:
    """Read one sample; FormatError if no frame lists a body (NTU's missing-skeleton samples
    look like this), so that it is recorded as skipped rather than stored empty."""
    seq = read_skeleton(item.path)
    if seq.num_frames == 0 or not seq.bodies_per_frame().any():
        raise FormatError(item.path, f"no frame of the {seq.num_frames} has a body (a sample "
                          f"with missing skeletons)")
    return seq


def protocols(dataset: str, metas: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """``{protocol: {"train": idx, "test": idx}}`` (int64 indices into ``metas``).

    Args:
        metas: per-sample metadata dicts (:meth:`Sequence.metadata`) in store order; each needs
            the integer fields the protocols split on (subject, camera or setup).
    """
    out = {}
    for name, rule in _config()[dataset]["protocols"].items():
        field, train = rule["field"], rule["train"]
        values = np.empty(len(metas), dtype=np.int64)  # (N,)
        for i, meta in enumerate(metas):
            v = meta.get(field)
            if v is None:
                raise ConfigError(f"sample {i} ({meta.get('name')}) has no {field} id, which "
                                  f"the {dataset} {name} protocol needs")
            values[i] = v
        if train == "even":
            mask = values % 2 == 0
        elif train == "odd":
            mask = values % 2 == 1
        else:
            mask = np.isin(values, np.asarray(train, dtype=np.int64))
        out[name] = split_indices(mask)
    return out


def _spec(dataset: str) -> DatasetSpec:
    return DatasetSpec(
        name=dataset,
        layout=NTU25,
        max_bodies=MAX_BODIES,
        class_names=partial(class_names, dataset),
        discover=partial(discover, dataset),
        read=read_item,
        protocols=partial(protocols, dataset),
        default_protocol=_config()[dataset]["default_protocol"],
    )


NTU60 = _spec("ntu60")
NTU120 = _spec("ntu120")
