"""The in-memory skeleton sequence and the named joint layouts.

Every reader in :mod:`mans.formats` returns a :class:`Sequence`; every step of the input pipeline
(:mod:`mans.data.pipeline`) looks joints up through the sequence's :class:`Layout`, never through
hard-coded indices, so one pipeline serves Kinect v2 (NTU), Kinect v1 (UT-Kinect), HDM05 mocap and
user layouts alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .errors import ConfigError

# Roles a layout may name. The paper's view transform needs the hips, the torso joints and the
# sign-disambiguation joints; the GCN-style normalisation needs the spine joints.
ROLES = (
    "spine_base",  # centre used by the GCN-style normalisation
    "spine_top",  # neck / shoulder centre: with spine_base gives the GCN-style vertical axis
    "left_hip",
    "right_hip",
    "left_shoulder",
    "right_shoulder",
    "left_ankle",
    "right_ankle",
    "left_foot",
    "right_foot",
)


@dataclass(frozen=True)
class Layout:
    """A named joint layout: immutable, compared by value, and carried by every
    :class:`Sequence`, store manifest (``prep.layout_def``) and checkpoint, so that no process
    needs a registry to know a user's layout.

    Attributes:
        name: e.g. ``"ntu25"``; the built-in layouts are found by name with
            :func:`builtin_layout`.
        joints: joint names, in the order of the ``V`` axis.
        parents: index of each joint's parent joint (``-1`` for the root); bones are
            ``(j, parents[j])`` for every non-root joint.
        roles: role name (see :data:`ROLES`) -> joint index. Optional roles may be absent;
            a transform that needs a missing role raises :class:`~mans.errors.ConfigError`.
        torso: joint indices whose PCA gives the paper's body axis (the authors use spine base,
            spine mid, both shoulders, both hips and the shoulder centre).
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    roles: Mapping[str, int] = field(default_factory=dict, hash=False)
    torso: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # read-only views, so that a layout shared by many sequences cannot be changed through one
        object.__setattr__(self, "joints", tuple(self.joints))
        object.__setattr__(self, "parents", tuple(self.parents))
        object.__setattr__(self, "roles", MappingProxyType(dict(self.roles)))
        object.__setattr__(self, "torso", tuple(self.torso))
        v = len(self.joints)
        if len(self.parents) != v:
            raise ConfigError(f"layout {self.name!r}: {v} joints but {len(self.parents)} parents")
        for j, p in enumerate(self.parents):
            if not (p == -1 or 0 <= p < v) or p == j:
                raise ConfigError(f"layout {self.name!r}: joint {j} has invalid parent {p}")
        for role, j in self.roles.items():
            if role not in ROLES:
                raise ConfigError(f"layout {self.name!r}: unknown role {role!r}; known: {ROLES}")
            if not 0 <= j < v:
                raise ConfigError(f"layout {self.name!r}: role {role!r} -> {j} out of range")
        if any(not 0 <= j < v for j in self.torso):
            raise ConfigError(f"layout {self.name!r}: torso index out of range")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def bones(self) -> list[tuple[int, int]]:
        """(child, parent) pairs, one per non-root joint."""
        return [(j, p) for j, p in enumerate(self.parents) if p >= 0]

    def role(self, name: str) -> int:
        """Index of the joint playing ``name``; raises ConfigError naming the layout if absent."""
        try:
            return self.roles[name]
        except KeyError:
            raise ConfigError(
                f"layout {self.name!r} does not define the joint role {name!r}, which this "
                f"transform needs; choose another view normalisation (e.g. 'none')"
            ) from None

    def mirror_permutation(self) -> np.ndarray:
        """``(V,)`` int64: the joint that takes joint ``j``'s place when the body is mirrored
        left <-> right (``j`` itself for a joint on the midline).

        Pairs come from the joint *names*: a name pairs with the name that has ``left`` and
        ``right`` (any case, e.g. ``left_hand`` / ``RightHand``) or a leading ``l`` / ``r``
        (``lhumerus`` / ``rhumerus``, ``LShoulder`` / ``RShoulder``) swapped, when that name
        exists in the layout. Raises :class:`~mans.errors.ConfigError` when no pair is found (the
        layout cannot be mirrored) or when the pairs contradict the layout's left/right roles.
        """
        index = {n: j for j, n in enumerate(self.joints)}
        perm = np.arange(len(self.joints), dtype=np.int64)
        for j, name in enumerate(self.joints):
            for cand in _mirror_names(name):
                if cand != name and cand in index:
                    perm[j] = index[cand]
                    break
        if np.all(perm == np.arange(len(perm))):
            raise ConfigError(
                f"layout {self.name!r} cannot be mirrored: none of its joint names has a left/"
                f"right partner (names such as left_hand/right_hand or lhand/rhand pair up); "
                f"turn mirroring off (data.augment.mirror=0, data.test_mirror=false)")
        if np.any(perm[perm] != np.arange(len(perm))):
            raise ConfigError(f"layout {self.name!r}: the left/right pairs of its joint names "
                              f"are not symmetric ({dict(enumerate(perm.tolist()))})")
        for side in ("hip", "shoulder", "ankle", "foot"):
            left, right = self.roles.get(f"left_{side}"), self.roles.get(f"right_{side}")
            if left is not None and right is not None and perm[left] != right:
                raise ConfigError(f"layout {self.name!r}: joint {self.joints[left]!r} (role "
                                  f"left_{side}) does not pair with {self.joints[right]!r} "
                                  f"(right_{side}) by name")
        return perm

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "joints": list(self.joints),
            "parents": list(self.parents),
            "roles": dict(self.roles),
            "torso": list(self.torso),
        }

    def __reduce__(self):  # a mappingproxy does not pickle (DataLoader workers, prepare pool)
        return (Layout.from_dict, (self.to_dict(),))

    @classmethod
    def from_dict(cls, d: dict) -> "Layout":
        return cls(
            name=str(d["name"]),
            joints=tuple(d["joints"]),
            parents=tuple(int(p) for p in d["parents"]),
            roles={k: int(v) for k, v in d.get("roles", {}).items()},
            torso=tuple(int(j) for j in d.get("torso", ())),
        )


