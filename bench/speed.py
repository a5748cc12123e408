"""Speed of MANs on this machine, measured against the machine's own FLOP-rate ceiling (CPU).

In one process, on the current machine:

- **ceiling**: a 2048 x 2048 x 2048 float32 GEMM (``2 * 2048**3`` FLOPs) run as ``torch.mm``
  (MKL) and as the same product written as a 1x1 convolution (oneDNN), in NCHW and in
  channels-last layout; the largest median rate.
- **per variant** (``mans_resnet`` S = 50, ``mans_densenet161`` S = 224, ``mans_cooccurrence``
  S = 50 frames by J = 50 joint columns (NTU: 2 bodies x 25), 60 classes): forward
  GFLOPs per sample (:func:`mans.models.count_flops`); inference samples/s (batch 64, eval mode,
  ``torch.inference_mode``); training samples/s (batch 32, the engine's ``train_step`` with the
  recipe's SGD: lr 0.01, momentum 0.9, Nesterov, weight decay 1e-4); peak resident memory of
  each phase; the achieved FLOP rate as a fraction of the ceiling (``infer_ratio``,
  ``train_ratio``; training counted as 3x the forward FLOPs).
- **TARM share** of a training step: TARM forward + backward alone vs the whole step,
  interleaved so that both see the same machine load.
- **onnx**: CPU inference samples/s of PyTorch and of onnxruntime on the exported graph
  (``mans export``), side by side, interleaved (phase ``onnx``).
- **gru**: the TARM alone on its two recurrences, the batched scan and ``torch.nn.GRU``,
  inference and training forward + backward (phase ``gru``).
- **profile** of a training step (torch.profiler, self CPU time grouped by kind of op).
- **data path**: files/s of ``mans prepare`` on a synthetic NTU set written by ``mans synth``,
  samples/s that the engine's training DataLoader (batch 32, shuffled, the default
  ``data.num_workers``) delivers from the prepared store, and training samples/s with that
  loader feeding the engine's step.
- optionally, **settings** compared step by step (channels-last, threads, oneDNN; each checked
  against float64) and **environment variables** compared in child processes (``GLIBC_TUNABLES``,
  ``OMP_WAIT_POLICY``).

Timing: medians over repeats after warm-up steps. On a shared machine the load changes while the
bench runs, so every timed model step is followed by one timed ceiling GEMM and the ratios divide
by the ceiling measured *during that phase* (``ceiling_during_gflops``); the ceiling measured
once at the start is reported too (``ceiling.gflops``). Peak memory: the kernel's resident-set
high-water mark ``VmHWM`` of ``/proc/self/status``, reset before each phase by writing ``5`` to
``/proc/self/clear_refs`` (Linux >= 4.0), read after the warm-up steps; elsewhere the process-wide
``getrusage`` maximum, which cannot be reset (noted in the JSON).

    python bench/speed.py --json bench-speed.json    # both variants: ~5 min on 2 idle cores
    python bench/speed.py --quick --variants resnet --json out.json
    python bench/speed.py --no-data --phases "" --compare-settings --variants resnet
    python bench/speed.py --no-data --phases "" --compare-env --variants resnet
    python bench/speed.py --no-data --phases onnx,gru --variants resnet,densenet161 --quick
    python bench/speed.py --no-data --phases infer --variants resnet,cooccurrence
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

VARIANTS = {"resnet": ("mans_resnet", 50), "densenet161": ("mans_densenet161", 224),
            "cooccurrence": ("mans_cooccurrence", 50)}
# what a sequence model needs beyond the registry's defaults: NTU's joint columns
MODEL_KW = {"mans_cooccurrence": {"joints": 50, "bodies": 2}}
NUM_CLASSES = 60
INFER_BATCH, TRAIN_BATCH = 64, 32
GEMM_N = 2048
GEMM_KINDS = ("mm", "conv1x1", "conv1x1_nhwc")
# The allocator settings peers found to stop page-fault storms (see docs/performance.md).
GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=17179869184"
# repeats (warm-up, timed) per variant: a DenseNet-161 training step takes ~10-30 s on 2 cores
REPEATS = {"resnet": (2, 10), "densenet161": (1, 3), "cooccurrence": (2, 10)}
QUICK_REPEATS = {"resnet": (1, 4), "densenet161": (1, 2), "cooccurrence": (1, 4)}
# model phases when --phases is not given: the TARM share is asked of the ResNet variant (whose
# TARM is relatively largest); DenseNet-161 steps are slow, so it gets one profiled step
DEFAULT_PHASES = {"resnet": "infer,train,tarm,profile", "densenet161": "infer,train,profile",
                  "cooccurrence": "infer,train,tarm,profile"}
PROFILE_STEPS = {"resnet": 2, "densenet161": 1, "cooccurrence": 2}
PIPELINE_STEPS = {"resnet": 24, "densenet161": 3, "cooccurrence": 24}
ENV_KEYS = ("GLIBC_TUNABLES", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS",
            "MKL_NUM_THREADS", "DNNL_MAX_CPU_ISA", "ONEDNN_DEFAULT_FPMATH_MODE")


# --- the machine --------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name", read from /proc/cpuinfo)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """What the numbers depend on: CPU, cores, library versions, threads, date, load."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libc": " ".join(platform.libc_ver()),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkldnn_enabled": bool(torch.backends.mkldnn.enabled),
        "env": {k: os.environ.get(k) for k in ENV_KEYS if k in os.environ},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "load_avg_1min": os.getloadavg()[0],
    }


