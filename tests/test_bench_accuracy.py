"""bench/accuracy.py without training: the plan, the aggregation over seeds and folds, and the
markdown table, on a small fake set of runs whose numbers are worked out by hand."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"


@pytest.fixture(scope="module")
def acc():
    spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _run(dataset, group, protocol, variant, seed, cm, names, **kw):
    return {"dataset": dataset, "group": group, "protocol": protocol, "variant": variant,
            "seed": seed, "selection": "last", "epochs": 60, "cm": cm, "class_names": names,
            "key": f"{dataset}/{protocol}/{seed}", "wall_s": 30.0, **kw}


FULL, NOATT = "MANs (TARM + STCM)", "TARM without attention"
AB = ["a", "b"]


def fake_runs() -> list[dict]:
    """xsub full: seed 0 all 4 right; seed 1 one 'a' predicted 'b' (3 of 4; class a 1/2, b 2/2).
    loso: seed 0 two folds, one error in the 2nd fold. hdm05 noatt: one seed, 2 of 4."""
    return [
        _run("utkinect", "xsub", "xsub", FULL, 0, [[2, 0], [0, 2]], AB),
        _run("utkinect", "xsub", "xsub", FULL, 1, [[1, 1], [0, 2]], AB),
        _run("utkinect", "loso", "loso-01", FULL, 0, [[1, 0], [0, 1]], AB),
        _run("utkinect", "loso", "loso-02", FULL, 0, [[1, 0], [1, 0]], AB),
        _run("hdm05", "actors", "actors", NOATT, 0, [[1, 1], [1, 1]], AB),
    ]


def test_aggregate_by_hand(acc):
    entries = acc.aggregate(fake_runs())
    assert [(e["dataset"], e["protocol"], e["variant"]) for e in entries] == [
        ("utkinect", "xsub", FULL), ("utkinect", "loso", FULL), ("hdm05", "actors", NOATT)]
    xsub, loso, hdm = entries
    assert xsub["top1_per_seed"] == [1.0, 0.75] and xsub["mca_per_seed"] == [1.0, 0.75]
    assert xsub["top1_mean"] == pytest.approx(0.875)
    assert xsub["top1_std"] == pytest.approx(np.sqrt(2 * 0.125**2))  # sample std, ddof 1
    assert xsub["seeds"] == 2 and xsub["folds"] == 1 and xsub["n_test_per_seed"] == 4
    assert xsub["cm_sum"] == [[3, 1], [0, 4]]
    # LOSO: the folds' matrices add up to [[2, 0], [1, 1]]: 3 of 4 right; classes 2/2 and 1/2
    assert loso["folds"] == 2 and loso["top1_per_seed"] == [0.75]
    assert loso["mca_per_seed"] == [0.75] and loso["top1_std"] == 0.0
    assert hdm["top1_mean"] == 0.5 and hdm["paper"] == "n/a (65-class protocol)"
    assert xsub["paper"] == "100 %"


def test_top_confusions(acc):
    cm = [[5, 2, 0], [3, 4, 1], [0, 0, 9]]
    assert acc.top_confusions(cm, ["x", "y", "z"], k=2) == [("y", "x", 3), ("x", "y", 2)]
    assert acc.top_confusions(np.eye(3, dtype=int), ["x", "y", "z"]) == []


def test_render_markdown_table(acc):
    entries = acc.aggregate(fake_runs())
    results = {
        "meta": {"command": "python bench/accuracy.py", "commit": "abc1234-dirty",
                 "wall_s": 90.0, "date": "2024-01-01 00:00 UTC", "machine": "2 CPU cores",
                 "not_run": ["DenseNet-161 variant"], "quick": False},
        "recipe": {"configs": {"utkinect-xsub-resnet": {"train.epochs": 60},
                               "hdm05-resnet": {"train.epochs": 40, "model.size": 32}},
                   "notes": [("selection", "last")]},
        "entries": entries, "runs": fake_runs(),
        "tuning": [{"dataset": "utkinect", "name": "r0", "vs_recipe": ["train.lr=0.1"],
                    "fold_top1": [0.5, 1.0], "mean_top1": 0.75},
                   {"dataset": "hdm05", "name": "r1", "vs_recipe": [],
                    "fold_top1": [0.9], "mean_top1": 0.9}],
    }
    md = acc.render_markdown(json.loads(json.dumps(results)))  # survives a JSON round trip
    rows = [line for line in md.splitlines() if line.startswith("| utkinect") or
            line.startswith("| hdm05")]
    assert rows[0] == ("| utkinect | xsub | basic | MANs (TARM + STCM) | last (60 ep.) | 2 | "
                       "87.5 ± 17.7 | 87.5 ± 17.7 | - | 30 | 100 % | 4 |")
    assert rows[1].startswith("| utkinect | loso (2 folds) | basic | MANs (TARM + STCM) | "
                              "last (60 ep.) | 1 | 75.0 ± 0.0 | 75.0 ± 0.0 |")
    assert rows[2].endswith("| 50.0 ± 0.0 | 50.0 ± 0.0 | - | 30 | n/a (65-class protocol) | 4 |")
    assert "abc1234-dirty" in md and "1.5 min" in md
    assert "Not run: DenseNet-161 variant." in md
    assert "a → b: 1" in md  # xsub's only confusion, summed over seeds
    assert "| utkinect | r0 | `train.lr=0.1` | 50.0, 100.0 | **75.0** |" in md
    assert "| hdm05 | r1 | (the final recipe) | 90.0 | **90.0** |" in md
    assert "| `model.size` | - | 32 |" in md and "| `train.epochs` | 60 | 40 |" in md
    assert "QUICK" not in md
    results["meta"]["quick"] = True
    assert "QUICK SMOKE RUN" in acc.render_markdown(results)


def test_rerendering_keeps_the_2d_section(acc, tmp_path, monkeypatch):
    """bench/accuracy2d.py appends its table to the page; bench/accuracy.py --render keeps it."""
    monkeypatch.setattr(acc, "render_markdown", lambda results: "# Results\n\nrows v2\n")
    page = tmp_path / "results.md"
    section = f"{acc.SECTION_2D}\n<!-- results2d:begin -->\n| 2-D |\n<!-- results2d:end -->\n"
    page.write_text("# Results\n\nrows v1\n" + section)
    acc.write_outputs({"meta": {"quick": True}}, tmp_path / "r.json", page)
    assert page.read_text() == "# Results\n\nrows v2\n" + section
    page.unlink()  # a first page has no 2-D section yet
    acc.write_outputs({"meta": {"quick": True}}, tmp_path / "r.json", page)
    assert page.read_text() == "# Results\n\nrows v2\n"


def test_plan(acc):
    jobs = acc.plan(seeds=3)
    keys = [j.key for j in jobs]
    # per seed: 3 ablations (basic recipe) + 4 streams (best recipe) on xsub and on HDM05, and
    # 10 LOSO folds with each recipe
    assert len(keys) == len(set(keys)) == 3 * (2 * (3 + 4) + 2 * 10)
    loso = sorted({j.protocol for j in jobs if j.group == "loso"})
    assert loso == [f"loso-{s:02d}" for s in range(1, 11)]
    assert {(j.variant, j.recipe, j.config) for j in jobs if j.group == "loso"} == {
        (FULL, "basic", "utkinect-loso-resnet-basic"),
        ("MANs (best recipe)", "best", "utkinect-loso-resnet")}
    stcm = [j for j in jobs if j.variant == "STCM only"]
    assert len(stcm) == 6 and all("model.use_tarm=false" in j.overrides for j in stcm)
    assert all(j.config.endswith("-basic") for j in stcm)
    bone = [j for j in jobs if j.variant == "MANs, bone stream"]
    assert len(bone) == 6 and all("data.stream=bone" in j.overrides and j.recipe == "best"
                                  and not j.config.endswith("-basic") for j in bone)
    assert all(f"train.seed={j.seed}" in j.overrides and f"data.protocol={j.protocol}"
               in j.overrides for j in jobs)
    assert not any("selection" in o for j in jobs for o in j.overrides)  # the recipe's rule
    quick = acc.plan(seeds=1, quick=True)
    assert sorted(j.key for j in quick) == ["hdm05/actors/full/seed0", "hdm05/actors/joint/seed0",
                                            "utkinect/xsub/full/seed0",
                                            "utkinect/xsub/joint/seed0"]
    assert len([j for j in acc.plan(seeds=1, loo=True) if j.group == "loo"]) == 199


def test_vs_recipe(acc):
    recipe = {"train.lr": 0.001, "train.epochs": 60, "model.size": 32}
    tried = {"train.lr": 0.01, "train.epochs": 60, "data.augment.noise_std": 0.01}
    assert acc.vs_recipe(tried, recipe) == ["data.augment.noise_std=0.01", "train.lr=0.01",
                                            "model.size=base"]
    assert acc.vs_recipe(tried, recipe, {"model.size": 50})[-1] == "model.size=50"
    assert acc.vs_recipe(recipe, recipe) == []
    settings = acc.settings_vs_base("hdm05-resnet", ["train.lr=0.5"])
    assert settings["train.lr"] == 0.5 and "data.dataset" not in settings
    assert "train.momentum" not in settings  # equal to base: left out


def test_recipe_configs_select_last(acc):
    """The benchmark's configs never select on the test split (nor need a validation split)."""
    from mans.engine.config import load_config

    for name in set(acc.CONFIGS.values()) | set(acc.BASIC.values()):
        cfg = load_config(name)
        assert cfg.train.selection == "last" and cfg.data.val_fraction == 0.0, name


