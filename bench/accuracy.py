"""Reproduce the paper's small-data results on the real data we have: UT-Kinect and HDM05 (subset).

    python bench/accuracy.py                 # the full benchmark (~40 min on 2 CPU cores)
    python bench/accuracy.py --quick         # a smoke run of the same code path (minutes)
    python bench/accuracy.py --tune NAME --set train.lr=0.02   # inner CV of a recipe change

What it does (every run goes through the public API, ``mans.engine.train.run_training`` with a
built-in config name and ``--set``-style overrides):

1. prepares ``../shared/data/utkinect`` and ``../shared/data/hdm05-subset`` with
   :func:`mans.data.prepare.prepare` (once; the stores are kept in ``--out/stores``);
2. trains, for ``--seeds`` seeds each,

   - UT-Kinect ``xsub`` (odd subjects train, even test): full MANs and two ablations, STCM only
     (``model.use_tarm=false``) and TARM without attention (``model.attention=false``);
   - UT-Kinect leave-one-subject-out (``loso-01`` .. ``loso-10``, full MANs): one seed's accuracy
     is the accuracy over all 199 test predictions of its 10 folds;
   - UT-Kinect leave-one-sequence-out (199 folds) only with ``--loo`` (meant for a GPU);
   - HDM05 ``actors`` (bd, bk, dg train; mm, tr test): full MANs and the two ablations;

3. writes ``results.json`` (every run: top-1, mean class accuracy, confusion matrix) and renders
   ``docs/results.md`` from it (the rendering is :func:`render_markdown`, a pure function).

Checkpoint selection is ``last``: the number of epochs is fixed in the recipe (the built-in configs
``utkinect-xsub-resnet``, ``utkinect-loso-resnet``, ``hdm05-resnet``), decided before the test split
was ever evaluated, from an inner cross-validation over the *training* subjects (``--tune``): a
copy of the store whose protocols ``inner-SS`` hold out one training subject at a time and contain
no test-subject sample at all. The test split is evaluated once per run, at the end.

``--quick`` (xsub and HDM05 full MANs, one seed, 3 epochs) writes its outputs to ``--out`` only;
it never replaces ``bench/results.json`` or ``docs/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from mans.engine.ensemble import fuse
from mans.engine.metrics import accuracy, confusion_matrix, mean_class_accuracy
from mans.engine.typed_config import flatten

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MANS_SHARED_DATA", REPO.parent / "shared" / "data"))
RAW = {"utkinect": SHARED_DATA / "utkinect", "hdm05": SHARED_DATA / "hdm05-subset"}
# The recipe of each protocol ("best": today's built-in configs) and the first benchmark recipe
# ("basic": joint stream, no mirroring), whose rows are kept for comparison.
CONFIGS = {"xsub": "utkinect-xsub-resnet", "loso": "utkinect-loso-resnet",
           "loo": "utkinect-loso-resnet", "actors": "hdm05-resnet"}
BASIC = {"xsub": "utkinect-xsub-resnet-basic", "loso": "utkinect-loso-resnet-basic",
         "actors": "hdm05-resnet-basic"}
# Ablations (the paper's Table 3 rows), run with the basic recipe: name -> model overrides.
VARIANTS = {
    "MANs (TARM + STCM)": [],
    "TARM without attention": ["model.attention=false"],
    "STCM only": ["model.use_tarm=false"],
}
# One row per input stream, run with the best recipe: name -> data overrides.
STREAMS = {
    "MANs, joint stream": ["data.stream=joint"],
    "MANs, bone stream": ["data.stream=bone"],
    "MANs, motion stream": ["data.stream=motion"],
    "MANs, bone-motion stream": ["data.stream=bone_motion"],
}
# The streams each dataset's ensemble fuses (equal weights), chosen by inner cross-validation on
# the training subjects (bench/tune.json, rows "ens:..."), never on the test split.
ENSEMBLES = {"utkinect": ("MANs, joint stream", "MANs, bone stream", "MANs, motion stream",
                          "MANs, bone-motion stream"),
             "hdm05": ("MANs, joint stream", "MANs, bone stream", "MANs, motion stream",
                       "MANs, bone-motion stream")}
SHORT = {"MANs (TARM + STCM)": "full", "TARM without attention": "noatt", "STCM only": "stcm",
         "MANs, joint stream": "joint", "MANs, bone stream": "bone",
         "MANs, motion stream": "motion", "MANs, bone-motion stream": "bonemotion",
         "MANs (best recipe)": "best"}
# What the paper reports for the dataset (Xie et al. 2018: 100 % on UT-Kinect; which UT-Kinect
# protocol that number is for is not pinned down here, so every UT-Kinect row shows it). Our
# HDM05 subset has 11 of the 65 classes of the protocol of the paper's HDM05 number: no comparison.
PAPER = {("utkinect", "xsub"): "100 %", ("utkinect", "loso"): "100 %",
         ("utkinect", "loo"): "100 %", ("hdm05", "actors"): "n/a (65-class protocol)"}
DEFAULT_DOCS = REPO / "docs" / "results.md"
README = REPO / "README.md"
README_BEGIN, README_END = "<!-- results:begin -->", "<!-- results:end -->"
DEFAULT_JSON = REPO / "bench" / "results.json"
TUNE_JSON = REPO / "bench" / "tune.json"


# --- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One training run: ``protocol`` of the store of ``dataset``; ``group`` names the table row it
    belongs to (``loso`` for all ten ``loso-SS`` folds)."""

    dataset: str
    group: str
    protocol: str
    variant: str
    seed: int
    config: str
    overrides: tuple[str, ...] = ()
    recipe: str = "basic"  # "basic" (the first recipe) or "best" (today's built-in configs)

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.protocol}/{SHORT.get(self.variant, self.variant)}/" \
               f"seed{self.seed}"


