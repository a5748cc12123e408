"""``mans demo``: the whole path on built-in synthetic data, in minutes on a laptop CPU.

synthesise NTU-format files -> prepare (ntu60 layout, authors' view transform) -> train the ResNet
variant with the ``demo`` config (validation-selected) -> evaluate once on the cross-subject test split
-> print a summary table with the paths of the figures.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from ..errors import ConfigError
from ..outputs import output_lock

MARKER = "mans-demo.json"


def _claim_folder(out: Path, force: bool = False) -> None:
    """Use ``out`` only if it is empty or absent, or, with ``force``, an earlier demo's folder
    (whose results are replaced). A folder that is not a demo's is never touched."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise ConfigError(
                f"{out} exists and is not a mans demo folder; choose an empty or new --out"
            )
        if not force:
            raise ConfigError(f"{out} holds an earlier demo's results; pass --force to replace "
                              f"them, or choose an empty or new --out")
        for sub in ("raw", "prepared", "run"):
            shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"status": "running"}))


def run_demo(out: Path, *, epochs: int | None = None, seed: int = 0, progress: bool = True,
             force: bool = False) -> dict:
    """Run the demo into ``out`` and return the run's metrics (``metrics.json`` contents).

    ``out`` must be empty or absent; ``force`` lets it be an earlier demo's folder (replaced).
    ``epochs`` (>= 1) overrides the demo config's number of epochs."""
    out = Path(out)
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    with output_lock(out):
        _claim_folder(out, force)
        return _run(out, epochs, seed, progress)


def _run(out: Path, epochs: int | None, seed: int, progress: bool) -> dict:
    """:func:`run_demo` in its claimed, locked folder."""
    from ..engine.train import run_training
    from ..data.prepare import prepare
    from ..synth import write_synthetic

    t0 = time.perf_counter()
    synth = write_synthetic(out / "raw", seed=seed, progress=progress)
    t_synth = time.perf_counter()
    manifest = prepare("ntu60", out / "raw", out / "prepared", view="authors", progress=progress)
    t_prep = time.perf_counter()
    overrides = [f"train.seed={seed}"] + ([f"train.epochs={epochs}"] if epochs is not None else [])
    metrics = run_training("demo", data=out / "prepared", out=out / "run", overrides=overrides,
                           progress=progress)
    t_end = time.perf_counter()

    timings = {
        "synth_s": round(t_synth - t0, 1),
        "prepare_s": round(t_prep - t_synth, 1),
        "train_eval_s": round(t_end - t_prep, 1),
        "total_s": round(t_end - t0, 1),
    }
    summary = {
        "status": "done",
        "files": synth.get("files"),
        "prepared": manifest["prepared"],
        "skipped": len(manifest["skipped"]),
        "timings": timings,
        "run": str(out / "run"),
    }
    (out / MARKER).write_text(json.dumps(summary, indent=2))
    _print_table(metrics, summary, out / "run")
    return metrics


def _print_table(metrics: dict, summary: dict, run: Path) -> None:
    sel = metrics.get("selection", "val")
    rows = [
        ("data", f"{summary['files']} synthetic NTU-format files, {summary['prepared']} prepared, "
                 f"{summary['skipped']} skipped"),
        ("protocol", f"{metrics.get('protocol', 'xsub')} (test split evaluated once)"),
        ("selection", f"{sel}, epoch {metrics.get('selected_epoch')}"),
        ("top-1", f"{metrics['top1']:.4f}"),
        ("top-5", f"{metrics['top5']:.4f}"),
        ("mean class acc", f"{metrics['mean_class_acc']:.4f}"),
        ("time", f"{summary['timings']['total_s']:.0f} s (synth {summary['timings']['synth_s']:.0f}, "
                 f"prepare {summary['timings']['prepare_s']:.0f}, train+eval "
                 f"{summary['timings']['train_eval_s']:.0f})"),
        ("metrics", str(run / "metrics.json")),
    ]
    rows += [(k, str(run / n)) for k, n in (("report", "report.html"),
                                             ("model card", "MODEL_CARD.md"))
             if (run / n).is_file()]
    rows += [("figure", str(p)) for p in sorted(run.glob("*.png"))]
    width = max(len(k) for k, _ in rows)
    print()
    print("mans demo: MANs (ResNet variant) on synthetic NTU cross-subject")
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")
