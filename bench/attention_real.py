"""What the TARM's per-class attention looks like on real data (the table in docs/training.md).

    python bench/attention_real.py --json bench/attention_real.json

For UT-Kinect (``xsub``) and the HDM05 subset (``actors``): prepare the shared data, train the
benchmark recipe (seed 0, deterministic, one CPU thread), run ``mans eval --attention`` on the
test split, and summarise its ``attention.json``: the range of all class curves, the spread
(max - min over the rows) of each class's curve, and the Pearson correlation between the curves of
every two classes over the rows where every class has frames.
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
SHARED = Path(os.environ.get("MANS_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASETS = (("utkinect", SHARED / "utkinect", "utkinect-xsub-resnet"),
            ("hdm05", SHARED / "hdm05-subset", "hdm05-resnet"))


def summarise(attention_json: Path) -> dict:
    """Range, per-class spread and between-class correlation of the curves in ``attention_json``
    (a file written by ``mans eval --attention``)."""
    doc = json.loads(attention_json.read_text())
    curves = np.array([[np.nan if v is None else v for v in c["mean"]]
                       for c in doc["classes"].values()])  # (K, S)
    spread = np.nanmax(curves, axis=1) - np.nanmin(curves, axis=1)  # (K,)
    full = np.isfinite(curves).all(axis=0)  # rows where every class has frames
    corr = np.corrcoef(curves[:, full])  # (K, K)
    off = corr[~np.eye(len(corr), dtype=bool)]
    return {"classes": len(curves), "rows": int(curves.shape[1]),
            "range": [round(float(np.nanmin(curves)), 3), round(float(np.nanmax(curves)), 3)],
            "spread": [round(float(spread.min()), 3), round(float(spread.max()), 3)],
            "rows_all_classes": int(full.sum()),
            "correlation_mean": round(float(off.mean()), 2),
            "correlation_min": round(float(off.min()), 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "attention-real")
    p.add_argument("--json", type=Path, default=REPO / "bench" / "attention_real.json")
    args = p.parse_args(argv)
    import torch

    from accuracy import git_commit
    from mans.engine.evaluate import run_eval
    from mans.engine.train import run_training
    from mans.data.prepare import prepare

    torch.set_num_threads(1)
    res = {"commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": "python bench/attention_real.py " + " ".join(
               sys.argv[1:] if argv is None else argv), "runs": []}
    for name, raw, recipe in DATASETS:
        out = args.out / name
        prepare(name, raw, out / "store", workers=1, progress=False)
        m = run_training(recipe, data=out / "store", out=out / "run", overrides=["train.seed=0"],
                         device="cpu", deterministic=True, progress=False)
        ev = run_eval(out / "run", data=out / "store", device="cpu", out=out / "eval",
                      progress=False, attention=True)
        res["runs"].append({"dataset": name, "recipe": recipe, "epochs": m["epochs"],
                            "test_samples": ev["n"], "top1": round(ev["top1"], 4),
                            **summarise(out / "eval" / "attention.json")})
        print(json.dumps(res["runs"][-1]))
    args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
