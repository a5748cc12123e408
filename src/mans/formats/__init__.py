"""File readers, one module per format, all returning :class:`~mans.skeleton.Sequence` and all
raising :class:`~mans.errors.FormatError` (naming file and line) on bad input.

:func:`read_sequence` picks the reader from the file name, for ``mans inspect`` and
``mans predict``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FormatError
from ..skeleton import Layout, Sequence

FORMATS = ("ntu", "utkinect", "amc", "npz", "coco", "openpose", "mediapipe", "mediapipe-world",
           "pyskl")


def detect_format(path: str | Path) -> str:
    """Format name of ``path`` from its suffix / name pattern (a ``.json`` file: from its
    content, COCO-17 unless it holds MediaPipe landmarks; a folder of ``*_keypoints.json``:
    OpenPose)."""
    p = Path(path)
    if p.is_dir():  # an OpenPose output folder, or a folder given by mistake
        if any(p.glob("*_keypoints.json")):
            return "openpose"
        raise _folder_error(p)
    name = p.name.lower()
    if name.endswith(".json"):
        from .keypoints import load_json
        from .mediapipe import looks_like_mediapipe

        if name.endswith("_keypoints.json"):
            return "openpose"
        return "mediapipe" if looks_like_mediapipe(load_json(p)) else "coco"
    if name.endswith(".csv"):
        return "mediapipe"
    if name.endswith((".pkl", ".pickle")):
        return "pyskl"
    if name.endswith(".skeleton"):
        return "ntu"
    if name.endswith(".amc"):
        return "amc"
    if name.endswith(".npz"):
        return "npz"
    if name.startswith("joints_") and name.endswith(".txt"):
        return "utkinect"
    raise FormatError(
        p, "cannot tell the format from the file name; supported: .skeleton (NTU RGB+D), "
        "joints_sXX_eYY.txt (UT-Kinect), .amc (Acclaim, with its .asf beside it), .npz (custom), "
        ".json (COCO-17 key points or MediaPipe), an OpenPose folder, .csv (MediaPipe)"
    )


def _folder_error(p: Path) -> FormatError:
    return FormatError(p, "is a folder, not a skeleton file, and holds no *_keypoints.json "
                          "(OpenPose); name the files in it (e.g. "
                          f"{p / '*.skeleton'}), or prepare the folder with `mans prepare`")


def read_sequence(path: str | Path, fmt: str | None = None, layout: Layout | None = None
                  ) -> Sequence:
    """Read one file with the reader for ``fmt`` (detected from the name when None).

    ``layout``: the layout an ``.npz`` that defines none may name or leave out (a model's own
    layout, so that files of a user's skeleton need not repeat its definition)."""
    p = Path(path)
    if not p.exists():
        raise FormatError(p, "no such file or folder")
    fmt = fmt or detect_format(path)
    if fmt == "openpose":
        from .openpose import read_openpose

        if p.is_file():  # one frame file: read its folder
            p = p.parent
        return read_openpose(p)
    if p.is_dir():
        raise _folder_error(p)
    if not p.is_file():
        raise FormatError(p, "no such file")
    if fmt == "coco":
        from .coco import read_coco_json

        return read_coco_json(p)
    if fmt in ("mediapipe", "mediapipe-world"):
        from .mediapipe import read_mediapipe_csv, read_mediapipe_json

        space = "world" if fmt == "mediapipe-world" else None
        if p.name.lower().endswith(".json"):
            return read_mediapipe_json(p, space)
        return read_mediapipe_csv(p, space)
    if fmt == "pyskl":
        raise FormatError(p, "a PYSKL / mmaction2 pickle holds a whole dataset: prepare it with "
                          "`mans prepare pyskl --ann FILE.pkl`")
    if fmt == "ntu":
        from .ntu import read_skeleton

        return read_skeleton(p)
    if fmt == "utkinect":
        from .utkinect import read_joints_file

        return read_joints_file(p)
    if fmt == "amc":
        from .acclaim import read_amc

        return read_amc(p)
    if fmt == "npz":
        from .custom import read_npz

        return read_npz(p, layout)
    raise FormatError(p, f"unknown format {fmt!r}; known: {FORMATS}")
