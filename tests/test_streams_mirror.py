"""Input streams (joint, bone, motion, bone motion) and left/right mirroring, against hand-computed
values and the real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mans.formats.acclaim  # noqa: F401  (registers the hdm05 layout)
from mans.data.augment import Mirror, build_augment, mirror_sequence
from mans.engine.config import AugmentConfig
from mans.errors import ConfigError
from mans.formats import read_sequence
from helpers_pipeline import joint_image, pipeline_for
from mans.data.frames import frame_indices
from mans.data.streams import apply_stream, bones, column_mirror, column_parents, motion
from mans.data.spec import PrepConfig
from mans.data.pipeline import prepare_sequence
from mans.models.tta import MirrorAverage, mirror_images
from mans.skeleton import Layout, builtin_layout

CHAIN = Layout(name="chain3", joints=("root", "left_arm", "right_arm"), parents=(-1, 0, 0))


# --- mirror pairs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,pairs", [
    ("ntu25", 10), ("kinect20", 8), ("hdm05", 12)])
def test_builtin_layouts_pair_left_and_right(name, pairs):
    layout = builtin_layout(name)
    perm = layout.mirror_permutation()
    assert np.array_equal(perm[perm], np.arange(layout.num_joints))  # an involution
    moved = [(layout.joints[j], layout.joints[k]) for j, k in enumerate(perm) if j < k]
    assert len(moved) == pairs
    for a, b in moved:  # every pair is a left and a right name of the same joint
        assert a.replace("left", "right").replace("l", "r", 1) == b or \
            a.replace("left", "right") == b
    for side in ("hip", "shoulder", "ankle", "foot"):
        assert perm[layout.role(f"left_{side}")] == layout.role(f"right_{side}")


def test_openpose_style_names_pair():
    lay = Layout(name="op", joints=("Neck", "LShoulder", "RShoulder", "MidHip", "LHip", "RHip"),
                 parents=(-1, 0, 0, 0, 3, 3))
    assert lay.mirror_permutation().tolist() == [0, 2, 1, 3, 5, 4]


def test_layout_without_pairs_refuses_mirroring():
    lay = Layout(name="nopairs", joints=("a", "b", "c"), parents=(-1, 0, 1))
    with pytest.raises(ConfigError, match="cannot be mirrored.*data.augment.mirror=0"):
        lay.mirror_permutation()
    with pytest.raises(ConfigError, match="cannot be mirrored"):
        build_augment(AugmentConfig(mirror=0.5), lay)


def test_roles_contradicting_the_names_are_refused():
    lay = Layout(name="odd", joints=("root", "left_hip", "right_hip", "x"), parents=(-1, 0, 0, 0),
                 roles={"left_hip": 1, "right_hip": 3})
    with pytest.raises(ConfigError, match="does not pair"):
        lay.mirror_permutation()


# --- mirroring sequences ---------------------------------------------------------------------------


def test_mirror_twice_is_identity_and_zeros_stay():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 7, 50)).astype(np.float32)
    x[:, 2, 25:] = 0  # absent second body in frame 2
    cols = column_mirror(builtin_layout("ntu25"), 50)
    m = mirror_sequence(x, cols)
    assert np.array_equal(mirror_sequence(m, cols), x)
    assert np.all(m[:, 2, 25:] == 0) and not np.any(np.signbit(m[:, 2, 25:]))
    assert not np.shares_memory(m, x)


def test_mirror_on_real_ntu_swaps_the_hands(ntu_samples):
    """On a real two-person NTU sample, in the authors' view frame: after mirroring, the left
    hand's track is the right hand's with the lateral axis negated, and the right hip is still on
    the +x side in the first frame, which defines the view frame (the frame's convention holds
    for the mirrored body)."""
    seq = read_sequence(ntu_samples / "S001C003P008R002A058.skeleton")
    x = prepare_sequence(seq, PrepConfig("authors", 2))  # (3, T, 50)
    lay = builtin_layout("ntu25")
    m = mirror_sequence(x, column_mirror(lay, x.shape[2]))
    lh, rh, rhip = lay.joints.index("left_hand"), lay.joints.index("right_hand"), \
        lay.role("right_hip")
    for body in (0, 1):
        o = body * 25
        np.testing.assert_array_equal(m[1:, :, o + lh], x[1:, :, o + rh])
        np.testing.assert_array_equal(m[0, :, o + lh], -x[0, :, o + rh])
        np.testing.assert_array_equal(m[:, :, o + rh] * [[-1], [1], [1]], x[:, :, o + lh])
        assert x[0, 0, o + rhip] > 0 and m[0, 0, o + rhip] > 0


def test_mirror_step_probability_and_identity_draws():
    step = Mirror(builtin_layout("kinect20"), p=0.5)
    x = np.random.default_rng(1).normal(size=(3, 5, 20)).astype(np.float32)
    flips = [not np.array_equal(step(x, np.random.default_rng(i)), x) for i in range(400)]
    assert 0.4 < np.mean(flips) < 0.6
    assert np.array_equal(Mirror(builtin_layout("kinect20"), p=0.0)(x, np.random.default_rng(0)), x)


# --- streams ---------------------------------------------------------------------------------------


def test_bones_by_hand():
    x = np.zeros((3, 2, 3), np.float32)  # (C, T, J) for root, left_arm, right_arm
    x[:, 0] = [[1, 2, 4], [0, 1, 1], [5, 5, 6]]
    x[:, 1, 0] = [1, 0, 5]  # frame 1: the arms are absent
    b = bones(x, column_parents(CHAIN, 3))
    expected = np.zeros_like(x)
    expected[:, 0, 1] = [1, 1, 0]  # left_arm - root
    expected[:, 0, 2] = [3, 1, 1]
    np.testing.assert_array_equal(b, expected)  # root and absent joints: 0


def test_column_parents_of_two_bodies():
    p = column_parents(CHAIN, 6)
    assert p.tolist() == [-1, 0, 0, -1, 3, 3]
    with pytest.raises(ConfigError, match="whole number"):
        column_parents(CHAIN, 5)


def test_motion_by_hand_and_absent_joints():
    x = np.zeros((1, 4, 2), np.float32)
    x[0, :, 0] = [1, 3, 6, 10]
    x[0, :, 1] = [2, 0, 5, 7]  # absent in frame 1
    m = motion(x)
    np.testing.assert_array_equal(m[0, :, 0], [2, 3, 4, 0])
    np.testing.assert_array_equal(m[0, :, 1], [0, 0, 2, 0])


def test_motion_is_taken_on_the_model_rows():
    """The pipeline takes the stream of the frames its rows hold: a motion difference spans one
    model row (T > S: of the sub-sampled frames; T <= S: of the centred frames)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 100, 20)).astype(np.float32)
    lay = builtin_layout("kinect20")
    sub = x[:, frame_indices(100, 32)]
    j0 = (32 - 20) // 2
    img, rows = pipeline_for(lay, 32, "motion").sample(x)
    np.testing.assert_array_equal(img[:, :, j0:j0 + 20], motion(sub))
    np.testing.assert_array_equal(rows, frame_indices(100, 32))
    short = x[:, :10]
    img, _ = pipeline_for(lay, 32, "motion").sample(short)
    np.testing.assert_array_equal(img[:, 11:21, j0:j0 + 20], motion(short))  # (32 - 10) // 2
    assert not img[:, :11].any() and not img[:, 21:].any()
    img, _ = pipeline_for(lay, 32, "bone_motion").sample(x)
    np.testing.assert_allclose(img[:, :, j0:j0 + 20],
                               motion(bones(sub, column_parents(lay, 20))))