# --- memory and OS counters -----------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark of this process (``VmHWM``) to the current
    resident size; False where that is not possible (then :func:`peak_rss_mb` is process-wide)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmHWM") is not None
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak resident memory in MiB since the last :func:`reset_peak_rss` (``VmHWM``), or since
    the process started (``getrusage`` ``ru_maxrss``, KiB on Linux)."""
    kb = _status_kb("VmHWM")
    return (kb if kb is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def rss_mb() -> float:
    """Current resident memory in MiB (``VmRSS``; 0 where unknown)."""
    return (_status_kb("VmRSS") or 0) / 1024


class Counters:
    """Sum of wall, CPU (user, system) seconds and minor/major page faults over timed calls."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.user = self.system = 0.0
        self.minflt = self.majflt = 0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        yield
        t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        self.wall.append(t1 - t0)
        self.user += r1.ru_utime - r0.ru_utime
        self.system += r1.ru_stime - r0.ru_stime
        self.minflt += r1.ru_minflt - r0.ru_minflt
        self.majflt += r1.ru_majflt - r0.ru_majflt

    def summary(self) -> dict:
        """Per-call medians and means; ``cpu_util``: CPU seconds per wall second per thread (1.0 =
        every torch thread ran all the time; lower means other processes took the cores, or the
        threads waited)."""
        n = len(self.wall)
        total = sum(self.wall)
        return {
            "calls": n,
            "median_s": statistics.median(self.wall),
            "min_s": min(self.wall),
            "user_s_per_call": self.user / n,
            "system_s_per_call": self.system / n,
            "system_share": self.system / max(self.user + self.system, 1e-12),
            "minor_faults_per_call": self.minflt / n,
            "major_faults_per_call": self.majflt / n,
            "cpu_util": (self.user + self.system) / max(total * torch.get_num_threads(), 1e-12),
        }


# --- the ceiling ----------------------------------------------------------------------------------


def gemm_flops(n: int = GEMM_N) -> int:
    """FLOPs of one ``n x n x n`` matrix product (one multiply-add = 2 FLOPs)."""
    return 2 * n**3


def make_gemm(kind: str, n: int = GEMM_N, seed: int = 0) -> Callable[[], torch.Tensor]:
    """A callable running one ``n x n x n`` float32 product.

    ``mm``: ``A (n, n) @ B (n, n)`` with ``torch.mm`` (MKL). ``conv1x1``: the same product as a
    1x1 convolution (oneDNN): input ``(1, K=n, M=n, 1)``, weight ``(N=n, K=n, 1, 1)``, output
    ``(1, N, M, 1)`` with ``out[0, o, m, 0] = sum_k w[o, k] x[0, k, m]`` -- ``n**3`` multiply-adds,
    the same FLOPs as ``mm``. ``conv1x1_nhwc``: the same convolution with channels-last input and
    weight (each pixel's K values contiguous), oneDNN's preferred layout.
    """
    g = torch.Generator().manual_seed(seed)
    if kind == "mm":
        a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
        out = torch.empty(n, n)
        return lambda: torch.mm(a, b, out=out)
    if kind in ("conv1x1", "conv1x1_nhwc"):
        x, w = torch.randn(1, n, n, 1, generator=g), torch.randn(n, n, 1, 1, generator=g)
        if kind == "conv1x1_nhwc":
            x = x.contiguous(memory_format=torch.channels_last)
            w = w.contiguous(memory_format=torch.channels_last)
        return lambda: F.conv2d(x, w)
    raise ValueError(f"unknown GEMM kind {kind!r}; expected one of {GEMM_KINDS}")


def time_interleaved(calls: dict[str, Callable[[], object]], warmup: int, repeats: int
                     ) -> dict[str, float]:
    """Median wall seconds of each callable, timed interleaved (one call of each in turn, after
    ``warmup`` untimed rounds) so that all see the same machine load."""
    counters = {name: Counters() for name in calls}
    for i in range(warmup + repeats):
        for name, fn in calls.items():
            if i < warmup:
                fn()
                continue
            with counters[name].measure():
                fn()
    return {name: c.summary()["median_s"] for name, c in counters.items()}


def time_calls(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def measure_ceiling(n: int = GEMM_N, warmup: int = 2, repeats: int = 7) -> dict:
    """Median GFLOP/s of the :data:`GEMM_KINDS` GEMMs, interleaved (a busy machine slows them
    alike); ``gflops`` is the largest, ``kind`` the winner."""
    fns = {k: make_gemm(k, n) for k in GEMM_KINDS}
    for fn in fns.values():
        time_calls(fn, warmup, 0)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k] += time_calls(fn, 0, 1)
    rates = {k: gemm_flops(n) / statistics.median(v) / 1e9 for k, v in times.items()}
    best = max(rates, key=rates.get)
    return {"n": n, **{f"{k}_gflops": v for k, v in rates.items()}, "gflops": rates[best],
            "kind": best, "repeats": repeats}


# --- model phases ---------------------------------------------------------------------------------


def recipe_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """The recipe's optimizer (``train.*`` defaults of the engine's config: SGD, Nesterov)."""
    from mans.engine.config import TrainConfig

    t = TrainConfig()
    return torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum, nesterov=t.nesterov,
                           weight_decay=t.weight_decay)


def sample_shape(model: nn.Module, size: int) -> tuple[int, int, int]:
    """One sample's input at ``S = size``: ``(C, S, S)`` for an image model, ``(C, S, J)`` for a
    sequence model (its ``joints``)."""
    c = model.config
    return (c.in_channels, size, c.joints if c.input == "sequence" else size)


def forward_gflops(model: nn.Module, size: int) -> dict:
    """Forward GFLOPs per sample, total and per top-level submodule (``tarm``, ``stcm``)."""
    from mans.models import count_flops

    c = count_flops(model, sample_shape(model, size))
    return {k: v / 1e9 for k, v in c.items()}


