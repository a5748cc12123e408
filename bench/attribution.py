"""Attribution of the accuracy gap (issue 17): which of STCM, input pipeline and schedule carries it.

Every run is one ``mans train`` (a fresh process, ``--threads 1``) of a *cell*, i.e. a choice of

- ``stcm``: ``resnet`` (today's image CNN, ``custom-small-resnet``) | ``cooc`` (the co-occurrence
  STCM, ``custom-small-cooccurrence``), the TARM in front of both;
- ``pipe``: ``today`` (the small-data recipe's view and augmentation as the config has them) |
  ``ctrgcn`` (CTR-GCN's small-data feeder: spine centring, rotations up to 60 degrees about the
  vertical and one horizontal axis, isotropic scale 0.5-1.5, min-max to [-1, 1], frames
  resampled with replacement, evenly spaced at test; the recipe's crop and speed change off);
- ``sched``: ``e100`` (the recipe's 100 epochs and schedule) | ``long`` (``--long`` epochs,
  default 250, cosine decay after a 5-epoch warm-up),

on a dataset and protocol, for a seed. A fourth part names an input stream other than the joints
(``cooc/ctrgcn/long/bone``, ``.../motion``, ``.../bone_motion``: ``data.stream``), or ``ens``:
``mans ensemble`` (equal weights) of the seed's four stream runs of the cell, which are trained
first and keep their checkpoints. Selection is always the last epoch (the recipes keep no
validation split); the test split is never looked at to choose anything.

Two modes:

- test (default): the protocol's own train/test split (UT-Kinect xsub, HDM05 actors, JHMDB-14
  split 1 = ``given``; ``--datasets jhmdb14-split2 jhmdb14-split3``: its other official splits;
  ``utkinect-loso``: UT-Kinect's 10 leave-one-subject-out folds): the attribution table of
  docs/results.md;
- ``--inner``: folds over the *training* part only (UT-Kinect: each of its 5 training subjects
  held out in turn; HDM05: each of its 3 training actors; JHMDB-14: 3 stratified folds, the
  clips have no subject ids). The folds are written as protocols ``inner-K`` of a store that
  shares the original's arrays (symlinks) under ``--stores``; used to choose the recipe.

Each finished run leaves ``record.json`` (cell, dataset, fold, seed, top-1, train wall time) in
its folder; a run with a record is skipped, so the command resumes. ``--render`` writes the
summary (mean, sample standard deviation, per-seed values) as JSON and Markdown; with ``--base``
(an earlier ``--render`` JSON) the rows that no record under ``--out`` measures are kept as that
JSON has them, so runs made at different times (and in different folders) add up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

DATASETS = {  # name -> (store, protocol of the test mode)
    "utkinect": ("utkinect", "xsub"),
    "hdm05": ("hdm05", "actors"),
    "jhmdb14": ("jhmdb14", "given"),
    "jhmdb14-split2": ("jhmdb14", "split2"),  # JHMDB's other two official splits (test mode)
    "jhmdb14-split3": ("jhmdb14", "split3"),
    # leave one subject out: a seed's value is its mean over the 10 folds
    "utkinect-loso": ("utkinect", tuple(f"loso-{k:02d}" for k in range(1, 11))),
}
STCMS = {"resnet": "custom-small-resnet", "cooc": "custom-small-cooccurrence",
         "coocmix": "custom-small-cooccurrence"}  # coocmix: + model.joint_mixing
# "today" is written out (custom-small-resnet's keys as they were when the attribution ran), so
# the cell keeps its meaning when the custom-small-* configs become the chosen recipe.
TODAY = ["data.centre=none", "data.normalise=none", "data.frames=pad",
         "data.augment.rotation_deg=[10.0,10.0,30.0]", "data.augment.scale=[0.9,1.1]",
         "data.augment.crop=[0.8,1.0]", "data.augment.resample=[0.8,1.25]"]
PIPES = {
    "today": TODAY,
    "ctrgcn": ["data.centre=spine", "data.normalise=minmax", "data.frames=resample",
               "data.augment.rotation_deg=[60.0,0.0,60.0]", "data.augment.scale=[0.5,1.5]",
               "data.augment.crop=[1.0,1.0]", "data.augment.resample=[1.0,1.0]"],
}
PIPES_2D = {  # 2-D data: rotation in the image plane only (z is the axis out of the image)
    "today": TODAY,
    "ctrgcn": ["data.centre=spine", "data.normalise=minmax", "data.frames=resample",
               "data.augment.rotation_deg=[0.0,0.0,30.0]", "data.augment.scale=[0.5,1.5]",
               "data.augment.crop=[1.0,1.0]", "data.augment.resample=[1.0,1.0]"],
}
SCHEDS = ("e100", "long")


def sched_sets(sched: str, long_epochs: int) -> list[str]:
    """The schedule's keys, written out (as ``TODAY``) so that a cell keeps its meaning whatever
    schedule the configs carry: ``e100`` = the small-data recipe's 100 epochs at a
    reduce-on-plateau rate as it was, ``long`` = cosine after a 5-epoch warm-up."""
    if sched == "e100":
        return ["train.epochs=100", "train.scheduler.name=plateau",
                "train.scheduler.warmup_epochs=0"]
    return [f"train.epochs={long_epochs}", "train.scheduler.name=cosine",
            "train.scheduler.warmup_epochs=5"]


def inner_store(stores: Path, name: str, folds: int = 3) -> tuple[Path, list[str]]:
    """A store beside ``stores/name`` that shares its arrays and defines ``inner-K`` protocols
    over the test-mode protocol's training split (see the module docstring)."""
    src = stores / name
    dst = stores / f"{name}-inner"
    protocol = DATASETS[name][1]
    protos = json.loads((src / "protocols.json").read_text())
    train = np.asarray(protos[protocol]["train"], dtype=np.int64)
    meta = [json.loads(line) for line in (src / "samples.jsonl").read_text().splitlines()]
    subjects = [meta[i].get("subject") for i in train]
    if None not in subjects:
        groups = sorted(set(subjects))
        fold_of = {s: k for k, s in enumerate(groups)}
        fold = np.array([fold_of[s] for s in subjects])
    else:  # stratified: within each class, samples dealt round-robin after a fixed shuffle
        rng = np.random.default_rng(20261207)
        labels = np.array([meta[i]["label"] for i in train])
        fold = np.zeros(train.size, dtype=np.int64)
        for c in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == c))
            fold[members] = np.arange(members.size) % folds
    names = []
    inner = {}
    for k in range(int(fold.max()) + 1):
        inner[f"inner-{k}"] = {"train": train[fold != k].tolist(), "test": train[fold == k].tolist()}
        names.append(f"inner-{k}")
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("frames.npy", "labels.npy", "offsets.npy", "samples.jsonl"):
        if not (dst / f).exists():
            os.symlink((src / f).resolve(), dst / f)
    (dst / "protocols.json").write_text(json.dumps(inner))
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["protocols"] = {p: {s: len(v) for s, v in d.items()} for p, d in inner.items()}
    manifest["default_protocol"] = names[0]
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return dst, names


