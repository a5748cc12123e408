"""Acclaim ASF skeleton files (HDM05, CMU): the parsed :class:`Skeleton` of one actor.

An ``.asf`` gives per bone a unit ``direction`` and a ``length`` (both in the rest pose, global
axes), an ``axis`` (the bone's local frame as Euler angles), and the rotational ``dof`` channels the
motion file gives for it; ``:hierarchy`` lists each bone's children. Lengths are ``inches * L``
(``L`` = ``:units length``); :attr:`Skeleton.metres_per_unit` converts. Motion (``.amc``) and
forward kinematics: :mod:`mans.formats.acclaim`, :mod:`mans.formats.kinematics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import FormatError

INCH = 0.0254  # metres


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


def read_lines(path: Path) -> list[str]:
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
    lines = read_lines(path)
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
