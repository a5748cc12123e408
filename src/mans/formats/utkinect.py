"""UTKinect-Action3D reader (Xia, Chen & Aggarwal, CVPRW 2012).

Two kinds of file:

``joints_sSS_eEE.txt``
    One line per skeleton sample, 61 whitespace-separated numbers: column 0 is the frame number
    (the RGB/depth frame index the sample belongs to; increasing, not contiguous), columns 1..60
    are 20 joints x (x, y, z) in metres, Kinect v1 camera coordinates, in the ``kinect20`` order.
    The whole file is one recording in which the subject performs all ten actions in turn.

``actionLabel.txt``
    Blocks of 11 lines: ``sSS_eEE`` and then ten ``<action>: <start> <end>`` lines, where start and
    end are frame numbers of column 0. ``NaN NaN`` marks an action that was not recorded.

Duplicate frame numbers: 6..145 rows per file repeat the frame number of the row above. They are
*not* copies: in the real data the first row of such a pair is nearer to the row before it and the
second nearer to the row after it, so they are two consecutive skeleton samples that fell into the
same RGB frame. :func:`read_joints_table` therefore keeps every row, in file order (pass
``duplicates="first"`` or ``"last"`` to keep one row per frame number instead).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..coordinates import check_coordinates
from ..errors import FormatError
from ..skeleton import KINECT20, Sequence

NUM_JOINTS = 20
COLUMNS = 1 + 3 * NUM_JOINTS  # frame number + 20 x (x, y, z)

_NAME_RE = re.compile(r"s(\d+)_e(\d+)")
_LABEL_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*:\s*(\S+)\s+(\S+)\s*$")


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read file: {e.strerror or e}") from None
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise FormatError(path, f"non-ASCII byte 0x{data[e.start]:02x}; expected plain numbers",
                          line) from None


def parse_name(name: str) -> tuple[int | None, int | None]:
    """``(subject, replication)`` from a name containing ``sSS_eEE`` (1-based), else Nones."""
    m = _NAME_RE.search(name)
    if m is None:
        return None, None
    return int(m.group(1)), int(m.group(2))


def read_joints_table(path: str | Path, duplicates: str = "keep") -> tuple[np.ndarray, np.ndarray]:
    """Read a ``joints_sSS_eEE.txt`` file.

    Args:
        path: the joints file.
        duplicates: what to do with rows repeating the previous row's frame number: ``"keep"``
            (default; they are distinct consecutive samples, see the module docstring),
            ``"first"`` or ``"last"`` (one row per frame number).

    Returns:
        ``frame_numbers`` ``(T,)`` int64 (non-decreasing) and ``joints`` ``(T, 1, 20, 3)`` float32
        in metres (one body slot).

    Raises:
        FormatError: empty file, a line without 61 numbers, a non-numeric value, a coordinate
            that is not valid (:mod:`mans.coordinates`: finite, within 100 m), a frame number
            that is negative, fractional or smaller than the one before.
    """
    path = Path(path)
    if duplicates not in ("keep", "first", "last"):
        raise ValueError(f"duplicates must be 'keep', 'first' or 'last', not {duplicates!r}")
    lines = _read_text(path).split("\n")
    line_nos: list[int] = []  # 1-based file line of each row
    tokens: list[str] = []
    for i, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue  # blank lines (e.g. the final newline) carry nothing
        if len(parts) != COLUMNS:
            raise FormatError(path, f"expected {COLUMNS} numbers (frame number + 20 joints x "
                              f"x, y, z), found {len(parts)}", i)
        line_nos.append(i)
        tokens.extend(parts)
    if not line_nos:
        raise FormatError(path, f"empty file: expected lines of {COLUMNS} numbers")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        values = None
    if values is None:  # find the offending line for the message (slow path, errors only)
        for r, i in enumerate(line_nos):
            row = tokens[r * COLUMNS:(r + 1) * COLUMNS]
            for c, tok in enumerate(row):
                try:
                    float(tok)
                except ValueError:
                    raise FormatError(path, f"column {c + 1}: expected a number, found "
                                      f"{tok[:20]!r}", i) from None
        raise FormatError(path, "expected numbers only")  # numpy and float() disagree
    table = values.reshape(len(line_nos), COLUMNS)  # (T, 61)
    xyz = table[:, 1:].reshape(-1, NUM_JOINTS, 3)  # (T, 20, 3) metres
    check_coordinates(path, xyz, 3, locate=lambda rj: (line_nos[rj[0]],
                                                      f"joint {KINECT20.joints[rj[1]]}"))
    frames_f = table[:, 0]
    wrong = (frames_f < 0) | (frames_f != np.round(frames_f)) | (frames_f > 2**53)
    if wrong.any():
        r = int(np.flatnonzero(wrong)[0])
        raise FormatError(path, f"frame number {frames_f[r]!r}: expected a non-negative integer",
                          line_nos[r])
    frames = frames_f.astype(np.int64)  # (T,)
    back = np.flatnonzero(np.diff(frames) < 0)
    if back.size:
        r = int(back[0]) + 1
        raise FormatError(path, f"frame number {frames[r]} after {frames[r - 1]}: expected "
                          f"non-decreasing frame numbers", line_nos[r])
    joints = xyz[:, None].astype(np.float32)  # (T, 1, 20, 3)

    if duplicates != "keep":
        if duplicates == "first":
            keep = np.r_[True, frames[1:] != frames[:-1]]
        else:
            keep = np.r_[frames[1:] != frames[:-1], True]
        frames, joints = frames[keep], joints[keep]
    return frames, joints


def read_joints_file(path: str | Path) -> Sequence:
    """Read a whole ``joints_sSS_eEE.txt`` recording (all ten actions, every row kept).

    Returns:
        :class:`Sequence` with joints ``(T, 1, 20, 3)`` float32 metres, layout ``kinect20``,
        name ``sSS_eEE`` (the file stem without ``joints_``), subject ``SS`` and replication
        ``EE`` (1-based, None when the name has no ``sSS_eEE``), label None, fps None (rows are
        irregularly spaced in time; use :func:`read_joints_table` for their frame numbers).
    """
    path = Path(path)
    _, joints = read_joints_table(path)
    name = path.stem[len("joints_"):] if path.stem.startswith("joints_") else path.stem
    subject, replication = parse_name(name)
    return Sequence(joints=joints, layout=KINECT20, name=name, subject=subject,
                    replication=replication, source=str(path))


def read_action_labels(path: str | Path) -> dict[str, list[tuple[str, int | None, int | None]]]:
    """Parse ``actionLabel.txt``.

    Returns:
        ``{"sSS_eEE": [(action, start, end), ...]}`` in file order; start and end are frame
        numbers (ints, as written in the file; nothing is snapped or corrected here). An entry
        written ``NaN NaN`` (an action that was not recorded) is kept as ``(action, None, None)``.

    Raises:
        FormatError: empty file, an action line before any ``sSS_eEE`` header, a malformed line,
            a non-integer boundary, a half-NaN pair, start > end, a repeated sequence or action.
    """
    path = Path(path)
    labels: dict[str, list[tuple[str, int | None, int | None]]] = {}
    current: str | None = None
    for i, raw in enumerate(_read_text(path).split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if _NAME_RE.fullmatch(line):
            if line in labels:
                raise FormatError(path, f"sequence {line!r} is listed twice", i)
            current = line
            labels[current] = []
            continue
        m = _LABEL_RE.match(line)
        if m is None:
            raise FormatError(path, f"expected 'sSS_eEE' or '<action>: <start> <end>', found "
                              f"{line[:40]!r}", i)
        if current is None:
            raise FormatError(path, "action line before the first 'sSS_eEE' header", i)
        action, a, b = m.groups()
        if any(action == x[0] for x in labels[current]):
            raise FormatError(path, f"action {action!r} listed twice for {current}", i)
        nan_a, nan_b = a.lower() == "nan", b.lower() == "nan"
        if nan_a and nan_b:
            labels[current].append((action, None, None))
            continue
        if nan_a != nan_b:
            raise FormatError(path, f"{action}: only one boundary is NaN; expected two frame "
                              f"numbers or 'NaN NaN'", i)
        if not (a.isdigit() and b.isdigit()):
            raise FormatError(path, f"{action}: expected two non-negative integer frame numbers, "
                              f"found {a[:20]!r} {b[:20]!r}", i)
        start, end = int(a), int(b)
        if start > end:
            raise FormatError(path, f"{action}: start frame {start} is after end frame {end}", i)
        labels[current].append((action, start, end))
    if not labels:
        raise FormatError(path, "empty file: expected 'sSS_eEE' blocks of action lines")
    return labels