def run_phase(step: Callable[[], object], *, warmup: int, repeats: int, flops_per_call: float,
              gemm: Callable[[], Callable[[], object]] | None, gemm_n: int = GEMM_N) -> dict:
    """Time ``step`` (one batch): ``warmup`` untimed calls, then ``repeats`` timed ones, each
    followed by one timed ceiling GEMM when ``gemm`` (a factory of :func:`make_gemm` callables,
    called once after the warm-up) is given. Peak RSS is read after the warm-up (before
    the GEMM operands exist), so it is the step's own.

    Returns the :class:`Counters` summary plus ``gflops`` (achieved, median), ``peak_rss_mb``,
    ``rss_before_mb`` and, with ``gemm``, ``ceiling_during_gflops``, ``ratio`` (medians) and
    ``best_ratio`` (fastest step / fastest GEMM).
    """
    gc.collect()
    hwm_ok = reset_peak_rss()
    before = rss_mb()
    for _ in range(warmup):
        step()
    out = {"rss_before_mb": before, "peak_rss_mb": peak_rss_mb(),
           "peak_rss_source": "VmHWM (reset per phase)" if hwm_ok else "ru_maxrss (process)"}
    g = gemm() if gemm is not None else None  # allocates the GEMM operands
    counters, gemm_times = Counters(), []
    for _ in range(repeats):
        with counters.measure():
            step()
        if g is not None:
            gemm_times += time_calls(g, 0, 1)
    del g
    out.update(counters.summary())
    out["gflops"] = flops_per_call / out["median_s"] / 1e9
    if gemm_times:
        out["ceiling_during_gflops"] = gemm_flops(gemm_n) / statistics.median(gemm_times) / 1e9
        out["ratio"] = out["gflops"] / out["ceiling_during_gflops"]
        # least disturbed step vs least disturbed GEMM: on a shared machine, the better guess of
        # what the machine does alone
        out["best_ratio"] = (flops_per_call / out["min_s"]) / (gemm_flops(gemm_n) / min(gemm_times))
    return out


def inference_step(model: nn.Module, batch: int, size: int, seed: int = 0) -> Callable[[], object]:
    """One eval-mode, inference-mode forward pass of a random batch ``(batch, C, S, S)`` (``(batch,
    C, S, J)`` for a sequence model)."""
    x = torch.randn(batch, *sample_shape(model, size),
                    generator=torch.Generator().manual_seed(seed))

    def step():
        model.eval()
        with torch.inference_mode():
            return model(x)

    return step


def training_step(model: nn.Module, batch: int, size: int, seed: int = 0,
                  optimizer: torch.optim.Optimizer | None = None) -> Callable[[], object]:
    """One training step exactly as the engine runs it (:func:`mans.engine.train.train_step`:
    forward, loss, finiteness check, backward, recipe SGD update) on a random batch."""
    from mans.engine.train import train_step

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *sample_shape(model, size), generator=g)
    y = torch.randint(0, model.config.num_classes, (batch,), generator=g)
    opt = optimizer or recipe_optimizer(model)

    def step():
        model.train()
        return train_step(model, x, y, opt)

    return step


def tarm_share(model: nn.Module, batch: int, size: int, warmup: int, repeats: int,
               seed: int = 0) -> dict:
    """Time of the TARM's forward + backward alone vs a whole training step, interleaved.

    The TARM pass gets the input batch and a random upstream gradient for its output, as in the
    step (its input needs no gradient, so none is computed for it).
    """
    if model.tarm is None:
        return {"share": 0.0, "note": "model has no TARM"}
    tarm = model.tarm
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *sample_shape(model, size), generator=g)
    grad = torch.randn(x.shape, generator=g)
    full = training_step(copy.deepcopy(model), batch, size, seed)

    def tarm_only():
        tarm.train()
        y, _ = tarm(x)  # (B, C, S, S or J)
        y.backward(grad)
        for p in tarm.parameters():
            p.grad = None

    times = time_interleaved({"tarm": tarm_only, "full": full}, warmup, repeats)
    t, s = times["tarm"], times["full"]
    out = {"tarm_fwd_bwd_s": t, "step_s": s, "share": t / s, "repeats": repeats,
           "threads": torch.get_num_threads()}
    if torch.get_num_threads() > 1:  # the GRU loop's small ops may not gain from threads
        with torch_settings(threads=1):
            out["tarm_fwd_bwd_s_1_thread"] = statistics.median(
                time_calls(tarm_only, warmup, repeats))
    return out


def onnx_vs_torch(model: nn.Module, batch: int, size: int, warmup: int, repeats: int,
                  seed: int = 0) -> dict:
    """CPU inference samples/s of the same weights on PyTorch and on onnxruntime, side by side.

    The model is exported by :func:`mans.inference.export.export_model` (the graph ``mans export`` writes)
    to a temporary file; onnxruntime gets as many intra-op threads as torch has. The two are
    timed interleaved (one torch batch, one onnxruntime batch, ...) so that both see the same
    machine load. ``max_abs_diff_logits``: agreement of the two on the timed batch.
    """
    import onnxruntime as ort

    from mans.inference.export import INPUT, OUTPUTS, export_model

    x = torch.randn(batch, *sample_shape(model, size),
                    generator=torch.Generator().manual_seed(seed))
    model = copy.deepcopy(model).eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        t0 = time.perf_counter()
        export_model(copy.deepcopy(model), path)
        export_s = time.perf_counter() - t0
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        xn = x.numpy()

        def torch_step():
            with torch.inference_mode():
                return model(x)

        def ort_step():
            return session.run([OUTPUTS[0]], {INPUT: xn})[0]

        times = time_interleaved({"torch": torch_step, "ort": ort_step}, warmup, repeats)
        ref, got = torch_step(), ort_step()
    tt, to = times["torch"], times["ort"]
    return {"batch": batch, "threads": torch.get_num_threads(), "repeats": repeats,
            "torch_samples_per_s": batch / tt, "onnxruntime_samples_per_s": batch / to,
            "onnxruntime_over_torch": tt / to, "export_s": export_s,
            "onnxruntime": ort.__version__,
            "max_abs_diff_logits": float(np.abs(got - ref.numpy()).max())}


