"""MANs networks and their registry.

``build_model("mans_resnet", num_classes=60)`` returns a :class:`MANs`; the registry maps a name to
default hyper-parameters (the authors' two published variants), which keyword overrides change::

    mans_resnet        S = 50,  H = 64,  ResNet STCM [2, 2] x (64, 128), GRU dropout 0.5
    mans_densenet161   S = 224, H = 128, DenseNet-161 STCM, GRU dropout 0 (as in the authors' code)
    mans_cooccurrence  S = 50,  H = 64,  co-occurrence STCM (HCN-style, joints as channels) on the
                       (S, J) sequence; needs ``joints`` (and ``bodies``), which training fills in

A checkpoint rebuilds its network with :func:`model_from_config` from ``model.config.to_dict()``.
"""

from __future__ import annotations

from ..errors import ConfigError
from .cooccurrence import CooccurrenceSTCM
from .densenet import DenseNet
from .flops import count_flops, count_parameters, model_summary
from .mans import MANs, MANsConfig
from .resnet import ResNetSTCM
from .tarm import TARM, attention_penalty

_DEFAULTS: dict[str, dict] = {
    "mans_resnet": {"variant": "resnet", "size": 50, "hidden": 64, "gru_dropout": 0.5},
    "mans_densenet161": {"variant": "densenet161", "size": 224, "hidden": 128, "gru_dropout": 0.0},
    "mans_cooccurrence": {"variant": "cooccurrence", "size": 50, "hidden": 64, "gru_dropout": 0.5},
}


def list_models() -> list[str]:
    """Registered model names."""
    return sorted(_DEFAULTS)


def model_config(name: str, **overrides) -> MANsConfig:
    """The validated :class:`MANsConfig` of registry entry ``name`` with ``overrides`` applied."""
    if name not in _DEFAULTS:
        raise ConfigError(f"unknown model {name!r}; available: {list_models()}")
    return MANsConfig.from_dict({**_DEFAULTS[name], **overrides})


def fill_data_overrides(name: str, overrides: dict, *, joints: int, bodies: int,
                        parents) -> dict:
    """``overrides`` (changed in place and returned) with what a sequence STCM needs to know of
    the data: its ``joints`` columns ``J``, its ``bodies`` slots ``M`` and, with joint mixing, one
    body's ``parents``; an image STCM's are left as they are. The one rule of training and
    :func:`mans.inference.api.save_untrained`."""
    if model_config(name, **overrides).input == "sequence":
        overrides.setdefault("joints", int(joints))
        overrides.setdefault("bodies", int(bodies))
        if overrides.get("joint_mixing"):
            overrides.setdefault("parents", tuple(parents))
    return overrides


def build_model(name: str, **overrides) -> MANs:
    """Build registry entry ``name`` (see :func:`list_models`) with config ``overrides``."""
    return MANs(model_config(name, **overrides))


def mans_resnet(**overrides) -> MANs:
    """The authors' ResNet variant (``MANs_9.py``): S = 50, H = 64."""
    return build_model("mans_resnet", **overrides)


def mans_densenet161(**overrides) -> MANs:
    """The authors' DenseNet-161 variant (``MANs_densenet161.py``): S = 224, H = 128."""
    return build_model("mans_densenet161", **overrides)


def mans_cooccurrence(**overrides) -> MANs:
    """TARM + co-occurrence STCM on the ``(S, J)`` sequence; pass ``joints`` (and ``bodies``)."""
    return build_model("mans_cooccurrence", **overrides)


def model_from_config(config: dict | MANsConfig) -> MANs:
    """Rebuild a network from ``MANsConfig.to_dict()`` output (e.g. stored in a checkpoint)."""
    return MANs(config if isinstance(config, MANsConfig) else MANsConfig.from_dict(config))


__all__ = [
    "MANs", "MANsConfig", "TARM", "ResNetSTCM", "DenseNet", "CooccurrenceSTCM", "build_model",
    "model_config", "fill_data_overrides", "list_models", "mans_resnet", "mans_densenet161",
    "mans_cooccurrence", "attention_penalty",
    "model_from_config", "count_flops", "count_parameters", "model_summary",
]
