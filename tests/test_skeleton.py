"""Layouts as values: immutable, picklable, compared by value, found by name only when built in;
a Sequence carries its Layout object."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pytest

from mans.errors import ConfigError
from mans.skeleton import BUILTIN_LAYOUTS, HDM05, KINECT20, Layout, Sequence, builtin_layout

RIG = Layout(name="rig", joints=("pelvis", "lhip", "rhip"), parents=(-1, 0, 0),
             roles={"left_hip": 1, "right_hip": 2}, torso=(0, 1, 2))


def test_a_layout_cannot_be_changed():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RIG.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        RIG.roles["left_hip"] = 2  # type: ignore[index]
    roles = {"left_hip": 1}
    lay = Layout(name="x", joints=["a", "b"], parents=[-1, 0], roles=roles)
    roles["left_hip"] = 0  # the caller's dict is copied, not shared
    assert lay.role("left_hip") == 1 and lay.joints == ("a", "b") and lay.parents == (-1, 0)


def test_a_layout_pickles_and_compares_by_value():
    for lay in (RIG, HDM05, *BUILTIN_LAYOUTS.values()):
        again = pickle.loads(pickle.dumps(lay))
        assert again == lay and hash(again) == hash(lay) and again is not lay
        assert copy.deepcopy(lay) == lay and Layout.from_dict(lay.to_dict()) == lay
    assert dataclasses.replace(RIG, roles={"left_hip": 2, "right_hip": 1}) != RIG


def test_builtin_layouts_by_name_only():
    assert set(BUILTIN_LAYOUTS) == {"ntu25", "kinect20", "hdm05", "coco17", "openpose18",
                                    "openpose25", "mediapipe33"}
    assert builtin_layout("kinect20") is KINECT20 and HDM05.num_joints == 31
    with pytest.raises(ConfigError, match=r"unknown layout 'rig'; built in: \['coco17'"):
        builtin_layout("rig")
    with pytest.raises(TypeError):
        BUILTIN_LAYOUTS["rig"] = RIG  # type: ignore[index]


def test_a_sequence_carries_its_layout():
    joints = np.zeros((4, 1, 3, 3), np.float32)
    seq = Sequence(joints=joints, layout=RIG, name="s")
    assert seq.layout is RIG and seq.metadata()["layout"] == "rig"
    assert Sequence(joints=np.zeros((4, 1, 20, 3), np.float32), layout="kinect20",
                    name="k").layout is KINECT20
    with pytest.raises(ConfigError, match="s.txt: 20 joints per body, but layout 'rig' has 3"):
        Sequence(joints=np.zeros((4, 1, 20, 3), np.float32), layout=RIG, name="s",
                 source="s.txt")
    with pytest.raises(ConfigError, match="unknown layout 'rig'"):
        Sequence(joints=joints, layout="rig", name="s")
