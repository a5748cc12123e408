"""Acclaim ASF/AMC motion capture (HDM05, CMU): skeleton parsing and forward kinematics.

* ``.asf`` describes one actor's skeleton: per bone a unit ``direction`` and a ``length`` (both in
  the rest pose, global axes), an ``axis`` (the bone's local frame as Euler angles), and the
  rotational ``dof`` channels the motion file gives for it; ``:hierarchy`` lists each bone's
  children.
* ``.amc`` gives, for every frame, the root translation/rotation and each bone's dof angles.

Forward kinematics (the Acclaim convention, as in the CMU graphics lab notes): with ``C`` the
bone's axis rotation and ``M`` its motion rotation, the bone's global rotation is
``G = G_parent @ C @ M @ C^T`` and its end point is ``p = p_parent + length * G @ direction``.
Euler angles are rotations about fixed axes applied in the order written (``axis ... XYZ`` and
``dof rx ry rz`` both give ``R = Rz @ Ry @ Rx``).

Units: lengths in the files are ``inches * L`` where ``L`` is the ASF ``:units length`` value
(0.45 for HDM05 and CMU), so metres = value / L * 0.0254 (for L = 0.45: 0.056444, the factor of
the CMU mocap FAQ); real HDM05 actors come out 1.6-1.9 m tall. Coordinates stay in the Acclaim
frame: Y up, metres. Files are read as latin-1 (HDM05 headers hold a 0xFC byte).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FormatError
from ..geometry import euler_to_matrix
from ..skeleton import HDM05, Layout, Sequence

INCH = 0.0254  # metres
DEFAULT_FPS = 120.0  # AMC files carry no frame rate; HDM05 and CMU both record at 120 Hz
_AXES = "xyz"


# --- skeleton -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bone:
    """One ASF bone.

    Attributes:
        name: bone name (lower case in HDM05/CMU).
        parent: parent bone name, ``"root"`` for bones hanging from the root.
        direction: ``(3,)`` unit vector of the bone in the rest pose, global axes.
        length: bone length in file units (see :attr:`Skeleton.metres_per_unit`).
        axis: ``(3,)`` Euler angles of the bone's local frame, in degrees.
        axis_order: order of ``axis``, e.g. ``"XYZ"``.
        dof: rotational channels given by the AMC file, in file order, e.g. ``("rx", "rz")``.
    """

    name: str
    parent: str
    direction: tuple[float, float, float]
    length: float
    axis: tuple[float, float, float]
    axis_order: str
    dof: tuple[str, ...]


@dataclass(frozen=True)
class Skeleton:
    """A parsed ASF file.

    Attributes:
        name: the ``:name`` line (``VICON`` for HDM05).
        length_unit: ``:units length`` value ``L`` (file lengths are inches x L).
        angle_unit: ``"deg"`` or ``"rad"`` (``:units angle``).
        root_order: channel order of the root in the AMC, e.g. ``("tx", ..., "rz")``.
        root_axis: order of the root's pre-set orientation, e.g. ``"XYZ"``.
        root_position: ``(3,)`` pre-set root position, file units.
        root_orientation: ``(3,)`` pre-set root orientation, ``angle_unit``.
        bones: every bone, parents before children, in depth-first order of ``:hierarchy``.
        source: the file it was read from.
    """

    name: str
    length_unit: float
    angle_unit: str
    root_order: tuple[str, ...]
    root_axis: str
    root_position: tuple[float, float, float]
    root_orientation: tuple[float, float, float]
    bones: tuple[Bone, ...]
    source: str = ""

    @property
    def metres_per_unit(self) -> float:
        return INCH / self.length_unit

    @property
    def joint_names(self) -> tuple[str, ...]:
        """``("root", bone names...)``: one joint per bone end point, in :attr:`bones` order."""
        return ("root",) + tuple(b.name for b in self.bones)

    @property
    def joint_parents(self) -> tuple[int, ...]:
        index = {n: i for i, n in enumerate(self.joint_names)}
        return (-1,) + tuple(index[b.parent] for b in self.bones)

    def bone_lengths_m(self) -> np.ndarray:
        """``(B,)`` bone lengths in metres, in :attr:`bones` order."""
        return np.array([b.length for b in self.bones]) * self.metres_per_unit


def _floats(path: Path, parts: list[str], n: int, what: str, line: int) -> tuple[float, ...]:
    if len(parts) != n:
        raise FormatError(path, f"{what}: expected {n} numbers, found {len(parts)}", line)
    try:
        vals = tuple(float(p) for p in parts)
    except ValueError:
        raise FormatError(path, f"{what}: expected {n} numbers, found {' '.join(parts)[:40]!r}",
                          line) from None
    if not all(np.isfinite(vals)):
        raise FormatError(path, f"{what}: expected finite numbers", line)
    return vals


def _read_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read file: {e.strerror or e}") from None
    if b"\0" in data:
        raise FormatError(path, "binary data (NUL byte); expected a text file",
                          data[: data.index(b"\0")].count(b"\n") + 1)
    return data.decode("latin-1").split("\n")


def read_asf(path: str | Path) -> Skeleton:
    """Parse an Acclaim ``.asf`` skeleton file.

    Raises:
        FormatError: naming the line, for a missing section or field, a malformed number, an
            unsupported dof (only ``rx ry rz``), a bone without a parent, an unknown bone in
            ``:hierarchy``, or a cycle.
    """
    path = Path(path)
    lines = _read_lines(path)
    section = None
    name = ""
    units = {"length": 1.0, "angle": "deg"}
    root = {"order": ("tx", "ty", "tz", "rx", "ry", "rz"), "axis": "XYZ",
            "position": (0.0, 0.0, 0.0), "orientation": (0.0, 0.0, 0.0)}
    bones: dict[str, dict] = {}
    current: dict | None = None
    children: dict[str, list[str]] = {}
    child_line: dict[str, int] = {}
    seen_sections: set[str] = set()
    for i, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            key, *rest = line.split()
            section = key[1:].lower()
            seen_sections.add(section)
            if section == "name":
                name = " ".join(rest)
            continue
        parts = line.split()
        key = parts[0].lower()
        if section == "units":
            if key == "length":
                (units["length"],) = _floats(path, parts[1:], 1, "units length", i)
                if units["length"] <= 0:
                    raise FormatError(path, "units length must be positive", i)
            elif key == "angle":
                if len(parts) != 2 or parts[1].lower() not in ("deg", "rad"):
                    raise FormatError(path, "units angle: expected 'deg' or 'rad'", i)
                units["angle"] = parts[1].lower()
        elif section == "root":
            if key == "order":
                order = tuple(p.lower() for p in parts[1:])
                if sorted(order) != sorted(set(order)) or not set(order) <= {
                        "tx", "ty", "tz", "rx", "ry", "rz"}:
                    raise FormatError(path, "root order: expected distinct TX TY TZ RX RY RZ "
                                      "channels", i)
                root["order"] = order
            elif key == "axis":
                root["axis"] = _axis_order(path, parts[1:], i)
            elif key in ("position", "orientation"):
                root[key] = _floats(path, parts[1:], 3, f"root {key}", i)
        elif section == "bonedata":
            if key == "begin":
                if current is not None:
                    raise FormatError(path, "'begin' inside a bone; expected 'end' first", i)
                current = {"line": i, "dof": ()}
            elif key == "end":
                if current is None:
                    raise FormatError(path, "'end' without 'begin'", i)
                for field in ("name", "direction", "length", "axis"):
                    if field not in current:
                        raise FormatError(path, f"bone starting at line {current['line']} has "
                                          f"no '{field}'", i)
                if current["name"] in bones or current["name"] == "root":
                    raise FormatError(path, f"bone {current['name']!r} defined twice", i)
                bones[current["name"]] = current
                current = None
            elif current is None:
                raise FormatError(path, f"expected 'begin', found {parts[0][:20]!r}", i)
            elif key == "name":
                if len(parts) != 2:
                    raise FormatError(path, "name: expected one bone name", i)
                current["name"] = parts[1]
            elif key == "direction":
                d = np.array(_floats(path, parts[1:], 3, "direction", i))
                norm = float(np.linalg.norm(d))
                if not norm > 1e-9:
                    raise FormatError(path, "direction: expected a non-zero vector", i)
                current["direction"] = tuple(float(x) for x in d / norm)
            elif key == "length":
                (length,) = _floats(path, parts[1:], 1, "length", i)
                if length < 0:
                    raise FormatError(path, "length: expected a non-negative number", i)
                current["length"] = length
            elif key == "axis":
                current["axis"] = _floats(path, parts[1:4], 3, "axis", i)
                current["axis_order"] = _axis_order(path, parts[4:], i)
            elif key == "dof":
                dof = tuple(p.lower() for p in parts[1:])
                if not set(dof) <= {"rx", "ry", "rz"} or len(set(dof)) != len(dof):
                    raise FormatError(path, f"dof {' '.join(parts[1:])[:40]!r}: only distinct "
                                      f"rx, ry, rz channels are supported", i)
                current["dof"] = dof
            # id, limits (and their continuation lines), bodymass, cofmass: not needed for FK
        elif section == "hierarchy":
            if key in ("begin", "end"):
                continue
            parent = parts[0]
            for child in parts[1:]:
                if child in child_line:
                    raise FormatError(path, f"bone {child!r} has two parents in :hierarchy", i)
                child_line[child] = i
                children.setdefault(parent, []).append(child)
    if current is not None:
        raise FormatError(path, f"bone starting at line {current['line']} has no 'end' "
                          f"(file truncated?)")
    for needed in ("root", "bonedata", "hierarchy"):
        if needed not in seen_sections:
            raise FormatError(path, f"no :{needed} section")
    if not bones:
        raise FormatError(path, "no bones in :bonedata")
    for parent, kids in children.items():
        for kid in kids:
            if kid not in bones:
                raise FormatError(path, f":hierarchy names unknown bone {kid!r}", child_line[kid])
        if parent != "root" and parent not in bones:
            raise FormatError(path, f":hierarchy names unknown parent {parent!r}",
                              child_line[kids[0]])

    ordered: list[Bone] = []
    parent_of = {k: p for p, ks in children.items() for k in ks}
    stack = list(reversed(children.get("root", [])))  # depth-first, children in listed order
    while stack:
        kid = stack.pop()
        b = bones[kid]
        ordered.append(Bone(name=kid, parent=parent_of[kid], direction=b["direction"],
                            length=b["length"], axis=b["axis"], axis_order=b["axis_order"],
                            dof=b["dof"]))
        stack.extend(reversed(children.get(kid, [])))
    missing = [n for n in bones if n not in {b.name for b in ordered}]
    if missing:
        raise FormatError(path, f"bones not reachable from root in :hierarchy: {missing[:5]} "
                          f"(missing parent line or a cycle)")
    return Skeleton(name=name, length_unit=float(units["length"]), angle_unit=units["angle"],
                    root_order=root["order"], root_axis=root["axis"],
                    root_position=root["position"], root_orientation=root["orientation"],
                    bones=tuple(ordered), source=str(path))


def _axis_order(path: Path, parts: list[str], line: int) -> str:
    order = "".join(parts).upper()
    if len(order) != 3 or sorted(order) != ["X", "Y", "Z"]:
        raise FormatError(path, f"axis order: expected a permutation of XYZ, found "
                          f"{order[:10]!r}", line)
    return order


# --- forward kinematics ---------------------------------------------------------------------------


def forward_kinematics(skel: Skeleton, root: np.ndarray, dofs: dict[str, np.ndarray]) -> np.ndarray:
    """Joint positions of every frame.

    Args:
        skel: the skeleton.
        root: ``(T, len(skel.root_order))`` root channels as in the AMC (file units/angle unit).
        dofs: bone name -> ``(T, len(bone.dof))`` angles (angle unit) for bones with dofs.

    Returns:
        ``(T, 1 + B, 3)`` float64 metres: the root and each bone's end point, in
        :attr:`Skeleton.joint_names` order.
    """
    to_rad = np.pi / 180.0 if skel.angle_unit == "deg" else 1.0
    scale = skel.metres_per_unit
    t = root.shape[0]
    order = skel.root_order
    trans = np.zeros((t, 3))
    for k, axis in enumerate(_AXES):
        if f"t{axis}" in order:
            trans[:, k] = root[:, order.index(f"t{axis}")]
    rot_channels = [c for c in order if c.startswith("r")]
    m_root = euler_to_matrix(root[:, [order.index(c) for c in rot_channels]] * to_rad,
                             "".join(c[1] for c in rot_channels))  # (T, 3, 3)
    c_root = euler_to_matrix(np.asarray(skel.root_orientation) * to_rad, skel.root_axis)
    glob = {"root": c_root @ m_root @ c_root.T}  # bone name -> (T, 3, 3) global rotation
    pos = {"root": (np.asarray(skel.root_position) + trans) * scale}  # name -> (T, 3) metres
    for b in skel.bones:
        c = euler_to_matrix(np.asarray(b.axis) * to_rad, b.axis_order)  # (3, 3)
        if b.dof:
            m = euler_to_matrix(dofs[b.name] * to_rad, "".join(d[1] for d in b.dof))  # (T,3,3)
            local = c @ m @ c.T
            glob[b.name] = glob[b.parent] @ local
        else:
            glob[b.name] = glob[b.parent]  # C @ I @ C^T = I
        offset = glob[b.name] @ (np.asarray(b.direction) * (b.length * scale))  # (T, 3)
        pos[b.name] = pos[b.parent] + offset
    return np.stack([pos[n] for n in skel.joint_names], axis=1)


# --- layout -----------------------------------------------------------------------------------




def layout_for(skel: Skeleton) -> Layout:
    """The layout of ``skel``'s joints: the built-in ``hdm05`` when its bones and hierarchy are
    the HDM05/CMU ones, otherwise a layout ``acclaim-<hash of the hierarchy>`` (roles and torso
    copied by joint name from ``hdm05`` where the names exist)."""
    joints, parents = skel.joint_names, skel.joint_parents
    if joints == HDM05.joints and parents == HDM05.parents:
        return HDM05
    digest = hashlib.sha1(repr((joints, parents)).encode()).hexdigest()[:10]
    idx = {n: i for i, n in enumerate(joints)}
    roles = {r: idx[HDM05.joints[j]] for r, j in HDM05.roles.items() if HDM05.joints[j] in idx}
    torso = tuple(idx[HDM05.joints[j]] for j in HDM05.torso if HDM05.joints[j] in idx)
    return Layout(name=f"acclaim-{digest}", joints=joints, parents=parents, roles=roles,
                  torso=torso)


# --- motion -----------------------------------------------------------------------------------


def find_asf(amc_path: str | Path) -> Path:
    """The ASF beside ``amc_path``: the longest ``_``-separated prefix of its name with an
    ``.asf`` file (``HDM_bd_walk_001_120.amc`` -> ``HDM_bd.asf``; CMU ``01_02.amc`` ->
    ``01.asf``), else the only ``.asf`` in the folder."""
    amc_path = Path(amc_path)
    parts = amc_path.stem.split("_")
    for k in range(len(parts) - 1, 0, -1):
        cand = amc_path.with_name("_".join(parts[:k]) + ".asf")
        if cand.is_file():
            return cand
    found = sorted(amc_path.parent.glob("*.asf"))
    if len(found) == 1:
        return found[0]
    raise FormatError(amc_path, f"no skeleton file found beside it: expected e.g. "
                      f"{'_'.join(parts[:2])}.asf (HDM_<actor>.asf) in {amc_path.parent}; pass "
                      f"asf= explicitly")


def _cached_asf(path: Path) -> Skeleton:
    """:func:`read_asf`, memoised on (path, mtime, size): a dataset reads hundreds of clips per
    skeleton file, and :class:`Skeleton` is immutable."""
    try:
        st = path.stat()
    except OSError as e:
        raise FormatError(path, f"cannot read file: {e.strerror or e}") from None
    return _read_asf_memo(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _read_asf_memo(path: str, mtime_ns: int, size: int) -> Skeleton:
    return read_asf(path)


_INT_RE = re.compile(r"^[0-9]+$")


def _slots(skel: Skeleton) -> tuple[dict[str, tuple[int, int]], int]:
    """Bone (and ``root``) -> (offset, count) in a frame's row of channels; the row width."""
    slots = {"root": (0, len(skel.root_order))}
    width = len(skel.root_order)
    for b in skel.bones:
        if b.dof:
            slots[b.name] = (width, len(b.dof))
            width += len(b.dof)
    return slots, width


