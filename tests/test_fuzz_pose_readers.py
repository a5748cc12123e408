"""Damaged pose-estimator files: each reader returns a valid finite Sequence or raises FormatError.

Seeds are small files in each format (written here), mutated by helpers_fuzz.mutated
(truncation, byte flips, line deletions / duplications), PYSKL pickles included (the restricted
unpickler must refuse or fail cleanly, never crash another way).
"""

from __future__ import annotations

import json
import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_fuzz import FUZZ, check_sequence, mutated
from mans.errors import FormatError
from mans.formats import read_sequence
from mans.formats.pyskl import annotation_to_sequence, load_annotations
from mans.skeleton import Sequence, builtin_layout


def _check(seq: Sequence, layout: str) -> None:
    check_sequence(seq, layout)
    assert seq.layout == builtin_layout(layout)  # the built-in itself, not only its name
    assert seq.scores is not None and seq.scores.shape == seq.joints.shape[:3]
    assert ((seq.scores >= 0) & (seq.scores <= 1)).all()
    assert not seq.joints[seq.scores == 0].any()  # undetected joints are zeros


def _kp(v, x0, s=0.8):
    return [[x0 + j, 10.0 * j, s] for j in range(v)]


COCO = json.dumps([{"frame_id": i, "instances": [
    {"keypoints": [p[:2] for p in _kp(17, 100 + i)], "keypoint_scores": [0.7] * 17,
     "track_id": 1},
    {"keypoints": [p[:2] for p in _kp(17, 300 - i)], "keypoint_scores": [0.6] * 17,
     "track_id": 2}]} for i in range(3)], indent=1).encode()
OPENPOSE = json.dumps({"version": 1.3, "people": [
    {"person_id": [-1], "pose_keypoints_2d": [v for p in _kp(25, 50) for v in p]}]},
    indent=1).encode()
MEDIAPIPE = ("\n".join([",".join(f"{a}{j}" for j in range(33) for a in ("x", "y", "visibility"))]
                       + [",".join(f"{0.01 * j + 0.1 * t:.2f},0.5,0.9" for j in range(33))
                          for t in range(3)]) + "\n").encode()


@FUZZ
@given(data=st.data())
def test_fuzz_coco_json(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("coco", numbered=True) / "c.json"
    path.write_bytes(data.draw(mutated(COCO)))
    try:
        seq = read_sequence(path, "coco")
    except FormatError:
        return
    _check(seq, "coco17")


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_fuzz_openpose(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("op", numbered=True)
    (folder / "v_000000000000_keypoints.json").write_bytes(OPENPOSE)
    (folder / "v_000000000001_keypoints.json").write_bytes(data.draw(mutated(OPENPOSE)))
    try:
        seq = read_sequence(folder)
    except FormatError:
        return
    _check(seq, "openpose25")


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_fuzz_mediapipe_csv(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("mp", numbered=True) / "p.csv"
    path.write_bytes(data.draw(mutated(MEDIAPIPE)))
    try:
        seq = read_sequence(path, "mediapipe")
    except FormatError:
        return
    _check(seq, "mediapipe33")


PYSKL = pickle.dumps({"split": {"xsub_train": ["a"], "xsub_val": ["b"]}, "annotations": [
    {"frame_dir": "a", "label": 1, "keypoint": np.full((1, 3, 17, 2), 5, np.float16),
     "keypoint_score": np.full((1, 3, 17), 0.5, np.float16), "img_shape": (10, 10)}]}, protocol=4)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_fuzz_pyskl_pickle(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("pk", numbered=True) / "a.pkl"
    path.write_bytes(data.draw(mutated(PYSKL)))
    try:
        _, anns = load_annotations(path)
        for i, a in enumerate(anns):
            seq = annotation_to_sequence(path, a, i)
            assert np.isfinite(seq.joints).all() and seq.joints.ndim == 4
    except FormatError:
        return


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 40) | st.floats(allow_nan=True)
    | st.sampled_from(["keypoints", "instances", "frame_id", "landmarks", "people"]),
    lambda inner: st.lists(inner, max_size=18) | st.dictionaries(
        st.sampled_from(["keypoints", "keypoint_scores", "instances", "people", "frame_id",
                         "track_id", "landmarks", "world_landmarks", "frame", "frames",
                         "instance_info", "x", "y", "joints", "scores"]), inner, max_size=4),
    max_leaves=60)


@settings(FUZZ, max_examples=200)
@given(doc=JSON_VALUES, fmt=st.sampled_from(["coco", "mediapipe"]))
def test_fuzz_json_structures(tmp_path_factory, doc, fmt):
    """Arbitrary JSON structures made of the formats' own keys: a Sequence or a FormatError."""
    path = tmp_path_factory.mktemp("js", numbered=True) / "d.json"
    path.write_text(json.dumps(doc))
    try:
        seq = read_sequence(path, fmt)
    except FormatError:
        return
    _check(seq, "coco17" if fmt == "coco" else "mediapipe33")
