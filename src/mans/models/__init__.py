"""MANs networks and their registry.

``build_model("mans_resnet", num_classes=60)`` returns a :class:`MANs`; the registry maps a name to
default hyper-parameters (the authors' two published variants), which keyword overrides change::

    mans_resnet        S = 50,  H = 64,  ResNet STCM [2, 2] x (64, 128), GRU dropout 0.5
    mans_densenet161   S = 224, H = 128, DenseNet-161 STCM, GRU dropout 0 (as in the authors' code)

A checkpoint rebuilds its network with :func:`model_from_config` from ``model.config.to_dict()``.
"""

from __future__ import annotations

from ..errors import ConfigError
from .densenet import DenseNet
from .flops import count_flops, count_parameters, model_summary
from .mans import MANs, MANsConfig
from .resnet import ResNetSTCM
from .tarm import TARM, attention_penalty

_DEFAULTS: dict[str, dict] = {
    "mans_resnet": {"variant": "resnet", "size": 50, "hidden": 64, "gru_dropout": 0.5},
    "mans_densenet161": {"variant": "densenet161", "size": 224, "hidden": 128, "gru_dropout": 0.0},
}


def list_models() -> list[str]:
    """Registered model names."""
    return sorted(_DEFAULTS)


def model_config(name: str, **overrides) -> MANsConfig:
    """The validated :class:`MANsConfig` of registry entry ``name`` with ``overrides`` applied."""
    if name not in _DEFAULTS:
        raise ConfigError(f"unknown model {name!r}; available: {list_models()}")
    return MANsConfig.from_dict({**_DEFAULTS[name], **overrides})


def build_model(name: str, **overrides) -> MANs:
    """Build registry entry ``name`` (see :func:`list_models`) with config ``overrides``."""
    return MANs(model_config(name, **overrides))


def mans_resnet(**overrides) -> MANs:
    """The authors' ResNet variant (``MANs_9.py``): S = 50, H = 64."""
    return build_model("mans_resnet", **overrides)


def mans_densenet161(**overrides) -> MANs:
    """The authors' DenseNet-161 variant (``MANs_densenet161.py``): S = 224, H = 128."""
    return build_model("mans_densenet161", **overrides)


def model_from_config(config: dict | MANsConfig) -> MANs:
    """Rebuild a network from ``MANsConfig.to_dict()`` output (e.g. stored in a checkpoint)."""
    return MANs(config if isinstance(config, MANsConfig) else MANsConfig.from_dict(config))


__all__ = [
    "MANs", "MANsConfig", "TARM", "ResNetSTCM", "DenseNet", "build_model", "model_config",
    "list_models", "mans_resnet", "mans_densenet161", "model_from_config", "count_flops",
    "count_parameters", "model_summary", "attention_penalty",
]
