"""A checkpoint of a randomly initialised network for the export, show and attention tests (no
training needed: they check plumbing and numbers against PyTorch, not accuracy)."""

from __future__ import annotations

from pathlib import Path

import torch

from mans.engine.checkpoint import save_checkpoint
from mans.models import build_model


def write_checkpoint(path: Path, name: str, *, size: int, seed: int = 0, classes: int = 7,
                     **overrides) -> Path:
    """A checkpoint with the ``data`` entry of NTU-layout data prepared with the authors' view and
    2 bodies (so real NTU files can be predicted); BN running statistics are moved away from
    (0, 1) so that eval-mode normalisation is exercised."""
    torch.manual_seed(seed)
    model = build_model(name, num_classes=classes, size=size, **overrides)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    state = {"model": {"name": name, "config": model.config.to_dict()},
             "state_dict": model.state_dict(),
             "data": {"dataset": "ntu60", "protocol": "xsub",
                      "prep": {"view": "authors", "max_bodies": 2, "layout": "ntu25"},
                      "size": size, "layout": "ntu25",
                      "class_names": [f"class {i}" for i in range(classes)],
                      "num_classes": classes}}
    return save_checkpoint(path, state)
