"""Does the TARM's attention find the frames that carry the class? The planted-signal benchmark.

    python bench/attention_planted.py --json bench/attention_planted.json      # ~6 min, 1 thread

Data (:mod:`mans.synth.planted`, seed 0): 5 classes, 12 performers x 5 replications (200
training, 100 test sequences of 64-96 frames, performers 3, 6, 9, 12 in the test split); in each
sequence only a window of 25-40 % of the frames holds the class motion, the rest is idle or a
distractor motion that is never a class. Written as a custom folder, prepared with
``mans prepare custom`` (view ``authors``), trained with the small-data recipe
(``custom-small-resnet``: S = 32, augmentation on) for ``--epochs`` epochs, one CPU thread,
deterministic, per variant (:data:`VARIANTS`) and seed.

Measured on the test split, per sequence, from the attention of the model's intact input
(:mod:`mans.attention_stats`; the curve is the mean of the x, y, z weights over the rows that
hold a frame, and a row is in the window when the frame it holds is):

- ``mass``: share of the attention inside the window; ``uniform_mass``: the same for equal
  weights (the share of the rows in the window), what an attention that does not select gets;
- ``spearman``: rank correlation of the weights with the window indicator (0: none, 1: every
  window row above every other row);
- ``max_min``: the median of the per-sequence max/min ratios (the label ``mans predict`` prints);
- ``mass_ge_70``: the share of test sequences with at least 70 % of their attention inside;

and the test accuracy; ``train_accuracy`` and ``train_mass`` are the same on the (unaugmented)
training split. Means and standard deviations are over the seeds. A variant "attends"
when its mass is far above ``uniform_mass``; the issue's bar is 70 % of the mass in the window.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# name -> model/train overrides; the first is the paper's form (the defaults)
VARIANTS: dict[str, list[str]] = {
    "paper (sigmoid, time MLP, per channel)": [],
    "softmax": ["model.attention_form=softmax"],
    "softmax, frame scope": ["model.attention_form=softmax", "model.attention_scope=frame"],
    "softmax + entropy 1": ["model.attention_form=softmax", "train.attention_entropy=1.0"],
    "softmax, memory, frame scope + entropy 1": [
        "model.attention_form=softmax", "model.attention_scope=frame",
        "model.attention_source=memory", "train.attention_entropy=1.0"],
    "softmax, memory, frame scope + entropy 1, no residual": [
        "model.attention_form=softmax", "model.attention_scope=frame",
        "model.attention_source=memory", "train.attention_entropy=1.0", "model.residual=false"],
}
RECIPE = "custom-small-resnet"


def planted_attention(run: Path, store_path: Path, split: str = "test") -> dict:
    """Accuracy and the window measures of one trained run on ``split`` of the planted store
    (see the module docstring); per-sequence values are averaged."""
    import torch

    from mans.attention_stats import max_min_ratio, spearman, window_mass
    from mans.engine.checkpoint import build_model_from_checkpoint
    from mans.engine.evaluate import checkpoint_split, open_checkpoint

    opened = open_checkpoint(run, store_path)
    state, store = opened["state"], opened["store"]
    model = build_model_from_checkpoint(state, torch.device("cpu")).eval()
    idx = checkpoint_split(state, store, split, opened["ckpt"])
    pipe, S = opened["pipeline"], state.data.size
    images = np.stack([pipe.sample(store.sequence(int(i)))[0] for i in idx])
    with torch.no_grad():
        logits, att = model(torch.from_numpy(images), return_attention=True)
    pred = logits.argmax(1).numpy()
    att = att.numpy().mean(axis=1)  # (N, S): mean of the channels
    mass, uniform, rho, ratio = [], [], [], []
    for i, curve in zip(idx, att):
        extra = store.meta[int(i)]["extra"]
        start, stop = int(extra["window_start"]), int(extra["window_stop"])
        rows = pipe.rows(int(store.lengths[int(i)]))  # the frame each row holds (test time)
        keep = rows >= 0
        inside = keep & (rows >= start) & (rows < stop)
        mass.append(window_mass(curve, inside, keep))
        uniform.append(window_mass(np.ones(S), inside, keep))
        rho.append(spearman(curve, inside.astype(float), keep))
        ratio.append(max_min_ratio(curve, keep))
    rho = np.asarray(rho)
    return {"accuracy": float((pred == store.labels[idx]).mean()), "n": int(len(idx)),
            "mass": float(np.mean(mass)), "uniform_mass": float(np.mean(uniform)),
            "mass_ge_70": float(np.mean(np.asarray(mass) >= 0.7)),
            "spearman": float(np.nanmean(rho)) if np.isfinite(rho).any() else None,
            "max_min": float(np.median(ratio))}


def _mean_std(values: list[float]) -> list[float]:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    return [round(float(v.mean()), 4), round(float(v.std(ddof=1)) if v.size > 1 else 0.0, 4)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "runs" / "attention-planted")
    p.add_argument("--json", type=Path, default=REPO / "bench" / "attention_planted.json")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--variants", default="", help="comma-separated indices of VARIANTS "
                   "(default: all)")
    p.add_argument("--subjects", type=int, default=12)
    p.add_argument("--replications", type=int, default=5)
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO / "bench"))
    import torch

    from accuracy import git_commit
    from mans.data.prepare import prepare
    from mans.engine.train import run_training
    from mans.synth.planted import write_planted

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    names = list(VARIANTS)
    chosen = [names[int(i)] for i in args.variants.split(",")] if args.variants else names
    raw, store = args.out / "raw", args.out / "store"
    data = (json.loads((raw / "planted.json").read_text()) if (raw / "planted.json").is_file()
            else write_planted(raw, seed=0, subjects=args.subjects,
                               replications=args.replications))
    if not store.is_dir():
        prepare("custom", raw, store, workers=1, progress=False)
    res = {"commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": "python bench/attention_planted.py " + " ".join(
               sys.argv[1:] if argv is None else argv),
           "data": {k: data[k] for k in ("files", "train", "test", "classes", "window_share")},
           "recipe": RECIPE, "epochs": args.epochs, "seeds": args.seeds, "variants": []}
    for name in chosen:
        runs = []
        for seed in range(args.seeds):
            out = args.out / "runs" / f"v{names.index(name)}-seed{seed}"
            if not (out / "metrics.json").is_file():
                run_training(RECIPE, data=store, out=out, device="cpu", deterministic=True,
                             progress=False, overrides=[*VARIANTS[name], f"train.seed={seed}",
                                                        f"train.epochs={args.epochs}"])
            r = planted_attention(out, store)
            tr = planted_attention(out, store, "train")  # the training split, unaugmented
            r.update({"train_accuracy": tr["accuracy"], "train_mass": tr["mass"]})
            runs.append({"seed": seed, **{k: (round(v, 4) if isinstance(v, float) else v)
                                          for k, v in r.items()}})
            print(name, runs[-1], flush=True)
        res["variants"].append({
            "name": name, "overrides": VARIANTS[name], "runs": runs,
            **{k: _mean_std([r[k] for r in runs])
               for k in ("accuracy", "mass", "uniform_mass", "mass_ge_70", "spearman",
                         "max_min", "train_accuracy", "train_mass")}})
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    args.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
