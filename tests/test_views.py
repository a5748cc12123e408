"""Tests of mans.data.views (and bodies) against hand-computed cases and an independent,
loop-by-loop re-implementation of the authors' process_data.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers_pipeline import joint_image
from mans.data import bodies, views as T
from mans.data.pipeline import prepare_sequence
from mans.data.spec import PrepConfig
from mans.errors import ConfigError, FormatError
from mans.skeleton import NTU25, Layout, Sequence

L = NTU25


# --- synthetic bodies -----------------------------------------------------------------------------


def canonical_body(rng: np.random.Generator | None = None) -> np.ndarray:
    """(25, 3) NTU body already in the authors' canonical frame: hip centre at the origin, right
    hip on +x, torso along +z (its first principal axis exactly), feet pointing +y.

    The seven torso joints are symmetric in x and have y = 0, so the torso covariance is diagonal
    with the largest variance along z: the PCA axis is exactly (0, 0, 1)."""
    b = np.zeros((25, 3))
    b[0] = (0, 0, 0.0)  # spine base
    b[1] = (0, 0, 0.3)  # spine mid
    b[20] = (0, 0, 0.5)  # spine shoulder
    b[4], b[8] = (-0.2, 0, 0.5), (0.2, 0, 0.5)  # shoulders
    b[12], b[16] = (-0.1, 0, 0.0), (0.1, 0, 0.0)  # hips
    b[14], b[18] = (-0.1, 0, -0.8), (0.1, 0, -0.8)  # ankles
    b[15], b[19] = (-0.1, 0.1, -0.85), (0.1, 0.1, -0.85)  # feet, in front of the ankles
    others = [2, 3, 5, 6, 7, 9, 10, 11, 13, 17, 21, 22, 23, 24]
    rng = rng or np.random.default_rng(0)
    b[others] = rng.uniform(-0.5, 0.5, (len(others), 3))
    return b


def rotation(rng: np.random.Generator) -> np.ndarray:
    """A random proper rotation (det +1)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def moving_sequence(t: int, m: int, seed: int = 0) -> np.ndarray:
    """(T, M, 25, 3): canonical bodies (body m shifted along x) whose joints wobble over time; the
    first frame of each body is exactly canonical (plus the shift)."""
    rng = np.random.default_rng(seed)
    seq = np.zeros((t, m, 25, 3))
    for b in range(m):
        body = canonical_body(rng) + np.array([b * 1.0, 0, 0])
        wobble = 0.02 * rng.normal(size=(t, 25, 3))
        wobble[0] = 0
        seq[:, b] = body + wobble
    return seq


def make_seq(joints: np.ndarray, layout: str = "ntu25") -> Sequence:
    return Sequence(joints=joints.astype(np.float32), layout=layout, name="synthetic", label=0,
                    source="synthetic.skeleton")


# --- body selection -------------------------------------------------------------------------------


def test_select_bodies_drops_crowded_frames_and_packs_slots():
    j = np.zeros((5, 3, 2, 3), dtype=np.float32)
    j[0, 0] = 1  # 1 body
    j[1, :] = 2  # 3 bodies -> dropped
    j[2, 1] = 3  # 1 body in slot 1 -> packed into slot 0
    # frame 3: no body -> kept as zeros
    j[4, 0], j[4, 2] = 4, 5  # 2 bodies in slots 0 and 2 -> slots 0 and 1
    out, kept = bodies.select_bodies(j, 2)
    assert kept.tolist() == [True, False, True, True, True]
    assert out.shape == (4, 2, 2, 3)
    assert np.all(out[0, 0] == 1) and np.all(out[0, 1] == 0)
    assert np.all(out[1, 0] == 3) and np.all(out[1, 1] == 0)
    assert np.all(out[2] == 0)
    assert np.all(out[3, 0] == 4) and np.all(out[3, 1] == 5)


def test_select_bodies_pads_missing_slots():
    j = np.ones((2, 1, 4, 3))
    out, kept = bodies.select_bodies(j, 2)
    assert out.shape == (2, 2, 4, 3) and kept.all()
    assert np.all(out[:, 0] == 1) and np.all(out[:, 1] == 0)


# --- authors' view normalisation ------------------------------------------------------------------


def test_canonical_body_is_left_unchanged():
    seq = moving_sequence(12, 1)
    out = T.disambiguate_signs(T.view_authors(seq, L), L)
    np.testing.assert_allclose(out, seq, atol=1e-12)


