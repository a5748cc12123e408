"""Train and evaluate a config (default ``ntu60-xsub-cooccurrence``) from a prepared store on one
CUDA GPU, within a time budget, resumably: ``bash bench/gpu.sh --train STORE`` runs this.

- bf16 autocast on CUDA (the config's ``train.amp``), a checkpoint (``last.pt``) after every
  epoch (the trainer's), the run folder under ``$OUT/run`` so that it comes back with the results;
- epochs run one at a time (``train.stop_after_epoch``, then ``--resume``: the engine's resume is
  bit-exact), until the config's epochs are done or the next epoch would not end inside
  ``MANS_GPU_TRAIN_S`` seconds (measured epoch times, with a reserve for the evaluation);
- ``--resume-from DIR``: a run folder that an earlier call brought back (``$OUT/run`` of that
  call): it is copied to ``$OUT/run`` and continued;
- when every epoch is done the trainer's final test evaluation is in ``run/metrics.json``;
  otherwise ``last.pt`` is evaluated on the test split (``MANS_GPU_EVAL=0`` skips it), labelled
  ``partial`` with its epoch;
- ``$OUT/gpu-train.json`` (written after every epoch): status (``running``, ``partial``,
  ``done``), device, config, epochs done, per-epoch rows of ``metrics.csv``, training samples/s,
  the test metrics.

``--dry-run`` runs the same path on the CPU with a tiny network and 2 epochs (the test
tests/test_bench_gpu.py does it on synthetic NTU-format data).

    python bench/gpu_train.py STORE [--config NAME] [--resume-from DIR] [--dry-run]
Knobs (environment): MANS_GPU_TRAIN_S=480, MANS_GPU_MAX_EPOCHS (epochs of this call; default:
as many as fit), MANS_GPU_EVAL=1, MANS_GPU_WORKERS (data.num_workers; default the config's).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

# the dry run: the same path, sized for a CPU in seconds
DRY = ["model.size=16", "model.hidden=8", "model.cooc_width=16", "train.batch_size=8",
       "train.epochs=2", "data.num_workers=0", "train.scheduler.warmup_epochs=1",
       "train.scheduler.milestones=[1]"]


def epochs_done(run: Path) -> int:
    """Completed epochs of the run folder (0 without ``last.pt``)."""
    from mans.engine.checkpoint import load_checkpoint

    if not (run / "last.pt").is_file():
        return 0
    return int(load_checkpoint(run / "last.pt")["train"]["epoch"])


def rows(run: Path) -> list[dict]:
    if not (run / "metrics.csv").is_file():
        return []
    with open(run / "metrics.csv") as f:
        return [{k: float(v) for k, v in r.items() if v not in ("", None)}
                for r in csv.DictReader(f)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store")
    ap.add_argument("--config", default="ntu60-xsub-cooccurrence")
    ap.add_argument("--resume-from", default=None)
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--set", action="append", default=[], help="extra config overrides")
    args = ap.parse_args(argv)

    import torch

    from mans.engine.config import load_config
    from mans.engine.evaluate import run_eval
    from mans.engine.train import run_training

    t_start = time.perf_counter()
    budget = float(os.environ.get("MANS_GPU_TRAIN_S", "480"))
    max_epochs = os.environ.get("MANS_GPU_MAX_EPOCHS")
    max_epochs = int(max_epochs) if max_epochs else None
    out = Path(os.environ.get("OUT") or ".")
    out.mkdir(parents=True, exist_ok=True)
    run, result_path = out / "run", out / "gpu-train.json"
    if args.resume_from and Path(args.resume_from).resolve() != run.resolve():
        if run.exists():
            sys.exit(f"gpu_train: {run} exists; cannot copy --resume-from {args.resume_from}")
        shutil.copytree(args.resume_from, run)
    if not args.dry_run and not torch.cuda.is_available():
        sys.exit("gpu_train: torch sees no CUDA device (use --dry-run to check the path on CPU)")
    device = "cpu" if args.dry_run else "cuda"
    overrides = [*(DRY if args.dry_run else []), *args.set]
    workers = os.environ.get("MANS_GPU_WORKERS")
    if workers:
        overrides.append(f"data.num_workers={int(workers)}")
    cfg = load_config(args.config, overrides)
    epochs = cfg.train.epochs
    result = {"status": "running", "dry_run": args.dry_run, "config": args.config,
              "overrides": overrides, "store": str(args.store), "run": str(run),
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "torch": torch.__version__, "epochs": epochs, "amp": "bf16 autocast (cuda)",
              "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run)",
              "budget_s": budget}

    def save(**kw):
        result.update(kw, seconds=time.perf_counter() - t_start)
        hist = rows(run)
        result["history"] = hist
        result["epochs_done"] = len(hist)
        times = [r["time"] for r in hist if "time" in r]
        if times:
            n = _train_samples(run)
            result["epoch_s_median"] = sorted(times)[len(times) // 2]
            if n:
                result["train_samples_per_s"] = n / result["epoch_s_median"]
        result_path.write_text(json.dumps(result, indent=2))

    this_call, epoch_s = 0, 0.0
    reserve = 0.0 if args.dry_run else 60.0  # the final (or partial) test evaluation
    while True:
        done = epochs_done(run)
        if done >= epochs:
            break
        if max_epochs is not None and this_call >= max_epochs:
            break
        left = budget - (time.perf_counter() - t_start)
        if this_call and left < 1.3 * epoch_s + reserve:
            break
        t0 = time.perf_counter()
        stop = [f"train.stop_after_epoch={done + 1}"]
        if done == 0 and not (run / "last.pt").exists():
            run_training(args.config, data=args.store, out=run, overrides=[*overrides, *stop],
                         device=device, progress=False)
        else:
            keep = [o for o in overrides if o.startswith(("data.num_workers=",))]
            run_training(args.config, data=args.store, out=run, overrides=[*keep, *stop],
                         resume=True, device=device, progress=False)
        epoch_s = max(epoch_s, time.perf_counter() - t0)
        this_call += 1
        print(f"gpu_train: epoch {done + 1}/{epochs} in {time.perf_counter() - t0:.1f} s",
              flush=True)
        save()

    done = epochs_done(run)
    if done >= epochs:
        if not (run / "metrics.json").is_file():  # the last epoch ran as a stopped call
            run_training(args.config, data=args.store, out=run, resume=True, device=device,
                         progress=False)
        save(status="done", test=json.loads((run / "metrics.json").read_text()))
    elif done and os.environ.get("MANS_GPU_EVAL", "1") == "1":
        m = run_eval(run / "last.pt", data=args.store, split="test", device=device,
                     progress=False)
        save(status="partial", test={**m, "partial_after_epoch": done})
    else:
        save(status="partial")
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=2))
    return 0


def _train_samples(run: Path) -> int:
    """Training samples per epoch of the run (from its last checkpoint)."""
    from mans.engine.checkpoint import load_checkpoint

    if not (run / "last.pt").is_file():
        return 0
    return int(load_checkpoint(run / "last.pt")["train"]["split_sizes"]["train"])


if __name__ == "__main__":
    sys.exit(main())
