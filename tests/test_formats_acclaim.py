"""Acclaim ASF/AMC: parsing, forward kinematics against hand-computed poses, errors."""

from __future__ import annotations

import numpy as np
import pytest

from mans.errors import FormatError
from mans.formats import read_sequence
from mans.formats.acclaim import find_asf, forward_kinematics, read_amc, read_asf
from mans.geometry import euler_to_matrix
from mans.skeleton import builtin_layout

# A two-bone chain: "a" hangs from the root along +x; "b" hangs from "a" along +x, its local frame
# turned 90 deg about z (so its local x axis is the global y axis) and it rotates about local x.
TINY_ASF = """\
# test skeleton
:version 1.10
:name TINY
:units
  mass 1.0
  length 1.0
  angle deg
:documentation
  free text, ignored
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 2 0 0
     length 1
     axis 0 0 0 XYZ
  end
  begin
     id 2
     name b
     direction 1 0 0
     length 2
     axis 0 0 90 XYZ
    dof rx
    limits (-180 180)
  end
:hierarchy
  begin
    root a
    a b
  end
"""


def _amc(frames: list[tuple[list[float], float]]) -> str:
    out = [":FULLY-SPECIFIED", ":DEGREES"]
    for i, (root, b) in enumerate(frames, start=1):
        out += [str(i), "root " + " ".join(map(str, root)), f"b {b}"]
    return "\n".join(out) + "\n"


@pytest.fixture()
def tiny(tmp_path):
    (tmp_path / "TINY.asf").write_text(TINY_ASF)
    return tmp_path


def test_tiny_asf(tiny):
    skel = read_asf(tiny / "TINY.asf")
    assert skel.name == "TINY" and skel.length_unit == 1.0 and skel.metres_per_unit == 0.0254
    assert [b.name for b in skel.bones] == ["a", "b"] and skel.bones[1].parent == "a"
    assert skel.bones[0].direction == (1.0, 0.0, 0.0)  # normalised
    assert skel.bones[1].dof == ("rx",) and skel.bones[1].axis == (0.0, 0.0, 90.0)
    assert skel.joint_names == ("root", "a", "b") and skel.joint_parents == (-1, 0, 1)


def test_fk_hand_computed(tiny):
    """Frame 1: rest pose. Frame 2: b's rx = 90 deg turns b about its local x = global y, so
    its +x direction goes to -z. Frame 3: root translated by (1, 2, 3) and turned 90 deg about
    y (x -> -z) with b at rest."""
    (tiny / "TINY_01.amc").write_text(_amc([([0, 0, 0, 0, 0, 0], 0), ([0, 0, 0, 0, 0, 0], 90),
                                            ([1, 2, 3, 0, 90, 0], 0)]))
    seq = read_amc(tiny / "TINY_01.amc")
    u = 0.0254  # metres per file unit (inches x 1.0)
    expected = np.array([
        [[0, 0, 0], [1, 0, 0], [3, 0, 0]],
        [[0, 0, 0], [1, 0, 0], [1, 0, -2]],
        [[1, 2, 3], [1, 2, 2], [1, 2, 0]],
    ]) * u
    assert seq.joints.shape == (3, 1, 3, 3) and seq.fps == 120.0
    np.testing.assert_allclose(seq.joints[:, 0], expected, atol=1e-7)
    assert seq.layout.name.startswith("acclaim-") and seq.layout.parents == (-1, 0, 1)


def test_euler_order_is_fixed_axes_in_written_order():
    a = np.radians([30.0, 40.0, 50.0])
    rx = euler_to_matrix(a[None, :1], "x")[0]
    ry = euler_to_matrix(a[None, 1:2], "y")[0]
    rz = euler_to_matrix(a[None, 2:], "z")[0]
    np.testing.assert_allclose(euler_to_matrix(a, "xyz"), rz @ ry @ rx, atol=1e-12)
    np.testing.assert_allclose(euler_to_matrix(a[[2, 0, 1]], "zxy"), ry @ rx @ rz, atol=1e-12)
    c, s = np.cos(a[2]), np.sin(a[2])
    np.testing.assert_allclose(rz, [[c, -s, 0], [s, c, 0], [0, 0, 1]], atol=1e-12)


def test_real_asf(hdm05_dir):
    skel = read_asf(hdm05_dir / "train" / "1" / "HDM_bd.asf")
    assert skel.length_unit == 0.45 and skel.angle_unit == "deg"
    assert abs(skel.metres_per_unit - 0.056444) < 1e-6  # CMU FAQ: (1/0.45) * 2.54 / 100
    assert len(skel.bones) == 30 and skel.root_order == ("tx", "ty", "tz", "rx", "ry", "rz")
    bones = {b.name: b for b in skel.bones}
    assert bones["lfemur"].length == 7.34031 and bones["lfemur"].dof == ("rx", "ry", "rz")
    assert bones["lfemur"].axis == (0.0, 0.0, 20.0) and bones["ltibia"].dof == ("rx",)
    assert bones["lhipjoint"].dof == () and bones["lthumb"].parent == "lwrist"
    assert skel.joint_names == builtin_layout("hdm05").joints
    assert skel.joint_parents == builtin_layout("hdm05").parents