def _mirror_names(name: str) -> list[str]:
    """Candidate names of the left/right partner of joint ``name`` (see
    :meth:`Layout.mirror_permutation`), most specific first."""
    out = []
    for a, b in (("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT")):
        if a in name:
            out.append(name.replace(a, b))
        elif b in name:
            out.append(name.replace(b, a))
    if name[:1] in ("l", "r", "L", "R"):
        swap = {"l": "r", "r": "l", "L": "R", "R": "L"}[name[0]]
        out.append(swap + name[1:])
    return out


# --- Kinect v2 / NTU RGB+D: 25 joints (NTU readme order, 0-based) --------------------------------
NTU25 = Layout(
    name="ntu25",
    joints=(
        "spine_base", "spine_mid", "neck", "head",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
        "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
    ),
    # Kinect SDK v2 hierarchy: hand tip hangs from the hand, thumb from the wrist.
    parents=(-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1,
             7, 6, 11, 10),
    roles={
        "spine_base": 0, "spine_top": 20, "left_hip": 12, "right_hip": 16,
        "left_shoulder": 4, "right_shoulder": 8, "left_ankle": 14, "right_ankle": 18,
        "left_foot": 15, "right_foot": 19,
    },
    torso=(0, 1, 4, 8, 12, 16, 20),  # authors' process_data.py: index = [0,1,4,8,12,16,20]
)

