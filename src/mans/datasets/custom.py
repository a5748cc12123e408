"""A folder of custom ``.npz`` sequences plus ``labels.csv`` as a dataset (see docs/formats.md).

Raw folder::

    labels.csv          file,label[,subject][,split][,any metadata column...]  (header required;
                        any column order; extra columns such as view, camera, session are kept
                        as strings in each sample's ``extra`` metadata)
    classes.txt         optional: one class name per line, in label order
    protocols.yaml      optional: protocols defined from the CSV columns (see below)
    *.npz / sub/*.npz   one sequence per file (mans.formats.custom), paths relative to the folder;
                        any other file mans can read (pose-estimator JSON, OpenPose folders,
                        MediaPipe CSV, ...) is read with :func:`mans.formats.read_sequence`

Class names: ``classes.txt`` if present, else the sorted unique ``label`` values (numerically
when all are integers, so ``"10"`` follows ``"9"``).

Protocols (always also one named ``default``, which the spec's default protocol points to):

* every protocol of ``protocols.yaml``: ``NAME: {train: {COLUMN: VALUES}, test: {...}[, val:
  {...}]}``, a row belonging to a split when its value in every named column is among VALUES (a
  value or a list; compared as strings). A row matching two splits, a column labels.csv does not
  have (``subject`` included), or an empty train or test split is an error;
* ``given``: the ``split`` column (train / test / val), when the CSV has one;
* ``xsub``: when subjects are known, the sorted subject ids alternate train, test, train, ...;
* ``holdout``: always; a file is in the test split when the first 8 hex digits of the SHA-1 of
  its key (path without ``.npz``) modulo 100 are below 20 (about 80/20, stable under reordering).

``default`` is ``given`` if present, else ``xsub``, else ``holdout``, else the first protocol of
``protocols.yaml`` (in file order). A ``given`` protocol with an empty train or test split is an
error; an automatic one (``xsub``, ``holdout``) with an empty split is not created (a folder of 3
files has no 80/20 hold-out).

Discovery reads every file once (cheap next to preparation): a file that cannot be read or has
0 frames is recorded as skipped with its reason, and the most bodies found in one frame (at most
2) becomes the default ``max_bodies`` of ``mans prepare``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path

import re

import numpy as np
import yaml

from ..errors import ConfigError, FormatError
from ..formats import read_sequence
from ..formats.csvrows import csv_records, open_csv
from ..formats.custom import read_npz_with_label
from ..skeleton import Layout, Sequence
from . import DatasetSpec, Discovery, Item, split_indices

LABELS_CSV = "labels.csv"
CLASSES_TXT = "classes.txt"
PROTOCOLS_YAML = "protocols.yaml"
SPLITS = ("train", "test", "val")
HOLDOUT_TEST_PERCENT = 20
MAX_BODIES = 2
_INT = re.compile(r"-?[0-9]+")  # ASCII only: str.isdigit() accepts '²', which int() refuses
_COLUMN = re.compile(r"[a-z][a-z0-9_]*\Z")


@dataclasses.dataclass(frozen=True)
class Row:
    line: int  # 1-based line in labels.csv
    file: str
    label: str
    subject: int | None
    split: str | None
    extra: dict = dataclasses.field(default_factory=dict)  # further columns, as strings


def read_labels_csv(path: Path) -> list[Row]:
    """Parse ``labels.csv``; raises :class:`FormatError` naming the line for any bad row.

    A file is parsed once per content: the class names, the discovery and the protocols of one
    ``mans prepare`` all ask for it, and get the rows of one parse."""
    try:
        digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError:  # the parse says why, naming the file
        digest = None
    return list(_parsed_labels(str(path), digest))


@functools.lru_cache(maxsize=8)
def _parsed_labels(path: str, digest: str | None) -> tuple[Row, ...]:
    """:func:`read_labels_csv`'s parse, memoised by (file, SHA-1 of its bytes)."""
    path = Path(path)
    reader, header = open_csv(path, " 'file,label[,subject][,split]'")
    for col in ("file", "label"):
        if col not in header:
            raise FormatError(path, f"header has no '{col}' column; expected "
                              f"'file,label[,subject][,split]'", 1)
    bad = [h for h in header if not _COLUMN.match(h)]
    if bad or len(set(header)) != len(header):
        raise FormatError(path, f"header columns must be distinct names of lower-case letters, "
                          f"digits and '_' (file, label, subject, split, or any metadata "
                          f"column); found {header}", 1)
    extra_cols = [h for h in header if h not in ("file", "label", "subject", "split")]
    col = {h: i for i, h in enumerate(header)}
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, rec in csv_records(reader, path, len(header), f" ({','.join(header)})"):
        rec = [c.strip() for c in rec]
        file, label = rec[col["file"]], rec[col["label"]]
        if not file or not label:
            raise FormatError(path, "empty 'file' or 'label' value", line)
        if file in seen:
            raise FormatError(path, f"file {file!r} already listed on line {seen[file]}", line)
        seen[file] = line
        subject = None
        if "subject" in col:
            s = rec[col["subject"]]
            if not (s.isascii() and s.isdigit()) or int(s) < 1:  # isdigit() accepts '²'
                raise FormatError(path, f"subject {s[:20]!r}: expected a 1-based integer id",
                                  line)
            subject = int(s)
        split = None
        if "split" in col:
            split = rec[col["split"]].lower()
            if split not in SPLITS:
                raise FormatError(path, f"split {split[:20]!r}: expected one of {SPLITS}", line)
        extra = {h: rec[col[h]] for h in extra_cols}
        rows.append(Row(line=line, file=file, label=label, subject=subject, split=split,
                        extra=extra))
    if not rows:
        raise FormatError(path, "no rows after the header")
    return tuple(rows)


