"""Skeleton-aware joint mixing: a ``V x V`` mixing over the joints of one body, initialised from
the layout's bones and refined per channel group during training (``model.joint_mixing``).

CTR-GCN refines a shared skeleton topology per channel; this is the static, cheap form of that
idea. With ``A`` the bone adjacency of the layout's parents (``A[i, p(i)] = A[p(i), i] = 1``),
``I`` self-loops and ``D`` the degrees of ``A + I``::

    A_hat  = D^-1/2 (A + I) D^-1/2                      (V, V)  symmetric, normalised (buffer)
    M_g    = A_hat + R_g,  R_g learned, 0 at init       (G, V, V) one per channel group
    y[n, f, t, w] = sum_v x[n, f, t, v] M_g(f)[v, w]    (N, F, T, V), g(f) = f // (F / G)

so at initialisation every channel takes the normalised mean of a joint and its skeleton
neighbours. In the co-occurrence STCM it runs per body slot (the body axis is folded into the
batch before it) on the ``F = w/2`` per-joint features, before the joint axis is transposed into
channels: the convolutions after it then see joints already mixed along the skeleton, not only
by the learned all-joint weights of ``cooc1``. Cost: ``2 F T V^2`` FLOPs per slot.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError


def normalised_adjacency(parents) -> Tensor:
    """``D^-1/2 (A + I) D^-1/2`` ``(V, V)`` float32 of the tree given by ``parents`` (``-1``:
    root)."""
    v = len(parents)
    a = torch.eye(v)
    for j, p in enumerate(parents):
        if p >= 0:
            a[j, p] = a[p, j] = 1.0
    d = a.sum(dim=1).rsqrt()  # (V,)
    return d[:, None] * a * d[None, :]


class JointMixing(nn.Module):
    """``(N, F, T, V) -> (N, F, T, V)``: the mixing of the module docstring.

    Args:
        parents: ``(V,)`` parent joint of each joint of one body (the layout's).
        channels: ``F``, feature channels of the input.
        groups: ``G``, channel groups with their own refinement (must divide ``F``).
    """

    def __init__(self, parents, channels: int, groups: int = 4) -> None:
        super().__init__()
        if groups < 1 or channels % groups:
            raise ConfigError(f"model.mixing_groups: {groups} groups do not divide the "
                              f"{channels} per-joint feature channels")
        self.groups = groups
        # from the config (the layout's parents), not the weights: not saved in a state_dict
        self.register_buffer("adjacency", normalised_adjacency(parents), persistent=False)
        v = self.adjacency.shape[0]
        self.refine = nn.Parameter(torch.zeros(groups, v, v))  # R_g, the learned residual

    def extra_repr(self) -> str:
        return f"joints={self.adjacency.shape[0]}, groups={self.groups}"

    def forward(self, x: Tensor) -> Tensor:
        N, F, T, V = x.shape
        m = self.adjacency + self.refine  # (G, V, V)
        xg = x.reshape(N, self.groups, F // self.groups, T, V)  # (N, G, F/G, T, V)
        y = torch.einsum("ngftv,gvw->ngftw", xg, m.to(x.dtype))  # (N, G, F/G, T, V)
        return y.reshape(N, F, T, V)
