"""What happens on bad input (docs/bad-input.md): one test per row of that table.

Every command-line error is one line on stderr without a traceback and exit status 1 (2 for
usage errors found by argparse), nothing the user had is lost, and partial outputs are removed.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import mans
from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.cli.commands import main
from mans.coordinates import BOUND_ENV
from mans.engine.checkpoint import load_checkpoint, save_checkpoint
from mans.engine.train import run_training
from mans.errors import ConfigError, FormatError
from mans.formats import ntu, ntu_writer
from mans.data.store import PreparedStore

SRC = str(Path(mans.__file__).resolve().parents[1])  # the mans under test, for subprocesses


def one_line_error(capsys, *words: str) -> str:
    """The captured stderr, asserted to be one ``mans CMD: error: ...`` line holding ``words``."""
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert err.startswith("mans ") and ": error: " in err, err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture(scope="module")
def run_dir(tiny_store, tmp_path_factory) -> Path:  # noqa: F811
    """A finished 1-epoch run on the tiny store."""
    out = tmp_path_factory.mktemp("badrun") / "run"
    torch.set_num_threads(1)
    run_training("base", data=tiny_store, out=out, overrides=[*TINY, "train.epochs=1"],
                 progress=False)
    return out


@pytest.fixture()
def store_copy(tiny_store, tmp_path) -> Path:  # noqa: F811
    dst = tmp_path / "store"
    shutil.copytree(tiny_store, dst)
    return dst


def skeleton_file(path: Path, value: float | None = None, frames: int = 8) -> Path:
    """A valid one-body NTU file of ``frames`` frames; ``value`` replaces x of frame 1, joint 1
    (file line 5: frames, bodies, body info, joint count, then the joint lines)."""
    rng = np.random.default_rng(0)
    joints = rng.normal(scale=0.3, size=(frames, 1, 25, 3)) + [0.0, 0.0, 3.0]
    if value is not None:
        joints[0, 0, 0, 0] = value
    return ntu.write_skeleton(path, joints.astype(np.float64))


# --- the command line itself --------------------------------------------------------------------


def test_errors_exit_1_usage_exits_2_and_mans_debug_shows_the_traceback(tmp_path, capsys,
                                                                         monkeypatch):
    missing = tmp_path / "absent.skeleton"
    assert main(["inspect", str(missing)]) == 1
    one_line_error(capsys, str(missing), "no such file")
    with pytest.raises(SystemExit) as e:  # argparse: usage
        main(["inspect"])
    assert e.value.code == 2
    monkeypatch.setenv("MANS_DEBUG", "1")
    with pytest.raises(FormatError, match="no such file"):
        main(["inspect", str(missing)])


def test_output_piped_to_head_ends_quietly(ntu_samples, tmp_path):
    files = [str(p) for p in sorted(ntu_samples.glob("*.skeleton"))] * 60  # > a pipe buffer
    err = tmp_path / "err.txt"
    cmd = [sys.executable, "-m", "mans", "inspect", *files]
    with open(err, "w") as ferr:
        producer = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=ferr,
                                    env=dict(os.environ, PYTHONPATH=SRC))
        head = producer.stdout.read(100)  # like `| head -c 100`
        producer.stdout.close()
        rc = producer.wait(timeout=120)
    assert head.startswith(b"[")
    assert err.read_text() == "" and rc == 1


# --- output folders -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["train", "synth", "prepare"])
def test_out_that_is_a_file_or_unwritable(command, tiny_store, tmp_path, capsys):  # noqa: F811
    a_file = tmp_path / "taken"
    a_file.write_text("keep me")

    def args(out: Path) -> list[str]:
        if command == "train":
            return ["train", "demo", "--data", str(tiny_store), "--out", str(out), "-q"]
        if command == "synth":
            return ["synth", str(out), "--subjects", "1", "--replications", "1", "-q"]
        return ["prepare", "utkinect", "--raw", str(tmp_path), "--out", str(out), "-q"]

    assert main(args(a_file)) == 1
    one_line_error(capsys, str(a_file), "not a folder")
    below = a_file / "sub"
    assert main(args(below)) == 1
    one_line_error(capsys, str(below))
    assert a_file.read_text() == "keep me"
    unwritable = Path("/sys/mans-cannot-write-here")  # sysfs refuses new folders, even to root
    assert main(args(unwritable)) == 1
    one_line_error(capsys, str(unwritable), "cannot write")


def test_disk_full_during_synth_leaves_only_complete_files(tmp_path, capsys, monkeypatch):
    real_open, calls = open, {"n": 0}

    def full_disk_open(path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # the third file: created, then the disk is full
            real_open(path, "w").close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(ntu_writer, "open", full_disk_open, raising=False)
    out = tmp_path / "raw"
    assert main(["synth", str(out), "--subjects", "1", "--replications", "1", "-q"]) == 1
    one_line_error(capsys, "disk full", str(out))
    left = sorted(out.iterdir())
    assert [p.suffix for p in left] == [".skeleton", ".skeleton"]  # no 0-byte or temporary file
    for p in left:
        assert ntu.read_skeleton(p).num_frames > 0


def test_disk_full_during_prepare_leaves_nothing(ntu_samples, tmp_path, capsys, monkeypatch):
    import mans.data.prepare as prep

    real_append = prep.FramesWriter.append
    calls = {"n": 0}

    def append(self, block):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        real_append(self, block)

    monkeypatch.setattr(prep.FramesWriter, "append", append)
    out = tmp_path / "store"
    assert main(["prepare", "ntu60", "--raw", str(ntu_samples), "--out", str(out), "-q",
                 "--workers", "1"]) == 1
    one_line_error(capsys, "disk full", "frames.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no store, no temporary folder


def test_disk_full_during_train_keeps_the_last_good_checkpoint(  # noqa: F811
        tiny_store, tmp_path, capsys, monkeypatch):
    import mans.engine.checkpoint as ckpt

    real_save, calls = torch.save, {"n": 0}

    def save(obj, f):
        calls["n"] += 1
        if calls["n"] == 3:  # epoch 1 wrote best.pt and last.pt; epoch 2's first save fails
            f.write(b"partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f.name)
        real_save(obj, f)

    monkeypatch.setattr(ckpt.torch, "save", save)
    out = tmp_path / "run"
    sets = [x for s in TINY for x in ("--set", s)]
    assert main(["train", "base", "--data", str(tiny_store), "--out", str(out), "-q",
                 *sets]) == 1
    one_line_error(capsys, "disk full", str(out))
    monkeypatch.setattr(ckpt.torch, "save", real_save)
    assert load_checkpoint(out / "last.pt")["train"]["epoch"] == 1
    assert not list(out.glob("*.tmp"))


def test_demo_refuses_an_earlier_demo_folder_without_force(tmp_path, capsys):
    from mans.cli.demo import MARKER, _claim_folder

    out = tmp_path / "demo"
    (out / "run").mkdir(parents=True)
    (out / MARKER).write_text('{"status": "done"}')
    (out / "run" / "metrics.json").write_text("{}")
    assert main(["demo", "--out", str(out), "-q"]) == 1
    one_line_error(capsys, str(out), "--force")
    assert (out / "run" / "metrics.json").read_text() == "{}"
    _claim_folder(out, force=True)  # what --force does before running
    assert not (out / "run").exists() and (out / MARKER).is_file()


# --- option values --------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["demo", "--epochs", "0"],
    ["prepare", "ntu60", "--raw", ".", "--out", "x", "--workers", "-3"],
    ["predict", "run", "f.skeleton", "--topk", "0"],
    ["eval", "run", "--data", "s", "--threads", "0"],
])
def test_out_of_range_counts_are_usage_errors(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # were a count accepted, its outputs would land here, not in repo
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_library_calls_refuse_the_same_counts(run_dir, ntu_samples, tmp_path):
    from mans.cli.demo import run_demo
    from mans.inference.predict import predict_files
    from mans.data.prepare import prepare

    with pytest.raises(ConfigError, match="epochs"):
        run_demo(tmp_path / "d", epochs=0)
    with pytest.raises(ConfigError, match="workers"):
        prepare("ntu60", ntu_samples, tmp_path / "s", workers=-3)
    with pytest.raises(ConfigError, match="topk"):
        predict_files(run_dir / "last.pt", [], topk=0)
    assert not (tmp_path / "d").exists() and not (tmp_path / "s").exists()


# --- predict --------------------------------------------------------------------------------------


def test_predict_accepts_a_run_folder(run_dir, ntu_samples, capsys):
    f = ntu_samples / "S001C001P001R001A011.skeleton"
    assert main(["predict", str(run_dir), str(f), "--json", "--topk", "2"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    assert r["file"] == str(f) and len(r["top"]) == 2
    by_file = main(["predict", str(run_dir / "best.pt"), str(f), "--json", "--topk", "2"])
    assert by_file == 0 and json.loads(capsys.readouterr().out) == [r]  # best.pt was used


def test_predict_one_bad_file_among_many(run_dir, ntu_samples, tmp_path, capsys):
    good = [ntu_samples / f"{n}.skeleton" for n in ("S001C001P001R001A011",
                                                     "S002C001P003R001A003")]  # one person
    bad = tmp_path / "S001C001P001R001A001.skeleton"
    bad.write_text("3\n1\n")
    files = [good[0], bad, good[1]]
    assert main(["predict", str(run_dir), *map(str, files), "--json"]) == 1
    cap = capsys.readouterr()
    assert [r["file"] for r in json.loads(cap.out)] == [str(good[0]), str(good[1])]
    assert f"error: {bad}:" in cap.err and "1 of 3 files failed" in cap.err
    assert "Traceback" not in cap.err


# --- stores and checkpoints -----------------------------------------------------------------------


def test_store_with_truncated_frames_is_refused_on_open(store_copy, capsys):
    frames = store_copy / "frames.npy"
    frames.write_bytes(frames.read_bytes()[:-1000])
    with pytest.raises(FormatError, match="truncated") as e:
        PreparedStore.open(store_copy)
    assert e.value.path == str(frames)
    assert main(["train", "demo", "--data", str(store_copy), "--out",
                 str(store_copy.parent / "run"), "-q"]) == 1
    one_line_error(capsys, str(frames), "truncated")


def test_store_with_a_label_beyond_the_classes_is_refused_on_open(store_copy):
    labels = np.load(store_copy / "labels.npy")
    labels[5] = 4  # 4 classes: 0..3
    np.save(store_copy / "labels.npy", labels)
    with pytest.raises(FormatError, match=r"sample 5 has label 4, outside -1\.\.3") as e:
        PreparedStore.open(store_copy)
    assert e.value.path == str(store_copy / "labels.npy")


def test_checkpoint_whose_config_does_not_match_its_weights(run_dir, ntu_samples, tmp_path,
                                                            capsys):
    state = load_checkpoint(run_dir / "last.pt")
    state["model"]["config"]["num_classes"] = 7  # the weights have 4 outputs
    bad = save_checkpoint(tmp_path / "odd.pt", {k: v for k, v in state.items()
                                                 if not k.startswith("_")})
    f = ntu_samples / "S001C001P001R001A011.skeleton"
    assert main(["predict", str(bad), str(f)]) == 1
    one_line_error(capsys, str(bad), "model config does not match the weights", "size mismatch")


def test_checkpoint_with_flipped_bytes_is_refused(run_dir, tmp_path, capsys):
    raw = bytearray((run_dir / "last.pt").read_bytes())
    state = load_checkpoint(run_dir / "last.pt")
    weight = max(state["state_dict"].values(), key=lambda t: t.numel())  # the largest tensor
    at = bytes(raw).find(weight.numpy().tobytes())
    assert at > 0
    for i in range(at + 40, at + 140):  # 100 bytes inside the tensor
        raw[i] ^= 0xFF
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="checksum mismatch"):
        load_checkpoint(damaged)
    assert main(["eval", str(damaged), "--data", str(tmp_path)]) == 1
    one_line_error(capsys, str(damaged), "checksum")
    state.pop("_loaded_from")
    assert len(state["sha256"]) == 64 and load_checkpoint(run_dir / "last.pt")  # intact loads


# --- readers --------------------------------------------------------------------------------------


def test_coordinate_beyond_the_bound_is_rejected_at_its_line(tmp_path, monkeypatch):
    path = skeleton_file(tmp_path / "S001C001P001R001A001.skeleton", value=1e30)
    with pytest.raises(FormatError) as e:
        ntu.read_skeleton(path)
    assert (e.value.path, e.value.line) == (str(path), 5)
    assert "x is beyond the coordinate bound of 100 m" in str(e.value)
    monkeypatch.setenv(BOUND_ENV[3], "1e31")  # configurable
    assert ntu.read_skeleton(path).joints[0, 0, 0, 0] == np.float32(1e30)
    assert ntu.read_skeleton(path, max_coord_m=2e30).num_frames == 8
    monkeypatch.delenv(BOUND_ENV[3])
    ok = skeleton_file(tmp_path / "S001C001P001R001A002.skeleton", value=99.5)
    assert ntu.read_skeleton(ok).joints[0, 0, 0, 0] == np.float32(99.5)
    with pytest.raises(FormatError, match="bound of 50 m"):
        ntu.read_skeleton(ok, max_coord_m=50)


def test_binary_junk_gets_a_short_message(tmp_path):
    from mans.formats import read_sequence

    junk = bytes(np.random.default_rng(1).integers(0, 256, 900, dtype=np.uint8))
    for name in ("S001C001P001R001A001.skeleton", "joints_s01_e01.txt", "x.npz", "x.amc"):
        p = tmp_path / name
        p.write_bytes(junk)
        (tmp_path / "x.asf").write_bytes(junk)
        with pytest.raises(FormatError) as e:
            read_sequence(p)
        assert len(e.value.reason) <= 100 and "\\x" not in e.value.reason, (name, str(e.value))


def test_inspect_a_folder_says_it_is_a_folder(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["inspect", str(empty)]) == 1
    one_line_error(capsys, str(empty), "is a folder")


# --- prepare --------------------------------------------------------------------------------------


def test_prepare_summarises_skip_reasons_on_stderr(ntu_samples, tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in ntu_samples.glob("*.skeleton"):
        shutil.copy(p, raw / p.name)
    for i in (1, 2, 3):  # three files cut short at different lines: one kind of reason
        (raw / f"S009C001P00{i}R001A001.skeleton").write_text("5\n" + "0\n" * i)
    skeleton_file(raw / "S009C001P009R001A002.skeleton", value=1e30)  # another kind
    assert main(["prepare", "ntu60", "--raw", str(raw), "--out", str(tmp_path / "s"), "-q",
                 "--workers", "1"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["skipped"] == 4
    lines = cap.err.strip().splitlines()
    assert lines[0].startswith("skipped 4 samples (2 kinds of reason")
    counts = sorted(int(ln.split()[0]) for ln in lines[1:])
    assert counts == [1, 3] and any("coordinate bound" in ln for ln in lines)


def test_prepare_prints_a_short_summary(utkinect_dir, tmp_path, capsys):
    out = tmp_path / "utk"
    assert main(["prepare", "utkinect", "--raw", str(utkinect_dir), "--out", str(out), "-q",
                 "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["protocols"]) > 100  # leave-one-out protocols, all kept in the file
    assert summary["protocols_total"] == len(manifest["protocols"])
    assert len(summary["protocols"]) == 6 and next(iter(summary["protocols"])) == "xsub"
    assert printed.count("\n") < 60


def test_store_folder_follows_the_umask(ntu_samples, tmp_path):
    from mans.data.prepare import prepare

    old = os.umask(0o022)
    try:
        prepare("ntu60", ntu_samples, tmp_path / "s", workers=1, progress=False)
    finally:
        os.umask(old)
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o755


# --- train ----------------------------------------------------------------------------------------


def test_quiet_training_still_writes_train_log(run_dir, tiny_store, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "q"
    sets = [x for s in [*TINY, "train.epochs=2"] for x in ("--set", s)]
    assert main(["train", "base", "--data", str(tiny_store), "--out", str(out), "-q",
                 *sets]) == 0
    cap = capsys.readouterr()
    assert "epoch 1/2" not in cap.out + cap.err  # the terminal stays quiet
    log = (out / "train.log").read_text().splitlines()
    assert sum("epoch 1/2:" in ln or "epoch 2/2:" in ln for ln in log) == 2
    assert any(ln.split(" ", 2)[2].startswith("test (val") for ln in log)


def test_resume_uses_the_runs_saved_config(tiny_store, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "r"
    first = run_training("base", data=tiny_store, out=out, progress=False,
                         overrides=[*TINY, "train.epochs=2", "train.stop_after_epoch=1"])
    assert first["status"] == "stopped"
    # without repeating --set train.epochs=2: the run's own config (2 epochs), not base's 50
    assert main(["train", "--resume", "--data", str(tiny_store), "--out", str(out), "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 2
    # extending is allowed; changing the recipe is refused with the difference
    with pytest.raises(ConfigError, match=r"train\.lr: 0\.05 -> 0\.5"):
        run_training("base", data=tiny_store, out=out, resume=True, progress=False,
                     overrides=["train.epochs=3", "train.lr=0.5"])
    m = run_training("base", data=tiny_store, out=out, resume=True, progress=False,
                     overrides=["train.epochs=3"])
    assert m["epochs"] == 3


def test_train_without_config_needs_resume(tiny_store, tmp_path, capsys):  # noqa: F811
    assert main(["train", "--data", str(tiny_store), "--out", str(tmp_path / "x"), "-q"]) == 2
    assert "CONFIG argument is required" in capsys.readouterr().err


# --- threads --------------------------------------------------------------------------------------


def test_threads_default_to_the_cpus_this_process_may_use(tmp_path, monkeypatch):
    from mans import threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_CGROUP_CPU_MAX", tmp_path / "none")
    assert threads.available_cpus() == len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")  # 1.5 CPUs -> 2 threads at most
    monkeypatch.setattr(threads, "_CGROUP_CPU_MAX", quota)
    assert threads.available_cpus() == min(2, len(os.sched_getaffinity(0)))
    quota.write_text("max 100000\n")
    assert threads.available_cpus() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's setting wins
    assert threads.default_threads() == 3
    # a process pinned to one CPU gets one thread (torch's own default would not see a quota)
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "os.environ.pop('OMP_NUM_THREADS', None); "
            "from mans.threads import configure_threads; print(configure_threads())")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = SRC
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True).stdout.strip() == "1"


def test_threads_option_sets_torch_threads(run_dir, ntu_samples, capsys):
    before = torch.get_num_threads()
    try:
        f = ntu_samples / "S001C001P001R001A011.skeleton"
        assert main(["predict", str(run_dir), str(f), "--threads", "3"]) == 0
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