def recurrence_speed(model: nn.Module, batch_infer: int, batch_train: int, size: int,
                     warmup: int, repeats: int, seed: int = 0) -> dict:
    """The TARM alone on its two recurrences (``scan``: batched Python loop over frames with the
    hand-written backward; ``nn``: one ``torch.nn.GRU`` per channel), timed interleaved:
    inference (eval, ``torch.inference_mode``, ``batch_infer``) and a training forward +
    backward (train mode, input dropout on, ``batch_train``). ``max_abs_diff``: the two
    recurrences' eval outputs on the same batch."""
    if model.tarm is None:
        return {"note": "model has no TARM"}
    tarm = copy.deepcopy(model.tarm)
    g = torch.Generator().manual_seed(seed)
    xi = torch.randn(batch_infer, *sample_shape(model, size), generator=g)
    xt = xi[:batch_train]
    grad = torch.randn(xt.shape, generator=g)

    def infer(rec: str):
        def step():
            tarm.recurrence = rec
            tarm.eval()
            with torch.inference_mode():
                return tarm(xi)[0]
        return step

    def train(rec: str):
        def step():
            tarm.recurrence = rec
            tarm.train()
            y, _ = tarm(xt)
            y.backward(grad)
            for p in tarm.parameters():
                p.grad = None
        return step

    out: dict = {"batch_infer": batch_infer, "batch_train": batch_train, "repeats": repeats,
                 "threads": torch.get_num_threads()}
    for phase, make in (("infer", infer), ("train", train)):
        times = time_interleaved({rec: make(rec) for rec in ("scan", "nn")}, warmup, repeats)
        for rec, t in times.items():
            out[f"{phase}_{rec}_s"] = t
        out[f"{phase}_nn_over_scan_speed"] = out[f"{phase}_scan_s"] / out[f"{phase}_nn_s"]
    out["max_abs_diff"] = float((infer("scan")() - infer("nn")()).abs().max())
    return out


OP_GROUPS = (  # (group, substrings of aten op names), first match wins
    ("convolution backward", ("convolution_backward",)),
    ("convolution forward", ("mkldnn_convolution", "conv2d", "convolution")),
    ("matmul (TARM, GRU, classifier)", ("bmm", "mm", "addmm", "matmul", "linear")),
    ("batch norm", ("batch_norm",)),
    ("copies and layout", ("copy_", "cat", "flip", "pad", "contiguous", "stack", "clone")),
)


