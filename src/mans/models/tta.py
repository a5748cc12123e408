"""Test-time mirror averaging: the logits of an input and of its left <-> right mirror, averaged.

The mirror of a model input ``(B, C, S, W)`` (rows: frames, columns: joints; ``W = S`` for the
image, with the joints centred in it) permutes the joint columns by the layout's left/right pairs
and negates channel 0, the lateral axis (:func:`mans.data.augment.mirror_sequence` on a stored
sequence). The permutation of the ``W`` columns is the input pipeline's
(:meth:`mans.data.pipeline.InputPipeline.mirror_columns`); mirroring is linear and maps a joint's
parent to its partner's parent, so the one permutation mirrors every input stream (joint, bone,
motion, bone motion) without recomputing it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def mirror_images(x: Tensor, perm: Tensor) -> Tensor:
    """``x (B, C, S, W)`` mirrored: columns permuted by ``perm (W,)``, channel 0 negated."""
    out = x.index_select(3, perm)  # (B, C, S, W)
    sign = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
    sign[0] = -1
    return out * sign[None, :, None, None]


class MirrorAverage(nn.Module):
    """Wraps a network ``net`` (``net(x) -> logits (B, K)``); forward returns the mean of the
    logits of ``x`` and of its mirror. ``return_attention=True`` returns the attention of ``x``
    itself (the un-mirrored input), so per-frame outputs keep their meaning."""

    def __init__(self, net: nn.Module, columns: np.ndarray):
        super().__init__()
        self.net = net
        self.register_buffer("perm", torch.as_tensor(columns, dtype=torch.int64),
                             persistent=False)

    @property
    def config(self):
        return self.net.config

    def forward(self, x: Tensor, return_attention: bool = False):
        xm = mirror_images(x, self.perm)
        if return_attention:
            logits, att = self.net(x, return_attention=True)
            return (logits + self.net(xm)) / 2, att
        both = self.net(torch.cat([x, xm]))  # (2B, K): one pass, BatchNorm in eval mode
        return (both[: x.shape[0]] + both[x.shape[0]:]) / 2