def test_readme_gets_the_summary_table_between_its_markers(acc):
    md = "# T\n\nintro\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nNot run: x.\n\n| other | table |\n"
    readme = f"top\n{acc.README_BEGIN}\nold table\n{acc.README_END}\nbottom\n"
    out = acc.readme_with_results(readme, md, "abc123")
    assert out.startswith("top\n") and out.endswith("\nbottom\n")
    inner = out.split(acc.README_BEGIN)[1].split(acc.README_END)[0]
    assert "| 1 | 2 |" in inner and "old table" not in inner and "other" not in inner
    assert "abc123" in inner
    assert acc.readme_with_results("no markers\n", md, "x") == "no markers\n"


def test_ensemble_entry_fuses_saved_scores_by_hand(acc, tmp_path):
    """Two stream runs per seed with saved test scores; the ensemble entry is the argmax of their
    mean, its GFLOP and time the sums of its members'."""
    names = ["a", "b"]
    y = [0, 1, 1]
    scores = {("joint", 0): [[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]],  # 2 of 3 right
              ("bone", 0): [[0.4, 0.6], [0.1, 0.9], [0.45, 0.55]],  # 2 of 3 right
              ("joint", 1): [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]],
              ("bone", 1): [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]]}
    runs = []
    for (stream, seed), sc in scores.items():
        d = tmp_path / f"{stream}{seed}"
        d.mkdir()
        np.save(d / "test_scores.npy", np.array(sc, np.float32))
        pred = np.argmax(sc, axis=1)
        cm = np.bincount(np.array(y) * 2 + pred, minlength=4).reshape(2, 2).tolist()
        variant = f"MANs, {stream} stream"
        runs.append(_run("utkinect", "xsub", "xsub", variant, seed, cm, names, recipe="best",
                         run=str(d), labels=y, keys=["k0", "k1", "k2"],
                         gflops=0.5 if stream == "joint" else 0.25))
    entries = acc.aggregate(runs, {"utkinect": ("MANs, joint stream", "MANs, bone stream")})
    ens = [e for e in entries if e["variant"].startswith("ensemble")]
    assert len(ens) == 1 and ens[0]["variant"] == "ensemble: joint + bone"
    # seed 0 mean: [0.65, 0.35] right, [0.35, 0.65] right, [0.375, 0.625] right: 3 of 3
    assert ens[0]["top1_per_seed"] == [1.0, 1.0]
    assert ens[0]["gflops"] == pytest.approx(0.75) and ens[0]["train_s_per_run"] == 60
    joint = [e for e in entries if e["variant"] == "MANs, joint stream"][0]
    assert joint["top1_per_seed"] == pytest.approx([2 / 3, 1.0])


