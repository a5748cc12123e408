"""The ``mans`` command line: the entry point and its error handling. The parser is
:mod:`mans.cli.parser`, the function of each subcommand :mod:`mans.cli.subcommands`.

Each subcommand calls one library function. Exit status: 0 done, 1 error, 2 usage (argparse:
unknown option, bad option value), 130 interrupted. Errors a user can cause (:class:`MansError`)
and OS errors (unwritable path, disk full) print one line without a traceback (``MANS_DEBUG=1``
shows it); output cut short by a closed pipe (``| head``) ends quietly.
"""

from __future__ import annotations

import os
import platform
import sys

from ..errors import MansError
from ..outputs import describe_os_error
from .parser import build_parser, subparser
from .subcommands import UsageError, resume_hint


# glibc returns freed memory to the kernel eagerly, so every training step re-faults its large
# activation buffers; these thresholds keep them mapped (the measurements are in
# docs/performance.md). glibc reads the variable only at start-up, so the commands that run a
# network re-execute themselves with it.
MALLOC_TUNABLES = ("glibc.malloc.mmap_threshold=4294967296:"
                   "glibc.malloc.trim_threshold=17179869184")
_NETWORK_COMMANDS = ("train", "eval", "predict", "demo", "ensemble", "stream")


def _reexec_with_malloc_tunables(argv: list[str]) -> None:
    """Replace this process by ``python -m mans ARGV`` with :data:`MALLOC_TUNABLES` set,
    unless the user set ``GLIBC_TUNABLES`` themselves, opted out (``MANS_NO_REEXEC=1``), or
    the C library is not glibc."""
    if ("GLIBC_TUNABLES" in os.environ or os.environ.get("MANS_NO_REEXEC") == "1"
            or not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc"):
        return
    env = dict(os.environ, GLIBC_TUNABLES=MALLOC_TUNABLES, MANS_NO_REEXEC="1")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "mans", *argv], env)


def _quiet_broken_pipe() -> None:
    """The reader of our stdout went away (``mans ... | head``): send what is still buffered
    nowhere, so that the interpreter's final flush does not raise again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (e.g. captured by a test)
        pass


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    usage = subparser(parser, args.command)
    if unknown:  # the subcommand's usage, not the top-level one (exit 2)
        usage.error(f"unrecognized arguments: {' '.join(unknown)}")
    if argv is None and args.command in _NETWORK_COMMANDS:  # a console run, not a library call
        _reexec_with_malloc_tunables(sys.argv[1:])
    debug = os.environ.get("MANS_DEBUG", "") not in ("", "0")
    try:
        onnx = args.command == "predict" and (args.onnx or args.checkpoint.suffix == ".onnx")
        if args.command in _NETWORK_COMMANDS and not onnx:  # onnx: torch is never imported
            from ..threads import configure_threads

            configure_threads(args.threads)
        return args.func(args)
    except UsageError as e:
        usage.print_usage(sys.stderr)
        print(f"mans {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        if debug:
            raise
        _quiet_broken_pipe()
        return 1
    except MansError as e:
        if debug:
            raise
        print(f"mans {args.command}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # unwritable path, disk full, ...: the user's environment, not a bug
        if debug:
            raise
        print(f"mans {args.command}: error: {describe_os_error(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hint = f"; {resume_hint(args)}" if args.command == "train" else ""
        print(f"mans {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
