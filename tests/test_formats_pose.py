"""Pose-estimator readers: COCO-17 JSON, OpenPose folders, MediaPipe CSV/JSON, PYSKL pickles.

Example files are written here (small, hand-checkable), never downloaded.
"""

from __future__ import annotations

import io
import json
import os
import pickle

import numpy as np
import pytest

from mans.errors import FormatError
from mans.formats import detect_format, read_sequence
from mans.formats.keypoints import Person, assign_slots
from mans.formats.pyskl import annotation_to_sequence, load_annotations
from mans.skeleton import builtin_layout


def _kp(v, x0, y0, score=0.9):
    """(v, 3) key points on a vertical line at x0, y0 + 10 j, with a score."""
    return [[x0, y0 + 10.0 * j, score] for j in range(v)]


# --- layouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, v, lh, rs", [("coco17", 17, "left_hip", "right_shoulder"),
                                             ("openpose25", 25, "left_hip", "right_shoulder"),
                                             ("openpose18", 18, "left_hip", "right_shoulder"),
                                             ("mediapipe33", 33, "left_hip", "right_shoulder")])
def test_pose_layouts_roles_point_at_the_named_joints(name, v, lh, rs):
    lay = builtin_layout(name)
    assert lay.num_joints == v and len(lay.bones) == v - 1
    for role, j in lay.roles.items():
        # every role names the joint of that name (spine roles: the estimator's mid-hip / neck)
        assert lay.joints[j] == role or (role, lay.joints[j]) in {
            ("spine_base", "mid_hip"), ("spine_top", "neck"), ("left_foot", "left_big_toe"),
            ("right_foot", "right_big_toe"), ("left_foot", "left_foot_index"),
            ("right_foot", "right_foot_index")}, (role, lay.joints[j])


# --- COCO-17 ------------------------------------------------------------------------------------


def test_coco_json_mmpose_style_with_frame_ids_and_tracks(tmp_path):
    frames = [
        {"frame_id": 10, "instances": [
            {"keypoints": [p[:2] for p in _kp(17, 100, 50)], "keypoint_scores": [0.8] * 17,
             "bbox": [[0, 0, 10, 10]], "track_id": 7},
            {"keypoints": [p[:2] for p in _kp(17, 300, 50)], "keypoint_scores": [0.5] * 17,
             "track_id": 3}]},
        # frame 11 missing: no detection; frame 12 lists the tracks in the other order
        {"frame_id": 12, "instances": [
            {"keypoints": [p[:2] for p in _kp(17, 310, 52)], "keypoint_scores": [0.5] * 17,
             "track_id": 3},
            {"keypoints": [p[:2] for p in _kp(17, 101, 51)],
             "keypoint_scores": [0.0] + [0.8] * 16, "track_id": 7}]},
    ]
    path = tmp_path / "clip.json"
    path.write_text(json.dumps({"meta_info": {}, "instance_info": frames}))
    assert detect_format(path) == "coco"
    seq = read_sequence(path)
    assert seq.layout.name == "coco17" and seq.joints.shape == (3, 2, 17, 2)
    assert seq.scores.shape == (3, 2, 17)
    # track 7 stays in slot 0, track 3 in slot 1, although frame 12 lists them swapped
    assert seq.joints[0, 0, 0].tolist() == [100, 50] and seq.joints[2, 0, 1].tolist() == [101, 61]
    assert seq.joints[2, 1, 0].tolist() == [310, 52]
    assert not seq.joints[1].any() and not seq.scores[1].any()  # missing frame = zeros
    assert seq.joints[2, 0, 0].tolist() == [0, 0] and seq.scores[2, 0, 0] == 0  # score 0 joint
    assert seq.scores[0, 1, 5] == pytest.approx(0.5)


