"""The functions that run each ``mans`` subcommand: each takes the parsed arguments, calls one
library function and prints its result; the parser (:mod:`mans.cli.parser`) names them and
:func:`mans.cli.commands.main` dispatches to them."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from pathlib import Path

from ..outputs import check_out_file, check_out_folder, output_lock


class UsageError(Exception):
    """A wrong combination of options found after parsing: reported like argparse's (exit 2)."""


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=str))


# --- data --------------------------------------------------------------------------------------


def _lock(folder: Path | None, option: str = "--out"):
    """:func:`~mans.outputs.output_lock` on ``folder`` (nothing when None): one writer each."""
    return contextlib.nullcontext() if folder is None else output_lock(folder, option)


def cmd_synth(args: argparse.Namespace) -> int:
    from ..synth import write_synthetic

    with _lock(args.out, "OUT"):
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
        confidence=args.confidence, ann=args.ann, force=args.force,
    )
    from .prepare_summary import short_summary, skip_summary

    for line in skip_summary(manifest.get("skipped", [])):
        print(line, file=sys.stderr)
    _print_json(short_summary(manifest, args.out))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..data.store import is_store
    from .inspect import inspect_file, inspect_store

    def one(p: Path) -> dict:
        return inspect_store(p) if args.format is None and is_store(p) else inspect_file(
            p, fmt=args.format)

    _print_json([one(p) for p in args.files] if len(args.files) > 1 else one(args.files[0]))
    return 0


# --- model -------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from ..engine.train import run_training

    if args.config is None and not args.resume:
        raise UsageError("train: the CONFIG argument is required (except with --resume, which "
                          "uses the run's saved config)")
    metrics = run_training(
        args.config, data=args.data, out=args.out, overrides=args.set, resume=args.resume,
        device=args.device, deterministic=args.deterministic, progress=not args.quiet,
    )
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary (rank 0's)
        _print_json({k: v for k, v in metrics.items() if not isinstance(v, (list, dict))})
    return 0


def eval_out_folder(args: argparse.Namespace) -> Path | None:
    """The folder ``mans eval`` will write (``--out``, a ``.json``'s folder, or with
    ``--attention`` alone the checkpoint's), checked before any work; None when it writes
    nothing."""
    if args.out is not None:
        if args.out.suffix.lower() == ".json":
            return check_out_file(args.out, "--out").parent
        return check_out_folder(args.out)
    if args.attention:  # attention.json / .png go beside the checkpoint
        target = Path(args.target)
        return check_out_folder(target if target.is_dir() else target.parent, "--attention")
    return None


def cmd_eval(args: argparse.Namespace) -> int:
    from ..engine.evaluate import run_eval

    with _lock(eval_out_folder(args)):
        metrics = run_eval(args.target, data=args.data, split=args.split, device=args.device,
                           out=args.out, progress=not args.quiet, attention=args.attention)
    _print_json({k: v for k, v in metrics.items() if not isinstance(v, (list, dict))})
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    if args.window is not None or args.stride is not None:
        return _predict_timeline(args)
    if args.timeline_out is not None:
        raise UsageError("--timeline-out goes with --window and --stride")
    from ..inference.records import format_prediction

    failed: list[dict] = []  # one bad file does not stop the others (reported, exit 1)
    if args.onnx or args.checkpoint.suffix == ".onnx":  # onnxruntime; torch is never imported
        from ..inference.onnx_predict import predict_files_onnx

        if args.ckpt:
            raise UsageError("--ckpt (fusing checkpoints) is for PyTorch checkpoints, not --onnx")
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

    if args.out is not None:
        check_out_folder(args.out)
    with _lock(args.out):
        metrics = run_ensemble(args.runs, data=args.data, weights=args.weights,
                               split=args.split, out=args.out, device=args.device,
                               progress=not args.quiet)
    _print_json({k: v for k, v in metrics.items() if not isinstance(v, dict)})
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..inference.export import export_onnx

    check_out_file(args.onnx, "--onnx")  # before the model is built and traced
    _print_json(export_onnx(args.checkpoint, args.onnx, opset=args.opset,
                            check=not args.no_check))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from ..viz.show import show

    check_out_file(args.out, "--out")  # before the file is read and drawn
    info = show(args.file, args.out, ckpt=args.ckpt, fmt=args.format, fps=args.fps,
                key_frames=args.key_frames)
    _print_json({k: v for k, v in info.items() if k != "bones"})
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..engine.report import write_report

    with _lock(args.run, "RUN"):
        _print_json(write_report(args.run))
    return 0


def _predict_timeline(args: argparse.Namespace) -> int:
    from ..inference.api import load
    from ..inference.records import predict_each
    from ..inference.timeline import check_timeline_out, write_timelines

    if args.window is None or args.stride is None:
        raise UsageError("--window and --stride go together")
    if args.ckpt or args.onnx or args.checkpoint.suffix == ".onnx":
        raise UsageError("--window works with one PyTorch checkpoint (not --ckpt or --onnx)")
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
    skipped = run_stream(clf, args.input, stride=args.stride, window=args.window,
                         topk=args.topk, follow=args.follow, idle_exit=args.idle_exit)
    if skipped:  # each was reported on its line; the stream went on
        print(f"mans stream: {skipped} input lines skipped", file=sys.stderr)
    return 1 if skipped else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out, epochs=args.epochs, seed=args.seed, progress=not args.quiet,
             force=args.force)
    return 0


def resume_hint(args: argparse.Namespace) -> str:
    """What ``mans train`` says when interrupted: the exact command that resumes the run (its
    ``last.pt``), or that no epoch was saved yet."""
    out = Path(args.out)
    if not (out / "last.pt").is_file():
        return "no epoch was saved yet: run the same command again to start over"
    cmd = ["mans", "train", "--resume", "--data", str(args.data), "--out", str(out)]
    if args.device != "auto":
        cmd += ["--device", args.device]
    if args.deterministic:
        cmd.append("--deterministic")
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    if args.quiet:
        cmd.append("-q")
    return f"resume with: {shlex.join(cmd)}"
