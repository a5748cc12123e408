"""bench/decimals.py: its token extraction and that its table's check (bit-exact against
``float()``) holds on the real NTU samples; the timings themselves are in docs/performance.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import decimals as bench  # noqa: E402


def test_tokens_are_the_joint_line_fields(tmp_path):
    f = tmp_path / "a.skeleton"
    f.write_bytes(b"1\n1\n72057594037931101 0 1 1 1 1 0 0.02 -0.1 2\n25\n"
                  b"0.2181 0.1725 3.785 277.1 191.1 1036 0 -0.2 0.1 -0.0 0.9 2\n")
    tokens = bench.tokens_of(f)
    assert tokens[:3] == [b"72057594037931101", b"0", b"1"] and len(tokens) == 22
    buf, ends, lengths = bench.buffer_of(tokens)
    assert [bytes(buf[e - n:e]) for e, n in zip(ends, lengths)] == tokens


def test_bench_runs_and_is_exact_on_the_real_samples(ntu_samples, tmp_path):
    out = tmp_path / "d.json"
    assert bench.main(["--data", str(ntu_samples), "--repeats", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["files"]
    assert len(rows) == 5 and all(r["exact"] and r["converted"] > 0.99 * r["numbers"]
                                  for r in rows)
