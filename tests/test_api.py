"""The Python API (mans.load), timelines of long recordings and live streams.

Checkpoints here are untrained (random, seeded weights: mans.inference.api.save_untrained): what is tested
is that every entry point feeds the model exactly what a file prediction feeds it.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import mans
from mans.inference.api import save_untrained
from mans.cli.commands import main
from mans.errors import ConfigError
from mans.inference.live import run_stream
from mans.inference.timeline import frame_labels, merge_segments

SMALL = dict(size=28, hidden=8, resnet_width=8, resnet_stages=[1])
CLASSES = ["wave", "kick", "sit"]


@pytest.fixture(scope="module")
def ckpt3d(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "k20.pt"
    return save_untrained(path, layout="kinect20", prep={"view": "authors", "max_bodies": 1},
                          class_names=CLASSES, **SMALL)


@pytest.fixture(scope="module")
def ckpt2d(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "coco.pt"
    return save_untrained(path, layout="coco17", prep={"view": "2d", "max_bodies": 1,
                                                       "confidence": True},
                          class_names=CLASSES, **SMALL)


def _motion(t=23, seed=0):
    """(T, 20, 3) a standing body (kinect20) swinging its arms, in a Kinect camera frame."""
    from mans.skeleton import builtin_layout

    lay = builtin_layout("kinect20")
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.05, size=(20, 3)) + [0.0, 0.0, 2.5]
    height = {"head": 0.7, "shoulder_center": 0.5, "spine": 0.2, "hip_center": 0.0}
    for j, name in enumerate(lay.joints):
        side = -0.2 if name.startswith("left") else 0.2 if name.startswith("right") else 0.0
        y = height.get(name.split("_", 1)[-1] if name.startswith(("left", "right")) else name,
                       0.4 if "shoulder" in name or "elbow" in name or "wrist" in name
                       or "hand" in name else -0.5 if "knee" in name else -0.9)
        base[j, :2] += [side, y]
    frames = np.repeat(base[None], t, axis=0)
    phase = np.linspace(0, 4 * np.pi, t)
    frames[:, 7, 1] += 0.3 * np.sin(phase)  # left hand waves
    return frames.astype(np.float32)


def test_load_predict_array_equals_file(tmp_path, ckpt3d):
    clf = mans.load(ckpt3d)
    x = _motion()
    np.savez(tmp_path / "clip.npz", joints=x, layout="kinect20")
    from_file = clf.predict(tmp_path / "clip.npz")
    from_array = clf.predict(x)
    assert [t["label"] for t in from_file["top"]] == [t["label"] for t in from_array["top"]]
    np.testing.assert_allclose([t["prob"] for t in from_array["top"]],
                               [t["prob"] for t in from_file["top"]], rtol=1e-6)
    assert from_array["attention"] == from_file["attention"]
    assert from_array["frame_index"] == from_file["frame_index"]
    four = clf.predict(x[:, None], layout="kinect20")  # (T, M, V, C) gives the same
    assert four["top"] == from_array["top"]
    assert abs(sum(t["prob"] for t in clf.predict(x, topk=3)["top"]) - 1) < 1e-5


def test_bad_arrays_and_layouts(ckpt3d):
    clf = mans.load(ckpt3d)
    with pytest.raises(ConfigError, match="expected \\(T, V, C\\)"):
        clf.predict(np.zeros((5, 25, 3)))
    with pytest.raises(ConfigError, match="trained on 'kinect20'"):
        clf.predict(np.ones((5, 25, 3)), layout="ntu25")
    bad = _motion()
    bad[4, 2, 0] = np.nan
    with pytest.raises(ConfigError, match="frame 4"):
        clf.predict(bad)


def test_timeline_windows_match_predictions_of_the_slices(ckpt3d):
    clf = mans.load(ckpt3d)
    x = _motion(23)
    tl = clf.timeline(x, window=10, stride=5, topk=2)
    assert [(w["start"], w["end"]) for w in tl.windows] == [(0, 9), (5, 14), (10, 19), (13, 22)]
    for w, p in zip(tl.windows, tl.probs):
        ref = clf.predict(x[w["start"]:w["end"] + 1], topk=3)
        np.testing.assert_allclose(sorted(p, reverse=True), [t["prob"] for t in ref["top"]],
                                   rtol=1e-5)
        assert w["top"][0]["label"] == ref["top"][0]["label"]
    short = clf.timeline(x[:4], window=10, stride=5)
    assert [(w["start"], w["end"]) for w in short.windows] == [(0, 3)]
    gap = x.copy()
    gap[:10] = 0  # no body in the first window
    tl = clf.timeline(gap, window=10, stride=10)
    assert tl.windows[0]["top"] == [] and "no frame holds a body" in tl.windows[0]["reason"]
    assert np.isnan(tl.probs[0]).all() and tl.segments[0]["start"] == 10


def _w(start, end, label, prob=0.5):
    return {"start": start, "end": end, "top": [{"label": label, "class": CLASSES[label],
                                                 "prob": prob}]}


def test_merge_segments_and_frame_labels_by_hand():
    windows = [_w(0, 9, 0, 0.6), _w(5, 14, 0, 0.8), _w(10, 19, 1), {"start": 15, "end": 24,
                                                                     "top": []},
               _w(20, 29, 1), _w(25, 34, 2)]
    segs = merge_segments(windows)
    assert [(s["start"], s["end"], s["class"], s["windows"]) for s in segs] == [
        (0, 14, "wave", 2), (10, 19, "kick", 1), (20, 29, "kick", 1), (25, 34, "sit", 1)]
    assert segs[0]["mean_prob"] == pytest.approx(0.7)
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [np.nan] * 3])
    labels = frame_labels([{"start": 0, "end": 3}, {"start": 2, "end": 5},
                           {"start": 6, "end": 7}], probs, 9)
    # frames 2-3: 0.8 vs 1.0 -> class 1; frames 6-8: no prediction
    assert labels.tolist() == [0, 0, 1, 1, 1, 1, -1, -1, -1]


def test_stream_predictions_equal_predict_on_the_buffer(ckpt3d):
    clf = mans.load(ckpt3d)
    x = _motion(23)
    stream = clf.stream(window=10, stride=5, topk=3)
    results = [r for t in range(23) if (r := stream.push(x[t])) is not None]
    assert [(r["start"], r["frame"]) for r in results] == [(0, 4), (0, 9), (5, 14), (10, 19)]
    for r in results:
        ref = clf.predict(x[r["start"]:r["frame"] + 1], topk=3)
        assert [t["label"] for t in r["top"]] == [t["label"] for t in ref["top"]]
        np.testing.assert_allclose([t["prob"] for t in r["top"]],
                                   [t["prob"] for t in ref["top"]], rtol=1e-5)


def test_stream_refuses_what_an_array_would_not_take(ckpt3d):
    """Pushed frames get the checks of arrays: a NaN frame is refused (it would turn every
    later window's probabilities into NaN), and the ring keeps only good frames."""
    stream = mans.load(ckpt3d).stream(window=4, stride=2, topk=1)
    x = _motion(4)
    stream.push(x[0])
    bad = x[1].copy()
    bad[3, 0] = np.nan
    with pytest.raises(ConfigError, match="^frame 1: body 0, joint 3: x = nan is not finite$"):
        stream.push(bad)
    with pytest.raises(ConfigError, match="frame 1: scores of shape"):
        stream.push(x[1], np.full(3, 0.5))
    with pytest.raises(ConfigError, match=r"frame 1: joints of shape \(20, 4\); expected \(V, C\)"):
        stream.push(np.zeros((20, 4)))
    r = stream.push(x[1])
    assert stream.count == 2 and np.isfinite([t["prob"] for t in r["top"]]).all()


def test_stream_cli_reads_lines_and_reports_bad_ones(tmp_path, ckpt3d, capsys):
    x = _motion(12)
    lines = [json.dumps({"joints": x[t].tolist()}) for t in range(12)]
    lines[3] = "{not json"
    lines[7] = json.dumps({"joints": x[7, :5].tolist()})
    (tmp_path / "frames.jsonl").write_text("\n".join(lines) + "\n")
    rc = main(["stream", str(ckpt3d), "--input", str(tmp_path / "frames.jsonl"), "--stride", "5",
               "--window", "10", "--topk", "2"])
    cap = capsys.readouterr()
    assert rc == 1  # the stream went on, and says at the end that lines were skipped
    out = [json.loads(line) for line in cap.out.splitlines()]
    assert [o["frame"] for o in out] == [4, 9]  # 10 good frames of 12
    err = cap.err.splitlines()
    assert len(err) == 3 and "frames.jsonl:4:" in err[0] and "frames.jsonl:8:" in err[1]
    assert err[2] == "mans stream: 2 input lines skipped"
    clf = mans.load(ckpt3d)
    good = np.delete(x, [3, 7], axis=0)
    ref = clf.predict(good[:10], topk=2)
    assert [t["label"] for t in out[1]["top"]] == [t["label"] for t in ref["top"]]


def test_stream_follows_a_growing_file(tmp_path, ckpt3d):
    import threading
    import time

    x = _motion(10)
    path = tmp_path / "live.jsonl"
    path.write_text("")

    def writer():
        with open(path, "a") as f:
            for t in range(10):
                f.write(json.dumps({"joints": x[t].tolist()}) + "\n")
                f.flush()
                time.sleep(0.01)

    th = threading.Thread(target=writer)
    th.start()
    out = io.StringIO()
    run_stream(mans.load(ckpt3d), str(path), stride=5, window=10, topk=1, follow=True,
               idle_exit=0.5, out=out, err=io.StringIO())
    th.join()
    assert [json.loads(line)["frame"] for line in out.getvalue().splitlines()] == [4, 9]


def test_2d_stream_of_people_equals_file_prediction(tmp_path, ckpt2d):
    rng = np.random.default_rng(1)
    frames = []
    for t in range(12):
        kp = np.stack([np.linspace(100, 200, 17) + 3 * t, np.linspace(50, 400, 17)], 1)
        kp += rng.normal(0, 2, kp.shape)
        frames.append([{"keypoints": kp.tolist(), "keypoint_scores": [0.9] * 17}])
    path = tmp_path / "walk.json"
    path.write_text(json.dumps(frames))
    clf = mans.load(ckpt2d)
    ref = clf.predict(path, topk=3)
    stream = clf.stream(window=12, stride=12, topk=3)
    from mans.inference.live import parse_line

    res = [parse_line(stream, json.dumps({"people": f}), "x", i) for i, f in enumerate(frames)]
    assert res[:-1] == [None] * 11
    np.testing.assert_allclose([t["prob"] for t in res[-1]["top"]],
                               [t["prob"] for t in ref["top"]], rtol=1e-5)


def test_predict_cli_window_writes_timeline_json_and_csv(tmp_path, ckpt3d, capsys):
    x = _motion(23)
    np.savez(tmp_path / "rec.npz", joints=x, layout="kinect20")
    assert main(["predict", str(ckpt3d), str(tmp_path / "rec.npz"), "--window", "10",
                 "--stride", "5", "--topk", "2", "--device", "cpu"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ref = mans.load(ckpt3d).timeline(x, window=10, stride=5, topk=2)
    assert doc[0]["windows"] == json.loads(json.dumps(ref.windows))
    assert doc[0]["segments"] == json.loads(json.dumps(ref.segments))
    assert main(["predict", str(ckpt3d), str(tmp_path / "rec.npz"), "--window", "10",
                 "--stride", "5", "--timeline-out", str(tmp_path / "t.csv")]) == 0
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert rows[0].startswith("file,start,end,class1,prob1") and len(rows) == 1 + 4
    assert rows[2].split(",")[1:4] == ["5", "14", ref.windows[1]["top"][0]["class"]]
    segs = (tmp_path / "t.segments.csv").read_text().splitlines()
    assert len(segs) == 1 + len(ref.segments)
    assert main(["predict", str(ckpt3d), str(tmp_path / "rec.npz"), "--window", "10"]) == 2
    # a bad file is reported and the others still get their timeline (exit 1)
    (tmp_path / "bad.npz").write_bytes(b"not an archive")
    capsys.readouterr()
    assert main(["predict", str(ckpt3d), str(tmp_path / "bad.npz"), str(tmp_path / "rec.npz"),
                 "--window", "10", "--stride", "5", "--topk", "2"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)[0]["windows"] == json.loads(json.dumps(ref.windows))
    assert "bad.npz" in out.err and "1 of 2 files failed" in out.err
    # --timeline-out is checked before any window is classified; it needs --window
    for out_path, words in (("t.txt", "expected a .json or .csv path"),
                            ("bad.npz/t.json", "bad.npz exists and is not a folder")):
        assert main(["predict", str(ckpt3d), str(tmp_path / "rec.npz"), "--window", "10",
                     "--stride", "5", "--timeline-out", str(tmp_path / out_path)]) == 1
        assert words in capsys.readouterr().err
    assert main(["predict", str(ckpt3d), str(tmp_path / "rec.npz"), "--timeline-out",
                 str(tmp_path / "t.json")]) == 2
    assert "--timeline-out goes with --window" in capsys.readouterr().err


def test_stream_frames_without_scores_count_as_detected(ckpt2d):
    """Once a frame brought scores, a frame pushed without them must not read as undetected."""
    clf = mans.load(ckpt2d, device="cpu")
    stream = clf.stream(window=4, stride=4, topk=1)
    rng = np.random.default_rng(0)
    frames = [rng.uniform(50, 400, size=(17, 2)).astype(np.float32) for _ in range(4)]
    for f in frames[:3]:
        stream.push(f)  # no scores
    stream.push(frames[3], np.full(17, 0.9, np.float32))
    np.testing.assert_array_equal(stream.scores[:3, 0], 1.0)  # present joints: confidence 1
    np.testing.assert_allclose(stream.scores[3, 0], 0.9)


def test_timeline_csv_of_several_files_shares_one_header(tmp_path):
    from mans.inference.timeline import Timeline, write_timelines

    def tl(name, tops):
        return Timeline(file=name, name=name, frames=10, window=5, stride=5,
                        windows=[{"start": 0, "end": 4, "top": tops}], segments=[],
                        probs=np.zeros((1, 2)))
    empty = tl("a", [])  # no body in its window: no classes
    full = tl("b", [{"label": 0, "class": "x", "prob": 0.7}, {"label": 1, "class": "y",
                                                              "prob": 0.3}])
    out = tmp_path / "t.csv"
    write_timelines([empty, full], out)
    rows = out.read_text().splitlines()
    assert rows[0] == "file,start,end,class1,prob1,class2,prob2"
    assert rows[1] == "a,0,4,,,," and rows[2] == "b,0,4,x,0.700000,y,0.300000"