def plan(args) -> list[dict]:
    stores = Path(args.stores)
    jobs = []
    for ds in args.datasets:
        two_d = ds.startswith("jhmdb14")
        if args.inner:
            store, protocols = inner_store(stores, ds)
        else:
            store, protocol = stores / DATASETS[ds][0], DATASETS[ds][1]
            protocols = [protocol] if isinstance(protocol, str) else list(protocol)
        for seed, cell, protocol in itertools.product(range(args.seeds), args.cells, protocols):
            root = Path(args.out) / ("inner" if args.inner else "test") / ds / protocol
            stcm, pipe, sched, *stream = cell.split("/")
            if stream == ["ens"]:  # the four stream runs first, their checkpoints kept
                members = [(f"{stcm}/{pipe}/{sched}" + ("" if s == "joint" else f"/{s}"), s)
                           for s in STREAMS]
            else:
                members = [(cell, stream[0] if stream else "joint")]
            for member, s in members:
                sets = [f"data.protocol={protocol}", f"train.seed={seed}"]
                sets += (PIPES_2D if two_d else PIPES)[pipe] + sched_sets(sched, args.long)
                if stcm == "coocmix":
                    sets.append("model.joint_mixing=true")
                if s != "joint":
                    sets.append(f"data.stream={s}")
                jobs.append(dict(dataset=ds, protocol=protocol, cell=member, seed=seed,
                                 config=STCMS[stcm], store=str(store), sets=sets,
                                 out=str(root / member.replace("/", "-") / f"seed{seed}"),
                                 keep=stream == ["ens"], order=args.cells.index(cell)))
            if stream == ["ens"]:
                jobs.append(dict(dataset=ds, protocol=protocol, cell=cell, seed=seed,
                                 store=str(store), out=str(root / cell.replace("/", "-") /
                                                           f"seed{seed}"),
                                 members=[j["out"] for j in jobs[-len(members):]],
                                 order=args.cells.index(cell)))
    # seed-major: every cell gets seed 0 before any gets seed 1; a cell shared by an ensemble and
    # the cells asked for is trained once
    unique = {}
    for j in jobs:
        if j["out"] in unique:
            unique[j["out"]]["keep"] = unique[j["out"]].get("keep") or j.get("keep")
        else:
            unique[j["out"]] = j
    jobs = list(unique.values())
    jobs.sort(key=lambda j: (j["seed"], j["order"], j["dataset"], j["protocol"]))
    return jobs


