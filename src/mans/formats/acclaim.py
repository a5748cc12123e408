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

This module reads the motion (``.amc``); the skeleton parser is :mod:`mans.formats.asf` and the
forward kinematics :mod:`mans.formats.kinematics` (their public names are importable from here).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from ..coordinates import check_joints
from ..errors import FormatError
from ..skeleton import Sequence
from .asf import INCH, Bone, Skeleton, read_asf, read_lines  # noqa: F401  (public path kept)
from .kinematics import forward_kinematics, layout_for

DEFAULT_FPS = 120.0  # AMC files carry no frame rate; HDM05 and CMU both record at 120 Hz


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
    lines = read_lines(path)
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

    Raises:
        FormatError: as :func:`read_amc_channels`, and for a joint position that is not a valid
            coordinate (:mod:`mans.coordinates`: beyond 100 m), naming its frame.
    """
    path = Path(path)
    if asf is None:
        asf = find_asf(path)
    skel = asf if isinstance(asf, Skeleton) else _cached_asf(Path(asf))
    frame_numbers, root, dofs = read_amc_channels(path, skel)
    with np.errstate(over="ignore", invalid="ignore"):  # huge values are reported just below
        xyz = forward_kinematics(skel, root, dofs)  # (T, V, 3) float64 metres
    layout = layout_for(skel)
    joints = check_joints(path, xyz[:, None], layout, locate=lambda tmv: (  # (T, 1, V, 3)
        None, f"frame {frame_numbers[tmv[0]]}, joint {layout.joints[tmv[2]]} (forward "
              f"kinematics of the root translation and bone angles)"))
    return Sequence(joints=joints, layout=layout, name=path.stem, fps=float(fps),
                    source=str(path))
