"""The README's Python API example runs as written (in a folder laid out as `mans demo` leaves it,
with an untrained checkpoint of the demo's kind and a real NTU file under the demo's name).

The run folder holds only ``last.pt``, as a run with ``selection: last`` leaves it (no
``best.pt``): the example must load the run folder, which works for every selection."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

from mans.inference.api import save_untrained

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_api_example_runs(tmp_path, ntu_samples, monkeypatch, capsys):
    text = README.read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 13  # imports + the ten lines of the issue
    (tmp_path / "mans-demo" / "raw").mkdir(parents=True)
    shutil.copy(ntu_samples / "S001C001P001R001A011.skeleton",
                tmp_path / "mans-demo" / "raw" / "S001C001P001R001A006.skeleton")
    save_untrained(tmp_path / "mans-demo" / "run" / "last.pt", layout="ntu25",
                   prep={"view": "authors", "max_bodies": 2},
                   class_names=[f"class {i}" for i in range(10)],
                   size=50, hidden=8, resnet_width=8, resnet_stages=[1])
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4
    assert out[0].startswith("{'label': ") and "'prob': " in out[0]
    assert out[1].startswith("class ")
    # the segments printed are those of the 4 windows (0-29, 10-39, 20-49, 30-59), merged
    import mans
    from mans.inference.timeline import merge_segments

    tl = mans.load("mans-demo/run").timeline(
        np.random.default_rng(0).normal(size=(60, 25, 3)).astype("float32"), window=30, stride=10)
    assert [(w["start"], w["end"]) for w in tl.windows] == [(0, 29), (10, 39), (20, 49), (30, 59)]
    segs = merge_segments(tl.windows)
    assert segs[0]["start"] == 0 and segs[-1]["end"] == 59
    assert out[2] == str([(s["start"], s["end"], s["class"]) for s in segs])
    assert out[3].startswith("class ") and out[3].endswith(" ms")