def plan(*, seeds: int, quick: bool = False, loo: bool = False, loo_count: int = 199,
         extra: tuple[str, ...] = ()) -> list[Job]:
    """The runs of the benchmark, seed by seed, the longer runs of each seed first (a better
    load balance over the job pool): the basic recipe's ablations and LOSO, one run per input
    stream with the best recipe (UT-Kinect xsub, HDM05), and LOSO with the best recipe."""
    jobs: list[Job] = []
    quick_set = ("train.epochs=3",) if quick else ()

    def job(dataset, group, protocol, variant, seed, recipe):
        table = VARIANTS if recipe == "basic" else STREAMS
        config = (BASIC if recipe == "basic" else CONFIGS)[group]
        return Job(dataset, group, protocol, variant, seed, config,
                   (f"data.protocol={protocol}", *table.get(variant, ()), *quick_set, *extra,
                    f"train.seed={seed}"), recipe)

    full, best = "MANs (TARM + STCM)", "MANs (best recipe)"
    variants = [full] if quick else list(VARIANTS)
    streams = ["MANs, joint stream"] if quick else list(STREAMS)
    for seed in range(seeds):
        for dataset, group in (("hdm05", "actors"), ("utkinect", "xsub")):
            jobs += [job(dataset, group, group, v, seed, "basic") for v in variants]
            jobs += [job(dataset, group, group, v, seed, "best") for v in streams]
        if not quick:
            for s in range(1, 11):
                p = f"loso-{s:02d}"
                jobs.append(job("utkinect", "loso", p, full, seed, "basic"))
                jobs.append(job("utkinect", "loso", p, best, seed, "best"))
        if loo and not quick:
            width = max(3, len(str(loo_count)))
            for i in range(1, loo_count + 1):
                jobs.append(job("utkinect", "loo", f"loo-{i:0{width}d}", best, seed, "best"))
    order = {"hdm05": 0, "utkinect": 1}
    return sorted(jobs, key=lambda j: (j.seed, order[j.dataset], j.group != "loso"))


# --- stores ---------------------------------------------------------------------------------------


def prepare_stores(out: Path, progress: bool = False) -> dict[str, Path]:
    """Prepare each dataset once into ``out/stores/NAME`` (an existing store is reused: preparation
    is deterministic, and it is re-done when the raw folder's path changed)."""
    from mans.data.prepare import prepare
    from mans.data.store import is_store

    stores = {}
    for name, raw in RAW.items():
        if not raw.is_dir():
            raise SystemExit(f"real data folder {raw} is missing (set MANS_SHARED_DATA)")
        dst = out / "stores" / name
        manifest = dst / "manifest.json"
        if not (is_store(dst) and json.loads(manifest.read_text()).get("raw")
                == str(raw.resolve())):
            prepare(name, raw, dst, view="authors", workers=min(2, os.cpu_count() or 1),
                    progress=progress)
        stores[name] = dst
    return stores


def inner_cv_store(src: Path, dst: Path, protocol: str) -> list[str]:
    """A copy of store ``src`` for tuning: its only protocols are ``inner-<subject>``, one per
    subject of ``protocol``'s *training* split, holding that subject out (``test``) and training on
    the other training subjects. No sample of ``protocol``'s test split is in any of them.

    The frames file is linked, not copied. Returns the protocol names."""
    from mans.data.store import PreparedStore

    store = PreparedStore.open(src)
    train = store.split(protocol, "train")
    subjects = np.array([int(store.meta[i]["subject"]) for i in train])  # (n,)
    protos = {}
    for s in sorted(set(subjects.tolist())):
        protos[f"inner-{s:02d}"] = {"train": train[subjects != s].tolist(),
                                    "test": train[subjects == s].tolist()}
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for f in ("offsets.npy", "labels.npy", "samples.jsonl"):
        shutil.copyfile(src / f, dst / f)
    (dst / "frames.npy").symlink_to((src / "frames.npy").resolve())
    (dst / "protocols.json").write_text(json.dumps(protos))
    manifest = dict(store.manifest)
    first = sorted(protos)[0]
    manifest.update(protocols={p: {k: len(v) for k, v in d.items()} for p, d in protos.items()},
                    default_protocol=first)
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return sorted(protos)


# --- one run (in a worker process) ----------------------------------------------------------------


def run_job(job: Job, store: str, run_dir: str, threads: int = 1) -> dict:
    """Train ``job`` into a fresh ``run_dir`` (deterministic mode, ``threads`` CPU threads) and
    return its record: the engine's test metrics plus the test confusion matrix, recomputed here
    from ``last.pt`` (an independent check of the engine's top-1)."""
    import torch

    from mans.engine.checkpoint import Checkpoint
    from mans.engine.train import run_training
    from mans.models import count_flops
    from mans.data.dataset import SkeletonDataset
    from mans.data.pipeline import InputPipeline
    from mans.data.store import PreparedStore

    torch.set_num_threads(threads)
    run = Path(run_dir)
    if run.exists():
        shutil.rmtree(run)  # every number comes from a run made now
    t0 = time.perf_counter()
    m = run_training(job.config, data=store, out=run, overrides=list(job.overrides),
                     device="cpu", deterministic=True, progress=False)
    torch.set_num_threads(threads)  # deterministic mode restores the thread count it found
    wall = time.perf_counter() - t0

    state = Checkpoint.load(run / m["checkpoint"])
    model = state.build_model("cpu")
    st = PreparedStore.open(store)
    idx = st.split(m["protocol"], "test")
    ds = SkeletonDataset(st, idx, InputPipeline(state.data))
    with torch.no_grad():
        x = torch.stack([ds[k][0] for k in range(len(ds))])  # (N, C, S, W)
        prob = torch.softmax(model(x).float(), dim=1).numpy()  # (N, K)
    pred = prob.argmax(axis=1)
    np.save(run / "test_scores.npy", prob.astype(np.float32))  # for ensembles (--fuse)
    gflops = count_flops(model, model.config.input_shape)["total"] / 1e9  # mirror: counted twice
    cm = confusion_matrix(st.labels[idx], pred, st.num_classes)
    top1 = accuracy(cm)
    if abs(top1 - m["top1"]) > 1e-9:
        raise RuntimeError(f"{job.key}: engine top-1 {m['top1']} but {top1} recomputed from "
                           f"{run / m['checkpoint']}")
    return {**asdict(job), "key": job.key, "top1": m["top1"], "mean_class_acc":
            m["mean_class_acc"], "n_test": int(m["n_test"]), "n_train": int(m["n_train"]),
            "epochs": int(m["epochs"]), "selection": m["selection"], "cm": cm.tolist(),
            "class_names": st.class_names, "wall_s": round(wall, 1), "run": str(run),
            "gflops": round(gflops, 6), "stream": state.data.stream,
            "test_mirror": state.data.test_mirror,
            "labels": st.labels[idx].tolist(), "keys": [st.meta[i]["key"] for i in idx]}


