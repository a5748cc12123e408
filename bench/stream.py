"""Latency and sustained input rate of ``mans stream`` (the ResNet variant, on CPU).

    python bench/stream.py                       # 2 threads, 1500 frames, both inputs
    python bench/stream.py --threads 1 --frames 600

What is measured: the per-line code of ``mans stream`` (:func:`mans.inference.live.parse_line`: JSON
parsing, ring buffer, and every ``--stride`` frames the prepare + model forward of the buffer),
fed as fast as it will go from lines held in memory:

* **latency per prediction**: ``latency_ms`` of each prediction (prepare the buffered window +
  model forward), p50 and p99;
* **sustained input rate**: input frames / wall time over the whole run (parsing included);
* with ``--threads 1``, also the **CPU time** of the (only) working thread per prediction and
  frames per CPU second: the cost without waiting for a CPU, i.e. what an otherwise idle core
  would take -- the fair number on a machine shared with other jobs. (With more threads the
  thread's CPU time misses the other threads' work and means nothing.)

Inputs (real motion, repeated to ``--frames`` frames):

* ``ntu25-3d``: the frames of a real two-person NTU RGB+D sample (``../shared/data``) as
  ``{"joints": (2, 25, 3)}`` lines, into the paper's ResNet variant (S = 50, view ``authors``,
  2 bodies = 50 joint columns);
* ``coco17-2d``: the same motion projected to 2-D pixels
  (:func:`mans.data.views2d.pinhole_project`), as COCO-style ``{"people": [...]}`` lines with
  scores, into the ResNet variant with the 2-D view and the confidence channel (S = 50, 1 body).

The networks are untrained (seeded random weights, :func:`mans.inference.api.save_untrained`): latency does
not depend on the weights. Stride 5, window = S = 50 frames. Results: ``--json`` (default
bench/stream.json); the target of issue 11 is >= 30 input frames/s with a prediction every 5
frames and p99 latency < 20 ms on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MANS_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE = SHARED / "ntu-samples" / "S001C003P008R002A058.skeleton"  # two people, 70 frames


def lines_for(kind: str, frames: int) -> list[str]:
    from mans.formats import read_sequence
    from mans.data.views2d import pinhole_project

    seq = read_sequence(SAMPLE)
    j = seq.joints  # (T, 2, 25, 3)
    reps = -(-frames // j.shape[0])
    j = np.concatenate([j] * reps)[:frames]
    if kind == "ntu25-3d":
        return [json.dumps({"joints": np.round(f, 4).tolist()}) for f in j]
    uv = pinhole_project(j)  # (T, 2, 25, 2): NTU joints -> pixels; keep 17 COCO-like joints
    pick = [3, 4, 8, 4, 8, 4, 8, 5, 9, 6, 10, 12, 16, 13, 17, 14, 18]  # head/eyes/ears ~ head
    out = []
    for f in uv[:, :, pick]:
        people = [{"keypoints": np.round(p, 2).tolist(), "keypoint_scores": [0.9] * 17}
                  for p in f if p.any()]
        out.append(json.dumps({"people": people}))
    return out


def measure(kind: str, frames: int, stride: int, ckpt_dir: Path) -> dict:
    import mans
    from mans.inference.api import save_untrained
    from mans.inference.live import parse_line

    if kind == "ntu25-3d":
        ckpt = save_untrained(ckpt_dir / "ntu.pt", layout="ntu25",
                              prep={"view": "authors", "max_bodies": 2}, class_names=list(
                                  map(str, range(60))))
    else:
        ckpt = save_untrained(ckpt_dir / "coco.pt", layout="coco17",
                              prep={"view": "2d", "max_bodies": 1, "confidence": True},
                              class_names=list(map(str, range(60))))
    clf = mans.load(ckpt)
    lines = lines_for(kind, frames)
    warm = clf.stream(stride=stride)
    for i, line in enumerate(lines[:100]):  # warm-up: allocator, first forward passes
        parse_line(warm, line, "warm", i)
    stream = clf.stream(stride=stride)
    lat, cpu_pred = [], []
    t0, c0 = time.perf_counter(), time.thread_time()
    for i, line in enumerate(lines):
        c = time.thread_time()
        r = parse_line(stream, line, "bench", i + 1)
        if r is not None:
            lat.append(r["latency_ms"])
            cpu_pred.append(1000 * (time.thread_time() - c))
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    lat, cpu_pred = np.array(lat), np.array(cpu_pred)
    return {"input": kind, "size": clf.size, "window": stream.window, "stride": stride,
            "frames": frames, "predictions": int(lat.size),
            "latency_ms_p50": round(float(np.percentile(lat, 50)), 2),
            "latency_ms_p99": round(float(np.percentile(lat, 99)), 2),
            "latency_ms_max": round(float(lat.max()), 2),
            "input_fps": round(frames / wall, 1), "wall_s": round(wall, 2),
            # CPU time of this thread (= all the work with 1 torch thread): what the run costs
            # without waiting for a busy CPU, i.e. the latency on an otherwise idle core
            "cpu_ms_per_prediction_p50": round(float(np.percentile(cpu_pred, 50)), 2),
            "cpu_ms_per_prediction_p99": round(float(np.percentile(cpu_pred, 99)), 2),
            "input_fps_per_cpu_second": round(frames / cpu, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--frames", type=int, default=1500)
    p.add_argument("--stride", type=int, default=5)
    p.add_argument("--inputs", nargs="+", default=["ntu25-3d", "coco17-2d"])
    p.add_argument("--json", type=Path, default=REPO / "bench" / "stream.json")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        rows = [measure(k, args.frames, args.stride, Path(d)) for k in args.inputs]
    res = {"threads": args.threads, "torch": torch.__version__, "python": sys.version.split()[0],
           "machine": platform.machine(), "cpus": os.cpu_count(),
           "loadavg_before": [round(x, 2) for x in load_before],
           "loadavg_after": [round(x, 2) for x in os.getloadavg()], "results": rows,
           "command": "python bench/stream.py " + " ".join(argv or sys.argv[1:])}
    args.json.write_text(json.dumps(res, indent=1) + "\n")
    for r in rows:
        print(f"{r['input']:10s} S={r['size']} stride {r['stride']}: latency p50 "
              f"{r['latency_ms_p50']} ms, p99 {r['latency_ms_p99']} ms; sustained "
              f"{r['input_fps']} input frames/s ({r['predictions']} predictions); thread CPU "
              f"time per prediction p50 {r['cpu_ms_per_prediction_p50']} ms, p99 "
              f"{r['cpu_ms_per_prediction_p99']} ms; {r['input_fps_per_cpu_second']} frames per "
              f"CPU second")
    print(f"load average before/after: {res['loadavg_before']} / {res['loadavg_after']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
