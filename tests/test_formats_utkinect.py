"""UT-Kinect joints/label readers on the real files and on hand-made bad input."""

from __future__ import annotations

import numpy as np
import pytest

from mans.errors import FormatError
from mans.formats import read_sequence
from mans.formats.utkinect import (parse_name, read_action_labels, read_joints_file,
                                   read_joints_table)


def _raw_rows(path):
    """Independent reference: the file through plain Python float parsing."""
    return [[float(x) for x in line.split()] for line in open(path) if line.strip()]


def test_joints_file_matches_raw_text(utkinect_dir):
    path = utkinect_dir / "joints" / "joints_s01_e01.txt"
    seq = read_joints_file(path)
    rows = np.array(_raw_rows(path))
    assert seq.joints.shape == (560, 1, 20, 3) and seq.joints.dtype == np.float32
    assert seq.layout.name == "kinect20" and seq.name == "s01_e01"
    assert (seq.subject, seq.replication, seq.label) == (1, 1, None)
    # first row of the file: frame 190, hip centre (0.807139, -0.063421, 1.998671)
    np.testing.assert_allclose(seq.joints[0, 0, 0], [0.807139, -0.063421, 1.998671], rtol=1e-6)
    np.testing.assert_allclose(seq.joints[:, 0].reshape(len(rows), 60), rows[:, 1:], rtol=1e-6)
    assert read_sequence(path).joints.shape == seq.joints.shape  # dispatch by file name


def test_frame_numbers_and_duplicates(utkinect_dir):
    path = utkinect_dir / "joints" / "joints_s01_e01.txt"
    frames, joints = read_joints_table(path)
    rows = np.array(_raw_rows(path))
    np.testing.assert_array_equal(frames, rows[:, 0].astype(int))
    assert frames[0] == 190 and frames[-1] == 2290
    assert np.all(np.diff(frames) >= 0)
    n_dup = int((np.diff(frames) == 0).sum())
    assert n_dup == 15  # SOURCE.txt: 6..145 duplicate rows per file
    f1, j1 = read_joints_table(path, duplicates="first")
    fl, jl = read_joints_table(path, duplicates="last")
    assert len(f1) == len(fl) == 560 - n_dup
    assert np.all(np.diff(f1) > 0) and np.array_equal(f1, fl)
    d = int(np.flatnonzero(np.diff(frames) == 0)[0])  # rows d and d+1 share a frame number
    k = int(np.searchsorted(f1, frames[d]))
    np.testing.assert_array_equal(j1[k], joints[d])
    np.testing.assert_array_equal(jl[k], joints[d + 1])
    assert not np.array_equal(joints[d], joints[d + 1])  # duplicates are distinct samples


def test_all_files_read(utkinect_dir):
    counts = {}
    for path in sorted((utkinect_dir / "joints").glob("joints_*.txt")):
        seq = read_joints_file(path)
        assert np.isfinite(seq.joints).all()
        counts[seq.name] = seq.num_frames
    assert len(counts) == 20
    assert min(counts.values()) == 534 and max(counts.values()) == 1389  # SOURCE.txt


def test_action_labels(utkinect_dir):
    labels = read_action_labels(utkinect_dir / "joints" / "actionLabel.txt")
    assert len(labels) == 20 and sum(len(v) for v in labels.values()) == 200
    assert labels["s01_e01"][0] == ("walk", 252, 390)
    assert labels["s01_e01"][2] == ("standUp", 704, 752)  # trailing space in the file
    assert ("carry", None, None) in labels["s10_e02"]
    assert labels["s03_e01"][6] == ("push", 2556, 3622)  # as written; corrected by the dataset
    assert [a for a, _, _ in labels["s05_e01"]] == [
        "walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull", "waveHands",
        "clapHands"]


def test_parse_name():
    assert parse_name("joints_s07_e02") == (7, 2)
    assert parse_name("whatever") == (None, None)


ROW = "10 " + " ".join(["0.5"] * 60)


@pytest.mark.parametrize("text, line, words", [
    ("", None, "empty"),
    ("\n\n", None, "empty"),
    (ROW + "\n" + "11 1 2 3\n", 2, "expected 61 numbers"),
    (ROW + "\n" + ROW.replace("0.5", "abc", 1) + "\n", 2, "expected a number"),
    (ROW.replace("0.5", "nan", 1) + "\n", 1, "joint hip_center: x = nan is not finite"),
    (ROW.replace("0.5", "inf", 1) + "\n", 1, "x = inf is not finite"),
    (ROW.replace("0.5", "1e300", 1) + "\n", 1, "float32 range"),
    (ROW + "\n" + ROW.replace("10 ", "9 ", 1) + "\n", 2, "non-decreasing"),
    (ROW.replace("10 ", "10.5 ", 1) + "\n", 1, "non-negative integer"),
    (ROW.replace("10 ", "-2 ", 1) + "\n", 1, "non-negative integer"),
    ("10 0.5\xe9\n", 1, "non-ASCII"),
], ids=["empty", "blank", "columns", "text", "nan", "inf", "float32", "decreasing", "fraction",
        "negative", "non-ascii"])
def test_joints_errors(tmp_path, text, line, words):
    path = tmp_path / "joints_s01_e01.txt"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(FormatError) as e:
        read_joints_file(path)
    assert e.value.line == line and words in str(e.value) and str(path) in str(e.value)


def test_joints_table_accepts_blank_lines(tmp_path):
    path = tmp_path / "joints_s02_e01.txt"
    path.write_text(ROW + "\n\n" + ROW.replace("10 ", "12 ", 1) + "\n")
    frames, joints = read_joints_table(path)
    assert frames.tolist() == [10, 12] and joints.shape == (2, 1, 20, 3)


@pytest.mark.parametrize("text, line, words", [
    ("", None, "empty"),
    ("walk: 1 2\n", 1, "before the first"),
    ("s01_e01\nwalk 1 2\n", 2, "expected 'sSS_eEE'"),
    ("s01_e01\nwalk: 1 NaN\n", 2, "only one boundary"),
    ("s01_e01\nwalk: 5 2\n", 2, "after end frame"),
    ("s01_e01\nwalk: 1.5 2\n", 2, "integer frame numbers"),
    ("s01_e01\nwalk: 1 2\nwalk: 3 4\n", 3, "listed twice"),
    ("s01_e01\nwalk: 1 2\ns01_e01\n", 3, "listed twice"),
])
def test_label_errors(tmp_path, text, line, words):
    path = tmp_path / "actionLabel.txt"
    path.write_text(text)
    with pytest.raises(FormatError) as e:
        read_action_labels(path)
    assert e.value.line == line and words in str(e.value)
