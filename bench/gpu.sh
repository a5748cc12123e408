#!/usr/bin/env bash
# MANs speed on one CUDA GPU, prepared for a lent H200 and meant to run unattended in < 8 min.
# NOT YET RUN ON A GPU (see docs/performance.md); `--dry-run` exercises it on the CPU with tiny
# sizes, which is all that has been checked so far.
#
# For each variant (ResNet S=50, DenseNet-161 S=224, 60 classes), with bf16 autocast,
# channels_last CNN weights, torch.compile of the CNN (the TARM's GRU loop stays eager) and all
# data held on the GPU:
#   - forward GFLOPs/sample (mans.models.count_flops),
#   - inference samples/s (eval, inference_mode) and training samples/s (the engine's
#     train_step: bf16 autocast, float32 loss, finiteness check, SGD Nesterov as the recipe),
#   - the achieved rate as a fraction of a bf16 GEMM ceiling measured in the same run
#     (8192^3 torch.matmul; training counted as 3x the forward FLOPs),
#   - the time of one NTU-60-sized training epoch: 40,091 random samples already on the GPU,
#     shuffled, batches of 128 (the recipe's batch; the partial last batch is dropped so the
#     compiled graph keeps one shape -- the time is also scaled to all 40,091),
#   - peak GPU memory per phase.
# Results: $OUT/gpu-speed.json when $OUT is set, else ./gpu-speed.json; written after every
# stage, so a run cut short still leaves what it measured.
#
#   bash bench/gpu.sh              # on the GPU machine
#   bash bench/gpu.sh --dry-run    # CPU, tiny sizes, no compile: checks the script itself
#
# Training mode (bench/gpu_train.py): train and evaluate a config from a prepared store, bf16,
# a checkpoint every epoch, resumable across calls (the run folder is $OUT/run):
#   bash bench/gpu.sh --train STORE [--config ntu60-xsub-cooccurrence] [--resume-from RUN]
#   bash bench/gpu.sh --train STORE --dry-run   # CPU, tiny network, 2 epochs
# Results: $OUT/gpu-train.json; knobs MANS_GPU_TRAIN_S=480 (training time of this call),
# MANS_GPU_MAX_EPOCHS, MANS_GPU_EVAL=1, MANS_GPU_WORKERS.
#
#   - the TARM alone on both recurrences, the Python loop over frames ("scan") and
#     torch.nn.GRU ("nn", cuDNN): forward (eval) and forward + backward (train), float32.
# Knobs (environment): MANS_GPU_COMPILE=0 (eager), MANS_GPU_VARIANTS=resnet,densenet161,
# MANS_GPU_RECURRENCE=auto (TARM recurrence of the whole-model phases: auto = nn on CUDA; scan),
# MANS_GPU_DEADLINE_S=420 (stages that would start later are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if [[ "${1:-}" == "--train" ]]; then
    shift
    budget="${MANS_GPU_TRAIN_S:-480}"
    # the budget plus the final evaluation and start-up; the run folder survives a cut
    exec timeout -k 10 "$(( ${budget%.*} + 100 ))" python bench/gpu_train.py "$@"
fi
RESULT="${OUT:-.}/gpu-speed.json"
mkdir -p "$(dirname "$RESULT")"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total \
    --format=csv,noheader || true
# The Python part gets 460 s; everything it measured is already in $RESULT if it is stopped.
timeout -k 10 460 python - "$RESULT" "$@" <<'PY'
import datetime as dt
import json
import math
import os
import platform
import sys
import time
import traceback

import torch
import torch.nn.functional as F

result_path = sys.argv[1]
dry = "--dry-run" in sys.argv[2:]
t_start = time.perf_counter()
deadline = float(os.environ.get("MANS_GPU_DEADLINE_S", "420"))
device = torch.device("cpu" if dry else "cuda")
if not dry and not torch.cuda.is_available():
    sys.exit("bench/gpu.sh: torch sees no CUDA device (use --dry-run to check the script on CPU)")
use_compile = os.environ.get("MANS_GPU_COMPILE", "0" if dry else "1") == "1"
variants = os.environ.get("MANS_GPU_VARIANTS", "resnet,densenet161").split(",")
recurrence = os.environ.get("MANS_GPU_RECURRENCE", "auto")
EPOCH = 40_091  # NTU-60 cross-subject training samples
TRAIN_B, INFER_B = 128, 256
REPS = {"infer": 20, "train": 30, "warmup": 3}
if dry:
    EPOCH, TRAIN_B, INFER_B = 6, 2, 2
    REPS = {"infer": 1, "train": 1, "warmup": 1}
