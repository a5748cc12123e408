"""UTKinect-Action3D as a dataset: one sample per labelled action instance.

Raw folder: the folder holding ``actionLabel.txt`` and ``joints_sSS_eEE.txt`` (or its parent, with
them in ``joints/``). 10 subjects x 2 runs, each run a single recording of all ten actions, cut into
segments by the frame ranges of ``actionLabel.txt``: 200 entries, of which one (``s10_e02 carry``)
is ``NaN NaN`` and is reported as skipped, so 199 samples are prepared.

Label decisions (see docs/formats.md for the evidence):

* a boundary that is not a frame number of the recording snaps to the nearest one; a tie snaps
  inwards (a start up, an end down), which reproduces the snapped boundaries of the independently
  edited label file in the data's ``non_official/`` folder;
* corrections listed in ``mans/data/utkinect_label_fixes.txt`` (one: ``s03_e01 push 2556`` ->
  ``3556``) are applied when the file holds the listed value;
* a segment holds every row whose frame number lies in ``[start, end]`` (both inclusive),
  duplicate-frame rows included.

Protocols: ``xsub`` (odd subjects train, even subjects test; the default), ``loso-SS`` (subject
``SS`` is the test split), ``loo-NNN`` (sample ``NNN`` of the store, 1-based, is the test split).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..formats.utkinect import parse_name, read_action_labels, read_joints_table
from ..skeleton import KINECT20, Sequence
from . import DatasetSpec, Discovery, Item, split_indices

# Class order = action order in actionLabel.txt (label = index).
CLASSES = ("walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull", "waveHands",
           "clapHands")
LABEL_FILE = "actionLabel.txt"


def class_names(raw_dir: Path | None = None) -> list[str]:
    return list(CLASSES)


def _locate(raw_dir: Path, options: dict) -> tuple[Path, Path]:
    """``(folder of the joints files, label file)``; ``options["labels"]`` overrides the latter."""
    raw_dir = Path(raw_dir)
    joints_dir = raw_dir
    if not (raw_dir / LABEL_FILE).is_file() and (raw_dir / "joints" / LABEL_FILE).is_file():
        joints_dir = raw_dir / "joints"
    label_path = Path(options["labels"]) if options.get("labels") else joints_dir / LABEL_FILE
    if not label_path.is_file():
        raise FormatError(label_path, f"label file not found; expected {LABEL_FILE} in {raw_dir} "
                          f"or {raw_dir / 'joints'}")
    return joints_dir, label_path


def load_fixes() -> dict[tuple[str, str, int, int], tuple[int, int]]:
    """``{(sequence, action, old_start, old_end): (new_start, new_end)}`` from package data."""
    fixes = {}
    text = resources.files("mans").joinpath("resources/utkinect_label_fixes.txt").read_text("ascii")
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if parts:
            seq, action, a, b, c, d = parts
            fixes[(seq, action, int(a), int(b))] = (int(c), int(d))
    return fixes


def snap_boundary(frames: np.ndarray, value: int, side: str) -> int:
    """The frame number in ``frames`` nearest to ``value``.

    A tie (``value`` exactly between two frame numbers) goes inwards: up for ``side="start"``,
    down for ``side="end"``, so a snapped segment never grows beyond its labelled range.
    """
    u = np.unique(frames)  # (U,) sorted
    i = int(np.searchsorted(u, value))  # u[i-1] < value <= u[i]
    if i < len(u) and u[i] == value:
        return int(value)
    if i == 0:
        return int(u[0])
    if i == len(u):
        return int(u[-1])
    lo, hi = int(u[i - 1]), int(u[i])
    if value - lo != hi - value:
        return lo if value - lo < hi - value else hi
    return hi if side == "start" else lo


@functools.lru_cache(maxsize=4)
def _table(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cached :func:`read_joints_table` (ten samples share one file); arrays made read-only."""
    frames, joints = read_joints_table(path)
    frames.setflags(write=False)
    joints.setflags(write=False)
    return frames, joints


