"""Tests of mans.data.prepare on a tiny synthetic dataset (tests/helpers_prepare.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import helpers_prepare as tiny
from mans.data.pipeline import prepare_sequence
from mans.data.spec import PrepConfig
from mans.datasets import Item
from mans.errors import ConfigError
from mans.data.prepare import prepare
from mans.data.store import is_store, npy_header

ARRAYS = ("frames.npy", "offsets.npy", "labels.npy", "protocols.json", "samples.jsonl")


@pytest.fixture()
def raw(tmp_path: Path) -> Path:
    tiny.write_tiny_raw(tmp_path / "raw", n=12)
    return tmp_path / "raw"


def test_prepare_tiny_end_to_end(raw, tmp_path):
    m = prepare("tinytest", raw, tmp_path / "store", workers=1, progress=False)
    assert m["found"] == 14 and m["prepared"] == 12 and len(m["skipped"]) == 2
    assert m["found"] == m["prepared"] + len(m["skipped"])
    reasons = {Path(s["file"]).stem: s["reason"] for s in m["skipped"]}
    assert reasons["s01_a00_998"].startswith(("ValueError", "UnpicklingError"))
    assert reasons["s09_a00_999"] == "line 1: expected (T, M, 25, 3), got (3, 4, 5)"
    assert m["num_classes"] == 3 and m["class_names"] == tiny.CLASSES
    assert m["prep"]["view"] == "authors" and m["prep"]["max_bodies"] == 2
    assert m["prep"]["layout"] == "ntu25" and m["prep"]["layout_def"]["name"] == "ntu25"
    assert m["default_protocol"] == "xsub"
    # subjects 1..4 cycle over 12 samples: subjects 1 and 3 (6 samples) train
    assert m["protocols"] == {"xsub": {"train": 6, "test": 6}, "all": {"train": 12, "test": 0}}
    out = tmp_path / "store"
    assert is_store(out) and json.loads((out / "manifest.json").read_text())["prepared"] == 12

    # the stored arrays are exactly prepare_sequence of each sample, in discovery order
    frames = np.load(out / "frames.npy", mmap_mode="r")
    offsets, labels = np.load(out / "offsets.npy"), np.load(out / "labels.npy")
    meta = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    good = sorted(p for p in raw.glob("*.npy") if p.stem not in reasons)
    assert [r["key"] for r in meta] == [p.stem for p in good]
    assert offsets[0] == 0 and offsets[-1] == frames.shape[0] and frames.shape[1:] == (3, 50)
    for i, p in enumerate(good):
        seq = tiny._read(Item(p.stem, p, {"subject": 1, "label": int(p.stem[5:7])}))
        x = prepare_sequence(seq, PrepConfig("authors", 2))  # (3, T, 50)
        np.testing.assert_array_equal(frames[offsets[i]:offsets[i + 1]], x.transpose(1, 0, 2))
        assert labels[i] == int(p.stem[5:7]) and meta[i]["kept_frames"] == x.shape[1]
        assert meta[i]["frames"] == seq.num_frames and meta[i]["name"] == p.stem
    prot = json.loads((out / "protocols.json").read_text())
    assert prot["xsub"]["train"] == [i for i, r in enumerate(meta) if r["subject"] % 2 == 1]


def test_rerun_and_workers_give_identical_arrays(raw, tmp_path):
    prepare("tinytest", raw, tmp_path / "a", workers=1, progress=False)
    prepare("tinytest", raw, tmp_path / "b", workers=2, progress=False)
    m = prepare("tinytest", raw, tmp_path / "a", workers=2, progress=False, force=True)  # replaces
    assert m["prepared"] == 12
    for name in ARRAYS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # temporary and old folders are cleaned up


def test_views_differ_and_gcn_none_prepared(raw, tmp_path):
    a = prepare("tinytest", raw, tmp_path / "n", view="none", workers=1, progress=False)
    g = prepare("tinytest", raw, tmp_path / "g", view="gcn", workers=1, progress=False)
    assert a["prep"]["view"] == "none" and g["prep"]["view"] == "gcn"
    fn = np.load(tmp_path / "n" / "frames.npy")
    fg = np.load(tmp_path / "g" / "frames.npy")
    assert fn.shape == fg.shape and not np.allclose(fn, fg)


def test_missing_list_and_bad_labels(raw, tmp_path):
    lst = tmp_path / "missing.txt"
    lst.write_text("s01_a00_000\ns02_a01_001\n")
    np.save(raw / "s01_a07_500.npy", np.ones((5, 1, 25, 3), dtype=np.float32))  # label 7
    m = prepare("tinytest", raw, tmp_path / "s", workers=1, missing_list=lst, progress=False)
    assert m["found"] == 15 and m["prepared"] == 10
    reasons = {Path(s["file"]).stem: s["reason"] for s in m["skipped"]}
    assert reasons["s01_a00_000"] == reasons["s02_a01_001"] == "in the missing list"
    assert reasons["s01_a07_500"] == "label 7 outside 0..2 (3 classes)"


def test_refuses_to_overwrite_other_folders(raw, tmp_path):
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("keep me")
    with pytest.raises(ConfigError, match="not a prepared store"):
        prepare("tinytest", raw, other, workers=1, progress=False)
    assert (other / "thesis.tex").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert prepare("tinytest", raw, empty, workers=1, progress=False)["prepared"] == 12
    with pytest.raises(ConfigError, match="not a folder"):
        prepare("tinytest", tmp_path / "nope", tmp_path / "x", workers=1, progress=False)
    (tmp_path / "void").mkdir()
    with pytest.raises(ConfigError, match="no tinytest samples"):
        prepare("tinytest", tmp_path / "void", tmp_path / "x", workers=1, progress=False)
    with pytest.raises(ConfigError, match="unknown dataset"):
        prepare("nosuch", raw, tmp_path / "x", workers=1, progress=False)


def test_all_samples_bad_is_an_error(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    np.save(raw / "s01_a00_000.npy", np.zeros((4, 1, 25, 3), dtype=np.float32))  # no body
    with pytest.raises(ConfigError, match="no frame holds a body"):
        prepare("tinytest", raw, tmp_path / "s", workers=1, progress=False)
    assert not (tmp_path / "s").exists()


def test_fixed_npy_header_is_valid(tmp_path):
    for shape in [(0, 3, 50), (123456789, 3, 50), (7, 2, 40)]:
        p = tmp_path / "h.npy"
        p.write_bytes(npy_header(shape, np.float32))
        with open(p, "rb") as f:
            version = np.lib.format.read_magic(f)
            got, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            assert version == (1, 0) and f.tell() == 128
        assert got == shape and not fortran and dtype == np.float32


# --- end to end on the real NTU samples -----------------------------------------------------------


@pytest.fixture()
def ntu_raw(ntu_samples, tmp_path) -> Path:
    """The 5 real samples, plus a truncated copy under another valid name (must be skipped)."""
    raw = tmp_path / "ntu-raw"
    raw.mkdir()
    for p in sorted(ntu_samples.glob("*.skeleton")):
        (raw / p.name).write_bytes(p.read_bytes())
    whole = (ntu_samples / "S001C001P001R001A011.skeleton").read_bytes()
    (raw / "S001C002P001R001A011.skeleton").write_bytes(whole[: len(whole) // 2])
    return raw


def test_prepare_real_ntu_samples(ntu_raw, tmp_path):
    from mans.formats.ntu import read_skeleton

    m = prepare("ntu60", ntu_raw, tmp_path / "a", workers=2, progress=False)
    assert (m["found"], m["prepared"], len(m["skipped"])) == (6, 5, 1)
    assert Path(m["skipped"][0]["file"]).name == "S001C002P001R001A011.skeleton"
    assert m["skipped"][0]["reason"]
    # P001, P008, P015 are cross-subject training performers, P003 (twice) is not;
    # cameras 2 and 3 (S001C003, S004C002) train cross-view, camera 1 (three samples) tests.
    assert m["protocols"]["xsub"] == {"train": 3, "test": 2}
    assert m["protocols"]["xview"] == {"train": 2, "test": 3}
    assert m["num_classes"] == 60 and m["frames_shape"] == [82 + 70 + 100 + 71 + 124, 3, 50]

    # byte-identical arrays when prepared again, in one process
    prepare("ntu60", ntu_raw, tmp_path / "b", workers=1, progress=False)
    for name in ARRAYS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name

    a = tmp_path / "a"
    frames, offsets, labels = (np.load(a / f) for f in ("frames.npy", "offsets.npy", "labels.npy"))
    meta = [json.loads(line) for line in (a / "samples.jsonl").read_text().splitlines()]
    i = [r["name"] for r in meta].index("S001C003P008R002A058")  # the two-person sample
    assert labels[i] == 57 and meta[i]["camera"] == 3 and meta[i]["subject"] == 8
    seq = read_skeleton(ntu_raw / "S001C003P008R002A058.skeleton")
    x = frames[offsets[i]:offsets[i + 1]].transpose(1, 0, 2)  # (3, 70, 50)
    np.testing.assert_array_equal(x, prepare_sequence(seq, PrepConfig("authors", 2)))
    assert np.all(np.any(x[:, :, 25:] != 0, axis=(0, 2)))  # the second person is stored


def test_prepare_cli_and_missing_list(ntu_raw, tmp_path, capsys):
    from mans.cli.commands import main

    lst = tmp_path / "missing.txt"
    lst.write_text("S002C001P003R001A003\n")
    rc = main(["prepare", "ntu60", "--raw", str(ntu_raw), "--out", str(tmp_path / "s"),
               "--workers", "1", "--missing-list", str(lst), "-q"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["found"] == 6 and summary["prepared"] == 4 and summary["skipped"] == 2
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    rc = main(["prepare", "ntu60", "--raw", str(ntu_raw), "--out", str(tmp_path / "notes"), "-q"])
    assert rc == 1 and "refusing to overwrite" in capsys.readouterr().err


def test_prepare_custom_folder_takes_layout_from_files(tmp_path):
    """A custom folder's layout comes from its files (Discovery.layout), not from the spec."""
    import numpy as np

    from mans.data.prepare import prepare
    from mans.data.store import PreparedStore

    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    rows = ["file,label,subject"]
    for i in range(6):
        np.savez(raw / f"s{i}.npz", joints=rng.normal(size=(12, 20, 3)).astype(np.float32) + 1.0,
                 layout="kinect20")
        rows.append(f"s{i}.npz,{'ab'[i % 2]},{i // 2 + 1}")
    (raw / "labels.csv").write_text("\n".join(rows) + "\n")
    manifest = prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)
    assert manifest["found"] == 6 and manifest["prepared"] == 6
    store = PreparedStore.open(tmp_path / "store")
    assert store.layout.name == "kinect20"
    # one body per file: max_bodies defaults to the most bodies found (1), not 2
    assert store.sequence(0).shape == (3, 12, 20) and store.prep["max_bodies"] == 1
    prepare("custom", raw, tmp_path / "store2", view="none", workers=1, progress=False,
            max_bodies=2)
    assert PreparedStore.open(tmp_path / "store2").sequence(0).shape == (3, 12, 40)
    assert store.class_names == ["a", "b"]
