"""bench/gpu.sh --train (bench/gpu_train.py) on the CPU: the NTU-60 co-occurrence config trained
from a store of synthetic NTU-format files with the script's --dry-run sizes, cut after one epoch
and resumed from the folder the first call left, as a GPU session would be; the resumed run
ends as an uninterrupted one. Nothing here is timed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def synth_store(tmp_path_factory) -> Path:
    from mans.data.prepare import prepare
    from mans.synth import write_synthetic

    root = tmp_path_factory.mktemp("gpu")
    write_synthetic(root / "raw", subjects=2, replications=1, progress=False)
    prepare("ntu60", root / "raw", root / "store", workers=1, progress=False)
    return root / "store"


def gpu_train(out: Path, store: Path, *args: str, **env) -> dict:
    e = {**os.environ, "OUT": str(out), "OMP_NUM_THREADS": "1", **env}
    p = subprocess.run(["bash", str(REPO / "bench" / "gpu.sh"), "--train", str(store),
                        "--dry-run", *args], env=e, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads((out / "gpu-train.json").read_text())


def test_dry_run_trains_cuts_and_resumes(synth_store, tmp_path):
    first = gpu_train(tmp_path / "a", synth_store, MANS_GPU_MAX_EPOCHS="1")
    assert first["status"] == "partial" and first["epochs_done"] == 1
    assert first["config"] == "ntu60-xsub-cooccurrence" and first["epochs"] == 2
    assert first["test"]["partial_after_epoch"] == 1 and first["test"]["n"] == 48
    resumed = gpu_train(tmp_path / "b", synth_store, "--resume-from", str(tmp_path / "a" / "run"))
    assert resumed["status"] == "done" and resumed["epochs_done"] == 2
    assert (tmp_path / "b" / "run" / "metrics.json").is_file()
    whole = gpu_train(tmp_path / "c", synth_store)
    assert whole["status"] == "done"
    drop = lambda rows: [{k: v for k, v in r.items() if k != "time"} for r in rows]  # noqa
    assert drop(resumed["history"]) == drop(whole["history"])
    assert resumed["test"]["top1"] == whole["test"]["top1"]
    assert resumed["test"]["loss"] == pytest.approx(whole["test"]["loss"], abs=1e-12)
    cfg = json.loads(json.dumps(whole["overrides"]))
    assert "model.size=16" in cfg  # the dry-run sizes, not the config's 64 frames