def _sort_labels(labels: set[str]) -> list[str]:
    if all(_INT.fullmatch(s) for s in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def class_names(raw_dir: Path) -> list[str]:
    """``classes.txt`` lines if present, else the sorted unique labels of ``labels.csv``."""
    raw_dir = Path(raw_dir)
    classes = raw_dir / CLASSES_TXT
    if classes.is_file():
        names: list[str] = []
        try:
            text = classes.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise FormatError(classes, f"cannot read as UTF-8 text: {e}") from None
        for i, line in enumerate(text.splitlines(), start=1):
            name = line.strip()
            if not name:
                continue
            if name in names:
                raise FormatError(classes, f"class {name!r} listed twice", i)
            names.append(name)
        if not names:
            raise FormatError(classes, "empty file: expected one class name per line")
        return names
    return _sort_labels({r.label for r in read_labels_csv(_csv(raw_dir))})


def _csv(raw_dir: Path) -> Path:
    path = Path(raw_dir) / LABELS_CSV
    if not path.is_file():
        raise FormatError(path, f"not found: a custom dataset folder needs {LABELS_CSV} with "
                          f"columns file,label[,subject][,split]")
    return path


def _key(file: str) -> str:
    return file[:-4] if file.lower().endswith(".npz") else file


def _read_file(path: Path, layout: Layout | None) -> tuple[Sequence, int | str | None]:
    """``(sequence, the label stored in the file or None)`` of one listed file: an ``.npz``
    (which may name ``layout``, the first file's, without defining it) or any file mans reads."""
    if path.suffix.lower() == ".npz":
        return read_npz_with_label(path, layout)
    return read_sequence(path), None


def _probe(path: Path, layout: Layout | None) -> tuple[Sequence, int | str | None]:
    """:func:`_read_file`, refusing a file with 0 frames (FormatError, as for an unreadable
    one). Discovery reads each file in full for its layout and bodies; the item keeps what was
    read, so that :func:`read` does not read it again."""
    seq, own = _read_file(path, layout)
    if seq.num_frames == 0:
        raise FormatError(path, "0 frames")
    return seq, own


def discover(raw_dir: Path, options: dict | None = None) -> Discovery:
    """One :class:`Item` per CSV row (key = file path without ``.npz``); ``info["layout"]`` is
    the files' common layout. A row naming a missing file, an unknown class or a file with
    another layout than the first raises :class:`FormatError` with the CSV line; a file that
    cannot be read (or has 0 frames) is skipped with its reason."""
    raw_dir = Path(raw_dir)
    csv_path = _csv(raw_dir)
    rows = read_labels_csv(csv_path)
    names = class_names(raw_dir)
    items, skipped, bodies = [], [], 1
    for r in rows:
        if r.label not in names:
            raise FormatError(csv_path, f"label {r.label!r} is not in {CLASSES_TXT}", r.line)
        path = raw_dir / r.file
        if not path.exists():
            raise FormatError(csv_path, f"file {r.file!r} not found in {raw_dir}", r.line)
        try:
            seq, own = _probe(path, items[0].info["layout"] if items else None)
        except FormatError as e:
            where = f"line {e.line}: " if e.line is not None else ""
            skipped.append({"file": str(path), "key": _key(r.file), "reason": where + e.reason})
            continue
        layout, most = seq.layout, int(seq.bodies_per_frame().max(initial=0))
        first = items[0].info["layout"] if items else layout
        if layout != first:
            what = (f"layout {layout.name!r} but {items[0].path.relative_to(raw_dir)} has "
                    f"{first.name!r}" if layout.name != first.name else
                    f"another definition of layout {layout.name!r} than "
                    f"{items[0].path.relative_to(raw_dir)}")
            raise FormatError(csv_path, f"{r.file} has {what}; one dataset needs one layout",
                              r.line)
        bodies = max(bodies, most)
        info = {"label": names.index(r.label), "class_name": r.label, "subject": r.subject,
                "split": r.split, "csv_line": r.line, "layout": layout, "extra": r.extra,
                "read": (seq, own)}  # handed to read() once, then dropped
        items.append(Item(key=_key(r.file), path=path, info=info))
    return Discovery(items=items, skipped=skipped,
                     layout=items[0].info["layout"] if items else None,
                     max_bodies=min(bodies, MAX_BODIES),
                     dims=int(items[0].info["read"][0].joints.shape[-1]) if items else None)


def read(item: Item) -> Sequence:
    """The item's sequence (as discovery read it, else read now); label and subject come from
    the CSV, which must agree with a label stored in the file."""
    done = item.info.pop("read", None)  # popped: memory is freed as the store is written
    seq, own = done if done is not None else _read_file(item.path, item.info.get("layout"))
    label, cls = int(item.info["label"]), item.info["class_name"]
    if own is not None and own != cls and own != label:
        raise FormatError(item.path, f"its 'label' {own!r} contradicts labels.csv line "
                          f"{item.info['csv_line']} ({cls!r}, index {label})")
    subject = item.info.get("subject") or seq.subject
    return dataclasses.replace(seq, name=item.key, label=label, subject=subject,
                               extra=dict(item.info.get("extra") or {}))


def _root(m: dict) -> Path | None:
    """The raw folder of a sample, found from its ``source`` path and its key (``name``)."""
    key_parts = len(Path(m["name"]).parts)
    source = Path(m.get("source") or "")
    if key_parts == 0 or len(source.parents) < key_parts:
        return None
    return source.parents[key_parts - 1]


def _splits_from_csv(meta: list[dict]) -> list[str | None]:
    """Each sample's CSV split: from ``meta["split"]`` when the caller kept it, else looked up
    in the ``labels.csv`` of the raw folder found from ``source`` and ``name`` (the key)."""
    if all("split" in m for m in meta):
        return [m["split"] for m in meta]
    cache: dict[Path, dict[str, str | None]] = {}
    out = []
    for m in meta:
        root = _root(m)
        if root is None:
            out.append(None)  # cannot locate the CSV: no "given" protocol
            continue
        if root not in cache:
            path = root / LABELS_CSV
            cache[root] = {_key(r.file): r.split for r in read_labels_csv(path)} \
                if path.is_file() else {}
        out.append(cache[root].get(m["name"]))
    return out


# Protocols made from labels.csv (given, xsub, holdout) and the pick among them (default).
AUTOMATIC = ("given", "xsub", "holdout", "default")


def read_protocols_yaml(path: Path, columns: set[str]) -> dict[str, dict[str, dict]]:
    """``{protocol: {split: {column: [values as str]}}}`` from ``protocols.yaml``, checked."""
    try:
        d = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        mark = getattr(e, "problem_mark", None)
        why = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise FormatError(path, f"cannot read as YAML: {why}",
                          mark.line + 1 if mark is not None else None) from None
    if not isinstance(d, dict) or not d:
        raise FormatError(path, "expected a mapping NAME: {train: {COLUMN: VALUES}, test: {...}}")
    out = {}
    for name, splits in d.items():
        if str(name) in AUTOMATIC:
            raise FormatError(path, f"protocol {name!r}: {', '.join(AUTOMATIC)} are the names of "
                              f"the protocols mans makes itself; name yours otherwise")
        if not isinstance(splits, dict) or not {"train", "test"} <= set(splits) \
                or not set(splits) <= set(SPLITS):
            raise FormatError(path, f"protocol {name!r}: expected the splits train and test "
                              f"(and optionally val), found {splits!r:.80}")
        out[str(name)] = {}
        for split, rule in splits.items():
            if not isinstance(rule, dict) or not rule:
                raise FormatError(path, f"protocol {name!r}, {split}: expected a mapping "
                                  f"COLUMN: VALUES, found {rule!r:.80}")
            unknown = sorted(set(map(str, rule)) - columns)
            if unknown:
                raise FormatError(path, f"protocol {name!r}, {split}: no labels.csv column "
                                  f"{', '.join(unknown)}; columns: {sorted(columns)}")
            out[str(name)][split] = {
                str(c): [str(v) for v in (vals if isinstance(vals, list) else [vals])]
                for c, vals in rule.items()}
    return out


def _user_protocols(meta: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """The protocols of ``protocols.yaml`` in the samples' raw folder (none without one)."""
    roots = {_root(m) for m in meta}
    if len(roots) != 1 or None in roots:
        return {}
    path = next(iter(roots)) / PROTOCOLS_YAML  # type: ignore[operator]
    if not path.is_file():
        return {}
    # the columns labels.csv has: 'subject' only when it is one (a sample's subject may come
    # from its .npz; without the column every row would match a rule on subject by str(None))
    csv_path = path.parent / LABELS_CSV
    header = open_csv(csv_path)[1] if csv_path.is_file() else []
    columns = set(header) - {"file", "label", "split"}
    values = [{**(m.get("extra") or {}), "subject": str(m.get("subject"))} for m in meta]
    out = {}
    for name, splits in read_protocols_yaml(path, columns).items():
        member = {s: np.array([all(v.get(c) in vals for c, vals in rule.items()) for v in values],
                              dtype=bool) for s, rule in splits.items()}
        both = np.sum(list(member.values()), axis=0) > 1
        if both.any():
            i = int(np.flatnonzero(both)[0])
            raise ConfigError(f"{path}: protocol {name!r}: sample {meta[i]['name']!r} matches "
                              f"more than one split")
        out[name] = {s: np.flatnonzero(mk).astype(np.int64) for s, mk in member.items()}
        _check_nonempty(out[name], f"{path}: protocol {name!r}")
    return out


def _check_nonempty(splits: dict[str, np.ndarray], what: str) -> None:
    empty = [s for s in ("train", "test") if len(splits.get(s, ())) == 0]
    if empty:
        raise ConfigError(f"{what}: the {' and '.join(empty)} split is empty "
                          f"({', '.join(f'{s} {len(i)}' for s, i in splits.items())} samples)")


def holdout_is_test(key: str) -> bool:
    digest = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16)
    return digest % 100 < HOLDOUT_TEST_PERCENT


def protocols(meta: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """``given`` / ``xsub`` / ``holdout`` as available, plus ``default`` (see module doc)."""
    user = _user_protocols(meta)
    out: dict[str, dict[str, np.ndarray]] = dict(user)
    splits = _splits_from_csv(meta)
    if meta and all(s is not None for s in splits):
        arr = np.array(splits)
        out["given"] = {s: np.flatnonzero(arr == s).astype(np.int64) for s in SPLITS
                        if (arr == s).any() or s != "val"}
        _check_nonempty(out["given"], "labels.csv 'split' column")
    subjects = [m.get("subject") for m in meta]
    auto = {}
    if meta and all(s is not None for s in subjects):
        order = sorted(set(subjects))
        train_subjects = set(order[0::2])
        auto["xsub"] = split_indices(np.array([s in train_subjects for s in subjects]))
    auto["holdout"] = split_indices(np.array([not holdout_is_test(m["name"]) for m in meta],
                                             dtype=bool))
    out.update({k: v for k, v in auto.items() if len(v["train"]) and len(v["test"])})
    default = (out.get("given") or out.get("xsub") or out.get("holdout")
               or next(iter(user.values()), None))  # the first protocols.yaml protocol
    if default is None:
        raise ConfigError(f"no protocol with a non-empty train and test split for these "
                          f"{len(meta)} samples: give a 'split' column or a {PROTOCOLS_YAML}")
    out["default"] = default
    return out


SPEC = DatasetSpec(
    name="custom",
    layout=None,  # depends on the files: Discovery.layout says which
    max_bodies=2,
    class_names=class_names,
    discover=discover,
    read=read,
    protocols=protocols,
    default_protocol="default",
)
