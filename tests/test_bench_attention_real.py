"""bench/attention_real.py's summary of an attention.json, against hand-computed numbers (the
training runs themselves are the benchmark)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import attention_real  # noqa: E402


def test_summary_by_hand(tmp_path):
    doc = {"rows": 4, "classes": {
        "a": {"mean": [0.5, 0.6, 0.7, None]},   # spread 0.2
        "b": {"mean": [0.4, 0.5, 0.6, 0.45]},   # spread 0.2; rows 0-2 rise like a's: r = 1
        "c": {"mean": [0.7, 0.6, 0.5, 0.5]}}}   # spread 0.2; falls over rows 0-2: r = -1
    f = tmp_path / "attention.json"
    f.write_text(json.dumps(doc))
    s = attention_real.summarise(f)
    assert s["range"] == [0.4, 0.7] and s["spread"] == [0.2, 0.2]
    assert s["rows_all_classes"] == 3  # row 3: class a has no frame there
    # pairs: (a,b) = 1, (a,c) = -1, (b,c) = -1 -> mean -1/3, lowest -1
    assert s["correlation_mean"] == -0.33 and s["correlation_min"] == -1.0
    assert s["classes"] == 3 and s["rows"] == 4
