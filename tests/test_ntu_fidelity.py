"""Format fidelity on real NTU RGB+D files: a checkpoint trained on synthetic NTU-format data
classifies the five real samples through ``mans predict``, and the authors' view transform puts all
real bodies (the two-person sample's second body included) into one canonical frame."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mans import cli
from mans.engine.train import run_training
from mans.formats import read_sequence
from mans.data.prepare import prepare
from mans.skeleton import NTU25
from mans.synth import write_synthetic
from mans.data.bodies import body_presence
from mans.data.spec import PrepConfig
from mans.data.pipeline import prepare_sequence

# A tiny network: 2 bodies x 25 joints = 50 columns -> S = 50; one ResNet stage of 8 filters.
TINY = ["model.size=50", "model.hidden=8", "model.resnet_width=8", "model.resnet_stages=[1]",
        "train.batch_size=16", "train.epochs=1", "train.selection=last",
        "data.val_fraction=0.0", "data.num_workers=0"]
V = NTU25.num_joints
HEAD, LHIP, RHIP = NTU25.joints.index("head"), NTU25.role("left_hip"), NTU25.role("right_hip")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """last.pt of a 1-epoch run on synthetic NTU-60 files (2 performers, 96 files)."""
    root = tmp_path_factory.mktemp("ntu_fidelity")
    write_synthetic(root / "raw", seed=0, subjects=2, replications=1, progress=False)
    prepare("ntu60", root / "raw", root / "store", workers=1, progress=False)
    metrics = run_training("ntu60-xsub-resnet", data=root / "store", out=root / "run",
                           overrides=TINY, device="cpu", deterministic=True, progress=False)
    assert metrics["n_train"] == 48 and metrics["n_test"] == 48
    return root / "run" / "last.pt"


def test_predict_real_ntu_samples(checkpoint, ntu_samples, capsys):
    files = sorted(ntu_samples.glob("*.skeleton"))
    assert len(files) == 5
    rc = cli.main(["predict", str(checkpoint), *map(str, files), "--json", "--topk", "3",
                   "--device", "cpu"])
    out = capsys.readouterr().out
    assert rc == 0
    results = json.loads(out)
    assert [r["file"] for r in results] == [str(f) for f in files]
    for f, r in zip(files, results):
        # label = NTU action - 1, parsed from the real file name SsssCcccPpppRrrrAaaa
        assert r["true_label"] == int(f.stem[-3:]) - 1
        probs = [t["prob"] for t in r["top"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)
        assert 0 < sum(probs) <= 1 + 1e-6
        assert np.asarray(r["attention"]).shape == (3, 50)
        # T' <= 50 frames are centre-padded; longer ones are sub-sampled: every row a frame
        rows = np.asarray(r["frame_index"])
        assert rows.shape == (50,) and (rows >= 0).sum() == min(50, rows.max() + 1)


def _bodies(x: np.ndarray) -> list[np.ndarray]:
    """Per body slot of a prepared ``(3, T, 2V)`` array: its present frames ``(T_b, V, 3)``."""
    joints = x.transpose(1, 2, 0).reshape(x.shape[1], 2, V, 3)  # (T, M, V, 3)
    present = body_presence(joints)  # (T, M)
    return [joints[present[:, m], m] for m in range(2) if present[:, m].any()]


def _signed_axis(v: np.ndarray) -> tuple[int, int]:
    """``(axis, sign)`` of the largest component of ``v (3,)``."""
    k = int(np.argmax(np.abs(v)))
    return k, int(np.sign(v[k]))


def test_authors_view_gives_one_canonical_frame(ntu_samples):
    cfg = PrepConfig(view="authors", max_bodies=2)
    head_axes, hip_axes, bodies_seen = [], [], {}
    for f in sorted(ntu_samples.glob("*.skeleton")):
        x = prepare_sequence(read_sequence(f), cfg)  # (3, T', 50)
        bodies = _bodies(x)
        bodies_seen[f.stem] = len(bodies)
        for b in bodies:  # (T_b, V, 3)
            centre = 0.5 * (b[:, LHIP] + b[:, RHIP])  # (T_b, 3)
            up = (b[:, HEAD] - centre).mean(axis=0)  # (3,) hips -> head, mean over frames
            side = (b[:, RHIP] - b[:, LHIP]).mean(axis=0)  # (3,) left hip -> right hip
            # the axis carries the vector (not merely leans towards it)
            assert np.abs(up).max() > 0.8 * np.linalg.norm(up), (f.name, up)
            assert np.abs(side).max() > 0.8 * np.linalg.norm(side), (f.name, side)
            head_axes.append(_signed_axis(up))
            hip_axes.append(_signed_axis(side))
            # and in the body's first frame, the one its rotation was computed from
            assert b[0, HEAD, 2] > b[0, LHIP, 2] and b[0, RHIP, 0] > b[0, LHIP, 0], f.name
    assert bodies_seen == {"S001C001P001R001A011": 1, "S001C003P008R002A058": 2,
                           "S002C001P003R001A003": 1, "S003C001P015R001A034": 1,
                           "S004C002P003R001A017": 1}
    assert len(head_axes) == 6
    assert set(head_axes) == {(2, 1)}, head_axes  # the head is above the hips along +z
    assert set(hip_axes) == {(0, 1)}, hip_axes  # left -> right hip along +x, every body
