"""One family of exceptions for everything a user can cause (bad files, configs, paths).

The CLI prints these without a traceback and exits non-zero; anything else is a bug.
"""

from __future__ import annotations

from pathlib import Path


class MansError(Exception):
    """Base class of errors caused by user input; the message says what to fix."""


class FormatError(MansError):
    """A data file does not hold what its format promises.

    Args:
        path: the file that was being read.
        message: what was expected and what was found.
        line: 1-based line number where the problem was found, if known.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # keep picklable across worker processes
        return (FormatError, (self.path, self.reason, self.line))


class ConfigError(MansError):
    """A configuration value or command-line option is invalid."""
