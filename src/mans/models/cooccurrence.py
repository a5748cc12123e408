"""Co-occurrence STCM: an HCN-style CNN (Li et al., IJCAI 2018) that treats joints as channels.

It classifies the TARM's output taken as a *sequence* ``x (B, C, T, J)``: ``T`` frames by
``J = M * V`` joint columns (``M`` body slots side by side, ``V`` joints each), not padded to a
square image. Every body slot runs through the same weights::

    x (B, C, T, M*V) -> per slot (B*M, C, T, V)        position input
    m = x[:, :, t + 1] - x[:, :, t] (last frame 0)     motion input, same shape
    each input, its own branch:
      point    1x1 conv  C -> w         (B*M, w, T, V)       per joint and frame
      temporal kx1 conv  w -> w/2       (B*M, w/2, T, V)     per joint, over time
      [joint mixing V x V over joints, optional: mans.models.joint_mixing]
      transpose joint axis into channels (B*M, V, T, w/2)   joint j's features in channel j
      cooc1    3x3 conv  V -> w, pool 2  (B*M, w, T/2, w/4)  sees all joints at once
      cooc2    3x3 conv  w -> 2w, pool 2 (B*M, 2w, T/4, w/8)
    concat both branches                (B*M, 4w, T/4, w/8)
    fuse1    3x3 conv 4w -> 2w, pool 2  (B*M, 2w, T/8, w/16)
    fuse2    3x3 conv 2w -> 4w          (B*M, 4w, T/8, w/16)
    max over the M body slots           (B, 4w, T/8, w/16)
    global average pool, dropout        (B, 4w)
    linear                              (B, K)

Every convolution is followed by batch norm and ReLU (HCN has none; with them the small network
fits small data sets). Pools round up (``ceil_mode``), so any ``T >= 1`` works. The network is
independent of ``T`` (global pooling); ``V`` fixes the channels of ``cooc1``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError


def joints_to_channels(x: Tensor) -> Tensor:
    """``(N, F, T, V)`` -> ``(N, V, T, F)``: joint ``j``'s features (all ``F`` of them, per frame)
    become channel ``j``, so that a convolution over (time, features) sees every joint."""
    return x.permute(0, 3, 2, 1)


def split_bodies(x: Tensor, bodies: int) -> Tensor:
    """``(B, C, T, M*V)`` (slot ``b``'s joint ``v`` in column ``b*V + v``) -> ``(B*M, C, T, V)``,
    slot-major within each sample (row ``b_i * M + m``)."""
    B, C, T, J = x.shape
    V = J // bodies
    x = x.reshape(B, C, T, bodies, V).permute(0, 3, 1, 2, 4)  # (B, M, C, T, V)
    return x.reshape(B * bodies, C, T, V)


def frame_motion(x: Tensor) -> Tensor:
    """``(N, C, T, V)`` -> forward frame differences ``x[:, :, t + 1] - x[:, :, t]``, the last
    frame 0: ``(N, C, T, V)``."""
    d = x[:, :, 1:] - x[:, :, :-1]  # (N, C, T-1, V)
    return torch.cat([d, torch.zeros_like(x[:, :, :1])], dim=2)


def _conv(cin: int, cout: int, kernel: tuple[int, int], pool: bool = False) -> nn.Sequential:
    """conv (same padding, no bias) -> batch norm -> ReLU [-> 2x2 max pool, rounding up]."""
    pad = (kernel[0] // 2, kernel[1] // 2)
    layers = [nn.Conv2d(cin, cout, kernel, padding=pad, bias=False), nn.BatchNorm2d(cout),
              nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2, ceil_mode=True))
    return nn.Sequential(*layers)


class Branch(nn.Module):
    """One input branch (position or motion): point and temporal convolutions per joint, the
    joint axis into channels, two co-occurrence convolutions. ``(N, C, T, V) -> (N, 2w, T/4,
    w/8)``."""

    def __init__(self, in_channels: int, joints: int, width: int, temporal_kernel: int,
                 mixing: nn.Module | None = None) -> None:
        super().__init__()
        self.point = _conv(in_channels, width, (1, 1))
        self.temporal = _conv(width, width // 2, (temporal_kernel, 1))
        self.mixing = mixing  # V x V over joints (before the transposition), or None
        self.cooc1 = _conv(joints, width, (3, 3), pool=True)
        self.cooc2 = _conv(width, 2 * width, (3, 3), pool=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.temporal(self.point(x))  # (N, w/2, T, V)
        if self.mixing is not None:
            x = self.mixing(x)  # (N, w/2, T, V)
        x = joints_to_channels(x)  # (N, V, T, w/2)
        return self.cooc2(self.cooc1(x))  # (N, 2w, T/4, w/8)


class CooccurrenceSTCM(nn.Module):
    """The co-occurrence STCM (module docstring).

    Args:
        num_classes: ``K``.
        in_channels: ``C``, coordinate channels (3; 2 for 2-D data).
        joints: ``J = bodies * V``, joint columns of the input.
        bodies: ``M``, body slots (shared weights, max over slots).
        width: ``w``, base width (a multiple of 16; 32 by default).
        dropout: before the classifier (training only).
        temporal_kernel: ``k`` of the per-joint temporal convolution (odd).
        mixing: a factory ``() -> nn.Module`` of a joint-mixing layer ``(N, F, T, V) -> same``
            (:class:`~mans.models.joint_mixing.JointMixing`), one per branch; None: no mixing.
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, joints: int, bodies: int = 1,
                 width: int = 32, dropout: float = 0.2, temporal_kernel: int = 3,
                 mixing=None) -> None:
        super().__init__()
        if joints % bodies:
            raise ConfigError(f"model.joints: {joints} joint columns are not a whole number of "
                              f"{bodies} body slots (model.bodies)")
        if width % 16 or width < 16:
            raise ConfigError(f"model.cooc_width: expected a positive multiple of 16, got {width}")
        self.bodies, self.joints = bodies, joints // bodies
        V, w = self.joints, width
        self.position = Branch(in_channels, V, w, temporal_kernel, mixing() if mixing else None)
        self.motion = Branch(in_channels, V, w, temporal_kernel, mixing() if mixing else None)
        self.fuse1 = _conv(4 * w, 2 * w, (3, 3), pool=True)
        self.fuse2 = _conv(2 * w, 4 * w, (3, 3))
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """``x (B, C, T, J)`` -> logits ``(B, K)``."""
        B = x.shape[0]
        x = split_bodies(x, self.bodies)  # (B*M, C, T, V)
        p = self.position(x)  # (B*M, 2w, T/4, w/8)
        m = self.motion(frame_motion(x))  # (B*M, 2w, T/4, w/8)
        h = self.fuse2(self.fuse1(torch.cat([p, m], dim=1)))  # (B*M, 4w, T/8, w/16)
        h = h.reshape(B, self.bodies, *h.shape[1:]).amax(dim=1)  # (B, 4w, T/8, w/16)
        h = h.mean(dim=(2, 3))  # (B, 4w)
        return self.fc(self.drop(h))  # (B, K)
