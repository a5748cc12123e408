"""Test-time mirror averaging: the logits of an image and of its left <-> right mirror, averaged.

The mirror of a model image ``(B, C, S, S)`` (rows: frames, columns: joints centred in ``S``
columns) permutes the joint columns by the layout's left/right pairs and negates channel 0, the
lateral axis (:func:`mans.data.augment.mirror_sequence` on a stored sequence). Mirroring is linear and
maps a joint's parent to its partner's parent, so the same column permutation mirrors every input
stream (joint, bone, motion, bone motion) without recomputing it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..data.transforms import centre_offset


def image_mirror_columns(columns: np.ndarray, size: int) -> np.ndarray:
    """``(S,)`` int64 permutation of the image columns for a ``(J,)`` permutation of the joint
    columns (centred as :func:`mans.data.transforms.pad_joints` centres them)."""
    j = len(columns)
    perm = np.arange(size, dtype=np.int64)
    j0 = centre_offset(j, size)
    perm[j0:j0 + j] = j0 + np.asarray(columns, dtype=np.int64)
    return perm


def mirror_images(x: Tensor, perm: Tensor) -> Tensor:
    """``x (B, C, S, S)`` mirrored: columns permuted by ``perm (S,)``, channel 0 negated."""
    out = x.index_select(3, perm)  # (B, C, S, S)
    sign = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
    sign[0] = -1
    return out * sign[None, :, None, None]


class MirrorAverage(nn.Module):
    """Wraps a network ``net`` (``net(x) -> logits (B, K)``); forward returns the mean of the
    logits of ``x`` and of its mirror. ``return_attention=True`` returns the attention of ``x``
    itself (the un-mirrored input), so per-frame outputs keep their meaning."""

    def __init__(self, net: nn.Module, image_columns: np.ndarray):
        super().__init__()
        self.net = net
        self.register_buffer("perm", torch.as_tensor(image_columns, dtype=torch.int64),
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