# --- Kinect v1 / UT-Kinect: 20 joints (UT-Kinect readme order, 0-based) --------------------------
KINECT20 = Layout(
    name="kinect20",
    joints=(
        "hip_center", "spine", "shoulder_center", "head",
        "left_shoulder", "left_elbow", "left_wrist", "left_hand",
        "right_shoulder", "right_elbow", "right_wrist", "right_hand",
        "left_hip", "left_knee", "left_ankle", "left_foot",
        "right_hip", "right_knee", "right_ankle", "right_foot",
    ),
    parents=(-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18),
    roles={
        "spine_base": 0, "spine_top": 2, "left_hip": 12, "right_hip": 16,
        "left_shoulder": 4, "right_shoulder": 8, "left_ankle": 14, "right_ankle": 18,
        "left_foot": 15, "right_foot": 19,
    },
    torso=(0, 1, 4, 8, 12, 16, 2),  # the NTU torso set mapped to Kinect v1 joints
)

# --- Pose estimators (2-D image key points; MediaPipe also 3-D world landmarks) -----------------
# Their trees have no spine joint, so spine_base / spine_top are absent unless the estimator has a
# mid-hip / neck key point (OpenPose). Roles are what the 2-D normalisation needs: hips, shoulders.

COCO17 = Layout(
    name="coco17",  # MS-COCO keypoints: MMPose, YOLO-pose, HRNet, PYSKL's 2-D pickles
    joints=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    roles={"left_hip": 11, "right_hip": 12, "left_shoulder": 5, "right_shoulder": 6,
           "left_ankle": 15, "right_ankle": 16},
    torso=(5, 6, 11, 12),
)

OPENPOSE25 = Layout(
    name="openpose25",  # OpenPose BODY_25
    joints=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "mid_hip",
        "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
        "left_big_toe", "left_small_toe", "left_heel",
        "right_big_toe", "right_small_toe", "right_heel",
    ),
    parents=(1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16,
             14, 19, 14, 11, 22, 11),
    roles={"spine_base": 8, "spine_top": 1, "left_hip": 12, "right_hip": 9,
           "left_shoulder": 5, "right_shoulder": 2, "left_ankle": 14, "right_ankle": 11,
           "left_foot": 19, "right_foot": 22},
    torso=(8, 1, 2, 5, 9, 12),
)

OPENPOSE18 = Layout(
    name="openpose18",  # OpenPose COCO-18 (COCO-17 reordered plus a neck)
    joints=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee",
        "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    parents=(1, -1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
    roles={"spine_top": 1, "left_hip": 11, "right_hip": 8, "left_shoulder": 5,
           "right_shoulder": 2, "left_ankle": 13, "right_ankle": 10},
    torso=(1, 2, 5, 8, 11),
)

MEDIAPIPE33 = Layout(
    name="mediapipe33",  # MediaPipe Pose (BlazePose) landmarks
    joints=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer",
        "right_eye_inner", "right_eye", "right_eye_outer", "left_ear", "right_ear",
        "mouth_left", "mouth_right", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_pinky", "right_pinky", "left_index", "right_index",
        "left_thumb", "right_thumb", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
        "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 0, 0, 11, 12, 13, 14, 15, 16, 15, 16,
             15, 16, 11, 12, 23, 24, 25, 26, 27, 28, 27, 28),
    roles={"left_hip": 23, "right_hip": 24, "left_shoulder": 11, "right_shoulder": 12,
           "left_ankle": 27, "right_ankle": 28, "left_foot": 31, "right_foot": 32},
    torso=(11, 12, 23, 24),
)


# --- HDM05 / CMU mocap (Acclaim ASF): 31 joints, defined in mans/data/hdm05_layout.txt ------------
def _load_hdm05_layout() -> Layout:
    """The HDM05 layout from ``mans/data/hdm05_layout.txt``: one joint a line, ``name parent
    [role,role|-] [torso]`` (``-`` for the root's parent)."""
    text = resources.files("mans").joinpath("resources/hdm05_layout.txt").read_text("utf-8")
    names, parent_names, roles, torso = [], [], {}, []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if not parts:
            continue
        j = len(names)
        names.append(parts[0])
        parent_names.append(parts[1])
        if len(parts) > 2 and parts[2] != "-":
            for role in parts[2].split(","):
                roles[role] = j
        if len(parts) > 3 and parts[3] == "torso":
            torso.append(j)
    parents = tuple(-1 if p == "-" else names.index(p) for p in parent_names)
    return Layout(name="hdm05", joints=tuple(names), parents=parents, roles=roles,
                  torso=tuple(torso))


