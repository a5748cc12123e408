"""Frame-level accuracy of ``mans predict --window W --stride K`` on whole UT-Kinect recordings.

    python bench/timeline_utkinect.py                      # train (xsub recipe, seed 0), measure
    python bench/timeline_utkinect.py --checkpoint RUN/last.pt --window 30 20 --stride 5

1. A model is trained on the training subjects (odd: the ``xsub`` protocol) with the benchmark
   recipe ``utkinect-xsub-resnet`` (bench/accuracy.py; seed 0, one CPU thread), unless
   ``--checkpoint`` gives one.
2. Each recording of the test subjects (even subjects, both runs: 10 files, each holding all ten
   actions) is classified window by window (:meth:`mans.inference.api.Classifier.timeline`); each row gets
   the argmax of the summed probabilities of the windows covering it
   (:func:`mans.inference.timeline.frame_labels`).
3. Truth: the row's action segment in ``actionLabel.txt`` (as cut by the dataset reader: boundaries
   snapped to frame numbers, the listed fix applied); rows between actions have no label and are
   not scored.

Reported per window size: frame-level accuracy over labelled rows (all test recordings pooled),
per recording, and segment accuracy (the majority of a segment's rows predicted correctly); with
the recipe, commit, date and training time. Results: ``--json`` (default
bench/timeline_utkinect.json).
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
RAW = SHARED / "utkinect"
NEAR = 15  # rows: "near a boundary" (half a default window)


def truth_rows(raw: Path) -> dict[str, tuple[Path, np.ndarray]]:
    """``{recording: (joints file, (T,) int label per row, -1 between actions)}`` for the test
    subjects (even)."""
    from mans.datasets import get_dataset
    from mans.formats.utkinect import read_joints_table

    spec = get_dataset("utkinect")
    out: dict[str, tuple[Path, np.ndarray]] = {}
    for item in spec.discover(raw, {}).items:
        if int(item.info["subject"]) % 2:
            continue
        rec = Path(item.path).stem[len("joints_"):]
        if rec not in out:
            frames, _ = read_joints_table(item.path)
            out[rec] = (Path(item.path), np.full(frames.shape[0], -1), frames)  # type: ignore
        path, labels, frames = out[rec]  # type: ignore[misc]
        mask = (frames >= item.info["start"]) & (frames <= item.info["end"])
        labels[mask] = item.info["label"]
    return {k: (v[0], v[1]) for k, v in out.items()}


RECIPE = "utkinect-xsub-resnet"


def train(out: Path, threads: int) -> Path:
    import torch

    from mans.engine.train import run_training
    from mans.data.prepare import prepare

    torch.set_num_threads(threads)
    store = out / "store"
    prepare("utkinect", RAW, store, view="authors", workers=1, progress=False)
    m = run_training(RECIPE, data=store, out=out / "run",
                     overrides=["train.seed=0"], device="cpu", deterministic=True,
                     progress=False)
    return out / "run" / m["checkpoint"]


def _run_top1(ckpt: Path) -> float | None:
    metrics = ckpt.parent / "metrics.json"
    return round(json.loads(metrics.read_text())["top1"], 4) if metrics.is_file() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--out", type=Path, default=REPO / "runs" / "timeline-utkinect")
    p.add_argument("--window", type=int, nargs="+", default=[30, 20])
    p.add_argument("--stride", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=REPO / "bench" / "timeline_utkinect.json")
    args = p.parse_args(argv)
    import torch

    import mans

    from accuracy import git_commit

    t0 = time.perf_counter()
    ckpt = args.checkpoint or train(args.out, args.threads)
    train_s = time.perf_counter() - t0
    torch.set_num_threads(args.threads)
    clf = mans.load(ckpt)
    res = {"recipe": RECIPE if args.checkpoint is None else None, "checkpoint": str(ckpt),
           "stream": clf.predictor.stream, "commit": git_commit(),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "load_avg_1min": os.getloadavg()[0],
           "train_s": None if args.checkpoint else round(train_s, 1),
           # the same model on the pre-cut test segments (engine metrics of its run), if known
           "cut_segments_top1": _run_top1(Path(ckpt)),
           "command": "python bench/timeline_utkinect.py " + " ".join(
               sys.argv[1:] if argv is None else argv),
           "windows": [measure(clf, w, args.stride) for w in args.window]}
    args.json.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))
    return 0


def measure(clf, window: int, stride: int) -> dict:
    """Frame-level and segment accuracy of ``clf``'s timelines of the test recordings."""
    per, hits, total, seg_ok, seg_n = {}, 0, 0, 0, 0
    near = np.zeros(2, dtype=np.int64)  # [correct, rows] within NEAR rows of a label change
    far = np.zeros(2, dtype=np.int64)
    for rec, (path, truth) in sorted(truth_rows(RAW).items()):
        tl = clf.timeline(path, window=window, stride=stride)
        pred = tl.frame_labels()
        scored = truth >= 0
        ok = (pred == truth) & scored
        per[rec] = round(float(ok.sum() / scored.sum()), 4)
        change = np.flatnonzero(np.diff(truth) != 0) + 0.5  # between rows of different labels
        dist = np.abs(np.arange(truth.size)[:, None] - change[None]).min(axis=1)
        for acc, mask in ((near, scored & (dist < NEAR)), (far, scored & (dist >= NEAR))):
            acc += [int((ok & mask).sum()), int(mask.sum())]
        hits, total = hits + int(ok.sum()), total + int(scored.sum())
        for c in np.unique(truth[scored]):
            rows = truth == c
            seg_n += 1
            seg_ok += int((pred[rows] == c).mean() > 0.5)
    return {"window": window, "stride": stride,
            "frame_accuracy": round(hits / total, 4), "labelled_rows": total,
            "segment_accuracy": round(seg_ok / seg_n, 4), "segments": seg_n,
            f"accuracy_within_{NEAR}_rows_of_a_boundary": round(near[0] / near[1], 4),
            "rows_near": int(near[1]), "accuracy_elsewhere": round(far[0] / far[1], 4),
            "rows_elsewhere": int(far[1]), "per_recording": per}


if __name__ == "__main__":
    raise SystemExit(main())
