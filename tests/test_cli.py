"""The command line: dispatch, JSON output, one-line errors (exit 1; 2 for usage)."""

from __future__ import annotations

import json

import pytest

from mans.cli.commands import build_parser, main


def test_every_subcommand_is_wired():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {"synth", "prepare", "inspect", "train", "eval", "predict", "demo",
                                "ensemble", "export", "show", "report", "stream"}


def test_inspect_real_ntu_two_person_sample(ntu_samples, capsys):
    path = ntu_samples / "S001C003P008R002A058.skeleton"
    assert main(["inspect", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "ntu" and out["frames"] == 70 and out["joints"] == 25
    assert out["bodies_per_frame"] == {"2": 70}
    assert (out["setup"], out["camera"], out["subject"], out["replication"]) == (1, 3, 8, 2)
    assert out["label"] == 57  # A058 handshaking, 0-based
    lo, hi = out["coord_min"], out["coord_max"]
    assert all(-5 < v < 10 for v in lo + hi)  # metres, camera space


def test_inspect_several_files_gives_a_list(ntu_samples, utkinect_dir, capsys):
    files = [ntu_samples / "S002C001P003R001A003.skeleton",
             utkinect_dir / "joints" / "joints_s01_e01.txt"]
    assert main(["inspect", *map(str, files)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["format"] for o in out] == ["ntu", "utkinect"]
    assert out[0]["frames"] == 100 and out[1]["joints"] == 20


def test_bad_file_is_one_line_naming_file_and_line(tmp_path, capsys):
    bad = tmp_path / "S001C001P001R001A001.skeleton"
    bad.write_text("2\n1\n")  # truncated: a body count, then nothing
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert str(bad) in err and ":" in err.split(str(bad))[1][:3]  # path:line


def test_unknown_format_and_missing_file(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "x.xyz")]) == 1
    assert "cannot tell the format" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "absent.skeleton")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_prepare_refuses_missing_raw_folder(tmp_path, capsys):
    assert main(["prepare", "utkinect", "--raw", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "out"), "-q"]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_train_unknown_config_key_suggests(tmp_path, capsys):
    assert main(["train", "demo", "--data", str(tmp_path), "--out", str(tmp_path / "run"),
                 "--set", "train.lrr=0.1", "-q"]) == 1
    assert "train.lr" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.startswith("mans ")


def test_network_commands_reexec_with_malloc_tunables(monkeypatch):
    """The console entry point re-executes itself once with GLIBC_TUNABLES (see mans/cli/commands.py)."""
    import platform

    import mans.cli.commands as cli

    calls = []
    monkeypatch.setattr(cli.os, "execve", lambda exe, argv, env: calls.append((argv, env)))
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.delenv("MANS_NO_REEXEC", raising=False)
    cli._reexec_with_malloc_tunables(["eval", "run"])
    if platform.libc_ver()[0] == "glibc":
        (argv, env), = calls
        assert argv[1:] == ["-m", "mans", "eval", "run"]
        assert env["GLIBC_TUNABLES"] == cli.MALLOC_TUNABLES and env["MANS_NO_REEXEC"] == "1"
    calls.clear()
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=1")  # the user's choice wins
    cli._reexec_with_malloc_tunables(["eval", "run"])
    assert calls == []
