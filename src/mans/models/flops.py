"""Parameter and FLOP counts of a model.

Convention: one multiply-add is 2 FLOPs. Counted are the matrix products of the forward pass as
PyTorch executes them (``torch.utils.flop_counter.FlopCounterMode``: convolutions, ``mm``/``addmm``
of the linears, ``bmm``/``baddbmm`` of the batched TARM linears, attention MLP and GRU steps).
Not counted: bias additions, batch norm, activations, pooling, gate arithmetic of the GRU and
other element-wise work -- a few percent of the total for these networks.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (buffers such as BN running statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_flops(model: nn.Module, input_shape: tuple[int, ...], batch: int = 1) -> dict[str, int]:
    """Forward FLOPs per sample, total and per top-level submodule.

    Args:
        model: the network; run in eval mode (no dropout) and restored to its previous mode.
        input_shape: one sample's shape, e.g. ``(3, 50, 50)``.
        batch: batch size of the measuring pass (counts are divided by it).

    Returns:
        ``{"total": flops, "<child name>": flops, ...}`` per sample.
    """
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters())
        x = torch.zeros(batch, *input_shape, dtype=p.dtype, device=p.device)
        counter = FlopCounterMode(display=False)  # tracks modules itself
        with counter:
            model(x)
    finally:
        model.train(was_training)
    counts = counter.get_flop_counts()
    root = type(model).__name__
    out = {"total": counter.get_total_flops() // batch}
    for name, _ in model.named_children():
        out[name] = sum(counts.get(f"{root}.{name}", {}).values()) // batch
    return out


def model_summary(model: nn.Module, input_shape: tuple[int, ...]) -> dict:
    """Parameters (total and per top-level submodule) and forward GFLOPs per sample."""
    flops = count_flops(model, input_shape)
    return {
        "params": count_parameters(model),
        "params_by_module": {n: count_parameters(m) for n, m in model.named_children()},
        "gflops": flops["total"] / 1e9,
        "gflops_by_module": {k: v / 1e9 for k, v in flops.items() if k != "total"},
    }
