"""The TARM's attention on real data: the paper's form against the best planted variant, with
deletion curves.

    python bench/attention_deletion.py --json bench/attention_deletion.json    # ~20 min, 1 thread

For UT-Kinect (``xsub``, recipe ``utkinect-xsub-resnet``) and the HDM05 subset (``actors``,
``hdm05-resnet``), on the prepared stores ``--utkinect`` and ``--hdm05``: train the recipe with
the paper's attention and with the variant that put the most attention inside the planted window
in ``bench/attention_planted.json`` (or ``--variant``), for ``--seeds`` seeds (deterministic, one
CPU thread), and record per run

- the test accuracy, the last epoch's training loss and accuracy (augmented batches, as
  trained), the accuracy on the unaugmented training split;
- the attention's per-sequence max/min ratio on the test split (``metrics.json``, the label the
  model card prints);
- deletion curves (:mod:`mans.engine.deletion`) on the test split and on the training split
  (inner evidence, no test data): accuracy as 0-60 % of the frames the model sees are removed,
  most attended first, at random, least attended first.

Means over the seeds go to the JSON's ``summary``; the test-split deletion curves, averaged over
the seeds, are drawn in ``--png`` (one panel per dataset and variant).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
STORES = Path(os.environ.get("MANS_STORES", "/work/stores"))
DATASETS = (("utkinect", "utkinect-xsub-resnet", "xsub"), ("hdm05", "hdm05-resnet", "actors"))
PAPER = ("paper (sigmoid, time MLP, per channel)", [])


def best_planted(path: Path) -> tuple[str, list[str]]:
    """The variant of ``attention_planted.json`` with the largest mean attention mass inside the
    planted window (the paper's form excluded)."""
    doc = json.loads(path.read_text())
    others = [v for v in doc["variants"] if v["overrides"]]
    best = max(others, key=lambda v: v["mass"][0])
    return best["name"], best["overrides"]


def _last_epoch(run: Path) -> dict:
    import csv

    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"train_loss_last_epoch": round(float(rows[-1]["train_loss"]), 4),
            "train_acc_last_epoch": round(float(rows[-1]["train_acc"]), 4)}


def _mean_std(values) -> list[float]:
    v = np.asarray(values, dtype=np.float64)
    return [round(float(v.mean()), 4), round(float(v.std(ddof=1)) if v.size > 1 else 0.0, 4)]


def _mean_curves(curves: list[dict]) -> dict:
    return {"fractions": curves[0]["fractions"], "removed_mean": curves[0]["removed_mean"],
            "accuracy": {o: [round(float(v), 4) for v in
                             np.mean([c["accuracy"][o] for c in curves], axis=0)]
                         for o in curves[0]["accuracy"]}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "attention-deletion")
    p.add_argument("--json", type=Path, default=REPO / "bench" / "attention_deletion.json")
    p.add_argument("--png", type=Path, default=REPO / "bench" / "attention_deletion.png")
    p.add_argument("--planted", type=Path, default=REPO / "bench" / "attention_planted.json")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--deletion-seeds", type=int, default=3,
                   help="seeds whose runs get deletion curves (the first N)")
    p.add_argument("--variant", default=None,
                   help="comma-separated overrides of the variant (default: the best planted)")
    p.add_argument("--datasets", default="utkinect,hdm05")
    p.add_argument("--utkinect", type=Path, default=STORES / "utkinect")
    p.add_argument("--hdm05", type=Path, default=STORES / "hdm05")
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO / "bench"))
    import torch

    from accuracy import git_commit
    from mans.engine.deletion import deletion_curves, plot_deletion
    from mans.engine.evaluate import run_eval
    from mans.engine.train import run_training

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    best = (("variant", args.variant.split(",")) if args.variant
            else best_planted(args.planted))
    variants = {"paper": PAPER, "best": best}
    res = {"commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": "python bench/attention_deletion.py " + " ".join(
               sys.argv[1:] if argv is None else argv),
           "seeds": args.seeds, "deletion_seeds": min(args.deletion_seeds, args.seeds),
           "variants": {k: {"name": n, "overrides": o} for k, (n, o) in variants.items()},
           "datasets": []}
    wanted = args.datasets.split(",")
    for name, recipe, protocol in DATASETS:
        if name not in wanted:
            continue
        store = getattr(args, name)
        entry = {"dataset": name, "recipe": recipe, "protocol": protocol, "store": str(store),
                 "runs": [], "summary": {}}
        for key, (vname, overrides) in variants.items():
            for seed in range(args.seeds):
                out = args.out / name / f"{key}-seed{seed}"
                if not (out / "metrics.json").is_file():
                    run_training(recipe, data=store, out=out, device="cpu", deterministic=True,
                                 progress=False, overrides=[*overrides, f"train.seed={seed}"])
                m = json.loads((out / "metrics.json").read_text())
                tr = run_eval(out, data=store, split="train", device="cpu", progress=False)
                run = {"variant": key, "seed": seed, "top1": round(m["top1"], 4),
                       "n_test": m["n_test"], "train_top1_unaugmented": round(tr["top1"], 4),
                       **_last_epoch(out), "attention": m.get("attention")}
                if seed < args.deletion_seeds:
                    run["deletion"] = {s: deletion_curves(out, store, split=s, seed=seed,
                                                          device="cpu")
                                       for s in ("test", "train")}
                entry["runs"].append(run)
                print(name, key, seed, {k: v for k, v in run.items() if k != "deletion"},
                      flush=True)
            runs = [r for r in entry["runs"] if r["variant"] == key]
            entry["summary"][key] = {
                "top1": _mean_std([r["top1"] for r in runs]),
                "top1_per_seed": [r["top1"] for r in runs],
                "train_top1_unaugmented": _mean_std([r["train_top1_unaugmented"] for r in runs]),
                "train_loss_last_epoch": _mean_std([r["train_loss_last_epoch"] for r in runs]),
                "max_min_median": _mean_std([r["attention"]["max_min_median"] for r in runs
                                             if r.get("attention")]),
                "deletion": {s: _mean_curves([r["deletion"][s] for r in runs if "deletion" in r])
                             for s in ("test", "train")}}
        res["datasets"].append(entry)
    panels = {f"{e['dataset']}, {k}: {res['variants'][k]['name']}": s["deletion"]["test"]
              for e in res["datasets"] for k, s in e["summary"].items()}
    plot_deletion(panels, args.png, title=f"test-split accuracy as frames are removed (mean of "
                                          f"{res['deletion_seeds']} seeds)")
    res["png"] = str(args.png.relative_to(REPO)) if args.png.is_relative_to(REPO) else str(args.png)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
