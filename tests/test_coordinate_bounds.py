"""One rule for a valid coordinate (mans.coordinates), in every reader, the live stream and the
Python API: a 1e30 coordinate is refused with one line naming the file and its line (or frame,
person, landmark), and the command line exits non-zero.

Before this rule only the NTU reader had a bound (100 m): UT-Kinect, the pose readers, the custom
format, the stream and the API took 1e30 and predicted a confident class from it."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

import mans
from mans import coordinates
from mans.cli.commands import main
from mans.coordinates import BOUND_ENV, coordinate_bound, first_invalid, value_problem
from mans.data.prepare import prepare
from mans.errors import ConfigError, FormatError, MansError
from mans.formats import read_sequence
from mans.formats.ntu_writer import write_skeleton
from mans.formats.pyskl import annotation_to_sequence
from mans.inference.api import save_untrained

BIG = 1e30
SMALL = dict(size=28, hidden=8, resnet_width=8, resnet_stages=[1])


def one_line(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


# --- the rule -----------------------------------------------------------------------------------


def test_the_rule_per_kind(monkeypatch):
    monkeypatch.delenv(BOUND_ENV[3], raising=False)
    monkeypatch.delenv(BOUND_ENV[2], raising=False)
    assert coordinate_bound(3) == 100.0 and coordinate_bound(2) == 1e5
    assert value_problem(-100.0, 3) == "" and value_problem(99999.0, 2) == ""
    assert value_problem(100.5, 3).startswith("is beyond the coordinate bound of 100 m (3-D")
    assert value_problem(100000.5, 2).startswith("is beyond the coordinate bound of 100000 (2-D")
    assert value_problem(5000.0, 2) == ""  # pixels: far beyond 100, fine in 2-D
    assert value_problem(float("nan"), 2) == value_problem(-float("inf"), 3) == "is not finite"
    assert value_problem(1e39, 3) == "is beyond the float32 range"
    monkeypatch.setenv(BOUND_ENV[3], "1e31")
    assert value_problem(BIG, 3) == "" and value_problem(BIG, 2) != ""
    monkeypatch.setenv(BOUND_ENV[3], "-1")
    with pytest.raises(ConfigError, match="MANS_MAX_COORD_M='-1': expected a positive number"):
        coordinate_bound(3)


def test_first_invalid_names_the_row_and_axis():
    a = np.zeros((4, 2, 5, 3))
    a[2, 1, 3, 1] = BIG
    a[3, 0, 0, 0] = np.nan  # later in C order
    index, problem = first_invalid(a, 3)
    assert index == (2, 1, 3) and problem.startswith("y = 1e+30 is beyond the coordinate bound")
    assert first_invalid(np.zeros((4, 2, 5, 3)), 3) is None
    assert coordinates.all_valid(np.full((2, 2), 99.0), 3)
    assert not coordinates.all_valid(np.full((2, 2), np.nan), 3)


# --- every reader -------------------------------------------------------------------------------


def _ntu(tmp_path):
    joints = np.random.default_rng(0).normal(scale=0.3, size=(4, 1, 25, 3)) + [0, 0, 3.0]
    joints[1, 0, 2, 2] = BIG  # frame 2, joint 3, z: line 1 + 28 (frame 1) + 3 + 3
    return write_skeleton(tmp_path / "S001C001P001R001A001.skeleton", joints), 35


def _utkinect(tmp_path):
    rows = [" ".join(["%d" % (10 + r)] + ["0.5"] * 60) for r in range(3)]
    rows[1] = rows[1].replace(" 0.5", f" {BIG!r}", 4).replace(f" {BIG!r}", " 0.5", 3)
    p = tmp_path / "joints_s01_e01.txt"
    p.write_text("\n".join(rows) + "\n")
    return p, 2


def _amc(tmp_path, hdm05_dir):
    src = next(hdm05_dir.rglob("HDM_mm_*.amc"))
    shutil.copy(src.with_name("HDM_mm.asf"), tmp_path / "HDM_mm.asf")
    lines = src.read_text(encoding="latin-1").split("\n")
    k = [i for i, line in enumerate(lines) if line.startswith("root ")][3]  # frame 4's root
    parts = lines[k].split()
    lines[k] = " ".join(["root", repr(BIG)] + parts[2:])
    p = tmp_path / src.name
    p.write_text("\n".join(lines), encoding="latin-1")
    return p, None


def _npz(tmp_path, c=3):
    joints = np.zeros((5, 25, c), np.float32)
    joints[3, 4, 0] = BIG
    p = tmp_path / f"clip{c}d.npz"
    np.savez(p, joints=joints, layout="ntu25")
    return p, None


def _coco(tmp_path):
    kp = [[100.0 + j, 50.0, 0.9] for j in range(17)]
    bad = [list(k) for k in kp]
    bad[5][0] = BIG
    p = tmp_path / "video.json"
    p.write_text(json.dumps([[{"keypoints": kp}], [{"keypoints": bad}]]))
    return p, None


def _openpose(tmp_path):
    folder = tmp_path / "op"
    folder.mkdir()
    for t in range(2):
        kp = [v for j in range(25) for v in (10.0 + j, 20.0, 0.8)]
        if t == 1:
            kp[3 * 7 + 1] = BIG
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps(
            {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": kp}]}))
    return folder, None


def _mediapipe_csv(tmp_path):
    header = ",".join(f"{a}{j}" for j in range(33) for a in ("x", "y", "z", "visibility"))
    rows = [[0.5, 0.4, 0.0, 0.9] * 33 for _ in range(3)]
    rows[2][4 * 11] = BIG  # x of landmark 11, CSV line 4
    p = tmp_path / "pose.csv"
    p.write_text(header + "\n" + "\n".join(",".join(map(repr, r)) for r in rows) + "\n")
    return p, 4


def _mediapipe_json(tmp_path):
    frames = [{"landmarks": [[0.5, 0.4, 0.0, 0.9]] * 33} for _ in range(2)]
    frames[1]["landmarks"] = [[0.5, 0.4, 0.0, 0.9]] * 20 + [[0.5, BIG, 0.0, 0.9]] * 13
    p = tmp_path / "pose_mp.json"
    p.write_text(json.dumps(frames))
    return p, None


READERS = {"ntu": _ntu, "utkinect": _utkinect, "npz-3d": _npz,
           "npz-2d": lambda tmp_path: _npz(tmp_path, 2), "coco": _coco, "openpose": _openpose,
           "mediapipe-csv": _mediapipe_csv, "mediapipe-json": _mediapipe_json}


@pytest.mark.parametrize("kind", sorted(READERS) + ["amc"])
def test_1e30_is_refused_by_every_reader_and_mans_inspect(kind, tmp_path, capsys, hdm05_dir):
    path, line = _amc(tmp_path, hdm05_dir) if kind == "amc" else READERS[kind](tmp_path)
    with pytest.raises(FormatError) as e:
        read_sequence(path)
    assert e.value.line == line, str(e.value)
    assert "1e+30" in str(e.value).lower() or "e+28" in str(e.value)  # amc: inches -> metres
    assert "is beyond the coordinate bound of" in str(e.value)
    assert main(["inspect", str(path)]) == 1
    err = one_line(capsys, "mans inspect: error: ", str(path), "coordinate bound")
    if line is not None:
        assert f"{path}:{line}: " in err


def test_pyskl_annotation_with_1e30_is_skipped_by_prepare(tmp_path, capsys):
    rng = np.random.default_rng(0)
    anns = [{"frame_dir": f"clip{i}", "label": i % 2, "keypoint":
             rng.uniform(0, 500, size=(1, 6, 17, 2)).astype(np.float32),
             "keypoint_score": np.full((1, 6, 17), 0.9, np.float32)} for i in range(4)]
    anns[2]["keypoint"][0, 3, 5, 1] = BIG
    path = tmp_path / "hrnet_2d.pkl"
    path.write_bytes(pickle.dumps({"split": {"xsub_train": ["clip0", "clip1"],
                                             "xsub_val": ["clip2", "clip3"]},
                                   "annotations": anns}))
    with pytest.raises(FormatError, match=r"annotation 2 \(clip2\): 'keypoint' of person 0, "
                                          r"frame 3, joint 5 \(left_shoulder\): y = 1e\+30 is "
                                          r"beyond the coordinate bound of 100000 \(2-D"):
        annotation_to_sequence(path, anns[2], 2)
    m = prepare("pyskl", None, tmp_path / "store", ann=path, workers=1, progress=False)
    assert m["prepared"] == 3 and [s["key"] for s in m["skipped"]] == ["clip2"]
    assert "coordinate bound" in m["skipped"][0]["reason"]


def test_prepare_utkinect_skips_a_file_with_1e30(utkinect_dir, tmp_path):
    raw = tmp_path / "utkinect"
    shutil.copytree(utkinect_dir, raw)
    victim = raw / "joints" / "joints_s03_e01.txt"
    lines = victim.read_text().split("\n")
    parts = lines[6].split()
    parts[5] = repr(BIG)  # line 7: y of joint 2
    lines[6] = " ".join(parts)
    victim.write_text("\n".join(lines))
    m = prepare("utkinect", raw, tmp_path / "store", workers=1, progress=False)
    reasons = [s for s in m["skipped"] if "s03_e01" in s["file"]]
    assert len(reasons) == 10 and m["prepared"] == 199 - 10  # the recording's ten actions
    assert all("joints_s03_e01.txt:7: joint spine: y = 1e+30 is beyond the coordinate bound of "
               "100 m" in r["reason"] for r in reasons)


# --- the live stream and the Python API ---------------------------------------------------------


@pytest.fixture(scope="module")
def ckpt3d(tmp_path_factory):
    return save_untrained(tmp_path_factory.mktemp("bounds") / "k20.pt", layout="kinect20",
                          prep={"view": "authors", "max_bodies": 1}, class_names=["a", "b"],
                          **SMALL)


@pytest.fixture(scope="module")
def ckpt2d(tmp_path_factory):
    return save_untrained(tmp_path_factory.mktemp("bounds") / "coco.pt", layout="coco17",
                          prep={"view": "2d", "max_bodies": 1}, class_names=["a", "b"],
                          **SMALL)


def _body(t: int = 12) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (rng.normal(scale=0.3, size=(t, 20, 3)) + [0.0, 0.0, 2.5]).astype(np.float64)


def test_api_predict_refuses_1e30(ckpt3d, ckpt2d):
    x = _body()
    clf = mans.load(ckpt3d)
    assert clf.predict(x)["top"]  # the same array without the value is fine
    x[4, 7, 0] = BIG
    with pytest.raises(MansError, match=r"^array \(kinect20\): frame 4, body 0, joint 7: x = "
                                        r"1e\+30 is beyond the coordinate bound of 100 m"):
        clf.predict(x)
    with pytest.raises(MansError, match="beyond the coordinate bound of 100000"):
        mans.load(ckpt2d).predict(np.full((6, 17, 2), BIG))
    with pytest.raises(MansError, match=r"frame 3: body 0, joint 7: x = 1e\+30"):
        stream = clf.stream(window=6, stride=2)
        for frame in x[1:]:
            stream.push(frame)


def test_mans_stream_reports_1e30_and_exits_non_zero(ckpt3d, tmp_path, capsys):
    x = _body(10)
    lines = [json.dumps({"joints": f.tolist()}) for f in x]
    bad = x[5].copy()
    bad[2, 1] = BIG
    lines[5] = json.dumps({"joints": bad.tolist()})
    src = tmp_path / "frames.jsonl"
    src.write_text("\n".join(lines) + "\n")
    rc = main(["stream", str(ckpt3d), "--input", str(src), "--stride", "3", "--window", "6"])
    cap = capsys.readouterr()
    assert rc == 1
    err = cap.err.splitlines()
    assert err[0] == (f"mans stream: skipped {src}:6: frame 5: body 0, joint 2: y = 1e+30 is "
                      f"beyond the coordinate bound of 100 m (3-D coordinates in metres; set "
                      f"MANS_MAX_COORD_M to change it)")
    assert err[1] == "mans stream: 1 input lines skipped" and len(err) == 2
    assert len(cap.out.splitlines()) == 3  # 9 good frames, a prediction every 3rd
