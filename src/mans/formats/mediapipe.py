"""MediaPipe Pose (BlazePose) landmarks, one row per frame, in CSV or JSON; layout ``mediapipe33``
(docs/formats.md, "MediaPipe Pose"). One person per recording (MediaPipe Pose tracks one).

Two coordinate spaces, as MediaPipe gives them:

* ``image`` (``pose_landmarks``): x, y as fractions of the image width / height (y down), z a
  relative depth that MediaPipe documents as less accurate -> read as **2-D** ``(x, y)``;
* ``world`` (``pose_world_landmarks``): x, y, z in metres around the hip centre (y down)
  -> read as **3-D**.

``visibility`` (0..1) becomes the joint score (1 when absent).

CSV: a header, then one row per frame. Columns ``x0 y0 z0 visibility0 ... x32 y32 z32
visibility32`` (image) and / or ``world_x0 world_y0 world_z0 ... world_z32`` (world), any order,
``z`` and ``visibility`` optional; an optional ``frame`` column gives the frame index (absent
indices are frames without detection); a row whose coordinate cells are all empty is a frame
without detection.

JSON: a list of frames (or ``{"frames": [...]}``); each frame an object with ``landmarks`` (image)
and / or ``world_landmarks``: 33 ``[x, y, z, visibility]`` lists or 33 ``{"x", "y", "z",
"visibility"}`` objects, or null / ``[]`` when nobody was detected; optional ``frame``.

``space`` (argument, or ``--format mediapipe-world``) picks one when both are present; the
default is image when present, else world.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..coordinates import check_coordinates
from ..errors import FormatError
from ..skeleton import MEDIAPIPE33, Sequence
from .csvrows import csv_records, open_csv
from .keypoints import load_json, numbers, place_frames

V = 33
SPACES = ("image", "world")
_PREFIX = {"image": "", "world": "world_"}
_JSON_KEY = {"image": "landmarks", "world": "world_landmarks"}


def _finish(path: Path, rows: list, frame_ids: list, space: str) -> Sequence:
    """rows: per frame ``(33, 4)`` [x, y, z, visibility] or None (no detection)."""
    if not rows:
        raise FormatError(path, "0 frames")
    rows = place_frames(path, frame_ids, rows, lambda: None, "'frame' index")
    c = 2 if space == "image" else 3
    joints = np.zeros((len(rows), 1, V, c), dtype=np.float32)
    scores = np.zeros((len(rows), 1, V), dtype=np.float32)
    for t, r in enumerate(rows):
        if r is None:
            continue
        vis = np.clip(r[:, 3], 0.0, 1.0)
        joints[t, 0] = np.where(vis[:, None] > 0, r[:, :c], 0.0)
        scores[t, 0] = vis
    return Sequence(joints=joints, layout=MEDIAPIPE33, name=path.stem, source=str(path),
                    scores=scores)


def _checked(path: Path, r: np.ndarray, space: str, line: int | None, where: str) -> np.ndarray:
    """``r`` ``(33, 4)`` [x, y, z, visibility] of one frame (``where``: its place for messages,
    or "" with ``line``), checked: finite visibilities (and unused image z), and the coordinates
    of the visible landmarks valid (:mod:`mans.coordinates`: image fractions / metres)."""
    c = 2 if space == "image" else 3
    at = f"{where}, " if where else ""
    if not np.isfinite(r[:, c:]).all():
        raise FormatError(path, f"{at}NaN/inf in a visibility{' or z' if c == 2 else ''} value",
                          line)
    visible = np.clip(r[:, 3], 0.0, 1.0)[:, None] > 0
    check_coordinates(path, np.where(visible, r[:, :c], 0.0), c,
                      locate=lambda j: (line, f"{at}landmark {j[0]}"))
    return r


def _pick_space(path: Path, available: set[str], space: str | None) -> str:
    if space is not None and space not in SPACES:
        raise FormatError(path, f"unknown MediaPipe space {space!r}; choose one of {SPACES}")
    if space is None:
        space = "image" if "image" in available else "world" if "world" in available else None
    if space is None or space not in available:
        raise FormatError(path, f"no MediaPipe {'landmarks' if space is None else space} "
                          f"coordinates found (see docs/formats.md, 'MediaPipe Pose')")
    return space


def read_mediapipe_csv(path: str | Path, space: str | None = None) -> Sequence:
    """Read a MediaPipe CSV (module docstring): joints ``(T, 1, 33, 2)`` (image) or
    ``(T, 1, 33, 3)`` (world), scores ``(T, 1, 33)``. FormatError names the CSV line."""
    path = Path(path)
    reader, header = open_csv(path)
    col = {h: i for i, h in enumerate(header)}
    if len(col) != len(header):
        raise FormatError(path, "header names a column twice", 1)
    available = {s for s in SPACES if all(f"{_PREFIX[s]}{a}{j}" in col
                                          for a in "xy" for j in range(V))}
    space = _pick_space(path, available, space)
    pre = _PREFIX[space]
    cols = [[col.get(f"{pre}{a}{j}") for a in ("x", "y", "z")] + [col.get(f"visibility{j}")]
            for j in range(V)]  # (33, 4) column indices, None when absent
    rows, frame_ids = [], []
    for line, rec in csv_records(reader, path, len(header)):
        fid = None
        if "frame" in col:
            s = rec[col["frame"]].strip()
            if not (s.isascii() and s.isdigit()):  # str.isdigit() accepts '²', int() not
                raise FormatError(path, f"frame {s[:20]!r}: expected a non-negative integer",
                                  line)
            fid = int(s)
        cells = [[rec[i].strip() if i is not None else "" for i in js] for js in cols]
        if not any(c for js in cells for c in js[:3]):
            rows.append(None)  # no detection in this frame
            frame_ids.append(fid)
            continue
        try:
            r = np.array([[float(c) if c else (1.0 if a == 3 else 0.0) for a, c in enumerate(js)]
                          for js in cells])
        except ValueError:
            raise FormatError(path, "expected numbers in every landmark cell", line) from None
        rows.append(_checked(path, r, space, line, ""))
        frame_ids.append(fid)
    return _finish(path, rows, frame_ids, space)


def _landmarks(path: Path, value, where: str) -> np.ndarray | None:
    if value is None or value == []:
        return None
    if isinstance(value, list) and value and all(isinstance(d, dict) for d in value):
        try:
            value = [[d["x"], d["y"], d.get("z", 0.0), d.get("visibility", 1.0)] for d in value]
        except KeyError:
            raise FormatError(path, f"{where}: every landmark object needs 'x' and 'y'") from None
    a = numbers(path, value, "33 landmarks", where)
    if a.ndim != 2 or a.shape[0] != V or a.shape[1] not in (2, 3, 4):
        raise FormatError(path, f"{where}: expected 33 landmarks of 2 to 4 numbers, found shape "
                          f"{a.shape}")
    out = np.zeros((V, 4))
    out[:, 3] = 1.0
    out[:, :a.shape[1]] = a
    return out


def read_mediapipe_json(path: str | Path, space: str | None = None) -> Sequence:
    """Read a MediaPipe JSON (module docstring); as :func:`read_mediapipe_csv`."""
    path = Path(path)
    doc = load_json(path)
    frames = doc.get("frames") if isinstance(doc, dict) else doc
    if not isinstance(frames, list):
        raise FormatError(path, "expected a list of frames or {\"frames\": [...]}")
    available = {s for s in SPACES if any(isinstance(f, dict) and f.get(_JSON_KEY[s])
                                          for f in frames)}
    space = _pick_space(path, available, space)
    rows, frame_ids = [], []
    for i, f in enumerate(frames):
        if not isinstance(f, dict):
            raise FormatError(path, f"frame {i}: expected an object")
        r = _landmarks(path, f.get(_JSON_KEY[space]), f"frame {i}")
        rows.append(None if r is None else _checked(path, r, space, None, f"frame {i}"))
        frame_ids.append(f.get("frame"))  # checked by place_frames
    return _finish(path, rows, frame_ids, space)


def looks_like_mediapipe(doc) -> bool:
    """True for a parsed JSON document in the MediaPipe layout above (used by format detection)."""
    frames = doc.get("frames") if isinstance(doc, dict) else doc
    return isinstance(frames, list) and any(
        isinstance(f, dict) and ("landmarks" in f or "world_landmarks" in f) for f in frames)
