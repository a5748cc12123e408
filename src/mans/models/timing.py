"""Wall-clock timing of training and inference steps, for the numbers in docs/model.md."""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


def time_steps(models: dict[str, nn.Module], input_shape: tuple[int, ...], batch_size: int = 32,
               steps: int = 10, warmup: int = 2, num_classes: int | None = None,
               seed: int = 0) -> dict[str, dict[str, dict[str, float]]]:
    """Time SGD training steps and no-grad forward passes of several models, interleaved.

    The models take turns step by step, so a busy machine slows all of them alike; report the
    minimum (least disturbed) next to the median.

    Args:
        models: name -> model returning logits ``(B, K)``.
        input_shape: one sample's shape, e.g. ``(3, 50, 50)``.
        batch_size: ``B``.
        steps: timed steps per model, after ``warmup`` untimed ones.
        num_classes: ``K`` of the random labels (default: from the first model's output).
        seed: for the random inputs and labels.

    Returns:
        ``{name: {"forward"|"backward"|"step"|"eval_forward": {"min": ms, "median": ms}}}``;
        ``step`` = forward + backward + optimizer update in training mode; ``eval_forward`` =
        one forward in eval mode without gradients.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, *input_shape, generator=g)
    if num_classes is None:
        with torch.no_grad():
            num_classes = next(iter(models.values())).eval()(x[:1]).shape[-1]
    y = torch.randint(0, num_classes, (batch_size,), generator=g)
    opts = {k: torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9) for k, m in models.items()}
    times: dict[str, dict[str, list[float]]] = {
        k: {"forward": [], "backward": [], "step": [], "eval_forward": []} for k in models}
    for i in range(warmup + steps):
        for name, model in models.items():
            model.train()
            t0 = time.perf_counter()
            loss = F.cross_entropy(model(x), y)
            t1 = time.perf_counter()
            opts[name].zero_grad(set_to_none=True)
            loss.backward()
            t2 = time.perf_counter()
            opts[name].step()
            t3 = time.perf_counter()
            model.eval()
            with torch.no_grad():
                t4 = time.perf_counter()
                model(x)
                t5 = time.perf_counter()
            if i >= warmup:
                rec = times[name]
                rec["forward"].append(t1 - t0)
                rec["backward"].append(t2 - t1)
                rec["step"].append(t3 - t0)
                rec["eval_forward"].append(t5 - t4)
    return {name: {k: {"min": 1e3 * min(v), "median": 1e3 * statistics.median(v)}
                   for k, v in rec.items()} for name, rec in times.items()}
