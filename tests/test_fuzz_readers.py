"""Damaged real files: every reader returns a valid finite Sequence or raises FormatError.

Mutations of real UT-Kinect / Acclaim files (and a small .npz): truncation at any byte, byte
flips, line deletions, line duplications. Anything else escaping (IndexError, ValueError, ...) is
a bug. Bounded and derandomised so CI time and outcome are stable.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_fuzz import FUZZ, check_sequence, mutated
from mans.errors import FormatError
from mans.formats.acclaim import read_amc, read_asf
from mans.formats.custom import read_npz
from mans.formats.utkinect import read_action_labels, read_joints_file

@pytest.fixture(scope="module")
def work(tmp_path_factory, utkinect_dir, hdm05_dir):
    d = tmp_path_factory.mktemp("fuzz")
    ut = (utkinect_dir / "joints" / "joints_s01_e01.txt").read_bytes()
    labels = (utkinect_dir / "joints" / "actionLabel.txt").read_bytes()
    amc_lines = (hdm05_dir / "train" / "1" / "HDM_bd_depositFloorR_001_120.amc").read_bytes() \
        .split(b"\n")
    shutil.copy(hdm05_dir / "train" / "1" / "HDM_bd.asf", d / "HDM_bd.asf")
    asf = (d / "HDM_bd.asf").read_bytes()
    np.savez(d / "seed.npz", joints=np.random.default_rng(0).normal(size=(6, 20, 3)),
             layout="kinect20", label=2, subject=1)
    return {
        "dir": d,
        "ut": b"\n".join(ut.split(b"\n")[:40]) + b"\n",  # 40 real rows (speed)
        "labels": labels,
        "amc": b"\n".join(amc_lines[:3 + 30 * 6]) + b"\n",  # header + 6 real frames
        "asf": asf,
        "npz": (d / "seed.npz").read_bytes(),
    }


def _write(work, name: str, data: bytes):
    path = work["dir"] / name
    path.write_bytes(data)
    return path


def test_seeds_are_valid(work):
    check_sequence(read_joints_file(_write(work, "joints_s01_e01.txt", work["ut"])), "kinect20")
    check_sequence(read_amc(_write(work, "HDM_bd_x_001_120.amc", work["amc"])), "hdm05")
    check_sequence(read_npz(_write(work, "x.npz", work["npz"])), "kinect20")


@FUZZ
@given(data=st.data())
def test_fuzz_utkinect_joints(work, data):
    path = _write(work, "joints_s01_e01.txt", data.draw(mutated(work["ut"])))
    try:
        seq = read_joints_file(path)
    except FormatError:
        return
    check_sequence(seq, "kinect20")


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_fuzz_utkinect_labels(work, data):
    path = _write(work, "actionLabel.txt", data.draw(mutated(work["labels"])))
    try:
        labels = read_action_labels(path)
    except FormatError:
        return
    for entries in labels.values():
        for action, start, end in entries:
            assert (start is None) == (end is None) and (start is None or start <= end)


@FUZZ
@given(data=st.data())
def test_fuzz_amc(work, data):
    path = _write(work, "HDM_bd_x_001_120.amc", data.draw(mutated(work["amc"])))
    try:
        seq = read_amc(path)
    except FormatError:
        return
    check_sequence(seq, "hdm05")


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_fuzz_asf(work, data):
    path = _write(work, "fuzz.asf", data.draw(mutated(work["asf"])))
    try:
        skel = read_asf(path)
    except FormatError:
        return
    assert len(skel.bones) >= 1 and skel.length_unit > 0


@FUZZ
@given(data=st.data())
def test_fuzz_npz(work, data):
    path = _write(work, "fuzz.npz", data.draw(mutated(work["npz"])))
    try:
        seq = read_npz(path)
    except FormatError:
        return
    check_sequence(seq)
