"""``mans demo``, the README's main command, end to end (slow: a few minutes on 2 cores)."""

from __future__ import annotations

import json

import pytest

from mans.cli.commands import main


@pytest.mark.slow
def test_demo_reaches_its_accuracy(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert metrics["top1"] >= 0.90, metrics["top1"]
    assert "top-1" in printed and str(out / "run" / "metrics.json") in printed
    summary = json.loads((out / "mans-demo.json").read_text())
    assert summary["status"] == "done" and summary["skipped"] == 0


def test_demo_refuses_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("user data")
    assert main(["demo", "--out", str(tmp_path), "-q"]) == 1
    assert "not a mans demo folder" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "user data"
