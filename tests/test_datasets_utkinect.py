"""The utkinect dataset spec: 199 action instances, boundaries, protocols."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mans.datasets import get_dataset
from mans.datasets.utkinect import CLASSES, snap_boundary
from mans.errors import FormatError
from mans.formats.utkinect import read_action_labels, read_joints_table


@pytest.fixture(scope="module")
def spec():
    return get_dataset("utkinect")


@pytest.fixture(scope="module")
def found(spec, utkinect_dir):
    disc = spec.discover(utkinect_dir, {})
    seqs = [spec.read(item) for item in disc.items]
    return disc, seqs


def test_counts(found):
    disc, seqs = found
    assert len(disc.items) == 199 and len(disc.skipped) == 1  # found 200, prepared 199
    assert disc.skipped[0]["key"] == "s10_e02_carry" and "NaN" in disc.skipped[0]["reason"]
    per_class = Counter(s.label for s in seqs)
    assert per_class == {k: (19 if name == "carry" else 20) for k, name in enumerate(CLASSES)}
    assert len({s.name for s in seqs}) == 199
    assert Counter(s.subject for s in seqs) == {s: (19 if s == 10 else 20) for s in range(1, 11)}


def test_class_names(spec, utkinect_dir):
    assert spec.class_names(utkinect_dir) == [
        "walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull", "waveHands",
        "clapHands"]
    assert spec.layout.name == "kinect20" and spec.max_bodies == 1 and spec.default_protocol == "xsub"


def test_instances_nonempty_and_finite(found):
    for seq in found[1]:
        assert seq.num_frames >= 1 and seq.joints.shape[1:] == (1, 20, 3)
        assert np.isfinite(seq.joints).all() and seq.layout.name == "kinect20"
    assert sum(s.num_frames for s in found[1]) > 199 * 5


def test_segments_are_inclusive_frame_ranges(found, utkinect_dir):
    disc, seqs = found
    tables = {p: read_joints_table(p) for p in {item.path for item in disc.items}}
    for item, seq in zip(disc.items, seqs):
        frames, joints = tables[item.path]
        inside = (frames >= item.info["start"]) & (frames <= item.info["end"])
        np.testing.assert_array_equal(seq.joints, joints[inside])
        assert frames[inside][0] == item.info["start"]  # boundary frames are rows of the file
        assert frames[inside][-1] == item.info["end"]


def test_boundary_decisions(found, utkinect_dir):
    info = {item.key: item.info for item in found[0].items}
    # not frame numbers of their files -> nearest frame, ties inwards (docs/formats.md)
    assert info["s01_e02_walk"]["end"] == 190  # 192: 190 and 194 both 2 away -> end goes down
    assert info["s06_e02_carry"]["start"] == 2032  # 2031: 2032 is nearest
    assert info["s07_e02_sitDown"]["start"] == 882  # 880: tie 878 / 882 -> start goes up
    assert info["s09_e02_throw"]["start"] == 2470  # 2468: tie 2466 / 2470
    # the 2556 typo
    assert (info["s03_e01_push"]["label_start"], info["s03_e01_push"]["start"]) == (2556, 3556)
    assert info["s03_e01_push"]["end"] == 3622
    # an exact boundary is left alone
    assert (info["s01_e01_walk"]["start"], info["s01_e01_walk"]["end"]) == (252, 390)


def test_boundaries_agree_with_independent_snapped_file(found, utkinect_dir):
    """kvega005's label file snapped the same boundaries and fixed the same typo by hand; the
    only other difference is its s09_e01 push end, which we deliberately keep as official."""
    other = read_action_labels(utkinect_dir / "non_official" /
                               "actionLabel_kvega005_RGBD_Activity_Detection.txt")
    ref = {f"{seq}_{a}": (s, e) for seq, entries in other.items() for a, s, e in entries}
    diffs = {item.key for item in found[0].items
             if ref[item.key] != (item.info["start"], item.info["end"])}
    assert diffs == {"s09_e01_push"}


def test_snap_boundary():
    frames = np.array([10, 12, 12, 16, 20])
    assert snap_boundary(frames, 12, "start") == 12
    assert snap_boundary(frames, 13, "start") == 12
    assert snap_boundary(frames, 14, "start") == 16 and snap_boundary(frames, 14, "end") == 12
    assert snap_boundary(frames, 3, "end") == 10 and snap_boundary(frames, 99, "start") == 20


def test_protocols(spec, found):
    meta = [s.metadata() for s in found[1]]
    p = spec.protocols(meta)
    subjects = np.array([m["subject"] for m in meta])
    assert len(p["xsub"]["train"]) == 100 and len(p["xsub"]["test"]) == 99
    assert set(subjects[p["xsub"]["train"]]) == {1, 3, 5, 7, 9}
    assert set(subjects[p["xsub"]["test"]]) == {2, 4, 6, 8, 10}
    loso = sorted(k for k in p if k.startswith("loso-"))
    assert loso == [f"loso-{s:02d}" for s in range(1, 11)]
    assert set(subjects[p["loso-10"]["test"]]) == {10} and len(p["loso-10"]["test"]) == 19
    loo = sorted(k for k in p if k.startswith("loo-"))
    assert len(loo) == 199 and loo[0] == "loo-001" and loo[-1] == "loo-199"
    assert p["loo-007"]["test"].tolist() == [6] and len(p["loo-007"]["train"]) == 198
    for split in p.values():  # every protocol is a partition
        assert sorted(np.concatenate([split["train"], split["test"]]).tolist()) == list(range(199))


def test_missing_label_file(spec, tmp_path):
    with pytest.raises(FormatError, match="actionLabel.txt"):
        spec.discover(tmp_path, {})


def test_unreadable_joints_file_is_skipped(spec, tmp_path, utkinect_dir):
    (tmp_path / "actionLabel.txt").write_text("s01_e01\nwalk: 1 5\npush: 2 3\n"
                                              "s02_e01\nwalk: 1 3\n")
    (tmp_path / "joints_s01_e01.txt").write_text("1 2 3\n")
    disc = spec.discover(tmp_path, {})
    assert disc.items == []
    reasons = {s["key"]: s["reason"] for s in disc.skipped}
    assert "expected 61 numbers" in reasons["s01_e01_walk"]
    assert reasons["s02_e01_walk"] == "joints file not found"
