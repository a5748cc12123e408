"""``mans report RUN``: one self-contained HTML page and a model card for a finished run.

Written at the end of ``mans train`` and on demand. Into the run folder:

    report.html          curves, confusion matrix, per-class accuracy, final metrics, the
                         resolved config, the environment; images inlined (base64), no links
    report-curves.png    loss / accuracy / learning rate per epoch (from metrics.csv)
    report-per-class.png test accuracy per class (from metrics.json)
    environment.json     package versions, git commit, machine: collected once, when the
                         report is first written (at the end of training: the training machine)
    MODEL_CARD.md        data, protocol, preprocessing, metrics, intended use and limits

Inputs: ``metrics.csv`` (per epoch), ``metrics.json`` (final test metrics), ``config.yaml`` and
the selected checkpoint (for the resolved model config and the preprocessing settings).
"""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from .. import __version__
from ..attention_stats import NEAR_UNIFORM
from ..errors import ConfigError, FormatError

PACKAGES = ("torch", "numpy", "matplotlib", "PyYAML", "safetensors", "tensorboard", "tqdm",
            "imageio", "onnx", "onnxruntime")
SELECTION_TEXT = {"val": "validation-selected (best validation accuracy)",
                  "last": "last epoch", "test-selected": "selected on the test split (the "
                  "authors' protocol): optimistic, not a held-out estimate"}


# --- inputs ---------------------------------------------------------------------------------------


def read_history(run: Path) -> list[dict]:
    """``metrics.csv`` rows as dicts of floats (``epoch`` as int); :class:`FormatError` naming the
    file and line for a cell that is not a number."""
    path = run / "metrics.csv"
    if not path.is_file():
        return []
    rows = []
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            for row in reader:
                try:
                    rows.append({k: (int(v) if k == "epoch" else float(v))
                                 for k, v in row.items() if v != ""})
                except (TypeError, ValueError):  # "abc", or a row longer than the header
                    raise FormatError(path, f"not a number in row {row}",
                                      reader.line_num) from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise FormatError(path, f"not a readable CSV file ({e})") from None
    return rows


def read_json(path: Path) -> dict:
    """A run file holding one JSON object; :class:`FormatError` naming the file (and line)
    when it is damaged."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FormatError(path, f"not valid JSON ({e.msg})", e.lineno) from None
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not a text file ({e.reason})") from None
    if not isinstance(data, dict):
        raise FormatError(path, f"expected a JSON object, found {type(data).__name__}")
    return data


def final_metric(metrics: dict, key: str):
    """``metrics[key]``, or its ``test_selected_`` form for a run selected on the test split."""
    return metrics.get(key, metrics.get(f"test_selected_{key}"))


def git_commit(path: Path) -> str | None:
    """``HEAD`` of the git checkout holding ``path`` (``-dirty`` when it has changes), or None."""
    try:
        head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    """Versions, git commit of the mans source, and the machine, as plain JSON."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    env = {"mans": __version__, "mans_git_commit": git_commit(Path(__file__).parents[1]),
           "python": sys.version.split()[0], "platform": platform.platform(),
           "cpu": cpu_model(), "cpus": os.cpu_count(), "packages": versions}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return env


def _selected_checkpoint(run: Path) -> dict | None:
    """The run's selected checkpoint's (:func:`~mans.engine.selection.find_checkpoint`)
    ``model`` entry, data settings (:class:`~mans.data.spec.DataSpec`) and file name (None
    without a checkpoint)."""
    from .checkpoint import Checkpoint
    from .selection import find_checkpoint

    try:
        p = find_checkpoint(run)
    except ConfigError:  # a folder without checkpoints: the report goes without them
        return None
    state = Checkpoint.load(p)
    return {"model": state.to_dict()["model"], "data": state.data, "file": p.name}


# --- figures --------------------------------------------------------------------------------------