def read_amc_channels(path: str | Path, skel: Skeleton) -> tuple[np.ndarray, np.ndarray,
                                                                  dict[str, np.ndarray]]:
    """Parse an AMC file against ``skel``.

    Returns:
        ``frame_numbers (T,)`` int64, ``root (T, R)`` channels in ``skel.root_order`` and
        ``{bone: (T, len(dof))}`` angles, all as written (file units, ``angle_unit``; a
        ``:RADIANS`` header is honoured by converting to the ASF's unit).

    Raises:
        FormatError: no frames, a frame number that does not follow the previous one, an
            unknown or repeated bone, a bone line with the wrong number of values, a missing bone
            in a frame (files must be fully specified), a non-numeric or non-finite value.
    """
    path = Path(path)
    lines = _read_lines(path)
    slots, width = _slots(skel)
    radians = False
    first = len(lines)  # index of the first frame-number line
    for i, raw in enumerate(lines):
        line = raw.strip()
        if _INT_RE.match(line):
            first = i
            break
        if line.startswith(":RADIANS") or line.startswith(":radians"):
            radians = True
        elif line and not line.startswith(("#", ":")):
            raise FormatError(path, f"expected a frame number before bone data, found "
                              f"{line.split()[0][:20]!r}", i + 1)
    if first == len(lines):
        raise FormatError(path, "no frames: expected a frame number line followed by bone lines")
    parsed = _parse_frames_fast(lines, first, slots, width)
    if parsed is None:  # malformed somewhere: the line-by-line parser says where
        parsed = _parse_frames_slow(path, lines, first, slots, width)
    frame_numbers, values = parsed  # (T,), (T, W)
    if radians and skel.angle_unit == "deg":
        rot = [c.startswith("r") for c in skel.root_order] + [True] * (width - len(skel.root_order))
        values[:, np.array(rot, dtype=bool)] *= 180.0 / np.pi
    root = values[:, :len(skel.root_order)]
    dofs = {name: values[:, o:o + k] for name, (o, k) in slots.items() if name != "root"}
    return frame_numbers, root, dofs