def test_reuse_takes_only_runs_with_identical_settings(acc):
    jobs = [j for j in acc.plan(seeds=1) if j.group == "xsub"]
    basic = acc.settings_vs_base("utkinect-xsub-resnet-basic", [])
    old = {"meta": {"commit": "old1234"},
           "recipe": {"configs": {"then-xsub": basic}},
           "runs": [{"key": j.key, "config": "then-xsub",
                     "overrides": [o for o in j.overrides if "=" in o], "class_names": ["a"] * 10,
                     "gflops": 0.04} for j in jobs]}
    got = acc.reusable_runs(jobs, old)
    # the basic-recipe ablations match; the best recipe's stream runs (mirroring on) do not
    assert sorted(got) == sorted(j.key for j in jobs if j.recipe == "basic")
    assert all(r["reused"] and r["commit"] == "old1234" for r in got.values())
    changed = json.loads(json.dumps(old))
    changed["recipe"]["configs"]["then-xsub"]["train.epochs"] = 99
    assert acc.reusable_runs(jobs, changed) == {}


def test_targets_pick_the_recipe_stream_and_compare_unrounded(acc):
    from mans.engine.config import load_config

    stream = load_config("hdm05-resnet").data.stream
    row = next(v for v, o in acc.STREAMS.items() if o == [f"data.stream={stream}"])
    entries = [{"dataset": "hdm05", "protocol": "actors", "recipe": "best", "variant": v,
                "top1_mean": (98 / 99 if v == row else 1.0), "gflops": 0.04}
               for v in acc.STREAMS]
    (t,) = acc.target_rows(entries)
    assert t["variant"] == row and t["top1"] == pytest.approx(100 * 98 / 99)
    assert not t["met"]  # 98.99 % rounds to 99.0 but is below the 99.0 % target
    entries[list(acc.STREAMS).index(row)]["top1_mean"] = 0.99
    assert acc.target_rows(entries)[0]["met"]
    entries[list(acc.STREAMS).index(row)]["gflops"] = 0.2  # over a tenth of CTR-GCN's
    assert not acc.target_rows(entries)[0]["met"]