def _worker_init() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def run_all(jobs: list[Job], stores: dict[str, Path], runs: Path, workers: int,
            log=print) -> list[dict]:
    """Run ``jobs`` over ``workers`` processes (one CPU thread each)."""
    results = []
    args = [(j, str(stores[j.dataset]), str(runs / j.key)) for j in jobs]
    t0 = time.perf_counter()
    if workers <= 1:
        for a in args:
            results.append(run_job(*a))
            _log_result(results[-1], len(results), len(jobs), t0, log)
        return results
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                             initializer=_worker_init) as pool:
        futures = [pool.submit(run_job, *a) for a in args]
        for f in as_completed(futures):
            results.append(f.result())
            _log_result(results[-1], len(results), len(jobs), t0, log)
    return results


def _log_result(r: dict, done: int, total: int, t0: float, log) -> None:
    log(f"[{done}/{total} {time.perf_counter() - t0:6.0f} s] {r['key']}: top-1 {r['top1']:.4f} "
        f"mca {r['mean_class_acc']:.4f} ({r['wall_s']:.0f} s)")


# --- aggregation and the table --------------------------------------------------------------------


def aggregate(runs: list[dict], ensembles: dict | None = None) -> list[dict]:
    """One entry per (dataset, group, recipe, variant): per seed, the confusion matrix summed over
    the group's folds (LOSO: 10 folds = every sample once), then mean and sample std over seeds of
    top-1 and mean class accuracy; GFLOP per sample and training wall time per run (means over
    runs). Plus, for each ``ensembles[dataset]`` (variants of the best recipe), an entry that
    fuses those variants' test scores (equal weights) seed by seed: its GFLOP and time are the
    sums of its members'."""
    entries: dict[tuple, dict] = {}
    for r in runs:
        recipe = r.get("recipe", "basic")
        e = entries.setdefault((r["dataset"], r["group"], recipe, r["variant"]), {
            "dataset": r["dataset"], "protocol": r["group"], "recipe": recipe,
            "variant": r["variant"], "selection": r["selection"], "epochs": r["epochs"],
            "class_names": r["class_names"], "per_seed": {}, "gflops": [], "wall": [],
            "commits": set()})
        cm = np.asarray(r["cm"], dtype=np.int64)
        s = e["per_seed"].setdefault(r["seed"], {"cm": np.zeros_like(cm), "folds": 0})
        s["cm"] += cm
        s["folds"] += 1
        e["wall"].append(r["wall_s"])
        if r.get("gflops") is not None:
            e["gflops"].append(r["gflops"])
        e["commits"].add(r.get("commit", ""))
    for dataset, members in (ensembles or {}).items():
        found = [entries.get((dataset, g, "best", v)) for v in members
                 for g in ("xsub", "actors")]
        found = [f for f in found if f is not None]
        if len(found) != len(members):
            continue
        fused = _fuse_runs([r for r in runs if r["dataset"] == dataset and
                            r.get("recipe") == "best" and r["variant"] in members])
        if not fused:
            continue
        first = found[0]
        entries[(dataset, first["protocol"], "best", "ensemble")] = {
            **first, "variant": "ensemble: " + " + ".join(
                m.replace("MANs, ", "").replace(" stream", "") for m in members),
            "per_seed": {seed: {"cm": cm, "folds": 1} for seed, cm in fused.items()},
            "gflops": [sum(float(np.mean(f["gflops"])) for f in found if f["gflops"])],
            "wall": [sum(float(np.mean(f["wall"])) for f in found)],
            "commits": set().union(*(f["commits"] for f in found))}
    out = []
    for e in entries.values():
        seeds = sorted(e["per_seed"])
        cms = [e["per_seed"][s]["cm"] for s in seeds]
        top1 = np.array([accuracy(c) for c in cms])
        mca = np.array([mean_class_accuracy(c) for c in cms])
        total = np.sum(cms, axis=0)
        out.append({
            "dataset": e["dataset"], "protocol": e["protocol"], "recipe": e["recipe"],
            "variant": e["variant"], "selection": e["selection"], "epochs": e["epochs"],
            "seeds": len(seeds), "folds": e["per_seed"][seeds[0]]["folds"],
            "top1_per_seed": top1.round(6).tolist(), "mca_per_seed": mca.round(6).tolist(),
            "top1_mean": float(top1.mean()), "top1_std": _std(top1),
            "mca_mean": float(mca.mean()), "mca_std": _std(mca),
            "n_test_per_seed": int(cms[0].sum()),
            "cm_sum": total.tolist(), "class_names": e["class_names"],
            "paper": PAPER.get((e["dataset"], e["protocol"]), "n/a"),
            "gflops": float(np.mean(e["gflops"])) if e["gflops"] else None,
            "train_s_per_run": float(np.mean(e["wall"])) if e["wall"] else None,
            "commits": sorted(c for c in e["commits"] if c),
        })
    order = {("utkinect", "xsub"): 0, ("utkinect", "loso"): 1, ("utkinect", "loo"): 2,
             ("hdm05", "actors"): 3}
    vorder = list(VARIANTS) + list(STREAMS) + ["MANs (best recipe)"]
    return sorted(out, key=lambda e: (order.get((e["dataset"], e["protocol"]), 9),
                                      e["recipe"] != "basic",
                                      vorder.index(e["variant"]) if e["variant"] in vorder
                                      else 99))