def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        st = path.stat()
    except OSError as e:
        raise FormatError(path, f"cannot read file: {e.strerror or e}") from None
    return _table(str(path), st.st_mtime_ns, st.st_size)


def discover(raw_dir: Path, options: dict | None = None) -> Discovery:
    """One :class:`Item` per labelled action instance, key ``sSS_eEE_<action>``.

    ``item.info`` holds ``label``, ``action``, ``subject``, ``replication``, the frame range cut
    (``start``, ``end``; snapped/corrected) and the range as written (``label_start``,
    ``label_end``). NaN entries, entries of a missing or unreadable joints file and segments
    holding no row go to ``Discovery.skipped`` with the reason.
    """
    options = options or {}
    joints_dir, label_path = _locate(Path(raw_dir), options)
    labels = read_action_labels(label_path)
    fixes = load_fixes()
    items: list[Item] = []
    skipped: list[dict] = []
    for seq, entries in labels.items():
        path = joints_dir / f"joints_{seq}.txt"
        subject, replication = parse_name(seq)
        try:
            frames = _load(path)[0] if path.is_file() else None
            problem = None if frames is not None else "joints file not found"
        except FormatError as e:
            frames, problem = None, f"unreadable joints file: {e}"
        for action, start, end in entries:
            key = f"{seq}_{action}"
            if action not in CLASSES:
                raise FormatError(label_path, f"{seq}: unknown action {action!r}; expected one "
                                  f"of {', '.join(CLASSES)}")
            if start is None or end is None:
                skipped.append({"file": str(path), "key": key,
                                "reason": "label file gives NaN boundaries (not recorded)"})
                continue
            if problem is not None:
                skipped.append({"file": str(path), "key": key, "reason": problem})
                continue
            s, e = fixes.get((seq, action, start, end), (start, end))
            s, e = snap_boundary(frames, s, "start"), snap_boundary(frames, e, "end")
            if s > e or not np.any((frames >= s) & (frames <= e)):
                skipped.append({"file": str(path), "key": key,
                                "reason": f"frame range {start}..{end} holds no skeleton row"})
                continue
            info = {"label": CLASSES.index(action), "action": action, "subject": subject,
                    "replication": replication, "start": s, "end": e,
                    "label_start": start, "label_end": end}
            items.append(Item(key=key, path=path, info=info))
    return Discovery(items=items, skipped=skipped)


def read(item: Item) -> Sequence:
    """Cut ``item``'s segment: rows with ``start <= frame number <= end``, all bodies' joints
    ``(T, 1, 20, 3)`` float32 metres, layout ``kinect20``."""
    frames, joints = _load(Path(item.path))
    start, end = int(item.info["start"]), int(item.info["end"])
    mask = (frames >= start) & (frames <= end)  # (T_file,)
    if not mask.any():
        raise FormatError(item.path, f"{item.key}: no row with a frame number in "
                          f"{start}..{end}")
    return Sequence(joints=joints[mask].copy(), layout=KINECT20, name=item.key,
                    label=int(item.info["label"]), subject=item.info.get("subject"),
                    replication=item.info.get("replication"), source=str(item.path))


def protocols(meta: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """``xsub``, ``loso-SS`` for every subject present, ``loo-NNN`` for every sample."""
    subjects = np.array([int(m["subject"]) for m in meta], dtype=np.int64)  # (N,)
    out = {"xsub": split_indices(subjects % 2 == 1)}
    for s in sorted(set(subjects.tolist())):
        out[f"loso-{s:02d}"] = split_indices(subjects != s)
    n = len(meta)
    width = max(3, len(str(n)))
    for i in range(n):
        out[f"loo-{i + 1:0{width}d}"] = split_indices(np.arange(n) != i)
    return out


SPEC = DatasetSpec(
    name="utkinect",
    layout=KINECT20,
    max_bodies=1,
    class_names=class_names,
    discover=discover,
    read=read,
    protocols=protocols,
    default_protocol="xsub",
)
