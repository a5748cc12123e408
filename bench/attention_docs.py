"""The tables of docs/results.md, "Does the attention attend?", from the benchmarks' JSON.

    python bench/attention_docs.py        # rewrites the block between the markers in results.md

Reads ``bench/attention_planted.json`` (:mod:`attention_planted`) and
``bench/attention_deletion.json`` (:mod:`attention_deletion`); every number in the block comes
from them (:func:`render`, a pure function). The verdict lines apply the issue's bar: at least
70 % of the attention mass inside the planted window, at no loss of accuracy (the mean accuracy
not below the paper form's mean minus one standard deviation of the paper form's seeds).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- attention:begin -->", "<!-- attention:end -->"
BAR = 0.7  # the bar: 70 % of the attention inside the window


def pct(ms: list[float] | None, seeds: int | None = None) -> str:
    """``[mean, std]`` as ``"91.2 ± 1.2"`` percent (with ``(seeds)``)."""
    if ms is None:
        return "n/a"
    s = f"{100 * ms[0]:.1f} ± {100 * ms[1]:.1f}"
    return f"{s} ({seeds})" if seeds else s


def num(ms: list[float] | None, digits: int = 2) -> str:
    return "n/a" if ms is None else f"{ms[0]:.{digits}f} ± {ms[1]:.{digits}f}"


def no_loss(acc: list[float], paper: list[float]) -> bool:
    """The mean accuracy is not below the paper form's mean minus its standard deviation."""
    return acc[0] >= paper[0] - paper[1] - 1e-9


def render_planted(doc: dict) -> list[str]:
    paper = doc["variants"][0]
    lines = [
        f"Planted-signal benchmark (`python {doc['command'].split('python ', 1)[-1].strip()}`, "
        f"commit "
        f"`{doc['commit']}`): {doc['data']['train']} training and {doc['data']['test']} test "
        f"sequences of {len(doc['data']['classes'])} classes, the class motion in a window of "
        f"{100 * doc['data']['window_share']['min']:.0f}-"
        f"{100 * doc['data']['window_share']['max']:.0f} % of the frames; recipe "
        f"`{doc['recipe']}`, {doc['epochs']} epochs; mean ± std over {doc['seeds']} seeds. "
        f"*Mass*: share of the attention inside the window (test split); *uniform*: the same "
        f"for equal weights; *≥ 70 %*: share of test sequences with at least 70 % inside.",
        "",
        "| variant | test accuracy | mass in window | uniform | ≥ 70 % | Spearman | max/min "
        "| train accuracy | train mass |",
        "|---|---|---|---|---|---|---|---|---|"]
    for v in doc["variants"]:
        lines.append(f"| {v['name']} | {pct(v['accuracy'])} | {pct(v['mass'])} | "
                     f"{pct(v['uniform_mass'])} | {pct(v['mass_ge_70'])} | "
                     f"{num(v['spearman'])} | {num(v['max_min'])} | "
                     f"{pct(v['train_accuracy'])} | {pct(v['train_mass'])} |")
    best = max(doc["variants"][1:], key=lambda v: v["mass"][0])
    ok = [v["name"] for v in doc["variants"]
          if v["mass"][0] >= BAR and no_loss(v["accuracy"], paper["accuracy"])]
    lines += ["", f"Most mass in the window: **{best['name']}**, {pct(best['mass'])} % "
              f"(uniform weights: {pct(best['uniform_mass'])} %; the paper's form: "
              f"{pct(paper['mass'])} %), at a test accuracy of {pct(best['accuracy'])} % "
              f"(paper: {pct(paper['accuracy'])} %). "
              + (f"Variants at ≥ {100 * BAR:.0f} % mass with no loss of accuracy: "
                 f"{', '.join(ok)}." if ok else
                 f"**No variant reaches {100 * BAR:.0f} % of the mass in the window at no loss "
                 f"of accuracy.**")]
    return lines


def _at(curve: dict, order: str, fraction: float) -> float:
    return curve["accuracy"][order][curve["fractions"].index(fraction)]


