"""A tiny learnable dataset ("enginetest") prepared by the real ``mans.data.prepare`` into a store, and a
tiny network config, for the engine tests.

4 classes x 6 subjects x 2 repetitions = 48 single-person NTU-layout sequences of 12..30 frames.
Class ``c`` moves the right hand along axis ``c % 3`` (sign flipped for class 3) on top of noise,
so a small network can learn it in a few epochs. Protocol ``xsub``: odd subjects train.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mans.datasets import DatasetSpec, Discovery, Item, register_dataset, split_indices
from mans.skeleton import Sequence

CLASSES = ["raise", "push", "lift", "lower"]
SUBJECTS = 6

# Small network: 25 joint columns (1 body) fit in 28 x 28 images; 2 ResNet blocks of 8 filters.
TINY = ["model.size=28", "model.hidden=8", "model.resnet_width=8", "model.resnet_stages=[1]",
        "train.batch_size=8", "train.epochs=3", "data.num_workers=0", "train.lr=0.05",
        "data.val_fraction=0.3"]


def _discover(raw: Path, options: dict) -> Discovery:
    items = []
    for p in sorted(Path(raw).glob("*.npy")):
        subject, label = int(p.stem[1:3]), int(p.stem[5:7])
        items.append(Item(key=p.stem, path=p, info={"subject": subject, "label": label}))
    return Discovery(items=items)


def _read(item: Item) -> Sequence:
    return Sequence(joints=np.load(item.path), layout="ntu25", name=item.key,
                    label=item.info["label"], subject=item.info["subject"], source=str(item.path))


def _protocols(meta: list[dict]) -> dict:
    subjects = np.array([m["subject"] for m in meta])
    labels = np.array([m["label"] for m in meta])
    return {"xsub": split_indices(subjects % 2 == 1),
            "nosubj": split_indices(labels >= 0)}  # everything is training data


register_dataset(DatasetSpec(
    name="enginetest", layout="ntu25", max_bodies=1, class_names=lambda raw: list(CLASSES),
    discover=_discover, read=_read, protocols=_protocols, default_protocol="xsub"))


def write_raw(raw: Path, seed: int = 0) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for s in range(1, SUBJECTS + 1):
        for c in range(len(CLASSES)):
            for r in range(2):
                t = int(rng.integers(12, 31))
                body = rng.normal(scale=0.1, size=(25, 3)) + [0.0, 0.0, 2.0]
                joints = np.repeat(body[None, None], t, axis=0)  # (T, 1, 25, 3)
                joints = joints + rng.normal(scale=0.02, size=joints.shape)
                path = np.linspace(0, 0.6, t) * (-1 if c == 3 else 1)
                joints[:, 0, [7, 11], c % 3] += path[:, None]  # both hands
                np.save(raw / f"s{s:02d}_a{c:02d}_r{r}.npy", joints.astype(np.float32))


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    """Path of a prepared ``enginetest`` store (built once per session)."""
    from mans.data.prepare import prepare

    root = tmp_path_factory.mktemp("enginestore")
    write_raw(root / "raw")
    prepare("enginetest", root / "raw", root / "store", view="none", workers=1, progress=False)
    return root / "store"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread; with several test processes sharing 2 cores, torch's
    default (one thread per core) oversubscribes the CPU and is 10x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
