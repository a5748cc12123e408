"""The MANs network: TARM (temporal attention recalibration) followed by an STCM (CNN).

``x (B, 3, S, S)`` -- three coordinate planes of ``S`` frames by ``S`` joint columns -- is
recalibrated by :class:`~mans.models.tarm.TARM` into an image of the same shape, which a CNN
(:class:`~mans.models.resnet.ResNetSTCM` or :class:`~mans.models.densenet.DenseNet`) classifies
into logits ``(B, K)``. The co-occurrence variant takes a *sequence* ``x (B, 3, S, J)`` instead
(``S`` frames by the ``J`` joint columns, no column padding; :attr:`MANsConfig.input`), which the
TARM recalibrates likewise and :class:`~mans.models.cooccurrence.CooccurrenceSTCM` classifies.
Everything about the network is in :class:`MANsConfig`, which a checkpoint stores as a plain dict
(:meth:`MANsConfig.to_dict`) and rebuilds from (:meth:`MANsConfig.from_dict`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .cooccurrence import CooccurrenceSTCM
from .densenet import DenseNet
from .joint_mixing import JointMixing
from .resnet import ResNetSTCM
from .tarm import ATTENTION_FORMS, ATTENTION_SCOPES, ATTENTION_SOURCES, TARM

VARIANTS = ("resnet", "densenet161", "cooccurrence")
# The model input each variant takes (mans.data.spec.INPUTS): an (S, S) image or a (S, J) sequence.
INPUT_OF = {"resnet": "image", "densenet161": "image", "cooccurrence": "sequence"}


@dataclass
class MANsConfig:
    """Hyper-parameters of one MANs network.

    Attributes:
        variant: STCM backbone, ``"resnet"`` (authors' ``MANs_9.py``), ``"densenet161"`` or
            ``"cooccurrence"`` (:mod:`mans.models.cooccurrence`).
        num_classes: ``K``, number of action classes.
        size: ``S``; the input is ``(B, in_channels, S, S)``: ``S`` frames by ``S`` columns
            (``(B, in_channels, S, joints)`` for the co-occurrence variant).
        hidden: ``H``, TARM embedding / GRU width.
        reduction: attention MLP squeeze factor (hidden width ``int(S / reduction)``).
        gru_dropout: dropout on the GRU input (training only).
        gru_recurrent_dropout: dropout on the GRU state before the recurrent matmul.
        use_tarm: False feeds ``x`` to the STCM unchanged (ablation "STCM only").
        attention: False fixes the TARM attention to 1 (ablation).
        residual: False removes the TARM's ``x +`` skip (ablation).
        resnet_stages: blocks per ResNet stage (``[2, 2]`` in the authors' code).
        resnet_width: filters of the ResNet stem and first stage (64).
        densenet_drop_rate: dropout after each dense layer.
        pretrained: optional path of a local torchvision DenseNet-161 ImageNet checkpoint
            (``.pth`` or ``.safetensors``), loaded into the DenseNet STCM when the model is built.
        in_channels: coordinate channels of the input (3).
        joints: ``J``, joint columns of a sample (bodies x layout joints); the co-occurrence
            variant needs it (the trainer fills it from the store), the image variants ignore it.
        bodies: ``M``, body slots among the ``J`` columns (co-occurrence variant: shared weights,
            max over slots).
        cooc_width: base width ``w`` of the co-occurrence STCM (a multiple of 16).
        cooc_dropout: dropout before its classifier.
        joint_mixing: co-occurrence variant: a skeleton-aware V x V joint mixing in each branch
            (:mod:`mans.models.joint_mixing`), initialised from ``parents``.
        mixing_groups: channel groups with their own learned refinement of the mixing.
        parents: ``(V,)`` parent joint of each joint of one body (the layout's; training fills
            it in when ``joint_mixing`` is on).
        attention_form: TARM attention ``"sigmoid"`` (paper) or ``"softmax"`` over the frames
            (weights that compete, scaled by S so their mean is 1); :mod:`mans.models.tarm`.
        attention_temperature: ``tau`` > 0 dividing the attention logits (1: the paper).
        attention_scope: ``"channel"`` (paper: one weight per channel and frame) or
            ``"frame"`` (one weight per frame shared by the channels).
        attention_source: ``"time_mlp"`` (paper: an MLP across the frames) or ``"memory"``
            (a score of each frame's BiGRU memory).
    """

    variant: str = "resnet"
    num_classes: int = 60
    size: int = 50
    hidden: int = 64
    reduction: int = 16
    gru_dropout: float = 0.5
    gru_recurrent_dropout: float = 0.0
    use_tarm: bool = True
    attention: bool = True
    residual: bool = True
    resnet_stages: tuple[int, ...] = (2, 2)
    resnet_width: int = 64
    densenet_drop_rate: float = 0.0
    pretrained: str | None = None
    in_channels: int = 3
    joints: int | None = None
    bodies: int = 1
    cooc_width: int = 32
    cooc_dropout: float = 0.2
    joint_mixing: bool = False
    mixing_groups: int = 4
    parents: tuple[int, ...] | None = None

    @property
    def input(self) -> str:
        """The tensor layout the network takes: ``"image"`` or ``"sequence"``."""
        return INPUT_OF[self.variant]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One sample's input shape: ``(C, S, S)`` for an image, ``(C, S, J)`` for a sequence."""
        if self.input == "sequence":
            if self.joints is None:
                raise ConfigError(f"model.joints: the {self.variant!r} STCM needs the number of "
                                  f"joint columns (filled from the store when training)")
            return (self.in_channels, self.size, self.joints)
        return (self.in_channels, self.size, self.size)
    attention_form: str = "sigmoid"
    attention_temperature: float = 1.0
    attention_scope: str = "channel"
    attention_source: str = "time_mlp"

    def __post_init__(self) -> None:
        self.resnet_stages = tuple(self.resnet_stages) if isinstance(
            self.resnet_stages, (list, tuple)) else self.resnet_stages
        if self.pretrained is not None:
            self.pretrained = str(self.pretrained)
        if isinstance(self.parents, list):
            self.parents = tuple(self.parents)
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad key."""
        if self.variant not in VARIANTS:
            raise ConfigError(f"model.variant: expected one of {list(VARIANTS)}, "
                              f"got {self.variant!r}")
        for key in ("num_classes", "size", "hidden", "reduction", "resnet_width", "in_channels",
                    "bodies", "cooc_width", "mixing_groups"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"model.{key}: expected a positive integer, got {v!r}")
        if self.joints is not None and (isinstance(self.joints, bool) or not isinstance(
                self.joints, int) or self.joints < 1 or self.joints % self.bodies):
            raise ConfigError(f"model.joints: expected a positive multiple of model.bodies "
                              f"({self.bodies}), got {self.joints!r}")
        if self.cooc_width % 16:
            raise ConfigError(f"model.cooc_width: expected a multiple of 16, got {self.cooc_width}")
        for key in ("gru_dropout", "gru_recurrent_dropout", "densenet_drop_rate", "cooc_dropout"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ConfigError(f"model.{key}: expected a number in [0, 1), got {v!r}")
        for key in ("use_tarm", "attention", "residual", "joint_mixing"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"model.{key}: expected true or false, "
                                  f"got {getattr(self, key)!r}")
        for key, options in (("attention_form", ATTENTION_FORMS),
                             ("attention_scope", ATTENTION_SCOPES),
                             ("attention_source", ATTENTION_SOURCES)):
            if getattr(self, key) not in options:
                raise ConfigError(f"model.{key}: expected one of {list(options)}, "
                                  f"got {getattr(self, key)!r}")
        t = self.attention_temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
            raise ConfigError(f"model.attention_temperature: expected a number > 0, got {t!r}")
        st = self.resnet_stages
        if not isinstance(st, tuple) or not st or any(
                isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in st):
            raise ConfigError(f"model.resnet_stages: expected a non-empty list of positive "
                              f"integers, got {st!r}")
        if self.parents is not None and (not isinstance(self.parents, tuple) or any(
                isinstance(p, bool) or not isinstance(p, int) or not -1 <= p < len(self.parents)
                for p in self.parents)):
            raise ConfigError(f"model.parents: expected a list of parent joint indices (-1: "
                              f"root), got {self.parents!r}")
        if self.joint_mixing and self.variant != "cooccurrence":
            raise ConfigError(f"model.joint_mixing: only the 'cooccurrence' STCM mixes joints, "
                              f"not {self.variant!r}")
        if self.pretrained is not None and self.variant != "densenet161":
            raise ConfigError("model.pretrained: ImageNet weights exist only for variant "
                              f"'densenet161', not {self.variant!r}")

    def to_dict(self) -> dict:
        """Plain JSON/YAML-safe dict (tuples become lists)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["resnet_stages"] = list(self.resnet_stages)
        d["parents"] = None if self.parents is None else list(self.parents)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MANsConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        if not isinstance(d, dict):
            raise ConfigError(f"model config: expected a mapping, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"model config: unknown key(s) {unknown}; "
                              f"known keys: {sorted(known)}")
        return cls(**d)


class MANs(nn.Module):
    """Memory Attention Network built from a :class:`MANsConfig` (kept as ``.config``).

    Submodules: ``tarm`` (:class:`TARM`, or None when ``use_tarm`` is False) and ``stcm`` (the CNN).
    """

    def __init__(self, config: MANsConfig) -> None:
        super().__init__()
        if not isinstance(config, MANsConfig):
            raise TypeError(f"MANs needs a MANsConfig, got {type(config).__name__}")
        self.config = config
        c = config
        dims = c.input_shape[2]  # S columns of an image, J of a sequence
        self.tarm = TARM(frames=c.size, dims=dims, hidden=c.hidden, channels=c.in_channels,
                         reduction=c.reduction, dropout=c.gru_dropout,
                         recurrent_dropout=c.gru_recurrent_dropout, attention=c.attention,
                         residual=c.residual, attention_form=c.attention_form,
                         attention_temperature=c.attention_temperature,
                         attention_scope=c.attention_scope,
                         attention_source=c.attention_source) if c.use_tarm else None
        if c.variant == "resnet":
            self.stcm = ResNetSTCM(c.num_classes, in_channels=c.in_channels,
                                   stages=c.resnet_stages, width=c.resnet_width)
        elif c.variant == "cooccurrence":
            mixing = None
            if c.joint_mixing:
                if c.parents is None or len(c.parents) * c.bodies != c.joints:
                    raise ConfigError(f"model.parents: joint mixing needs the "
                                      f"{c.joints // c.bodies} parents of one body (filled "
                                      f"from the store's layout), got {c.parents!r}")
                mixing = partial(JointMixing, c.parents, c.cooc_width // 2, c.mixing_groups)
            self.stcm = CooccurrenceSTCM(c.num_classes, in_channels=c.in_channels,
                                         joints=c.joints, bodies=c.bodies, width=c.cooc_width,
                                         dropout=c.cooc_dropout, mixing=mixing)
        else:
            self.stcm = DenseNet(c.num_classes, in_channels=c.in_channels,
                                 drop_rate=c.densenet_drop_rate)
            if c.pretrained is not None:
                self.stcm.load_pretrained(c.pretrained)
        # Channels-last convolutions are faster with oneDNN and on GPUs (docs/performance.md).
        # Weights keep their names, shapes and values: checkpoints and their loading are
        # unaffected (load_state_dict copies into these tensors, keeping the layout).
        self.stcm.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor, return_attention: bool = False):
        """Classify ``x (B, C, S, S)`` (a sequence ``(B, C, S, J)`` for the co-occurrence STCM).

        Returns:
            logits ``(B, K)``; with ``return_attention=True`` the pair ``(logits, attention)``
            where attention is ``(B, C, S)``, one weight per channel and frame, in (0, 1) for
            the paper's sigmoid (``attention_form``; all ones when ``attention=False``; None
            when the model has no TARM).
        """
        c = self.config
        shape = c.input_shape
        if x.dim() != 4 or tuple(x.shape[1:]) != shape:
            raise ConfigError(f"model {c.variant!r} expects input (B, {', '.join(map(str, shape))})"
                              f", got {tuple(x.shape)}: does the data's {c.input} size match "
                              f"model.size?")
        attention = None
        if self.tarm is not None:
            x, attention = self.tarm(x)  # (B, C, S, S or J), (B, C, S)
        logits = self.stcm(x)  # (B, K)
        return (logits, attention) if return_attention else logits
