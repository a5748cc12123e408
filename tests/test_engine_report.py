"""Run report (report.html, figures, environment.json) and MODEL_CARD.md: written at the end of
``mans train`` and by ``mans report RUN``; checked against metrics.json / metrics.csv."""

from __future__ import annotations

import base64
import csv
import json
import re

import imageio.v3 as iio
import pytest
import torch

from helpers_engine import TINY, one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans import cli
from mans.engine.report import read_history
from mans.engine.train import run_training


@pytest.fixture(scope="module")
def run(tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    run_training("base", data=tiny_store, out=out, overrides=TINY, progress=False, device="cpu")
    return out


def test_training_writes_report_and_card(run):
    for name in ("report.html", "report-curves.png", "report-per-class.png", "environment.json",
                 "MODEL_CARD.md"):
        assert (run / name).is_file(), name
    page = (run / "report.html").read_text()
    # self-contained: every image inlined, nothing fetched
    assert not re.search(r'(src|href)="(?!data:)', page)
    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(imgs) == 3  # curves, confusion matrix, per-class accuracy
    inlined = {base64.b64decode(b) for b in imgs}
    for name in ("report-curves.png", "report-per-class.png", "confusion.png"):
        assert (run / name).read_bytes() in inlined
    assert iio.imread(run / "report-curves.png").shape[:2] == (round(3.6 * 90), 13 * 90)
    # 4 classes: figure height 0.8 + 0.22 * 4 inches at 90 dpi
    assert iio.imread(run / "report-per-class.png").shape[:2] == (round((0.8 + 0.22 * 4) * 90),
                                                                  6 * 90)


def test_report_numbers_match_the_run(run):
    metrics = json.loads((run / "metrics.json").read_text())
    page = (run / "report.html").read_text()
    history = read_history(run)
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(history) == len(rows) == 3
    assert history[1]["val_loss"] == pytest.approx(float(rows[1]["val_loss"]))
    # the history table has one row per epoch, the per-class table one per class
    assert page.count("<tr><td>") >= 3 + 4
    for name, acc in metrics["per_class"].items():
        assert f"<tr><td>{name}</td><td>{acc:.4f}</td></tr>" in page
    assert f"<tr><td>top1</td><td>{metrics['top1']:.4f}</td></tr>" in page
    card = (run / "MODEL_CARD.md").read_text()
    assert f"Top-1 {100 * metrics['top1']:.1f} %" in card
    assert f"{metrics['n_train']} training, {metrics['n_val']} validation" in card
    assert "## Intended use" in card and "## Limits" in card
    assert "view normalisation `none`" in card and "S = 28 frames" in card
    env = json.loads((run / "environment.json").read_text())
    assert env["packages"]["torch"] == torch.__version__.split("+")[0] or \
        env["packages"]["torch"] == torch.__version__
    assert env["mans_git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?",
                                                          env["mans_git_commit"])


def test_cli_report_rewrites_and_rejects_other_folders(run, tmp_path, capsys):
    (run / "report.html").unlink()
    assert cli.main(["report", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["html"] == str(run / "report.html")
    assert (run / "report.html").is_file()
    assert cli.main(["report", str(tmp_path)]) == 1  # a user error (usage errors are 2)
    assert "no metrics.json" in capsys.readouterr().err


def _copy_run(run, dest):
    import shutil

    shutil.copytree(run, dest)
    (dest / "environment.json").unlink()
    return dest


@pytest.mark.parametrize("name,text,line", [
    ("metrics.json", '{"top1": 0.5,,}', 1),
    ("environment.json", "{\n  \"mans\": ", 2),
])
def test_damaged_json_is_a_format_error_naming_the_file(run, tmp_path, name, text, line):
    from mans.engine.report import write_report
    from mans.errors import FormatError

    bad = _copy_run(run, tmp_path / "bad")
    (bad / name).write_text(text)
    with pytest.raises(FormatError) as e:
        write_report(bad)
    assert e.value.path == str(bad / name) and e.value.line == line


def test_non_number_in_metrics_csv_names_file_and_line(run, tmp_path, capsys):
    from mans.engine.report import write_report
    from mans.errors import FormatError

    bad = _copy_run(run, tmp_path / "bad")
    lines = (bad / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[2].split(",")
    cells[header.index("train_loss")] = "abc"
    lines[2] = ",".join(cells)
    (bad / "metrics.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError) as e:
        write_report(bad)
    assert e.value.path == str(bad / "metrics.csv") and e.value.line == 3
    assert cli.main(["report", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "metrics.csv:3" in err and "Traceback" not in err


def test_damaged_checkpoint_writes_nothing(run, tmp_path):
    from mans.engine.report import write_report
    from mans.errors import FormatError

    bad = _copy_run(run, tmp_path / "bad")
    for name in ("report.html", "MODEL_CARD.md"):
        (bad / name).unlink()
    (bad / "best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FormatError, match="best.pt"):
        write_report(bad)
    for name in ("environment.json", "report.html", "MODEL_CARD.md"):
        assert not (bad / name).exists(), name


def test_model_card_states_stream_channels_and_mirroring(tiny_store, run, tmp_path):  # noqa: F811
    out = tmp_path / "bone"
    run_training("base", data=tiny_store, out=out, progress=False, device="cpu",
                 overrides=[*TINY, "data.stream=bone", "data.test_mirror=true"])
    card = (out / "MODEL_CARD.md").read_text()
    assert "Input: the `bone` stream, 3 coordinate planes of S = 28 frames" in card
    assert "Test-time mirroring: on" in card
    assert "Checkpoint: `best.pt`" in card  # the selected checkpoint (find_checkpoint)
    joint = (run / "MODEL_CARD.md").read_text()
    assert "Input: the `joint` stream, 3 coordinate planes" in joint
    assert "Test-time mirroring: off" in joint
