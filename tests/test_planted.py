"""The planted-signal data (mans.synth.planted): per-sample seeding, the window, and the window
surviving ``mans prepare custom`` into the store."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from mans.errors import ConfigError
from mans.synth import planted
from mans.synth.planted import FRAMES, TARGETS, WINDOW_SHARE, planted_sample, write_planted


def _speed(joints: np.ndarray) -> np.ndarray:
    """(T - 1,) mean joint displacement between consecutive frames, metres."""
    return np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean(axis=-1)


def test_a_sample_depends_only_on_its_identity():
    a = planted_sample(0, 2, 3, 1)
    b = planted_sample(0, 2, 3, 1)
    assert np.array_equal(a.joints, b.joints) and (a.start, a.stop) == (b.start, b.stop)
    assert not np.array_equal(planted_sample(1, 2, 3, 1).joints[:5], a.joints[:5])
    assert (planted_sample(0, 2, 4, 1).start, planted_sample(0, 2, 4, 1).stop) != \
        (a.start, a.stop) or planted_sample(0, 2, 4, 1).joints.shape != a.joints.shape


def test_window_lies_inside_and_has_the_drawn_share():
    for s in range(1, 4):
        for k in range(len(TARGETS)):
            p = planted_sample(0, s, 1, k)
            t = len(p.joints)
            assert FRAMES[0] <= t <= FRAMES[1] and p.joints.shape == (t, 25, 3)
            assert 0 <= p.start < p.stop <= t
            share = (p.stop - p.start) / t
            assert WINDOW_SHARE[0] - 0.5 / t <= share <= WINDOW_SHARE[1] + 0.5 / t
            assert p.label == k and np.isfinite(p.joints).all()


def test_the_class_motion_is_inside_the_window():
    """With idle on both sides, the body moves far more inside the window than outside."""
    found = 0
    for r in range(1, 30):
        p = planted_sample(0, 1, r, r % len(TARGETS))
        if p.background != ("idle", "idle"):
            continue
        v = _speed(p.joints)  # v[t]: frame t -> t + 1
        inside = v[p.start:p.stop - 1].mean()
        outside = np.concatenate([v[:max(p.start - 1, 0)], v[p.stop:]]).mean()
        assert inside > 2 * outside, (r, inside, outside)
        found += 1
    assert found >= 3


def test_bad_arguments():
    with pytest.raises(ConfigError, match="label"):
        planted_sample(0, 1, 1, len(TARGETS))
    with pytest.raises(ConfigError, match="subjects"):
        write_planted("/nonexistent-never-written", subjects=1)


def test_written_folder_prepares_with_the_window_in_the_store(tmp_path):
    from mans.data.prepare import prepare
    from mans.data.store import PreparedStore

    summary = write_planted(tmp_path / "raw", seed=0, subjects=3, replications=1)
    assert summary["files"] == 3 * len(TARGETS) and summary["test"] == len(TARGETS)
    rows = list(csv.DictReader(open(tmp_path / "raw" / "labels.csv")))
    assert {r["split"] for r in rows if r["subject"] == "3"} == {"test"}
    assert (tmp_path / "raw" / "classes.txt").read_text().split("\n")[:len(TARGETS)] == \
        planted.class_names()
    prepare("custom", tmp_path / "raw", tmp_path / "store", workers=1, progress=False)
    store = PreparedStore.open(tmp_path / "store")
    assert store.class_names == planted.class_names()
    assert sorted(store.split("given", "test").tolist()) == sorted(
        i for i, m in enumerate(store.meta) if m["subject"] == 3)
    for i, m in enumerate(store.meta):
        s, r, k = int(m["key"][1:4]), int(m["key"][5:8]), int(m["key"][9:11])
        p = planted_sample(0, s, r, k)
        assert store.labels[i] == k
        assert store.lengths[i] == len(p.joints)  # every frame kept: frame t is the file's t
        assert (int(m["extra"]["window_start"]), int(m["extra"]["window_stop"])) == \
            (p.start, p.stop)
    with pytest.raises(ConfigError, match="already holds"):
        write_planted(tmp_path / "raw", subjects=3, replications=1)
