"""The action library: one small function per NTU action, returning joint angles and root motion
as functions of ``v``; time-reversed classes reuse their partner's function backwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .common import J, ease, window
from .body import (FEET, FOOT_CLEARANCE, Body, arm, arms, blend, forward_kinematics, legs,
                   pose_rotations)

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
        from ..datasets.ntu import ntu120_class_names

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