def _fuse_runs(runs: list[dict]) -> dict[int, np.ndarray]:
    """``{seed: (K, K) confusion matrix}`` of the equal-weight mean of the runs' saved test
    scores (``RUN/test_scores.npy``), seed by seed; {} when a score file is missing."""
    by_seed: dict[int, list[dict]] = {}
    for r in runs:
        by_seed.setdefault(r["seed"], []).append(r)
    out = {}
    for seed, rs in sorted(by_seed.items()):
        paths = [Path(r["run"]) / "test_scores.npy" for r in rs]
        if not all(p.is_file() for p in paths) or any(r.get("keys") != rs[0].get("keys")
                                                      for r in rs):
            return {}
        prob = fuse([np.load(p) for p in paths])  # (N, K), as mans ensemble fuses
        out[seed] = confusion_matrix(rs[0]["labels"], prob.argmax(axis=1),
                                     len(rs[0]["class_names"]))
    return out


def _std(x: np.ndarray) -> float:
    """Sample standard deviation (ddof 1); 0 for a single value."""
    return float(x.std(ddof=1)) if x.size > 1 else 0.0


def top_confusions(cm, class_names: list[str], k: int = 5) -> list[tuple[str, str, int]]:
    """The ``k`` largest off-diagonal counts ``(true, predicted, count)``, largest first."""
    cm = np.asarray(cm)
    off = [(int(cm[i, j]), i, j) for i in range(cm.shape[0]) for j in range(cm.shape[1])
           if i != j and cm[i, j] > 0]
    off.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [(class_names[i], class_names[j], n) for n, i, j in off[:k]]


def _pct(mean: float, std: float | None = None) -> str:
    return f"{100 * mean:.1f}" + (f" ± {100 * std:.1f}" if std is not None else "")


