"""Benchmark of ``mans prepare`` on NTU-format files, and of loading the resulting store.

Builds ``--files`` (default 2,000) NTU ``.skeleton`` files in a temporary folder -- copies of the
real samples in ``shared/data/ntu-samples`` under distinct, valid NTU-60 names (the action of the
copied sample, setup/camera/performer/replication varied) -- and prepares them with each worker
count in ``--workers`` (default ``1,2``), every run in a fresh subprocess so that its peak memory is
its own. Reports files/s and peak resident memory (``getrusage``: the main process, and the
largest worker), a per-stage profile of one sample (read / prepare_sequence / IPC pickling /
writing), and the loader's samples/s on the store.

The copies are freshly written, so they are in the page cache: the numbers exclude cold-disk reads.

    python bench/prepare_speed.py --json bench-prepare.json
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SAMPLES = Path(os.environ.get("MANS_SHARED_DATA", REPO.parent / "shared" / "data")) \
    / "ntu-samples"
NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})\.skeleton$")


def build_raw(samples: Path, raw: Path, n: int) -> int:
    """Write ``n`` copies of the ``*.skeleton`` files in ``samples`` under distinct NTU-60 names:
    copy ``k`` is sample ``k % 5`` with setup 1-17, camera 1-3, performer 1-40 and replication 1-2
    enumerated from ``k // 5`` (4,080 names per sample). Returns the bytes written."""
    sources = sorted(samples.glob("*.skeleton"))
    if not sources:
        raise SystemExit(f"no .skeleton files in {samples}")
    raw.mkdir(parents=True, exist_ok=True)
    total = 0
    for k in range(n):
        src = sources[k % len(sources)]
        action = int(NAME.search(src.name).group(5))
        j = k // len(sources)
        if j >= 17 * 3 * 40 * 2:
            raise SystemExit(f"at most {17 * 3 * 40 * 2 * len(sources)} distinct names")
        setup, camera, performer, rep = 1 + j % 17, 1 + j // 17 % 3, 1 + j // 51 % 40, 1 + j // 2040
        dst = raw / f"S{setup:03d}C{camera:03d}P{performer:03d}R{rep:03d}A{action:03d}.skeleton"
        shutil.copyfile(src, dst)
        total += dst.stat().st_size
    return total


def child(raw: Path, out: Path, workers: int, dataset: str) -> dict:
    """One timed prepare run (in its own process)."""
    from mans.data.prepare import prepare

    t0 = time.perf_counter()
    m = prepare(dataset, raw, out, workers=workers, progress=False)
    dt = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "workers": workers, "seconds": dt, "found": m["found"], "prepared": m["prepared"],
        "skipped": len(m["skipped"]), "files_per_s": m["found"] / dt,
        "peak_rss_main_mb": me.ru_maxrss / 1024,
        "peak_rss_largest_worker_mb": kids.ru_maxrss / 1024,
        "cpu_s_main": me.ru_utime + me.ru_stime, "cpu_s_workers": kids.ru_utime + kids.ru_stime,
        "frames": m["frames_shape"][0],
        # CPU milliseconds per file: on a loaded machine these stay honest where files/s do not
        "cpu_ms_per_file_main": 1000 * (me.ru_utime + me.ru_stime) / m["found"],
        "cpu_ms_per_file_workers": 1000 * (kids.ru_utime + kids.ru_stime) / m["found"],
        "load_avg_1min_after": os.getloadavg()[0],
    }


def profile_stages(samples: Path, dataset: str, reps: int) -> dict:
    """Mean CPU milliseconds per file of each stage, on the real samples, in this process
    (``time.process_time``, so other load on the machine does not inflate them)."""
    from mans.datasets import get_dataset
    from mans.data.spec import PrepConfig
    from mans.data.pipeline import prepare_sequence

    spec = get_dataset(dataset)
    cfg = PrepConfig("authors", spec.max_bodies)
    items = spec.discover(samples, {}).items
    t = {"read": 0.0, "prepare_sequence": 0.0, "pickle_roundtrip": 0.0, "write": 0.0}
    n = 0
    with tempfile.TemporaryFile() as f:
        for _ in range(reps):
            for item in items:
                t0 = time.process_time()
                seq = spec.read(item)
                t1 = time.process_time()
                x = prepare_sequence(seq, cfg)
                t2 = time.process_time()
                block = np.ascontiguousarray(x.transpose(1, 0, 2))
                pickle.loads(pickle.dumps((block, seq.metadata()), pickle.HIGHEST_PROTOCOL))
                t3 = time.process_time()
                f.write(memoryview(block).cast("B"))
                t4 = time.process_time()
                t["read"] += t1 - t0
                t["prepare_sequence"] += t2 - t1
                t["pickle_roundtrip"] += t3 - t2
                t["write"] += t4 - t3
                n += 1
    return {k: 1000 * v / n for k, v in t.items()} | {"files": n}


