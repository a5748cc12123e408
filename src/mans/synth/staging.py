"""Staging (durations and speed warps, grounding, placing two performers, the room and the
cameras) and the sensor's artefacts (joint noise, inferred joints, empty frames, a spurious extra
body)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .common import J, MAX_FRAMES, MIN_FRAMES, SETUP, V, _TAG_PERFORMANCE, _rng, ry, window
from .body import (Body, _dof, arms, draw_body, forward_kinematics, legs, make_body, mirror,
                   pose_rotations)
from .actions import ACTIONS, Action, Ctx, Motion, P_LEFT_SIDE, Performance, _grounded

# =================================================================================================
# 4. Staging: timing, grounding, the pair, the room and the cameras
# =================================================================================================


@dataclass(frozen=True)
class Camera:
    """A Kinect v2 in the room. The room frame has y up, the floor at y = 0 and its origin where
    the performers stand; a camera at ``azimuth`` degrees sits at ``Ry(azimuth) (0, height,
    -distance)`` looking horizontally at the origin. Camera space is NTU's: x to the camera's
    left as seen from behind it (so to the right in the mirrored depth image), y up, z away."""

    id: int
    azimuth: float
    distance: float = 3.2
    height: float = 0.8

    @property
    def position(self) -> np.ndarray:
        return ry(self.azimuth) @ np.array([0.0, self.height, -self.distance])

    @property
    def rotation(self) -> np.ndarray:
        """``(3, 3)`` rows = camera axes in room coordinates."""
        z = -self.position * np.array([1.0, 0.0, 1.0])  # look horizontally at the origin
        z /= np.linalg.norm(z)
        x = np.cross([0.0, 1.0, 0.0], z)
        return np.stack([x, np.cross(z, x), z])

    def to_camera(self, p: np.ndarray) -> np.ndarray:
        """Room points ``(..., 3)`` -> camera space ``(..., 3)``."""
        return (p - self.position) @ self.rotation.T


# NTU: camera 1 sees 45-degree views in both replications, 2 and 3 see front and side views,
# so camera 1 is the middle one and the performer faces camera 2, then camera 3.
CAMERAS = {1: Camera(1, 0.0), 2: Camera(2, -45.0), 3: Camera(3, 45.0)}
FACING = (2, 3)  # camera faced in replications 1, 2 (then alternating)


@dataclass
class Staged:
    """A performance in the room: ``pos (T, M, 25, 3)`` joint positions in metres (room frame),
    without sensor noise."""

    pos: np.ndarray


def action_time(t: int, rng: np.random.Generator) -> np.ndarray:
    """``v (T,)``: normalised action time for ``t`` frames, with an idle lead-in / lead-out and a
    smooth, randomly uneven speed (the warp is symmetric in distribution, so a reversed class is
    not given away by its speed profile)."""
    warp = rng.uniform(-0.35, 0.35)
    start, end = rng.uniform(0.0, 0.1), rng.uniform(0.9, 1.0)
    u = np.linspace(0.0, 1.0, t)
    w = u + warp * u * (1 - u)  # monotone for |warp| < 1
    return window(w, start, end)


def perform(act: Action, bodies: list[Body], rng: np.random.Generator
            ) -> tuple[Performance, np.ndarray]:
    """Draw the length and speed of one performance of ``act`` by ``bodies`` (the performer,
    then the partner) and animate it:
    ``(performance, v (T,) action time of each frame)``. A reversed action draws exactly as its
    partner and then plays the DOF curves (and ``v``) backwards."""
    base = ACTIONS[act.reverse_of] if act.reverse_of else act
    lo, hi = base.frames
    t = int(np.clip(round(rng.uniform(lo, hi) * bodies[0].tempo), MIN_FRAMES, MAX_FRAMES))
    v = action_time(t, rng)
    perf = base.fn(Ctx(v, rng, bodies))
    if act.reverse_of is not None:
        flip = lambda d: {k: (x[::-1] if np.ndim(x) else x) for k, x in d.items()}  # noqa: E731
        perf = replace(perf, motions=[replace(m, dofs=flip(m.dofs)) for m in perf.motions])
        v = v[::-1]
    if act.handed and rng.random() < P_LEFT_SIDE:
        perf.motions[0] = replace(perf.motions[0], dofs=mirror(perf.motions[0].dofs))
    return perf, v


def animate(body: Body, motion: Motion, t: int) -> np.ndarray:
    """One performer in their own frame (facing +z at the start): ``pos (T, 25, 3)`` metres.
    Grounds every frame (lowest joint at the floor), keeps the anchor joints' mean floor
    position still, then adds the root translation ``tx, ty, tz``."""
    pos = _grounded(body, motion.dofs, t)
    if motion.anchor:
        a = pos[:, [J[n] for n in motion.anchor]][..., [0, 2]].mean(axis=1)  # (T, 2)
        pos[..., [0, 2]] -= (a - a[0])[:, None, :]
    move = np.stack([_dof(motion.dofs, k, t) for k in ("tx", "ty", "tz")], axis=-1)  # (T, 3)
    return pos + move[:, None, :]


def stage(act: Action, bodies: list[Body], rng: np.random.Generator, facing: float
          ) -> Staged:
    """Animate ``act`` for ``bodies`` (performer first, then the partner) and place it in the
    room: the performer faces the room direction ``facing`` (degrees about y, 0 = +z) give or
    take 15 degrees; a pair stands face to face across that direction."""
    perf, v = perform(act, bodies, rng)
    t = v.shape[0]
    pos = np.stack([animate(b, m, t) for b, m in zip(bodies, perf.motions)], axis=1)  # (T,M,25,3)
    if pos.shape[1] == 2:
        # Performer 1 turns round (to face performer 0) and stands along +z.
        pos[:, 1] = pos[:, 1] @ ry(180.0 + rng.uniform(-10, 10)).T
        if perf.contact is not None:
            ja, jb, when, gap = perf.contact
            f = int(np.argmin(np.abs(v - when)))  # the frame of that moment
            pa = pos[f, 0, [J[n] for n in ja]].mean(axis=0)
            pb = pos[f, 1, [J[n] for n in jb]].mean(axis=0)
            shift = pa - pb + np.array([0.0, 0.0, gap])
        else:
            shift = np.array([0.0, 0.0, perf.separation])
        shift[1] = 0.0
        pos[:, 1] += shift
        pos[..., [0, 2]] -= 0.5 * shift[[0, 2]]  # centre the pair
        facing += rng.choice([-90.0, 90.0])  # the pair is seen side-on by the faced camera
    room = ry(facing + rng.uniform(-15, 15))
    spot = np.array([rng.uniform(-0.4, 0.4), 0.0, rng.uniform(-0.5, 0.5)])
    return Staged(pos=pos @ room.T + spot)


def performance_bodies(seed: int, subject: int, act: Action) -> list[Body]:
    """The performer's body, plus their partner's for a two-person action (each subject has
    their own partner, so a partner never crosses the cross-subject split)."""
    return [make_body(seed, subject)] + ([make_body(seed, subject, partner=True)]
                                         if act.bodies == 2 else [])


def render_performance(seed: int, subject: int, replication: int, ntu_action: int,
                       setup: int = SETUP) -> Staged:
    """The clean (noise-free) performance behind the files ``S{setup}C*P{subject}R{rep}A{act}``
    in room coordinates; identical for the three cameras."""
    act = ACTIONS[ntu_action]
    rng = _rng(seed, _TAG_PERFORMANCE, setup, subject, replication, ntu_action)
    faced = CAMERAS[FACING[(replication - 1) % len(FACING)]]
    return stage(act, performance_bodies(seed, subject, act), rng, faced.azimuth + 180.0)


def render_clean(seed: int, subject: int, camera: int, replication: int, ntu_action: int,
                 setup: int = SETUP) -> np.ndarray:
    """Noise-free camera-space joints ``(T, M, 25, 3)`` of one file (for tests and checks)."""
    staged = render_performance(seed, subject, replication, ntu_action, setup)
    return CAMERAS[camera].to_camera(staged.pos)


# =================================================================================================
# 5. Sensor artefacts
# =================================================================================================

# Joints Kinect most often only infers (hands, feet and their ends), with larger errors.
_DISTAL = tuple(J[n] for n in ("left_wrist", "left_hand", "left_hand_tip", "left_thumb",
                               "right_wrist", "right_hand", "right_hand_tip", "right_thumb",
                               "left_ankle", "left_foot", "right_ankle", "right_foot"))
P_EMPTY_FRAMES = 0.05  # files with a few 0-body frames at the start or end
P_SPURIOUS_BODY = 0.06  # files with an extra, spurious body in a few frames


@dataclass
class Recording:
    """What one Kinect reports: ``joints (T, M, 25, 3)`` camera-space metres and ``bodies (T,)``
    the number of bodies listed in each frame (frame ``t`` lists slots ``0 .. bodies[t] - 1``;
    the performers come first, in random order, then a spurious body if any)."""

    joints: np.ndarray
    bodies: np.ndarray


def _ghost(rng: np.random.Generator, t: int) -> tuple[np.ndarray, np.ndarray]:
    """A spurious body (Kinect mistaking furniture or a passer-by for a person): a crumpled,
    very noisy skeleton at a random spot in camera space, ``(T, 25, 3)``, and the ``(T,)`` mask of
    the short run of frames it is reported in."""
    dofs = {"pitch": rng.uniform(-40, 40), "roll": rng.uniform(-40, 40),
            **legs(thigh=rng.uniform(0, 90), shin=rng.uniform(0, 40)),
            **arms(flex=rng.uniform(0, 90), elbow=rng.uniform(0, 90))}
    pos, _ = forward_kinematics(draw_body(rng).offsets, pose_rotations(dofs, 1))
    where = np.array([rng.uniform(-1.5, 1.5), rng.uniform(-0.8, 0.2), rng.uniform(2.5, 4.5)])
    xyz = pos + where + rng.normal(0, 0.05, size=(t, V, 3))
    n = int(rng.integers(2, 11))
    start = int(rng.integers(0, max(t - n, 1)))
    present = np.zeros(t, bool)
    present[start:start + n] = True
    return xyz, present


def sense(staged: Staged, camera: Camera, rng: np.random.Generator) -> Recording:
    """What one Kinect reports for a staged performance: camera-space joints with Gaussian noise
    (sigma 6-12 mm per coordinate, per file), short runs of frames in which a hand or foot joint
    is only inferred (3x the noise), the performers listed in random order, sometimes a few
    empty frames at the start or end and sometimes a spurious extra body in a few frames."""
    t, m = staged.pos.shape[:2]
    sigma = rng.uniform(0.006, 0.012)
    slots = []
    for b in rng.permutation(m):
        xyz = camera.to_camera(staged.pos[:, b])  # (T, 25, 3)
        scale = np.full((t, V), sigma)
        for _ in range(rng.poisson(2.0)):  # runs of inferred joints
            j, n = rng.choice(_DISTAL), int(rng.integers(3, 16))
            s0 = int(rng.integers(0, t))
            scale[s0:s0 + n, j] = 3 * sigma
        slots.append(xyz + rng.normal(0.0, 1.0, size=xyz.shape) * scale[..., None])
    bodies = np.full(t, m)
    if rng.random() < P_SPURIOUS_BODY:
        xyz, present = _ghost(rng, t)
        slots.append(xyz * present[:, None, None])
        bodies += present
    if rng.random() < P_EMPTY_FRAMES:
        n = int(rng.integers(1, 6))
        gone = slice(0, n) if rng.random() < 0.5 else slice(t - n, t)
        bodies[gone] = 0
    joints = np.stack(slots, axis=1)  # (T, M', 25, 3)
    joints[np.arange(joints.shape[1])[None, :] >= bodies[:, None]] = 0.0  # unlisted slots
    return Recording(joints=joints, bodies=bodies)