def render_markdown(results: dict) -> str:
    """``docs/results.md`` from a results dict (``meta``, ``recipe``, ``entries``, ``runs``,
    optionally ``tuning``); pure, so it is tested on a fake dict."""
    meta, entries = results["meta"], results["entries"]
    lines = [
        "# Results on the real data we have: UT-Kinect and the HDM05 subset",
        "",
        f"Generated by `{meta['command']}` — do not edit by hand. Commit `{meta['commit']}`, "
        f"{meta['date']}, wall time **{meta['wall_s'] / 60:.1f} min** on {meta['machine']}"
        + (" — **QUICK SMOKE RUN, not the benchmark**" if meta.get("quick") else "") + ".",
        "",
        "Accuracies in %, mean ± sample standard deviation over seeds. Every run: checkpoint "
        "selection **last** (the final epoch of a fixed number of epochs decided in advance, see "
        "*Recipe*); the test split is evaluated once, at the end; nothing is test-selected. "
        "LOSO: one seed's accuracy is over the 199 predictions of its 10 folds (each sample is "
        "tested once). *recipe*: `basic` is the first benchmark recipe (joint stream, no "
        "mirroring; configs `*-basic`), kept for comparison; `best` is today's built-in configs, "
        "one row per input stream, and the ensemble fuses the listed streams' softmax scores "
        "with equal weights, seed by seed (which streams: chosen by inner cross-validation). "
        "*GFLOP / sample*: forward pass of one sample (`torch.utils.flop_counter`; test-time "
        "mirror averaging counts twice; an ensemble's is the sum of its members'). *train s / "
        "run*: wall time of one training run (an ensemble's: the sum of its members'). *paper*: the accuracy the MANs paper reports for the dataset (100 % on "
        "UT-Kinect; the protocol behind it is not pinned down here); its HDM05 number is for the "
        "65-class protocol, our subset has 11 classes.",
        "",
        "| dataset | protocol | recipe | variant | selection | seeds | top-1 | mean class acc. | "
        "GFLOP / sample | train s / run | paper | test samples |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        proto = e["protocol"] + (f" ({e['folds']} folds)" if e["folds"] > 1 else "")
        gf = f"{e['gflops']:.3f}" if e.get("gflops") is not None else "-"
        wall = f"{e['train_s_per_run']:.0f}" if e.get("train_s_per_run") is not None else "-"
        lines.append(
            f"| {e['dataset']} | {proto} | {e.get('recipe', 'basic')} | {e['variant']} | "
            f"{e['selection']} ({e['epochs']} ep.) | {e['seeds']} | "
            f"{_pct(e['top1_mean'], e['top1_std'])} | {_pct(e['mca_mean'], e['mca_std'])} | "
            f"{gf} | {wall} | {e['paper']} | {e['n_test_per_seed']} |")
    older = sorted({c for e in entries for c in e.get("commits", []) if c != meta["commit"]})
    if older:
        lines += ["", "Rows whose runs were made at an earlier commit and reused "
                      f"(`--reuse`: same resolved settings, deterministic runs): commit "
                      f"{', '.join(f'`{c}`' for c in older)}: "
                  + "; ".join(f"{e['dataset']} {e['protocol']} {e['variant']}" for e in entries
                              if set(e.get("commits", [])) & set(older)) + "."]
    if results.get("targets"):
        lines += ["", "**Targets** (issue 8; top-1 is the mean over seeds, unrounded; GFLOP limits "
                      f"are fractions of CTR-GCN's {CTRGCN_GFLOP} GFLOP per sample):", ""]
        for t in results["targets"]:
            lines.append(f"- {t['what']} ({t['variant']}): {t['top1']:.2f} % for a target of "
                         f"{t['min_top1']:.1f} %, {t['gflops']:.3f} GFLOP for at most "
                         f"{t['max_gflops']:.2f}: **{'met' if t['met'] else 'missed'}**")
    lines += ["", "Not run: " + "; ".join(meta.get("not_run", [])) + ".", ""]

    lines += ["## Per seed", "", "| dataset | protocol | recipe | variant | top-1 per seed | "
              "mean class acc. per seed |", "|---|---|---|---|---|---|"]
    for e in entries:
        lines.append(f"| {e['dataset']} | {e['protocol']} | {e.get('recipe', 'basic')} | "
                     f"{e['variant']} | "
                     + ", ".join(_pct(v) for v in e["top1_per_seed"]) + " | "
                     + ", ".join(_pct(v) for v in e["mca_per_seed"]) + " |")

    lines += ["", "## Where the errors are", "",
              "Confusion matrices summed over seeds (and folds): the largest off-diagonal counts "
              "(true → predicted: count). Per-run matrices are in `results.json` (`runs[].cm`) "
              "and as PNGs in each run folder.", ""]
    for e in entries:
        conf = top_confusions(e["cm_sum"], e["class_names"])
        total = int(np.asarray(e["cm_sum"]).sum())
        wrong = total - int(np.trace(np.asarray(e["cm_sum"])))
        lines.append(f"- **{e['dataset']} {e['protocol']}, {e.get('recipe', 'basic')}: "
                     f"{e['variant']}** ({wrong} errors in "
                     f"{total} predictions): "
                     + (", ".join(f"{t} → {p}: {n}" for t, p, n in conf) or "none"))
    lines += [""]

    recipe = results.get("recipe", {})
    lines += ["## Recipe", ""]
    for name, text in recipe.get("notes", []):
        lines.append(f"- **{name}**: {text}")
    configs = recipe.get("configs", {})
    if configs:
        names = list(configs)
        keys = sorted({k for c in configs.values() for k in c})
        lines += ["", "The built-in configs of the benchmark, where they differ from `base` (the "
                      "paper's recipe; `-`: as in `base`). The benchmark adds `data.protocol`, "
                      "`train.seed` and the ablation's model key.", "",
                  "| key | " + " | ".join(f"`{n}`" for n in names) + " |",
                  "|---|" + "---|" * len(names)]
        for k in keys:
            lines.append(f"| `{k}` | " + " | ".join(
                json.dumps(configs[n][k]) if k in configs[n] else "-" for n in names) + " |")
    tuning = results.get("tuning") or []
    if tuning:
        lines += ["", "## What was tried (inner cross-validation on training subjects only)", "",
                  "Each row: mean top-1 over the inner folds (each training subject held out once; "
                  "no test-subject sample involved), one seed, selection last.", "",
                  "| dataset | name | difference from the final recipe | inner-CV top-1 "
                  "per fold | mean |", "|---|---|---|---|---|"]
        for t in tuning:
            diff = ", ".join(f"`{d}`" for d in t.get("vs_recipe", [])) or "(the final recipe)"
            lines.append(f"| {t['dataset']} | {t['name']} | {diff} | "
                         + ", ".join(_pct(v) for v in t["fold_top1"]) + f" | "
                         f"**{_pct(t['mean_top1'])}** |")
    lines += ["", "## Reproduce", "", "```bash", meta["command"],
              "python bench/accuracy.py --render   # this page again from bench/results.json",
              "python bench/accuracy.py --tune NAME --dataset utkinect --set train.epochs=150"
              "   # one inner-CV row", "```", ""]
    return "\n".join(lines)


# --- tuning ---------------------------------------------------------------------------------------


def tune(dataset: str, name: str, overrides: list[str], stores: dict[str, Path], out: Path,
         workers: int, log=print) -> dict:
    """Inner CV of the dataset's recipe (+ ``overrides``) on its training subjects; appends the
    record to ``bench/tune.json``."""
    protocol = {"utkinect": "xsub", "hdm05": "actors"}[dataset]
    inner = out / "stores" / f"{dataset}-inner"
    protos = inner_cv_store(stores[dataset], inner, protocol)
    cfg = CONFIGS[protocol]
    jobs = [Job(dataset, "inner", p, "MANs (TARM + STCM)", 0, cfg,
                (f"data.protocol={p}", *overrides)) for p in protos]
    rs = run_all(jobs, {dataset: inner}, out / "tune" / name, workers, log)
    rs.sort(key=lambda r: r["protocol"])
    fold = [r["top1"] for r in rs]
    rec = {"dataset": dataset, "name": name, "overrides": list(overrides), "config": cfg,
           "settings": settings_vs_base(cfg, overrides),
           "folds": [r["protocol"] for r in rs], "fold_top1": fold,
           "mean_top1": float(np.mean(fold)), "commit": git_commit(),
           "wall_s": round(sum(r["wall_s"] for r in rs), 1)}
    return _record_tuning(rec, log)


def _record_tuning(rec: dict, log=print) -> dict:
    """Append (or replace, by dataset and name) a record in ``bench/tune.json``."""
    old = json.loads(TUNE_JSON.read_text()) if TUNE_JSON.is_file() else []
    old = [t for t in old if not (t["dataset"] == rec["dataset"] and t["name"] == rec["name"])]
    TUNE_JSON.write_text(json.dumps(old + [rec], indent=1) + "\n")
    log(f"tune {rec['dataset']} {rec['name']}: inner-CV top-1 {rec['mean_top1']:.4f} per fold "
        f"{[round(f, 3) for f in rec['fold_top1']]}")
    return rec


def tune_fusion(dataset: str, names: list[str], stores: dict[str, Path], out: Path,
                log=print) -> dict:
    """Inner CV of an ensemble: for each inner fold, the equal-weight mean of the test scores
    (``test_scores.npy``) that the tuning runs ``names`` (earlier ``--tune NAME`` runs of the
    same ``--out``) saved; appends the record ``ens:NAME+NAME`` to ``bench/tune.json``. No
    training, and still no test-subject sample: the folds are the inner ones."""
    from mans.data.store import PreparedStore

    protocol = {"utkinect": "xsub", "hdm05": "actors"}[dataset]
    inner = out / "stores" / f"{dataset}-inner"
    protos = inner_cv_store(stores[dataset], inner, protocol)
    store = PreparedStore.open(inner)
    fold = []
    for p in protos:
        paths = [out / "tune" / n / dataset / p / "full" / "seed0" / "test_scores.npy"
                 for n in names]
        missing = [str(x) for x in paths if not x.is_file()]
        if missing:
            raise SystemExit(f"no saved scores for {missing[0]}: run --tune for each name first")
        prob = fuse([np.load(x) for x in paths])  # (n, K), as mans ensemble fuses
        y = store.labels[store.split(p, "test")]
        fold.append(float((prob.argmax(axis=1) == y).mean()))
    name = "ens:" + "+".join(names)
    rec = {"dataset": dataset, "name": name, "ensemble_of": list(names), "overrides": [],
           "config": CONFIGS[protocol], "settings": {}, "folds": protos, "fold_top1": fold,
           "mean_top1": float(np.mean(fold)), "commit": git_commit(), "wall_s": 0.0}
    return _record_tuning(rec, log)


def resolved_settings(config: str, overrides: list[str] | tuple[str, ...]) -> dict:
    """``{dotted key: value}`` of every setting of ``config`` + ``overrides``, without the keys
    that do not change a run's numbers (description, the dataset safety check, loader workers)."""
    from mans.engine.config import load_config

    flat = flatten(load_config(config, list(overrides)).to_dict())
    return {k: v for k, v in flat.items()
            if k not in ("description", "data.dataset", "data.num_workers")}


def config_gflops(config: str, overrides, num_classes: int) -> float:
    """Forward GFLOP per sample of the network ``config`` + ``overrides`` builds (twice that with
    test-time mirror averaging), as :func:`run_job` measures it on the trained model."""
    from mans.engine.config import load_config
    from mans.models import build_model, count_flops

    cfg = load_config(config, list(overrides))
    model = build_model(cfg.model.name, **{**cfg.model.overrides(), "num_classes": num_classes})
    s = model.config.size
    return round(count_flops(model, (model.config.in_channels, s, s))["total"] / 1e9 * (2 if cfg.data.test_mirror
                                                                 else 1), 6)


def reusable_runs(jobs: list[Job], previous: dict) -> dict[str, dict]:
    """``{job key: run record}`` of the runs of an earlier ``results.json`` (``previous``) that
    this plan would repeat exactly: same key and the same resolved settings. An earlier run's
    settings are today's ``base`` with the recipe config it recorded (``recipe.configs``) and its
    overrides applied; keys added to the schema since then take their defaults, which are the
    identity (joint stream, no mirroring, no smoothing, ...). Runs are deterministic, so a
    re-run would give the same numbers; reused records keep the commit they were made at."""
    import yaml

    from mans.engine.config import load_config

    base = flatten(load_config("base").to_dict())
    configs = previous.get("recipe", {}).get("configs", {})
    # Only runs made by that benchmark itself: a run it had reused in turn is made again.
    old = {r["key"]: r for r in previous.get("runs", []) if not r.get("reused")}
    out = {}
    for j in jobs:
        r = old.get(j.key)
        if r is None or r["config"] not in configs:
            continue
        then = {**base, **configs[r["config"]]}
        for o in r["overrides"]:
            k, v = o.split("=", 1)
            then[k] = yaml.safe_load(v)
        then = {k: (list(v) if isinstance(v, tuple) else v) for k, v in then.items()
                if k not in ("description", "data.dataset", "data.num_workers")}
        if then == resolved_settings(j.config, j.overrides):
            out[j.key] = {**r, "recipe": j.recipe, "config": j.config,
                          "gflops": r.get("gflops") or config_gflops(
                              j.config, j.overrides, len(r["class_names"])),
                          "overrides": list(j.overrides),
                          "commit": r.get("commit", previous["meta"]["commit"]), "reused": True}
    return out


def settings_vs_base(config: str, overrides: list[str]) -> dict:
    """``{dotted key: value}`` where ``config`` + ``overrides`` differs from the built-in ``base``
    (the paper's recipe), protocol, dataset and description left out: what a tuning record tried,
    readable even after the recipe configs changed."""
    from mans.engine.config import load_config

    base = flatten(load_config("base").to_dict())
    cfg = flatten(load_config(config, overrides).to_dict())
    skip = ("data.protocol", "data.dataset", "description")
    return {k: v for k, v in cfg.items() if k not in skip and base.get(k) != v}


def vs_recipe(settings: dict, recipe: dict, base: dict | None = None) -> list[str]:
    """``key=value`` strings where a tuning record's ``settings`` differ from the final
    ``recipe`` (both :func:`settings_vs_base` dicts); where the record kept the paper's value of
    a key the recipe changes, that value from ``base`` (flat dict; ``base`` if not given)."""
    out = [f"{k}={json.dumps(v)}" for k, v in sorted(settings.items()) if recipe.get(k) != v]
    base = base or {}
    return out + [f"{k}={json.dumps(base[k]) if k in base else 'base'}" for k in sorted(recipe)
                  if k not in settings]


# --- main -----------------------------------------------------------------------------------------


def git_commit() -> str:
    """``git rev-parse --short HEAD`` plus ``-dirty`` when the tree has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, check=True,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


# Issue 8's targets: (what, dataset, protocol, which row, minimum top-1 in %, maximum GFLOP per
# sample). CTR-GCN (joint stream, same UT-Kinect split and input) costs 1.24 GFLOP per sample and
# scored 98.0 and 97.0 (2 seeds): the figures issue 8 reports; mans does not run CTR-GCN.
CTRGCN_GFLOP = 1.24
TARGETS = [
    ("best single model, UT-Kinect xsub", "utkinect", "xsub", "recipe", 96.0, CTRGCN_GFLOP / 10),
    ("best ensemble, UT-Kinect xsub", "utkinect", "xsub", "ensemble", 97.5, CTRGCN_GFLOP / 4),
    ("best recipe, UT-Kinect LOSO", "utkinect", "loso", "MANs (best recipe)", 96.0,
     CTRGCN_GFLOP / 10),
    ("best single model, HDM05 subset", "hdm05", "actors", "recipe", 99.0, CTRGCN_GFLOP / 10),
]


def target_rows(entries: list[dict]) -> list[dict]:
    """Each target of :data:`TARGETS` against its row of ``entries``: ``recipe`` is the stream row
    of the dataset's built-in recipe config, ``ensemble`` the ensemble row."""
    from mans.engine.config import load_config

    out = []
    for what, dataset, protocol, row, min_top1, max_gflop in TARGETS:
        if row == "recipe":
            stream = load_config(CONFIGS[protocol]).data.stream
            row = next(v for v, o in STREAMS.items() if o == [f"data.stream={stream}"])
        e = next((e for e in entries if e["dataset"] == dataset and e["protocol"] == protocol
                  and e.get("recipe") == "best" and (e["variant"] == row or
                                                     (row == "ensemble" and
                                                      e["variant"].startswith("ensemble")))),
                 None)
        if e is None:
            continue
        top1 = 100 * e["top1_mean"]
        out.append({"what": what, "variant": e["variant"], "top1": top1, "min_top1": min_top1,
                    "gflops": e.get("gflops"), "max_gflops": max_gflop,
                    "met": top1 >= min_top1 - 1e-9 and (e.get("gflops") or 0) <= max_gflop})
    return out


def recipe_record() -> dict:
    """The resolved recipe configs and the notes the table cites."""
    from mans.engine.config import load_config
    from mans.models import build_model, count_flops

    cfg = load_config(CONFIGS["xsub"])
    small = build_model(cfg.model.name, **{**cfg.model.overrides(), "num_classes": 10})
    ours = count_flops(small, (3, small.config.size, small.config.size))["total"]
    dense = count_flops(build_model("mans_densenet161", num_classes=10), (3, 224, 224))["total"]
    names = [*dict.fromkeys(CONFIGS.values()), *dict.fromkeys(BASIC.values())]
    configs = {name: settings_vs_base(name, []) for name in names}
    tuned = {(t["dataset"], t["name"]): t["mean_top1"] for t in
             (json.loads(TUNE_JSON.read_text()) if TUNE_JSON.is_file() else [])}

    def cv(dataset: str, name: str) -> str:
        """The inner-CV top-1 of a bench/tune.json record, in %, as the tuning table shows it."""
        return f"{100 * tuned[dataset, name]:.1f}" if (dataset, name) in tuned else "?"

    notes = [
        ("selection", "`last`: the epoch count is part of the recipe, fixed before any test "
                      "evaluation. A validation split carved by subject from 100 (UT-Kinect "
                      "xsub) or 188 (HDM05) training sequences would hold 1 of 5 / 1 of 3 "
                      "subjects: too few samples to select a checkpoint reliably, and it would "
                      "cost a fifth to a third of the training data."),
        ("how it was chosen", "by the inner cross-validation in the last table (training "
                              "subjects only, one seed; a fold of UT-Kinect holds 20 sequences, "
                              "so one sequence is 1 point of the mean). The basic recipe: "
                              "augmentation (rotation about the vertical axis z of the authors' "
                              "frame, tilt, scale, temporal crop, speed) and AdamW with weight "
                              f"decay 0.05 beat the paper's SGD without augmentation "
                              f"({cv('utkinect', 'r0-base')} -> {cv('utkinect', 'd2-100ep')} on "
                              f"UT-Kinect); S = 50 and a wider ResNet did not pay for their "
                              f"cost. How much of a difference is noise: the same settings run "
                              f"twice, at two commits, gave {cv('utkinect', 'd2-100ep')} and "
                              f"{cv('utkinect', 'f0-recipe')} on UT-Kinect and "
                              f"{cv('hdm05', 'h0-recipe')} and {cv('hdm05', 'e2-adamw-aug')} on "
                              f"HDM05 (one fold changed). The best recipe, tried greedily on top "
                              f"of the basic one: on UT-Kinect left/right mirroring "
                              f"({cv('utkinect', 'f0-recipe')} -> {cv('utkinect', 'f1-mirror')}) "
                              f"and label smoothing on top ({cv('utkinect', 'g2-mirror-ls')}) are "
                              f"within that noise; test-time mirroring, weight EMA and mixup "
                              f"were not better; with mirroring and smoothing the bone stream "
                              f"was the best single stream ({cv('utkinect', 's-bone')}), and "
                              f"fusing all four streams the best ensemble "
                              f"({cv('utkinect', 'ens:g2-mirror-ls+s-bone+s-motion+s-bonemotion')}"
                              f", tied with bone + motion). HDM05 lost with mirroring "
                              f"({cv('hdm05', 'h0-recipe')} -> {cv('hdm05', 'h1-mirror')}; "
                              f"several of its classes are done with one side: depositFloorR, "
                              f"grabHighR, kickLFront); label smoothing gave "
                              f"{cv('hdm05', 'h3-ls')}, the same folds as the basic recipe's "
                              f"second run, so no measured gain; its best single stream was "
                              f"motion ({cv('hdm05', 'hs-motion')}). LOSO keeps the xsub "
                              f"recipe's number of optimisation steps. The test splits were "
                              f"first evaluated by the benchmark run itself."),
        ("model", f"the ResNet variant at a smaller size than the NTU recipe (see the configs; "
                  f"{ours / 1e6:.0f} MFLOPs per sample): the small image fits the short "
                  f"sequences and 2 CPU cores. DenseNet-161 (S = 224, {dense / 1e9:.1f} GFLOPs per "
                  f"sample, {dense / ours:.0f}x) is not run: it does not fit the time budget on "
                  f"2 CPU cores."),
    ]
    return {"configs": configs, "notes": notes}


def tuning_record() -> list[dict]:
    """``bench/tune.json`` with each record's difference from today's recipe (``vs_recipe``)."""
    from mans.engine.config import load_config

    records = json.loads(TUNE_JSON.read_text()) if TUNE_JSON.is_file() else []
    base = flatten(load_config("base").to_dict())
    for t in records:
        if t.get("ensemble_of"):
            t["vs_recipe"] = ["equal-weight fusion of " + " + ".join(t["ensemble_of"])]
            continue
        recipe = settings_vs_base(t["config"], [])
        t["vs_recipe"] = vs_recipe(t["settings"], recipe, base)
    return records


def readme_with_results(readme: str, markdown: str, commit: str) -> str:
    """``readme`` with the text between the results markers replaced by the summary table of
    ``markdown`` (the first table of :func:`render_markdown`'s output)."""
    if README_BEGIN not in readme or README_END not in readme:
        return readme
    lines = markdown.splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    last = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
    block = "\n".join([README_BEGIN, *lines[first:last], "",
                       f"Generated by `python bench/accuracy.py` at commit `{commit}`; details, "
                       "per-seed numbers, errors and the recipe in "
                       "[docs/results.md](docs/results.md).", README_END])
    head, rest = readme.split(README_BEGIN, 1)
    return head + block + rest.split(README_END, 1)[1]


# The page's last section is written by bench/accuracy2d.py; re-rendering this page keeps it.
SECTION_2D = "\n## 2-D (projected) beside 3-D\n"


def write_outputs(results: dict, json_path: Path, docs_path: Path) -> None:
    """results.json, the markdown page (keeping its 2-D section) and, for the real table, the
    README's copy of it."""
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    markdown = render_markdown(results)
    old = docs_path.read_text() if docs_path.is_file() else ""
    kept = old[old.index(SECTION_2D):] if SECTION_2D in old else ""
    docs_path.write_text(markdown + kept)
    if docs_path.resolve() == DEFAULT_DOCS.resolve() and not results["meta"].get("quick"):
        README.write_text(readme_with_results(README.read_text(), markdown,
                                              results["meta"]["commit"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 3 epochs, full MANs")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench",
                   help="stores and run folders (default runs/bench)")
    p.add_argument("--loo", action="store_true",
                   help="also leave-one-sequence-out on UT-Kinect (199 runs per seed: GPU)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="parallel runs, one CPU thread each")
    p.add_argument("--tune", metavar="NAME", default=None,
                   help="instead of the benchmark: inner CV of the recipe on training subjects")
    p.add_argument("--dataset", choices=sorted(RAW), default="utkinect",
                   help="with --tune or --fuse")
    p.add_argument("--fuse", metavar="NAME,NAME", default=None,
                   help="instead of the benchmark: inner CV of the equal-weight fusion of earlier "
                        "--tune runs (no training)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override (with --tune: the change being tried)")
    p.add_argument("--reuse", type=Path, default=None, metavar="RESULTS_JSON",
                   help="take the runs of an earlier results.json that this plan repeats exactly "
                        "(same key and resolved settings; runs are deterministic) instead of "
                        "training them again; the page names their commit")
    p.add_argument("--render", action="store_true",
                   help="only re-render the markdown from an existing results.json (and the "
                        "current bench/tune.json); trains nothing")
    p.add_argument("--json", type=Path, default=None, help="results.json path")
    p.add_argument("--docs", type=Path, default=None, help="results.md path")
    args = p.parse_args(argv)
    if args.render:
        json_path, docs_path = args.json or DEFAULT_JSON, args.docs or DEFAULT_DOCS
        results = json.loads(json_path.read_text())
        results["tuning"] = tuning_record()
        results["recipe"] = recipe_record()  # the configs and notes of this commit
        results["targets"] = target_rows(results["entries"])
        write_outputs(results, json_path, docs_path)
        print(f"wrote {json_path} and {docs_path}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    commit = git_commit()  # of the code that runs (HEAD may move while the benchmark runs)
    stores = prepare_stores(args.out)
    if args.tune:
        tune(args.dataset, args.tune, args.set, stores, args.out, args.workers)
        return 0
    if args.fuse:
        tune_fusion(args.dataset, args.fuse.split(","), stores, args.out)
        return 0

    jobs = plan(seeds=1 if args.quick else args.seeds, quick=args.quick, loo=args.loo,
                extra=tuple(args.set))
    reused = reusable_runs(jobs, json.loads(args.reuse.read_text())) if args.reuse else {}
    todo = [j for j in jobs if j.key not in reused]
    print(f"{len(todo)} runs on {args.workers} workers ({len(reused)} reused from {args.reuse})",
          flush=True)
    runs = [{**r, "commit": commit} for r in run_all(todo, stores, args.out / "runs",
                                                     args.workers)]
    runs += list(reused.values())
    wall = time.perf_counter() - t0
    cmd = "python bench/accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:])
    not_run = ["DenseNet-161 variant (hundreds of times the ResNet's FLOPs per sample, see "
               "*Recipe*: does not fit 2 CPU cores)"]
    if not args.loo:
        not_run.append("UT-Kinect leave-one-sequence-out (199 runs per seed; `--loo`, for a GPU)")
    results = {
        "meta": {"command": cmd.strip(), "commit": commit, "commit_at_end": git_commit(),
                 "wall_s": round(wall, 1),
                 "date": time.strftime("%Y-%m-%d %H:%M %Z"), "quick": args.quick,
                 "workers": args.workers, "seeds": 1 if args.quick else args.seeds,
                 "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}), "
                            f"{args.workers} parallel runs of 1 thread",
                 "python": platform.python_version(), "torch": _torch_version(),
                 "not_run": not_run, "extra_overrides": args.set},
        "recipe": recipe_record(),
        "entries": aggregate(runs, {d: m for d, m in ENSEMBLES.items()}),
        "runs": sorted(runs, key=lambda r: r["key"]),
        "tuning": tuning_record(),
    }
    results["targets"] = target_rows(results["entries"])
    default_json, default_docs = ((args.out / "results.json", args.out / "results.md")
                                  if args.quick else (DEFAULT_JSON, DEFAULT_DOCS))
    json_path, docs_path = args.json or default_json, args.docs or default_docs
    write_outputs(results, json_path, docs_path)
    for e in results["entries"]:
        print(f"{e['dataset']:8s} {e['protocol']:6s} {e['variant']:24s} top-1 "
              f"{_pct(e['top1_mean'], e['top1_std'])}  mca {_pct(e['mca_mean'], e['mca_std'])}  "
              f"per seed {[round(v, 4) for v in e['top1_per_seed']]}")
    print(f"wall time {wall / 60:.1f} min; wrote {json_path} and {docs_path}")
    return 0


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    raise SystemExit(main())
