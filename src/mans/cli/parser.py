"""The ``mans`` argument parser: every subcommand, its options and their checks."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import __version__
from ..devices import DEFAULT_DEVICE, DEVICE_CHOICES
from .subcommands import (cmd_demo, cmd_ensemble, cmd_eval, cmd_export, cmd_inspect,
                          cmd_predict, cmd_prepare, cmd_report, cmd_show, cmd_stream, cmd_synth,
                          cmd_train)


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
    sp.add_argument("--view", default=None, choices=["authors", "gcn", "none", "2d"],
                    help="view normalisation: authors' PCA frame (the default for 3-D data), "
                         "GCN-style spine centring + rotation, none, or 2d (image key points: "
                         "hip-centred, torso-scaled; the default for 2-D data)")
    sp.add_argument("--max-bodies", type=_positive_int, default=None,
                    help="body slots kept (default: the dataset's; custom/pyskl: the most "
                         "bodies found in one frame, at most 2)")
    sp.add_argument("--confidence", action="store_true",
                    help="view 2d: joint scores as a third input channel")
    sp.add_argument("--workers", type=_positive_int, default=None,
                    help="processes (default: all cores)")
    sp.add_argument("--force", action="store_true",
                    help="replace an existing store at --out (the new one is written beside it "
                         "and renamed into place when complete)")
    sp.add_argument("--missing-list", type=Path, default=None,
                    help="NTU: official samples_with_missing_skeletons.txt; listed files are "
                         "skipped with that reason")

    sp = add("inspect", cmd_inspect, "print a JSON summary of skeleton files (or of a prepared "
                                     "store, checking its files)")
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


def subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``command`` (for its usage line)."""
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command]
