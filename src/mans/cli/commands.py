"""The ``mans`` command line: argument parsing and dispatch only.

Each subcommand calls one library function. Exit status: 0 done, 1 error, 2 usage (argparse:
unknown option, bad option value), 130 interrupted. Errors a user can cause (:class:`MansError`)
and OS errors (unwritable path, disk full) print one line without a traceback (``MANS_DEBUG=1``
shows it); output cut short by a closed pipe (``| head``) ends quietly.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from .. import __version__
from ..devices import DEFAULT_DEVICE, DEVICE_CHOICES
from ..errors import MansError
from ..outputs import describe_os_error


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


# --- data --------------------------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> int:
    from ..synth import write_synthetic

    summary = write_synthetic(
        args.out, seed=args.seed, subjects=args.subjects, replications=args.replications,
        progress=not args.quiet,
    )
    _print_json(summary)
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from ..data.prepare import prepare

    manifest = prepare(
        args.dataset, args.raw, args.out, view=args.view, workers=args.workers,
        missing_list=args.missing_list, progress=not args.quiet, max_bodies=args.max_bodies,
        confidence=args.confidence, ann=args.ann,
    )
    from ..data.prepare import short_summary, skip_summary

    for line in skip_summary(manifest.get("skipped", [])):
        print(line, file=sys.stderr)
    _print_json(short_summary(manifest, args.out))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .inspect import inspect_file

    _print_json([inspect_file(p, fmt=args.format) for p in args.files] if len(args.files) > 1
                else inspect_file(args.files[0], fmt=args.format))
    return 0


# --- model -------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from ..engine.train import run_training

    if args.config is None and not args.resume:
        raise _UsageError("train: the CONFIG argument is required (except with --resume, which "
                          "uses the run's saved config)")
    metrics = run_training(
        args.config, data=args.data, out=args.out, overrides=args.set, resume=args.resume,
        device=args.device, deterministic=args.deterministic, progress=not args.quiet,
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary (rank 0's)
        _print_json({k: v for k, v in metrics.items() if not isinstance(v, (list, dict))})
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ..engine.evaluate import run_eval

    metrics = run_eval(args.target, data=args.data, split=args.split, device=args.device,
                       out=args.out, progress=not args.quiet, attention=args.attention)
    _print_json({k: v for k, v in metrics.items() if not isinstance(v, (list, dict))})
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if args.window is not None or args.stride is not None:
        return _predict_timeline(args)
    if args.timeline_out is not None:
        raise _UsageError("--timeline-out goes with --window and --stride")
    from ..inference.runtime import format_prediction

    failed: list[dict] = []  # one bad file does not stop the others (reported, exit 1)
    if args.onnx or args.checkpoint.suffix == ".onnx":  # onnxruntime; torch is never imported
        from ..inference.onnx_predict import predict_files_onnx

        if args.ckpt:
            raise _UsageError("--ckpt (fusing checkpoints) is for PyTorch checkpoints, not --onnx")
        results = predict_files_onnx(args.checkpoint, args.files, topk=args.topk,
                                     fmt=args.format, errors=failed, threads=args.threads)
    else:
        from ..inference.predict import predict_files

        results = predict_files(args.checkpoint, args.files, topk=args.topk,
                                device=args.device, fmt=args.format, ensemble=args.ckpt,
                                errors=failed)
    if args.json:
        _print_json(results)
    else:
        for r in results:
            print(format_prediction(r))
    return _report_failed(failed, len(args.files))


def _report_failed(failed: list[dict], files: int) -> int:
    """Each file ``mans predict`` could not handle, one line each on stderr; the exit status."""
    for f in failed:
        print(f"mans predict: error: {f['error']}", file=sys.stderr)
    if failed:
        print(f"mans predict: {len(failed)} of {files} files failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_ensemble(args: argparse.Namespace) -> int:
    from ..engine.ensemble import run_ensemble

    metrics = run_ensemble(args.runs, data=args.data, weights=args.weights, split=args.split,
                           out=args.out, device=args.device, progress=not args.quiet)
    _print_json({k: v for k, v in metrics.items() if not isinstance(v, dict)})
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..inference.export import export_onnx

    _print_json(export_onnx(args.checkpoint, args.onnx, opset=args.opset,
                            check=not args.no_check))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ..viz.show import show

    info = show(args.file, args.out, ckpt=args.ckpt, fmt=args.format, fps=args.fps,
                key_frames=args.key_frames)
    _print_json({k: v for k, v in info.items() if k != "bones"})
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..engine.report import write_report

    _print_json(write_report(args.run))
    return 0


def _predict_timeline(args: argparse.Namespace) -> int:
    from ..inference.api import load
    from ..inference.runtime import predict_each
    from ..inference.timeline import check_timeline_out, write_timelines

    if args.window is None or args.stride is None:
        raise _UsageError("--window and --stride go together")
    if args.ckpt or args.onnx or args.checkpoint.suffix == ".onnx":
        raise _UsageError("--window works with one PyTorch checkpoint (not --ckpt or --onnx)")
    if args.timeline_out is not None:
        check_timeline_out(args.timeline_out)  # before minutes of windows, not after
    clf = load(args.checkpoint, args.device)
    failed: list[dict] = []  # one bad file does not stop the others (reported, exit 1)
    timelines = predict_each(lambda f: clf.timeline(f, window=args.window, stride=args.stride,
                                                    topk=args.topk, fmt=args.format),
                             args.files, failed)
    if timelines:
        text = write_timelines(timelines, args.timeline_out)
        if text is not None:
            print(text)
    return _report_failed(failed, len(args.files))


def cmd_stream(args: argparse.Namespace) -> int:
    from ..inference.api import load  # main() has set the threads (--threads, default 1 here)
    from ..inference.live import run_stream

    clf = load(args.checkpoint, args.device)
    run_stream(clf, args.input, stride=args.stride, window=args.window, topk=args.topk,
               follow=args.follow, idle_exit=args.idle_exit)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out, epochs=args.epochs, seed=args.seed, progress=not args.quiet,
             force=args.force)
    return 0


# --- parser ------------------------------------------------------------------------------------


class _UsageError(Exception):
    """A wrong combination of options found after parsing: reported like argparse's (exit 2)."""


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (so 0 and negatives are usage errors, exit status 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_threads(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                    help="CPU threads for torch or onnxruntime (default: OMP_NUM_THREADS if set, "
                         "else the CPUs this process may use: its affinity mask and cgroup CPU "
                         "quota)")


def build_parser() -> argparse.ArgumentParser:
    from ..datasets import dataset_names

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
                    choices=dataset_names())
    sp.add_argument("--raw", type=Path, default=None,
                    help="folder with the raw files (all datasets but pyskl)")
    sp.add_argument("--ann", type=Path, default=None,
                    help="pyskl: the PYSKL / mmaction2 annotation pickle")
    sp.add_argument("--out", type=Path, required=True, help="output folder of the store")
    sp.add_argument("--view", default="authors", choices=["authors", "gcn", "none", "2d"],
                    help="view normalisation: authors' PCA frame (default), GCN-style spine "
                         "centring + rotation, none, or 2d (image key points: hip-centred, "
                         "torso-scaled)")
    sp.add_argument("--max-bodies", type=_positive_int, default=None,
                    help="body slots kept (default: the dataset's; custom/pyskl: the most "
                         "bodies found in one frame, at most 2)")
    sp.add_argument("--confidence", action="store_true",
                    help="view 2d: joint scores as a third input channel")
    sp.add_argument("--workers", type=_positive_int, default=None,
                    help="processes (default: all cores)")
    sp.add_argument("--missing-list", type=Path, default=None,
                    help="NTU: official samples_with_missing_skeletons.txt; listed files are "
                         "skipped with that reason")

    sp = add("inspect", cmd_inspect, "print a JSON summary of skeleton files")
    sp.add_argument("files", type=Path, nargs="+")
    sp.add_argument("--format", default=None, help="reader to use (default: from the file name)")

    sp = add("train", cmd_train, "train a model on a prepared store")
    sp.add_argument("config", nargs="?", default=None,
                    help="config YAML path or the name of a built-in config (not needed, and "
                         "not used, with --resume: the run's saved config is)")
    sp.add_argument("--data", type=Path, required=True, help="prepared store folder")
    sp.add_argument("--out", type=Path, required=True, help="run folder")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. --set train.lr=0.1 (repeatable); with "
                         "--resume only keys that may change (e.g. train.epochs)")
    sp.add_argument("--resume", action="store_true",
                    help="continue from RUN/last.pt with the run's saved config")
    sp.add_argument("--device", default=DEFAULT_DEVICE, help=DEVICE_CHOICES)
    sp.add_argument("--deterministic", action="store_true",
                    help="deterministic algorithms and single-threaded loading")
    _add_threads(sp)

    sp = add("eval", cmd_eval, "evaluate a run folder or checkpoint on a prepared store")
    sp.add_argument("target", type=Path, help="run folder or checkpoint file")
    sp.add_argument("--data", type=Path, required=True)
    sp.add_argument("--split", default="test", choices=["test", "train", "val"],
                    help="split of the run's protocol (default test; val is re-derived from the "
                         "run's config)")
    sp.add_argument("--out", type=Path, default=None,
                    help="folder for metrics.json and the confusion matrix (or a .json path)")
    sp.add_argument("--device", default=DEFAULT_DEVICE, help=DEVICE_CHOICES)
    sp.add_argument("--attention", action="store_true",
                    help="also write the mean TARM attention per class (attention.json, "
                         "attention.png) to --out, or beside the checkpoint")
    _add_threads(sp)

    sp = add("predict", cmd_predict, "classify raw skeleton files with a checkpoint")
    sp.add_argument("checkpoint", type=Path, help="checkpoint file, or a run folder (its best "
                                                  "checkpoint, else last.pt)")
    sp.add_argument("files", type=Path, nargs="+")
    sp.add_argument("--topk", type=_positive_int, default=5)
    sp.add_argument("--format", default=None, help="reader to use (default: from the file name)")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.add_argument("--device", default=DEFAULT_DEVICE, help=DEVICE_CHOICES)
    _add_threads(sp)
    sp.add_argument("--ckpt", action="append", default=[], type=Path, metavar="CKPT",
                    help="another checkpoint to fuse with the first (mean of the softmax "
                         "scores; repeatable), e.g. the bone stream of the same data")
    sp.add_argument("--onnx", action="store_true",
                    help="CHECKPOINT is a .onnx file from mans export: run it on onnxruntime, "
                         "without torch (implied by a .onnx suffix)")
    sp.add_argument("--window", type=_positive_int, default=None,
                    help="long recordings: classify windows of W frames (with --stride)")
    sp.add_argument("--stride", type=_positive_int, default=None, help="frames between window starts")
    sp.add_argument("--timeline-out", type=Path, default=None,
                    help="with --window: write the timeline and merged segments to a .json, or "
                         "a .csv (+ .segments.csv); default: JSON on stdout")

    sp = add("ensemble", cmd_ensemble,
             "fuse the softmax scores of several runs on a store split")
    sp.add_argument("runs", type=Path, nargs="+", help="run folders or checkpoints")
    sp.add_argument("--data", type=Path, required=True, help="prepared store folder")
    sp.add_argument("--weights", default="equal", choices=["equal", "val"],
                    help="equal weights, or weights chosen on the runs' validation split")
    sp.add_argument("--split", default="test", choices=["test", "train", "val"])
    sp.add_argument("--out", type=Path, default=None,
                    help="folder for metrics.json, confusion PNG, scores.npy, predictions.csv")
    sp.add_argument("--device", default=DEFAULT_DEVICE, help=DEVICE_CHOICES)
    _add_threads(sp)

    sp = add("export", cmd_export, "export a checkpoint as an ONNX model (logits + attention)")
    sp.add_argument("checkpoint", type=Path)
    sp.add_argument("--onnx", type=Path, required=True, metavar="MODEL.onnx",
                    help="output file; it holds the preprocessing settings and class names")
    sp.add_argument("--opset", type=int, default=17)
    sp.add_argument("--no-check", action="store_true",
                    help="skip the onnxruntime-vs-PyTorch check on a random batch")

    sp = add("report", cmd_report, "write report.html (curves, confusion, per-class accuracy, "
                                   "config, environment) and MODEL_CARD.md into a run folder")
    sp.add_argument("run", type=Path, help="folder of a finished mans train run")

    sp = add("show", cmd_show, "draw a skeleton file as a GIF/MP4 animation or a PNG strip, "
                               "with a model's attention and top-3 classes")
    sp.add_argument("file", type=Path)
    sp.add_argument("--out", type=Path, required=True, help="clip.gif (default kind), .mp4 or .png")
    sp.add_argument("--ckpt", type=Path, default=None,
                    help="checkpoint (.pt) or exported model (.onnx) whose attention to show")
    sp.add_argument("--format", default=None, help="reader to use (default: from the file name)")
    sp.add_argument("--fps", type=float, default=None, help="default: the file's, else 30")
    sp.add_argument("--key-frames", type=int, default=6, help="frames in a PNG strip")

    sp = add("stream", cmd_stream,
             "classify a live stream of frames (one JSON object per line) with a checkpoint")
    sp.add_argument("checkpoint", type=Path)
    sp.add_argument("--input", default="-", help="file to read frames from (default: stdin)")
    sp.add_argument("--follow", action="store_true",
                    help="keep reading a growing file at its end (like tail -f)")
    sp.add_argument("--idle-exit", type=float, default=None,
                    help="with --follow: stop after this many seconds without a new line")
    sp.add_argument("--stride", type=_positive_int, default=5, help="frames between predictions")
    sp.add_argument("--window", type=_positive_int, default=None,
                    help="frames in the ring buffer (default: the model's S)")
    sp.add_argument("--topk", type=_positive_int, default=5)
    sp.add_argument("--device", default=DEFAULT_DEVICE, help=DEVICE_CHOICES)
    sp.add_argument("--threads", type=_positive_int, default=1,
                    help="CPU threads of the model (default 1: one prediction of one window is "
                         "too small to gain from more, and extra threads stall on a busy "
                         "machine; docs/inference.md)")

    sp = add("demo", cmd_demo,
             "synthesise data, prepare it, train the ResNet variant and evaluate it")
    sp.add_argument("--out", type=Path, default=Path("mans-demo"), help="output folder")
    sp.add_argument("--epochs", type=_positive_int, default=None,
                    help="override the demo's epochs")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--force", action="store_true",
                    help="replace the results of an earlier demo in --out")
    _add_threads(sp)
    return p


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
    args = parser.parse_args(argv)
    if argv is None and args.command in _NETWORK_COMMANDS:  # a console run, not a library call
        _reexec_with_malloc_tunables(sys.argv[1:])
    debug = os.environ.get("MANS_DEBUG", "") not in ("", "0")
    try:
        onnx = args.command == "predict" and (args.onnx or args.checkpoint.suffix == ".onnx")
        if args.command in _NETWORK_COMMANDS and not onnx:  # onnx: torch is never imported
            from ..threads import configure_threads

            configure_threads(args.threads)
        return args.func(args)
    except _UsageError as e:
        parser.print_usage(sys.stderr)
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
        print(f"mans {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
