"""Tests of mans.synth, the procedural NTU-format dataset.

The files are checked with a small strict parser written here (independent of mans.formats.ntu),
the kinematics against hand-computed poses, and the dataset-level promises (names, splits, body
counts, artefacts, determinism) on the real default configuration, written once per module.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mans import synth
from mans.errors import ConfigError
from mans.skeleton import NTU25

NAME_RE = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})\.skeleton$")
TWO_PERSON = {52, 58, 59, 60}


def parse_skeleton(path: Path) -> list[list[tuple[list[str], np.ndarray]]]:
    """Strict reader of the official text layout: per frame, a list of (info fields, joints
    (25, 12))."""
    data = path.read_bytes()
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b""), "CRLF only"
    lines = data[:-2].decode("ascii").split("\r\n")
    t = int(lines[0])
    i, frames = 1, []
    for _ in range(t):
        nb = int(lines[i])
        i += 1
        bodies = []
        for _ in range(nb):
            info = lines[i].split()
            assert len(info) == 10, info
            assert lines[i + 1] == "25"
            rows = [ln.split() for ln in lines[i + 2:i + 27]]
            assert all(len(r) == 12 for r in rows)
            bodies.append((info, np.array(rows, dtype=float)))
            i += 27
        frames.append(bodies)
    assert i == len(lines), "trailing lines after the last frame"
    return frames


def mirrored_joints() -> list[int]:
    """Index of each joint's left/right counterpart (itself on the midline)."""
    swap = {"left": "right", "right": "left"}
    return [NTU25.joints.index("_".join(swap.get(w, w) for w in n.split("_")))
            for n in NTU25.joints]


def bodies_per_frame(path: Path) -> np.ndarray:
    """Body count of every frame, skimming the line structure only (fast)."""
    lines = path.read_bytes().split(b"\r\n")
    t, i, out = int(lines[0]), 1, []
    for _ in range(t):
        nb = int(lines[i])
        out.append(nb)
        i += 1 + 27 * nb
    return np.array(out)


# --- catalogue, ids ----------------------------------------------------------------------------


def test_subject_ids_alternate_between_xsub_train_and_test():
    assert synth.subject_ids(10) == [1, 3, 2, 6, 4, 7, 5, 10, 8, 11]
    ids = synth.subject_ids(40)
    assert sorted(ids) == list(range(1, 41))
    with pytest.raises(ConfigError):
        synth.subject_ids(0)
    with pytest.raises(ConfigError):
        synth.subject_ids(41)


def test_action_catalogue_uses_ntu_ids_and_names():
    acts = synth.ACTIONS
    assert len(acts) >= 12
    # names exactly as in the NTU RGB+D 60 action list
    assert acts[8].name == "sitting down"
    assert acts[9].name == "standing up (from sitting position)"
    assert acts[20].name == "put on a hat/cap" and acts[21].name == "take off a hat/cap"
    assert acts[58].name == "handshaking" and acts[52].name == "pushing other person"
    assert acts[59].name == "walking towards each other"
    assert acts[60].name == "walking apart from each other"
    assert acts[9].reverse_of == 8 and acts[21].reverse_of == 20
    assert {a for a, x in acts.items() if x.bodies == 2} == TWO_PERSON
    assert all(x.code == f"A{a:03d}" for a, x in acts.items())


# --- kinematics --------------------------------------------------------------------------------