def test_joint_stream_is_the_plain_image():
    x = np.random.default_rng(4).normal(size=(3, 40, 20)).astype(np.float32)
    np.testing.assert_array_equal(pipeline_for("kinect20", 32).sample(x)[0], joint_image(x, 32))
    assert apply_stream(x, "joint", None) is x
    with pytest.raises(ConfigError, match="unknown input stream"):
        apply_stream(x, "velocity", None)
    with pytest.raises(ConfigError, match="needs the joint layout"):
        apply_stream(x, "bone", None)


# --- test-time mirroring ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["joint", "bone", "motion", "bone_motion"])
def test_image_mirror_commutes_with_every_stream(utkinect_dir, stream):
    """Mirroring the model image equals the image of the mirrored sequence (real UT-Kinect)."""
    from mans.formats.utkinect import read_joints_file

    seq = read_joints_file(utkinect_dir / "joints" / "joints_s01_e01.txt")
    x = prepare_sequence(seq, PrepConfig("authors", 1))[:, :80]  # (3, 80, 20)
    lay = builtin_layout("kinect20")
    cols = column_mirror(lay, 20)
    for input in ("image", "sequence"):
        pipeline = pipeline_for(lay, 32, stream, input=input)
        a = pipeline.sample(mirror_sequence(x, cols))[0]
        perm = torch.as_tensor(pipeline.mirror_columns())
        b = mirror_images(torch.from_numpy(pipeline.sample(x)[0])[None], perm)[0]
        np.testing.assert_allclose(b.numpy(), a, atol=1e-6)