def test_coco_json_yolo_style_flat_triplets_no_tracks(tmp_path):
    a = [v for p in _kp(17, 100, 0, 0.9) for v in p]  # flat 51 numbers
    b = [v for p in _kp(17, 400, 0, 0.7) for v in p]
    b2 = [v for p in _kp(17, 405, 3, 0.7) for v in p]
    a2 = [v for p in _kp(17, 98, 1, 2.0) for v in p]  # COCO visibility 2 -> score 1
    path = tmp_path / "yolo.json"
    path.write_text(json.dumps([[{"keypoints": a}, {"keypoints": b}],
                                [{"keypoints": b2}, {"keypoints": a2}]]))
    seq = read_sequence(path)
    # matched by nearest position: the person near x=100 stays in slot 0
    assert seq.joints[:, 0, 0, 0].tolist() == [100, 98]
    assert seq.joints[:, 1, 0, 0].tolist() == [400, 405]
    assert seq.scores[1, 0, 0] == 1.0 and seq.scores[0, 1, 0] == pytest.approx(0.7)


@pytest.mark.parametrize("doc, words", [
    ({"x": 1}, "expected a list of frames"),
    ([], "0 frames"),
    ([[{"keypoints": [[1, 2]] * 16}]], "frame 0, person 0: expected 17 key points"),
    ([[{"keypoints": [[1, "a"]] * 17}]], "frame 0, person 0 keypoints"),
    ([[{"nokeypoints": 1}]], "frame 0, person 0: expected an object with 'keypoints'"),
    ([{"frame_id": -1, "instances": []}], "frame 0: frame id"),
    ([{"frame_id": 1, "instances": []}, {"frame_id": 1, "instances": []}], "appears twice"),
    ([[{"keypoints": [[1, 2]] * 17, "track_id": [1]}]], "track_id"),
    ([{"frame_id": 0, "instances": []}, {"frame_id": 10 ** 9, "instances": []}], "span"),
])
def test_coco_json_errors_name_file_and_frame(tmp_path, doc, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=words) as e:
        read_sequence(path, "coco")
    assert str(path) in str(e.value)


