"""The hdm05 dataset spec on the real 11-class subset: every clip, FK bone lengths, protocol."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mans.datasets import get_dataset
from mans.datasets.hdm05 import parse_name
from mans.errors import FormatError
from mans.formats.acclaim import read_asf
from mans.skeleton import builtin_layout

# SOURCE.txt: clips per class (train/test)
PER_CLASS = {1: (18, 14), 2: (18, 9), 3: (16, 13), 4: (30, 6), 5: (10, 7), 6: (18, 11),
             7: (14, 6), 8: (10, 6), 9: (9, 6), 10: (36, 16), 11: (9, 5)}


@pytest.fixture(scope="module")
def spec():
    return get_dataset("hdm05")


@pytest.fixture(scope="module")
def clips(spec, hdm05_dir):
    disc = spec.discover(hdm05_dir, {})
    return disc, [spec.read(item) for item in disc.items]


def test_discovery_and_class_names(spec, hdm05_dir, clips):
    disc, seqs = clips
    assert len(disc.items) == 287 and disc.skipped == []
    names = spec.class_names(hdm05_dir)
    assert names == ["depositFloorR", "elbowToKnee1RepsLelbowStart", "grabHighR",
                     "hopBothLegs1hops", "jogLeftCircle4StepsRstart", "kickLFront1Reps",
                     "lieDownFloor", "rotateArmsBothBackward1Reps", "sneak2StepsLStart",
                     "squat1Reps", "throwBasketball"]
    for item, seq in zip(disc.items, seqs):
        assert names[seq.label] == parse_name(Path(item.path).stem)[1]
        assert int(Path(item.path).parent.name) == seq.label + 1


def test_per_class_counts(clips):
    disc, seqs = clips
    counts = Counter((item.info["split_folder"], seq.label + 1)
                     for item, seq in zip(disc.items, seqs))
    for k, (n_train, n_test) in PER_CLASS.items():
        assert counts[("train", k)] == n_train and counts[("test", k)] == n_test


def test_all_clips_read(clips):
    for seq in clips[1]:
        assert seq.layout.name == "hdm05" and seq.fps == 120.0
        assert seq.joints.shape[1:] == (1, 31, 3) and 56 <= seq.num_frames <= 901
        assert np.isfinite(seq.joints).all()
    assert np.mean([s.num_frames for s in clips[1]]) == pytest.approx(247, abs=1)


def test_bone_lengths_constant_and_equal_to_asf(clips):
    """FK must keep every bone rigid: |joint - parent| equals the ASF length in every frame."""
    layout = builtin_layout("hdm05")
    child = np.array([j for j, _ in layout.bones])
    parent = np.array([p for _, p in layout.bones])
    asf_cache = {}
    worst = 0.0
    for item, seq in zip(clips[0].items, clips[1]):
        asf = Path(item.path).with_name(f"HDM_{item.info['actor']}.asf")
        if asf not in asf_cache:
            skel = read_asf(asf)
            asf_cache[asf] = skel.bone_lengths_m()[child - 1]  # bone j ends at joint j
        xyz = seq.joints[:, 0].astype(np.float64)  # (T, 31, 3)
        lengths = np.linalg.norm(xyz[:, child] - xyz[:, parent], axis=-1)  # (T, 30)
        worst = max(worst, float(np.abs(lengths - asf_cache[asf]).max()))
    assert worst < 1e-5  # metres; float32 storage of ~1 m coordinates


def test_height_plausible(clips):
    layout = builtin_layout("hdm05")
    head = layout.joints.index("head")
    heights = {}
    for item, seq in zip(clips[0].items, clips[1]):
        y = seq.joints[:, 0, :, 1]  # (T, 31) up axis
        heights.setdefault(item.info["actor"], []).append(np.percentile(y[:, head], 95))
    for actor, h in heights.items():
        assert 1.5 < np.median(h) < 1.9, actor  # head top of a standing adult, floor y ~ 0
    lowest = np.array([seq.joints[..., 1].min() for seq in clips[1]])  # per clip, metres
    assert -0.1 < np.median(lowest) < 0.05  # the floor is y = 0
    assert (lowest > -0.3).all() and (lowest < 0.1).all()  # lying down reaches -0.22


def test_subjects_and_protocol(spec, clips):
    disc, seqs = clips
    actor_of = {s.subject: item.info["actor"] for item, s in zip(disc.items, seqs)}
    assert actor_of == {1: "bd", 2: "bk", 3: "dg", 4: "mm", 5: "tr"}
    p = spec.protocols([s.metadata() for s in seqs])
    assert set(p) == {"actors"} and spec.default_protocol == "actors"
    assert len(p["actors"]["train"]) == 188 and len(p["actors"]["test"]) == 99
    folder = np.array([item.info["split_folder"] for item in disc.items])
    assert (folder[p["actors"]["train"]] == "train").all()
    assert (folder[p["actors"]["test"]] == "test").all()


def test_unknown_actor_skipped(spec, tmp_path):
    d = tmp_path / "train" / "1"
    d.mkdir(parents=True)
    (d / "HDM_zz_walk_001_120.amc").write_text("")
    (d / "notes.amc").write_text("")
    disc = spec.discover(tmp_path, {})
    assert disc.items == [] and len(disc.skipped) == 2
    assert any("unknown actor 'zz'" in s["reason"] for s in disc.skipped)
    (tmp_path / "test" / "\u00b2").mkdir(parents=True)  # '²'.isdigit() is True, int() refuses
    with pytest.raises(FormatError, match="1-based class ids"):
        spec.discover(tmp_path, {})