def test_rotation_conventions():
    # right-handed: x -> y about z, y -> z about x, z -> x about y
    np.testing.assert_allclose(synth.rz(90) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(synth.rx(90) @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(synth.ry(90) @ [0, 0, 1], [1, 0, 0], atol=1e-12)


def test_forward_kinematics_against_hand_computed_poses():
    body = synth.make_body(0, 1)
    off = body.offsets
    j = synth.J

    def fk(dofs):
        return synth.forward_kinematics(off, synth.pose_rotations(dofs, 1))[0][0]

    # left arm raised straight forward (flexion 90, no abduction, straight elbow): the elbow is
    # one upper-arm length in front of the shoulder (+z), the wrist a forearm further.
    p = fk(synth.arm("l", flex=90, abd=0, elbow=0))
    upper, fore = np.linalg.norm(off[j["left_elbow"]]), np.linalg.norm(off[j["left_wrist"]])
    np.testing.assert_allclose(p[j["left_elbow"]] - p[j["left_shoulder"]], [0, 0, upper],
                               atol=1e-12)
    np.testing.assert_allclose(p[j["left_wrist"]] - p[j["left_shoulder"]],
                               [0, 0, upper + fore], atol=1e-12)
    # right arm abducted 90: it points to the body's right (-x)
    p = fk(synth.arm("r", abd=90, elbow=0))
    d = p[j["right_elbow"]] - p[j["right_shoulder"]]
    np.testing.assert_allclose(d, [-upper, 0, 0], atol=1e-12)
    # knee flexed 90 with the thigh vertical: the shin points backwards (-z)
    p = fk({"l_knee": 90})
    shin = np.linalg.norm(off[j["left_ankle"]])
    np.testing.assert_allclose(p[j["left_ankle"]] - p[j["left_knee"]], [0, 0, -shin], atol=1e-12)
    # turning the root 90 degrees left maps the forward foot offset (+z) onto +x
    rest, turned = fk({}), fk({"yaw": 90})
    fwd = rest[j["left_foot"]] - rest[j["left_ankle"]]
    np.testing.assert_allclose(turned[j["left_foot"]] - turned[j["left_ankle"]],
                               [fwd[2], fwd[1], -fwd[0]], atol=1e-12)


def test_mirror_swaps_sides_and_negates_lateral_dofs():
    d = {"r_sh_abd": 80.0, "yaw": 10.0, "tz": 0.3, "tx": 0.2}
    m = synth.mirror(d)
    assert m["l_sh_abd"] == 80.0 and "r_sh_abd" not in m
    assert m["yaw"] == -10.0 and m["tz"] == 0.3 and m["tx"] == -0.2
    body = synth.make_body(0, 2)
    a = synth.forward_kinematics(body.offsets, synth.pose_rotations(d, 1))[0][0]
    b = synth.forward_kinematics(body.offsets, synth.pose_rotations(m, 1))[0][0]
    swap = mirrored_joints()
    # mirrored pose == original reflected in x (with left/right joints swapped), because the
    # rest pose is left/right symmetric
    np.testing.assert_allclose(b[swap] * [-1, 1, 1], a, atol=1e-9)


def test_bodies_differ_between_subjects_and_are_stable():
    bodies = [synth.make_body(0, s) for s in synth.subject_ids(10)]
    lengths = np.array([np.linalg.norm(b.offsets, axis=1) for b in bodies])  # (10, 25)
    for i in range(10):
        for k in range(i + 1, 10):
            assert np.abs(lengths[i] - lengths[k]).max() > 0.005
    heights = [b.height for b in bodies]
    assert 1.5 <= min(heights) and max(heights) <= 1.9 and np.ptp(heights) > 0.1
    # proportions vary, not only the overall size
    ratio = lengths[:, synth.J["left_knee"]] / lengths[:, synth.J["left_elbow"]]
    assert np.ptp(ratio) > 0.03
    # a subject's body depends only on (seed, subject): recomputed from scratch it is identical
    first = synth.make_body(0, 1).offsets.copy()
    synth.make_body.cache_clear()
    np.testing.assert_array_equal(synth.make_body(0, 1).offsets, first)
    assert not np.allclose(synth.make_body(1, 1).offsets, first)
    assert not np.allclose(synth.make_body(0, 1, partner=True).offsets, first)


@pytest.mark.parametrize("action", sorted(synth.ACTIONS))
def test_clean_bone_lengths_constant_within_file(action):
    p = synth.render_clean(0, 3, 2, 1, action)  # (T, M, 25, 3), camera space, no noise
    bodies = synth.performance_bodies(0, 3, synth.ACTIONS[action])
    assert p.shape[1] == len(bodies) == synth.ACTIONS[action].bodies
    assert synth.MIN_FRAMES <= p.shape[0] <= synth.MAX_FRAMES
    for m, body in enumerate(bodies):
        for j, par in NTU25.bones:
            length = np.linalg.norm(p[:, m, j] - p[:, m, par], axis=-1)  # (T,)
            np.testing.assert_allclose(length, np.linalg.norm(body.offsets[j]), atol=1e-9)
    # feet on or above the floor: the camera is 0.8 m up and level, so floor is y = -0.8
    assert p[..., 1].min() > -0.8 - 1e-9
    assert np.all(p[..., 2] > 1.0)  # in front of the camera, inside the Kinect's range


def test_reversed_pairs_are_time_reversals():
    for fwd, rev in ((8, 9), (20, 21)):
        bodies = [synth.make_body(0, 4)]
        a = synth.stage(synth.ACTIONS[fwd], bodies, np.random.default_rng(11), 0.0).pos
        b = synth.stage(synth.ACTIONS[rev], bodies, np.random.default_rng(11), 0.0).pos
        assert a.shape == b.shape
        diff = b - a[::-1]  # equal up to one constant horizontal shift (feet stay planted)
        np.testing.assert_allclose(diff, np.broadcast_to(diff[0, 0, 0], diff.shape), atol=1e-9)
        assert abs(diff[0, 0, 0, 1]) < 1e-9
    # and the direction is the one the names say, over many performances
    for s in synth.subject_ids(4):
        for rep in (1, 2):
            sit = synth.render_performance(0, s, rep, 8).pos[:, 0, synth.J["spine_base"], 1]
            stand = synth.render_performance(0, s, rep, 9).pos[:, 0, synth.J["spine_base"], 1]
            assert sit[0] - sit[-1] > 0.25 and stand[-1] - stand[0] > 0.25
            hat = synth.render_performance(0, s, rep, 20).pos[:, 0]
            head = hat[:, synth.J["head"], 1]
            hand = hat[:, synth.J["right_hand"], 1]
            top = np.argmax(hand)
            assert hand[top] > head[top]  # hands over the head in the middle
            assert 0 < top < len(hand) - 1


def test_poses_fitted_to_the_body_make_contact():
    j = synth.J
    for s in synth.subject_ids(3):
        pos = synth.render_performance(0, s, 1, 10).pos  # clapping: the palms touch
        gap = np.linalg.norm(pos[:, 0, j["left_hand"]] - pos[:, 0, j["right_hand"]], axis=-1)
        assert 0.03 < gap.min() < 0.06 and gap[0] > 0.3
        pos = synth.render_performance(0, s, 2, 52).pos  # pushing: the hands reach the chest
        hands = pos[:, 0, [j["left_hand"], j["right_hand"]]].mean(axis=1)
        chest = pos[:, 1, [j["spine_shoulder"], j["spine_mid"]]].mean(axis=1)
        assert np.linalg.norm(hands - chest, axis=-1).min() < 0.2
        pos = synth.render_performance(0, s, 1, 58).pos  # handshaking
        gap = np.linalg.norm(pos[:, 0, j["right_hand"]] - pos[:, 1, j["right_hand"]], axis=-1)
        assert gap.min() < 0.05  # the right hands meet
        assert gap[0] > 0.3 and gap[-1] > 0.3  # ... and are apart at the start and end
        pos = synth.render_performance(0, s, 1, 59).pos  # walking towards each other
        d = np.linalg.norm(pos[:, 0, 0, ::2] - pos[:, 1, 0, ::2], axis=-1)
        assert d[0] - d[-1] > 1.5
        pos = synth.render_performance(0, s, 1, 60).pos  # walking apart
        d = np.linalg.norm(pos[:, 0, 0, ::2] - pos[:, 1, 0, ::2], axis=-1)
        assert d[-1] - d[0] > 1.5


def test_body_and_camera_space_match_real_ntu_samples(ntu_samples):
    """Bone lengths and the camera-space handedness against the five real NTU files."""
    real = []
    for path in sorted(ntu_samples.glob("*.skeleton")):
        frames = parse_skeleton(path)
        x = np.stack([bodies[0][1][:, :3] for bodies in frames if bodies])  # (T, 25, 3)
        real.append([np.median(np.linalg.norm(x[:, c] - x[:, p], axis=-1)) for c, p in NTU25.bones])
        # Kinect camera space: a person facing the camera has the LEFT shoulder at smaller x
        assert np.mean(x[:, synth.J["left_shoulder"], 0] < x[:, synth.J["right_shoulder"], 0]) > 0.9
    real = np.median(real, axis=0)
    # Kinect's left and right bones differ by up to 40 % (hips); ours are symmetric
    mirror = mirrored_joints()
    bone_of = {c: i for i, (c, _) in enumerate(NTU25.bones)}
    real = 0.5 * (real + real[[bone_of[mirror[c]] for c, _ in NTU25.bones]])
    ours = np.mean([np.linalg.norm(synth.make_body(0, s).offsets[[c for c, _ in NTU25.bones]],
                                   axis=1) for s in synth.subject_ids(10)], axis=0)
    main = [i for i, (c, _) in enumerate(NTU25.bones) if "hand_tip" not in NTU25.joints[c]
            and "thumb" not in NTU25.joints[c]]  # the finger joints are the noisiest in Kinect
    np.testing.assert_allclose(ours[main], real[main], rtol=0.25)
    # the same handedness in ours: replication 1 faces camera 2
    p = synth.render_clean(0, 1, 2, 1, 10)[:, 0]
    assert np.all(p[:, synth.J["left_shoulder"], 0] < p[:, synth.J["right_shoulder"], 0])


# --- files -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_data(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "raw"
    summary = synth.write_synthetic(out, progress=False)
    return out, summary


def test_default_dataset_names_and_splits(default_data):
    out, summary = default_data
    files = sorted(p.name for p in out.iterdir())
    n_act = len(synth.ACTIONS)
    assert len(files) == summary["files"] == n_act * 10 * 3 * 2
    fields = np.array([[int(g) for g in NAME_RE.match(f).groups()] for f in files])
    setup, cam, subj, rep, act = fields.T
    assert set(setup) == {1} and set(cam) == {1, 2, 3} and set(rep) == {1, 2}
    assert set(act) == set(synth.ACTIONS)
    train = set(subj) & set(synth.xsub_train_subjects())
    assert len(train) == 5 and len(set(subj) - train) == 5
    assert summary["subjects"] == {"train": sorted(train), "test": sorted(set(subj) - train)}
    # every (subject, camera, replication, action) exactly once
    assert len({tuple(f) for f in fields}) == len(files)
    assert [c["action"] for c in summary["classes"]] == sorted(synth.ACTIONS)
    assert all(c["label"] == c["action"] - 1 for c in summary["classes"])


def test_default_dataset_body_counts_and_artefacts(default_data):
    out, summary = default_data
    zero = three = frames = 0
    for p in sorted(out.iterdir()):
        act = int(NAME_RE.match(p.name).group(5))
        nb = bodies_per_frame(p)
        frames += len(nb)
        zero += int((nb == 0).sum())
        three += int((nb == 3).sum())
        want = synth.ACTIONS[act].bodies
        # every non-empty frame holds the performers, plus at most one spurious body
        assert set(nb[nb > 0]) <= {want, want + 1}, p.name
        # at most 10 frames with a spurious body and at most 5 empty frames per file
        assert (nb == want + 1).sum() <= 10 and (nb == 0).sum() <= 5, p.name
    assert frames == summary["frames"]["total"]
    assert zero == summary["zero_body_frames"] > 0
    assert three == summary["three_body_frames"] > 0
    assert 0 < summary["files_with_zero_body_frames"] < 0.1 * summary["files"]
    assert 0 < summary["files_with_three_body_frames"] < 0.1 * summary["files"]
    assert 40 <= summary["frames"]["min"] and summary["frames"]["max"] <= 130


def test_file_format_and_projections(default_data):
    out, _ = default_data
    for name in ("S001C001P001R001A008.skeleton", "S001C003P003R002A058.skeleton"):
        frames = parse_skeleton(out / name)
        rows = np.concatenate([jt for bodies in frames for _, jt in bodies])  # (N * 25, 12)
        assert all(int(info[0]) >= 2 ** 56 for bodies in frames for info, _ in bodies)
        x, y, z = rows[:, 0], rows[:, 1], rows[:, 2]
        assert np.all((1.0 < z) & (z < 5.0))
        # pixels are a pinhole projection with Kinect v2-like intrinsics: fit and compare
        for col, ratio, centre in ((3, x / z, 256), (4, -y / z, 212)):
            slope, icpt = np.polyfit(ratio, rows[:, col], 1)
            assert 340 < slope < 390 and abs(icpt - centre) < 15
        assert np.all((0 < rows[:, 3]) & (rows[:, 3] < 512) & (0 < rows[:, 4]) & (rows[:, 4] < 424))
        assert np.all((0 < rows[:, 5]) & (rows[:, 5] < 1920))
        assert np.all((0 < rows[:, 6]) & (rows[:, 6] < 1080))


def test_noise_level_against_clean_generator(default_data):
    out, _ = default_data
    errs = []
    for act in (8, 23, 58):
        frames = parse_skeleton(out / f"S001C002P002R001A{act:03d}.skeleton")
        clean = synth.render_clean(0, 2, 2, 1, act)  # (T, M, 25, 3)
        assert len(frames) == clean.shape[0]
        for t, bodies in enumerate(frames):
            for _, jt in bodies[:clean.shape[1]]:
                # body order is shuffled per file: match each listed body to a clean one
                d = np.linalg.norm(clean[t] - jt[None, :, :3], axis=-1)  # (M, 25)
                best = d[np.argmin(np.median(d, axis=1))]
                errs.append(best)
    errs = np.concatenate(errs)
    assert 0.008 < np.median(errs) < 0.025  # ~1-2 cm per joint


def test_read_back_with_ntu_reader(default_data):
    from mans.formats.ntu import read_skeleton  # written by another module

    out, _ = default_data
    for name in ("S001C001P001R001A008.skeleton", "S001C003P003R002A058.skeleton"):
        seq = read_skeleton(out / name)
        frames = parse_skeleton(out / name)
        assert seq.layout.name == "ntu25" and seq.label == int(name[17:20]) - 1
        assert (seq.subject, seq.camera, seq.replication, seq.setup) == (
            int(name[9:12]), int(name[5:8]), int(name[13:16]), 1)
        assert seq.joints.shape[0] == len(frames) and seq.joints.shape[2:] == (25, 3)
        np.testing.assert_allclose(seq.joints[0, 0], frames[0][0][1][:, :3], atol=1e-6)


def test_deterministic_and_seed_dependent(tmp_path):
    kw = dict(subjects=2, replications=1, progress=False)
    a = synth.write_synthetic(tmp_path / "a", seed=0, **kw)
    synth.write_synthetic(tmp_path / "b", seed=0, **kw)
    synth.write_synthetic(tmp_path / "c", seed=1, **kw)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == a["files"] == len(synth.ACTIONS) * 2 * 3
    same = [(tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names]
    assert all(same)
    differ = [(tmp_path / "a" / n).read_bytes() != (tmp_path / "c" / n).read_bytes() for n in names]
    assert all(differ)
    # a file does not depend on the worker process or the other files: write one in-process
    job = synth.FileJob(seed=0, subject=3, camera=2, replication=1, action=58)
    (tmp_path / "one").mkdir()
    synth.write_file(job, tmp_path / "one")
    name = f"{job.name}.skeleton"
    assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()
    # the same performance is seen by the three cameras: equal length, different coordinates
    views = [parse_skeleton(tmp_path / "a" / f"S001C00{c}P001R001A010.skeleton") for c in (1, 2, 3)]
    assert len({len(v) for v in views}) == 1
    assert not np.allclose(views[0][5][0][1][:, :3], views[1][5][0][1][:, :3], atol=0.05)


def test_bad_arguments_and_stale_files(tmp_path):
    with pytest.raises(ConfigError):
        synth.write_synthetic(tmp_path / "x", seed=-1, progress=False)
    with pytest.raises(ConfigError):
        synth.write_synthetic(tmp_path / "x", subjects=0, progress=False)
    with pytest.raises(ConfigError):
        synth.write_synthetic(tmp_path / "x", replications=0, progress=False)
    stale = tmp_path / "y"
    stale.mkdir()
    (stale / "S002C001P001R001A001.skeleton").write_text("1\r\n0\r\n")
    with pytest.raises(ConfigError, match="S002C001P001R001A001"):
        synth.write_synthetic(stale, subjects=1, replications=1, progress=False)


def test_cli_synth(tmp_path, capsys):
    from mans.cli.commands import main

    assert main(["synth", str(tmp_path / "d"), "--subjects", "1", "--replications", "1", "-q",
                 "--seed", "3"]) == 0
    assert '"files": %d' % (3 * len(synth.ACTIONS)) in capsys.readouterr().out
    written = list((tmp_path / "d").glob("S001C00?P001R001A0??.skeleton"))
    assert len(written) == 3 * len(synth.ACTIONS)