def plot_curves(history: list[dict], path: Path) -> Path:
    """Loss, accuracy and learning rate per epoch, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    epochs = [r["epoch"] for r in history]
    for ax, what in zip(axes[:2], ("loss", "acc")):
        for split, style in (("train", "-"), ("val", "--"), ("test", ":")):
            key = f"{split}_{what}"
            if any(key in r for r in history):
                ax.plot([r["epoch"] for r in history if key in r],
                        [r[key] for r in history if key in r], style, marker=".", label=split)
        ax.set_title("cross-entropy loss" if what == "loss" else "top-1 accuracy")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    axes[2].plot(epochs, [r.get("lr", np.nan) for r in history], marker=".")
    axes[2].set_yscale("log")
    axes[2].set_title("learning rate (at the start of the epoch)")
    axes[2].set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_per_class(per_class: dict, path: Path) -> Path:
    """Horizontal bars of the test accuracy per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(per_class)
    fig, ax = plt.subplots(figsize=(6, 0.8 + 0.22 * len(names)))
    ax.barh(range(len(names)), [per_class[n] for n in names], color="tab:blue")
    ax.set_yticks(range(len(names)), labels=names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("test accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# --- outputs --------------------------------------------------------------------------------------


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


def _table(rows: list[tuple], head: tuple | None = None) -> str:
    def cell(v):
        return html.escape(f"{v:.4f}" if isinstance(v, float) else str(v))

    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{cell(h)}</th>" for h in head) + "</tr>")
    out += ["<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows]
    return "\n".join(out + ["</table>"])


def write_report(run: str | Path) -> dict:
    """Write the report, its figures, ``environment.json`` (if absent) and ``MODEL_CARD.md``
    into the finished run folder ``run``; returns their paths."""
    run = Path(run)
    if not (run / "metrics.json").is_file():
        raise ConfigError(f"{run}: no metrics.json; is it the folder of a finished mans train run?")
    # read (and check) every input before writing anything: a damaged file leaves the folder
    # as it was
    metrics = read_json(run / "metrics.json")
    if "attention" not in metrics and (run / "attention.json").is_file():
        # an older run: `mans eval RUN --attention` wrote the per-sample summary beside it
        metrics["attention"] = read_json(run / "attention.json").get("per_sample")
    history = read_history(run)
    config_text = (run / "config.yaml").read_text() if (run / "config.yaml").is_file() else ""
    env_path = run / "environment.json"
    new_env = not env_path.is_file()
    env = environment() if new_env else read_json(env_path)
    ckpt = _selected_checkpoint(run)
    if new_env:
        env_path.write_text(json.dumps(env, indent=2) + "\n")
    per_class = final_metric(metrics, "per_class") or {}

    out = {"html": run / "report.html", "model_card": run / "MODEL_CARD.md",
           "environment": env_path}
    figures = []
    if history:
        out["curves"] = plot_curves(history, run / "report-curves.png")
        figures.append(("Curves per epoch", out["curves"]))
    confusion = sorted(run.glob("confusion*.png"))
    if confusion:
        figures.append(("Confusion matrix (test split)", confusion[0]))
    if per_class:
        out["per_class"] = plot_per_class(per_class, run / "report-per-class.png")
        figures.append(("Test accuracy per class", out["per_class"]))

    summary = [(k, final_metric(metrics, k)) for k in ("top1", "top5", "mean_class_acc", "loss")]
    summary += [(k, metrics[k]) for k in ("dataset", "protocol", "model", "selection", "epochs",
                                          "selected_epoch", "n_train", "n_val", "n_test",
                                          "validation_rule", "seed") if k in metrics]
    parts = [f"<h1>mans run {html.escape(run.name)}</h1>",
             f"<p>{html.escape(SELECTION_TEXT.get(metrics.get('selection', ''), ''))}</p>",
             "<h2>Final test metrics</h2>", _table(summary)]
    parts += [f"<h2>{html.escape(t)}</h2>{_img(p)}" for t, p in figures]
    if history:
        keys = [k for k in history[0] if k != "time"]
        parts += ["<h2>History</h2>", _table([tuple(r.get(k, "") for k in keys)
                                              for r in history], tuple(keys))]
    if per_class:
        parts += ["<h2>Per-class test accuracy</h2>", _table(list(per_class.items()),
                                                             ("class", "accuracy"))]
    parts += ["<h2>Config (config.yaml)</h2>", f"<pre>{html.escape(config_text)}</pre>"]
    if ckpt:
        parts += [f"<h2>Resolved model and data ({html.escape(ckpt['file'])})</h2>",
                  f"<pre>{html.escape(json.dumps(_card_data(ckpt), indent=2))}</pre>"]
    parts += ["<h2>Environment</h2>", f"<pre>{html.escape(json.dumps(env, indent=2))}</pre>"]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}")
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>mans run "
            f"{html.escape(run.name)}</title><style>{style}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
    out["html"].write_text(page)
    out["model_card"].write_text(model_card(metrics, ckpt, config_text, env))
    return {k: str(v) for k, v in out.items()}


def _card_data(ckpt: dict) -> dict:
    """The model config and data entry of a checkpoint without the class list."""
    data = {k: v for k, v in ckpt["data"].to_dict().items() if k != "class_names"}
    return {"model": ckpt["model"], "data": data}


def _attention_lines(metrics: dict, model: dict) -> list[str]:
    """The model card's line on the attention: its form (``attention_*`` model keys) and what
    the test split's curves say (``metrics["attention"]``, written at the end of training)."""
    if not model.get("use_tarm", True) or not model.get("attention", True):
        return []
    scope = "frames" if model.get("attention_scope") == "frame" else "channels and frames"
    source = "BiGRU memory" if model.get("attention_source") == "memory" else "time MLP"
    form = f"{model.get('attention_form', 'sigmoid')} over {scope}, from the {source}"
    a = metrics.get("attention")
    if not a or a.get("label") is None:
        return [f"- Attention: {form}; its curves were not measured for this run (`mans eval "
                f"RUN --attention` measures them)."]
    near = a["max_min_median"] is not None and a["max_min_median"] < NEAR_UNIFORM
    return [f"- Attention: {form}. On the {a['samples']} test sequences: {a['label']}, the "
            f"median max/min ratio of each sequence's per-frame weights (10-90 %: "
            f"{a['max_min_p10']}-{a['max_min_p90']})"
            + ("; the curve does not single out frames, so it does not say which frames the "
               "decision rests on (docs/results.md, 'Does the attention attend?')." if near
               else "; docs/results.md, 'Does the attention attend?', measures whether such "
                    "weights fall on the frames that carry the action.")]


def model_card(metrics: dict, ckpt: dict | None, config_text: str, env: dict) -> str:
    """A short Markdown model card (data, protocol, preprocessing, metrics, use and limits)."""
    m = ckpt["model"]["config"] if ckpt else {}
    d = ckpt["data"] if ckpt else None
    prep = d.prep if d else {}
    classes = list(d.class_names) if d else []
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    sel = metrics.get("selection", "")
    variant = m.get("variant", "?")
    mirror = ("on (the logits of the sequence and of its left/right mirror image are averaged)"
              if d and d.test_mirror else "off")
    tarm = ("TARM (BiGRU memory + per-frame attention) + STCM" if m.get("use_tarm", True)
            else "STCM only (no TARM)")
    cols = (f"J = {m.get('joints', '?')}" if d and d.input == "sequence" else "S")
    pipe = (f"; centre {d.centre}, normalise {d.normalise}, frames {d.frames}"
            if d and (d.centre, d.normalise, d.frames) != ("none", "none", "pad") else "")
    lines = [
        f"# Model card: {metrics.get('model', '?')} on {metrics.get('dataset', '?')}",
        "",
        "## Model",
        f"- Memory Attention Network (Xie et al., IJCAI 2018): {tarm}, {variant} CNN.",
        f"- Input: the `{d.stream if d else '?'}` stream, "
        f"{m.get('in_channels', '?')} coordinate planes of S = {d.size if d else '?'} frames x "
        f"{cols} joint columns{pipe}; output: logits over {len(classes) or '?'} classes and the "
        f"per-frame TARM attention.",
        f"- Test-time mirroring: {mirror}.",
        *_attention_lines(metrics, m),
        f"- Checkpoint: `{ckpt['file'] if ckpt else '?'}` in this folder; mans "
        f"{env.get('mans')}, commit {env.get('mans_git_commit') or 'unknown'}.",
        "",
        "## Data and protocol",
        f"- Dataset `{metrics.get('dataset')}`, protocol `{metrics.get('protocol')}`: "
        f"{metrics.get('n_train')} training, {metrics.get('n_val')} validation "
        f"({metrics.get('validation_rule', 'none')}), {metrics.get('n_test')} test samples.",
        f"- Classes: {', '.join(classes[:20])}{' ...' if len(classes) > 20 else ''}",
        "",
        "## Preprocessing",
        f"- Joint layout `{d.layout.name if d else None}`; body slots kept: "
        f"{prep.get('max_bodies', '?')} "
        f"(frames with more are dropped); view normalisation `{prep.get('view', '?')}`.",
        "- Frames resampled to S rows (longer sequences) or centre zero-padded (shorter); joint "
        "columns zero-padded to S. `mans predict` applies the same steps from the checkpoint.",
        "",
        "## Metrics (test split)",
        f"- Top-1 {pct(final_metric(metrics, 'top1'))}, top-5 "
        f"{pct(final_metric(metrics, 'top5'))}, mean class accuracy "
        f"{pct(final_metric(metrics, 'mean_class_acc'))}.",
        f"- Checkpoint selection: {SELECTION_TEXT.get(sel, sel)}; epoch "
        f"{metrics.get('selected_epoch')} of {metrics.get('epochs')}; seed {metrics.get('seed')}.",
        "",
        "## Intended use",
        "- Research and teaching on skeleton-based action recognition; a baseline to compare "
        "against on the same dataset and protocol.",
        "",
        "## Limits",
        "- Recognises only the classes above, from skeletons of the same layout, body count and "
        "preparation; other sensors, layouts or camera set-ups need re-training or validation.",
        "- One run, one seed: the test accuracy carries the run-to-run spread "
        "(docs/results.md reports several seeds).",
        "- The attention shows which frames the TARM weighted, not why; it is not an explanation.",
        "- Not for decisions about people (surveillance, health, identity): neither the data nor "
        "the evaluation cover such use.",
        "",
    ]
    if sel == "test-selected":
        lines.insert(lines.index("## Intended use"), "- The test numbers are optimistic: the "
                     "checkpoint was chosen on the test split.\n")
    return "\n".join(lines)