def test_real_amc_rest_pose_and_layout(hdm05_dir):
    amc = hdm05_dir / "train" / "1" / "HDM_bd_depositFloorR_001_120.amc"
    seq = read_sequence(amc)
    assert seq.layout.name == "hdm05" and seq.joints.shape[1:] == (1, 31, 3)
    assert seq.name == "HDM_bd_depositFloorR_001_120" and seq.fps == 120.0
    skel = read_asf(find_asf(amc))
    # root joint = root translation of frame 1 ("root 5.19708 17.2839 -4.18609 ...") in metres
    np.testing.assert_allclose(seq.joints[0, 0, 0], np.array([5.19708, 17.2839, -4.18609])
                               * skel.metres_per_unit, rtol=1e-6)
    # rest pose (all angles 0): positions are running sums of direction x length
    dofs = {b.name: np.zeros((1, len(b.dof))) for b in skel.bones if b.dof}
    rest = forward_kinematics(skel, np.zeros((1, 6)), dofs)[0]
    layout = builtin_layout("hdm05")
    for j, p in layout.bones:
        bone = skel.bones[j - 1]
        np.testing.assert_allclose(rest[j] - rest[p], np.array(bone.direction) * bone.length
                                   * skel.metres_per_unit, atol=1e-12)


def test_hdm05_layout_roles():
    layout = builtin_layout("hdm05")
    name = {r: layout.joints[j] for r, j in layout.roles.items()}
    assert name == {"spine_base": "root", "spine_top": "thorax", "left_hip": "lhipjoint",
                    "right_hip": "rhipjoint", "left_shoulder": "lclavicle",
                    "right_shoulder": "rclavicle", "left_ankle": "ltibia",
                    "right_ankle": "rtibia", "left_foot": "lfoot", "right_foot": "rfoot"}
    assert sorted(layout.joints[j] for j in layout.torso) == sorted(
        ["root", "lhipjoint", "rhipjoint", "upperback", "thorax", "lclavicle", "rclavicle"])


def test_find_asf(tmp_path):
    (tmp_path / "HDM_bd.asf").write_text("")
    (tmp_path / "HDM_mm.asf").write_text("")
    assert find_asf(tmp_path / "HDM_bd_walk_001_120.amc").name == "HDM_bd.asf"
    with pytest.raises(FormatError, match="no skeleton file"):
        find_asf(tmp_path / "other_01.amc")


GOOD = [([0, 0, 0, 0, 0, 0], 0), ([0, 0, 0, 0, 0, 0], 10)]


@pytest.mark.parametrize("text, line, words", [
    ("", None, "no frames"),
    (":FULLY-SPECIFIED\n:DEGREES\n", None, "no frames"),
    (_amc(GOOD).replace("b 10\n", ""), 8, "lacks bone(s) b"),  # truncated last frame
    (_amc(GOOD).replace("b 10", "b ten"), 8, "expected 1 numbers"),
    (_amc(GOOD).replace("b 10", "b 1 2"), 8, "expected 1 values"),
    (_amc(GOOD).replace("b 10", "b nan"), 8, "non-finite"),
    (_amc(GOOD).replace("b 10", "c 10"), 8, "unknown bone"),
    (_amc(GOOD).replace("b 10", "root 0 0 0 0 0 0"), 8, "given twice"),
    (_amc(GOOD).replace("\n2\n", "\n3\n"), 6, "expected 2"),
    (_amc(GOOD).replace("\n2\n", "\n"), 6, "given twice"),  # deleted frame-number line
    ("root 0 0 0 0 0 0\n", 1, "expected a frame number"),
    (_amc(GOOD) + ":EXTRA\n", 9, "after the first frame"),
    (_amc(GOOD).replace("root 0 0 0 0 0 0", "root 0 0 1e308 0 0 0", 1).replace(
        "root 0 0 0 0 0 0", "root 0 0 1e308 0 0 0"), None, "overflow"),
], ids=["empty", "header-only", "truncated", "text", "count", "nan", "unknown", "twice",
        "frame-gap", "deleted-frame-line", "no-frame-line", "late-header", "overflow"])
def test_amc_errors(tiny, text, line, words):
    path = tiny / "TINY_02.amc"
    path.write_text(text)
    with pytest.raises(FormatError) as e:
        read_amc(path)
    assert e.value.line == line and words in str(e.value) and str(path) in str(e.value)


def _bad_asf(old: str, new: str) -> str:
    assert old in TINY_ASF
    return TINY_ASF.replace(old, new)


@pytest.mark.parametrize("text, line, words", [
    (_bad_asf("length 2\n", "length two\n"), 27, "length: expected 1 numbers"),
    (_bad_asf("direction 1 0 0", "direction 0 0 0"), 26, "non-zero"),
    (_bad_asf("    dof rx\n", "    dof tx\n"), 29, "only distinct rx"),
    (_bad_asf("    a b\n", "    a c\n"), 35, "unknown bone 'c'"),
    (_bad_asf("    a b\n", ""), None, "not reachable"),
    (_bad_asf(":hierarchy", ":hierarchyX"), None, "no :hierarchy"),
    (_bad_asf("     name b\n", ""), 30, "has no 'name'"),
    (TINY_ASF[:TINY_ASF.index("  end\n:hierarchy")], None, "has no 'end'"),
    (_bad_asf("length 1.0", "length -1"), 6, "positive"),
    (_bad_asf("axis 0 0 90 XYZ", "axis 0 0 90 XXZ"), 28, "permutation of XYZ"),
], ids=["length", "direction", "dof", "hierarchy-unknown", "unreachable", "no-hierarchy",
        "no-name", "truncated", "units", "axis-order"])
def test_asf_errors(tmp_path, text, line, words):
    path = tmp_path / "bad.asf"
    path.write_text(text)
    with pytest.raises(FormatError) as e:
        read_asf(path)
    assert words in str(e.value) and e.value.line == line
