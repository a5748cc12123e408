"""ONNX export (``mans export``) and inference on onnxruntime without torch (``mans predict
--onnx``): parity with PyTorch on logits and attention for both variants, dynamic batch, the
preprocessing settings carried in the file, and no torch import on the ONNX path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from helpers_export import write_checkpoint
from mans import cli
from mans.data.spec import DataSpec
from mans.engine.checkpoint import Checkpoint
from mans.errors import ConfigError, FormatError
from mans.inference.export import export_onnx
from mans.inference.onnx_predict import OnnxPredictor
from mans.inference.predict import Predictor

REPO = Path(__file__).resolve().parents[1]
TOL = 1e-4


def torch_outputs(ckpt: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    p = Predictor(ckpt, device="cpu")
    with torch.no_grad():
        logits, att = p.model(torch.from_numpy(x), return_attention=True)
    return logits.numpy(), None if att is None else att.numpy()


@pytest.fixture(scope="module")
def resnet_onnx(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    ckpt = write_checkpoint(root / "r.pt", "mans_resnet", size=50, hidden=8, resnet_width=8,
                            resnet_stages=[1, 1])
    info = export_onnx(ckpt, root / "r.onnx")
    return ckpt, root / "r.onnx", info


@pytest.mark.parametrize("batch", [1, 4])
def test_resnet_parity_dynamic_batch(resnet_onnx, batch):
    ckpt, path, info = resnet_onnx
    assert info["max_abs_diff_logits"] <= TOL and info["max_abs_diff_attention"] <= TOL
    x = np.random.default_rng(batch).normal(size=(batch, 3, 50, 50)).astype(np.float32)
    logits, att = OnnxPredictor(path).run(x)
    ref_logits, ref_att = torch_outputs(ckpt, x)
    assert logits.shape == (batch, 7) and att.shape == (batch, 3, 50)
    assert np.abs(logits - ref_logits).max() <= TOL
    assert np.abs(att - ref_att).max() <= TOL
    # the attention is a real per-frame signal, not a constant
    assert att.std() > 1e-4


def test_densenet_parity(tmp_path):
    ckpt = write_checkpoint(tmp_path / "d.pt", "mans_densenet161", size=32, hidden=8)
    info = export_onnx(ckpt, tmp_path / "d.onnx")
    assert info["variant"] == "densenet161"
    x = np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32)
    logits, att = OnnxPredictor(tmp_path / "d.onnx").run(x)
    ref_logits, ref_att = torch_outputs(ckpt, x)
    assert np.abs(logits - ref_logits).max() <= TOL
    assert np.abs(att - ref_att).max() <= TOL


def test_model_without_tarm_exports_ones(tmp_path):
    ckpt = write_checkpoint(tmp_path / "s.pt", "mans_resnet", size=20, hidden=8, resnet_width=8,
                            resnet_stages=[1], use_tarm=False)
    export_onnx(ckpt, tmp_path / "s.onnx")
    x = np.random.default_rng(0).normal(size=(2, 3, 20, 20)).astype(np.float32)
    logits, att = OnnxPredictor(tmp_path / "s.onnx").run(x)
    ref_logits, ref_att = torch_outputs(ckpt, x)
    assert ref_att is None and np.array_equal(att, np.ones((2, 3, 20), np.float32))
    assert np.abs(logits - ref_logits).max() <= TOL


def test_metadata_carries_the_checkpoint_data(resnet_onnx):
    ckpt, path, _ = resnet_onnx
    proto = onnx.load(str(path))
    meta = json.loads({p.key: p.value for p in proto.metadata_props}["mans"])
    saved = Checkpoint.load(ckpt)
    assert meta["model"] == saved.to_dict()["model"] and meta["data"] == saved.data.to_dict()
    assert DataSpec.from_dict(meta["data"], size=meta["model"]["config"]["size"]) == saved.data
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["logits", "attention"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_predict_onnx_matches_torch_on_real_files(resnet_onnx, ntu_samples, capsys):
    ckpt, path, _ = resnet_onnx
    files = [str(f) for f in sorted(ntu_samples.glob("*.skeleton"))]
    assert cli.main(["predict", str(ckpt), *files, "--json", "--device", "cpu"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert cli.main(["predict", str(path), *files, "--json", "--onnx"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got) == len(ref) == 5
    for g, r in zip(got, ref):
        assert [t["label"] for t in g["top"]] == [t["label"] for t in r["top"]]
        assert np.allclose([t["prob"] for t in g["top"]], [t["prob"] for t in r["top"]],
                           atol=TOL)
        assert np.abs(np.subtract(g["attention"], r["attention"])).max() <= 2e-4  # 4 decimals
        assert g["frame_index"] == r["frame_index"] and g["true_label"] == r["true_label"]


BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, Block())
from mans import cli
rc = cli.main(sys.argv[1:])
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch imported"
sys.exit(rc)
"""


