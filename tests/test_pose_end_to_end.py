"""2-D pose-estimator data end to end: a custom folder of COCO-17 JSON files -> prepare --view 2d
-> train -> mans.load(...).predict of a raw file, all with the same preprocessing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import mans
from mans.engine.train import run_training
from mans.errors import ConfigError
from mans.data.prepare import prepare
from mans.data.dataset import SkeletonDataset
from mans.data.store import PreparedStore

TINY = ["model.size=20", "model.hidden=8", "model.resnet_width=8", "model.resnet_stages=[1]",
        "train.batch_size=4", "train.epochs=2", "data.num_workers=0", "data.val_fraction=0.0",
        "train.selection=last"]
NO_GEOMETRY = ["data.augment.rotation_deg=[0.0,0.0,0.0]", "data.augment.scale=[1.0,1.0]",
               "data.augment.noise_std=0.0"]


def _clip(rng, t, action):
    """(T, 17, 2) pixels: a body whose wrists move up (action 0) or sideways (action 1)."""
    base = np.stack([np.full(17, 320.0), np.linspace(100, 400, 17)], 1)
    frames = np.repeat(base[None], t, axis=0) + rng.normal(0, 2, (t, 17, 2))
    phase = np.sin(np.linspace(0, 3 * np.pi, t))
    frames[:, 9:11, 1 - action] += 60 * phase[:, None]
    return frames


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    d = tmp_path_factory.mktemp("coco-folder")
    rng = np.random.default_rng(0)
    rows = ["file,label,subject,split"]
    for i in range(12):
        a = i % 2
        kp = _clip(rng, 14 + i, a)
        frames = [[{"keypoints": f.tolist(), "keypoint_scores": [0.9] * 17}] for f in kp]
        frames[3] = []  # a frame without detection
        (d / f"c{i}.json").write_text(json.dumps(frames))
        rows.append(f"c{i}.json,{['raise', 'swing'][a]},{i // 4 + 1},"
                    f"{'test' if i >= 8 else 'train'}")
    (d / "labels.csv").write_text("\n".join(rows) + "\n")
    return d


def test_coco_folder_prepare_train_predict(raw, tmp_path):
    m = prepare("custom", raw, tmp_path / "store", view="2d", confidence=True, workers=1,
                progress=False)
    assert m["prepared"] == 12 and m["prep"]["layout"] == "coco17" and m["prep"]["channels"] == 3
    store = PreparedStore.open(tmp_path / "store")
    assert store.sequence(0).shape == (3, 14, 17)  # every frame kept, frame 3 a zero row
    assert not store.sequence(0)[:, 3].any()
    with pytest.raises(ConfigError, match="confidence channel"):
        run_training("custom-small-resnet", data=tmp_path / "store", out=tmp_path / "bad",
                     overrides=TINY, device="cpu", progress=False)
    torch.set_num_threads(1)
    metrics = run_training("custom-small-resnet", data=tmp_path / "store", out=tmp_path / "run",
                           overrides=TINY + NO_GEOMETRY, device="cpu", progress=False)
    clf = mans.load(tmp_path / "run" / metrics["checkpoint"])
    assert clf.layout.name == "coco17" and clf.prep.confidence
    # the raw file through the API gives what the model gives on the stored, prepared sample
    i = int(store.split("given", "test")[0])
    got = clf.predict(raw / f"c{i}.json", topk=2)["top"]
    ds = SkeletonDataset(store, [i], clf.pipeline)
    with torch.no_grad():
        ref = torch.softmax(clf.predictor.model(ds[0][0][None]), 1)[0].numpy()
    assert got[0]["label"] == int(ref.argmax())
    assert got[0]["prob"] == pytest.approx(float(ref.max()), rel=1e-5)


def test_coco_folder_with_the_2d_recipe(raw, tmp_path):
    """The 2-D small-data recipe (custom-small-cooccurrence-2d: spine centring, min-max, in-plane
    rotations, resampled frames) trains on a pose-estimator folder, and the raw file through the
    API gives what the model gives on the stored sample through the checkpoint's pipeline."""
    prepare("custom", raw, tmp_path / "store", view="2d", workers=1, progress=False)
    store = PreparedStore.open(tmp_path / "store")
    torch.set_num_threads(1)
    metrics = run_training("custom-small-cooccurrence-2d", data=tmp_path / "store",
                           out=tmp_path / "run", device="cpu", progress=False,
                           overrides=["model.hidden=8", "model.cooc_width=16", "train.epochs=2",
                                      "train.scheduler.warmup_epochs=1", "train.batch_size=4"])
    clf = mans.load(tmp_path / "run" / metrics["checkpoint"])
    spec = clf.pipeline.spec
    assert (spec.input, spec.centre, spec.normalise, spec.frames) == \
        ("sequence", "spine", "minmax", "resample")
    i = int(store.split("given", "test")[0])
    got = clf.predict(raw / f"c{i}.json", topk=2)["top"]
    x, _ = SkeletonDataset(store, [i], clf.pipeline)[0]
    assert tuple(x.shape) == (2, 32, 17)  # (C, S, J): x, y of S resampled frames, 17 joints
    with torch.no_grad():
        ref = torch.softmax(clf.predictor.model(x[None]), 1)[0].numpy()
    assert got[0]["label"] == int(ref.argmax())
    assert got[0]["prob"] == pytest.approx(float(ref.max()), rel=1e-5)