def test_coco_results_format_and_files_without_people_are_refused(tmp_path):
    """COCO's results format (one person per entry) and MediaPipe JSON with MediaPipe's own key
    ``pose_landmarks`` (guessed as COCO) used to read as all-zero frames without an error."""
    kp = [v for p in _kp(17, 100, 0, 0.9) for v in p]
    results = [{"image_id": 1, "category_id": 1, "keypoints": kp, "score": 0.9},
               {"image_id": 2, "category_id": 1, "keypoints": kp, "score": 0.8}]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    with pytest.raises(FormatError, match=r"frame 0: .*one person per entry \(COCO results "
                                          r"format\).*'instances'") as e:
        read_sequence(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    lm = [{"x": 0.5, "y": 0.5, "z": 0.0, "visibility": 0.9}] * 33
    path = tmp_path / "mp.json"
    path.write_text(json.dumps([{"pose_landmarks": lm}, {"pose_landmarks": lm}]))
    assert detect_format(path) == "coco"
    with pytest.raises(FormatError, match=r"no person in any of the 2 frames; frame 0 has none "
                                          r"of the keys .*\['pose_landmarks'\]") as e:
        read_sequence(path)
    assert str(path) in str(e.value)
    path.write_text(json.dumps([[]] * 4))
    with pytest.raises(FormatError, match="no person in any of the 4 frames$"):
        read_sequence(path)
    # one person in one frame is enough: the empty frames stay zero rows
    path.write_text(json.dumps([[], [{"keypoints": kp}], []]))
    seq = read_sequence(path)
    assert seq.joints.shape == (3, 1, 17, 2) and seq.joints[1, 0, 0].tolist() == [100, 0]
    assert not seq.joints[0].any() and not seq.joints[2].any()


def test_json_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("[\n[\n{\"keypoints\": [1,2,,3]}\n]\n]\n")
    with pytest.raises(FormatError) as e:
        read_sequence(path)
    assert e.value.line == 3
    import inspect

    from mans.formats.keypoints import load_json

    # the file is always read from disk: the unused text= parameter is gone
    assert list(inspect.signature(load_json).parameters) == ["path"]
    path.write_bytes(b"\xef\xbb\xbf[1, 2]")  # a UTF-8 BOM is allowed
    assert load_json(path) == [1, 2]


# --- OpenPose -----------------------------------------------------------------------------------


def _openpose_frame(folder, n, people):
    doc = {"version": 1.3, "people": [
        {"person_id": [pid], "pose_keypoints_2d": [v for p in kp for v in p],
         "face_keypoints_2d": []} for pid, kp in people]}
    (folder / f"video_{n:012d}_keypoints.json").write_text(json.dumps(doc))


def test_openpose_body25_folder_with_gaps(tmp_path):
    folder = tmp_path / "video"
    folder.mkdir()
    _openpose_frame(folder, 0, [(-1, _kp(25, 100, 0))])
    _openpose_frame(folder, 1, [])
    _openpose_frame(folder, 3, [(-1, _kp(25, 102, 0, 0.0))])  # all scores 0 -> no detection
    _openpose_frame(folder, 4, [(-1, _kp(25, 104, 0, 0.6))])
    assert detect_format(folder) == "openpose"
    seq = read_sequence(folder)
    assert seq.layout.name == "openpose25" and seq.joints.shape == (5, 1, 25, 2)
    assert seq.joints[:, 0, 8].tolist() == [[100, 80], [0, 0], [0, 0], [0, 0], [104, 80]]
    assert seq.name == "video" and seq.scores[4, 0, 3] == pytest.approx(0.6)


def test_openpose_coco18_tracks_and_errors(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    _openpose_frame(folder, 0, [(1, _kp(18, 100, 0)), (2, _kp(18, 200, 0))])
    _openpose_frame(folder, 1, [(2, _kp(18, 120, 0)), (1, _kp(18, 180, 0))])  # crossing
    seq = read_sequence(folder)
    assert seq.layout.name == "openpose18"
    # by track id, not by position: person 1 stays in slot 0 although it is now nearer slot 1
    assert seq.joints[:, 0, 0, 0].tolist() == [100, 180]
    _openpose_frame(folder, 2, [(-1, _kp(25, 1, 0))])
    with pytest.raises(FormatError, match="25 key points per person, earlier frames have 18") \
            as e:
        read_sequence(folder)
    assert "video_000000000002_keypoints.json" in str(e.value)
    (folder / "video_000000000002_keypoints.json").write_text('{"people": [{"x": 1}]}')
    with pytest.raises(FormatError, match="person 0: no 'pose_keypoints_2d'"):
        read_sequence(folder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FormatError, match="no \\*_keypoints.json"):
        read_sequence(empty)


# --- MediaPipe ----------------------------------------------------------------------------------


def test_mediapipe_csv_image_and_world(tmp_path):
    header = ["frame"] + [f"{a}{j}" for j in range(33) for a in ("x", "y", "z", "visibility")] \
        + [f"world_{a}{j}" for j in range(33) for a in "xyz"]
    def row(f, base):
        img = [v for j in range(33) for v in (base + j / 100, 0.5, -0.1, 0.9)]
        world = [v for j in range(33) for v in (j / 10, -1.0, 0.2)]
        return [f] + img + world
    lines = [",".join(header), ",".join(map(str, row(0, 0.1))),
             ",".join(["2"] + [""] * (len(header) - 1)),  # frame 2: no detection
             ",".join(map(str, row(3, 0.2)))]
    path = tmp_path / "pose.csv"
    path.write_text("\n".join(lines) + "\n")
    assert detect_format(path) == "mediapipe"
    seq = read_sequence(path)
    assert seq.layout.name == "mediapipe33" and seq.joints.shape == (4, 1, 33, 2)
    assert seq.joints[0, 0, 5].tolist() == pytest.approx([0.15, 0.5])
    assert not seq.joints[1:3].any() and seq.scores[3, 0, 0] == pytest.approx(0.9)
    world = read_sequence(path, "mediapipe-world")
    assert world.joints.shape == (4, 1, 33, 3)
    assert world.joints[3, 0, 7].tolist() == pytest.approx([0.7, -1.0, 0.2])
    bad = lines[:2] + [lines[1].replace("0.9", "zz", 1)]
    path.write_text("\n".join(bad) + "\n")
    with pytest.raises(FormatError, match="expected numbers") as e:
        read_sequence(path)
    assert e.value.line == 3
    # '²'.isdigit() is True but int('²') raises: a one-line FormatError, not a ValueError
    path.write_text("\n".join(lines[:2] + [lines[1].replace("0", "\u00b2", 1)]) + "\n")
    with pytest.raises(FormatError, match="frame '\u00b2': expected a non-negative integer") as e:
        read_sequence(path)
    assert e.value.line == 3


def test_mediapipe_json_objects_and_lists(tmp_path):
    lm = [{"x": 0.1 * (j % 10), "y": 0.2, "z": 0.0, "visibility": 0.5} for j in range(33)]
    doc = [{"landmarks": lm}, {"landmarks": None},
           {"landmarks": [[0.3, 0.4, 0.0, 0.0]] * 33}]  # visibility 0 -> not detected
    path = tmp_path / "mp.json"
    path.write_text(json.dumps(doc))
    assert detect_format(path) == "mediapipe"
    seq = read_sequence(path)
    assert seq.joints.shape == (3, 1, 33, 2)
    assert seq.joints[0, 0, 3].tolist() == pytest.approx([0.3, 0.2])
    assert not seq.joints[1:].any()
    path.write_text(json.dumps([{"landmarks": [[0.1, 0.2]] * 32}]))
    with pytest.raises(FormatError, match="frame 0: expected 33 landmarks"):
        read_sequence(path)


# --- slot matching ------------------------------------------------------------------------------


def test_assign_slots_by_position_follows_people_that_swap_list_order():
    def person(x, tid=None):
        return Person(keypoints=np.array([[x, 0.0], [x, 10.0]]), scores=np.ones(2), track_id=tid)
    frames = [[person(0), person(100)], [person(98), person(3)], [], [person(95)],
              [person(7), person(90)]]
    joints, scores = assign_slots(frames, 2, 2)
    assert joints[:, 0, 0, 0].tolist() == [0, 3, 0, 0, 7]
    assert joints[:, 1, 0, 0].tolist() == [100, 98, 0, 95, 90]
    assert scores[2].sum() == 0


# --- PYSKL --------------------------------------------------------------------------------------


def _pyskl(tmp_path, n=6, v=17, c=2, with_score=True):
    rng = np.random.default_rng(0)
    anns = []
    for i in range(n):
        kp = (rng.uniform(50, 400, size=(1, 8 + i, v, c))).astype(np.float16)
        a = {"frame_dir": f"clip{i}", "label": i % 3, "keypoint": kp, "total_frames": 8 + i,
             "img_shape": (480, 640), "original_shape": (480, 640)}
        if with_score:
            a["keypoint_score"] = rng.uniform(0.1, 1, size=(1, 8 + i, v)).astype(np.float16)
        anns.append(a)
    data = {"split": {"xsub_train": ["clip0", "clip1", "clip2", "clip3"],
                      "xsub_val": ["clip4", "clip5"], "xview_train": ["clip0", "clip5"],
                      "xview_val": ["clip1"], "other": ["clip2"]},
            "annotations": anns}
    path = tmp_path / "ann.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path, anns


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pyskl_pickle_roundtrip(tmp_path, protocol):
    path, anns = _pyskl(tmp_path)
    path.write_bytes(pickle.dumps(load_annotations(path)[0] and
                                  {"split": load_annotations(path)[0], "annotations": anns},
                                  protocol=protocol))
    split, got = load_annotations(path)
    assert split["xsub_val"] == ["clip4", "clip5"] and len(got) == 6
    seq = annotation_to_sequence(path, got[2], 2)
    assert seq.layout.name == "coco17" and seq.joints.shape == (10, 1, 17, 2) and seq.label == 2
    np.testing.assert_array_equal(seq.joints[:, 0], anns[2]["keypoint"][0].astype(np.float32))
    np.testing.assert_array_equal(seq.scores[:, 0],
                                  anns[2]["keypoint_score"][0].astype(np.float32))


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').system('true')",))


@pytest.mark.parametrize("payload, name", [
    (lambda marker: {"annotations": [], "x": _Evil(f"touch {marker}")}, "system"),
    (lambda marker: [_EvalEvil()], "builtins.eval"),
    (lambda marker: {"annotations": [{"keypoint": np.ones(2)}], "c": np.random.default_rng},
     "numpy.random"),
])
def test_pyskl_malicious_pickle_is_refused_before_running(tmp_path, payload, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(payload(marker)))
    with pytest.raises(FormatError, match="refused to load") as e:
        load_annotations(path)
    assert name in str(e.value) and str(path) in str(e.value)
    assert not marker.exists()


def test_pyskl_refusal_is_told_apart_by_type_not_message(tmp_path):
    """A refusal is a RefusedPickle (an UnpicklingError); a refused use of an allowed callable
    (_codecs.encode with another codec than latin-1) is reported as a refusal too, not as a
    corrupt pickle."""
    import codecs

    from mans.formats.pyskl import RefusedPickle, RestrictedUnpickler

    assert issubclass(RefusedPickle, pickle.UnpicklingError)
    with pytest.raises(RefusedPickle, match="refused to load os.system"):
        RestrictedUnpickler(io.BytesIO(b"")).find_class("os", "system")

    class Rot13:
        def __reduce__(self):
            return (codecs.encode, ("abc", "rot13"))

    path = tmp_path / "rot13.pkl"
    path.write_bytes(pickle.dumps([Rot13()], protocol=2))
    with pytest.raises(FormatError, match="refused _codecs.encode with 'rot13': a PYSKL "
                                          "annotation pickle may hold only") as e:
        load_annotations(path)
    assert str(path) in str(e.value)


def test_pyskl_bad_annotations_and_layouts(tmp_path):
    path, anns = _pyskl(tmp_path)
    xyz = np.random.default_rng(0).normal(size=(1, 4, 25, 3))  # z <= 0 too: not a score
    seq = annotation_to_sequence(path, {**anns[0], "keypoint": xyz, "keypoint_score": None}, 0)
    assert seq.layout.name == "ntu25" and seq.scores is None
    np.testing.assert_array_equal(seq.joints, xyz.transpose(1, 0, 2, 3).astype(np.float32))
    seq = annotation_to_sequence(path, {**anns[0], "keypoint": xyz[:, :, :20],
                                        "keypoint_score": None}, 0)
    assert seq.layout.name == "kinect20" and seq.joints.shape == (4, 1, 20, 3)
    np.testing.assert_array_equal(seq.joints[:, 0], xyz[0, :, :20].astype(np.float32))
    assert annotation_to_sequence(
        path, {**anns[0], "keypoint": np.ones((1, 4, 25, 2)),
               "keypoint_score": np.ones((1, 4, 25))}, 0).layout.name == "openpose25"
    for bad, words in [({"keypoint": np.ones((4, 17, 2))}, "(M, T, V, C)"),
                       ({"keypoint": np.ones((1, 0, 17, 2)), "keypoint_score": None}, "0 frames"),
                       ({"keypoint": np.ones((1, 4, 9, 2)), "keypoint_score": None},
                        "no built-in layout"),
                       ({"keypoint_score": np.ones((1, 3, 17))}, "keypoint_score"),
                       ({"label": -2}, "'label'"), ({"frame_dir": 3}, "frame_dir")]:
        with pytest.raises(FormatError, match=words.replace("(", "\\(").replace(")", "\\)")):
            annotation_to_sequence(path, {**anns[0], **bad}, 0)
    path.write_bytes(pickle.dumps({"split": {}, "annotations": anns})[:100])
    with pytest.raises(FormatError, match="not a readable pickle"):
        load_annotations(path)
    with pytest.raises(FormatError, match="mans prepare pyskl"):
        read_sequence(path)


def test_prepare_pyskl_cli(tmp_path, capsys):
    from mans.cli.commands import main
    from mans.data.store import PreparedStore

    path, anns = _pyskl(tmp_path)
    anns.append(dict(anns[0]))  # duplicate frame_dir -> skipped
    anns.append({**anns[1], "frame_dir": "broken", "keypoint": np.ones((1, 3, 9, 2))})
    path.write_bytes(pickle.dumps({"split": {"xsub_train": ["clip0", "clip1", "clip2", "clip3"],
                                             "xsub_val": ["clip4", "clip5", "broken"],
                                             "xview_train": ["clip0", "clip5"],
                                             "xview_val": ["clip1"]}, "annotations": anns}))
    rc = main(["prepare", "pyskl", "--ann", str(path), "--out", str(tmp_path / "store"),
               "--view", "2d", "--confidence", "--workers", "1", "-q"])
    assert rc == 0
    store = PreparedStore.open(tmp_path / "store")
    assert store.manifest["found"] == 8 and len(store) == 6
    assert sorted(s["key"] for s in store.manifest["skipped"]) == ["broken", "clip0"]
    assert store.split("xsub", "train").tolist() == [0, 1, 2, 3]
    assert store.split("xsub", "test").tolist() == [4, 5]
    assert store.split("xview", "test").tolist() == [1]
    assert store.default_protocol == "default" and store.split().tolist() == [0, 1, 2, 3]
    assert store.class_names == ["0", "1", "2"] and store.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert store.prep["view"] == "2d" and store.prep["max_bodies"] == 1
    assert store.sequence(3).shape == (3, 11, 17)  # x, y, score; 11 frames; 1 x 17 columns
    rc = main(["prepare", "pyskl", "--out", str(tmp_path / "s2"), "-q"])
    assert rc == 1 and "needs --ann" in capsys.readouterr().err


def test_inspect_openpose_folder_reports_detections(tmp_path, capsys):
    from mans.cli.commands import main

    folder = tmp_path / "v"
    folder.mkdir()
    _openpose_frame(folder, 0, [(-1, _kp(25, 100, 0, 0.5))])
    _openpose_frame(folder, 2, [(-1, _kp(18 + 7, 100, 0, 1.0))])
    assert main(["inspect", str(folder)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["format"], out["layout"], out["frames"], out["channels"]) == (
        "openpose", "openpose25", 3, 2)
    assert out["frames_without_detection"] == 1 and out["detected_joints"] == round(2 / 3, 4)
    assert out["mean_score"] == pytest.approx(0.75)


def test_coco_json_ultralytics_tojson_keypoints(tmp_path):
    det = {"name": "person", "class": 0, "confidence": 0.9, "track_id": 4,
           "box": {"x1": 0, "y1": 0, "x2": 10, "y2": 10},
           "keypoints": {"x": [float(10 + j) for j in range(17)], "y": [5.0] * 17,
                         "visible": [0.0] + [0.8] * 16}}
    path = tmp_path / "yolo.json"
    path.write_text(json.dumps([[det], [dict(det, keypoints=dict(det["keypoints"], y=[6.0] * 17))]]))
    seq = read_sequence(path)
    assert seq.joints.shape == (2, 1, 17, 2)
    assert seq.joints[1, 0, 3].tolist() == [13.0, 6.0] and seq.joints[0, 0, 0].tolist() == [0, 0]
    assert seq.scores[0, 0, 1] == pytest.approx(0.8)
    path.write_text(json.dumps([[dict(det, keypoints={"x": [1.0] * 17})]]))
    with pytest.raises(FormatError, match="without 'x' and 'y'"):
        read_sequence(path)


def test_place_frames_fills_gaps_and_refuses_repeats(tmp_path):
    from mans.formats.keypoints import MAX_SPAN, place_frames

    f = tmp_path / "x.json"
    assert place_frames(f, [None, None], ["a", "b"], list) == ["a", "b"]  # list order stands
    assert place_frames(f, [7, 5, 9], ["a", "b", "c"], lambda: "-") == ["b", "-", "a", "-", "c"]
    assert place_frames(f, [3], [None], lambda: "-") == [None]  # a written frame may be empty
    for ids, match in (([1, None], "some frames have a frame id and some do not"),
                       ([4, 2, 4], "frame 2: frame id 4 appears twice"),
                       ([0, MAX_SPAN], f"frame ids span {MAX_SPAN + 1} frames")):
        with pytest.raises(FormatError, match=match):
            place_frames(f, ids, [[]] * len(ids), list)
    assert len(place_frames(f, [0, MAX_SPAN - 1], [1, 2], lambda: 0)) == MAX_SPAN
    # the one check of a frame number the COCO and MediaPipe JSON readers share
    for bad in (-1, True, 1.5, "3", [2]):
        with pytest.raises(FormatError, match=r"frame 1: frame id .{1,5} is not a non-negative "
                                              r"integer"):
            place_frames(f, [0, bad], [[], []], list)
    mp = tmp_path / "mp.json"
    lm = [[0.5, 0.5, 0.0, 1.0]] * 33
    for bad in (-1, True, "2"):
        mp.write_text(json.dumps([{"frame": 0, "landmarks": lm}, {"frame": bad, "landmarks": lm}]))
        with pytest.raises(FormatError, match="frame 1: 'frame' index .* is not a non-negative"):
            read_sequence(mp)


def test_pyskl_discovery_takes_the_layout_without_converting(tmp_path, monkeypatch):
    """Discovery reads the layout from the key-point array's shape (layout_for, as
    annotation_to_sequence decides it) instead of converting a whole annotation to learn it."""
    import mans.datasets.pyskl as ds
    from mans.datasets import get_dataset

    path, anns = _pyskl(tmp_path)
    xyz = np.zeros((1, 4, 25, 3))
    path.write_bytes(pickle.dumps([{**a, "keypoint": xyz, "keypoint_score": None}
                                   for a in anns[:2]]))
    calls = []
    monkeypatch.setattr(ds, "annotation_to_sequence",
                        lambda *a: calls.append(a) or pytest.fail("converted in discovery"))
    disc = get_dataset("pyskl").discover(path, {})
    assert disc.layout.name == "ntu25" and not calls  # 25 x 3 without scores: NTU 3-D
    path.write_bytes(pickle.dumps([{**anns[0], "keypoint": np.ones((1, 4, 9, 2))},  # unknown
                                   {**anns[1], "keypoint": xyz[..., :2],
                                    "keypoint_score": np.ones((1, 4, 25))}]))
    assert get_dataset("pyskl").discover(path, {}).layout.name == "openpose25"


@pytest.mark.parametrize("protocol", [4, 5])
def test_pyskl_load_does_not_hold_a_copy_of_the_file(tmp_path, protocol):
    """Unpickled from the open file: the peak is about the arrays (~ the file size), not the
    file's bytes plus the arrays (2x, measured 2.00x when the file was read into memory first)."""
    import tracemalloc

    anns = [{"frame_dir": f"c{i}", "label": 0, "keypoint": np.full((1, 500, 17, 2), i, np.float32)}
            for i in range(60)]  # 60 x 68 kB = 4.1 MB
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps({"annotations": anns}, protocol=protocol))
    tracemalloc.start()
    try:
        _, got = load_annotations(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got[7]["keypoint"][0, 3, 5, 1] == 7
    assert peak < 1.5 * path.stat().st_size, (peak, path.stat().st_size)
