"""The checkpoint schema (mans.engine.checkpoint.Checkpoint) and its data entry
(mans.data.spec.DataSpec): round trips, what older files read as, and the checks on load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers_engine import one_torch_thread, tiny_store  # noqa: F401  (fixtures)
from mans.data.spec import DEFAULT_STREAM, DataSpec
from mans.engine.checkpoint import (VERSION, Checkpoint, TrainState, load_checkpoint,
                                   payload_sha256)
from mans.errors import FormatError

FIX = Path(__file__).parent / "fixtures"
PREP = {"view": "none", "max_bodies": 1, "confidence": False, "layout": "ntu25",
        "channels": 3, "joints": 25}


def _entry(**changes) -> dict:
    d = {"input": "image", "dataset": "x", "protocol": "xsub", "prep": dict(PREP),
         "class_names": ["a", "b"], "stream": "bone", "test_mirror": True}
    d.update(changes)
    return d


def test_data_entry_round_trip_and_size_saved_once():
    spec = DataSpec.from_dict(_entry(), size=28)
    assert (spec.size, spec.stream, spec.test_mirror, spec.input) == (28, "bone", True, "image")
    assert spec.layout.name == "ntu25" and spec.joints == 25 and spec.num_classes == 2
    assert spec.prep_config.view == "none" and spec.prep_config.max_bodies == 1
    assert "size" not in spec.to_dict()
    assert DataSpec.from_dict(spec.to_dict(), size=28) == spec


def test_version_1_entry_reads_as_the_same_spec():
    """What the trainer wrote before the schema: size, layout and num_classes in the entry."""
    v1 = {**_entry(), "size": 28, "layout": "ntu25", "num_classes": 2}
    del v1["input"]
    assert DataSpec.from_dict(v1, size=28) == DataSpec.from_dict(_entry(), size=28)
    assert DataSpec.from_dict(v1).size == 28  # an old export's metadata: size from the entry


def test_missing_keys_read_as_the_defaults():
    old = {k: v for k, v in _entry().items() if k not in ("stream", "test_mirror", "input")}
    spec = DataSpec.from_dict(old, size=28)
    assert (spec.stream, spec.test_mirror, spec.input) == (DEFAULT_STREAM, False, "image")
    assert DEFAULT_STREAM == "joint"
    # the oldest files name a built-in layout only outside prep
    prep = {k: v for k, v in PREP.items() if k != "layout"}
    assert DataSpec.from_dict(_entry(prep=prep, layout="ntu25"), size=28).layout.name == "ntu25"


@pytest.mark.parametrize("entry, size, message", [
    (_entry(extra=1), 28, "unknown keys"),
    ({k: v for k, v in _entry().items() if k != "class_names"}, 28, "lacks 'class_names'"),
    ({**_entry(), "size": 50}, 28, "differs from the model's 28"),
    (_entry(), None, "no image size"),
    (_entry(stream="sideways"), 28, "unknown input stream"),
    (_entry(input="graph"), 28, "unknown model input"),
    (_entry(class_names=[]), 28, "at least one class"),
    (_entry(prep={**PREP, "layout": "nope"}), 28, "unknown layout"),
    (_entry(prep={"layout": "ntu25"}), 28, "prep settings lack"),
    ([1, 2], 28, "not a mapping"),
])
def test_bad_data_entries_are_refused_naming_the_file(entry, size, message):
    with pytest.raises(FormatError, match=message) as e:
        DataSpec.from_dict(entry, size=size, source="run/best.pt")
    assert str(e.value).startswith("run/best.pt: ")


def _checkpoint(num_classes: int = 2) -> Checkpoint:
    from mans.models import build_model

    torch.manual_seed(0)
    net = build_model("mans_resnet", num_classes=num_classes, size=28, hidden=4, resnet_width=4,
                      resnet_stages=[1])
    train = TrainState(epoch=1, selection="val", best_metric=0.5, best_epoch=1, optimizer={},
                       scheduler=None, rng={}, history=[{"epoch": 1}], config={},
                       split_sizes={"train": 3, "val": 1, "test": 2})
    return Checkpoint(model_name="mans_resnet", model_config=net.config.to_dict(),
                      state_dict={k: v.detach().clone() for k, v in net.state_dict().items()},
                      data=DataSpec.from_dict(_entry(), size=28), train=train)


def test_checkpoint_save_load_round_trip(tmp_path):
    ckpt = _checkpoint()
    path = ckpt.save(tmp_path / "c.pt")
    raw = load_checkpoint(path)
    assert raw["version"] == VERSION == 2 and len(raw["sha256"]) == 64
    assert "size" not in raw["data"] and raw["model"]["config"]["size"] == 28
    assert "raw_state_dict" not in raw["train"]  # written only with weight EMA
    back = Checkpoint.load(path)
    assert back.source == str(path) and back.sha256 == raw["sha256"]
    assert (back.model_name, back.model_config, back.data, back.train) == \
        (ckpt.model_name, ckpt.model_config, ckpt.data, ckpt.train)
    assert back.state_dict.keys() == ckpt.state_dict.keys()
    assert all(torch.equal(back.state_dict[k], v) for k, v in ckpt.state_dict.items())
    x = torch.randn(2, 3, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(back.build_model()(x), ckpt.build_model()(x), rtol=0, atol=0)


def test_untrained_checkpoint_has_no_train_entry(tmp_path):
    from mans.inference.api import save_untrained

    path = save_untrained(tmp_path / "u.pt", layout="kinect20", prep={"view": "authors",
                                                                      "max_bodies": 1},
                          class_names=["a", "b"], size=28, hidden=4, resnet_width=4,
                          resnet_stages=[1], stream="motion", test_mirror=True)
    assert "train" not in load_checkpoint(path)
    ckpt = Checkpoint.load(path)
    assert ckpt.train is None and (ckpt.data.stream, ckpt.data.test_mirror) == ("motion", True)
    assert ckpt.data.prep["channels"] == 3 and ckpt.data.joints == 20


@pytest.mark.parametrize("change, message", [
    (lambda d: d["model"].pop("name"), "registry 'name'"),
    (lambda d: d["model"]["config"].update(size="28"), "not an integer"),
    (lambda d: d["model"]["config"].update(num_classes=1), "1 outputs for 2 class names"),
    (lambda d: d["state_dict"].update(bad=[1.0]), "map names to tensors"),
    (lambda d: d["train"].pop("optimizer"), r"train entry lacks \['optimizer'\]"),
    (lambda d: d.pop("data"), "lacks the 'data' entry"),
])
def test_bad_checkpoints_are_refused_naming_the_file(change, message):
    d = _checkpoint().to_dict()
    change(d)
    with pytest.raises(FormatError, match=message) as e:
        Checkpoint.from_dict(d, source="x.pt")
    assert str(e.value).startswith("x.pt: ")


def test_spec_from_store_is_the_trainers(tiny_store):  # noqa: F811
    from mans.data.store import PreparedStore

    store = PreparedStore.open(tiny_store)
    spec = DataSpec.from_store(store, protocol="xsub", size=28, stream="motion")
    assert spec.prep == store.prep and list(spec.class_names) == store.class_names
    assert (spec.dataset, spec.protocol, spec.size, spec.stream, spec.test_mirror) == \
        ("enginetest", "xsub", 28, "motion", False)
    assert spec.layout == store.layout


def test_old_checkpoint_saved_again_by_this_code_predicts_the_same(tmp_path):
    """The version-1 fixture read, written as version 2, read again: the same settings and the
    same probabilities as the old code predicted."""
    from mans.inference.predict import Predictor

    old = Checkpoint.load(FIX / "legacy-v1.pt")
    assert (old.data.stream, old.data.test_mirror, old.data.size, old.train.epoch) == \
        ("bone", True, 28, 1)
    assert load_checkpoint(FIX / "legacy-v1.pt")["version"] == 1
    new = Checkpoint.load(old.save(tmp_path / "v2.pt"))
    assert new.data == old.data and payload_sha256(new.to_dict()) == payload_sha256(old.to_dict())
    assert (new.train.history, new.train.config) == (old.train.history, old.train.config)
    expected = json.loads((FIX / "legacy-expected.json").read_text())["files"]
    r = Predictor(tmp_path / "v2.pt", device="cpu").predict(FIX / "legacy-inputs" / "long.npz",
                                                            topk=100)
    probs = [p["prob"] for p in sorted(r["top"], key=lambda p: p["label"])]
    np.testing.assert_allclose(probs, expected["legacy-v1.pt:long.npz"]["predict"], rtol=1e-5,
                               atol=1e-7)


def test_newer_checkpoint_version_is_refused(tmp_path):
    d = _checkpoint().to_dict()
    torch.save({**d, "version": VERSION + 1}, tmp_path / "new.pt")
    with pytest.raises(FormatError, match="newer than this mans"):
        Checkpoint.load(tmp_path / "new.pt")
