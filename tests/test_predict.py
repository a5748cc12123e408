"""``mans predict`` helpers; the end-to-end run on real NTU files is in test_ntu_fidelity.py."""

from __future__ import annotations

import numpy as np

from helpers_pipeline import pipeline_for
from mans.inference.predict import format_prediction
from mans.inference.records import sparkline


def test_the_rows_named_are_the_rows_filled():
    """A record's ``frame_index`` (the pipeline's rows) names the frame each model row holds."""
    for t, s in [(7, 10), (10, 10), (50, 10), (11, 10), (1, 5)]:
        x = np.repeat(np.arange(1, t + 1, dtype=np.float32)[None, :, None], 20, axis=2)
        for input in ("image", "sequence"):  # frame k holds k + 1 in every column
            size = max(s, 20) if input == "image" else s  # an image is at least J wide
            img, rows = pipeline_for("kinect20", size, input=input).sample(x)
            j0 = (img.shape[2] - 20) // 2
            assert np.array_equal(img[0, :, j0], np.where(rows >= 0, rows + 1, 0)), (t, s)


def test_format_prediction_lists_classes_and_marks_padding():
    # kept rows hold 1.0 and 0.5: min-max over the kept rows maps them to the top and bottom
    # bars; the padding row's 0.0 does not stretch the scale
    r = {"file": "a.skeleton", "top": [{"class": "sit down", "prob": 0.75},
                                       {"class": "stand up", "prob": 0.25}],
         "attention": [[0.0, 1.0, 0.5, 0.5]] * 3, "frame_index": [-1, 0, 1, -1]}
    text = format_prediction(r)
    assert "1. sit down" in text and "0.750" in text and "2. stand up" in text
    assert "scaled 0.5000..1.0000" in text
    assert text.rstrip().endswith("·█▁·")


def test_sparkline_is_scaled_to_the_sequence():
    # a trained TARM's weights span ~0.49-0.51: the absolute scale drew them all as one bar
    att = np.array([0.49, 0.495, 0.50, 0.505, 0.51])
    text, lo, hi = sparkline(att, np.ones(5, bool))
    assert (lo, hi) == (0.49, 0.51)
    # (a - 0.49) / 0.02 * 7 = 0, 1.75, 3.5, 5.25, 7 -> rounded levels 0, 2, 4 (half to even), 5, 7
    assert text == "▁▃▅▆█"
    assert sparkline(np.full(3, 0.3), np.ones(3, bool))[0] == "▅▅▅"  # constant: mid height
    assert sparkline(att, np.zeros(5, bool))[0] == "·····"


def test_format_prediction_without_tarm():
    r = {"file": "a.skeleton", "top": [{"class": "sit down", "prob": 1.0}], "attention": None,
         "frame_index": [0, 1]}
    assert format_prediction(r).endswith("attention: none (the model has no TARM)")


def test_a_user_layout_travels_with_the_checkpoint(tmp_path):
    """A model of a user's skeleton predicts, in a fresh process, files that only name its layout:
    the definition comes from the checkpoint, not from a registry filled by an earlier read."""
    import json
    import subprocess
    import sys

    from mans.inference.api import save_untrained
    from mans.skeleton import Layout

    rig = Layout(name="rig", joints=("pelvis", "lhip", "rhip", "neck"), parents=(-1, 0, 0, 0),
                 roles={"spine_base": 0, "left_hip": 1, "right_hip": 2, "spine_top": 3})
    ckpt = save_untrained(tmp_path / "rig.pt", layout=rig, prep={"view": "gcn", "max_bodies": 1},
                          class_names=["a", "b"], resnet_stages=[1], resnet_width=8)
    xyz = np.random.default_rng(0).normal(size=(9, 4, 3)).astype(np.float32)
    np.savez(tmp_path / "named.npz", joints=xyz, layout="rig")
    np.savez(tmp_path / "other.npz", joints=xyz, layout="kinect20")
    out = subprocess.run([sys.executable, "-m", "mans", "predict", str(ckpt),
                          str(tmp_path / "named.npz"), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    record = record[0] if isinstance(record, list) else record
    assert sorted(i for i in record["frame_index"] if i >= 0) == list(range(9))
    assert {t["class"] for t in record["top"]} == {"a", "b"}
    bad = subprocess.run([sys.executable, "-m", "mans", "predict", str(ckpt),
                          str(tmp_path / "other.npz")], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 1 and "4 joints per body, but layout 'kinect20' has 20" in bad.stderr


def _two_untrained(tmp_path):
    from mans.inference.api import save_untrained

    kw = dict(layout="kinect20", prep={"view": "authors", "max_bodies": 1},
              class_names=["a", "b", "c"], size=28, hidden=4, resnet_width=4, resnet_stages=[1])
    a = save_untrained(tmp_path / "a.pt", seed=1, **kw)
    b = save_untrained(tmp_path / "b.pt", seed=2, stream="bone", **kw)
    xyz = np.random.default_rng(0).normal(size=(20, 20, 3)).astype(np.float32) + [0, 0, 2]
    np.savez(tmp_path / "x.npz", joints=xyz, layout="kinect20")
    return a, b, tmp_path / "x.npz"


def test_fused_predict_is_the_ensembles_fusion(tmp_path, monkeypatch):
    """``mans predict --ckpt`` fuses with mans ensemble's own function (engine.ensemble.fuse):
    the mean of the softmax scores, here checked against each checkpoint predicted alone."""
    from mans.engine import ensemble
    from mans.inference import predict
    from mans.inference.records import softmax

    a, b, x = _two_untrained(tmp_path)
    fused = predict.predict_files(a, [x], topk=3, device="cpu", ensemble=[b])[0]
    alone = [p.scores(p.pipeline(x))[0] for p in (predict.Predictor(c, "cpu") for c in (a, b))]
    want = (softmax(alone[0]) + softmax(alone[1])) / 2  # (K,)
    got = [t["prob"] for t in sorted(fused["top"], key=lambda t: t["label"])]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert predict.fuse is ensemble.fuse
    seen = []
    monkeypatch.setattr(predict, "fuse", lambda s, w=None: seen.append(len(s)) or
                        np.array([[0.0, 0.0, 1.0]]))
    r = predict.predict_files(a, [x], topk=1, device="cpu", ensemble=[b])[0]
    assert seen == [2] and r["top"][0]["label"] == 2