def render_real(doc: dict) -> list[str]:
    names = {k: v["name"] for k, v in doc["variants"].items()}
    curves = ("all of them" if doc["deletion_seeds"] == doc["seeds"]
              else f"the first {doc['deletion_seeds']}")
    lines = [
        f"Real data (`python {doc['command'].split('python ', 1)[-1].strip()}`, commit "
        f"`{doc['commit']}`): each recipe with the paper's attention and with "
        f"**{names['best']}** (`{' '.join(doc['variants']['best']['overrides'])}`); mean ± std "
        f"over {doc['seeds']} seeds (deletion curves: {curves}). "
        f"*max/min*: the median over the test sequences of each one's max/min attention ratio "
        f"(the model card's label: near-uniform below 1.5). Deletion: accuracy with 30 % and "
        f"60 % of the frames the model sees removed, most attended / random / least attended "
        f"first.",
        "",
        "| dataset | variant | test top-1 (seeds) | train top-1 | max/min | test: 30 % removed "
        "| test: 60 % removed | train: 30 % removed | train: 60 % removed |",
        "|---|---|---|---|---|---|---|---|---|"]
    for e in doc["datasets"]:
        for key, s in e["summary"].items():
            cells = []
            for split in ("test", "train"):
                c = s["deletion"][split]
                for f in (0.3, 0.6):
                    cells.append(" / ".join(f"{100 * _at(c, o, f):.1f}"
                                            for o in ("most", "random", "least")))
            lines.append(f"| {e['dataset']} {e['protocol']} | {names[key]} | "
                         f"{pct(s['top1'], len(s['top1_per_seed']))} | "
                         f"{pct(s['train_top1_unaugmented'])} | {num(s['max_min_median'])} | "
                         + " | ".join(cells) + " |")
    lines += ["", "Per seed (test top-1, %): " + "; ".join(
        f"{e['dataset']} {names[k]}: " + ", ".join(f"{100 * v:.1f}" for v in s["top1_per_seed"])
        for e in doc["datasets"] for k, s in e["summary"].items()) + "."]
    lines += ["", "Full deletion curves (test split, mean of the seeds; "
              f"[PNG]({Path(doc['png']).name if '/' not in doc['png'] else '../' + doc['png']})):",
              ""]
    fr = doc["datasets"][0]["summary"]["paper"]["deletion"]["test"]["fractions"]
    lines += ["| dataset | variant | removed first | " + " | ".join(f"{100 * f:.0f} %" for f in fr)
              + " |", "|---|---|---|" + "---|" * len(fr)]
    for e in doc["datasets"]:
        for key, s in e["summary"].items():
            c = s["deletion"]["test"]
            for o in ("most", "random", "least"):
                what = "random" if o == "random" else f"{o} attended"
                lines.append(f"| {e['dataset']} | {names[key]} | {what} | "
                             + " | ".join(f"{100 * v:.1f}" for v in c["accuracy"][o]) + " |")
    return lines


def render(planted: dict, real: dict | None) -> str:
    """The block between the markers (without them)."""
    lines = ["### Planted window", "", *render_planted(planted), ""]
    if real is not None:
        lines += ["### UT-Kinect and HDM05: accuracy and deletion curves", "",
                  *render_real(real), ""]
    lines.append("Generated by `python bench/attention_docs.py` from "
                 "`bench/attention_planted.json` and `bench/attention_deletion.json`.")
    return "\n".join(lines)


def write_docs(planted: dict, real: dict | None, path: Path) -> None:
    """Replace the block between :data:`BEGIN` and :data:`END` in ``path`` (or append it)."""
    text = path.read_text()
    block = f"{BEGIN}\n{render(planted, real)}\n{END}"
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--planted", type=Path, default=REPO / "bench" / "attention_planted.json")
    p.add_argument("--real", type=Path, default=REPO / "bench" / "attention_deletion.json")
    p.add_argument("--docs", type=Path, default=REPO / "docs" / "results.md")
    args = p.parse_args(argv)
    real = json.loads(args.real.read_text()) if args.real.is_file() else None
    write_docs(json.loads(args.planted.read_text()), real, args.docs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
