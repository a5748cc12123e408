"""The body model of the synthetic performers: rest pose (``data/synth_body.txt``), per-subject
bone lengths, joint angles ("DOFs") -> local rotations, forward kinematics."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from ..skeleton import NTU25
from .common import J, PARENTS, V, _TAG_BODY, _rng, ease, rx, ry, rz

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
    text = resources.files("mans").joinpath("resources/synth_body.txt").read_text("utf-8")
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
