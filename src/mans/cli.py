"""The ``mans`` command line: argument parsing and dispatch only.

Each subcommand calls one library function; errors a user can cause (:class:`MansError`) are
printed as one line without a traceback and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from . import __version__
from .errors import MansError


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


# --- data --------------------------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> int:
    from .synth import write_synthetic

    summary = write_synthetic(
        args.out, seed=args.seed, subjects=args.subjects, replications=args.replications,
        progress=not args.quiet,
    )
    _print_json(summary)
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from .prepare import prepare

    manifest = prepare(
        args.dataset, args.raw, args.out, view=args.view, workers=args.workers,
        missing_list=args.missing_list, progress=not args.quiet, max_bodies=args.max_bodies,
        confidence=args.confidence, ann=args.ann,
    )
    summary = {k: manifest[k] for k in ("found", "prepared", "protocols") if k in manifest}
    summary["skipped"] = len(manifest.get("skipped", []))
    summary["out"] = str(args.out)
    _print_json(summary)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect import inspect_file

    _print_json([inspect_file(p, fmt=args.format) for p in args.files] if len(args.files) > 1
                else inspect_file(args.files[0], fmt=args.format))
    return 0


# --- model -------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from .engine.train import run_training

    metrics = run_training(
        args.config, data=args.data, out=args.out, overrides=args.set, resume=args.resume,
        device=args.device, deterministic=args.deterministic, progress=not args.quiet,
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary (rank 0's)
        _print_json({k: v for k, v in metrics.items() if not isinstance(v, (list, dict))})
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .engine.evaluate import run_eval

    metrics = run_eval(args.target, data=args.data, split=args.split, device=args.device,
                       out=args.out, progress=not args.quiet)
    _print_json({k: v for k, v in metrics.items() if not isinstance(v, (list, dict))})
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if args.window is not None or args.stride is not None:
        return _predict_timeline(args)
    from .predict import format_prediction, predict_files

    results = predict_files(args.checkpoint, args.files, topk=args.topk, device=args.device,
                            fmt=args.format)
    if args.json:
        _print_json(results)
    else:
        for r in results:
            print(format_prediction(r))
    return 0


def _predict_timeline(args: argparse.Namespace) -> int:
    from .api import load
    from .errors import ConfigError
    from .timeline import write_timelines

    if args.window is None or args.stride is None:
        raise ConfigError("--window and --stride go together")
    clf = load(args.checkpoint, args.device)
    timelines = [clf.timeline(f, window=args.window, stride=args.stride, topk=args.topk,
                              fmt=args.format) for f in args.files]
    text = write_timelines(timelines, args.timeline_out)
    if text is not None:
        print(text)
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    import torch

    from .api import load
    from .stream import run_stream

    torch.set_num_threads(args.threads)
    clf = load(args.checkpoint, args.device)
    run_stream(clf, args.input, stride=args.stride, window=args.window, topk=args.topk,
               follow=args.follow, idle_exit=args.idle_exit)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out, epochs=args.epochs, seed=args.seed, progress=not args.quiet)
    return 0


# --- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mans", description="Memory Attention Networks for skeleton action recognition."
    )
    p.add_argument("--version", action="version", version=f"mans {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        sp.set_defaults(func=fn)
        return sp

    sp = add("synth", cmd_synth, "write a synthetic NTU-format dataset of .skeleton files")
    sp.add_argument("out", type=Path, help="output folder")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--subjects", type=int, default=10, help="number of synthetic performers")
    sp.add_argument("--replications", type=int, default=2, help="repetitions per subject/camera")

    sp = add("prepare", cmd_prepare, "read a raw dataset once into a prepared, memory-mapped store")
    sp.add_argument("dataset",
                    choices=["ntu60", "ntu120", "utkinect", "hdm05", "custom", "pyskl"])
    sp.add_argument("--raw", type=Path, default=None,
                    help="folder with the raw files (all datasets but pyskl)")
    sp.add_argument("--ann", type=Path, default=None,
                    help="pyskl: the PYSKL / mmaction2 annotation pickle")
    sp.add_argument("--out", type=Path, required=True, help="output folder of the store")
    sp.add_argument("--view", default="authors", choices=["authors", "gcn", "none", "2d"],
                    help="view normalisation: authors' PCA frame (default), GCN-style spine "
                         "centring + rotation, none, or 2d (image key points: hip-centred, "
                         "torso-scaled)")
    sp.add_argument("--max-bodies", type=int, default=None,
                    help="body slots kept (default: the dataset's; custom/pyskl: the most "
                         "bodies found in one frame, at most 2)")
    sp.add_argument("--confidence", action="store_true",
                    help="view 2d: joint scores as a third input channel")
    sp.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    sp.add_argument("--missing-list", type=Path, default=None,
                    help="NTU: official samples_with_missing_skeletons.txt; listed files are "
                         "skipped with that reason")

    sp = add("inspect", cmd_inspect, "print a JSON summary of skeleton files")
    sp.add_argument("files", type=Path, nargs="+")
    sp.add_argument("--format", default=None, help="reader to use (default: from the file name)")

    sp = add("train", cmd_train, "train a model on a prepared store")
    sp.add_argument("config", help="config YAML path or the name of a built-in config")
    sp.add_argument("--data", type=Path, required=True, help="prepared store folder")
    sp.add_argument("--out", type=Path, required=True, help="run folder")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. --set train.lr=0.1 (repeatable)")
    sp.add_argument("--resume", action="store_true", help="continue from RUN/last checkpoint")
    sp.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    sp.add_argument("--deterministic", action="store_true",
                    help="deterministic algorithms and single-threaded loading")

    sp = add("eval", cmd_eval, "evaluate a run folder or checkpoint on a prepared store")
    sp.add_argument("target", type=Path, help="run folder or checkpoint file")
    sp.add_argument("--data", type=Path, required=True)
    sp.add_argument("--split", default="test", choices=["test", "train", "val"],
                    help="split of the run's protocol (default test; val is re-derived from the "
                         "run's config)")
    sp.add_argument("--out", type=Path, default=None,
                    help="folder for metrics.json and the confusion matrix (or a .json path)")
    sp.add_argument("--device", default="auto")

    sp = add("predict", cmd_predict, "classify raw skeleton files with a checkpoint")
    sp.add_argument("checkpoint", type=Path)
    sp.add_argument("files", type=Path, nargs="+")
    sp.add_argument("--topk", type=int, default=5)
    sp.add_argument("--format", default=None, help="reader to use (default: from the file name)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.add_argument("--device", default="auto")
    sp.add_argument("--window", type=int, default=None,
                    help="long recordings: classify windows of W frames (with --stride)")
    sp.add_argument("--stride", type=int, default=None, help="frames between window starts")
    sp.add_argument("--timeline-out", type=Path, default=None,
                    help="with --window: write the timeline and merged segments to a .json, or "
                         "a .csv (+ .segments.csv); default: JSON on stdout")

    sp = add("stream", cmd_stream,
             "classify a live stream of frames (one JSON object per line) with a checkpoint")
    sp.add_argument("checkpoint", type=Path)
    sp.add_argument("--input", default="-", help="file to read frames from (default: stdin)")
    sp.add_argument("--follow", action="store_true",
                    help="keep reading a growing file at its end (like tail -f)")
    sp.add_argument("--idle-exit", type=float, default=None,
                    help="with --follow: stop after this many seconds without a new line")
    sp.add_argument("--stride", type=int, default=5, help="frames between predictions")
    sp.add_argument("--window", type=int, default=None,
                    help="frames in the ring buffer (default: the model's S)")
    sp.add_argument("--topk", type=int, default=5)
    sp.add_argument("--device", default="cpu")
    sp.add_argument("--threads", type=int, default=1,
                    help="CPU threads of the model (default 1: one prediction of one window is "
                         "too small to gain from more, and extra threads stall on a busy "
                         "machine; docs/inference.md)")

    sp = add("demo", cmd_demo,
             "synthesise data, prepare it, train the ResNet variant and evaluate it")
    sp.add_argument("--out", type=Path, default=Path("mans-demo"), help="output folder")
    sp.add_argument("--epochs", type=int, default=None, help="override the demo's epochs")
    sp.add_argument("--seed", type=int, default=0)
    return p


# glibc returns freed memory to the kernel eagerly, so every training step re-faults its large
# activation buffers: measured here, 30 % of DenseNet-161's CPU time went to page faults and
# DenseNet training ran 1.5x faster with these thresholds (docs/performance.md). glibc reads the
# variable only at start-up, so the commands that run a network re-execute themselves with it.
MALLOC_TUNABLES = ("glibc.malloc.mmap_threshold=4294967296:"
                   "glibc.malloc.trim_threshold=17179869184")
_NETWORK_COMMANDS = ("train", "eval", "predict", "demo", "stream")


def _reexec_with_malloc_tunables(argv: list[str]) -> None:
    """Replace this process by ``python -m mans.cli ARGV`` with :data:`MALLOC_TUNABLES` set,
    unless the user set ``GLIBC_TUNABLES`` themselves, opted out (``MANS_NO_REEXEC=1``), or
    the C library is not glibc."""
    if ("GLIBC_TUNABLES" in os.environ or os.environ.get("MANS_NO_REEXEC") == "1"
            or not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc"):
        return
    env = dict(os.environ, GLIBC_TUNABLES=MALLOC_TUNABLES, MANS_NO_REEXEC="1")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "mans.cli", *argv], env)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None and args.command in _NETWORK_COMMANDS:  # a console run, not a library call
        _reexec_with_malloc_tunables(sys.argv[1:])
    try:
        return args.func(args)
    except MansError as e:
        print(f"mans {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mans {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
