"""bench/attribution.py's bookkeeping on hand-made records: the inner folds over the training
subjects only, the per-seed means and spreads, the factor effects, the tune.json entries and the
docs section; the trainings themselves are the benchmark's."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


def _store(path: Path, subjects: list[int | None], train: list[int]) -> Path:
    path.mkdir(parents=True)
    for f in ("frames.npy", "labels.npy", "offsets.npy"):
        (path / f).write_bytes(b"")
    meta = [{"subject": s, "label": i % 2} for i, s in enumerate(subjects)]
    (path / "samples.jsonl").write_text("\n".join(json.dumps(m) for m in meta))
    test = [i for i in range(len(subjects)) if i not in train]
    (path / "protocols.json").write_text(json.dumps({"xsub": {"train": train, "test": test}}))
    (path / "manifest.json").write_text(json.dumps({"protocols": {}, "default_protocol": "xsub"}))
    return path


def test_inner_folds_hold_out_each_training_subject(tmp_path):
    import attribution

    _store(tmp_path / "utkinect", [1, 1, 2, 2, 3, 3, 4, 4], train=[0, 1, 2, 3, 6, 7])
    dst, names = attribution.inner_store(tmp_path, "utkinect")
    protos = json.loads((dst / "protocols.json").read_text())
    assert names == ["inner-0", "inner-1", "inner-2"]  # subjects 1, 2, 4 (3 is a test subject)
    assert protos["inner-0"] == {"train": [2, 3, 6, 7], "test": [0, 1]}
    assert protos["inner-2"] == {"train": [0, 1, 2, 3], "test": [6, 7]}
    for p in protos.values():  # never a sample of the test split
        assert not set(p["train"] + p["test"]) & {4, 5}
    assert (dst / "frames.npy").is_symlink()


def _rec(root: Path, mode: str, ds: str, cell: str, seed: int, fold: str, top1: float) -> None:
    out = root / mode / ds / fold / cell.replace("/", "-") / f"seed{seed}"
    out.mkdir(parents=True)
    (out / "environment.json").write_text(json.dumps({"mans_git_commit": "abcdef123456"}))
    (out / "record.json").write_text(json.dumps({
        "dataset": ds, "protocol": fold, "cell": cell, "seed": seed, "top1": top1,
        "config": "custom-small-resnet", "sets": [f"data.protocol={fold}", f"train.seed={seed}"],
        "out": str(out), "train_wall_s": 10.0}))


def test_render_means_effects_and_tune_entries(tmp_path):
    import attribution

    for seed, (a, b) in enumerate([(0.90, 0.95), (0.92, 0.97)]):
        _rec(tmp_path, "test", "utkinect", "resnet/today/e100", seed, "xsub", a)
        _rec(tmp_path, "test", "utkinect", "cooc/today/e100", seed, "xsub", b)
    for fold, v in (("inner-0", 0.8), ("inner-1", 0.9)):
        _rec(tmp_path, "inner", "utkinect", "cooc/ctrgcn/long", 0, fold, v)
    s = attribution.render(tmp_path)
    rows = {(r["mode"], r["cell"]): r for r in s["rows"]}
    r = rows[("test", "resnet/today/e100")]
    assert r["mean"] == pytest.approx(91.0) and r["per_seed"] == [90.0, 92.0]
    assert r["sd"] == pytest.approx(100 * statistics.stdev([0.90, 0.92]))
    assert r["commits"] == ["abcdef1"]
    inner = rows[("inner", "cooc/ctrgcn/long")]  # one seed: the mean of its two folds
    assert inner["mean"] == pytest.approx(85.0) and inner["folds"] == 2 and inner["sd"] is None
    eff = attribution.effects(s["rows"], "test")
    assert len(eff) == 1 and eff[0].startswith("- STCM ResNet (image) -> co-occurrence: ")
    assert "utkinect today/e100: +5.0 (91.0 -> 96.0" in eff[0]
    t, = s["tune"]
    assert t["name"] == "attr:cooc/ctrgcn/long:seed0" and t["folds"] == ["inner-0", "inner-1"]
    assert t["mean_top1"] == pytest.approx(np.mean([0.8, 0.9])) and t["commit"] == "abcdef1"
    assert t["overrides"] == ["train.seed=0"]

    tune = tmp_path / "tune.json"
    tune.write_text(json.dumps([{"name": "r0-base"}, {"name": "attr:old"}]))
    attribution.write_tune(tune, s["tune"])
    assert [e["name"] for e in json.loads(tune.read_text())] == ["r0-base", t["name"]]

    page = tmp_path / "results.md"
    page.write_text("# Results\n\nkept\n")
    s["command"] = "python bench/attribution.py --render x"
    s["throughput"] = {"threads": 1, "torch": "2.13.0", "load_before": 0.1, "load_after": 0.2,
                       "batch1": {"utkinect/cooc": 88.6}, "batch64": {"utkinect/cooc": 630.2}}
    for _ in range(2):  # written twice: one section, the rest of the page kept
        attribution.write_section(page, attribution.markdown(s))
    text = page.read_text()
    assert text.count(attribution.BEGIN) == 1 and text.startswith("# Results\n\nkept\n")
    assert "| utkinect | co-occurrence | 89 | 630 |" in text
    assert "| utkinect | co-occurrence | today's | 100 ep. | 2 | 1 | 96.0 ± 1.4 | 95.0, 97.0 | - |" in text


@pytest.mark.parametrize("config, pipes", [("custom-small-cooccurrence", "PIPES"),
                                           ("custom-small-cooccurrence-2d", "PIPES_2D")])
def test_the_recipe_configs_are_the_chosen_cell(config, pipes):
    """custom-small-cooccurrence(-2d) is the attribution's co-occurrence / CTR-GCN-style / long
    cell (the one the inner folds chose), key for key; the cells write every key they change, so
    they keep their meaning against the changed config."""
    import attribution

    from mans.engine.config import load_config

    cell = getattr(attribution, pipes)["ctrgcn"] + attribution.sched_sets("long", 250)
    assert load_config(config) == load_config(config, cell)
    base = load_config("custom-small-resnet")
    today = load_config(config, attribution.TODAY + attribution.sched_sets("e100", 250))
    assert today.data.augment == base.data.augment and today.train.scheduler == \
        base.train.scheduler and today.train.epochs == base.train.epochs


def test_an_ensemble_cell_trains_its_four_streams_once_and_fuses_them(tmp_path):
    import argparse

    import attribution

    _store(tmp_path / "utkinect", [1, 1, 2, 2], train=[0, 1])
    args = argparse.Namespace(stores=str(tmp_path), datasets=["utkinect"], inner=False, seeds=2,
                              cells=["cooc/ctrgcn/long", "cooc/ctrgcn/long/ens"], long=250,
                              out=str(tmp_path / "runs"))
    jobs = attribution.plan(args)
    trainings = [j for j in jobs if "members" not in j]
    fusions = [j for j in jobs if "members" in j]
    assert len(trainings) == 8 and len(fusions) == 2  # the joint cell asked twice: trained once
    seed0 = [j for j in trainings if j["seed"] == 0]
    assert [j["cell"] for j in seed0] == ["cooc/ctrgcn/long", "cooc/ctrgcn/long/bone",
                                          "cooc/ctrgcn/long/motion", "cooc/ctrgcn/long/bone_motion"]
    assert all(j["keep"] for j in trainings)  # checkpoints kept for the fusion
    streams = [[x for x in j["sets"] if x.startswith("data.stream=")] for j in seed0]
    assert streams == [[], ["data.stream=bone"], ["data.stream=motion"],
                       ["data.stream=bone_motion"]]
    f0, = [j for j in fusions if j["seed"] == 0]
    assert f0["members"] == [j["out"] for j in seed0]
    assert jobs.index(f0) > max(jobs.index(j) for j in seed0)
    assert attribution.cell_labels("cooc/ctrgcn/long/ens")[0] == \
        "co-occurrence, ensemble of joint + bone + motion + bone-motion"
    assert attribution.cell_labels("cooc/ctrgcn/long/bone_motion") == (
        "co-occurrence, bone-motion stream", "CTR-GCN-style", "long")


def test_render_on_a_base_keeps_the_rows_it_does_not_measure(tmp_path):
    import attribution

    for seed in range(2):
        _rec(tmp_path / "old", "test", "utkinect", "resnet/today/e100", seed, "xsub", 0.9)
        _rec(tmp_path / "old", "test", "utkinect", "cooc/ctrgcn/long", seed, "xsub", 0.9)
    base = attribution.render(tmp_path / "old")
    assert base["runs"] == 4
    _rec(tmp_path / "new", "test", "utkinect", "cooc/ctrgcn/long", 0, "xsub", 0.96)
    for k in range(1, 11):  # one seed of the 10 LOSO folds
        _rec(tmp_path / "new", "test", "utkinect-loso", "cooc/ctrgcn/long", 0, f"loso-{k:02d}",
             0.9 + 0.01 * (k % 2))
    s = attribution.render(tmp_path / "new", base)
    rows = {(r["dataset"], r["cell"]): r for r in s["rows"]}
    assert rows[("utkinect", "resnet/today/e100")]["per_seed"] == [90.0, 90.0]  # kept
    assert rows[("utkinect", "cooc/ctrgcn/long")]["per_seed"] == [96.0]  # measured anew
    assert rows[("utkinect-loso", "cooc/ctrgcn/long")]["mean"] == pytest.approx(90.5)
    assert s["runs"] == 2 + 1 + 10
    s["command"] = "python bench/attribution.py --render x"
    table = attribution.summary_table(s)
    assert "| UT-Kinect | LOSO | 90.5 (1) | - | not run | ≥ 96.0 |" in table
    assert "ensemble" not in table  # not run: no row


def test_an_ensemble_waits_for_its_members_and_records_the_fusion(tmp_path, monkeypatch, capsys):
    import subprocess

    import attribution

    members = [tmp_path / s for s in attribution.STREAMS]
    job = dict(dataset="utkinect", protocol="xsub", cell="cooc/ctrgcn/long/ens", seed=0,
               store=str(tmp_path / "store"), out=str(tmp_path / "ens"),
               members=[str(m) for m in members])
    assert attribution.ensemble(job) is None  # no member finished: nothing run, one line
    assert capsys.readouterr().out.startswith(f"SKIPPED {tmp_path / 'ens'}: no finished run in ")
    assert not (tmp_path / "ens").exists()

    for k, m in enumerate(members):
        m.mkdir()
        (m / "record.json").write_text(json.dumps({"train_wall_s": 10.0 + k}))
    calls = []

    def fake(cmd, **kw):  # mans ensemble: writes its metrics.json into --out
        calls.append(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        out.mkdir()
        (out / "metrics.json").write_text(json.dumps(
            {"top1": 0.95, "n": 99, "run_top1": [0.9] * 4, "streams": list(attribution.STREAMS)}))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(attribution.subprocess, "run", fake)
    r = attribution.ensemble(job)
    cmd, = calls
    assert cmd[2:4] == ["mans", "ensemble"] and cmd[4:8] == job["members"]
    assert cmd[cmd.index("--data") + 1] == job["store"] and "--threads" in cmd
    assert r["top1"] == 0.95 and r["n_test"] == 99 and r["train_wall_s"] == 10 + 11 + 12 + 13
    assert json.loads((tmp_path / "ens" / "record.json").read_text()) == r
    assert attribution.ensemble(job) == r and len(calls) == 1  # recorded: not run again


@pytest.mark.parametrize("cell, ok", [("cooc/ctrgcn/long", True), ("cooc/ctrgcn/long/ens", True),
                                      ("resnet/today/e100/bone_motion", True),
                                      ("cooc/ctrgcn", False), ("cooc/ctrgcn/long/joint", False),
                                      ("cooc/x/long", False), ("gcn/ctrgcn/long", False)])
def test_cells_are_checked_before_anything_runs(cell, ok):
    import attribution

    assert (attribution.cell_error(cell) is None) == ok