def test_mirror_average_is_the_mean_of_both_logits():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    net.config = None
    perm = pipeline_for(CHAIN, 8).mirror_columns()  # root, left_arm, right_arm
    assert perm.tolist() == [0, 1, 2, 4, 3, 5, 6, 7]  # j0 = (8 - 3) // 2 = 2
    assert pipeline_for(CHAIN, 8, input="sequence").mirror_columns().tolist() == [0, 2, 1]
    tta = MirrorAverage(net, perm)
    x = torch.randn(5, 3, 8, 8)
    xm = x[:, :, :, perm].clone()
    xm[:, 0] *= -1
    torch.testing.assert_close(tta(x), (net(x) + net(xm)) / 2)


# --- the bone streams pick the model rows first (same image as the full-length formula) -----------


def _full_length_image(x: np.ndarray, size: int, stream: str, layout: Layout) -> np.ndarray:
    """The formula before rows were picked first: bones on all ``T`` frames, then the rows."""
    if stream in ("bone", "bone_motion"):
        x = bones(x, _per_body_parents(layout, x.shape[2]))
    if stream in ("motion", "bone_motion"):
        if x.shape[1] > size:
            x = x[:, frame_indices(x.shape[1], size)]
        x = motion(x)
    return joint_image(x, size)


def _per_body_parents(layout: Layout, columns: int) -> np.ndarray:
    v = layout.num_joints
    par = np.asarray(layout.parents, dtype=np.int64)
    return np.concatenate([np.where(par >= 0, par + b * v, -1) for b in range(columns // v)])


@pytest.mark.parametrize("t", [23, 50, 300])
@pytest.mark.parametrize("stream", ["joint", "bone", "motion", "bone_motion"])
def test_stream_image_equals_the_full_length_formula(utkinect_dir, t, stream):
    """T < S, T = S and T > S (real UT-Kinect, tiled to 300 frames, one body blanked out in some
    frames so absent joints are exercised): the image is bit-identical."""
    from mans.formats.utkinect import read_joints_file

    seq = read_joints_file(utkinect_dir / "joints" / "joints_s01_e01.txt")
    x = prepare_sequence(seq, PrepConfig("authors", 1))  # (3, T0, 20)
    x = np.concatenate([x] * (t // x.shape[1] + 1), axis=1)[:, :t].copy()
    x = np.concatenate([x, x[:, ::-1] * 0.5], axis=2)  # (3, t, 40): two bodies
    x[:, 5:9, 20:] = 0  # second body absent for four frames
    x[:, 11, 3] = 0  # one absent joint
    lay = builtin_layout("kinect20")
    image = pipeline_for(lay, 50, stream, bodies=2).sample(x)[0]
    assert np.array_equal(image, _full_length_image(x, 50, stream, lay))


def test_column_parents_is_built_once_per_layout():
    lay = builtin_layout("kinect20")
    a = column_parents(lay, 40)
    assert column_parents(lay, 40) is a
    assert not a.flags.writeable
    np.testing.assert_array_equal(a, _per_body_parents(lay, 40))
