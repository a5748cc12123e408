"""Spatio-temporal convolution module (STCM), ResNet variant of the authors' ``MANs_9.py``.

Layout (defaults: 2 stages of 2 blocks, widths 64 and 128, input 3 x 50 x 50)::

    conv 5x5 /2 'same' (64) -> BN -> ReLU                      (B, 64, 25, 25)
    stage 1: 2 pre-activation basic blocks, 64 filters         (B, 64, 25, 25)
    stage 2: 2 pre-activation basic blocks, 128 filters, /2    (B, 128, 13, 13)
    BN -> ReLU -> global average pool -> Linear(K)              (B, K) logits

A pre-activation basic block (He et al., arXiv 1603.05027) is
``y = shortcut(x) + conv3x3(relu(bn(conv3x3_s(relu(bn(x))))))``; the very first block of the
first stage skips its leading BN-ReLU because the stem just applied one. The shortcut is the
identity, or a 1x1 strided 'valid' convolution when the shape changes.

Keras details kept: every convolution has a bias (Keras' default), BN epsilon 1e-3, and 'same'
padding as TensorFlow computes it, which for stride 2 puts the odd pixel at the bottom/right
(see :func:`same_padding`). Kept from PyTorch: BN momentum 0.1 (Keras' 0.99 means 0.01 here; the
faster running average suits short runs on small data).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError

BN_EPS = 1e-3  # Keras BatchNormalization default


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'same' padding ``(before, after)`` for one spatial axis.

    Output size is ``ceil(size / stride)``; the total padding needed is split with the extra
    pixel *after* (e.g. size 50, kernel 5, stride 2 -> (1, 2); PyTorch's symmetric ``padding=2``
    would give the same output size but shifted by one pixel).
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow 'same' padding, computed from the input size at call time."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0,
                         bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = same_padding(x.shape[-2], k, s)
        left, right = same_padding(x.shape[-1], k, s)
        if top == bottom and left == right:  # symmetric: let the convolution pad (no copy)
            return F.conv2d(x, self.weight, self.bias, s, (top, left))
        return F.conv2d(F.pad(x, (left, right, top, bottom)), self.weight, self.bias, s)


class PreActBlock(nn.Module):
    """Pre-activation basic block ``(B, C_in, H, W) -> (B, C_out, ceil(H/s), ceil(W/s))``.

    Args:
        in_channels, out_channels: feature maps in and out.
        stride: stride of the first 3x3 convolution and of the projection shortcut.
        preact: False skips the leading BN-ReLU (first block after the stem).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, preact: bool = True):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels, eps=BN_EPS) if preact else None
        self.conv1 = Conv2dSame(in_channels, out_channels, 3, stride)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.conv2 = Conv2dSame(out_channels, out_channels, 3, 1)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride)  # 'valid'

    def forward(self, x: Tensor) -> Tensor:
        y = x if self.bn1 is None else F.relu(self.bn1(x))
        y = self.conv2(F.relu(self.bn2(self.conv1(y))))
        return y + (x if self.shortcut is None else self.shortcut(x))


class ResNetSTCM(nn.Module):
    """The authors' small pre-activation ResNet over the recalibrated ``(B, C, S, S)`` image.

    Args:
        num_classes: ``K``, size of the logits.
        in_channels: channels of the input image (3 coordinate axes).
        stages: blocks per stage; stage ``i`` has ``width * 2**i`` filters and stage ``i > 0``
            starts with a stride-2 block.
        width: filters of the stem and of the first stage.
        stem_kernel, stem_stride: the stem convolution (5 and 2 in the authors' code).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, stages: Sequence[int] = (2, 2),
                 width: int = 64, stem_kernel: int = 5, stem_stride: int = 2) -> None:
        super().__init__()
        if not stages or any(int(r) != r or r < 1 for r in stages):
            raise ConfigError(f"resnet stages must be a non-empty list of positive integers, "
                              f"got {list(stages)!r}")
        if width < 1 or num_classes < 1:
            raise ConfigError(f"resnet width and num_classes must be positive, got width={width}, "
                              f"num_classes={num_classes}")
        self.stem = Conv2dSame(in_channels, width, stem_kernel, stem_stride)
        self.stem_bn = nn.BatchNorm2d(width, eps=BN_EPS)
        blocks: list[nn.Module] = []
        channels = width
        for i, repeats in enumerate(stages):
            filters = width * 2**i
            for j in range(repeats):
                stride = 2 if (j == 0 and i > 0) else 1
                first = i == 0 and j == 0  # the stem already applied BN-ReLU
                blocks.append(PreActBlock(channels, filters, stride, preact=not first))
                channels = filters
        self.blocks = nn.Sequential(*blocks)
        self.final_bn = nn.BatchNorm2d(channels, eps=BN_EPS)
        self.classifier = nn.Linear(channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Keras initialisers of the authors' code: He-normal kernels (convolutions and the
        classifier), zero biases; BN weight 1, bias 0."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """``x (B, C, S, S)`` -> logits ``(B, K)``."""
        x = F.relu(self.stem_bn(self.stem(x)))  # (B, w, S/2, S/2)
        x = self.blocks(x)  # (B, w * 2**(n-1), ., .)
        x = F.relu(self.final_bn(x)).mean(dim=(2, 3))  # (B, channels)
        return self.classifier(x)
