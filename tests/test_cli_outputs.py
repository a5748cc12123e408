"""Every command checks its output paths before any work; a bad flag prints the subcommand's
usage; an interrupted training says the exact command that resumes it.

Before: ``mans eval --out FILE`` ran the whole evaluation, then failed with "FILE: File exists";
an unknown flag printed the top-level usage; "interrupted" did not say how to resume."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest

import mans
from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.cli.commands import main
from mans.cli.subcommands import resume_hint

SRC = str(Path(mans.__file__).resolve().parents[1])


def one_line(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


# --- output paths, checked first ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["eval", "eval-json", "eval-attention", "ensemble", "export",
                                     "show", "timeline"])
def test_outputs_are_checked_before_any_input_is_read(command, tmp_path, capsys):
    """Every input here is missing: the error must be about the output path, so that it was
    checked first (before minutes of evaluation or drawing)."""
    taken = tmp_path / "taken"  # an existing file where a folder would go
    taken.write_text("keep me")
    folder = tmp_path / "clip.gif"  # an existing folder where a file would go
    folder.mkdir()
    (tmp_path / "timeline.json").mkdir()
    missing = tmp_path / "missing"
    argv, words = {
        "eval": (["eval", str(missing), "--data", str(missing), "--out", str(taken)],
                 ["--out", str(taken), "exists and is not a folder"]),
        "eval-json": (["eval", str(missing), "--data", str(missing), "--out",
                       "/sys/mans-cannot-write-here/m.json"], ["--out", "cannot write"]),
        "eval-attention": (["eval", "/sys/mans-run/best.pt", "--data", str(missing),
                            "--attention"], ["--attention /sys/mans-run", "cannot write"]),
        "ensemble": (["ensemble", str(missing), str(missing), "--data", str(missing), "--out",
                      str(taken)], ["--out", str(taken), "not a folder"]),
        "export": (["export", str(missing), "--onnx", str(folder)], ["--onnx", "is a folder"]),
        "show": (["show", str(missing), "--out", str(folder)], ["--out", "is a folder"]),
        "timeline": (["predict", str(missing), str(missing), "--window", "4", "--stride", "2",
                      "--timeline-out", str(tmp_path / "timeline.json")],
                     ["--timeline-out", "is a folder"]),
    }[command]
    assert main(argv) == 1
    one_line(capsys, *words)
    assert taken.read_text() == "keep me"


# --- usage --------------------------------------------------------------------------------------


def test_a_bad_flag_prints_the_subcommands_usage(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "demo", "--data", str(tmp_path), "--out", str(tmp_path), "--bogus", "1"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: mans train [-h] [-q] --data DATA --out OUT"), err
    assert err.strip().endswith("mans train: error: unrecognized arguments: --bogus 1")
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path)]) == 2  # UsageError
    err = capsys.readouterr().err
    assert err.startswith("usage: mans train ") and "CONFIG argument is required" in err


# --- an interrupted training --------------------------------------------------------------------


def test_resume_hint_without_a_saved_epoch(tmp_path):
    args = Namespace(out=tmp_path / "run", data=tmp_path / "d", device="auto",
                     deterministic=False, threads=None, quiet=False)
    assert resume_hint(args) == "no epoch was saved yet: run the same command again to start over"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"")
    args.device, args.threads, args.quiet = "cpu", 2, True
    assert resume_hint(args) == (f"resume with: mans train --resume --data {tmp_path / 'd'} "
                                 f"--out {tmp_path / 'run'} --device cpu --threads 2 -q")


def test_sigint_during_training_prints_the_command_that_resumes_it(tiny_store, tmp_path):  # noqa: F811
    out = tmp_path / "my run"  # a space: the command must quote it
    cmd = [sys.executable, "-m", "mans", "train", "base", "--data", str(tiny_store), "--out",
           str(out), "-q", "--threads", "1", *[a for s in TINY for a in ("--set", s)],
           "--set", "train.epochs=8"]
    proc = subprocess.Popen(cmd, env=dict(os.environ, PYTHONPATH=SRC), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 300
    while not (out / "last.pt").is_file():  # epoch 1 saved
        assert proc.poll() is None and time.monotonic() < end, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    resume = (f"mans train --resume --data {tiny_store} --out '{out}' --threads 1 -q")
    assert last == f"mans train: interrupted; resume with: {resume}"
    argv = shlex.split(last.split("resume with: ", 1)[1])
    assert argv[:2] == ["mans", "train"]
    assert main(argv[1:]) == 0  # the exact command, run: it finishes the run
    assert (out / "metrics.json").is_file()
    assert len((out / "metrics.csv").read_text().splitlines()) == 1 + 8
