"""The ``mans`` command lines shown in README.md and docs/*.md are ones the parser accepts, with a
dataset name ``prepare`` knows, and say one command each (no "resp." alternatives in a comment,
which read as a dataset name that ``prepare`` refuses: write the other command out)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mans.cli.commands import build_parser
from mans.datasets import dataset_names

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def command_lines() -> list[tuple[str, str]]:
    """``(file:line, text)`` of every line starting with ``mans `` in a fenced code block."""
    out = []
    for doc in DOCS:
        fenced = False
        lines = doc.read_text().splitlines()
        for i, line in enumerate(lines, 1):
            if line.startswith("```"):
                fenced = not fenced
            elif fenced and line.startswith("mans ") and not re.match(r"mans \S+: ", line):
                k = i  # a command (not the output "mans CMD: error: ..."), with its continuations
                while line.endswith("\\") and k < len(lines):
                    line, k = line[:-1] + lines[k], k + 1
                out.append((f"{doc.name}:{i}", line))
    return out


def test_there_are_command_lines_to_check():
    assert len(command_lines()) >= 10


@pytest.mark.parametrize("where, line", command_lines())
def test_documented_command_parses(where, line, capsys):
    assert "resp." not in line, f"{where}: one command per line: {line}"
    argv = shlex.split(line, comments=True)[1:]
    argv = [a for a in argv if a not in ("|", "&&")]
    try:
        args, unknown = build_parser().parse_known_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: mans refuses {line!r}: {capsys.readouterr().err.strip()}")
    assert unknown == [], f"{where}: unknown arguments {unknown} in {line!r}"
    if args.command == "prepare":
        assert args.dataset in dataset_names()


def test_the_check_catches_an_alternative_in_a_comment():
    line = "mans prepare utkinect --raw ../shared/data/utkinect --out ut  # resp. hdm05, x"
    with pytest.raises(AssertionError, match="one command per line"):
        test_documented_command_parses("x.md:1", line, None)
