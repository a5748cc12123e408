"""Checkpoints and ONNX exports written by older code still load and predict the same.

The files in tests/fixtures/ were written by the code of commit 0609830 (tests/fixtures/README.md):
a trained checkpoint (stream ``bone``, test-time mirroring), an untrained one of
``save_untrained`` (no ``stream`` / ``test_mirror`` entries), the metadata of an ONNX export, and
the probabilities that code predicted from them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers_engine import one_torch_thread, tiny_store  # noqa: F401  (fixtures)

FIX = Path(__file__).parent / "fixtures"
EXPECTED = json.loads((FIX / "legacy-expected.json").read_text())["files"]


def _probs(r: dict) -> np.ndarray:
    return np.array([p["prob"] for p in sorted(r["top"], key=lambda p: p["label"])])


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_predict_matches_the_old_code(key):
    from mans.inference.predict import Predictor

    ckpt, name = key.split(":")
    exp = EXPECTED[key]
    r = Predictor(FIX / ckpt, device="cpu").predict(FIX / "legacy-inputs" / name, topk=100)
    np.testing.assert_allclose(_probs(r), exp["predict"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(r["attention"], exp["attention"], atol=2e-4)  # rounded to 1e-4
    assert r["frame_index"] == exp["frame_index"]


def test_api_matches_the_old_code():
    import mans

    clf = mans.load(FIX / "legacy-v1.pt", device="cpu")
    for name in ("short", "long"):
        r = clf.predict(FIX / "legacy-inputs" / f"{name}.npz", topk=100)
        np.testing.assert_allclose(_probs(r), EXPECTED[f"legacy-v1.pt:{name}.npz"]["api"],
                                   rtol=1e-5, atol=1e-7)


def test_onnx_metadata_of_the_old_export_still_loads(tmp_path):
    """The same weights exported again, with the old export's ``mans`` metadata entry put in
    place of the new one: onnx predict reads the old entry and predicts what the old code did."""
    pytest.importorskip("onnxruntime")
    import onnx

    from mans.inference.export import export_onnx
    from mans.inference.onnx_predict import METADATA_KEY, OnnxPredictor

    out = tmp_path / "m.onnx"
    export_onnx(FIX / "legacy-v1.pt", out, check=False)
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, (FIX / "legacy-v1-onnx-meta.json").read_text()
    onnx.save(proto, str(out))
    pred = OnnxPredictor(out, threads=1)
    for name in ("short", "long"):
        r = pred.predict(FIX / "legacy-inputs" / f"{name}.npz", topk=100)
        np.testing.assert_allclose(_probs(r), EXPECTED[f"legacy-v1.pt:{name}.npz"]["onnx"],
                                   rtol=1e-4, atol=1e-6)


def test_old_checkpoint_evaluates_and_resumes(tiny_store, tmp_path):
    """``mans eval`` scores the old checkpoint on the store it was trained on, and ``--resume``
    continues its run from the old training state for one more epoch."""
    from mans.engine.evaluate import run_eval
    from mans.engine.train import run_training

    m = run_eval(FIX / "legacy-v1.pt", data=tiny_store, device="cpu", progress=False)
    assert m["n"] == 24 and m["epoch"] == 1 and 0 <= m["top1"] <= 1
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FIX / "legacy-v1.pt", run / "last.pt")
    shutil.copy(FIX / "legacy-v1.pt", run / "best.pt")
    m2 = run_training(None, data=tiny_store, out=run, resume=True, overrides=["train.epochs=2"],
                      device="cpu", deterministic=True, progress=False)
    assert m2["epochs"] == 2
