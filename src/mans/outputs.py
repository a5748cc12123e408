"""Output paths the user names (``--out``): checked before any work starts, locked while a command
writes them, and OS errors turned into one line.

A command that will write a folder calls :func:`check_out_folder` first, so that an ``--out`` that
is an existing file, lies below a file, or cannot be written is refused with one line naming the
path -- before minutes of work, not at the first write (:func:`check_out_file` for a file).

While it writes, it holds :func:`output_lock` on the folder: a second writer (two trainings into
one ``--out``, a prepare while another replaces the store) fails at once with one line naming the
folder and the process that holds it, instead of interleaving their files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # not POSIX (Windows): folders are not locked
    fcntl = None

from .errors import ConfigError, MansError


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


def check_out_file(path: str | Path, option: str = "--out",
                   suffixes: tuple[str, ...] = ()) -> Path:
    """Raise :class:`ConfigError` unless ``path`` can be written as a file: not an existing
    folder, with a suffix among ``suffixes`` (lower case, e.g. ``(".json",)``; any when empty),
    in a folder that is or can be made writable (:func:`check_out_folder`). Returns
    ``Path(path)``."""
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise ConfigError(f"{option} {p}: expected a {' or '.join(suffixes)} path")
    if p.is_dir():
        raise ConfigError(f"{option} {p} is a folder; expected a file path")
    check_out_folder(p.parent, option)
    return p


class FolderInUse(MansError):
    """Another process writes the output folder (it holds its :func:`output_lock`)."""


_held: dict[str, int] = {}  # lock file -> nesting depth, for the locks this process holds


def lock_file(folder: str | Path) -> Path:
    """The lock file of ``folder``: ``.NAME.lock`` beside it (not inside: ``prepare`` replaces
    the folder itself by a rename, which must not take the lock with it). Where the parent
    cannot be written (e.g. ``--out metrics.json`` in a home folder), :func:`output_lock` uses
    ``.mans.lock`` inside the folder instead."""
    p = Path(os.path.abspath(folder))
    return p.parent / f".{p.name}.lock"


_INSIDE = ".mans.lock"  # the lock file inside a folder whose parent cannot be written
_CANNOT_WRITE = (errno.EACCES, errno.EPERM, errno.EROFS)


@contextlib.contextmanager
def output_lock(folder: str | Path, option: str = "--out", *, enabled: bool = True
                ) -> Iterator[Path]:
    """Hold the lock of the output folder ``folder`` for the block: one writer per folder.

    An OS lock (``flock`` on :func:`lock_file`), so the kernel releases it when the process ends
    in any way, ``kill -9`` included: a lock file left behind by a killed process blocks nobody.
    The file holds the PID and command line of its holder, for the message of the process
    refused (``.mans.lock`` inside the folder where its parent cannot be written; processes that
    can write the parent and processes that cannot do not exclude each other). It is removed on
    release; a process that opened it just before is not fooled (it
    checks, once locked, that the file is still the one at the path). Nested use in one process
    (``mans demo`` -> train) holds it once. ``enabled=False`` (e.g. a DDP rank other than 0)
    does nothing.

    Raises:
        FolderInUse: ``--out RUN is in use by process 1234 (mans train ...); wait for it to
            finish or choose another --out``.
        ConfigError: the lock file cannot be created (``cannot write in FOLDER ...``).
    """
    path = lock_file(folder)
    key = str(path)
    if not enabled or fcntl is None:
        yield Path(folder)
        return
    if key in _held:  # held by this process already: the outer block releases it
        _held[key] += 1
        try:
            yield Path(folder)
        finally:
            _held[key] -= 1
        return
    fd, path = _acquire(Path(folder), option)
    _held[key] = 1
    try:
        yield Path(folder)
    finally:
        _held.pop(key, None)
        _release(path, fd)


def _open(path: Path, folder: Path, option: str) -> tuple[int, Path]:
    """Open (create) the lock file ``path``, or the one inside ``folder`` where ``path``'s
    folder cannot be written: ``(fd, the path opened)``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644), path
    except OSError as e:
        if e.errno in _CANNOT_WRITE and folder.is_dir():
            try:
                return os.open(folder / _INSIDE, os.O_RDWR | os.O_CREAT, 0o644), folder / _INSIDE
            except OSError:
                pass
        raise ConfigError(f"{option} {folder}: cannot write in {path.parent} (its lock file "
                          f"{path.name}: {e.strerror or e})") from None


def _acquire(folder: Path, option: str) -> tuple[int, Path]:
    for _ in range(100):  # another round only when the file was replaced under us
        fd, path = _open(lock_file(folder), folder, option)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _holder(fd)
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ConfigError(f"{option} {folder}: cannot lock {path} "
                                  f"({e.strerror or e})") from None
            raise FolderInUse(f"{option} {folder} is in use by {holder}; wait for it to "
                              f"finish or choose another {option}") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:  # its holder finished and removed it: lock a new one
            same = False
        if same:
            command = " ".join([_program()] + sys.argv[1:])
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {' '.join(command.split())[:300]}\n".encode())
            return fd, path
        os.close(fd)
    raise ConfigError(f"{option} {folder}: cannot lock {path} (it keeps being replaced)")


def _program() -> str:
    """The name this process was started as: ``mans`` also for ``python -m mans``."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return {"__main__.py": "mans", "-c": "python -c"}.get(name, name)


def _holder(fd: int) -> str:
    """``process PID (COMMAND)`` from a held lock file (its holder writes it just after locking:
    wait a moment for it)."""
    for _ in range(20):
        text = os.pread(fd, 400, 0).decode("utf-8", "replace").strip()
        if text:
            pid, _, command = text.partition(" ")
            return f"process {pid}" + (f" ({command})" if command else "")
        time.sleep(0.01)
    return "another process"


def _release(path: Path, fd: int) -> None:
    try:
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            os.unlink(path)  # while still locked: see output_lock
    except OSError:
        pass
    os.close(fd)


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
