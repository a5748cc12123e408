"""COCO-17 key points as MMPose, YOLO-pose (ultralytics) and HRNet demos write them: one JSON file
per recording, layout ``coco17`` (docs/formats.md, "COCO-17 key points").

Accepted structure (the common shapes of those tools' outputs)::

    [frame, frame, ...]                       # a list of frames, or
    {"instance_info": [frame, ...]}           # MMPose --save-predictions, or {"frames": [...]}

    frame  = [person, ...]                    # the people of that frame, or
             {"frame_id": 3, "instances": [person, ...]}   # also "people" / "predictions";
                                              # frame id keys: frame_id, frame_idx, frame, image_id
    person = {"keypoints": K, "keypoint_scores": [17 numbers]?, "bbox": [...]?, "track_id": id?}
    K      = 17 x [x, y] or 17 x [x, y, score], or the same flattened (34 or 51 numbers),
             or {"x": [17], "y": [17], "visible": [17]?} (ultralytics Results.tojson())

Coordinates are image pixels (y down). A score is taken from ``keypoint_scores`` (MMPose), else
from the third number of each key point (YOLO-pose confidence, COCO visibility 0/1/2 clipped to
[0, 1]; ultralytics' ``visible``), else 1. When frames carry ids, frame ``i`` goes to row
``id - first id`` and ids that are absent are frames without detections (zero rows); without ids,
frame ``i`` is row ``i``. A file without a person in any frame is refused, as is an object with
``keypoints`` where a frame belongs (COCO's results format, one person per entry). ``bbox`` is
accepted and not used. People are matched to body slots by
``track_id`` or position (:func:`mans.formats.keypoints.assign_slots`).
"""

from __future__ import annotations

from pathlib import Path


from ..errors import FormatError
from ..skeleton import COCO17, Sequence
from .keypoints import Person, assign_slots, load_json, make_person, numbers, place_frames

V = 17
FRAME_LISTS = ("instance_info", "frames")
PEOPLE_KEYS = ("instances", "people", "predictions")
ID_KEYS = ("frame_id", "frame_idx", "frame", "image_id")


def frames_of(path: Path, doc) -> list:
    """The list of frames of a parsed document."""
    if isinstance(doc, dict):
        for key in FRAME_LISTS:
            if isinstance(doc.get(key), list):
                return doc[key]
        raise FormatError(path, f"expected a list of frames, or an object with one of "
                          f"{FRAME_LISTS}; found keys {sorted(doc)[:8]}")
    if not isinstance(doc, list):
        raise FormatError(path, f"expected a list of frames, found {type(doc).__name__}")
    return doc


def _people(path: Path, frame, i: int) -> tuple[list, object]:
    """``(people list, frame id or None)`` of frame ``i``."""
    if isinstance(frame, list):
        return frame, None
    if not isinstance(frame, dict):
        raise FormatError(path, f"frame {i}: expected a list of people or an object, found "
                          f"{type(frame).__name__}")
    if "keypoints" in frame:
        # a person where a frame belongs: COCO's detection-results file ([{"image_id",
        # "category_id", "keypoints", "score"}, ...]) lists one person per entry
        raise FormatError(path, f"frame {i}: an object with 'keypoints' is one person, not a "
                          f"frame; this looks like one person per entry (COCO results format). "
                          f"Expected a list of frames, each a list of people or an object with "
                          f"'frame_id' and 'instances' (docs/formats.md, 'COCO-17 key points')")
    people = next((frame[k] for k in PEOPLE_KEYS if k in frame), [])
    if people is None:
        people = []
    if not isinstance(people, list):
        raise FormatError(path, f"frame {i}: the people must be a list")
    return people, next((frame[k] for k in ID_KEYS if k in frame), None)  # checked by place_frames


def _why_empty(frames: list) -> str:
    """A hint for a file without people: the keys of the first frame object that has none of
    ``PEOPLE_KEYS`` (e.g. MediaPipe's ``pose_landmarks``), else ""."""
    for i, f in enumerate(frames):
        if isinstance(f, dict) and not any(k in f for k in PEOPLE_KEYS):
            return (f"; frame {i} has none of the keys {PEOPLE_KEYS}, only "
                    f"{sorted(map(str, f))[:8]}")
    return ""


def person_from_dict(path: Path, p, v: int, where: str) -> Person:
    """One ``{"keypoints", "keypoint_scores"?, "track_id"?}`` object (COCO-style keys)."""
    if not isinstance(p, dict) or "keypoints" not in p:
        raise FormatError(path, f"{where}: expected an object with 'keypoints'")
    raw, sc = p["keypoints"], p.get("keypoint_scores", p.get("scores"))
    if isinstance(raw, dict):  # ultralytics Results.tojson(): {"x": [...], "y": [...], "visible"}
        if "x" not in raw or "y" not in raw:
            raise FormatError(path, f"{where}: keypoints object without 'x' and 'y' lists")
        raw, sc = [raw["x"], raw["y"]], raw.get("visible", raw.get("score", sc))
        kp = numbers(path, raw, f"{v} x and {v} y", f"{where} keypoints")
        if kp.ndim != 2 or kp.shape[0] != 2:
            raise FormatError(path, f"{where}: keypoints 'x' and 'y' must be lists of {v} numbers")
        kp = kp.T  # (V, 2)
    else:
        kp = numbers(path, raw, f"{v} key points", f"{where} keypoints")
    scores = None if sc is None else numbers(path, sc, f"{v} scores", f"{where} scores")
    return make_person(path, kp, scores, v, 2, p.get("track_id"), where)


def read_coco_json(path: str | Path) -> Sequence:
    """Read one COCO-17 key-point JSON (module docstring) into a 2-D :class:`Sequence`.

    Returns:
        joints ``(T, M, 17, 2)`` float32 pixels, scores ``(T, M, 17)``, layout ``coco17``.

    Raises:
        FormatError: naming the file and the frame / person (or JSON line).
    """
    path = Path(path)
    frames = frames_of(path, load_json(path))
    if not frames:
        raise FormatError(path, "0 frames")
    ids, people = [], []
    for i, frame in enumerate(frames):
        ps, fid = _people(path, frame, i)
        ids.append(fid)
        people.append([person_from_dict(path, p, V, f"frame {i}, person {k}")
                       for k, p in enumerate(ps)])
    placed = place_frames(path, ids, people, list)
    if not any(placed):
        raise FormatError(path, f"no person in any of the {len(frames)} frames{_why_empty(frames)}")
    joints, scores = assign_slots(placed, V, 2)
    return Sequence(joints=joints, layout=COCO17, name=path.stem, source=str(path),
                    scores=scores)
