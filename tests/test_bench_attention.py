"""The attention benchmarks' bookkeeping (bench/attention_planted.py, attention_deletion.py,
attention_docs.py) on small hand-made results; the trainings themselves are the benchmarks'."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


def _variant(name, overrides, acc, mass):
    ms = lambda v: [v, 0.01]  # noqa: E731
    return {"name": name, "overrides": overrides, "accuracy": ms(acc), "mass": ms(mass),
            "uniform_mass": ms(0.3), "mass_ge_70": ms(0.0), "spearman": ms(0.1),
            "max_min": ms(1.05), "train_accuracy": ms(1.0), "train_mass": ms(mass)}


def _planted(variants):
    return {"command": "python bench/attention_planted.py", "commit": "abc1234",
            "data": {"train": 200, "test": 100, "classes": list("abcde"),
                     "window_share": {"min": 0.25, "max": 0.4}},
            "recipe": "custom-small-resnet", "epochs": 15, "seeds": 3, "variants": variants}


def test_verdict_says_when_no_variant_reaches_the_bar():
    import attention_docs

    doc = _planted([_variant("paper", [], 0.95, 0.31), _variant("soft", ["x=1"], 0.95, 0.45),
                    _variant("hard", ["y=1"], 0.80, 0.75)])  # 75 % mass, but lost accuracy
    text = "\n".join(attention_docs.render_planted(doc))
    assert "| soft | 95.0 ± 1.0 | 45.0 ± 1.0 | 30.0 ± 1.0 |" in text
    assert "Most mass in the window: **hard**" in text
    assert "No variant reaches 70 % of the mass in the window at no loss of accuracy" in text
    doc["variants"][2]["accuracy"] = [0.945, 0.02]  # within one std of the paper's mean
    text = "\n".join(attention_docs.render_planted(doc))
    assert "with no loss of accuracy: hard." in text


def test_best_planted_is_the_most_mass_among_the_variants(tmp_path):
    import attention_deletion

    p = tmp_path / "p.json"
    p.write_text(json.dumps(_planted([_variant("paper", [], 1.0, 0.9),
                                      _variant("a", ["a=1"], 1.0, 0.4),
                                      _variant("b", ["b=1"], 0.9, 0.6)])))
    assert attention_deletion.best_planted(p) == ("b", ["b=1"])  # the paper's form excluded


def test_docs_block_is_replaced_between_the_markers(tmp_path):
    import attention_docs

    page = tmp_path / "results.md"
    page.write_text("# Results\n\ntext\n")
    planted = _planted([_variant("paper", [], 0.95, 0.31), _variant("soft", ["x=1"], 0.95, 0.4)])
    attention_docs.write_docs(planted, None, page)
    once = page.read_text()
    assert once.startswith("# Results\n\ntext\n\n" + attention_docs.BEGIN)
    attention_docs.write_docs(planted, None, page)
    assert page.read_text() == once  # idempotent
    assert once.count(attention_docs.BEGIN) == 1 and once.rstrip().endswith(attention_docs.END)


def test_real_table_reads_the_deletion_curves():
    import attention_docs

    curve = {"fractions": [0.0, 0.3, 0.6], "removed_mean": [0, 3, 6],
             "accuracy": {"most": [0.9, 0.5, 0.2], "random": [0.9, 0.8, 0.6],
                          "least": [0.9, 0.85, 0.7]}}
    summary = {"top1": [0.9, 0.01], "top1_per_seed": [0.9, 0.91, 0.89],
               "train_top1_unaugmented": [1.0, 0.0], "train_loss_last_epoch": [0.5, 0.0],
               "max_min_median": [1.04, 0.01], "deletion": {"test": curve, "train": curve}}
    doc = {"command": "python bench/attention_deletion.py", "commit": "abc", "seeds": 3,
           "deletion_seeds": 2, "png": "bench/attention_deletion.png",
           "variants": {"paper": {"name": "paper", "overrides": []},
                        "best": {"name": "soft", "overrides": ["x=1"]}},
           "datasets": [{"dataset": "utkinect", "protocol": "xsub",
                         "summary": {"paper": summary, "best": summary}}]}
    text = "\n".join(attention_docs.render_real(doc))
    assert "| utkinect xsub | paper | 90.0 ± 1.0 (3) | 100.0 ± 0.0 | 1.04 ± 0.01 | " \
           "50.0 / 80.0 / 85.0 | 20.0 / 60.0 / 70.0 |" in text
    assert "| utkinect | soft | most attended | 90.0 | 50.0 | 20.0 |" in text
    assert "| utkinect | soft | random | 90.0 | 80.0 | 60.0 |" in text
    assert "utkinect paper: 90.0, 91.0, 89.0" in text


@pytest.mark.parametrize("ms,want", [([0.9124, 0.0117], "91.2 ± 1.2"), (None, "n/a")])
def test_percent_format(ms, want):
    import attention_docs

    assert attention_docs.pct(ms) == want
