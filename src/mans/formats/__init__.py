"""File readers, one module per format, all returning :class:`~mans.skeleton.Sequence` and all
raising :class:`~mans.errors.FormatError` (naming file and line) on bad input.

:func:`read_sequence` picks the reader from the file name, for ``mans inspect`` and
``mans predict``.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import FormatError
from ..skeleton import Sequence

FORMATS = ("ntu", "utkinect", "amc", "npz")


def detect_format(path: str | Path) -> str:
    """Format name of ``path`` from its suffix / name pattern."""
    p = Path(path)
    if p.is_dir():
        raise _folder_error(p)
    name = p.name.lower()
    if name.endswith(".skeleton"):
        return "ntu"
    if name.endswith(".amc"):
        return "amc"
    if name.endswith(".npz"):
        return "npz"
    if name.startswith("joints_") and name.endswith(".txt"):
        return "utkinect"
    raise FormatError(
        p, f"cannot tell the format from the file name; supported: .skeleton (NTU RGB+D), "
        f"joints_sXX_eYY.txt (UT-Kinect), .amc (Acclaim, with its .asf beside it), .npz (custom)"
    )


def _folder_error(p: Path) -> FormatError:
    return FormatError(p, "is a folder, not a skeleton file; name the files in it (e.g. "
                          f"{p / '*.skeleton'}), or prepare the folder with `mans prepare`")


def read_sequence(path: str | Path, fmt: str | None = None) -> Sequence:
    """Read one file with the reader for ``fmt`` (detected from the name when None)."""
    fmt = fmt or detect_format(path)
    p = Path(path)
    if p.is_dir():
        raise _folder_error(p)
    if not p.is_file():
        raise FormatError(p, "no such file")
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

        return read_npz(p)
    raise FormatError(p, f"unknown format {fmt!r}; known: {FORMATS}")
