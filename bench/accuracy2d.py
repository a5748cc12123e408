"""The 2-D path on real motion: UT-Kinect and HDM05 projected to 2-D image coordinates through a
pinhole camera, prepared with the ``2d`` view and trained with the same recipe as the 3-D
benchmark (bench/accuracy.py), so that the results page can show 2-D beside 3-D.

    python bench/accuracy2d.py                # full: both datasets, 3 seeds (~ as long as the 3-D
                                              # xsub + actors rows: tens of minutes on 2 cores)
    python bench/accuracy2d.py --quick        # smoke run: 1 seed, 3 epochs (outputs in --out only)

Projection (:func:`mans.data.views2d.pinhole_project`, Kinect v1 colour intrinsics f = 525 px,
principal point (320, 240)):

* UT-Kinect joints are already in the Kinect camera frame, so the camera is the sensor itself;
* HDM05 (motion capture, y up, metres) is filmed by a fixed camera 4 m in front (-z) of the
  sequence's mean hip centre, 1 m above the floor (:func:`mans.data.views2d.camera_in_front`).

The projected sequences are written as custom ``.npz`` files + ``labels.csv`` (with the protocol
of the 3-D benchmark as the ``split`` column: UT-Kinect ``xsub``, HDM05 ``actors``) and prepared
with ``mans prepare custom --view 2d``: the public 2-D path end to end. Training uses the 3-D
benchmark's basic-recipe configs (``utkinect-xsub-resnet-basic``, ``hdm05-resnet-basic``: joint
stream, the rows of the ablations) with the dataset lock lifted and
the augmentation rotation reduced to the image plane (``[0, 0, 10]`` degrees); nothing was tuned
for 2-D. Results go to ``--out/results2d.json``; the full run also writes ``bench/results2d.json``
and the "2-D beside 3-D" table of docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from accuracy import BASIC, RAW, SECTION_2D, VARIANTS, Job, git_commit, run_all  # noqa: E402

PROTOCOL = {"utkinect": "xsub", "hdm05": "actors"}
# The 3-D rows these are compared with: the ablations of the basic recipe (bench/accuracy.py).
CONFIGS = {"utkinect": BASIC["xsub"], "hdm05": BASIC["actors"]}
OVERRIDES_2D = ("data.dataset=null", "data.protocol=given",
                "data.augment.rotation_deg=[0.0,0.0,10.0]")
DEFAULT_JSON = REPO / "bench" / "results2d.json"
DOCS = REPO / "docs" / "results.md"
BEGIN, END = "<!-- results2d:begin -->", "<!-- results2d:end -->"


def project_dataset(name: str, raw: Path, out: Path) -> Path:
    """Write the 2-D projection of every sample of dataset ``name`` as a custom folder."""
    from mans.datasets import get_dataset
    from mans.data.views2d import camera_in_front, pinhole_project

    spec = get_dataset(name)
    classes = spec.class_names(raw)
    disc = spec.discover(raw, {})
    seqs = [spec.read(item) for item in disc.items]
    splits = spec.protocols([s.metadata() for s in seqs])[PROTOCOL[name]]
    split_of = {int(i): s for s, idx in splits.items() for i in idx}
    out.mkdir(parents=True, exist_ok=True)
    rows = ["file,label,subject,split"]
    for k, seq in enumerate(seqs):
        cam = None if name == "utkinect" else camera_in_front(seq.joints, seq.layout)
        uv = pinhole_project(seq.joints, cam)  # (T, M, V, 2) pixels
        file = f"{k:04d}.npz"
        np.savez(out / file, joints=uv, layout=seq.layout.name, name=seq.name)
        rows.append(f"{file},{classes[seq.label]},{seq.subject},{split_of[k]}")
    (out / "labels.csv").write_text("\n".join(rows) + "\n")
    (out / "classes.txt").write_text("\n".join(classes) + "\n")
    return out


def prepare_2d(out: Path) -> dict[str, Path]:
    from mans.data.prepare import prepare

    stores = {}
    for name, raw in RAW.items():
        if not raw.is_dir():
            raise SystemExit(f"real data folder {raw} is missing (set MANS_SHARED_DATA)")
        folder = project_dataset(name, raw, out / "raw2d" / name)
        prepare("custom", folder, out / "stores2d" / name, view="2d", workers=1,
                progress=False, max_bodies=1, force=True)  # re-projected each run: replaced
        stores[name] = out / "stores2d" / name
    return stores


def plan(seeds: int, quick: bool) -> list[Job]:
    jobs = []
    variants = ["MANs (TARM + STCM)"] if quick else list(VARIANTS)
    for seed in range(seeds):
        for name in ("hdm05", "utkinect"):
            for v in variants:
                ov = (*OVERRIDES_2D, *VARIANTS[v], f"train.seed={seed}",
                      *(("train.epochs=3",) if quick else ()))
                jobs.append(Job(name, PROTOCOL[name], "given", v, seed, CONFIGS[name], ov))
    return jobs


def render(results2d: dict, results3d: dict) -> str:
    """Markdown table: one row per dataset and variant, 2-D top-1 beside the 3-D top-1 (mean ±
    std over seeds)."""
    def stats(runs, dataset, variant):
        acc = [r["top1"] for r in runs if r["dataset"] == dataset and r["variant"] == variant]
        if not acc:
            return "n/a"
        std = 100 * np.std(acc, ddof=1) if len(acc) > 1 else 0.0
        return f"{100 * np.mean(acc):.1f} ± {std:.1f} ({len(acc)})"
    lines = ["| dataset | protocol | variant | 2-D top-1 (seeds) | 3-D top-1 (seeds) |",
             "|---|---|---|---|---|"]
    for name in ("utkinect", "hdm05"):
        for v in VARIANTS:
            runs3d = [r for r in results3d.get("runs", []) if r.get("group") == PROTOCOL[name]
                      and r.get("recipe", "basic") == "basic"]
            lines.append(f"| {name} | {PROTOCOL[name]} | {v} | "
                         f"{stats(results2d['runs'], name, v)} | {stats(runs3d, name, v)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 3 epochs")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench2d")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--render", action="store_true",
                   help="only re-render the docs/results.md section from bench/results2d.json "
                        "(after `accuracy.py --render` rewrote the page)")
    args = p.parse_args(argv)
    if args.render:
        write_docs(json.loads(DEFAULT_JSON.read_text()))
        return 0
    t0 = time.perf_counter()
    stores = prepare_2d(args.out)
    jobs = plan(1 if args.quick else args.seeds, args.quick)
    runs = run_all(jobs, stores, args.out / "runs", args.workers)
    results = {"quick": args.quick, "commit": git_commit(),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "projection": "pinhole f=525 px, c=(320, 240)",
               "overrides": list(OVERRIDES_2D), "runs": runs,
               "wall_s": round(time.perf_counter() - t0, 1)}
    (args.out / "results2d.json").write_text(json.dumps(results, indent=1))
    print(render(results, {}))
    if not args.quick:
        DEFAULT_JSON.write_text(json.dumps(results, indent=1))
        write_docs(results)
    return 0


def write_docs(results: dict) -> None:
    """Put the 2-D beside 3-D table into docs/results.md (between markers; appended once)."""
    results3d = json.loads((REPO / "bench" / "results.json").read_text())
    text = DOCS.read_text()
    table = (f"{BEGIN}\n{render(results, results3d)}\n\nGenerated by `python "
             f"bench/accuracy2d.py` ({results['projection']}; overrides "
             f"{', '.join(results['overrides'])}).\n{END}")
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + table + text[text.index(END) + len(END):]
    else:
        text += f"{SECTION_2D}\n{table}\n"
    DOCS.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
