"""Smoke tests of bench/speed.py with tiny sizes: the arithmetic of the reported numbers, the
ceiling GEMMs, the memory probe, numerical agreement of the settings compared. No timing
assertions (the machine is shared and noisy)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mans.models import build_model, count_flops

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("bench_speed", REPO / "bench" / "speed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def tiny_model(**kw):
    torch.manual_seed(0)
    return build_model("mans_resnet", num_classes=5, size=12, hidden=8, resnet_width=8, **kw)


def test_gemms_compute_the_same_product(speed):
    n = 48
    assert speed.gemm_flops(n) == 2 * 48**3
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    torch.testing.assert_close(speed.make_gemm("mm", n)(), a @ b)
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(1, n, n, 1, generator=g), torch.randn(n, n, 1, 1, generator=g)
    for kind in ("conv1x1", "conv1x1_nhwc"):
        out = speed.make_gemm(kind, n)()  # (1, N, M, 1)
        assert out.shape == (1, n, n, 1)
        # out[0, o, m, 0] = sum_k w[o, k] x[0, k, m]: the (N, K) @ (K, M) product, n^3 mult-adds
        torch.testing.assert_close(out[0, :, :, 0], w[:, :, 0, 0] @ x[0, :, :, 0], rtol=1e-4,
                                   atol=1e-4)
    with pytest.raises(ValueError):
        speed.make_gemm("fft", n)


def test_ceiling_picks_the_faster(speed):
    c = speed.measure_ceiling(n=32, warmup=1, repeats=2)
    assert c["gflops"] == max(c["mm_gflops"], c["conv1x1_gflops"], c["conv1x1_nhwc_gflops"]) > 0
    assert c[f"{c['kind']}_gflops"] == c["gflops"]


def test_run_phase_arithmetic_and_memory(speed):
    calls = []

    def step():  # touches 64 MiB: the phase's peak must show it
        calls.append(1)
        a = np.ones(16 * 2**20, dtype=np.float32)
        return float(a[::4096].sum())

    r = speed.run_phase(step, warmup=2, repeats=3, flops_per_call=1e9,
                        gemm=lambda: speed.make_gemm("mm", 32), gemm_n=32)
    assert len(calls) == 5 and r["calls"] == 3
    assert r["gflops"] == pytest.approx(1.0 / r["median_s"])
    assert r["ratio"] == pytest.approx(r["gflops"] / r["ceiling_during_gflops"])
    if r["peak_rss_source"].startswith("VmHWM"):
        assert r["peak_rss_mb"] - r["rss_before_mb"] > 60
    assert r["minor_faults_per_call"] >= 0 and 0 <= r["system_share"] <= 1


def test_training_step_is_the_recipe(speed):
    model = tiny_model()
    opt = speed.recipe_optimizer(model)
    g = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD) and g["nesterov"] and g["momentum"] == 0.9
    assert g["lr"] == 0.01 and g["weight_decay"] == 1e-4
    before = [p.detach().clone() for p in model.parameters()]
    loss, correct = speed.training_step(model, 4, 12, optimizer=opt)()
    assert np.isfinite(loss) and 0 <= correct <= 4
    changed = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert changed > len(before) // 2
    out = speed.inference_step(model, 3, 12)()
    assert out.shape == (3, 5) and not model.training


def test_forward_gflops_matches_count_flops(speed):
    model = tiny_model()
    fl = speed.forward_gflops(model, 12)
    assert fl["total"] == pytest.approx(count_flops(model, (3, 12, 12))["total"] / 1e9)
    assert fl["total"] == pytest.approx(fl["tarm"] + fl["stcm"])


def test_tarm_share_and_profile(speed):
    model = tiny_model()
    r = speed.tarm_share(model, 4, 12, warmup=1, repeats=2)
    assert r["share"] == pytest.approx(r["tarm_fwd_bwd_s"] / r["step_s"])
    assert all(p.grad is None for p in model.tarm.parameters())
    assert speed.tarm_share(tiny_model(use_tarm=False), 4, 12, 1, 1)["share"] == 0.0
    prof = speed.profile_step(speed.training_step(model, 4, 12), steps=1)
    shares = [g["share"] for g in prof["groups"].values()]
    assert sum(shares) == pytest.approx(1.0)
    assert prof["groups"]["convolution forward"]["ms"] > 0  # the STCM convolutions are found
    assert prof["top_ops"][0]["ms"] >= prof["top_ops"][-1]["ms"]


def test_max_rel_diff(speed):
    a = torch.tensor([2.0, -4.0, 1.0])
    assert speed.max_rel_diff(a, a) == 0.0
    assert speed.max_rel_diff(a, torch.tensor([2.0, -4.0, 2.0])) == pytest.approx(0.25)
    assert speed.max_rel_diff(torch.zeros(2), torch.tensor([0.0, 0.5])) == 0.5


def test_compare_settings_numerics(speed):
    settings = {"default": {}, "channels_last": {"channels_last": True},
                "threads_1": {"threads": 1}}
    r = speed.compare_settings("resnet", settings, warmup=0, repeats=1, batch_train=4,
                               batch_infer=4, size=12,
                               model_overrides={"hidden": 8, "resnet_width": 8})
    runs = r["runs"]
    assert runs["default"]["logits_diff_vs_first"] == runs["default"]["grads_diff_vs_first"] == 0
    for name in runs:  # float32 in any layout or thread count stays close to float64
        assert runs[name]["logits_err_vs_float64"] < 1e-5
        assert runs[name]["grads_err_vs_float64"] < 1e-4
        assert runs[name]["train_samples_per_s"] > 0 and runs[name]["infer_samples_per_s"] > 0


def test_data_path(speed, tmp_path):
    prep = speed.build_store(tmp_path, subjects=1, replications=1, workers=1)
    assert prep["files"] == prep["synth_files"] == prep["prepared"] > 0
    assert prep["files_per_s"] == pytest.approx(prep["files"] / prep["seconds"])
    r = speed.loader_speed(prep["store"], size=50, samples=40, batch=8, num_workers=0)
    assert r["samples"] == 40 and r["num_workers"] == 0
    assert r["samples_per_s"] == pytest.approx(40 / r["seconds"])
    r = speed.loader_speed(prep["store"], size=50, samples=20, batch=8)  # the engine's workers
    from mans.engine.config import DataConfig

    assert r["num_workers"] == DataConfig().num_workers and r["samples"] == 20
    torch.manual_seed(0)
    model = build_model("mans_resnet", num_classes=60, size=50, hidden=8, resnet_width=8)
    before = model.stcm.classifier.weight.detach().clone()
    r = speed.pipeline_speed(prep["store"], model, steps=3, batch=4, num_workers=0)
    assert r["steps"] == 3 and r["size"] == 50 and r["samples_per_s"] > 0
    assert not torch.equal(before, model.stcm.classifier.weight)  # it trained


def test_main_writes_consistent_json(speed, tmp_path):
    out = tmp_path / "r.json"
    assert speed.main(["--variants", "resnet", "--phases", "infer,train", "--repeats", "1",
                       "--quick", "--no-data", "--gemm-n", "64", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["machine"]["cpus"] >= 1 and r["machine"]["torch"] == torch.__version__
    v = r["variants"]["resnet"]
    assert v["size"] == 50 and v["train"]["batch"] == 32 and v["infer"]["batch"] == 64
    assert v["gflops_per_sample"] == pytest.approx(
        count_flops(build_model("mans_resnet", num_classes=60), (3, 50, 50))["total"] / 1e9)
    assert v["infer"]["samples_per_s"] == pytest.approx(64 / v["infer"]["median_s"])
    # training counts 3x the forward FLOPs
    assert v["train"]["gflops"] == pytest.approx(
        3 * v["gflops_per_sample"] * v["train"]["samples_per_s"])
    assert v["train_ratio"] == pytest.approx(v["train"]["gflops"] /
                                             v["train"]["ceiling_during_gflops"])


def test_onnx_vs_torch_side_by_side(speed):
    model = tiny_model()
    r = speed.onnx_vs_torch(model, batch=4, size=12, warmup=1, repeats=2)
    assert r["max_abs_diff_logits"] <= 1e-4  # the two runtimes computed the same logits
    assert r["onnxruntime_over_torch"] == pytest.approx(
        r["onnxruntime_samples_per_s"] / r["torch_samples_per_s"])
    assert r["torch_samples_per_s"] > 0 and r["threads"] == torch.get_num_threads()


def test_recurrence_speed_compares_equal_paths(speed):
    model = tiny_model()
    r = speed.recurrence_speed(model, batch_infer=4, batch_train=2, size=12, warmup=1, repeats=2)
    assert r["max_abs_diff"] <= 1e-5
    for phase in ("infer", "train"):
        assert r[f"{phase}_nn_over_scan_speed"] == pytest.approx(
            r[f"{phase}_scan_s"] / r[f"{phase}_nn_s"])
    assert model.tarm.recurrence == "auto"  # the bench timed a copy


def test_cooccurrence_variant_beside_resnet(speed, tmp_path):
    """The co-occurrence variant runs every model phase on its (B, C, S, J) sequence input."""
    out = tmp_path / "c.json"
    assert speed.main(["--variants", "resnet,cooccurrence", "--phases", "infer", "--repeats", "1",
                       "--quick", "--no-data", "--gemm-n", "64", "--json", str(out)]) == 0
    v = json.loads(out.read_text())["variants"]
    c = v["cooccurrence"]
    ref = build_model("mans_cooccurrence", num_classes=60, joints=50, bodies=2)
    assert c["model"] == "mans_cooccurrence" and c["infer"]["batch"] == 64
    assert c["gflops_per_sample"] == pytest.approx(count_flops(ref, (3, 50, 50))["total"] / 1e9)
    assert c["infer"]["samples_per_s"] == pytest.approx(64 / c["infer"]["median_s"])
    assert c["gflops_per_sample"] < v["resnet"]["gflops_per_sample"] / 2
    torch.manual_seed(0)
    small = build_model("mans_cooccurrence", num_classes=60, size=12, hidden=8, cooc_width=16,
                        joints=50, bodies=2)
    assert speed.sample_shape(small, 12) == (3, 12, 50)
    assert speed.onnx_vs_torch(small, batch=2, size=12, warmup=0, repeats=1)[
        "max_abs_diff_logits"] <= 1e-4
    assert speed.tarm_share(small, 2, 12, warmup=0, repeats=1)["share"] > 0
    prep = speed.build_store(tmp_path, subjects=1, replications=1, workers=1)
    r = speed.pipeline_speed(prep["store"], small, steps=2, batch=4, num_workers=0)
    assert r["steps"] == 2 and r["size"] == 12