STREAMS = ("joint", "bone", "motion", "bone_motion")  # an ``ens`` cell's members, in this order


def ensemble(job: dict) -> dict | None:
    """``mans ensemble`` (equal weights, one thread) of a seed's stream runs on the test split of
    their protocol; the record's wall time is the members' training time added up."""
    out = Path(job["out"])
    rec = out / "record.json"
    if rec.exists():
        return json.loads(rec.read_text())
    missing = [m for m in job["members"] if not (Path(m) / "record.json").is_file()]
    if missing:
        print(f"SKIPPED {out}: no finished run in {', '.join(missing)}", flush=True)
        return None
    members = [json.loads((Path(m) / "record.json").read_text()) for m in job["members"]]
    m = mans(["ensemble", *job["members"], "--data", job["store"]], out)
    if m is None:
        return None
    r = dict(job, top1=m["top1"], n_test=m["n"], run_top1=m["run_top1"],
             streams=m["streams"], train_wall_s=sum(x["train_wall_s"] for x in members))
    rec.write_text(json.dumps(r, indent=1))
    print(f"{job['dataset']} {job['protocol']} {job['cell']} seed{job['seed']}: "
          f"{100 * m['top1']:.1f} (members {[round(100 * v, 1) for v in m['run_top1']]})",
          flush=True)
    return r


