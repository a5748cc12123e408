"""A co-occurrence (sequence-input) checkpoint with a non-default input pipeline through every
inference path: file, array, timeline and live stream predictions agree; ONNX export and
``predict --onnx`` match PyTorch on real NTU files; test-time mirroring permutes the joint columns
of the sequence. Checkpoints are untrained (seeded random weights): the plumbing is tested."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import mans
from mans import cli
from mans.engine.checkpoint import Checkpoint
from mans.inference.api import save_untrained
from mans.inference.export import export_onnx
from mans.inference.onnx_predict import OnnxPredictor
from mans.inference.predict import Predictor
from mans.skeleton import Sequence
from test_api import _motion

CLASSES = ["wave", "kick", "sit"]
PIPE = dict(centre="spine", normalise="minmax", frames="resample")


@pytest.fixture(scope="module")
def k20(tmp_path_factory):
    path = tmp_path_factory.mktemp("cooc") / "k20.pt"
    return save_untrained(path, layout="kinect20", prep={"view": "authors", "max_bodies": 1},
                          class_names=CLASSES, model="mans_cooccurrence", size=12, hidden=8,
                          cooc_width=16, **PIPE)


@pytest.fixture(scope="module")
def ntu(tmp_path_factory):
    root = tmp_path_factory.mktemp("cooc")
    ckpt = save_untrained(root / "ntu.pt", layout="ntu25",
                          prep={"view": "authors", "max_bodies": 2}, class_names=CLASSES,
                          model="mans_cooccurrence", size=20, hidden=8, cooc_width=16,
                          stream="bone", test_mirror=True, joint_mixing=True, **PIPE)
    info = export_onnx(ckpt, root / "ntu.onnx")
    return ckpt, root / "ntu.onnx", info


def test_checkpoint_says_sequence_and_the_pipeline(k20):
    state = Checkpoint.load(k20)
    assert state.data.input == "sequence" and state.model_config["joints"] == 20
    assert (state.data.centre, state.data.normalise, state.data.frames) == (
        "spine", "minmax", "resample")
    seq = Sequence(joints=_motion(30)[:, None], layout="kinect20", name="clip")
    img, used = mans.load(k20).image(seq)
    assert img.shape == (3, 12, 20) and used == 30  # (C, S, J): no padded columns


def test_file_array_timeline_and_stream_agree(tmp_path, k20):
    clf = mans.load(k20)
    x = _motion(23)
    np.savez(tmp_path / "clip.npz", joints=x, layout="kinect20")
    a, f = clf.predict(x, topk=3), clf.predict(tmp_path / "clip.npz", topk=3)
    assert a["top"] == f["top"] and a["frame_index"] == f["frame_index"]
    assert a["frame_index"] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]  # resample, test
    tl = clf.timeline(x, window=10, stride=5, topk=3)
    for w, p in zip(tl.windows, tl.probs):
        ref = clf.predict(x[w["start"]:w["end"] + 1], topk=3)
        np.testing.assert_allclose(sorted(p, reverse=True), [t["prob"] for t in ref["top"]],
                                   rtol=1e-5)
    stream = clf.stream(window=10, stride=5, topk=3)
    results = [r for t in range(23) if (r := stream.push(x[t])) is not None]
    assert results
    for r in results:
        ref = clf.predict(x[r["start"]:r["frame"] + 1], topk=3)
        np.testing.assert_allclose([t["prob"] for t in r["top"]],
                                   [t["prob"] for t in ref["top"]], rtol=1e-5)


def test_test_mirror_permutes_the_joint_columns(ntu):
    ckpt, _, _ = ntu
    p = Predictor(ckpt, device="cpu")
    from mans.data.streams import column_mirror

    cols = torch.as_tensor(column_mirror(p.spec.layout, 50))
    x = torch.randn(2, 3, 20, 50)
    xm = x[:, :, :, cols].clone()
    xm[:, 0] *= -1
    with torch.no_grad():  # mirror averaging makes the logits mirror invariant
        torch.testing.assert_close(p.model(x), p.model(xm), rtol=1e-4, atol=1e-5)


def test_onnx_matches_torch_on_real_ntu_files(ntu, ntu_samples, capsys):
    ckpt, path, info = ntu
    assert info["max_abs_diff_logits"] < 1e-4 and info["variant"] == "cooccurrence"
    assert Checkpoint.load(ckpt).model_config["joint_mixing"]  # the mixing exports too
    files = [str(f) for f in sorted(ntu_samples.glob("*.skeleton"))][:3]
    assert cli.main(["predict", str(ckpt), *files, "--json", "--device", "cpu"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert cli.main(["predict", str(path), *files, "--json", "--onnx"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got) == len(ref) == 3
    for g, r in zip(got, ref):
        assert [t["label"] for t in g["top"]] == [t["label"] for t in r["top"]]
        np.testing.assert_allclose([t["prob"] for t in g["top"]], [t["prob"] for t in r["top"]],
                                   atol=1e-4)
        assert g["frame_index"] == r["frame_index"]
    assert OnnxPredictor(path).spec.input == "sequence"