HDM05 = _load_hdm05_layout()

# The layouts known by name (a dataset's, a pose estimator's). Any other layout (a user's .npz, an
# unfamiliar ASF skeleton) travels as a Layout object and is never looked up by name.
BUILTIN_LAYOUTS: Mapping[str, Layout] = MappingProxyType(
    {lay.name: lay for lay in (NTU25, KINECT20, COCO17, OPENPOSE25, OPENPOSE18, MEDIAPIPE33,
                               HDM05)})


def builtin_layout(name: str) -> Layout:
    """The built-in layout called ``name``; ConfigError listing the known names otherwise."""
    try:
        return BUILTIN_LAYOUTS[name]
    except KeyError:
        raise ConfigError(f"unknown layout {name!r}; built in: {sorted(BUILTIN_LAYOUTS)} "
                          f"(a layout of your own is given in full, e.g. joint_names + parents "
                          f"in a .npz)") from None


def as_layout(layout: "Layout | str") -> Layout:
    """``layout`` itself, or the built-in layout of that name."""
    return layout if isinstance(layout, Layout) else builtin_layout(layout)



@dataclass
class Sequence:
    """One skeleton sequence as read from a file, before any preprocessing.

    Attributes:
        joints: ``(T, M, V, C)`` float32: T frames, M body slots, V joints, C = 3 (x, y, z in
            metres) or 2 (pixels or normalised image units). Slot ``m`` of frame ``t`` holds the
            ``m``-th body listed in that frame; an absent body is all zeros. M is the largest
            number of bodies in any frame (0-body frames are all zeros).
        layout: the :class:`Layout` of the V joints (``V == layout.num_joints``); a built-in
            layout may be given by name, which is replaced by the layout itself.
        name: sample name, unique within its dataset (e.g. ``S001C001P001R001A011``).
        label: 0-based class index, or None when unknown.
        subject, camera, setup, replication: 1-based ids parsed from the name, None if unknown.
        fps: frames per second of the recording, if known.
        source: path of the file it was read from (for error messages).
        scores: ``(T, M, V)`` float32 detection confidence in ``[0, 1]`` of each joint (pose
            estimators), or None (motion capture, Kinect). A joint the estimator did not find has
            score 0 and coordinates 0.
        extra: further per-sample metadata (e.g. the extra ``labels.csv`` columns ``view``,
            ``session``), strings keyed by column name; used by user-defined protocols.
    """

    joints: np.ndarray
    layout: Layout
    name: str
    label: int | None = None
    subject: int | None = None
    camera: int | None = None
    setup: int | None = None
    replication: int | None = None
    fps: float | None = None
    source: str = ""
    scores: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layout = as_layout(self.layout)
        shape = np.shape(self.joints)
        if len(shape) == 4 and shape[2] != self.layout.num_joints:
            raise ConfigError(f"{self.source or self.name}: {shape[2]} joints per body, but "
                              f"layout {self.layout.name!r} has {self.layout.num_joints}")

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    def bodies_per_frame(self) -> np.ndarray:
        """``(T,)`` int: number of non-empty body slots in each frame."""
        if self.joints.size == 0:
            return np.zeros(self.joints.shape[0], dtype=np.int64)
        present = np.any(self.joints != 0, axis=(2, 3))  # (T, M)
        return present.sum(axis=1)

    def metadata(self) -> dict:
        """The JSON-serialisable fields other than the joints (``extra`` only when non-empty)."""
        out = {
            "name": self.name,
            "layout": self.layout.name,
            "label": self.label,
            "subject": self.subject,
            "camera": self.camera,
            "setup": self.setup,
            "replication": self.replication,
            "fps": self.fps,
            "source": self.source,
            "frames": self.num_frames,
        }
        if self.extra:
            out["extra"] = dict(self.extra)
        return out