def mans(args: list[str], out: Path) -> dict | None:
    """``python -m mans ARGS --out OUT --threads 1 -q`` into a fresh ``out`` (an unfinished
    earlier attempt is removed first): its ``metrics.json`` and wall seconds, or None after a line
    saying why it failed."""
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "mans", *args, "--out", str(out), "--threads", "1",
                        "-q"], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    if p.returncode != 0:
        print(f"FAILED {out}: {p.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    m = json.loads((out / "metrics.json").read_text())
    m["wall_s"] = time.time() - t0
    return m


def run(job: dict) -> dict | None:
    out = Path(job["out"])
    rec = out / "record.json"
    if rec.exists():
        return json.loads(rec.read_text())
    args = ["train", job["config"], "--data", job["store"]]
    for s in job["sets"]:
        args += ["--set", s]
    m = mans(args, out)
    if m is None:
        return None
    r = dict(job, top1=m["top1"], n_test=m["n_test"], n_train=m["n_train"],
             train_wall_s=m["wall_s"], epochs=m["epochs"])
    rec.write_text(json.dumps(r, indent=1))
    # keep the records small; the checkpoints only where an ensemble fuses them
    shutil.rmtree(out / "tb", ignore_errors=True)
    if not job.get("keep"):
        (out / "last.pt").unlink(missing_ok=True)
    print(f"{job['dataset']} {job['protocol']} {job['cell']} seed{job['seed']}: "
          f"{100 * m['top1']:.1f} ({m['wall_s']:.0f} s)", flush=True)
    return r


def _commit(rec: dict) -> str | None:
    """The code's commit a run trained with (its ``environment.json``), shortened."""
    env = Path(rec["out"]) / "environment.json"
    if not env.is_file():
        return None
    c = json.loads(env.read_text()).get("mans_git_commit")
    return c[:7] if c else None


def run_network(rec: dict):
    """A run's untrained network (its saved ``config.yaml`` on its store, filled as training
    fills it: classes, channels, joint columns, body slots), or None without the config."""
    import yaml

    from mans.data.store import PreparedStore
    from mans.models import build_model, fill_data_overrides

    saved = Path(rec["out"]) / "config.yaml"
    if not saved.is_file():
        return None
    model = yaml.safe_load(saved.read_text())["model"]
    name = model.pop("name")
    over = {k: v for k, v in model.items() if v is not None}
    store = PreparedStore.open(rec["store"])
    over.setdefault("num_classes", store.num_classes)
    over.setdefault("in_channels", int(store.prep.get("channels") or 3))
    bodies = int(store.prep["max_bodies"])
    fill_data_overrides(name, over, bodies=bodies, parents=store.layout.parents,
                        joints=store.prep.get("joints") or bodies * store.layout.num_joints)
    return build_model(name, **over)


def gflops(rec: dict) -> float | None:
    """GFLOP of one sample's forward pass of a run's network (:func:`run_network`)."""
    from mans.models import count_flops

    if "members" in rec:  # an ensemble: its members' forward passes
        parts = [gflops(json.loads((Path(m) / "record.json").read_text())) for m in rec["members"]]
        return None if None in parts else sum(parts)
    net = run_network(rec)
    return None if net is None else count_flops(net, net.config.input_shape)["total"] / 1e9


def throughput(out: Path, batches: tuple[int, ...] = (1, 64), repeats: int = 15) -> dict:
    """CPU inference samples/s on one thread of each dataset's STCMs as the runs built them
    (untrained weights: the speed does not depend on them), timed interleaved
    (``bench/speed.py``'s ``time_interleaved``: every network sees the same machine load)."""
    import torch

    from speed import time_interleaved

    torch.set_num_threads(1)
    nets = {}
    for p in sorted(out.rglob("record.json")):
        r = json.loads(p.read_text())
        key = f"{r['dataset']}/{r['cell'].split('/')[0]}"
        if key not in nets and (net := run_network(r)) is not None:
            nets[key] = net.eval()
    result = {"threads": 1, "torch": torch.__version__, "load_before": os.getloadavg()[0]}
    for b in batches:
        calls = {}
        for key, net in nets.items():
            x = torch.randn(b, *net.config.input_shape)

            def call(net=net, x=x):
                with torch.inference_mode():
                    net(x)
            calls[key] = call
        secs = time_interleaved(calls, warmup=3, repeats=repeats)
        result[f"batch{b}"] = {k: round(b / v, 1) for k, v in secs.items()}
    result["load_after"] = os.getloadavg()[0]
    return result


def render(out: Path, base: dict | None = None) -> dict:
    """The summary of the records under ``out``: one row per mode, dataset and cell. ``base``
    (an earlier summary): its rows that no record here measures are kept as they are, its
    ``tune`` entries likewise; ``runs`` counts the trainings behind all rows."""
    recs = [json.loads(p.read_text()) for p in sorted(out.rglob("record.json"))]
    table = {}
    for r in recs:
        mode = "inner" if "/inner/" in r["out"] else "test"
        key = (mode, r["dataset"], r["cell"])
        table.setdefault(key, {}).setdefault(r["seed"], []).append(r)
    summary = []
    for (mode, ds, cell), seeds in sorted(table.items()):
        # one value per seed: the mean over that seed's folds (test mode: one fold)
        per_seed = {s: float(np.mean([r["top1"] for r in rs])) for s, rs in sorted(seeds.items())}
        folds = sorted({r["protocol"] for rs in seeds.values() for r in rs})
        complete = all(len(rs) == len(folds) for rs in seeds.values())
        vals = list(per_seed.values())
        summary.append(dict(
            mode=mode, dataset=ds, cell=cell, seeds=len(vals), folds=len(folds),
            complete_folds=complete, mean=100 * float(np.mean(vals)),
            sd=100 * statistics.stdev(vals) if len(vals) > 1 else None,
            per_seed=[round(100 * v, 1) for v in vals],
            train_wall_s=float(np.mean([r["train_wall_s"] for rs in seeds.values() for r in rs])),
            commits=sorted({c for rs in seeds.values() for r in rs if (c := _commit(r))}),
            gflops=gflops(next(iter(seeds.values()))[0])))
    tune = tune_entries(recs)
    if base:
        new = {(r["mode"], r["dataset"], r["cell"]) for r in summary}
        summary += [r for r in base["rows"] if (r["mode"], r["dataset"], r["cell"]) not in new]
        summary.sort(key=lambda r: (r["mode"] != "test", r["dataset"], r["cell"]))
        names = {(t["dataset"], t["name"]) for t in tune}
        tune += [t for t in base.get("tune", []) if (t["dataset"], t["name"]) not in names]
    runs = sum(r["seeds"] * r["folds"] for r in summary if not r["cell"].endswith("/ens"))
    return {"runs": runs, "rows": summary, "tune": tune}


def tune_entries(recs: list[dict]) -> list[dict]:
    """The inner-fold runs as bench/tune.json entries: one per dataset, cell and seed, with its
    folds' top-1 (the format of the earlier rounds' entries)."""
    groups = {}
    for r in recs:
        if "/inner/" in r["out"]:
            groups.setdefault((r["dataset"], r["cell"], r["seed"]), []).append(r)
    entries = []
    for (ds, cell, seed), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["protocol"])
        entries.append({
            "dataset": ds, "name": f"attr:{cell}:seed{seed}", "config": rs[0]["config"],
            "overrides": [x for x in rs[0]["sets"] if not x.startswith("data.protocol=")],
            "folds": [r["protocol"] for r in rs], "fold_top1": [r["top1"] for r in rs],
            "mean_top1": float(np.mean([r["top1"] for r in rs])),
            "commit": ",".join(sorted({c for r in rs if (c := _commit(r))})) or None,
            "wall_s": round(float(sum(r["train_wall_s"] for r in rs)), 1)})
    return entries


def write_tune(path: Path, entries: list[dict]) -> None:
    """Replace the ``attr:`` entries of bench/tune.json with ``entries``, keeping the others."""
    old = json.loads(path.read_text()) if path.is_file() else []
    kept = [e for e in old if not str(e.get("name", "")).startswith("attr:")]
    path.write_text(json.dumps(kept + entries, indent=1) + "\n")


def effects(rows: list[dict], mode: str = "test") -> list[str]:
    """Sentences on each factor's effect: the change of the mean when one factor changes and the
    other two stay, for every such pair of cells measured on a dataset (mode: test or inner)."""
    by = {(r["dataset"], tuple(r["cell"].split("/"))): r for r in rows if r["mode"] == mode}
    levels = (("STCM", 0, "resnet", "cooc"), ("pipeline", 1, "today", "ctrgcn"),
              ("schedule", 2, "e100", "long"))
    out = []
    for name, pos, lo, hi in levels:
        parts = []
        for (ds, cell), r in sorted(by.items()):
            if cell[pos] != lo:
                continue
            other = list(cell)
            other[pos] = hi
            o = by.get((ds, tuple(other)))
            if o is None:
                continue
            rest = "/".join(c for i, c in enumerate(cell) if i != pos)
            parts.append(f"{ds} {rest}: {o['mean'] - r['mean']:+.1f} ({r['mean']:.1f} -> "
                         f"{o['mean']:.1f}, ≥ {min(r['seeds'], o['seeds'])} seeds)")
        if parts:
            out.append(f"- {name} {LABEL[lo]} -> {LABEL[hi]}: " + "; ".join(parts) + ".")
    return out


