"""Output paths the user names (``--out``): checked before any work starts, and OS errors turned
into one line.

A command that will write a folder calls :func:`check_out_folder` first, so that an ``--out`` that
is an existing file, lies below a file, or cannot be written is refused with one line naming the
path -- before minutes of work, not at the first write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import ConfigError


def check_out_folder(path: str | Path, option: str = "--out") -> Path:
    """Raise :class:`ConfigError` unless ``path`` is, or can become, a writable folder.

    Checks that ``path`` is not an existing non-folder, that its nearest existing ancestor is a
    folder, and that a folder can really be created there (a probe folder is made and removed:
    permission bits alone do not tell, e.g. for root or read-only mounts). Creates nothing that
    stays. Returns ``Path(path)``.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"{option} {p} exists and is not a folder")
    anc = p if p.exists() else p.parent
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise ConfigError(f"{option} {p}: {anc} is a file, not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".mans-write-probe-", dir=anc)
        os.rmdir(probe)
    except OSError as e:
        raise ConfigError(f"{option} {p}: cannot write in {anc} ({e.strerror or e})") from None
    return p


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix: writers pick the format from it) for the
    block to write; it replaces ``path`` when the block ends without error and is removed
    otherwise, so a failed or interrupted write never leaves a half-made file under the name."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def describe_os_error(e: OSError) -> str:
    """One line for an OS error: the path(s) involved and the reason, saying "disk full" for
    ENOSPC/EDQUOT."""
    reason = e.strerror or str(e) or type(e).__name__
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        reason = f"disk full ({reason})"
    paths = [str(f) for f in (e.filename, e.filename2) if f is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason
