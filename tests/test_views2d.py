"""The 2-D view normalisation (mans.data.views2d) against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from mans.data.pipeline import prepare_sequence
from mans.data.spec import PrepConfig
from mans.errors import ConfigError
from mans.skeleton import Sequence, builtin_layout
from mans.data.views2d import normalise_2d, select_slots_2d

COCO = builtin_layout("coco17")
LH, RH, LS, RS, NOSE = 11, 12, 5, 6, 0


def _body(dx=0.0, dy=0.0, s=1.0):
    """(17, 2): hips at (90, 200) / (110, 200), shoulders at (80, 150) / (120, 150), nose at
    (100, 100), every other joint at (100, 175); shifted by (dx, dy), scaled by s about (0, 0)."""
    p = np.full((17, 2), [100.0, 175.0])
    p[LH], p[RH], p[LS], p[RS], p[NOSE] = [90, 200], [110, 200], [80, 150], [120, 150], [100, 100]
    return p * s + [dx, dy]


def test_centre_scale_and_y_up_by_hand():
    joints = _body()[None, None]  # (1, 1, 17, 2)
    out = normalise_2d(joints, None, COCO)
    # origin = hip mid (100, 200); torso = |(100,150) - (100,200)| = 50; y negated
    assert out[0, 0, NOSE].tolist() == pytest.approx([0.0, 2.0])
    assert out[0, 0, LS].tolist() == pytest.approx([-0.4, 1.0])
    assert out[0, 0, RH].tolist() == pytest.approx([0.2, 0.0])
    # translation and scale of the image do not change the result
    again = normalise_2d((_body(dx=37, dy=-12, s=3.0))[None, None], None, COCO)
    np.testing.assert_allclose(again, out, atol=1e-12)


def test_origin_and_scale_are_medians_over_frames_and_motion_survives():
    frames = np.stack([_body(dx=10 * t) for t in range(5)])[:, None]  # walking right, (5,1,17,2)
    out = normalise_2d(frames, None, COCO)
    # median hip mid = frame 2's (120, 200): frame 0's hip is at x = (100 - 120) / 50 = -0.4
    assert out[:, 0, RH, 0] - 0.2 == pytest.approx([-0.4, -0.2, 0.0, 0.2, 0.4])


def test_scores_invalid_joints_confidence_channel_and_absent_slot():
    joints = np.zeros((2, 2, 17, 2))
    joints[:, 0] = _body()
    scores = np.zeros((2, 2, 17))
    scores[:, 0] = 0.5
    scores[1, 0, NOSE] = 0.0  # not detected in frame 1
    out = normalise_2d(joints, scores, COCO, confidence=True)
    assert out.shape == (2, 2, 17, 3)
    assert out[0, 0, NOSE].tolist() == pytest.approx([0.0, 2.0, 0.5])
    assert out[1, 0, NOSE].tolist() == [0.0, 0.0, 0.0]
    assert not out[:, 1].any()


def test_fallbacks_without_hips_or_torso():
    p = _body()
    scores = np.ones((1, 1, 17))
    scores[0, 0, [LH, RH]] = 0  # no hips: origin = centroid of the valid joints
    out = normalise_2d(np.where(scores[..., None] > 0, p, 0)[..., :], scores, COCO)
    valid = scores[0, 0] > 0
    centroid = p[valid].mean(axis=0)
    height = p[valid, 1].max() - p[valid, 1].min()  # 175 - 100 = 75 -> scale 25
    assert out[0, 0, NOSE].tolist() == pytest.approx(
        [(100 - centroid[0]) / (height / 3), -(100 - centroid[1]) / (height / 3)])


def test_select_slots_2d_keeps_slots_present_most_and_their_order():
    j = np.zeros((4, 3, 17, 2))
    j[:1, 0] = 1.0  # slot 0 in 1 frame
    j[:, 1] = 2.0  # slot 1 in 4 frames
    j[:3, 2] = 3.0  # slot 2 in 3 frames
    kept, _ = select_slots_2d(j, None, 2)
    assert kept[0, :, 0, 0].tolist() == [2.0, 3.0]
    padded, sc = select_slots_2d(j[:, :1], np.ones((4, 1, 17)), 2)
    assert padded.shape == (4, 2, 17, 2) and sc.shape == (4, 2, 17) and not padded[:, 1].any()


def test_prepare_sequence_2d_keeps_every_frame_and_slot_identity():
    joints = np.zeros((4, 2, 17, 2), np.float32)
    joints[:, 1] = _body()  # the only person sits in slot 1; frame 2 has nobody
    joints[2] = 0
    scores = (joints != 0).any(-1).astype(np.float32)
    seq = Sequence(joints=joints, layout="coco17", name="x", scores=scores)
    x = prepare_sequence(seq, PrepConfig("2d", 2))
    assert x.shape == (2, 4, 34)  # (C, T, M*V): frame 2 kept as a zero row
    assert not x[:, 2].any() and not x[:, :, :17].any()  # slot 1 stays slot 1 (no packing)
    assert x[:, 0, 17 + NOSE].tolist() == pytest.approx([0.0, 2.0])
    x3 = prepare_sequence(seq, PrepConfig("2d", 1, confidence=True))
    assert x3.shape == (3, 4, 17) and x3[2, 0, NOSE] == 1.0


def test_2d_view_refuses_3d_data_and_confidence_needs_2d():
    seq = Sequence(joints=np.ones((3, 1, 25, 3), np.float32), layout="ntu25", name="x")
    with pytest.raises(ConfigError, match="2-D coordinates"):
        prepare_sequence(seq, PrepConfig("2d", 1))
    with pytest.raises(ConfigError, match="only for view '2d'"):
        PrepConfig("authors", 1, confidence=True)
    assert PrepConfig.from_dict({"view": "2d", "max_bodies": 1}).confidence is False


def test_pinhole_visibility_bound_is_the_min_depth_constant():
    """The parameters no caller passed (pinhole_project's min_depth, camera_in_front's up_axis)
    are gone: the depth bound is the constant MIN_DEPTH and y is up."""
    import inspect

    from mans.data.views2d import MIN_DEPTH, camera_in_front, pinhole_project

    assert list(inspect.signature(pinhole_project).parameters) == ["joints", "camera",
                                                                   "intrinsics"]
    assert list(inspect.signature(camera_in_front).parameters) == ["joints", "layout",
                                                                   "distance", "height"]
    j = np.zeros((1, 1, 3, 3))
    j[0, 0] = [[0.2, 0.1, MIN_DEPTH - 0.01], [0.2, 0.1, MIN_DEPTH + 0.1], [0.0, 0.0, -1.0]]
    uv = pinhole_project(j, intrinsics=(100.0, 50.0, 40.0))
    # by hand: u = 50 + 100 * 0.2 / 0.2 = 150, v = 40 - 100 * 0.1 / 0.2 = -10
    assert uv[0, 0].tolist() == [[0.0, 0.0], pytest.approx([150.0, -10.0]), [0.0, 0.0]]
