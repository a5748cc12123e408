"""Training speed alone and next to a competing CPU-bound process, per torch thread setting.

Each measurement is a fresh child process (so that the thread count is set before torch starts
any parallel region) that trains the demo network -- ``mans_resnet``, S = 50, 60 classes, batch
32, the engine's ``train_step`` with the recipe's SGD, channels-last convolutions as in training
-- on random inputs for a fixed wall time after 2 warm-up steps, and reports the median step time.
Thread settings:

- ``torch-default``: nothing set (no ``OMP_NUM_THREADS``, no ``set_num_threads``): what every
  command used before ``mans.threads``;
- ``mans-default``: :func:`mans.threads.configure_threads` with no ``--threads``: the CPUs this
  process may use (affinity mask, capped by a cgroup CPU quota);
- ``--threads 1``: :func:`mans.threads.configure_threads` with 1.

Each setting runs alone and while a ``while True: pass`` Python process (one CPU-bound thread)
runs beside it, in ``--rounds`` rounds that take the settings in turn (so slow drifts of the
machine's other load hit every setting alike); the table shows each round's median step time and
the faster one. The machine's other load is recorded (``/proc/loadavg`` before and after).

    python bench/threads.py --json out.json    # ~1 min on a quiet 2-core machine (6 runs)
    python bench/threads.py --rounds 2 --json bench/threads.json   # as in docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
SETTINGS = {"torch-default": None, "mans-default": "default", "--threads 1": 1}


def worker(setting: str, seconds: float) -> dict:
    """Child process: train for ``seconds`` under ``setting``; median step time and threads."""
    import numpy as np
    import torch

    from mans.engine.train import train_step
    from mans.models import build_model
    from mans.threads import configure_threads

    if setting == "default":
        configure_threads(None)
    elif setting != "none":
        configure_threads(int(setting))
    torch.manual_seed(0)
    model = build_model("mans_resnet", num_classes=60)
    model.stcm.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                          weight_decay=1e-4)
    x = torch.randn(32, 3, 50, 50)  # (B, C, S, S)
    y = torch.randint(0, 60, (32,))
    model.train()
    for _ in range(2):  # warm-up: allocator, oneDNN primitive caches
        train_step(model, x, y, opt)
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t0 = time.perf_counter()
        train_step(model, x, y, opt)
        times.append(time.perf_counter() - t0)
    step = float(np.median(times))
    return {"threads": torch.get_num_threads(), "steps": len(times), "step_s": round(step, 4),
            "samples_per_s": round(32 / step, 1)}


def measure(setting: str, competitor: bool, seconds: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    hog = None
    if competitor:
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.5)
    try:
        arg = "none" if SETTINGS[setting] is None else str(SETTINGS[setting])
        out = subprocess.run([sys.executable, __file__, "--worker", arg, "--seconds",
                              str(seconds)], env=env, capture_output=True, text=True, check=True)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return {"setting": setting, "competitor": competitor, **json.loads(out.stdout)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="timed training per run")
    p.add_argument("--rounds", type=int, default=1, help="runs of each setting, taken in turn")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.seconds)))
        return 0

    sys.path.insert(0, SRC)
    from mans.threads import available_cpus

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    runs = [measure(s, c, args.seconds) for _ in range(args.rounds) for c in (False, True)
            for s in SETTINGS]
    rows = []
    for c in (False, True):
        for s in SETTINGS:
            mine = [r for r in runs if r["setting"] == s and r["competitor"] == c]
            best = min(mine, key=lambda r: r["step_s"])
            rows.append({**best, "step_s_rounds": [r["step_s"] for r in mine]})
    result = {
        "cpus_available": available_cpus(), "cpu_count": os.cpu_count(),
        "loadavg_before": load_before, "loadavg_after": Path("/proc/loadavg").read_text()
        .split()[:3], "seconds_per_run": args.seconds, "rows": rows,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    print("| setting | competitor | threads | median step per round (s) | best samples/s |")
    print("|---|---|---|---|---|")
    for r in rows:
        rounds = ", ".join(f"{t:.3f}" for t in r["step_s_rounds"])
        print(f"| {r['setting']} | {'yes' if r['competitor'] else 'no'} | {r['threads']} | "
              f"{rounds} | {r['samples_per_s']:.1f} |")
    print(f"load average before {' '.join(load_before)}, after "
          f"{' '.join(result['loadavg_after'])}; {result['cpus_available']} CPUs available")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
