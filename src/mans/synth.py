"""``mans synth``: a procedural NTU RGB+D-format dataset, the project's built-in default data.

Each sample is one *performance* (subject, replication, action) animated once by forward
kinematics of a 25-joint Kinect v2 body and seen by three cameras, so, as in NTU RGB+D, the three
files ``S001C001...``, ``S001C002...``, ``S001C003...`` of a performance show the same motion from
-45, 0 and +45 degrees, each with its own sensor noise. File names follow NTU's
``SsssCcccPpppRrrrAaaa`` so the NTU protocols (cross-subject, cross-view) apply unchanged, and the
actions carry their real NTU-60 ids and names.

The file is organised in sections:

1. rotation and timing helpers (degrees; ``v`` is an action's normalised time in [0, 1])
2. the body model: rest pose (``data/synth_body.txt``), per-subject bone lengths, joint angles
   ("DOFs") -> local rotations, forward kinematics
3. the action library: one small function per NTU action, returning joint angles and root motion
   as functions of ``v``; time-reversed classes reuse their partner's function backwards
4. staging: durations and speed warps, grounding, placing two performers, the room and cameras
5. sensor artefacts: joint noise, inferred joints, empty frames, a spurious extra body
6. the driver :func:`write_synthetic`, which writes each file with
   :func:`mans.formats.ntu.write_skeleton` (official text layout, CRLF line endings)

Determinism: every random draw comes from a :class:`numpy.random.Generator` seeded from
``(seed, tag, ids...)`` of what it describes (a subject's body, a performance, one camera's file),
never from a shared stream, so a file's bytes depend only on ``seed`` and its own name, not on
the number of subjects requested, the file order or the number of worker processes.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from .errors import ConfigError
from .outputs import check_out_folder
from .geometry import axis_rotation
from .formats.ntu import write_skeleton
from .skeleton import NTU25

V = NTU25.num_joints  # 25
J = {name: i for i, name in enumerate(NTU25.joints)}  # joint name -> index
PARENTS = np.array(NTU25.parents)
MIN_FRAMES, MAX_FRAMES = 40, 130  # clip of every file's length
SETUP = 1
NTU60_SUBJECTS = 40

# Tags that keep the seed streams of different things apart (see the module docstring).
_TAG_BODY, _TAG_PERFORMANCE, _TAG_CAMERA = 1, 2, 3


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


@lru_cache(maxsize=1)
def xsub_train_subjects() -> tuple[int, ...]:
    """NTU-60's cross-subject training performers (package data ``ntu_protocols.yaml``, shared
    with :mod:`mans.datasets.ntu`); every other id in 1..40 is a test performer."""
    text = resources.files("mans").joinpath("data/ntu_protocols.yaml").read_text("utf-8")
    return tuple(int(i) for i in yaml.safe_load(text)["ntu60"]["protocols"]["xsub"]["train"])


# =================================================================================================
# 1. Rotation and timing helpers
# =================================================================================================


def _rot(axis: int, deg) -> np.ndarray:
    """Right-handed rotation(s) by ``deg`` degrees about coordinate ``axis`` -> ``(..., 3, 3)``."""
    return axis_rotation("xyz"[axis], np.radians(np.asarray(deg, dtype=np.float64)))


def rx(deg) -> np.ndarray:
    return _rot(0, deg)


def ry(deg) -> np.ndarray:
    return _rot(1, deg)


def rz(deg) -> np.ndarray:
    return _rot(2, deg)


def window(v: np.ndarray, a: float, b: float) -> np.ndarray:
    """Linear 0 -> 1 as ``v`` goes from ``a`` to ``b`` (clipped outside)."""
    return np.clip((v - a) / max(b - a, 1e-9), 0.0, 1.0)


def ease(x: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 (zero velocity at both ends) for ``x`` in [0, 1]."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def blend(v: np.ndarray, *keys: tuple[float, dict]) -> dict[str, np.ndarray]:
    """Key-framed pose: ``keys`` are ``(time, dofs)`` pairs sorted by time; each DOF eases between
    consecutive keys and holds before the first / after the last key. A DOF missing from a key
    takes its neutral value there. Returns ``{dof: (T,) degrees or metres}``."""
    times = np.array([t for t, _ in keys])
    names = sorted(set().union(*(k for _, k in keys)))
    seg = np.clip(np.searchsorted(times, v, side="right") - 1, 0, len(times) - 2)  # (T,)
    frac = ease((v - times[seg]) / np.maximum(times[seg + 1] - times[seg], 1e-9))
    out = {}
    for n in names:
        vals = np.array([k.get(n, NEUTRAL.get(n, 0.0)) for _, k in keys], dtype=np.float64)
        out[n] = vals[seg] + (vals[seg + 1] - vals[seg]) * frac
    return out


# =================================================================================================
# 2. The body model
# =================================================================================================

# Joint angles ("DOFs") in degrees, in the body frame (x = the performer's left, y = up,
# z = forward). Root: pitch (lean forward), roll (tilt to the left), yaw (turn left).
# Spine (at spine_mid): bend (forward), side (to the left), twist (upper body turns left).
# Neck: nod (chin down), head_turn. Per side s in {l, r}: s_sh_flex (arm raised forward),
# s_sh_abd (arm raised sideways), s_sh_twist (internal rotation: forearm towards the belly),
# s_elbow, s_wrist (flexion), s_hip_flex (thigh forward), s_hip_abd (thigh sideways), s_knee,
# s_ankle (toes up). Root translation tx, ty, tz in metres (ty: lift above the floor).
_SIDE_DOFS = ("sh_flex", "sh_abd", "sh_twist", "elbow", "wrist", "hip_flex", "hip_abd", "knee",
              "ankle")
DOFS = frozenset(("pitch", "roll", "yaw", "bend", "side", "twist", "nod", "head_turn",
                  "tx", "ty", "tz") + tuple(f"{s}_{d}" for s in "lr" for d in _SIDE_DOFS))
# Relaxed standing: arms slightly away from the body, elbows slightly bent.
NEUTRAL = {"l_sh_abd": 7.0, "r_sh_abd": 7.0, "l_elbow": 8.0, "r_elbow": 8.0}
# DOFs whose sign flips when the motion is mirrored left <-> right.
_MIRROR_NEGATE = frozenset(("roll", "yaw", "side", "twist", "head_turn", "tx"))

FOOT_CLEARANCE = 0.03  # m: height of the lowest joint (the ball of the foot) above the floor
FEET = ("left_foot", "right_foot")


@lru_cache(maxsize=1)
def rest_pose() -> tuple[np.ndarray, tuple[str, ...]]:
    """``(offsets (25, 3) m, segment name per joint)`` of the 1.75 m reference body, read from
    ``data/synth_body.txt`` (rows in ntu25 order, checked by name)."""
    text = resources.files("mans").joinpath("data/synth_body.txt").read_text("utf-8")
    rows = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    names = tuple(r[0] for r in rows)
    if names != NTU25.joints:
        raise RuntimeError("data/synth_body.txt must list the ntu25 joints in layout order")
    offsets = np.array([[float(x) for x in r[2:5]] for r in rows])
    return offsets, tuple(r[1] for r in rows)


@dataclass(frozen=True)
class Body:
    """One synthetic performer.

    Attributes:
        offsets: ``(25, 3)`` rest offset of each joint from its parent, body frame, metres; fixed
            for the subject, so bone lengths never change within (or across) their files.
        height: standing height in metres (top of the head ~ head joint + 0.1 m).
        tempo: the subject's duration multiplier (> 1: slower than average).
    """

    offsets: np.ndarray
    height: float
    tempo: float


@lru_cache(maxsize=128)
def make_body(seed: int, subject: int, partner: bool = False) -> Body:
    """The body of performer ``subject`` (or of their partner in two-person actions) for ``seed``
    (the same in all of the subject's files)."""
    return draw_body(_rng(seed, _TAG_BODY, subject, int(partner)))


def draw_body(rng: np.random.Generator) -> Body:
    """A random body: height 1.50-1.90 m and every segment group stretched by its own factor in
    [0.93, 1.07]."""
    offsets, segments = rest_pose()
    height = rng.uniform(1.50, 1.90)
    groups = sorted(set(segments))
    factor = dict(zip(groups, rng.uniform(0.93, 1.07, size=len(groups))))
    scale = np.array([factor[s] for s in segments]) * height / 1.75  # (25,)
    return Body(
        offsets=offsets * scale[:, None],
        height=float(height),
        tempo=float(rng.uniform(0.85, 1.15)),
    )


def _dof(dofs: dict, name: str, t: int) -> np.ndarray:
    """DOF ``name`` as a ``(T,)`` array (a constant or a missing DOF is broadcast)."""
    return np.broadcast_to(np.asarray(dofs.get(name, NEUTRAL.get(name, 0.0)), float), (t,))


def pose_rotations(dofs: dict[str, np.ndarray | float], t: int) -> np.ndarray:
    """Local joint rotations ``(T, 25, 3, 3)`` for the joint angles ``dofs`` (missing: neutral).

    The rotation stored at joint ``j`` turns the bones from ``j`` to its children, in the frame
    of ``j``'s parent (so the shoulder's turns the upper arm, the elbow's the forearm)."""
    unknown = set(dofs) - DOFS
    if unknown:
        raise KeyError(f"unknown DOFs {sorted(unknown)}")
    g = lambda name: _dof(dofs, name, t)  # noqa: E731
    r = np.broadcast_to(np.eye(3), (t, V, 3, 3)).copy()
    r[:, J["spine_base"]] = ry(g("yaw")) @ rx(g("pitch")) @ rz(-g("roll"))
    r[:, J["spine_mid"]] = ry(g("twist")) @ rx(g("bend")) @ rz(-g("side"))
    r[:, J["neck"]] = ry(g("head_turn")) @ rx(g("nod"))
    for s, side, sign in (("l", "left", 1.0), ("r", "right", -1.0)):
        r[:, J[f"{side}_shoulder"]] = (rx(-g(f"{s}_sh_flex")) @ rz(sign * g(f"{s}_sh_abd"))
                                       @ ry(-sign * g(f"{s}_sh_twist")))
        r[:, J[f"{side}_elbow"]] = rx(-g(f"{s}_elbow"))
        r[:, J[f"{side}_wrist"]] = rx(-g(f"{s}_wrist"))
        r[:, J[f"{side}_hip"]] = rx(-g(f"{s}_hip_flex")) @ rz(sign * g(f"{s}_hip_abd"))
        r[:, J[f"{side}_knee"]] = rx(g(f"{s}_knee"))
        r[:, J[f"{side}_ankle"]] = rx(-g(f"{s}_ankle"))
    return r


def _topological_order() -> list[int]:
    depth = [0] * V
    for j in range(V):
        p = j
        while PARENTS[p] >= 0:
            p = PARENTS[p]
            depth[j] += 1
    return sorted(range(V), key=lambda j: (depth[j], j))


_ORDER = _topological_order()


def forward_kinematics(offsets: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions ``(T, 25, 3)`` (root at the origin) and global joint frames
    ``(T, 25, 3, 3)`` from rest ``offsets (25, 3)`` and local rotations ``(T, 25, 3, 3)``;
    vectorised over frames, one step per joint in parent-first order."""
    t = local.shape[0]
    pos = np.zeros((t, V, 3))
    glob = np.empty_like(local)
    for j in _ORDER:
        p = PARENTS[j]
        if p < 0:
            glob[:, j] = local[:, j]
            continue
        pos[:, j] = pos[:, p] + glob[:, p] @ offsets[j]
        glob[:, j] = glob[:, p] @ local[:, j]
    return pos, glob


def mirror(dofs: dict) -> dict:
    """The same motion performed with the other side of the body (left <-> right)."""
    out = {}
    for k, val in dofs.items():
        k2 = {"l_": "r_", "r_": "l_"}.get(k[:2], k[:2]) + k[2:]
        out[k2] = -np.asarray(val) if k in _MIRROR_NEGATE else val
    return out


# Pose shorthands used by the actions (all degrees).


def arm(s: str, flex: float = 0.0, abd: float = 7.0, twist: float = 0.0, elbow: float = 8.0,
        wrist: float = 0.0) -> dict:
    """One arm's DOFs, ``s`` in {"l", "r"}."""
    return {f"{s}_sh_flex": flex, f"{s}_sh_abd": abd, f"{s}_sh_twist": twist,
            f"{s}_elbow": elbow, f"{s}_wrist": wrist}


def arms(**kw) -> dict:
    """Both arms in the same (mirror-symmetric) pose."""
    return {**arm("l", **kw), **arm("r", **kw)}


def legs(thigh: float = 0.0, shin: float = 0.0, pitch: float = 0.0, sides: str = "lr") -> dict:
    """Legs bent with the thighs ``thigh`` degrees forward of vertical and the shins leaning
    ``shin`` degrees forward (knees ahead of the ankles), feet flat, for a pelvis pitched forward
    by ``pitch`` degrees (which the hips compensate). Sets ``pitch`` too."""
    d = {"pitch": pitch}
    for s in sides:
        d.update({f"{s}_hip_flex": thigh + pitch, f"{s}_knee": thigh + shin, f"{s}_ankle": shin})
    return d


# =================================================================================================
# 3. The action library
# =================================================================================================


@dataclass
class Motion:
    """One performer's animation: DOF curves ``(T,)`` (or constants) and the joints whose mean
    floor position is held still (feet that stay planted); ``()`` lets the body drift with its
    own translation only. Every frame is also lowered/raised so the lowest joint touches the
    floor (then ``ty`` lifts it, for jumps)."""

    dofs: dict
    anchor: tuple[str, ...] = FEET


@dataclass
class Performance:
    """What an action function returns: one :class:`Motion` per performer and, for two, how they
    stand: either ``contact`` = (joints of performer 0, joints of performer 1, action time ``v``,
    gap in metres), which places performer 1 so the two joint groups' means meet (the gap apart
    along the line between them) at that moment, or ``separation`` = the distance between their
    roots at the start."""

    motions: list[Motion]
    contact: tuple[tuple[str, ...], tuple[str, ...], float, float] | None = None
    separation: float | None = None


@dataclass
class Ctx:
    """Input of an action function: ``v`` (T,) normalised action time (0 = first frame of the
    motion, 1 = last; holds at 0/1 during the idle lead-in/out), the performance's rng and the
    performers' bodies (for poses that must fit them, like two hands meeting)."""

    v: np.ndarray
    rng: np.random.Generator
    bodies: list[Body]


@dataclass(frozen=True)
class Action:
    """One synthetic class. ``ntu``: NTU-60 action id (file name ``Aaaa``, label ``ntu - 1``);
    ``frames``: range of the nominal duration; ``handed``: one-sided action, performed with the
    left side in :data:`P_LEFT_SIDE` of the performances; ``reverse_of``: id of the action this
    one is the time reversal of."""

    ntu: int
    bodies: int
    frames: tuple[int, int]
    fn: Callable[[Ctx], Performance] | None
    handed: bool = False
    reverse_of: int | None = None

    @property
    def code(self) -> str:
        return f"A{self.ntu:03d}"

    @property
    def name(self) -> str:
        """The official NTU action name (package data ``ntu120_classes.txt``)."""
        from .datasets.ntu import ntu120_class_names

        return ntu120_class_names()[self.ntu - 1]


ACTIONS: dict[int, Action] = {}
P_LEFT_SIDE = 0.12  # share of one-sided performances done with the left hand / foot


def action(ntu: int, *, frames: tuple[int, int], bodies: int = 1, handed: bool = False):
    """Register the decorated function as NTU action ``ntu``."""

    def deco(fn: Callable[[Ctx], Performance]) -> Callable[[Ctx], Performance]:
        ACTIONS[ntu] = Action(ntu, bodies, frames, fn, handed)
        return fn

    return deco


def reversed_action(ntu: int, *, of: int) -> None:
    """Register ``ntu`` as action ``of`` played backwards (same durations, same everything)."""
    base = ACTIONS[of]
    ACTIONS[ntu] = Action(ntu, base.bodies, base.frames, None, base.handed, reverse_of=of)


def _grounded(body: Body, dofs: dict, t: int) -> np.ndarray:
    """Joint positions ``(T, 25, 3)`` in the body frame, lowest joint on the floor."""
    pos, _ = forward_kinematics(body.offsets, pose_rotations(dofs, t))
    pos[..., 1] += FOOT_CLEARANCE - pos[..., 1].min(axis=1, keepdims=True)
    return pos


def where(body: Body, pose: dict, joints: tuple[str, ...]) -> np.ndarray:
    """``(3,)`` mean position of ``joints`` (body frame, y = height above the floor) when
    ``body`` holds ``pose``."""
    return _grounded(body, pose, 1)[0, [J[n] for n in joints]].mean(axis=0)


def fit(body: Body, pose: dict, dofs: tuple[str, ...], joints: tuple[str, ...], axis: int,
        target: float, lo: float, hi: float) -> dict:
    """``pose`` with ``dofs`` (all set to one value in [lo, hi] degrees, in 0.5 degree steps)
    chosen to bring coordinate ``axis`` of ``joints``' mean position (see :func:`where`) as
    near to ``target`` metres as possible; for poses that must suit the body, like hands that
    meet."""
    grid = np.arange(lo, hi + 0.25, 0.5)  # (G,) evaluated as G "frames" at once
    pos = _grounded(body, {**pose, **{d: grid for d in dofs}}, len(grid))
    got = pos[:, [J[n] for n in joints], axis].mean(axis=1)  # (G,)
    return {**pose, **{d: float(grid[np.argmin(np.abs(got - target))]) for d in dofs}}


def gait(dist: np.ndarray, amount: np.ndarray, stride: float) -> dict:
    """Walking DOFs: the gait phase follows the distance walked ``dist`` (T,) m, so the feet do not
    skate; ``amount`` (T,) in [0, 1] scales the swing (0 = standing)."""
    phi = 2 * np.pi * np.abs(dist) / stride
    sw = np.sin(phi)
    swing_l = np.maximum(0.0, np.cos(phi)) ** 2  # left leg moving forward
    swing_r = np.maximum(0.0, -np.cos(phi)) ** 2
    return {
        "l_hip_flex": amount * 24 * sw, "r_hip_flex": -amount * 24 * sw,
        "l_knee": amount * (6 + 50 * swing_l), "r_knee": amount * (6 + 50 * swing_r),
        "l_sh_flex": -amount * 18 * sw, "r_sh_flex": amount * 18 * sw,
        "l_elbow": 8 + amount * 14, "r_elbow": 8 + amount * 14, "pitch": amount * 4,
    }


@action(8, frames=(60, 110))  # sitting down
def sitting_down(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.1, 0.3)
    b = a + r.uniform(0.35, 0.55)
    seat = r.uniform(82, 95)  # thigh angle on the (invisible) chair
    lean = r.uniform(25, 45)  # trunk leans forward while lowering
    hands = arms(flex=r.uniform(25, 40), abd=12, elbow=r.uniform(30, 55))  # hands on the thighs
    dofs = blend(
        c.v,
        (a, {}),
        ((a + b) / 2, {**legs(thigh=seat * 0.45, shin=8, pitch=lean), **arms(flex=25, elbow=25)}),
        (b, {**legs(thigh=seat, shin=r.uniform(-5, 10), pitch=r.uniform(0, 12)), **hands}),
    )
    return Performance([Motion(dofs)])


reversed_action(9, of=8)  # standing up (from sitting position)


@action(20, frames=(70, 120))  # put on a hat/cap
def put_on_hat(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.05, 0.2)
    b = a + r.uniform(0.2, 0.3)  # hat lifted above the head
    d = b + r.uniform(0.12, 0.18)  # pulled down onto the head
    e = min(d + r.uniform(0.2, 0.3), 1.0)  # arms back down
    both = r.random() < 0.7  # otherwise with the right hand only
    hold = arms(flex=r.uniform(20, 35), abd=10, twist=r.uniform(35, 50), elbow=r.uniform(70, 90))
    above = arms(flex=r.uniform(145, 160), abd=25, twist=20, elbow=r.uniform(60, 80))
    on_head = arms(flex=r.uniform(135, 150), abd=35, twist=20, elbow=r.uniform(110, 125))
    if not both:  # the left arm stays down
        for p in (hold, above, on_head):
            p.update(arm("l"))
    dofs = blend(c.v, (0.0, hold), (a, hold), (b, above), (d, {**on_head, "nod": 12}),
                 (d + 0.04, {**on_head, "nod": 12}), (e, {}))
    return Performance([Motion(dofs)])


reversed_action(21, of=20)  # take off a hat/cap


@action(10, frames=(50, 100))  # clapping
def clapping(c: Ctx) -> Performance:
    r = c.rng
    up, down = r.uniform(0.05, 0.2), r.uniform(0.8, 0.95)
    n = int(r.integers(3, 7))  # claps
    pose = arms(flex=r.uniform(30, 45), abd=0, elbow=r.uniform(70, 85))
    # turn the forearms in until the palms touch (hand joints 2 cm either side of the midline)
    pose = fit(c.bodies[0], pose, ("l_sh_twist", "r_sh_twist"), ("left_hand",), 0, 0.02, 0, 60)
    dofs = blend(c.v, (up * 0.5, {}), (up, pose), (down, pose), (min(down + 0.1, 1.0), {}))
    opening = r.uniform(18, 30) * (0.5 - 0.5 * np.cos(2 * np.pi * n * window(c.v, up, down)))
    dofs["l_sh_twist"] = dofs["l_sh_twist"] - opening  # hands apart, then together again
    dofs["r_sh_twist"] = dofs["r_sh_twist"] - opening
    return Performance([Motion(dofs)])


@action(23, frames=(50, 110), handed=True)  # hand waving
def hand_waving(c: Ctx) -> Performance:
    r = c.rng
    up, down = r.uniform(0.05, 0.2), r.uniform(0.75, 0.92)
    n = int(r.integers(2, 6))  # waves
    raised = arm("r", flex=r.uniform(15, 40), abd=r.uniform(65, 90), twist=-r.uniform(70, 90),
                 elbow=r.uniform(75, 95))
    dofs = blend(c.v, (up * 0.3, {}), (up, raised), (down, raised), (min(down + 0.12, 1.0), {}))
    dofs["r_elbow"] = dofs["r_elbow"] + r.uniform(18, 30) * np.sin(
        2 * np.pi * n * window(c.v, up, down))
    return Performance([Motion(dofs)])


@action(27, frames=(45, 90))  # jump up
def jump_up(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.1, 0.25)  # start crouching
    b = a + r.uniform(0.15, 0.22)  # deepest crouch
    off = b + r.uniform(0.06, 0.09)  # take-off
    land = off + r.uniform(0.12, 0.18)
    rise = min(land + r.uniform(0.15, 0.25), 1.0)
    crouch = {**legs(thigh=r.uniform(45, 65), shin=r.uniform(20, 35), pitch=r.uniform(20, 35)),
              **arms(flex=-r.uniform(35, 55), elbow=20)}
    stretch = {"l_ankle": -35, "r_ankle": -35, **arms(flex=r.uniform(130, 160), abd=15)}
    landing = {**legs(thigh=35, shin=20, pitch=15), **arms(flex=40, elbow=30)}
    dofs = blend(c.v, (a, {}), (b, crouch), (off, stretch), (land, stretch), (land + 0.05, landing),
                 (rise, {}))
    x = window(c.v, off, land)
    dofs["ty"] = r.uniform(0.15, 0.35) * 4 * x * (1 - x)  # ballistic flight
    return Performance([Motion(dofs)])


@action(26, frames=(50, 110), handed=True)  # hopping (one foot jumping)
def hopping(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.05, 0.2)
    b = a + r.uniform(0.08, 0.12)  # the left foot is up
    e = r.uniform(0.78, 0.92)
    n = int(r.integers(2, 6))  # hops on the right foot
    lifted = {"l_hip_flex": r.uniform(20, 45), "l_knee": r.uniform(70, 95), **arms(abd=25)}
    dofs = blend(c.v, (a, {}), (b, lifted), (e, lifted), (min(e + 0.08, 1.0), {}))
    x = window(c.v, b, e)
    hop = np.abs(np.sin(np.pi * n * x))  # (T,) 0 on the ground, 1 at the top
    dofs["ty"] = r.uniform(0.06, 0.14) * hop
    dofs["r_knee"] = 25 * (1 - hop) * (x > 0) * (x < 1)  # cushion each landing
    dofs["r_hip_flex"] = 0.6 * dofs["r_knee"]
    dofs["tz"] = r.uniform(0.0, 0.3) * x
    return Performance([Motion(dofs, anchor=())])


@action(24, frames=(45, 90), handed=True)  # kicking something
def kicking(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.1, 0.3)
    b = a + r.uniform(0.15, 0.25)  # leg drawn back
    k = b + r.uniform(0.07, 0.11)  # kick
    e = min(k + r.uniform(0.25, 0.35), 1.0)
    back = {"r_hip_flex": -r.uniform(15, 30), "r_knee": r.uniform(60, 90), "l_knee": 10,
            "bend": 5, **arms(abd=18)}
    kick = {"r_hip_flex": r.uniform(55, 80), "r_knee": r.uniform(5, 20), "r_ankle": -25,
            "l_knee": 8, "bend": -12, **arm("l", flex=25, abd=25), **arm("r", flex=-20, abd=20)}
    dofs = blend(c.v, (a, {}), (b, back), (k, kick), (k + 0.06, kick), (e, {}))
    return Performance([Motion(dofs, anchor=("left_foot",))])


@action(6, frames=(60, 120), handed=True)  # pickup
def pickup(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.05, 0.2)
    b = a + r.uniform(0.2, 0.3)  # hand at the floor
    d = b + r.uniform(0.08, 0.15)
    e = min(d + r.uniform(0.25, 0.35), 1.0)
    squat = r.random()  # 0: bend at the waist, 1: squat down
    pitch = 80 - 45 * squat
    down = {**legs(thigh=8 + 85 * squat, shin=5 + 30 * squat, pitch=pitch),
            **arm("r", flex=pitch + r.uniform(5, 25), elbow=10),
            **arm("l", flex=pitch * 0.6, elbow=30), "nod": 25}
    carry = arm("r", flex=r.uniform(15, 35), elbow=r.uniform(60, 85), twist=20)  # object in hand
    dofs = blend(c.v, (a, {}), (b, down), (d, down), (e, carry))
    return Performance([Motion(dofs)])


@action(7, frames=(50, 100), handed=True)  # throw
def throw(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.1, 0.25)
    b = a + r.uniform(0.18, 0.28)  # wound up
    rel = b + r.uniform(0.07, 0.1)  # release
    f = rel + 0.08  # follow-through
    e = min(f + r.uniform(0.2, 0.3), 1.0)
    step = {"l_hip_flex": 22, "l_knee": 12, "r_hip_flex": -8}
    windup = {**arm("r", flex=r.uniform(140, 165), abd=40, twist=-70, elbow=r.uniform(90, 115)),
              **arm("l", flex=40), "twist": -25, "bend": -8, **step}
    release = {**arm("r", flex=r.uniform(60, 80), abd=20, elbow=15), **arm("l", flex=5),
               "twist": 20, "bend": 18, **step}
    follow = {**arm("r", flex=25, abd=-10, elbow=30), "twist": 30, "bend": 25, **step}
    dofs = blend(c.v, (a, {}), (b, windup), (rel, release), (f, follow), (e, {}))
    return Performance([Motion(dofs, anchor=("right_foot",))])


@action(43, frames=(60, 120))  # falling
def falling(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.1, 0.25)
    b = a + r.uniform(0.1, 0.18)  # knees give way
    d = b + r.uniform(0.15, 0.25)  # on the floor
    buckle = {**legs(thigh=25, shin=-30, pitch=10), **arms(flex=35, elbow=30)}
    if r.random() < 0.7:  # forward, onto the hands and chest
        down = {"pitch": r.uniform(78, 88), "l_hip_flex": 10, "r_hip_flex": 15, "l_knee": 25,
                "r_knee": 15, **arms(flex=r.uniform(120, 150), abd=25, elbow=50), "nod": -35}
    else:  # sideways, onto the left or right side
        roll = r.choice([-1.0, 1.0]) * r.uniform(75, 88)
        down = {"roll": roll, "pitch": 10, "l_hip_flex": 30, "r_hip_flex": 30, "l_knee": 45,
                "r_knee": 45, **arms(flex=60, abd=40, elbow=60), "side": -0.2 * roll}
    dofs = blend(c.v, (a, {}), (b, buckle), (d, down))
    return Performance([Motion(dofs, anchor=("left_knee", "right_knee"))])  # collapse, not topple


@action(58, frames=(60, 110), bodies=2)  # handshaking
def handshaking(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.1, 0.2)
    b = a + r.uniform(0.15, 0.22)  # hands meet
    e = b + r.uniform(0.3, 0.4)  # let go
    n = int(r.integers(2, 5))  # shakes
    reach = [{**arm("r", flex=r.uniform(45, 55), abd=-8, twist=10, elbow=r.uniform(35, 50)),
              "bend": r.uniform(3, 10)} for _ in range(2)]
    # the two right hands meet half-way between their natural heights
    meet = np.mean([where(bd, p, ("right_hand",))[1] for bd, p in zip(c.bodies, reach)])
    motions = []
    for body, pose in zip(c.bodies, reach):
        jit = r.uniform(-0.03, 0.03)
        pose = fit(body, pose, ("r_sh_flex",), ("right_hand",), 1, meet, 10, 90)
        dofs = blend(c.v, (a + jit, {}), (b, pose), (e, pose), (min(e + 0.2 + jit, 1.0), {}))
        shake = np.sin(2 * np.pi * n * window(c.v, b, e))
        dofs["r_sh_flex"] = dofs["r_sh_flex"] + 6 * shake
        dofs["r_elbow"] = dofs["r_elbow"] - 6 * shake
        motions.append(Motion(dofs))
    contact_at = b + 0.5 * (e - b) / n  # a shake-neutral instant while the hands are joined
    return Performance(motions, contact=(("right_hand",), ("right_hand",), contact_at, 0.0))


@action(52, frames=(50, 100), bodies=2)  # pushing other person
def pushing(c: Ctx) -> Performance:
    r = c.rng
    a = r.uniform(0.1, 0.25)
    b = a + r.uniform(0.15, 0.22)  # hands up, one step in
    k = b + r.uniform(0.06, 0.1)  # arms extended: contact
    e = min(k + r.uniform(0.3, 0.4), 1.0)
    step = r.uniform(0.15, 0.3)
    ready = {**arms(flex=r.uniform(65, 80), abd=15, twist=25, elbow=r.uniform(90, 110)),
             "tz": step, "r_hip_flex": 15}
    push = {**arms(flex=85, abd=12, twist=10, elbow=r.uniform(5, 20)), "tz": step,
            "bend": r.uniform(10, 20)}
    chest = ("spine_shoulder", "spine_mid")
    push = fit(c.bodies[0], push, ("l_sh_flex", "r_sh_flex"), ("left_hand", "right_hand"), 1,
               where(c.bodies[1], {}, chest)[1] + r.uniform(-0.05, 0.05), 40, 130)
    pusher = blend(c.v, (a, {}), (b, ready), (k, push), (k + 0.08, push), (e, {"tz": step}))
    back = r.uniform(0.3, 0.6)
    hit = {"bend": -r.uniform(15, 25), "tz": -0.4 * back, **arms(flex=30, abd=35, elbow=30),
           "r_hip_flex": -20, "r_knee": 30}
    pushed = blend(c.v, (k, {}), (k + 0.06, hit), (k + 0.25, {"tz": -back, "bend": 5}),
                   (min(k + 0.4, 1.0), {"tz": -back}))
    return Performance([Motion(pusher, anchor=()), Motion(pushed, anchor=())],
                       contact=(("left_hand", "right_hand"), chest, k, 0.12))


def _walk(c: Ctx, start: float, end: float, dist: float, turn: float = 0.0) -> Motion:
    """Walk ``dist`` m forward (negative: away, after turning ``turn`` degrees on the spot)."""
    x = window(c.v, start, end)
    moved = dist * ease(x)  # (T,) smooth start and stop
    amount = np.sqrt(np.sin(np.pi * x))  # swing follows the speed
    dofs = gait(moved, amount, stride=c.rng.uniform(1.2, 1.5))
    dofs["tz"] = moved
    if turn:
        dofs["yaw"] = turn * ease(window(c.v, start - 0.2, start + 0.05))
    return Motion(dofs, anchor=())


@action(59, frames=(70, 130), bodies=2)  # walking towards each other
def walking_towards(c: Ctx) -> Performance:
    r = c.rng
    d = r.uniform(1.0, 1.6, size=2)  # metres each
    motions = [_walk(c, r.uniform(0.02, 0.15), r.uniform(0.8, 0.97), d[i]) for i in range(2)]
    return Performance(motions, separation=float(d.sum() + r.uniform(0.7, 1.1)))


@action(60, frames=(70, 130), bodies=2)  # walking apart from each other
def walking_apart(c: Ctx) -> Performance:
    r = c.rng
    motions = []
    for _ in range(2):
        turn = r.choice([-1.0, 1.0]) * r.uniform(165, 195)
        motions.append(_walk(c, r.uniform(0.2, 0.3), r.uniform(0.8, 0.97),
                             -r.uniform(1.0, 1.6), turn=turn))
    return Performance(motions, separation=float(r.uniform(0.7, 1.1)))


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


# =================================================================================================
# 6. The driver
# =================================================================================================

_NAME = "S{:03d}C{:03d}P{:03d}R{:03d}A{:03d}"


def subject_ids(n: int) -> list[int]:
    """``n`` NTU performer ids, alternating between the cross-subject train and test lists
    (1, 3, 2, 6, 4, 7, ...), so that both splits get performers."""
    if not 1 <= n <= NTU60_SUBJECTS:
        raise ConfigError(f"subjects must be between 1 and {NTU60_SUBJECTS} (NTU performer ids), "
                          f"got {n}")
    train = xsub_train_subjects()
    test = [i for i in range(1, NTU60_SUBJECTS + 1) if i not in train]
    ids = [i for pair in zip(train, test) for i in pair]
    return ids[:n]


@dataclass(frozen=True)
class FileJob:
    """One file to write: everything that determines its bytes (picklable, for the workers)."""

    seed: int
    subject: int
    camera: int
    replication: int
    action: int
    setup: int = SETUP

    @property
    def name(self) -> str:
        return _NAME.format(self.setup, self.camera, self.subject, self.replication, self.action)


def record_file(job: FileJob) -> Recording:
    """The recording behind one ``.skeleton`` file (camera ``job.camera``'s view of the
    performance, with that camera's own noise and artefacts)."""
    staged = render_performance(job.seed, job.subject, job.replication, job.action, job.setup)
    rng = _rng(job.seed, _TAG_CAMERA, job.setup, job.subject, job.replication, job.action,
               job.camera)
    return sense(staged, CAMERAS[job.camera], rng)


def write_file(job: FileJob, folder: str | Path) -> dict:
    """Write ``folder/<job.name>.skeleton``; return its stats (frames, 0-body frames, frames with
    3 or more bodies, whether a spurious body appears)."""
    rec = record_file(job)
    write_skeleton(Path(folder) / f"{job.name}.skeleton", rec.joints, bodies=rec.bodies)
    return {"frames": int(rec.bodies.shape[0]), "empty": int((rec.bodies == 0).sum()),
            "three": int((rec.bodies >= 3).sum()),
            "ghost": int(rec.joints.shape[1] > ACTIONS[job.action].bodies)}


def _write_one(args: tuple[FileJob, str]) -> dict:
    return write_file(*args)


def write_synthetic(out: Path, seed: int = 0, subjects: int = 10, replications: int = 2,
                    progress: bool = True) -> dict:
    """Write the synthetic dataset into ``out``: every action of :data:`ACTIONS` x ``subjects``
    performers x cameras 1-3 x ``replications``, one ``SsssCcccPpppRrrrAaaa.skeleton`` file each
    (setup 1), and return a JSON-serialisable summary (files, classes with NTU ids and names,
    subjects per cross-subject split, cameras, frame statistics, 0-body and 3-body frames).

    Same ``seed`` -> byte-identical files. Raises ConfigError for bad arguments, or when ``out``
    already holds ``.skeleton`` files this run would not write (they would mix into the data)."""
    out = Path(out)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if not 1 <= replications <= 999:
        raise ConfigError(f"replications must be between 1 and 999, got {replications}")
    ids = subject_ids(subjects)
    jobs = [FileJob(int(seed), s, c, r, a) for s in ids for c in sorted(CAMERAS)
            for r in range(1, replications + 1) for a in sorted(ACTIONS)]
    check_out_folder(out, "output folder")
    out.mkdir(parents=True, exist_ok=True)
    planned = {f"{j.name}.skeleton" for j in jobs}
    stale = sorted(p.name for p in out.glob("*.skeleton") if p.name not in planned)
    if stale:
        raise ConfigError(f"{out} already holds {len(stale)} .skeleton files that this run would "
                          f"not write (e.g. {stale[0]}); use an empty or new folder")

    work = [(j, str(out)) for j in jobs]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cores or 1, 8)
    if workers > 1 and len(jobs) >= 64:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            it = ex.map(_write_one, work, chunksize=16)
            stats = list(_progress(it, len(work), progress))
    else:
        stats = list(_progress(map(_write_one, work), len(work), progress))

    frames = np.array([s["frames"] for s in stats])
    return {
        "out": str(out),
        "seed": int(seed),
        "files": len(jobs),
        "setup": SETUP,
        "classes": [{"label": a.ntu - 1, "action": a.ntu, "code": a.code, "name": a.name,
                     "bodies": a.bodies, **({"reverse_of": a.reverse_of} if a.reverse_of else {})}
                    for a in (ACTIONS[k] for k in sorted(ACTIONS))],
        "subjects": {"train": [s for s in ids if s in xsub_train_subjects()],
                     "test": [s for s in ids if s not in xsub_train_subjects()]},
        "cameras": [{"camera": c, "azimuth_deg": cam.azimuth, "distance_m": cam.distance,
                     "height_m": cam.height} for c, cam in sorted(CAMERAS.items())],
        "replications": replications,
        "frames": {"min": int(frames.min()), "max": int(frames.max()),
                   "mean": round(float(frames.mean()), 1), "total": int(frames.sum())},
        "zero_body_frames": int(sum(s["empty"] for s in stats)),
        "files_with_zero_body_frames": int(sum(s["empty"] > 0 for s in stats)),
        "three_body_frames": int(sum(s["three"] for s in stats)),
        "files_with_three_body_frames": int(sum(s["three"] > 0 for s in stats)),
        "files_with_spurious_body": int(sum(s["ghost"] for s in stats)),
    }


def _progress(it, total: int, enabled: bool):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, total=total, desc="synth", unit="file")