def _parse_frames_fast(lines: list[str], first: int, slots: dict[str, tuple[int, int]],
                       width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Vectorised parse of a well-formed body, or None if anything is off.

    Every frame must list the bones in the order of the first frame; then the tokens of the body
    form a ``(T, 1 + bones + width)`` table whose name columns are checked all at once.
    """
    order: list[str] = []
    for raw in lines[first + 1:]:
        parts = raw.split()
        if not parts:
            continue
        if _INT_RE.match(parts[0]) or parts[0] not in slots or parts[0] in order:
            break
        order.append(parts[0])
    if len(order) != len(slots):
        return None
    name_cols, value_cols, pos = [], np.empty(width, dtype=np.int64), 1
    for name in order:
        off, k = slots[name]
        name_cols.append(pos)
        value_cols[off:off + k] = np.arange(pos + 1, pos + 1 + k)
        pos += 1 + k
    tokens = "\n".join(lines[first:]).split()
    if len(tokens) % pos:
        return None
    table = np.array(tokens, dtype=str).reshape(-1, pos)  # (T, 1 + bones + W)
    if not (table[:, name_cols] == np.array(order)).all():
        return None
    try:
        frames = table[:, 0].astype(np.int64)  # (T,)
        values = table[:, value_cols].astype(np.float64)  # (T, W)
    except ValueError:
        return None
    if (np.diff(frames) != 1).any() or not np.isfinite(values).all():
        return None
    if any(not _INT_RE.match(f) for f in table[:, 0]):  # e.g. "+3" parses but is not a frame line
        return None
    return frames, values


def _parse_frames_slow(path: Path, lines: list[str], first: int,
                       slots: dict[str, tuple[int, int]], width: int) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """Line-by-line parse that raises a :class:`FormatError` naming the first bad line."""
    frame_numbers: list[int] = []
    rows: list[np.ndarray] = []
    row = np.zeros(width)
    seen: set[str] = set()  # bones given in the current frame

    def close_frame(line: int) -> None:
        if len(seen) != len(slots):
            missing = [n for n in slots if n not in seen]
            raise FormatError(path, f"frame {frame_numbers[-1]} lacks bone(s) "
                              f"{', '.join(missing[:4])}; expected every bone in every frame",
                              line)
        rows.append(row.copy())

    for i in range(first + 1, len(lines) + 1):
        line = lines[i - 1].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            raise FormatError(path, f"header line {line[:20]!r} after the first frame", i)
        if _INT_RE.match(line):
            n = int(line)
            if frame_numbers:
                close_frame(i)
                if n != frame_numbers[-1] + 1:
                    raise FormatError(path, f"frame number {n} after {frame_numbers[-1]}; "
                                      f"expected {frame_numbers[-1] + 1}", i)
            frame_numbers.append(n)
            seen = set()
            continue
        parts = line.split()
        slot = slots.get(parts[0])
        if slot is None:
            raise FormatError(path, f"unknown bone {parts[0][:20]!r} (or a malformed frame "
                              f"number); expected a bone with dof in the ASF", i)
        off, k = slot
        if len(parts) - 1 != k:
            raise FormatError(path, f"bone {parts[0]}: expected {k} values, found "
                              f"{len(parts) - 1}", i)
        if parts[0] in seen:
            raise FormatError(path, f"bone {parts[0]} given twice in frame {frame_numbers[-1]}",
                              i)
        try:
            vals = np.array(parts[1:], dtype=np.float64)
        except ValueError:
            raise FormatError(path, f"bone {parts[0]}: expected {k} numbers, found "
                              f"{' '.join(parts[1:])[:40]!r}", i) from None
        if not np.isfinite(vals).all():
            raise FormatError(path, f"bone {parts[0]}: non-finite value; expected finite "
                              f"numbers", i)
        row[off:off + k] = vals
        seen.add(parts[0])
    close_frame(len(lines))
    return np.array(frame_numbers, dtype=np.int64), np.stack(rows)


def read_amc(path: str | Path, asf: Skeleton | str | Path | None = None,
             fps: float = DEFAULT_FPS) -> Sequence:
    """Read an AMC motion into 3D joint positions by forward kinematics.

    Args:
        path: the ``.amc`` file.
        asf: its skeleton (parsed or a path); None looks beside the file (:func:`find_asf`).
        fps: frame rate to record (AMC files do not carry one; HDM05/CMU: 120).

    Returns:
        :class:`Sequence` with joints ``(T, 1, V, 3)`` float32 in metres (Y up), ``V`` = root +
        one joint per bone end (31 for HDM05/CMU skeletons), layout ``hdm05`` (or an
        ``acclaim-*`` layout for other skeletons), name = file stem, label/subject None.
    """
    path = Path(path)
    if asf is None:
        asf = find_asf(path)
    skel = asf if isinstance(asf, Skeleton) else _cached_asf(Path(asf))
    _, root, dofs = read_amc_channels(path, skel)
    with np.errstate(over="ignore", invalid="ignore"):  # huge values are reported just below
        xyz = forward_kinematics(skel, root, dofs)  # (T, V, 3) float64 metres
    if not (np.abs(xyz) <= np.finfo(np.float32).max).all():
        raise FormatError(path, "joint positions overflow float32; root translations are "
                          "implausibly large")
    joints = xyz.astype(np.float32)[:, None]  # (T, 1, V, 3)
    return Sequence(joints=joints, layout=layout_for(skel), name=path.stem, fps=float(fps),
                    source=str(path))