BEGIN, END = "<!-- attribution:begin -->", "<!-- attribution:end -->"
LABEL = {"resnet": "ResNet (image)", "cooc": "co-occurrence",
         "coocmix": "co-occurrence + joint mixing", "today": "today's",
         "ctrgcn": "CTR-GCN-style", "e100": "100 ep.", "long": "long"}


def cell_error(cell: str) -> str | None:
    """What is wrong with a ``--cells`` entry (module docstring), or None."""
    parts = cell.split("/")
    if len(parts) not in (3, 4):
        return "expected STCM/PIPELINE/SCHEDULE[/STREAM or ens], e.g. cooc/ctrgcn/long/bone"
    for part, known in zip(parts, (STCMS, PIPES, SCHEDS, (*STREAMS[1:], "ens"))):
        if part not in known:
            return f"{part!r} is not one of {', '.join(known)}"
    return None


def cell_labels(cell: str) -> tuple[str, str, str]:
    """A cell's STCM, pipeline and schedule as the tables name them; a stream other than the
    joints or an ensemble is named with the STCM."""
    stcm, pipe, sched, *stream = cell.split("/")
    name = LABEL[stcm]
    if stream == ["ens"]:
        name += ", ensemble of " + " + ".join(s.replace("_", "-") for s in STREAMS)
    elif stream:
        name += f", {stream[0].replace('_', '-')} stream"
    return name, LABEL[pipe], LABEL[sched]


