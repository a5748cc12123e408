"""HDM05 motion capture (Mueller et al. 2007) as a dataset of Acclaim ASF/AMC clips.

Raw folder layout (the public 11-class subset): ``train/<k>/`` and ``test/<k>/`` with ``k`` the
1-based class id, each holding ``HDM_<actor>_<class>_<idx>_120.amc`` clips and the actors'
``HDM_<actor>.asf`` skeletons. Class ``k`` (label ``k - 1``) is named after the class field of its
file names (``1`` -> ``depositFloorR``); the ``train``/``test`` folder names play no role except
through the actors they contain.

Subjects: actor codes map to 1-based ids in the order of HDM05's actor list (alphabetical):
bd = 1, bk = 2, dg = 3, mm = 4, tr = 5.

Protocol ``actors`` (default, the split of the subset's source repository): actors bd, bk, dg
train; mm, tr test (188 / 99 clips).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..formats.acclaim import read_amc
from ..skeleton import HDM05, Sequence
from . import DatasetSpec, Discovery, Item, split_indices

ACTORS = ("bd", "bk", "dg", "mm", "tr")  # subject id = position + 1
TRAIN_ACTORS = ("bd", "bk", "dg")
SPLIT_FOLDERS = ("train", "test")
_NAME_RE = re.compile(r"^HDM_([a-z]{2})_(.+)_(\d+)_(\d+)$")


def parse_name(stem: str) -> tuple[str, str, int, int] | None:
    """``(actor, class name, clip index, fps)`` from ``HDM_<actor>_<class>_<idx>_<fps>``."""
    m = _NAME_RE.match(stem)
    if m is None:
        return None
    return m.group(1), m.group(2), int(m.group(3)), int(m.group(4))


def _clips(raw_dir: Path) -> list[tuple[int, Path]]:
    """``(class id, amc path)`` of every clip under ``raw_dir/{train,test}/<id>/``, sorted."""
    raw_dir = Path(raw_dir)
    folders = [raw_dir / s for s in SPLIT_FOLDERS if (raw_dir / s).is_dir()]
    if not folders:
        raise FormatError(raw_dir, "expected train/ and/or test/ folders holding class folders "
                          "1..K of .amc files")
    clips = []
    for folder in folders:
        for sub in sorted(folder.iterdir()):
            if not sub.is_dir():
                continue
            if not (sub.name.isascii() and sub.name.isdigit()) or int(sub.name) < 1:
                raise FormatError(sub, "class folders must be named by 1-based class ids")
            clips += [(int(sub.name), p) for p in sorted(sub.glob("*.amc"))]
    if not clips:
        raise FormatError(raw_dir, "no .amc files found in train/<id>/ or test/<id>/")
    return sorted(clips, key=lambda c: (c[0], c[1].name))


def class_names(raw_dir: Path) -> list[str]:
    """Class names by id, from the class field of the clip file names (one name per folder)."""
    names: dict[int, str] = {}
    for k, path in _clips(raw_dir):
        parsed = parse_name(path.stem)
        if parsed is None:
            raise FormatError(path, "expected a file name HDM_<actor>_<class>_<idx>_<fps>.amc")
        if names.setdefault(k, parsed[1]) != parsed[1]:
            raise FormatError(path, f"class folder {k} mixes classes {names[k]!r} and "
                              f"{parsed[1]!r}")
    ids = sorted(names)
    if ids != list(range(1, len(ids) + 1)):
        raise FormatError(raw_dir, f"class folder ids must run 1..K without gaps, found {ids}")
    return [names[k] for k in ids]


def discover(raw_dir: Path, options: dict | None = None) -> Discovery:
    """One :class:`Item` per ``.amc`` clip, key = file stem; ``info`` holds ``label``,
    ``subject``, ``actor``, ``split_folder``. Clips whose name or actor is not recognised are
    reported in ``skipped``."""
    items, skipped = [], []
    for k, path in _clips(Path(raw_dir)):
        parsed = parse_name(path.stem)
        if parsed is None or parsed[0] not in ACTORS:
            reason = ("file name is not HDM_<actor>_<class>_<idx>_<fps>.amc" if parsed is None
                      else f"unknown actor {parsed[0]!r}; known: {', '.join(ACTORS)}")
            skipped.append({"file": str(path), "reason": reason})
            continue
        actor = parsed[0]
        items.append(Item(key=path.stem, path=path, info={
            "label": k - 1, "subject": ACTORS.index(actor) + 1, "actor": actor,
            "split_folder": path.parent.parent.name}))
    return Discovery(items=items, skipped=skipped)


def read(item: Item) -> Sequence:
    """Forward kinematics of the clip with its actor's ASF beside it: joints ``(T, 1, 31, 3)``
    float32 metres, layout ``hdm05``, 120 fps."""
    seq = read_amc(item.path)
    return dataclasses.replace(seq, name=item.key, label=int(item.info["label"]),
                               subject=int(item.info["subject"]))


def protocols(meta: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """``actors``: subjects bd, bk, dg train; mm, tr test."""
    train_ids = {ACTORS.index(a) + 1 for a in TRAIN_ACTORS}
    subjects = np.array([int(m["subject"]) for m in meta], dtype=np.int64)  # (N,)
    return {"actors": split_indices(np.isin(subjects, list(train_ids)))}


SPEC = DatasetSpec(
    name="hdm05",
    layout=HDM05,
    max_bodies=1,
    class_names=class_names,
    discover=discover,
    read=read,
    protocols=protocols,
    default_protocol="actors",
)
