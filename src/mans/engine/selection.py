"""The checkpoint-selection rule, in one place: how a run names its selected checkpoint and its
selection rule in outputs, and which checkpoint of a run folder ``mans eval`` / ``mans predict``
use.

Rules (``train.selection``): ``val`` (best validation accuracy, ``best.pt``), ``test`` (the
authors' protocol: the test split selects, ``best-test-selected.pt``, every output labelled
test-selected) and ``last`` (the final epoch, ``last.pt``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError

# The checkpoints a run folder may hold, in the order a run folder's target is picked.
CHECKPOINT_ORDER = ("best.pt", "best-test-selected.pt", "last.pt")


def selection_name(selection: str) -> str:
    """How outputs name the selection rule: ``test`` becomes ``test-selected``."""
    return "test-selected" if selection == "test" else selection


def best_name(selection: str) -> str:
    """File name of the selected checkpoint under rule ``selection`` (``val`` or ``test``)."""
    return "best-test-selected.pt" if selection == "test" else "best.pt"


def label_test_selected(metrics: dict) -> dict:
    """Prefix the test metrics with ``test_selected_``: the checkpoint was chosen on the test
    split, so these numbers are optimistic (the authors' protocol), not a held-out estimate."""
    out = {}
    for k, v in metrics.items():
        if k in ("top1", "top5", "mean_class_acc", "per_class", "loss"):
            out[f"test_selected_{k}"] = v
        else:
            out[k] = v
    out["note"] = ("checkpoint selected on the test split (the authors' protocol): test-selected "
                   "numbers are optimistic, not a held-out estimate")
    return out


def find_checkpoint(target: str | Path) -> Path:
    """A run folder -> its selected checkpoint (best.pt, best-test-selected.pt, else last.pt);
    a file -> itself."""
    target = Path(target)
    if target.is_dir():
        for name in CHECKPOINT_ORDER:
            if (target / name).is_file():
                return target / name
        raise ConfigError(f"{target} holds no checkpoint ({', '.join(CHECKPOINT_ORDER[:-1])} or "
                          f"{CHECKPOINT_ORDER[-1]})")
    if not target.exists():
        raise ConfigError(f"{target}: no such run folder or checkpoint file")
    return target
