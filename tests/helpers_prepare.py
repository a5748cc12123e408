"""A tiny registered dataset ("tinytest") of synthetic .npy sequences, for the prepare and store
tests: independent of the real readers, and with a corrupt file on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mans.datasets import DatasetSpec, Discovery, Item, register_dataset, split_indices
from mans.errors import FormatError
from mans.skeleton import Sequence

CLASSES = ["wave", "clap", "kick"]


def _class_names(raw: Path) -> list[str]:
    return list(CLASSES)


def _discover(raw: Path, options: dict) -> Discovery:
    """Every ``sSS_aAA_NNN.npy`` is an item; names in ``options["missing_list"]`` are skipped."""
    missing = set()
    if options.get("missing_list"):
        missing = set(Path(options["missing_list"]).read_text().split())
    items, skipped = [], []
    for p in sorted(Path(raw).glob("*.npy")):
        if p.stem in missing:
            skipped.append({"file": str(p), "reason": "in the missing list"})
            continue
        subject, action = int(p.stem[1:3]), int(p.stem[5:7])
        items.append(Item(key=p.stem, path=p, info={"subject": subject, "label": action}))
    return Discovery(items=items, skipped=skipped)


def _read(item: Item) -> Sequence:
    joints = np.load(item.path)  # a corrupt file raises ValueError: must be skipped too
    if joints.ndim != 4:
        raise FormatError(item.path, f"expected (T, M, 25, 3), got {joints.shape}", line=1)
    return Sequence(joints=joints.astype(np.float32), layout="ntu25", name=item.key,
                    label=item.info["label"], subject=item.info["subject"], source=str(item.path))


def _protocols(meta: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    subjects = np.array([m["subject"] for m in meta])
    return {"xsub": split_indices(subjects % 2 == 1), "all": split_indices(subjects > 0)}


SPEC = register_dataset(DatasetSpec(
    name="tinytest", layout="ntu25", max_bodies=2, class_names=_class_names, discover=_discover,
    read=_read, protocols=_protocols, default_protocol="xsub"))


def body(rng: np.random.Generator) -> np.ndarray:
    """(25, 3) a roughly upright random body (hips apart in x, torso along z)."""
    b = rng.normal(scale=0.05, size=(25, 3))
    b[[0, 1, 20, 2, 3], 2] += [0, 0.3, 0.5, 0.6, 0.7]
    b[[4, 5, 6, 7], 0] -= 0.2
    b[[8, 9, 10, 11], 0] += 0.2
    b[[4, 8], 2] += 0.5
    b[[12, 13, 14, 15], 0] -= 0.1
    b[[16, 17, 18, 19], 0] += 0.1
    b[[14, 15, 18, 19], 2] -= 0.8
    b[[15, 19], 1] += 0.1
    return b


def write_tiny_raw(raw: Path, n: int = 12, seed: int = 0, corrupt: bool = True) -> list[str]:
    """``n`` synthetic samples (1 or 2 bodies, 10..80 frames, a camera turn + offset each), plus
    ``s01_a00_998.npy`` (garbage bytes) and ``s09_a00_999.npy`` (a 3-D array) when ``corrupt``.
    Returns the stems of the good samples."""
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    stems = []
    for i in range(n):
        t, m = int(rng.integers(10, 80)), 1 + i % 2
        base = np.stack([body(rng) + [1.0 * b, 0, 0] for b in range(m)])  # (M, 25, 3)
        joints = base[None] + 0.01 * rng.normal(size=(t, m, 25, 3)).cumsum(0)
        a = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        joints = joints @ rot.T + rng.uniform(-2, 2, 3)
        if m == 2:
            joints[: t // 3, 1] = 0  # second person enters later
        stem = f"s{1 + i % 4:02d}_a{i % 3:02d}_{i:03d}"
        np.save(raw / f"{stem}.npy", joints.astype(np.float32))
        stems.append(stem)
    if corrupt:
        (raw / "s01_a00_998.npy").write_bytes(b"this is not an npy file")
        np.save(raw / "s09_a00_999.npy", np.zeros((3, 4, 5), dtype=np.float32))
    return stems
