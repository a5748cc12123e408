"""``mans prepare`` replaces nothing without --force (and with it, the old store stays whole until
the new one is complete), and its view normalisation follows the data (2d for 2-D coordinates,
authors for 3-D; an explicit --view wins; an impossible one names the views that work).

Before: an existing store of another dataset was silently replaced (exit 0), and a 2-D PYSKL
pickle did not prepare without --view ("view normalisation 'authors' cannot run on layout
'coco17'")."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mans
from mans.cli.commands import main
from mans.data.prepare import prepare
from mans.data.store import PreparedStore
from mans.errors import ConfigError
from mans.outputs import lock_file

SRC = str(Path(mans.__file__).resolve().parents[1])
SLOW_DATASET = '''
import os, time
from pathlib import Path
import numpy as np
from mans.datasets import DatasetSpec, Discovery, Item, register_dataset, split_indices
from mans.skeleton import Sequence

def _discover(raw, options):
    return Discovery(items=[Item(key=p.stem, path=p) for p in sorted(Path(raw).glob("*.npy"))])

def _read(item):
    time.sleep(float(os.environ.get("SLOW_READ_S", "0")))
    if os.environ.get("SLOW_LOG"):  # the reads done so far, for a test to watch
        with open(os.environ["SLOW_LOG"], "a") as f:
            f.write(item.key + "\\n")
    return Sequence(joints=np.load(item.path), layout="ntu25", name=item.key,
                    label=int(item.key[-1]) % 2, source=str(item.path))

register_dataset(DatasetSpec(
    name="slowtest", layout="ntu25", max_bodies=1, class_names=lambda raw: ["a", "b"],
    discover=_discover, read=_read, default_protocol="all",
    protocols=lambda meta: {"all": split_indices(np.arange(len(meta)) % 2 == 0)}))
'''


@pytest.fixture()
def slow(tmp_path, monkeypatch):
    """A registered dataset ``slowtest`` (importable as ``slowds`` in subprocesses too) whose
    reads sleep ``$SLOW_READ_S``, and its raw folder of 40 sequences."""
    (tmp_path / "slowds.py").write_text(SLOW_DATASET)
    monkeypatch.syspath_prepend(str(tmp_path))
    import slowds  # noqa: F401  (registers the dataset)

    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        joints = rng.normal(scale=0.2, size=(20, 1, 25, 3)) + [0.0, 0.0, 3.0]
        np.save(raw / f"clip{i:02d}.npy", joints.astype(np.float32))
    return raw


def snapshot(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(store.iterdir())}


def test_an_existing_store_is_refused_without_force(slow, utkinect_dir, tmp_path, capsys):
    out = tmp_path / "store"
    prepare("slowtest", slow, out, workers=1, progress=False)
    before = snapshot(out)
    # another dataset into it: refused before its raw folder is read
    assert main(["prepare", "utkinect", "--raw", str(utkinect_dir), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"mans prepare: error: --out {out} already holds a prepared store (dataset "
                   f"'slowtest', 40 samples); pass --force to replace it (the old store stays "
                   f"whole until the new one is complete), or choose another --out")
    assert snapshot(out) == before
    with pytest.raises(ConfigError, match="already holds a prepared store .*; pass --force"):
        prepare("slowtest", slow, out, workers=1, progress=False)  # the same dataset too
    assert snapshot(out) == before
    assert main(["prepare", "utkinect", "--raw", str(utkinect_dir), "--out", str(out), "-q",
                 "--force"]) == 0
    assert PreparedStore.open(out).dataset == "utkinect"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_kill_9_during_prepare_force_leaves_the_old_store_whole(slow, tmp_path, capsys):
    out = tmp_path / "store"
    prepare("slowtest", slow, out, workers=1, progress=False)
    before = snapshot(out)
    code = ("import sys, slowds\nfrom mans.data.prepare import prepare\n"
            "prepare('slowtest', sys.argv[1], sys.argv[2], force=True, workers=1, "
            "progress=False)\n")  # mans prepare --force, on a dataset the CLI cannot name
    log = tmp_path / "reads.txt"
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{SRC}", SLOW_READ_S="0.2",
               SLOW_LOG=str(log))
    proc = subprocess.Popen([sys.executable, "-c", code, str(slow), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 120
        while True:  # until the new store is being written: its frames.npy open, 10 samples read
            new = [p / "frames.npy" for p in tmp_path.glob(".store.tmp-*")]
            if new and new[0].is_file() and log.is_file() and len(log.read_text().split()) > 10:
                break
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert list(tmp_path.glob(".store.tmp-*"))  # the half-made store, beside the old one
    assert snapshot(out) == before  # the old store, byte for byte
    assert len(PreparedStore.open(out)) == 40
    assert main(["inspect", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["store"], summary["dataset"], summary["prepared"]) == (str(out), "slowtest",
                                                                           40)
    # the next prepare (its lock held by nobody now) cleans up what the killed one left
    assert lock_file(out).is_file()
    prepare("slowtest", slow, out, workers=1, progress=False, force=True)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert snapshot(out).keys() == before.keys()


# --- the view follows the data ------------------------------------------------------------------


def _pickle_2d(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    anns = []
    for i in range(8):
        kp = rng.uniform(100, 400, size=(1, 12, 17, 2)).astype(np.float32)
        anns.append({"frame_dir": f"clip{i}", "label": i % 2, "keypoint": kp,
                     "keypoint_score": np.full((1, 12, 17), 0.9, np.float32)})
    path = tmp_path / "hrnet_2d.pkl"
    path.write_bytes(pickle.dumps({"split": {"xsub_train": [f"clip{i}" for i in range(4)],
                                             "xsub_val": [f"clip{i}" for i in range(4, 8)]},
                                   "annotations": anns}))
    return path


def test_a_2d_pickle_prepares_with_the_2d_view_by_default(tmp_path, capsys):
    ann = _pickle_2d(tmp_path)
    assert main(["prepare", "pyskl", "--ann", str(ann), "--out", str(tmp_path / "s")]) == 0
    cap = capsys.readouterr()
    assert "prepare: view '2d', the default for 2-D coordinates (--view chooses another)" in cap.err
    assert json.loads(cap.out)["view"] == "2d"
    assert PreparedStore.open(tmp_path / "s").prep["view"] == "2d"
    # an explicit --view wins
    assert main(["prepare", "pyskl", "--ann", str(ann), "--out", str(tmp_path / "n"), "-q",
                 "--view", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["view"] == "none"


def test_an_impossible_view_names_the_views_that_work(tmp_path, capsys):
    ann = _pickle_2d(tmp_path)
    assert main(["prepare", "pyskl", "--ann", str(ann), "--out", str(tmp_path / "s"), "-q",
                 "--view", "authors"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("mans prepare: error: view normalisation "
                                              "'authors' cannot run on layout 'coco17'")
    assert err.endswith("views that work on these data: none, 2d (--view)"), err
    assert not (tmp_path / "s").exists()


def test_3d_data_keep_the_authors_view_by_default(slow, tmp_path, capsys):
    m = prepare("slowtest", slow, tmp_path / "s", workers=1)
    assert m["prep"]["view"] == "authors"
    assert "prepare: view 'authors', the default for 3-D coordinates" in capsys.readouterr().err
