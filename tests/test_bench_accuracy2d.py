"""The 2-D benchmark's projection and data preparation (training itself: bench/accuracy2d.py)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from mans.skeleton import builtin_layout
from mans.data.views2d import camera_in_front, pinhole_project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


def test_pinhole_projection_by_hand():
    j = np.zeros((1, 2, 2, 3))
    j[0, 0, 0] = [1.0, 0.5, 2.0]  # x right 1 m, y up 0.5 m, 2 m away
    j[0, 0, 1] = [0.0, 0.0, 0.05]  # too near the camera: invisible
    uv = pinhole_project(j, intrinsics=(500.0, 320.0, 240.0))
    assert uv[0, 0, 0].tolist() == pytest.approx([320 + 500 * 0.5, 240 - 500 * 0.25])
    assert uv[0, 0, 1].tolist() == [0, 0] and not uv[0, 1].any()  # absent body stays zero
    # a camera at (1, 0.5, -2) sees that point 2 m straight ahead: the principal point
    uv2 = pinhole_project(j[:, :1, :1] - [0, 0, 2.0], np.array([1.0, 0.5, -2.0]),
                          intrinsics=(500.0, 320.0, 240.0))
    assert uv2[0, 0, 0].tolist() == pytest.approx([320.0, 240.0])


def test_camera_in_front_of_mean_hip():
    lay = builtin_layout("kinect20")
    j = np.zeros((2, 1, 20, 3))
    j[:, 0, :] = [0.0, 1.0, 0.0]
    j[0, 0, lay.role("left_hip")] = [1.0, 1.0, 2.0]
    j[0, 0, lay.role("right_hip")] = [3.0, 1.0, 2.0]
    j[1, 0, lay.role("left_hip")] = [1.0, 1.0, 4.0]
    j[1, 0, lay.role("right_hip")] = [3.0, 1.0, 4.0]
    assert camera_in_front(j, lay, distance=4.0, height=1.5).tolist() == [2.0, 1.5, -1.0]


def test_project_utkinect_keeps_labels_subjects_and_xsub(tmp_path, utkinect_dir):
    import accuracy2d

    from mans.datasets import get_dataset

    out = accuracy2d.project_dataset("utkinect", utkinect_dir, tmp_path / "ut2d")
    rows = list(csv.DictReader(open(out / "labels.csv")))
    assert len(rows) == 199  # every UT-Kinect action sample (docs/formats.md)
    assert {r["split"] for r in rows if int(r["subject"]) % 2 == 1} == {"train"}
    assert {r["split"] for r in rows if int(r["subject"]) % 2 == 0} == {"test"}
    spec = get_dataset("utkinect")
    first = spec.read(spec.discover(utkinect_dir, {}).items[0])
    got = np.load(out / "0000.npz")["joints"]
    assert got.shape == first.joints.shape[:3] + (2,)
    x, y, z = first.joints[0, 0, 3].astype(np.float64)  # the head, Kinect camera frame
    assert got[0, 0, 3].tolist() == pytest.approx([320 + 525 * x / z, 240 - 525 * y / z],
                                                  rel=1e-5)


def test_render_puts_3d_results_beside_2d():
    import accuracy2d

    # a hand-made 3-D results dict (the real bench/results.json changes with every benchmark run)
    def run(dataset, group, variant, top1, recipe="basic"):
        return {"dataset": dataset, "group": group, "variant": variant, "top1": top1,
                "recipe": recipe}
    results3d = {"runs": [run("utkinect", "xsub", "MANs (TARM + STCM)", t) for t in (0.9, 0.92)]
                 + [run("utkinect", "xsub", "MANs (TARM + STCM)", 0.1, recipe="best")]
                 + [run("hdm05", "actors", "STCM only", t) for t in (0.98, 0.99, 1.0)]}
    runs2d = [{"dataset": "hdm05", "variant": "STCM only", "top1": t} for t in (0.5, 0.7)]
    table = accuracy2d.render({"runs": runs2d}, results3d).splitlines()
    # mean ± sample std over seeds; the best recipe's runs are not the 3-D rows compared with
    assert "| utkinect | xsub | MANs (TARM + STCM) | n/a | 91.0 ± 1.4 (2) |" in table
    assert "| hdm05 | actors | STCM only | 60.0 ± 14.1 (2) | 99.0 ± 1.0 (3) |" in table