def markdown(s: dict) -> str:
    """The attribution tables (test split; inner folds) from a :func:`render` summary."""
    lines = [BEGIN, "", "## Attribution: STCM x input pipeline x schedule (issue 17)", "",
             f"Generated by `{s['command']}` from {s['runs']} runs -- do not edit by hand. "
             "Top-1 in %, mean ± sample standard deviation over seeds (*inner*: a seed's value is "
             "its mean over the folds of the training subjects), selection **last**, the test "
             "split never used to choose. Cells as in `bench/attribution.py`'s docstring. *GFLOP / "
             "sample*: one sample's forward pass (`mans.models.count_flops`); *train s / run*: "
             "wall time of one training on one thread, two runs sharing the 2-core machine (an "
             "ensemble: its four trainings added up; its GFLOP: its four networks').", ""]
    for mode, title in (("test", "Test split"), ("inner", "Inner folds (training part only)")):
        rows = [r for r in s["rows"] if r["mode"] == mode]
        if not rows:
            continue
        lines += [f"### {title}", "", "| dataset | STCM | pipeline | schedule | seeds | folds | "
                  "top-1 | per seed | GFLOP / sample | train s / run |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            stcm, pipe, sched = cell_labels(r["cell"])
            sd = f" ± {r['sd']:.1f}" if r["sd"] is not None else ""
            per = ", ".join(f"{v:.1f}" for v in r["per_seed"])
            lines.append(f"| {r['dataset']} | {stcm} | {pipe} | {sched} | "
                         f"{r['seeds']} | {r['folds']} | {r['mean']:.1f}{sd} | {per} | "
                         f"{'-' if r['gflops'] is None else format(r['gflops'], '.3f')} | "
                         f"{r['train_wall_s']:.0f} |")
        lines.append("")
        if mode == "inner":
            lines += ["The inner folds' ranking (what chooses the recipe), best first:", ""]
            for ds in sorted({r["dataset"] for r in rows}):
                ranked = sorted((r for r in rows if r["dataset"] == ds), key=lambda r: -r["mean"])
                lines.append(f"- {ds}: " + "; ".join(
                    f"{r['cell']} {r['mean']:.1f}"
                    + (f" ± {r['sd']:.1f}" if r["sd"] is not None else "")
                    + f" ({r['seeds']} seed{'s' if r['seeds'] > 1 else ''})" for r in ranked) + ".")
            lines.append("")
        eff = effects(s["rows"], mode)
        if eff:
            lines += [f"Each factor's effect ({title.lower()}; the other two factors held):", ""]
            lines += eff + [""]
    sp = s.get("throughput")
    if sp:
        lines += ["### CPU inference", "",
                  f"Samples/s on {sp['threads']} thread (torch {sp['torch']}, untrained weights of "
                  f"the runs' networks, median of interleaved repeats; load average "
                  f"{sp['load_before']:.1f} before, {sp['load_after']:.1f} after):", "",
                  "| dataset | STCM | batch 1 | batch 64 |", "|---|---|---|---|"]
        for key in sorted(sp["batch1"]):
            ds, stcm = key.split("/")
            lines.append(f"| {ds} | {LABEL[stcm]} | {sp['batch1'][key]:.0f} | "
                         f"{sp['batch64'][key]:.0f} |")
        lines.append("")
    return "\n".join(lines + [END]) + "\n"


def write_section(page: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    """Put ``section`` (which starts with ``begin`` and ends with ``end``) in place of the page's
    section between those markers, or at the end of the page when it has none."""
    old = page.read_text() if page.is_file() else ""
    if begin in old:
        head, rest = old.split(begin, 1)
        page.write_text(head + section.rstrip("\n") + rest.split(end, 1)[1])
        return
    page.write_text(old.rstrip("\n") + "\n\n" + section)


RECIPE, PRIOR = "cooc/ctrgcn/long", "resnet/today/e100"  # custom-small-cooccurrence; before it
SUMMARY = [  # README's rows: dataset, cell, name, protocol, issue 17's target
    ("utkinect", RECIPE, "UT-Kinect", "xsub", "≥ 96.0"),
    ("utkinect", RECIPE + "/ens", "UT-Kinect", "xsub, 4-stream ensemble", "≥ 97.5"),
    ("utkinect-loso", RECIPE, "UT-Kinect", "LOSO", "≥ 96.0"),
    ("hdm05", RECIPE, "HDM05 subset", "actors", "≥ 99.3"),
    ("jhmdb14", RECIPE, "JHMDB-14 (2-D)", "split 1", "≥ 83 (3-split mean)"),
    ("jhmdb14-split2", RECIPE, "JHMDB-14 (2-D)", "split 2", ""),
    ("jhmdb14-split3", RECIPE, "JHMDB-14 (2-D)", "split 3", "")]
README_BEGIN = "<!-- recipe-results:begin -->"
README_END = "<!-- recipe-results:end -->"


def summary_table(s: dict) -> str:
    """README's table: the chosen small-data recipe (``RECIPE``) beside the recipe before it
    (``PRIOR``) on each test split measured, the JHMDB-14 mean over its splits when all three are
    there; the targets are issue 17's."""
    rows = {(r["dataset"], r["cell"]): r for r in s["rows"] if r["mode"] == "test"}

    def cell(r):
        if r is None:
            return "not run"
        sd = f" ± {r['sd']:.1f}" if r["sd"] is not None else ""
        return f"{r['mean']:.1f}{sd} ({r['seeds']})"

    lines = [README_BEGIN, "| dataset | protocol | `custom-small-cooccurrence(-2d)` (seeds) | "
             "GFLOP / sample | before: `custom-small-resnet` (seeds) | target |",
             "|---|---|---|---|---|---|"]
    for ds, recipe, name, proto, target in SUMMARY:
        new = rows.get((ds, recipe))
        old = rows.get((ds, PRIOR)) if recipe == RECIPE else None
        if new is None and old is None:
            continue
        before = cell(old) if recipe == RECIPE else "-"  # the ensemble row: no such "before"
        gf = f"{new['gflops']:.3f}" if new and new.get("gflops") is not None else "-"
        lines.append(f"| {name} | {proto} | {cell(new)} | {gf} | {before} | {target} |")
    splits = [rows.get((ds, RECIPE)) for ds in ("jhmdb14", "jhmdb14-split2", "jhmdb14-split3")]
    if all(splits):
        mean = float(np.mean([r["mean"] for r in splits]))
        lines.append(f"| JHMDB-14 (2-D) | mean of the 3 splits | {mean:.1f} | - | - | ≥ 83 |")
    lines += ["", f"Generated by `{s['command']}` (bench/attribution.py); top-1 %, mean ± sample "
              "standard deviation over seeds, the last epoch, never selected on the test split; "
              "LOSO: a seed's mean over the 10 folds. The attribution, the inner folds that chose "
              "the recipe and every per-seed value: [docs/results.md](docs/results.md).",
              README_END]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="attribution-runs")
    ap.add_argument("--stores", default="stores")
    ap.add_argument("--datasets", nargs="+", default=["utkinect", "hdm05", "jhmdb14"],
                    choices=list(DATASETS))
    ap.add_argument("--cells", nargs="+", default=[
        "/".join(c) for c in itertools.product(("resnet", "cooc"), PIPES, SCHEDS)])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--long", type=int, default=250, help="epochs of the long schedule")
    ap.add_argument("--inner", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--render", metavar="JSON", help="only summarise the records into JSON")
    ap.add_argument("--docs", type=Path, help="with --render: write the section of this page "
                    "(docs/results.md) between the attribution markers")
    ap.add_argument("--speed", type=Path, help="measure the CPU inference throughput of the runs' "
                    "networks into this JSON (bench/attribution_speed.json), on an idle machine")
    ap.add_argument("--speed-from", type=Path, help="with --render: the --speed JSON to include")
    ap.add_argument("--readme", type=Path, help="with --render: write the recipe's summary "
                    "table into this page (README.md) between its markers")
    ap.add_argument("--base", type=Path, help="with --render: an earlier --render JSON whose "
                    "rows no record under --out measures are kept (bench/attribution.json)")
    ap.add_argument("--tune", type=Path, help="with --render: put the inner-fold runs into this "
                    "file (bench/tune.json) as its attr: entries")
    args = ap.parse_args()
    for cell in args.cells:
        if (why := cell_error(cell)) is not None:
            ap.error(f"--cells {cell}: {why}")
    if args.speed:
        args.speed.write_text(json.dumps(throughput(Path(args.out)), indent=1) + "\n")
        print(args.speed.read_text())
        return
    if args.render:
        base = None
        if args.base:
            try:
                base = json.loads(args.base.read_text())
                base["rows"]
            except (OSError, ValueError, KeyError, TypeError) as e:
                ap.error(f"--base {args.base}: not a --render JSON ({type(e).__name__}: {e})")
        s = render(Path(args.out), base)
        if args.speed_from:
            s["throughput"] = json.loads(args.speed_from.read_text())
        s["command"] = " ".join(["python", "bench/attribution.py"] + sys.argv[1:])
        Path(args.render).write_text(json.dumps(s, indent=1) + "\n")
        if args.docs:
            write_section(args.docs, markdown(s))
        if args.tune:
            write_tune(args.tune, s["tune"])
        if args.readme:
            write_section(args.readme, summary_table(s), README_BEGIN, README_END)
        for r in s["rows"]:
            sd = f" ± {r['sd']:.1f}" if r["sd"] is not None else ""
            print(f"{r['mode']:5} {r['dataset']:8} {r['cell']:20} {r['mean']:5.1f}{sd} "
                  f"(seeds {r['per_seed']}, folds {r['folds']}, {r['train_wall_s']:.0f} s)")
        return
    jobs = plan(args)
    trainings = [j for j in jobs if "members" not in j]
    print(f"{len(trainings)} runs, {len(jobs) - len(trainings)} ensembles", flush=True)
    with ThreadPoolExecutor(args.workers) as ex:
        list(ex.map(run, trainings))
    for j in jobs:  # after every training: an ensemble needs its members' checkpoints
        if "members" in j:
            ensemble(j)


if __name__ == "__main__":
    main()