def loader_speed(store: Path, sizes: tuple[int, ...], seconds: float = 2.0) -> dict:
    """samples/s of :class:`SkeletonDataset` indexing (one process), and of DataLoaders with 0
    and 2 workers (batch 64, shuffled; timed from the first batch, so worker start-up is not
    counted, over at least ``seconds``)."""
    import torch
    from torch.utils.data import DataLoader

    from mans.data.dataset import SkeletonDataset
    from mans.data.pipeline import InputPipeline
    from mans.data.store import PreparedStore

    s = PreparedStore.open(store)
    res = {}
    for size in sizes:
        ds = SkeletonDataset(s, np.arange(len(s)), InputPipeline.for_store(s, size))
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            ds[n % len(ds)]
            n += 1
        res[f"getitem_S{size}_per_s"] = n / (time.perf_counter() - t0)
        for workers in (0, 2):
            loader = DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers,
                                persistent_workers=workers > 0,
                                generator=torch.Generator().manual_seed(0))
            n, t0 = -1, None
            while t0 is None or time.perf_counter() - t0 < seconds:
                for x, _ in loader:
                    if t0 is None:
                        n, t0 = 0, time.perf_counter()
                    else:
                        n += x.shape[0]
            res[f"dataloader{workers}w_S{size}_per_s"] = n / (time.perf_counter() - t0)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--dataset", default="ntu60")
    ap.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--reps", type=int, default=40, help="profile repetitions of the 5 samples")
    ap.add_argument("--child", nargs=3, metavar=("RAW", "OUT", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        raw, out, w = args.child
        print(json.dumps(child(Path(raw), Path(out), int(w), args.dataset)))
        return 0

    result = {"files": args.files, "dataset": args.dataset, "cpus": os.cpu_count(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="mans-bench-") as tmp:
        raw = Path(tmp) / "raw"
        t0 = time.perf_counter()
        result["raw_mb"] = build_raw(args.samples, raw, args.files) / 2**20
        print(f"built {args.files} files ({result['raw_mb']:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
        for w in [int(v) for v in args.workers.split(",")]:
            out = Path(tmp) / f"store-{w}"
            p = subprocess.run([sys.executable, __file__, "--dataset", args.dataset, "--child",
                                str(raw), str(out), str(w)], capture_output=True, text=True)
            if p.returncode != 0:
                print(p.stderr, file=sys.stderr)
                return p.returncode
            run = json.loads(p.stdout.strip().splitlines()[-1])
            result["runs"].append(run)
            print(f"workers={w}: {run['files_per_s']:7.1f} files/s  ({run['seconds']:.2f} s, "
                  f"{run['prepared']} prepared, {run['skipped']} skipped)  peak RSS main "
                  f"{run['peak_rss_main_mb']:.0f} MB, largest worker "
                  f"{run['peak_rss_largest_worker_mb']:.0f} MB; CPU ms/file main "
                  f"{run['cpu_ms_per_file_main']:.2f}, "
                  f"workers {run['cpu_ms_per_file_workers']:.2f};"
                  f" load avg {run['load_avg_1min_after']:.1f}")
        stores = [Path(tmp) / f"store-{r['workers']}" for r in result["runs"]]
        result["identical_arrays_across_workers"] = all(
            (a / f).read_bytes() == (stores[0] / f).read_bytes()
            for a in stores[1:] for f in ("frames.npy", "offsets.npy", "labels.npy"))
        result["profile_ms_per_file"] = profile_stages(args.samples, args.dataset, args.reps)
        print("per-file stages (CPU ms): " + ", ".join(
            f"{k} {v:.3f}" for k, v in result["profile_ms_per_file"].items() if k != "files"))
        result["loader"] = loader_speed(stores[-1], (50, 224))
        print("loader (samples/s): " + ", ".join(f"{k} {v:.0f}"
                                                 for k, v in result["loader"].items()))
    print(f"arrays identical across worker counts: {result['identical_arrays_across_workers']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
