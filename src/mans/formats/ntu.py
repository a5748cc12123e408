"""Reader for NTU RGB+D / NTU RGB+D 120 ``.skeleton`` files (Kinect v2, 25 joints); the writer is
:mod:`mans.formats.ntu_writer` (``write_skeleton`` is importable from here too).

The text format (one sample per file, CRLF line ends in the official release, LF accepted)::

    T                                   number of frames
    per frame:
      B                                 number of bodies listed in this frame (0, 1, 2, ...)
      per body:
        bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
            handRightState isRestricted leanX leanY trackingState          (10 fields)
        25                              number of joints
        25 lines: x y z depthX depthY colorX colorY
                  orientationW orientationX orientationY orientationZ trackingState  (12 fields)

x, y, z are camera-space metres; the reader keeps only those. The other 9 joint fields and the 10
body-info fields are checked for their count and for holding only characters of decimal numbers
(digits, ``. + - e E``), but not converted, because converting them would cost 4x the time for
values nothing downstream uses.

Two parsers give identical results:

* ``_parse_fast`` handles files laid out like the official release (fields separated by single
  spaces, counts alone on their lines, LF or CRLF, no blank lines inside). It walks only the
  structural lines (frame/body/joint counts) in Python; everything per joint line is whole-array
  NumPy: field counts per line, the positions of x, y and z, and their conversion by
  :func:`mans.formats.decimals.parse_decimals` (exact; its speed against ``float()`` is in docs/performance.md). It
  answers ``None`` at the first sign of anything unusual.
* ``_parse_checked`` is the line-by-line reference: it accepts any whitespace and raises
  :class:`~mans.errors.FormatError` naming the 1-based line and what was expected. It runs only
  when the fast parser declined, i.e. for odd or broken files.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..coordinates import all_valid, coordinate_bound, value_problem
from ..errors import FormatError
from ..skeleton import NTU25, Sequence
from .decimals import WIDTH, parse_decimals
from .ntu_writer import write_skeleton  # noqa: F401  (the writer's public path, kept here)

NUM_JOINTS = 25
BODY_INFO_FIELDS = 10
JOINT_FIELDS = 12
FPS = 30.0  # Kinect v2 skeleton stream
JOINT_FIELD_NAMES = ("x", "y", "z", "depthX", "depthY", "colorX", "colorY", "orientationW",
                     "orientationX", "orientationY", "orientationZ", "trackingState")

_NAME_RE = re.compile(r"S([0-9]{3})C([0-9]{3})P([0-9]{3})R([0-9]{3})A([0-9]{3})")  # ASCII digits
_NUMBER_CHARS = b"0123456789.+-eE"
_MAX_COUNT_DIGITS = 9  # counts beyond 10**9 are corrupt (and int() refuses > 4300 digits)
_LINE_WINDOW = 48  # x, y and z must end within a joint line's first 48 bytes for the fast path
# The coordinate bound (100 m) and the rest of the rule for a valid x/y/z are
# mans.coordinates' (one rule for every reader); read_skeleton(max_coord_m=...) overrides it.


# --- sample names --------------------------------------------------------------------------------


def parse_sample_name(name: str) -> dict[str, int] | None:
    """Ids in an NTU sample name ``SsssCcccPpppRrrrAaaa`` (e.g. ``S001C002P003R002A013``).

    Returns ``{"setup", "camera", "subject", "replication", "action"}`` (1-based ints), or None
    when ``name`` does not match the pattern exactly or an id is 0.
    """
    m = _NAME_RE.fullmatch(name)
    if m is None:
        return None
    setup, camera, subject, replication, action = (int(g) for g in m.groups())
    if min(setup, camera, subject, replication, action) < 1:
        return None
    return {"setup": setup, "camera": camera, "subject": subject, "replication": replication,
            "action": action}


# --- reading -------------------------------------------------------------------------------------


def read_skeleton(path: str | Path, *, max_coord_m: float | None = None) -> Sequence:
    """Read one NTU ``.skeleton`` file.

    ``max_coord_m`` bounds ``|x|``, ``|y|``, ``|z|`` (metres; None: the bound of 3-D coordinates,
    :func:`mans.coordinates.coordinate_bound`, 100 m unless ``$MANS_MAX_COORD_M`` says
    otherwise): a file with a larger coordinate is refused at its line.

    Returns:
        A :class:`Sequence` with ``joints`` float32 ``(T, M, 25, 3)`` (x, y, z in metres, camera
        space), where ``M = max(1, most bodies listed in any frame)``: slot ``m`` of frame ``t`` is
        the ``m``-th body listed in that frame and absent bodies are zeros. A file whose frames
        list no body at all (NTU's "missing skeleton" samples) still gets one all-zero slot, so
        every sequence has ``M >= 1``. Layout ``ntu25``, fps 30. ``name`` is the file stem; setup,
        camera, subject, replication and ``label = action - 1`` come from it when it matches
        ``SsssCcccPpppRrrrAaaa``, else they are None.

    Raises:
        FormatError: naming the file and 1-based line, for an empty or truncated file, a
            malformed count, a wrong field or joint count, a non-numeric field, a non-finite
            x/y/z (or one beyond float32 range or the coordinate bound), or data after the last
            frame.
    """
    path = Path(path)
    bound = coordinate_bound(3) if max_coord_m is None else float(max_coord_m)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read file: {e.strerror or e}") from None

    parsed = _parse_fast(raw, bound)
    if parsed is None:
        parsed = _parse_checked(raw, path, bound)
    bodies, xyz = parsed
    joints = _assemble(bodies, xyz)

    ids = parse_sample_name(path.stem) or {}
    action = ids.get("action")
    return Sequence(
        joints=joints,
        layout=NTU25,
        name=path.stem,
        label=None if action is None else action - 1,
        subject=ids.get("subject"),
        camera=ids.get("camera"),
        setup=ids.get("setup"),
        replication=ids.get("replication"),
        fps=FPS,
        source=str(path),
    )


def _assemble(bodies: list[int], xyz: np.ndarray) -> np.ndarray:
    """Scatter the file-order joint rows into body slots.

    Args:
        bodies: number of bodies listed in each frame, ``(T,)``.
        xyz: ``(N * 25, 3)`` float64 rows in file order, N = sum(bodies).

    Returns:
        ``(T, M, 25, 3)`` float32 with M = max(1, max(bodies)); unlisted slots are zeros.
    """
    counts = np.asarray(bodies, dtype=np.int64)  # (T,)
    t_len, n = len(counts), int(counts.sum())
    m = max(1, int(counts.max(initial=0)))
    joints = np.zeros((t_len, m, NUM_JOINTS, 3), dtype=np.float32)
    if n:
        frame = np.repeat(np.arange(t_len), counts)  # (N,) frame of each listed body
        slot = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)  # (N,) rank in frame
        joints[frame, slot] = xyz.reshape(n, NUM_JOINTS, 3)
    return joints


def _count(line: bytes) -> int:
    """The non-negative integer that is the whole of ``line`` (bar a CR), else -1."""
    s = line[:-1] if line.endswith(b"\r") else line
    return int(s) if s.isdigit() and len(s) <= _MAX_COUNT_DIGITS else -1


def _parse_fast(raw: bytes, bound: float = math.inf) -> tuple[list[int], np.ndarray] | None:
    """Parse a file laid out like the official release; None whenever it is not plainly valid
    (including a coordinate beyond ``bound``, in metres).

    Returns ``(bodies per frame, xyz (N * 25, 3) float64)`` exactly as :func:`_parse_checked`
    would. Every check here is a necessary condition for validity, so declining is always safe.
    """
    # Only number characters, spaces, CR and LF (tabs, letters, NULs -> checked parser).
    if not raw or raw.translate(None, _NUMBER_CHARS + b" \r\n"):
        return None
    body = raw.rstrip()  # blank lines after the last frame are allowed
    if not body:
        return None
    size = len(body)
    # Working buffer: zeros in front for the token windows to look back into, and behind for the
    # line windows to look ahead into.
    buf = np.frombuffer(bytes(WIDTH) + body + bytes(_LINE_WINDOW), dtype=np.uint8)
    a = buf[WIDTH:WIDTH + size]  # (size,) the file
    # Whitespace bytes may only meet as CR LF: no blank or indented lines, no double or trailing
    # spaces, no stray CR. Then every line's fields are separated by exactly one space each.
    ws = a <= 32  # space, CR or LF: the only whitespace left
    crlf = (a[:-1] == 13) & (a[1:] == 10)
    n_crlf = np.count_nonzero(crlf)  # each CR LF is one adjacent pair: any other pair is bad
    if ws[0] or np.count_nonzero(ws[:-1] & ws[1:]) != n_crlf or \
            np.count_nonzero(a == 13) != n_crlf:
        return None
    newlines = np.flatnonzero(a == 10)  # (L - 1,)
    starts = np.concatenate(([0], newlines + 1))  # (L,) first byte of each line
    spaces = np.add.reduceat((a == 32).view(np.uint8), starts, dtype=np.int32)  # (L,) per line

    # Walk the structural lines only (counts), in Python.
    begin, end = starts.tolist(), newlines.tolist() + [size]
    bodies: list[int] = []
    info_lines: list[int] = []  # line index of each listed body's info line
    try:
        n_frames = _count(body[:end[0]])
        if n_frames < 0:
            return None
        i = 1
        for _ in range(n_frames):
            n_bodies = _count(body[begin[i]:end[i]])
            if n_bodies < 0:
                return None
            bodies.append(n_bodies)
            i += 1
            for _ in range(n_bodies):
                if _count(body[begin[i + 1]:end[i + 1]]) != NUM_JOINTS:
                    return None
                info_lines.append(i)
                i += 2 + NUM_JOINTS
    except IndexError:  # truncated: the checked parser says where
        return None
    if i != len(begin):  # truncated inside the last body, or data after the last frame
        return None
    info = np.asarray(info_lines, dtype=np.int64)  # (N,)
    if (spaces[info] != BODY_INFO_FIELDS - 1).any():
        return None
    if not len(info):
        return bodies, np.zeros((0, 3))
    joint = (info[:, None] + 2 + np.arange(NUM_JOINTS)).ravel()  # (J = N * 25,) line indices
    if (spaces[joint] != JOINT_FIELDS - 1).any():
        return None

    # x, y and z end at the first three spaces of each joint line, found in a window of the
    # line's first bytes viewed as fixed-width byte strings (C-level search, no Python per line).
    first = starts[joint] + WIDTH  # (J,) line starts in buf
    window = np.take(buf, first[:, None] + np.arange(_LINE_WINDOW))  # (J, LW) uint8
    text = window.view(f"S{_LINE_WINDOW}").ravel()  # (J,)
    ends = np.empty((len(joint), 3), dtype=np.int64)  # (J, 3) offsets of the spaces
    ends[:, 0] = np.char.find(text, b" ")
    ends[:, 1] = np.char.find(text, b" ", ends[:, 0] + 1)
    ends[:, 2] = np.char.find(text, b" ", ends[:, 1] + 1)
    if (ends[:, 2] < 0).any():  # z ends beyond the window (absurdly long numbers)
        return None
    lengths = ends - np.concatenate([np.zeros((len(joint), 1), np.int64), ends[:, :2] + 1], 1)
    token_ends = (first[:, None] + ends).ravel()  # (J * 3,) in buf
    xyz, ok = parse_decimals(buf, token_ends, lengths.ravel())
    for k in np.flatnonzero(~ok).tolist():  # exponents and other rare forms: one at a time
        token = buf[token_ends[k] - lengths.flat[k]:token_ends[k]].tobytes()
        try:
            xyz[k] = float(token)
        except ValueError:  # "1.2.3", "-": the checked parser reports it
            return None
    if not all_valid(xyz, 3, bound):  # NaN, inf, beyond float32 or the bound: the checked
        return None  # parser names the line
    return bodies, xyz.reshape(-1, 3)


def _show(token: bytes, limit: int = 40) -> str:
    """A token for an error message: ASCII, quoted, shortened."""
    s = token.decode("ascii", "backslashreplace")
    return repr(s if len(s) <= limit else s[:limit] + "...")


def _is_number_text(token: bytes) -> bool:
    return not token.translate(None, _NUMBER_CHARS)


def _coordinate(token: bytes, bound: float = math.inf) -> tuple[float, str]:
    """``(value, "")`` for a valid x/y/z token within ``bound`` (the rule of
    :func:`mans.coordinates.value_problem`), else ``(value, what is wrong)``."""
    try:
        v = float(token)  # also accepts "nan", "inf", "1_0": screened below
    except ValueError:
        return math.nan, "is not a number"
    if math.isfinite(v) and not _is_number_text(token):
        return v, "is not a number"
    return v, value_problem(v, 3, bound)


def _binary_byte(f: list[bytes]) -> int | None:
    """The first byte of a line's fields that no text file holds (control or non-ASCII)."""
    return next((b for b in b" ".join(f) if not 32 <= b < 127), None)


def _describe_fields(f: list[bytes]) -> str:
    """What a structural line held, for an error message: at most 3 fields, shortened."""
    if not f:
        return "an empty line"
    shown = " ".join(_show(t, 20) for t in f[:3])
    return shown + (f" ... ({len(f)} fields)" if len(f) > 3 else "")


def _parse_checked(raw: bytes, path: Path, bound: float = math.inf
                   ) -> tuple[list[int], np.ndarray]:
    """Line-by-line reference parser; raises FormatError at the first problem.

    Accepts any whitespace between fields, LF or CRLF line ends and blank lines after the last
    frame. Returns the same ``(bodies per frame, xyz (N * 25, 3) float64)`` as
    :func:`_parse_fast`.
    """
    lines = raw.split(b"\n")
    # Content ends at the last non-blank line; running past it means the file was cut short.
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    if end == 0:
        raise FormatError(path, "empty file: expected the number of frames", line=1)

    pos = 0  # index of the next line to read

    def fields(what: str) -> list[bytes]:
        nonlocal pos
        if pos >= end:
            raise FormatError(path, f"file ends early: expected {what}", line=pos + 1)
        pos += 1
        return lines[pos - 1].split()

    def count(what: str) -> int:
        f = fields(what)
        if len(f) != 1 or not f[0].isdigit() or len(f[0]) > _MAX_COUNT_DIGITS:
            odd = _binary_byte(f)
            if odd is not None:  # junk: hundreds of escaped bytes would say nothing more
                raise FormatError(path, f"binary data (byte 0x{odd:02x}): not a text .skeleton "
                                  f"file; expected {what}", line=pos)
            found = _describe_fields(f)
            raise FormatError(path, f"expected {what} (one non-negative integer), found {found}",
                              line=pos)
        return int(f[0])

    n_frames = count("the number of frames")
    bodies: list[int] = []
    xyz: list[float] = []
    for t in range(n_frames):
        where = f"frame {t + 1} of {n_frames}"
        n_bodies = count(f"the number of bodies in {where}")
        bodies.append(n_bodies)
        for b in range(n_bodies):
            who = f"body {b + 1} of {n_bodies} in {where}"
            f = fields(f"the body-info line of {who}")
            if len(f) != BODY_INFO_FIELDS:
                raise FormatError(path, f"{who}: expected the body-info line of "
                                  f"{BODY_INFO_FIELDS} fields, found {len(f)}", line=pos)
            for k, tok in enumerate(f):
                if not _is_number_text(tok):
                    raise FormatError(path, f"{who}: body-info field {k + 1} is not a number: "
                                      f"{_show(tok)}", line=pos)
            n_joints = count(f"the joint count ({NUM_JOINTS}) of {who}")
            if n_joints != NUM_JOINTS:
                raise FormatError(path, f"{who}: expected {NUM_JOINTS} joints (Kinect v2), "
                                  f"found {n_joints}", line=pos)
            for j in range(NUM_JOINTS):
                f = fields(f"joint {j + 1} of {NUM_JOINTS} of {who}")
                joint = f"joint {j + 1} of {who}"
                if len(f) != JOINT_FIELDS:
                    raise FormatError(path, f"{joint}: expected {JOINT_FIELDS} fields "
                                      f"({' '.join(JOINT_FIELD_NAMES)}), found {len(f)}",
                                      line=pos)
                for k, tok in enumerate(f):
                    name = JOINT_FIELD_NAMES[k]
                    if k < 3:
                        v, problem = _coordinate(tok, bound)
                        if problem:
                            raise FormatError(path, f"{joint}: {name} {problem}: {_show(tok)}",
                                              line=pos)
                        xyz.append(v)
                    elif not _is_number_text(tok):
                        raise FormatError(path, f"{joint}: {name} is not a number: "
                                          f"{_show(tok)}", line=pos)
    if pos < end:
        while not lines[pos].strip():  # point at the data, not at blank lines before it
            pos += 1
        raise FormatError(path, f"unexpected data after the last frame (line 1 announces "
                          f"{n_frames} frames): expected the end of the file", line=pos + 1)
    return bodies, np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
