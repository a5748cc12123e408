"""OpenPose ``--write_json`` output: a folder of per-frame ``*_keypoints.json`` files
(docs/formats.md, "OpenPose"). Layout ``openpose25`` (BODY_25, 75 numbers per person) or
``openpose18`` (COCO-18, 54 numbers), told apart by the count; every file of a folder must agree.

Each file: ``{"version": ..., "people": [{"person_id": [-1], "pose_keypoints_2d": [x, y, c, ...],
...}]}``. Frame order: the number before ``_keypoints.json`` (OpenPose writes 12 digits); gaps in
the numbers are frames without detections (zero rows). A ``person_id`` other than ``[-1]`` is a
track id (OpenPose's tracking); people are matched to body slots by it or by position
(:func:`mans.formats.keypoints.assign_slots`). Coordinates are pixels (y down), ``c`` the score.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import FormatError
from ..skeleton import OPENPOSE18, OPENPOSE25, Sequence
from .keypoints import Person, assign_slots, load_json, make_person, numbers, place_frames

LAYOUTS = {25: OPENPOSE25, 18: OPENPOSE18}
SUFFIX = "_keypoints.json"
_NUMBER = re.compile(r"(\d+)_keypoints\.json\Z")


def frame_files(folder: Path) -> list[Path]:
    """The folder's ``*_keypoints.json`` files in frame order."""
    files = [p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file()]
    if not files:
        raise FormatError(folder, f"no *{SUFFIX} files: expected an OpenPose --write_json folder")
    return sorted(files, key=lambda p: (_frame_number(p) or 0, p.name))


def _frame_number(p: Path) -> int | None:
    m = _NUMBER.search(p.name)
    return int(m.group(1)) if m else None


def read_frame(path: Path) -> tuple[list[Person], int | None]:
    """The people of one frame file and their joint count (None when nobody)."""
    doc = load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
        raise FormatError(path, "expected an object with a 'people' list (OpenPose JSON)")
    people, v = [], None
    for k, p in enumerate(doc["people"]):
        if not isinstance(p, dict) or "pose_keypoints_2d" not in p:
            raise FormatError(path, f"person {k}: no 'pose_keypoints_2d'")
        kp = numbers(path, p["pose_keypoints_2d"], "x, y, c triplets", f"person {k}")
        if kp.ndim != 1 or kp.size // 3 not in LAYOUTS or kp.size % 3:
            raise FormatError(path, f"person {k}: {kp.size} numbers in pose_keypoints_2d; "
                              f"expected 75 (BODY_25) or 54 (COCO-18)")
        if v is not None and kp.size // 3 != v:
            raise FormatError(path, f"person {k}: {kp.size // 3} key points, person 0 has {v}")
        v = kp.size // 3
        pid = p.get("person_id")
        if isinstance(pid, list):
            pid = pid[0] if len(pid) == 1 else None
        track = pid if isinstance(pid, int) and not isinstance(pid, bool) and pid >= 0 else None
        people.append(make_person(path, kp, None, v, 2, track, f"person {k}"))
    return people, v


def read_openpose(folder: str | Path) -> Sequence:
    """Read an OpenPose JSON folder (module docstring) into a 2-D :class:`Sequence`.

    Returns:
        joints ``(T, M, V, 2)`` float32 pixels, scores ``(T, M, V)``; V = 25 or 18.

    Raises:
        FormatError: naming the offending frame file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError(folder, "expected a folder of OpenPose *_keypoints.json files")
    files = frame_files(folder)
    numbers_ = [_frame_number(p) for p in files]
    frames, v = [], None
    for p in files:
        people, pv = read_frame(p)
        if pv is not None and v is not None and pv != v:
            raise FormatError(p, f"{pv} key points per person, earlier frames have {v}")
        v = v or pv
        frames.append(people)
    if v is None:
        raise FormatError(folder, f"no person in any of the {len(files)} frames")
    if all(n is not None for n in numbers_):  # else: file-name order
        if len(set(numbers_)) != len(numbers_):
            raise FormatError(folder, "two *_keypoints.json files have the same frame number; "
                              "one folder must hold one recording")
        frames = place_frames(folder, numbers_, frames, list, "frame number")
    joints, scores = assign_slots(frames, v, 2)
    return Sequence(joints=joints, layout=LAYOUTS[v], name=folder.name, source=str(folder),
                    scores=scores)
