"""Spatio-temporal convolution module (STCM), DenseNet-161 variant of ``MANs_densenet161.py``.

A self-contained DenseNet-BC (Huang et al., arXiv 1608.06993) whose module names, and therefore
``state_dict`` keys, are exactly those of ``torchvision.models.densenet161``, so a user's local
ImageNet checkpoint loads with :meth:`DenseNet.load_pretrained` without torchvision::

    features.conv0   7x7 /2, 96, no bias        (B, 96, 112, 112)   for a 224 x 224 input
    features.norm0, relu0, pool0 (max 3x3 /2)   (B, 96, 56, 56)
    features.denseblock1 .. 4 (6, 12, 36, 24 layers, growth 48), each layer
        norm1 -> relu1 -> conv1 (1x1, 4*48) -> norm2 -> relu2 -> conv2 (3x3, 48), concatenated
    features.transition1 .. 3: norm -> relu -> conv (1x1, halve channels) -> pool (avg 2x2 /2)
    features.norm5 -> ReLU -> global average pool (B, 2208) -> classifier (Linear, K)

As in the authors' code the TARM output goes straight into ``conv0``: no ImageNet mean/std
normalisation (the authors' Keras port of the ImageNet weights also took raw inputs).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, FormatError


class _DenseLayer(nn.Module):
    """BN-ReLU-conv1x1-BN-ReLU-conv3x3: ``(B, C_in, H, W) -> (B, growth, H, W)``."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = torch.cat(features, dim=1)  # (B, C_in, H, W): all earlier outputs of the block
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        return F.dropout(x, self.drop_rate, self.training) if self.drop_rate > 0 else x


class _DenseBlock(nn.ModuleDict):
    """``layers`` dense layers named ``denselayer1..``; output has ``C_in + layers * growth``
    channels."""

    def __init__(self, layers: int, in_channels: int, growth_rate: int, bn_size: int,
                 drop_rate: float) -> None:
        super().__init__()
        for i in range(layers):
            self[f"denselayer{i + 1}"] = _DenseLayer(in_channels + i * growth_rate, growth_rate,
                                                     bn_size, drop_rate)

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, dim=1)


class _Transition(nn.Sequential):
    """BN-ReLU-conv1x1-avgpool: ``(B, C_in, H, W) -> (B, C_out, H/2, W/2)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(OrderedDict(
            norm=nn.BatchNorm2d(in_channels),
            relu=nn.ReLU(inplace=True),
            conv=nn.Conv2d(in_channels, out_channels, 1, bias=False),
            pool=nn.AvgPool2d(2, stride=2),
        ))


class DenseNet(nn.Module):
    """DenseNet-BC with torchvision's parameter names; defaults are DenseNet-161.

    Args:
        num_classes: ``K``, size of the logits.
        in_channels: channels of the input image.
        growth_rate: channels each dense layer adds (48).
        block_config: dense layers per block ((6, 12, 36, 24)).
        num_init_features: channels of the stem convolution (96).
        bn_size: bottleneck width factor of the 1x1 convolution (4).
        drop_rate: dropout after each dense layer (0, as in the authors' code).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, growth_rate: int = 48,
                 block_config: Sequence[int] = (6, 12, 36, 24), num_init_features: int = 96,
                 bn_size: int = 4, drop_rate: float = 0.0) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"densenet num_classes must be positive, got {num_classes}")
        self.features = nn.Sequential(OrderedDict(
            conv0=nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False),
            norm0=nn.BatchNorm2d(num_init_features),
            relu0=nn.ReLU(inplace=True),
            pool0=nn.MaxPool2d(3, stride=2, padding=1),
        ))
        channels = num_init_features
        for i, layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(
                layers, channels, growth_rate, bn_size, drop_rate))
            channels += layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation: He-normal convolutions, BN 1/0, zero classifier bias."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        """``x (B, C, S, S)`` -> logits ``(B, K)``."""
        x = F.relu(self.features(x))  # (B, 2208, S/32, S/32)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)  # (B, 2208)
        return self.classifier(x)

    def load_pretrained(self, path: str | Path) -> dict:
        """Load a local torchvision ImageNet DenseNet checkpoint into this network.

        Accepts ``.pth``/``.pt`` files (read with ``torch.load(weights_only=True)``) and
        ``.safetensors``; a checkpoint wrapped as ``{"state_dict": ...}`` or ``{"model": ...}``
        and a ``module.`` prefix are unwrapped, and torchvision's old key names
        (``denselayer1.norm.1.weight``) are renamed (``denselayer1.norm1.weight``). The classifier
        is skipped when its shape differs (another class count); any other missing, unexpected
        or mis-shaped key raises :class:`FormatError`.

        Returns:
            ``{"path", "loaded": number of tensors loaded, "skipped": [keys not loaded]}``.
        """
        path = Path(path)
        state = remap_torchvision_keys(read_state_dict(path))
        own = self.state_dict()
        skipped = []
        for key in [k for k in state if k.startswith("classifier.")]:
            if key in own and state[key].shape != own[key].shape:
                skipped.append(key)
                del state[key]
        unexpected = sorted(set(state) - set(own))
        missing = sorted(k for k in set(own) - set(state) - set(skipped)
                         if not k.endswith("num_batches_tracked"))
        wrong = sorted(f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
                       for k in set(state) & set(own) if state[k].shape != own[k].shape)
        if unexpected or missing or wrong:
            parts = []
            for what, keys in (("unexpected keys", unexpected), ("missing keys", missing),
                               ("wrong shapes", wrong)):
                if keys:
                    more = f" (+{len(keys) - 5} more)" if len(keys) > 5 else ""
                    parts.append(f"{what}: {', '.join(keys[:5])}{more}")
            raise FormatError(path, "not a checkpoint of this DenseNet (expected torchvision "
                                    "densenet161 keys): " + "; ".join(parts))
        self.load_state_dict(state, strict=False)
        return {"path": str(path), "loaded": len(state), "skipped": sorted(skipped)}


_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def remap_torchvision_keys(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename old torchvision DenseNet keys (``...denselayerN.norm.1.weight`` ->
    ``...denselayerN.norm1.weight``) and strip a ``module.`` (DataParallel) prefix."""
    out = {}
    for key, value in state.items():
        if key.startswith("module."):
            key = key[len("module."):]
        m = _OLD_KEY.match(key)
        if m:
            key = m.group(1) + m.group(2)
        out[key] = value
    return out


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Read a tensor dictionary from ``.safetensors`` or a PyTorch pickle (weights only)."""
    if not path.is_file():
        raise ConfigError(f"pretrained weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any reader failure means the file is not what we need
        raise FormatError(path, f"cannot read weights ({type(e).__name__}: {e})") from e
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise FormatError(path, "expected a dictionary of tensors (a state_dict)")
    return dict(state)