SIZES = {"resnet": ("mans_resnet", 50), "densenet161": ("mans_densenet161", 224)}

from mans.models import build_model, count_flops  # noqa: E402

try:  # the engine's own step; an inline copy if the engine's imports (tqdm, yaml) are missing
    from mans.engine.train import train_step
    step_source = "mans.engine.train.train_step"
except Exception as e:  # noqa: BLE001
    step_source = f"inline copy of train_step (engine import failed: {type(e).__name__}: {e})"

    def train_step(model, x, y, optimizer, *, amp_dtype=None, **_):
        with torch.autocast(device_type=x.device.type, dtype=amp_dtype or torch.float32,
                            enabled=amp_dtype is not None):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        value = float(loss.detach().item())
        if not math.isfinite(value):
            raise RuntimeError(f"training loss became {value}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return value, int((logits.detach().argmax(dim=1) == y).sum().item())

result = {
    "status": "running", "dry_run": dry, "step": step_source, "compile": use_compile,
    "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    "torch": torch.__version__, "python": platform.python_version(),
    "device": (torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu (dry run)"),
    "train_batch": TRAIN_B, "infer_batch": INFER_B, "epoch_samples": EPOCH,
    "amp": "bf16 autocast", "channels_last": True, "variants": {}, "errors": [],
}
if device.type == "cuda":
    p = torch.cuda.get_device_properties(0)
    result.update(gpu_memory_gb=p.total_memory / 2**30, cuda=torch.version.cuda,
                  sms=p.multi_processor_count)
    torch.backends.cudnn.benchmark = True


def save(status="running"):
    result["status"] = status
    result["seconds"] = time.perf_counter() - t_start
    with open(result_path, "w") as f:
        json.dump(result, f, indent=2)


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, warmup, repeats):
    """Median wall seconds of ``repeats`` calls after ``warmup`` (synchronised)."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def peak_reset():
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_gb():
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None


def left():
    return deadline - (time.perf_counter() - t_start)


def first_call(model, fn, r, what):
    """Run ``fn`` once (this compiles); if compiling fails, fall back to the eager CNN and note
    why, so the variant is still measured."""
    t0 = time.perf_counter()
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        if not hasattr(model.stcm, "_orig_mod"):
            raise
        traceback.print_exc()
        r.setdefault("compile_errors", []).append(f"{what}: {type(e).__name__}: {e}"[:500])
        model.stcm = model.stcm._orig_mod  # eager from here on
        t0 = time.perf_counter()
        fn()
    sync()
    r[f"{what}_first_call_s"] = time.perf_counter() - t0


# --- the ceiling: a bf16 GEMM ------------------------------------------------------------------
n = 512 if dry else 8192
a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
s = timed(lambda: torch.matmul(a, b), 3, REPS["infer"])
result["ceiling"] = {"kind": f"bf16 matmul {n}^3", "tflops": 2 * n**3 / s / 1e12}
del a, b
print(f"bf16 GEMM ceiling: {result['ceiling']['tflops']:.1f} TFLOP/s", flush=True)
save()


def bench(key):
    name, size = SIZES[key]
    r = result["variants"][key] = {"model": name, "size": size}
    torch.manual_seed(0)
    model = build_model(name, num_classes=60).to(device)
    r["gflops_per_sample"] = count_flops(model, (3, size, size))["total"] / 1e9
    model.stcm.to(memory_format=torch.channels_last)
    model.tarm.recurrence = recurrence
    r["recurrence"] = recurrence
    if use_compile:
        model.stcm = torch.compile(model.stcm)
        r["compile"] = "stcm (torch.compile default mode); TARM eager"
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                          weight_decay=1e-4)
    # the data, held on the GPU: one epoch of random samples and labels
    g = torch.Generator(device=device).manual_seed(0)
    data = torch.randn(EPOCH, 3, size, size, device=device, generator=g)  # (N, 3, S, S) float32
    labels = torch.randint(0, 60, (EPOCH,), device=device, generator=g)
    r["data_gb"] = data.numel() * data.element_size() / 2**30  # included in the peaks below
    ceiling = result["ceiling"]["tflops"] * 1e3  # GFLOP/s

    # inference: eval, inference_mode, bf16 autocast
    xi = data[:INFER_B]

    # the TARM alone on both recurrences (float32: the recurrence runs in float32 anyway)
    tarm, xr = model.tarm, data[:TRAIN_B]
    r["tarm_recurrence"] = {"batch": TRAIN_B}
    for rec in ("scan", "nn"):
        tarm.recurrence = rec

        def tarm_infer():
            tarm.eval()
            with torch.inference_mode():
                tarm(xr)

        def tarm_train():
            tarm.train()
            y, _ = tarm(xr)
            y.sum().backward()
            for p in tarm.parameters():
                p.grad = None

        r["tarm_recurrence"][rec] = {"infer_s": timed(tarm_infer, 1, REPS["train"]),
                                     "train_s": timed(tarm_train, 1, REPS["train"])}
    tarm.recurrence = recurrence
    tr = r["tarm_recurrence"]
    print(f"{name} TARM batch {TRAIN_B}, scan vs nn.GRU: forward {1e3 * tr['scan']['infer_s']:.1f} "
          f"vs {1e3 * tr['nn']['infer_s']:.1f} ms, forward+backward "
          f"{1e3 * tr['scan']['train_s']:.1f} vs {1e3 * tr['nn']['train_s']:.1f} ms", flush=True)
    save()

    def infer():
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
            model(xi)

    model.eval()
    first_call(model, infer, r, "infer")  # compiles the eval graph
    peak_reset()
    s = timed(infer, REPS["warmup"], REPS["infer"])
    r["infer"] = {"batch": INFER_B, "samples_per_s": INFER_B / s, "peak_gb": peak_gb()}
    r["infer_ratio"] = r["gflops_per_sample"] * INFER_B / s / ceiling
    print(f"{name} infer: {INFER_B / s:.0f} samples/s = {r['infer_ratio']:.2f} of the bf16 "
          f"ceiling (first call {r['infer_first_call_s']:.0f} s)", flush=True)
    save()

    # training: the engine's step under bf16 autocast
    model.train()
    xt, yt = data[:TRAIN_B], labels[:TRAIN_B]
    step = lambda: train_step(model, xt, yt, opt, amp_dtype=torch.bfloat16)  # noqa: E731
    first_call(model, step, r, "train")  # compiles the training graphs
    peak_reset()
    s = timed(step, REPS["warmup"], REPS["train"])
    r["train"] = {"batch": TRAIN_B, "samples_per_s": TRAIN_B / s, "peak_gb": peak_gb()}
    r["train_ratio"] = 3 * r["gflops_per_sample"] * TRAIN_B / s / ceiling
    print(f"{name} train: {TRAIN_B / s:.0f} samples/s = {r['train_ratio']:.2f} of the bf16 "
          f"ceiling (first call {r['train_first_call_s']:.0f} s)", flush=True)
    save()

    # one epoch over the data on the GPU, shuffled, full batches only
    if left() < 30:
        r["epoch"] = {"skipped": f"deadline ({left():.0f} s left)"}
        return
    perm = torch.randperm(EPOCH, device=device, generator=g)
    steps = EPOCH // TRAIN_B
    sync()
    t0 = time.perf_counter()
    for k in range(steps):
        idx = perm[k * TRAIN_B:(k + 1) * TRAIN_B]
        train_step(model, data[idx], labels[idx], opt, amp_dtype=torch.bfloat16)
        if k % 20 == 19 and time.perf_counter() - t_start > deadline + 20:
            r["epoch"] = {"skipped": f"deadline, after {k + 1} of {steps} steps"}
            return
    sync()
    sec = time.perf_counter() - t0
    r["epoch"] = {"samples": steps * TRAIN_B, "steps": steps, "seconds": sec,
                  "seconds_scaled_to_full_epoch": sec * EPOCH / (steps * TRAIN_B),
                  "samples_per_s": steps * TRAIN_B / sec}
    print(f"{name} epoch of {EPOCH} samples: {r['epoch']['seconds_scaled_to_full_epoch']:.1f} s",
          flush=True)
    save()


for key in variants:
    if left() < 60:
        result["errors"].append(f"{key}: skipped, {left():.0f} s before the deadline")
        continue
    try:
        bench(key)
    except Exception as e:  # noqa: BLE001  -- keep going: the other variant may still run
        traceback.print_exc()
        result["errors"].append(f"{key}: {type(e).__name__}: {e}")
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    save()
save("done")
print(json.dumps(result, indent=2))
PY
echo "results: $RESULT"
