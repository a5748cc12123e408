"""Decimal conversion in the NTU reader: ``float()`` one token at a time against
:func:`mans.formats.decimals.parse_decimals` over all of a file's tokens at once.

The tokens are every coordinate field of the real NTU samples in ``../shared/data/ntu-samples``
(all the numbers of the joint lines). Both ways give the same float64 values (checked here, bit for
bit); the figures are nanoseconds per number, the median of ``--repeats`` rounds, on this machine.

    python bench/decimals.py --json bench/decimals.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from mans.formats.decimals import WIDTH, parse_decimals

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MANS_SHARED_DATA", REPO.parent / "shared" / "data")) / "ntu-samples"


def tokens_of(path: Path) -> list[bytes]:
    """Every whitespace-separated field of the lines with more than 3 fields (the joint lines)."""
    out: list[bytes] = []
    for line in path.read_bytes().splitlines():
        fields = line.split()
        if len(fields) > 3:
            out += fields
    return out


def buffer_of(tokens: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(buf, ends, lengths)`` for :func:`parse_decimals`: the tokens joined by spaces after
    WIDTH bytes of padding."""
    text = bytes(WIDTH) + b" ".join(tokens)
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    ends = WIDTH + np.cumsum(lengths + 1) - 1
    return np.frombuffer(text, dtype=np.uint8), ends, lengths


def median_ns(fn, n: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder of NTU .skeleton files")
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args(argv)
    files = sorted(args.data.glob("*.skeleton"))
    if not files:
        raise SystemExit(f"no .skeleton files in {args.data}")
    rows, load_before = [], os.getloadavg()
    for f in files:
        tokens = tokens_of(f)
        buf, ends, lengths = buffer_of(tokens)
        values, ok = parse_decimals(buf, ends, lengths)
        reference = np.array([float(t) for t in tokens])
        exact = bool(np.array_equal(values[ok], reference[ok]))
        n = len(tokens)
        py = median_ns(lambda: [float(t) for t in tokens], n, args.repeats)
        vec = median_ns(lambda: parse_decimals(buf, ends, lengths), n, args.repeats)
        rows.append({"file": f.name, "numbers": n, "converted": int(ok.sum()), "exact": exact,
                     "float_ns": round(py, 1), "parse_decimals_ns": round(vec, 1),
                     "speedup": round(py / vec, 2)})
        print(f"{f.name}: {n} numbers ({int(ok.sum())} vectorised, bit-exact {exact}): "
              f"float() {py:.0f} ns, parse_decimals {vec:.0f} ns per number ({py / vec:.1f}x)")
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": platform.processor() or platform.machine(),
              "python": sys.version.split()[0], "numpy": np.__version__,
              "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
              "command": "python bench/decimals.py " + " ".join(
                  sys.argv[1:] if argv is None else argv),
              "repeats": args.repeats, "files": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