def test_authors_frame_hand_computed():
    # A canonical body turned 90 degrees about z (now facing -x) and moved to (1, 2, 3):
    # origin must be (1, 2, 3) and R the inverse turn, R = Rz(90) (columns = new x, y, z axes).
    body = canonical_body()
    rz = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # rotates +x to +y
    moved = body @ rz.T + np.array([1.0, 2, 3])
    origin, rot = T.authors_frames(moved[None], L)
    np.testing.assert_allclose(origin[0], [1, 2, 3], atol=1e-12)
    np.testing.assert_allclose(rot[0], rz, atol=1e-12)
    # v1 points towards the right hip, v3 up the torso (our sign convention), v2 = v3 x v1.
    np.testing.assert_allclose(rot[0][:, 2], [0, 0, 1], atol=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_view_invariance_per_body(seed):
    rng = np.random.default_rng(seed)
    seq = moving_sequence(20, 2, seed)
    moved = seq.copy()
    for b in range(2):  # each body gets its own rigid motion
        moved[:, b] = seq[:, b] @ rotation(rng).T + rng.uniform(-3, 3, 3)
    a = prepare_sequence(make_seq(seq), PrepConfig("authors", 2))
    b = prepare_sequence(make_seq(moved), PrepConfig("authors", 2))
    np.testing.assert_allclose(a, b, atol=2e-5)
    # and the output is the canonical input itself (each body relative to its own hip centre)
    expect = seq - 0.5 * (seq[:1, :, 12:13] + seq[:1, :, 16:17])
    np.testing.assert_allclose(a, T.to_channels_first(expect.astype(np.float32)), atol=2e-5)


def test_principal_axis_sign_does_not_matter_for_body0():
    # Flipping v3 flips v2 = v x v3 and keeps v1 = v2 x v3: the output's y and z are negated.
    # The sign disambiguation must undo exactly that.
    rng = np.random.default_rng(7)
    seq = moving_sequence(10, 1, 5) @ rotation(rng).T
    out = T.view_authors(seq, L)
    ref = T.disambiguate_signs(out, L)
    other_sign = out * np.array([1.0, -1, -1])
    np.testing.assert_allclose(T.disambiguate_signs(other_sign, L), ref, atol=0)


def test_sign_disambiguation_flips():
    base = moving_sequence(6, 2, 3)
    # z: body 0's left shoulder below the origin in its first frame -> all z negated
    x = base.copy()
    x[..., 2] *= -1
    np.testing.assert_allclose(T.disambiguate_signs(x, L), base)
    # y: feet behind the ankles -> all y negated
    x = base.copy()
    x[..., 1] *= -1
    np.testing.assert_allclose(T.disambiguate_signs(x, L), base)
    # x: right hip left of the left hip -> all x negated
    x = base.copy()
    x[..., 0] *= -1
    np.testing.assert_allclose(T.disambiguate_signs(x, L), base)
    # only one foot backwards is enough for the y flip (authors: "or")
    x = base.copy()
    x[:, 0, 15, 1] = x[:, 0, 14, 1] - 0.1
    assert T.disambiguate_signs(x, L)[0, 0, 4, 1] == -x[0, 0, 4, 1]


def test_sign_z_uses_first_frame_with_body0():
    # frame 0 empty: the authors' frame-0 test would see z = 0 and not flip; we test frame 1
    base = moving_sequence(5, 1, 4)
    x = base.copy()
    x[..., 2] *= -1
    x[0] = 0
    out = T.disambiguate_signs(x, L)
    np.testing.assert_allclose(out[1:], base[1:])
    assert np.all(out[0] == 0) and not np.signbit(out[0]).any()


def test_absent_bodies_stay_exact_zero():
    rng = np.random.default_rng(0)
    seq = moving_sequence(8, 2, 6) @ rotation(rng).T + 5.0  # far from the origin: subtracting
    seq[2:5, 1] = 0  # body 1 leaves for three frames      # it must not touch absent slots
    seq[6] = 0  # nobody in frame 6
    for view in ("authors", "gcn", "none"):  # the 3-D views (2-D: tests/test_transforms2d.py)
        out = prepare_sequence(make_seq(seq), PrepConfig(view, 2))  # (3, 8, 50)
        absent = out[:, 2:5, 25:]
        assert np.all(absent == 0) and not np.signbit(absent).any(), view
        assert np.all(out[:, 6] == 0) and not np.signbit(out[:, 6]).any(), view
        present = np.any(out.reshape(3, 8, 2, 25) != 0, axis=(0, 3))  # (T, M)
        assert present[[0, 1, 5, 7]].all() and present[:, 0].sum() == 7, view


def test_body_first_seen_later_uses_that_frame():
    seq = moving_sequence(6, 2, 8)
    seq[:3, 1] = 0  # body 1 appears in frame 3, in canonical pose (shifted by 1 m along x)
    seq[3, 1] = seq[0, 0] + np.array([1.0, 0, 0])
    rng = np.random.default_rng(1)
    moved = seq.copy()
    moved[:, 1] = seq[:, 1] @ rotation(rng).T + 2.0
    moved[:3, 1] = 0
    out = T.view_authors(moved, L)
    hip = 0.5 * (seq[3, 1, 12] + seq[3, 1, 16])
    np.testing.assert_allclose(out[3:, 1], seq[3:, 1] - hip, atol=1e-9)


def test_three_body_frames_dropped():
    seq = moving_sequence(7, 3, 9)
    seq[:, 2] = 0
    seq[[1, 4], 2] = canonical_body()  # a third person in frames 1 and 4
    out = prepare_sequence(make_seq(seq), PrepConfig("authors", 2))
    assert out.shape == (3, 5, 50)
    ref = prepare_sequence(make_seq(seq[[0, 2, 3, 5, 6], :2]), PrepConfig("authors", 2))
    np.testing.assert_array_equal(out, ref)


def test_prepare_sequence_errors():
    with pytest.raises(FormatError, match="no frame holds a body"):
        prepare_sequence(make_seq(np.zeros((4, 1, 25, 3))), PrepConfig())
    crowded = np.ones((3, 3, 25, 3))
    with pytest.raises(FormatError, match="more than 2 bodies"):
        prepare_sequence(make_seq(crowded), PrepConfig())
    with pytest.raises(ConfigError, match="3-D"):
        prepare_sequence(make_seq(np.ones((3, 1, 25, 2))), PrepConfig("gcn", 1))
    assert prepare_sequence(make_seq(np.ones((3, 1, 25, 2))), PrepConfig("none", 1)).shape \
        == (2, 3, 25)


def test_check_view_names_missing_role():
    bare = Layout(name="bare3", joints=("a", "b", "c"), parents=(-1, 0, 1))
    with pytest.raises(ConfigError, match="left_hip"):
        T.check_view(bare, "authors")
    T.check_view(bare, "none")


def test_check_view_lists_every_missing_need_at_once():
    half = Layout(name="half3", joints=("a", "b", "c"), parents=(-1, 0, 1),
                  roles={"left_hip": 0, "right_hip": 1}, torso=(0, 1))
    with pytest.raises(ConfigError) as e:
        T.check_view(half, "authors", channels=2)
    msg = str(e.value)
    assert "\n" not in msg
    for need in ("left_shoulder", "left_ankle", "right_ankle", "left_foot", "right_foot",
                 "at least 3 torso joints (it defines 2)", "3-D coordinates"):
        assert need in msg, need
    assert "right_hip" not in msg.split("needs")[1]  # present roles are not listed
    with pytest.raises(ConfigError, match="spine_base, spine_top"):
        T.check_view(half, "gcn")
    with pytest.raises(ConfigError, match="left_shoulder, right_shoulder"):
        T.check_view(half, "2d")


def test_prep_config_roundtrip_and_validation():
    c = PrepConfig("gcn", 1)
    assert PrepConfig.from_dict({**c.to_dict(), "layout": "ntu25"}) == c
    with pytest.raises(ConfigError, match="view"):
        PrepConfig("pca", 2)
    with pytest.raises(ConfigError, match="max_bodies"):
        PrepConfig("none", 0)
    with pytest.raises(ConfigError, match="max_bodies"):
        PrepConfig.from_dict({"view": "none"})


# --- GCN-style ------------------------------------------------------------------------------------


def test_gcn_view_hand_computed():
    body = canonical_body()
    body[0] = (0, 0, -0.1)  # spine base below the hips, so the origin is not the hip centre
    rz = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    moved = body @ rz.T + np.array([1.0, 2, 3])
    o, r = T.gcn_frame(moved, L)
    np.testing.assert_allclose(o, [1, 2, 2.9])
    np.testing.assert_allclose(r, rz, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0)
    seq = np.stack([moved, moved + np.array([0.5, 0, 0])])[:, None]  # (2, 1, 25, 3), moves along x
    out = T.view_gcn(seq, L)
    np.testing.assert_allclose(out[0, 0], body - body[0], atol=1e-12)
    # one transform for the whole sequence: global motion survives (0.5 along world x = body -y)
    np.testing.assert_allclose(out[1, 0] - out[0, 0], np.tile([0, -0.5, 0], (25, 1)), atol=1e-12)


def test_gcn_is_one_rigid_transform_for_all_bodies():
    seq = moving_sequence(5, 2, 11)
    rng = np.random.default_rng(2)
    moved = seq @ rotation(rng).T + rng.uniform(-2, 2, 3)  # same motion for both bodies
    a = T.view_gcn(seq, L)
    b = T.view_gcn(moved, L)
    np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(a[0, 1, 0] - a[0, 0, 0], seq[0, 1, 0] - seq[0, 0, 0], atol=1e-9)


# --- the authors' code, loop by loop, on a real NTU file ------------------------------------------


def _parse_xyz(path: Path) -> list[list[np.ndarray]]:
    """Minimal NTU parser (independent of mans.formats): per frame, a list of (25, 3) bodies."""
    lines = path.read_text().split("\n")
    k, frames = 1, []
    for _ in range(int(lines[0])):
        nb = int(lines[k]); k += 1
        bodies = []
        for _ in range(nb):
            nj = int(lines[k + 1]); k += 2
            bodies.append(np.array([[float(v) for v in lines[k + i].split()[:3]]
                                    for i in range(nj)]))
            k += nj
        frames.append(bodies)
    return frames


def _authors_reference(frames, s: int = 50) -> np.ndarray:
    """process_data.py's per-sample computation with loops, np.linalg in place of sklearn
    (PCA sign: pointed up the torso, our documented convention). Returns (3, S, S)."""
    t = len(frames)
    f = np.zeros((3, t, 50))
    origin, rotation_ = [], []
    n_first = b_first = 0
    for n, bodies in enumerate(frames):
        if len(bodies) > 2:
            continue
        for b, joint in enumerate(bodies):
            n_first += 1
            if b == 1:
                b_first += 1
            if n_first == 1 or b_first == 1:
                origin.append((joint[12] + joint[16]) / 2)
                torso = joint[[0, 1, 4, 8, 12, 16, 20]] - origin[b]
                v3 = np.linalg.svd(torso - torso.mean(0))[2][0]
                if v3 @ torso.mean(0) < 0:
                    v3 = -v3
                v = joint[12] - joint[16]
                v2 = np.cross(v, v3)
                v1 = np.cross(v2, v3)
                rotation_.append(np.stack([v1 / np.linalg.norm(v1), v2 / np.linalg.norm(v2),
                                           v3 / np.linalg.norm(v3)], axis=1))
            for i in range(25):
                f[:, n, b * 25 + i] = np.linalg.inv(rotation_[b]) @ (joint[i] - origin[b])
    if f[2, 0, 4] < 0:
        f[2] = -f[2]
    if np.mean(f[1, :, 15]) - np.mean(f[1, :, 14]) < 0 or \
            np.mean(f[1, :, 19]) - np.mean(f[1, :, 18]) < 0:
        f[1] = -f[1]
    if np.mean(f[0, :, 16]) - np.mean(f[0, :, 12]) < 0:
        f[0] = -f[0]
    if t <= s:
        p1 = int((s - t) / 2)
        return np.pad(f, ((0, 0), (p1, s - t - p1), (0, 0)))
    return f[:, np.linspace(0, t - 1, s, dtype=int)]


@pytest.mark.parametrize("name", ["S001C003P008R002A058", "S004C002P003R001A017"])
def test_matches_authors_reference_on_real_ntu(ntu_samples, name):
    frames = _parse_xyz(ntu_samples / f"{name}.skeleton")
    m = max(len(b) for b in frames)
    joints = np.zeros((len(frames), m, 25, 3), dtype=np.float32)
    for t, bodies in enumerate(frames):
        for b, body in enumerate(bodies):
            joints[t, b] = body
    ref = _authors_reference([[b.astype(np.float32).astype(np.float64) for b in f]
                              for f in frames])
    out = joint_image(prepare_sequence(make_seq(joints), PrepConfig("authors", 2)), 50)
    assert out.shape == ref.shape == (3, 50, 50)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    assert np.abs(ref).max() > 0.1  # the comparison is not between two blank images
