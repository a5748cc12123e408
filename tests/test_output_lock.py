"""One writer per output folder (mans.outputs.output_lock): a second writer fails at once with one
line naming the folder and the process holding it; a lock left by a killed process blocks nobody.

Before the lock, two trainings started into one --out either died on
``last.pt.tmp -> last.pt: No such file or directory`` or both exited 0 with a config.yaml of one
run and a metrics.json of the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import mans
from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.engine.train import run_training
from mans.outputs import FolderInUse, lock_file, output_lock

SRC = str(Path(mans.__file__).resolve().parents[1])  # the mans under test, for subprocesses
ENV = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1")
HOLD = ("import sys, time\nfrom mans.outputs import output_lock\n"
        "with output_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(600)\n")


def wait_for_lock(folder: Path, pid: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until process ``pid`` holds the lock of ``folder`` (its PID is in the lock file)."""
    path = lock_file(folder)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.is_file() and path.read_text().startswith(f"{pid} "):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{pid} never locked {folder}")


def train_cmd(store: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mans", "train", "base", "--data", str(store), "--out", str(out),
            "-q", "--threads", "1", *[a for s in TINY for a in ("--set", s)], *extra]


def test_two_trainings_into_one_folder(tiny_store, tmp_path):  # noqa: F811
    """The second training fails at once with one line naming the folder and the first's PID;
    the first's outputs are whole and of one run (its lr everywhere)."""
    out = tmp_path / "run"
    first = subprocess.Popen(train_cmd(tiny_store, out), env=ENV, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lock(out, first.pid, first)
        first.send_signal(signal.SIGSTOP)  # holds the lock while the second one starts
        second = subprocess.run(train_cmd(tiny_store, out, "--set", "train.lr=0.002"), env=ENV,
                                capture_output=True, text=True, timeout=300)
    finally:
        first.send_signal(signal.SIGCONT)
    out1, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 1 and second.stdout == ""
    err = second.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"mans train: error: --out {out} is in use by process {first.pid} "
                          f"(mans train base --data "), err
    assert err.endswith("wait for it to finish or choose another --out")
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["train"]["lr"] == 0.05  # the first's (TINY), not the second's 0.002
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 and float(rows[1].split(",")[1]) == 0.05  # epoch 1's lr
    log = (out / "train.log").read_text()
    assert log.count(" on enginetest/xsub: ") == 1  # one run's lines
    assert '"top1"' in (out / "metrics.json").read_text() and not lock_file(out).exists()


def test_a_lock_left_by_a_killed_process_does_not_block(tiny_store, tmp_path):  # noqa: F811
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], env=ENV,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(FolderInUse, match=rf"^--out {out} is in use by process "
                                              rf"{holder.pid} \("):
            run_training("base", data=tiny_store, out=out, overrides=TINY, progress=False)
    finally:
        holder.kill()  # kill -9: no clean-up runs
        holder.wait(timeout=60)
    assert lock_file(out).read_text().startswith(f"{holder.pid} ")  # left behind
    metrics = run_training("base", data=tiny_store, out=out,
                           overrides=[*TINY, "train.epochs=1"], progress=False)
    assert metrics["top1"] >= 0 and not lock_file(out).exists()


def test_the_lock_is_one_per_folder_and_nests_in_one_process(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with output_lock(a):
        assert lock_file(a).read_text().startswith(f"{os.getpid()} ")
        with output_lock(a), output_lock(b):  # this process holds a already; b is another
            pass
        assert lock_file(a).exists() and not lock_file(b).exists()
        code = ("import sys\nfrom mans.outputs import output_lock\n"
                "with output_lock(sys.argv[1], 'RUN'):\n    pass\n")
        other = subprocess.run([sys.executable, "-c", code, str(a)], env=ENV,
                               capture_output=True, text=True, timeout=120)
        assert other.returncode == 1 and f"FolderInUse: RUN {a} is in use by process " \
            f"{os.getpid()}" in other.stderr
    assert not lock_file(a).exists()  # removed on release
    with output_lock(a, enabled=False):  # e.g. a DDP rank other than 0
        assert not lock_file(a).exists()


def test_a_folder_whose_parent_cannot_be_written_is_locked_inside(tmp_path, monkeypatch):
    """E.g. ``mans eval RUN --out metrics.json`` in a home folder: the lock goes inside."""
    import errno

    folder = tmp_path / "home"
    folder.mkdir()
    real_open = os.open

    def no_parent(path, *args):
        if Path(path) == lock_file(folder):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args)

    monkeypatch.setattr(os, "open", no_parent)
    with output_lock(folder):
        assert (folder / ".mans.lock").read_text().startswith(f"{os.getpid()} ")
        assert not lock_file(folder).exists()
    assert list(folder.iterdir()) == []  # removed on release


@pytest.mark.parametrize("command", ["prepare", "demo", "eval", "synth"])
def test_every_folder_writer_takes_the_lock(command, tmp_path, capsys):
    from mans.cli.commands import main

    out = tmp_path / "out"
    argv = {"prepare": ["prepare", "utkinect", "--raw", str(tmp_path), "--out", str(out)],
            "demo": ["demo", "--out", str(out), "--epochs", "1"],
            "eval": ["eval", str(tmp_path / "run"), "--data", str(tmp_path), "--out", str(out)],
            "synth": ["synth", str(out)]}[command]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], env=ENV,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert main(argv) == 1
    finally:
        holder.kill()
        holder.wait(timeout=60)
    err = capsys.readouterr().err.strip()
    option = "OUT" if command == "synth" else "--out"
    assert err == (f"mans {command}: error: {option} {out} is in use by process {holder.pid} "
                   f"(python -c {out}); wait for it to finish or choose another {option}")
    assert not out.exists()  # refused before anything was written
