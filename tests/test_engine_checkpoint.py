"""Checkpoint files: atomic writes, weights-only loading (no code execution), RNG state round
trips, rebuilding the model."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from mans.engine import checkpoint as ckpt_mod
from mans.engine.checkpoint import (
    build_model_from_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from helpers_engine import one_torch_thread  # noqa: F401  (fixture)
from mans.errors import FormatError
from mans.models import build_model


def tiny_state(model=None) -> dict:
    model = model or build_model("mans_resnet", num_classes=3, size=28, hidden=8, resnet_width=8,
                                 resnet_stages=[1])
    return {
        "model": {"name": "mans_resnet", "config": model.config.to_dict()},
        "state_dict": model.state_dict(),
        "data": {"class_names": ["a", "b", "c"], "protocol": "xsub", "dataset": "x",
                 "prep": {"view": "none", "max_bodies": 1, "layout": "ntu25", "joints": 25}},
        "train": {"epoch": 2, "rng": rng_state(), "best_metric": 0.5, "history": [{"epoch": 1}],
                  "selection": "val", "best_epoch": 1, "optimizer": {}, "scheduler": None,
                  "config": {}, "split_sizes": {}},
    }


def test_round_trip_and_model_rebuild(tmp_path):
    model = build_model("mans_resnet", num_classes=3, size=28, hidden=8, resnet_width=8,
                        resnet_stages=[1]).eval()
    path = save_checkpoint(tmp_path / "a.pt", tiny_state(model))
    state = load_checkpoint(path)
    assert state["format"] == "mans-checkpoint" and state["version"] == ckpt_mod.VERSION
    assert state["train"]["history"] == [{"epoch": 1}]
    assert state["data"]["class_names"] == list("abc")
    again = build_model_from_checkpoint(state)
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        # the same weights in the same (channels-last) layout: the same numbers
        torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
    assert not again.training


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, tiny_state())
    before = path.read_bytes()

    def crash(obj, f):  # a crash in the middle of writing the new file
        f.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, tiny_state())
    assert path.read_bytes() == before  # the previous checkpoint is intact
    load_checkpoint(path)


class _Exploit:
    """Unpickling this runs ``os.system`` -- what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pt"
    state = tiny_state()
    state["format"], state["version"] = "mans-checkpoint", 1
    state["data"]["payload"] = _Exploit(marker)
    torch.save(state, bad)  # torch.save pickles arbitrary objects
    with pytest.raises(FormatError, match="refusing to load"):
        load_checkpoint(bad)
    assert not marker.exists()
    # sanity: the payload is real -- full unpickling would have executed it
    torch.load(bad, weights_only=False)
    assert marker.exists()


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(FormatError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(FormatError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(FormatError, match="not a mans checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_rng_states_survive_weights_only_loading(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.normal()  # leave a cached Gaussian in NumPy's legacy state
    save_checkpoint(tmp_path / "r.pt", {"model": {}, "state_dict": {}, "data": {},
                                        "rng": rng_state()})
    expected = (random.random(), np.random.normal(), np.random.rand(), torch.rand(3))
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    set_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    got = (random.random(), np.random.normal(), np.random.rand(), torch.rand(3))
    assert got[:3] == expected[:3]
    assert torch.equal(got[3], expected[3])