def profile_step(step: Callable[[], object], steps: int = 2, top: int = 12) -> dict:
    """Where a step's time goes: torch.profiler self CPU time per op, summed into groups
    (:data:`OP_GROUPS`; the rest is "elementwise and other") and the ``top`` ops, in ms per step.
    The profiler adds a few percent of overhead, mostly to the many small ops."""
    from torch.profiler import ProfilerActivity, profile

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    rows = [(e.key, e.self_cpu_time_total / 1e3 / steps, e.count // steps)
            for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(ms for _, ms, _ in rows)
    groups: dict[str, float] = {name: 0.0 for name, _ in OP_GROUPS}
    groups["elementwise and other"] = 0.0
    for key, ms, _ in rows:
        name = next((g for g, subs in OP_GROUPS if any(s in key for s in subs)),
                    "elementwise and other")
        groups[name] += ms
    rows.sort(key=lambda r: -r[1])
    return {
        "ms_per_step": total,
        "groups": {k: {"ms": v, "share": v / total} for k, v in groups.items()},
        "top_ops": [{"op": k, "ms": ms, "share": ms / total, "calls": n}
                    for k, ms, n in rows[:top]],
    }


def prepare_model(name: str, *, channels_last: bool = False, seed: int = 0) -> nn.Module:
    """``build_model(name, num_classes=60)`` with a fixed seed. The model keeps its CNN (STCM)
    weights channels-last, so oneDNN runs every convolution in NHWC (the TARM output is converted
    once by the first convolution); without ``channels_last`` they are converted back to NCHW, to
    measure what that layout gains."""
    from mans.models import build_model

    torch.manual_seed(seed)
    model = build_model(name, num_classes=NUM_CLASSES, **MODEL_KW.get(name, {}))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.stcm.to(memory_format=fmt)
    return model


def bench_variant(key: str, *, repeats: tuple[int, int], phases: set[str],
                  channels_last: bool, gemm_kind: str, gemm_n: int = GEMM_N,
                  profile_steps: int = 2) -> dict:
    """All model phases of one variant (see module docstring)."""
    name, size = VARIANTS[key]
    model = prepare_model(name, channels_last=channels_last)
    warmup, reps = repeats
    fl = forward_gflops(model, size)
    res: dict = {"model": name, "size": size, "num_classes": NUM_CLASSES,
                 "params": sum(p.numel() for p in model.parameters()),
                 "gflops_per_sample": fl["total"], "gflops_by_module": {
                     k: v for k, v in fl.items() if k != "total"}}
    gemm = lambda: make_gemm(gemm_kind, gemm_n)  # noqa: E731  (built per phase, freed after)
    # infer and train differ only in the step, the batch and the FLOPs counted per sample
    # (training = forward + backward = 3x the forward FLOPs).
    for kind, step, batch, flop_factor in (("infer", inference_step, INFER_BATCH, 1),
                                           ("train", training_step, TRAIN_BATCH, 3)):
        if kind not in phases:
            continue
        r = run_phase(step(model, batch, size), warmup=warmup, repeats=reps,
                      flops_per_call=flop_factor * fl["total"] * 1e9 * batch, gemm=gemm,
                      gemm_n=gemm_n)
        r.update(batch=batch, samples_per_s=batch / r["median_s"])
        res[kind] = r
        res[f"{kind}_ratio"] = r["ratio"]
        faults = (f"  minor faults/step {r['minor_faults_per_call']:.0f}  system "
                  f"{r['system_share']:.1%}" if kind == "train" else "")
        print(f"  {name} {kind}: {r['samples_per_s']:8.1f} samples/s  {r['gflops']:6.1f} GFLOP/s "
              f"= {r['ratio']:.2f} of {r['ceiling_during_gflops']:.0f} "
              f"(best {r['best_ratio']:.2f})  peak RSS {r['peak_rss_mb']:.0f} MB{faults}",
              flush=True)
    if "tarm" in phases:
        res["tarm"] = tarm_share(model, TRAIN_BATCH, size, warmup, reps)
        print(f"  {name} TARM fwd+bwd {1e3 * res['tarm']['tarm_fwd_bwd_s']:.0f} ms of a "
              f"{1e3 * res['tarm']['step_s']:.0f} ms step = {res['tarm']['share']:.1%}", flush=True)
    if "onnx" in phases:
        r = res["onnx"] = onnx_vs_torch(model, INFER_BATCH, size, warmup, reps)
        print(f"  {name} CPU inference, batch {r['batch']}, {r['threads']} threads: torch "
              f"{r['torch_samples_per_s']:.1f} samples/s, onnxruntime "
              f"{r['onnxruntime_samples_per_s']:.1f} samples/s "
              f"(x{r['onnxruntime_over_torch']:.2f}; max |diff| {r['max_abs_diff_logits']:.1e})",
              flush=True)
    if "gru" in phases:
        r = res["gru"] = recurrence_speed(model, INFER_BATCH, TRAIN_BATCH, size, warmup, reps)
        if "note" not in r:
            print(f"  {name} TARM recurrence scan vs nn.GRU: infer {1e3 * r['infer_scan_s']:.0f}"
                  f" vs {1e3 * r['infer_nn_s']:.0f} ms, train fwd+bwd {1e3 * r['train_scan_s']:.0f}"
                  f" vs {1e3 * r['train_nn_s']:.0f} ms (max |diff| {r['max_abs_diff']:.1e})",
                  flush=True)
    if "profile" in phases:
        res["profile"] = profile_step(training_step(model, TRAIN_BATCH, size), profile_steps)
        print(f"  {name} profile (ms/step): " + ", ".join(
            f"{k} {v['ms']:.0f}" for k, v in res["profile"]["groups"].items()), flush=True)
    return res


# --- settings compared step by step ---------------------------------------------------------------


@contextlib.contextmanager
def torch_settings(threads: int | None = None, mkldnn: bool | None = None) -> Iterator[None]:
    """Temporarily set the torch thread count and ``torch.backends.mkldnn.enabled``."""
    prev = torch.get_num_threads(), torch.backends.mkldnn.enabled
    if threads is not None:
        torch.set_num_threads(threads)
    if mkldnn is not None:
        torch.backends.mkldnn.enabled = mkldnn
    try:
        yield
    finally:
        torch.set_num_threads(prev[0])
        torch.backends.mkldnn.enabled = prev[1]


def default_settings() -> dict[str, dict]:
    """The settings :func:`compare_settings` tries: name -> ``channels_last``/``threads``/
    ``mkldnn`` (None: the process default)."""
    n = torch.get_num_threads()
    out = {"default": {}, "channels_last": {"channels_last": True}, "mkldnn_off": {"mkldnn": False}}
    if n > 1:
        out["threads_1"] = {"threads": 1}
        out["threads_1_channels_last"] = {"threads": 1, "channels_last": True}
    return out


def max_rel_diff(ref: torch.Tensor, b: torch.Tensor) -> float:
    """``max|ref - b| / max|ref|`` over the whole tensor (0 for two zero tensors)."""
    ref, b = ref.double(), b.double()
    scale = float(ref.abs().max())
    return float((ref - b).abs().max()) / (scale if scale > 0 else 1.0)


def numerics(model: nn.Module, xi: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor,
             seed: int = 123) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval logits of ``xi`` and the flattened gradients of one training loss on ``(xt, yt)``
    (dropout masks from ``seed``), in the dtype of ``model``."""
    from mans.engine.train import compute_loss

    dtype = next(model.parameters()).dtype
    model.eval()
    with torch.no_grad():
        logits = model(xi.to(dtype))
    model.train()
    torch.manual_seed(seed)
    compute_loss(model(xt.to(dtype)), yt).backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    model.zero_grad(set_to_none=True)
    return logits, grads


def compare_settings(key: str, settings: dict[str, dict], warmup: int, repeats: int,
                     batch_train: int = TRAIN_BATCH, batch_infer: int = INFER_BATCH,
                     size: int | None = None, model_overrides: dict | None = None) -> dict:
    """Train and inference samples/s of one variant under each setting, taking turns step by step
    (so load changes hit all settings alike), and each setting's numerical error: max relative
    difference (:func:`max_rel_diff`) of the eval logits and of one training step's gradients
    (same weights, batch and dropout masks) from the same computation in float64, and from the
    first setting. A setting is as exact as the default when its float64 error is of the same
    size, or below ``grads_sensitivity_1e-6``: how far the float64 gradients themselves move when
    the input is changed by a relative 1e-6 (ReLU masks flip for activations near 0, so the
    gradient of a deep ReLU network is not a smooth function of its input; DenseNet-161 at small
    spatial sizes moves by ~1e-2).
    """
    from mans.engine.train import train_step
    from mans.models import build_model

    name, default_size = VARIANTS[key]
    overrides = dict(model_overrides or {})
    if size is not None:
        overrides["size"] = size
    size = size or default_size
    torch.manual_seed(0)
    base = build_model(name, num_classes=NUM_CLASSES, **{**MODEL_KW.get(name, {}), **overrides})
    g = torch.Generator().manual_seed(1)
    xi = torch.randn(batch_infer, *sample_shape(base, size), generator=g)
    xt = torch.randn(batch_train, *sample_shape(base, size), generator=g)
    yt = torch.randint(0, base.config.num_classes, (batch_train,), generator=g)
    ref64 = copy.deepcopy(base).double()
    ref_logits, ref_grads = numerics(ref64, xi[:8], xt, yt)
    # yardstick: how much the float64 gradients move when the input moves by 1e-6 (relative);
    # ReLU masks flip near 0, so a float32 setting cannot be expected to do better than this
    noise = torch.randn(xt.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    _, moved = numerics(ref64, xi[:8], xt.double() * (1 + 1e-6 * noise), yt)
    sensitivity = max_rel_diff(ref_grads, moved)

    runs = {}
    for sname, s in settings.items():
        m = copy.deepcopy(base)
        if s.get("channels_last"):
            m.stcm.to(memory_format=torch.channels_last)
        knobs = {"threads": s.get("threads"), "mkldnn": s.get("mkldnn")}
        with torch_settings(**knobs):
            logits, grads = numerics(m, xi[:8], xt, yt)
        runs[sname] = {"model": m, "opt": recipe_optimizer(m), "knobs": knobs, "logits": logits,
                       "grads": grads, "train": Counters(), "infer": Counters()}

    for i in range(warmup + repeats):
        for r in runs.values():
            m, timing = r["model"], i >= warmup
            with torch_settings(**r["knobs"]):
                m.train()
                with r["train"].measure() if timing else contextlib.nullcontext():
                    train_step(m, xt, yt, r["opt"])
                m.eval()
                with torch.inference_mode(), (
                        r["infer"].measure() if timing else contextlib.nullcontext()):
                    m(xi)
    first = next(iter(runs.values()))
    out = {}
    for sname, r in runs.items():
        tr, inf = r["train"].summary(), r["infer"].summary()
        out[sname] = {
            "settings": settings[sname],
            "train_samples_per_s": batch_train / tr["median_s"],
            "infer_samples_per_s": batch_infer / inf["median_s"],
            "train_cpu_util": tr["cpu_util"], "infer_cpu_util": inf["cpu_util"],
            "logits_err_vs_float64": max_rel_diff(ref_logits, r["logits"]),
            "grads_err_vs_float64": max_rel_diff(ref_grads, r["grads"]),
            "logits_diff_vs_first": max_rel_diff(first["logits"], r["logits"]),
            "grads_diff_vs_first": max_rel_diff(first["grads"], r["grads"]),
        }
        o = out[sname]
        print(f"  {sname:24s} train {o['train_samples_per_s']:6.1f}  infer "
              f"{o['infer_samples_per_s']:6.1f} samples/s;  error vs float64: logits "
              f"{o['logits_err_vs_float64']:.1e}, grads {o['grads_err_vs_float64']:.1e}",
              flush=True)
    print(f"  (float64 gradients move by {sensitivity:.1e} for a 1e-6 relative input change)",
          flush=True)
    return {"variant": name, "size": size, "warmup": warmup, "repeats": repeats,
            "grads_sensitivity_1e-6": sensitivity, "runs": out}


# --- data path ------------------------------------------------------------------------------------


def build_store(root: Path, subjects: int = 4, replications: int = 2,
                workers: int | None = None) -> dict:
    """``mans synth`` into ``root/raw`` and ``mans prepare ntu60`` into ``root/store``; returns
    the prepare timing (``files``, ``seconds``, ``files_per_s``, ``workers``) and ``store``."""
    from mans.data.prepare import prepare
    from mans.synth import write_synthetic

    raw, store = root / "raw", root / "store"
    t0 = time.perf_counter()
    info = write_synthetic(raw, seed=0, subjects=subjects, replications=replications,
                           progress=False)
    synth_s = time.perf_counter() - t0
    workers = workers or os.cpu_count() or 1
    t0 = time.perf_counter()
    manifest = prepare("ntu60", raw, store, workers=workers, progress=False)
    sec = time.perf_counter() - t0
    return {"store": str(store), "files": manifest["found"], "prepared": manifest["prepared"],
            "workers": workers, "seconds": sec, "files_per_s": manifest["found"] / sec,
            "synth_files": info["files"], "synth_seconds": synth_s}


def loader_speed(store_dir: str | Path, size: int, samples: int, batch: int = TRAIN_BATCH,
                 num_workers: int | None = None) -> dict:
    """Samples/s that the engine's training loader (:func:`mans.engine.data.train_loader`:
    shuffled, ``batch``, ``num_workers`` default ``data.num_workers``) delivers from the store.

    The store's training split is repeated to ``samples`` items (the pages are in the page cache,
    as for a store that fits in memory). ``samples_per_s`` counts the whole epoch including
    starting the workers, as every epoch of ``mans train`` does; ``steady_samples_per_s`` starts
    the clock at the first batch. ``worker_cpu_ms_per_sample``: CPU time of the worker processes
    (``getrusage(RUSAGE_CHILDREN)`` after they exit) -- on a 2-core machine this time is taken
    from the training process.
    """
    from mans.engine.config import DataConfig
    from mans.engine.data import train_loader
    from mans.data.dataset import SkeletonDataset
    from mans.data.pipeline import InputPipeline
    from mans.data.store import PreparedStore

    if num_workers is None:
        num_workers = DataConfig().num_workers
    store = PreparedStore.open(store_dir)
    idx = store.split(store.default_protocol, "train")
    ds = SkeletonDataset(store, np.resize(idx, samples), InputPipeline.for_store(store, size))
    loader = train_loader(ds, batch_size=batch, seed=0, epoch=0, rank=0, world=1,
                          num_workers=num_workers, pin_memory=False)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = resource.getrusage(resource.RUSAGE_SELF)
    n, t0 = 0, time.perf_counter()
    t_first = None
    it = iter(loader)
    for x, _ in it:
        if t_first is None:
            t_first = time.perf_counter()
            n_first = x.shape[0]
        n += x.shape[0]
    t1 = time.perf_counter()
    del it, loader
    gc.collect()
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1 = resource.getrusage(resource.RUSAGE_SELF)
    worker_cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    main_cpu = (s1.ru_utime - s0.ru_utime) + (s1.ru_stime - s0.ru_stime)
    return {"size": size, "batch": batch, "num_workers": num_workers, "samples": n,
            "seconds": t1 - t0, "samples_per_s": n / (t1 - t0),
            "steady_samples_per_s": (n - n_first) / max(t1 - t_first, 1e-9),
            "first_batch_s": t_first - t0,
            "worker_cpu_ms_per_sample": 1e3 * worker_cpu / n,
            "main_cpu_ms_per_sample": 1e3 * main_cpu / n}


def pipeline_speed(store_dir: str | Path, model: nn.Module, steps: int,
                   batch: int = TRAIN_BATCH, num_workers: int | None = None) -> dict:
    """Training samples/s with the engine's loader feeding the engine's step, as in one epoch of
    ``mans train`` (without its evaluation): ``steps`` batches of a shuffled loader over the
    store's training split (repeated to ``steps * batch`` items). ``samples_per_s`` includes
    starting the loader workers; ``median_step_s`` is the median time from one batch to the next
    after the first."""
    from mans.engine.config import DataConfig
    from mans.engine.data import train_loader
    from mans.engine.train import train_step
    from mans.data.dataset import SkeletonDataset
    from mans.data.pipeline import InputPipeline
    from mans.data.store import PreparedStore

    if num_workers is None:
        num_workers = DataConfig().num_workers
    store = PreparedStore.open(store_dir)
    idx = store.split(store.default_protocol, "train")
    pipeline = InputPipeline.for_store(store, model.config.size, input=model.config.input)
    ds = SkeletonDataset(store, np.resize(idx, steps * batch), pipeline, train=True)
    loader = train_loader(ds, batch_size=batch, seed=0, epoch=0, rank=0, world=1,
                          num_workers=num_workers, pin_memory=False)
    opt = recipe_optimizer(model)
    model.train()
    marks = [time.perf_counter()]
    for x, y in loader:
        train_step(model, x, y, opt)
        marks.append(time.perf_counter())
    gaps = np.diff(marks)
    n = len(gaps) * batch
    return {"size": model.config.size, "batch": batch, "num_workers": num_workers, "steps":
            len(gaps), "samples_per_s": n / (marks[-1] - marks[0]),
            "median_step_s": float(np.median(gaps[1:])) if len(gaps) > 1 else float(gaps[0]),
            "steady_samples_per_s": batch / float(np.median(gaps[1:] if len(gaps) > 1 else gaps))}


def bench_data(sizes: list[int], samples: int, subjects: int, replications: int,
               pipelines: dict[str, int] | None = None, channels_last: bool = False) -> dict:
    """Prepare a synthetic store in a temporary folder, measure the loader at each image size and,
    for each variant key in ``pipelines`` (-> steps), the loader feeding training steps."""
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="mans-speed-") as tmp:
        prep = build_store(Path(tmp), subjects, replications)
        print(f"  prepare: {prep['files']} files in {prep['seconds']:.1f} s = "
              f"{prep['files_per_s']:.0f} files/s ({prep['workers']} workers)", flush=True)
        out["loader"] = {}
        for s in sizes:
            r = loader_speed(prep["store"], s, samples)
            out["loader"][f"S{s}"] = r
            print(f"  loader S={s}: {r['samples_per_s']:.0f} samples/s per epoch "
                  f"({r['steady_samples_per_s']:.0f} after the first batch), workers "
                  f"{r['worker_cpu_ms_per_sample']:.2f} CPU ms/sample", flush=True)
        out["pipeline"] = {}
        for key, steps in (pipelines or {}).items():
            model = prepare_model(VARIANTS[key][0], channels_last=channels_last)
            r = pipeline_speed(prep["store"], model, steps)
            out["pipeline"][key] = r
            print(f"  loader + training, {key}: {r['samples_per_s']:.1f} samples/s "
                  f"({r['steady_samples_per_s']:.1f} after the first step)", flush=True)
    del prep["store"]
    out["prepare"] = prep
    return out


# --- environment variables compared (child processes) ---------------------------------------------

# Read once at process start (by glibc's malloc and by libgomp), so they need a fresh process.
ENV_SETS = {
    "default": {},
    "glibc_tunables": {"GLIBC_TUNABLES": GLIBC_TUNABLES},
    "omp_passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "both": {"GLIBC_TUNABLES": GLIBC_TUNABLES, "OMP_WAIT_POLICY": "PASSIVE"},
}


def compare_env(variants: list[str], env_sets: dict[str, dict], rounds: int, quick: bool,
                threads: int | None = None, phases: str = "infer,train") -> dict:
    """The model phases in child processes under each set of environment variables, taking turns
    ``rounds`` times (a busy machine slows all alike). Variables of every set are removed from
    the children's environment first, so ``{}`` means glibc's and libgomp's defaults."""
    managed = {k for env in env_sets.values() for k in env}
    runs: dict[str, list] = {name: [] for name in env_sets}
    for _ in range(rounds):
        for name, extra in env_sets.items():
            env = {k: v for k, v in os.environ.items() if k not in managed} | extra
            with tempfile.TemporaryDirectory(prefix="mans-speed-env-") as tmp:
                out = Path(tmp) / "r.json"
                cmd = [sys.executable, str(Path(__file__).resolve()), "--phases", phases,
                       "--no-data", "--variants", ",".join(variants), "--json", str(out)]
                cmd += ["--quick"] if quick else []
                cmd += ["--threads", str(threads)] if threads else []
                subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
                r = json.loads(out.read_text())
            for k, v in r["variants"].items():
                row = {"variant": k, "load_avg_1min": r["machine"]["load_avg_1min"],
                       "ceiling_gflops": r["ceiling"]["gflops"]}
                for ph in ("infer", "train"):
                    if ph in v:
                        t = v[ph]
                        row[ph] = {"samples_per_s": t["samples_per_s"], "ratio": t["ratio"],
                                   "best_ratio": t["best_ratio"],
                                   "minor_faults_per_step": t["minor_faults_per_call"],
                                   "system_share": t["system_share"],
                                   "cpu_util": t["cpu_util"], "peak_rss_mb": t["peak_rss_mb"]}
                runs[name].append(row)
                print(f"  {name:15s} {k}: " + "; ".join(
                    f"{ph} {row[ph]['samples_per_s']:.1f} samples/s, ratio "
                    f"{row[ph]['ratio']:.2f}, minor faults/step "
                    f"{row[ph]['minor_faults_per_step']:.0f}, system "
                    f"{row[ph]['system_share']:.1%}" for ph in ("infer", "train") if ph in row),
                    flush=True)
    return {"env_sets": env_sets, "runs": runs}


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--variants", default="resnet,densenet161",
                    help=f"comma-separated, of {sorted(VARIANTS)}")
    ap.add_argument("--phases", default=None,
                    help="model phases of every variant, of infer, train, tarm, profile, onnx "
                         "(torch vs onnxruntime inference), gru (TARM recurrence scan vs "
                         "nn.GRU) "
                         f"(default: {DEFAULT_PHASES})")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller data set")
    ap.add_argument("--repeats", type=int, help="timed repeats per phase (overrides)")
    ap.add_argument("--gemm-n", type=int, default=GEMM_N,
                    help="ceiling GEMM size (smaller: tests, or runs of phases that do not use "
                         "the ceiling)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--channels-last", action="store_true", help="NHWC weights in the STCM")
    ap.add_argument("--no-mkldnn", action="store_true", help="torch.backends.mkldnn.enabled=False")
    ap.add_argument("--no-data", action="store_true", help="skip the prepare/loader measurements")
    ap.add_argument("--compare-settings", action="store_true",
                    help="also compare channels_last / threads / oneDNN step by step")
    ap.add_argument("--compare-env", action="store_true",
                    help="also run the model phases in child processes under GLIBC_TUNABLES "
                         "and OMP_WAIT_POLICY=PASSIVE (see ENV_SETS)")
    ap.add_argument("--env-sets", default=",".join(ENV_SETS),
                    help=f"which sets --compare-env runs, of {list(ENV_SETS)}")
    ap.add_argument("--env-phases", default="infer,train", help="model phases --compare-env runs")
    args = ap.parse_args(argv)

    keys = [v.strip() for v in args.variants.split(",") if v.strip()]
    for k in keys:
        if k not in VARIANTS:
            ap.error(f"unknown variant {k!r}; expected some of {sorted(VARIANTS)}")
    phases = {k: {p.strip() for p in (args.phases if args.phases is not None
                                      else DEFAULT_PHASES[k]).split(",") if p.strip()}
              for k in keys}
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False

    t_start = time.perf_counter()
    result: dict = {"machine": machine_info(), "settings": {
        "variants": keys, "phases": {k: sorted(v) for k, v in phases.items()},
        "quick": args.quick,
        "channels_last": args.channels_last, "mkldnn": not args.no_mkldnn,
        "threads": torch.get_num_threads(), "infer_batch": INFER_BATCH,
        "train_batch": TRAIN_BATCH, "train_flops": "3 x forward"}}
    m = result["machine"]
    print(f"{m['cpu_model']}, {m['cpus_usable']} cpus, torch {m['torch']}, {m['threads']} threads, "
          f"load {m['load_avg_1min']:.1f}", flush=True)

    ceiling = measure_ceiling(args.gemm_n, repeats=3 if args.quick else 7)
    result["ceiling"] = ceiling
    print("ceiling (GFLOP/s): " + ", ".join(f"{k} {ceiling[k + '_gflops']:.0f}"
                                            for k in GEMM_KINDS), flush=True)

    result["variants"] = {}
    table = QUICK_REPEATS if args.quick else REPEATS
    for k in keys:
        warmup, reps = table[k]
        reps = args.repeats or reps
        result["variants"][k] = bench_variant(k, repeats=(warmup, reps), phases=phases[k],
                                              channels_last=args.channels_last,
                                              gemm_kind=ceiling["kind"], gemm_n=args.gemm_n,
                                              profile_steps=PROFILE_STEPS[k])

    if not args.no_data:
        sizes = sorted({VARIANTS[k][1] for k in keys})
        pipelines = {k: PIPELINE_STEPS[k] // (2 if args.quick else 1) for k in keys
                     if "train" in phases[k]}
        result["data"] = bench_data(sizes, samples=1024 if args.quick else 4096,
                                    subjects=2 if args.quick else 4,
                                    replications=1 if args.quick else 2, pipelines=pipelines,
                                    channels_last=args.channels_last)
        for k in keys:
            v = result["variants"][k]
            if "train" in v:
                ld = result["data"]["loader"][f"S{VARIANTS[k][1]}"]["samples_per_s"]
                v["loader_over_train"] = ld / v["train"]["samples_per_s"]
                v["pipeline_over_train"] = (result["data"]["pipeline"][k]["samples_per_s"]
                                            / v["train"]["samples_per_s"])

    if args.compare_settings:
        result["compare_settings"] = {}
        for k in keys:
            w, r = table[k]
            print(f"compare settings, {k}:", flush=True)
            result["compare_settings"][k] = compare_settings(k, default_settings(), w,
                                                             args.repeats or r)
    if args.compare_env:
        print("compare environment variables:", flush=True)
        names = [n.strip() for n in args.env_sets.split(",") if n.strip()]
        for n in names:
            if n not in ENV_SETS:
                ap.error(f"unknown --env-sets entry {n!r}; expected some of {list(ENV_SETS)}")
        result["compare_env"] = compare_env(keys, {n: ENV_SETS[n] for n in names},
                                            1 if args.quick else 2, args.quick, args.threads,
                                            args.env_phases)

    result["machine"]["load_avg_1min_end"] = os.getloadavg()[0]
    result["seconds"] = time.perf_counter() - t_start
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