def test_predict_onnx_runs_without_torch(resnet_onnx, ntu_samples):
    _, path, _ = resnet_onnx
    f = sorted(ntu_samples.glob("*.skeleton"))[0]
    r = subprocess.run([sys.executable, "-c", BLOCK_TORCH, "predict", str(path), str(f), "--onnx",
                        "--topk", "2"], capture_output=True, text=True, cwd=REPO,
                       env={"PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1",
                            "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(f)) and "1. class" in r.stdout and "attention" in r.stdout
    # and the blocker works: the torch path fails under it
    r = subprocess.run([sys.executable, "-c", BLOCK_TORCH, "export", str(path), "--onnx",
                        str(path)], capture_output=True, text=True, cwd=REPO,
                       env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode != 0 and "torch is blocked" in r.stderr


def test_cli_export_prints_parity(resnet_onnx, tmp_path, capsys):
    ckpt, _, _ = resnet_onnx
    assert cli.main(["export", str(ckpt), "--onnx", str(tmp_path / "m.onnx")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["max_abs_diff_logits"] <= TOL
    assert info["bytes"] == (tmp_path / "m.onnx").stat().st_size


def test_bad_inputs_name_the_file(resnet_onnx, tmp_path):
    ckpt, _, _ = resnet_onnx
    with pytest.raises(ConfigError, match="must end in .onnx"):
        export_onnx(ckpt, tmp_path / "m.bin")
    for opset in (5, 40):  # torch's exporter would stop with a long traceback
        with pytest.raises(ConfigError, match=f"--opset {opset}: mans exports to opsets 12-20"):
            export_onnx(ckpt, tmp_path / "m.onnx", opset=opset)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="--onnx .*/file exists and is not a folder"):
        export_onnx(ckpt, tmp_path / "file" / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(FormatError, match="bad.onnx.*not a readable ONNX model"):
        OnnxPredictor(bad)
    # a valid ONNX file that mans did not write
    x, y = (onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1]) for n in "xy")
    graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x],
                                   [y])
    onnx.save(onnx.helper.make_model(graph), str(tmp_path / "plain.onnx"))
    with pytest.raises(FormatError, match="plain.onnx.*not written by mans export"):
        OnnxPredictor(tmp_path / "plain.onnx")


def test_export_without_onnx_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import importlib.util

    ckpt = write_checkpoint(tmp_path / "m.pt", "mans_resnet", size=32, hidden=8, resnet_width=8,
                            resnet_stages=[1])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real(name, *a))
    out = tmp_path / "m.onnx"
    assert cli.main(["export", str(ckpt), "--onnx", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'mans[onnx]'" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]


def test_export_accepts_a_run_folder(tmp_path):
    (tmp_path / "run").mkdir()
    write_checkpoint(tmp_path / "run" / "best.pt", "mans_resnet", size=32, hidden=8,
                     resnet_width=8, resnet_stages=[1])
    info = export_onnx(tmp_path / "run", tmp_path / "m.onnx", check=False)
    assert info["checkpoint"] == str(tmp_path / "run" / "best.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "run"]  # no .tmp left


def test_export_of_a_bone_stream_run_with_test_mirror(tmp_path, ntu_samples):
    """The exported graph holds the mirror averaging and the file keeps the stream: onnxruntime
    predicts a real NTU file as the torch path does."""
    from mans.engine.checkpoint import load_checkpoint, save_checkpoint
    from mans.skeleton import builtin_layout

    ckpt = write_checkpoint(tmp_path / "m.pt", "mans_resnet", size=50, hidden=8,
                            resnet_width=8, resnet_stages=[1])
    state = load_checkpoint(ckpt)
    state.pop("sha256", None)
    state["data"].update(stream="bone", test_mirror=True)
    state["data"]["prep"].update(layout_def=builtin_layout("ntu25").to_dict(), joints=50)
    save_checkpoint(ckpt, state)
    info = export_onnx(ckpt, tmp_path / "m.onnx")
    assert info["max_abs_diff_logits"] < 1e-4
    f = ntu_samples / "S001C003P008R002A058.skeleton"
    a = Predictor(ckpt, "cpu").predict(f, topk=3)
    b = OnnxPredictor(tmp_path / "m.onnx").predict(f, topk=3)
    assert [t["label"] for t in a["top"]] == [t["label"] for t in b["top"]]
    np.testing.assert_allclose([t["prob"] for t in a["top"]], [t["prob"] for t in b["top"]],
                               atol=1e-4)
