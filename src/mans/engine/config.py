"""The run configuration: typed dataclasses, YAML files that extend each other, ``a.b=value``
overrides.

A config file is YAML with the sections ``model``, ``data`` and ``train`` (see the dataclasses
below for every key and its default) and an optional ``base:`` naming a file (relative to this
one) or a built-in config (``src/mans/configs/NAME.yaml``) that it extends; dicts are merged
recursively, everything else replaces. Overrides (``--set train.lr=0.1``) are parsed with
``yaml.safe_load`` and applied last. Unknown keys, values of the wrong type and values out of
range raise :class:`~mans.errors.ConfigError` naming the key, the file (or ``--set``) it came
from and, for a misspelt key, the nearest valid one. This module is the schema and mans' way of
loading it; the generic machinery (merging, overrides, type coercion) is
:mod:`mans.engine.typed_config`.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Optional

import yaml

from ..errors import ConfigError
from ..models import model_config
from ..data.spec import CENTRES, DEFAULT_STREAM, FRAMES, NORMALISES, STREAMS
from .typed_config import (BadValue, build, check_keys, choice, flatten, get, merge,
                           name_sources, parse_override, plain, schema_keys, set_dotted)

SCHEDULES = ("plateau", "none", "cosine", "step")

# --- the schema ----------------------------------------------------------------------------------


@dataclass
class ModelConfig:
    """Which network (``mans_resnet`` | ``mans_densenet161`` | ``mans_cooccurrence``), plus
    overrides of its :class:`~mans.models.MANsConfig` fields (None: the model's default;
    ``num_classes`` None: the store's number of classes). The fields are MANsConfig's, made
    optional (a test keeps the two lists equal); their values are checked by MANsConfig itself
    (:meth:`RunConfig.validate`)."""

    name: str = "mans_resnet"
    num_classes: Optional[int] = None
    size: Optional[int] = None  # S: the (S, S) image side; 50 for ResNet, 224 for DenseNet-161
    hidden: Optional[int] = None  # TARM embedding / GRU width H
    reduction: Optional[int] = None  # attention MLP squeeze factor
    gru_dropout: Optional[float] = None
    gru_recurrent_dropout: Optional[float] = None
    use_tarm: Optional[bool] = None  # ablations: STCM only, no attention, no TARM skip
    attention: Optional[bool] = None
    residual: Optional[bool] = None
    resnet_stages: Optional[tuple[int, ...]] = None
    resnet_width: Optional[int] = None
    densenet_drop_rate: Optional[float] = None
    pretrained: Optional[str] = None  # local torchvision DenseNet-161 ImageNet weights file
    joints: Optional[int] = None  # J joint columns (co-occurrence STCM): the store's when None
    bodies: Optional[int] = None  # M body slots among them: the store's max_bodies when None
    cooc_width: Optional[int] = None  # co-occurrence STCM base width (multiple of 16)
    cooc_dropout: Optional[float] = None  # dropout before its classifier
    joint_mixing: Optional[bool] = None  # co-occurrence: skeleton-aware V x V joint mixing
    mixing_groups: Optional[int] = None  # its channel groups (each refines the mixing)
    parents: Optional[tuple[int, ...]] = None  # one body's parents: the store layout's when None
    # TARM attention variants (docs/model.md); None: the paper's sigmoid, per channel, time MLP
    attention_form: Optional[str] = None  # sigmoid | softmax (over the frames, scaled by S)
    attention_temperature: Optional[float] = None  # divides the attention logits
    attention_scope: Optional[str] = None  # channel | frame (one weight per frame)
    attention_source: Optional[str] = None  # time_mlp | memory (a score of each frame's memory)

    def overrides(self) -> dict:
        """The fields that are set, other than ``name``: keyword arguments of ``build_model``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "name" and getattr(self, f.name) is not None}


@dataclass
class AugmentConfig:
    """Training-time augmentation of the (C, T, J) sequence before it becomes an image. Every
    default is the identity: augmentation is OFF unless a config turns it on."""

    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)  # max |angle| about x, y, z
    scale: tuple[float, float] = (1.0, 1.0)  # uniform isotropic scale factor range
    noise_std: float = 0.0  # Gaussian noise std, in the data's units (metres for 3D data)
    crop: tuple[float, float] = (1.0, 1.0)  # fraction of frames kept by a random temporal crop
    resample: tuple[float, float] = (1.0, 1.0)  # playback speed factor range (2 = twice as fast)
    mirror: float = 0.0  # probability of a left <-> right mirror (needs left/right joint names)
    scale_per_axis: bool = False  # draw the scale factor per coordinate axis (anisotropic)
    shear: float = 0.0  # max |off-diagonal| of a random shear I + S; 0: off
    crop_resize: tuple[float, float] = (1.0, 1.0)  # random crop ratio, resized back to T frames
    joint_dropout: float = 0.0  # probability that a joint column is zeroed for the sequence


@dataclass
class DataConfig:
    dataset: Optional[str] = None  # if set, the store must hold this dataset (a safety check)
    protocol: Optional[str] = None  # None: the store's default protocol
    val_fraction: float = 0.1  # share of the training split held out for validation
    val_by_subject: bool = True  # hold out whole subjects when samples have subject ids
    num_workers: int = 2  # DataLoader worker processes (0 with --deterministic)
    # Input stream (mans.data.streams): joint | bone | motion | bone_motion. Saved in checkpoints.
    stream: str = DEFAULT_STREAM
    # Test-time mirror averaging: logits of the sample and of its left <-> right mirror are
    # averaged at every evaluation and prediction. Saved in checkpoints.
    test_mirror: bool = False
    # The input pipeline (mans.data.pipeline), saved in checkpoints: centre (before augmentation)
    # none | spine; normalise (after it) none | minmax | torso; frames pad | resample.
    centre: str = "none"
    normalise: str = "none"
    frames: str = "pad"
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class SchedulerConfig:
    """The learning-rate schedule, stepped once per epoch (:func:`mans.engine.run_setup
    .build_scheduler`): ``plateau`` (reduce-on-plateau of the monitored loss: validation loss;
    test loss with ``selection: test``, as the authors), ``none`` (constant), ``cosine`` (to 0 at
    the end of ``train.epochs``) or ``step`` (times ``gamma`` at each of ``milestones``), each
    but ``plateau`` after an optional linear warm-up of ``warmup_epochs`` from lr / 10."""

    name: str = "plateau"
    factor: float = 0.2  # plateau
    patience: int = 5  # plateau
    cooldown: int = 3  # plateau
    min_lr: float = 1e-4  # plateau
    warmup_epochs: int = 0  # none, cosine, step
    milestones: Optional[tuple[int, ...]] = None  # step: epochs after which lr is times gamma
    gamma: float = 0.1  # step


@dataclass
class TrainConfig:
    optimizer: str = "sgd"  # sgd | adam | adamw
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    batch_size: int = 128  # global batch: split over processes under DDP
    epochs: int = 50
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    # Checkpoint selection: "val" (best validation accuracy), "test" (the authors' protocol: the
    # test split is monitored and selects the checkpoint; outputs are labelled test-selected), or
    # "last" (the final epoch).
    selection: str = "val"
    seed: int = 0
    amp: bool = True  # bf16 autocast on CUDA; no effect on the CPU
    grad_clip: Optional[float] = None  # max global gradient L2 norm; None: no clipping
    label_smoothing: float = 0.0  # cross-entropy label smoothing, in [0, 1)
    mixup: float = 0.0  # Beta(a, a) mixup of whole images and labels; 0: off
    ema: Optional[float] = None  # decay of an exponential moving average of the weights, which
    # is then what is evaluated and saved for inference; None: off
    stop_after_epoch: Optional[int] = None  # stop early (resumable) after this epoch
    # Attention regularisers (mans.models.attention_penalty), added to the loss; 0: off.
    attention_entropy: float = 0.0  # weight of the normalised entropy of the per-frame weights
    attention_l1: float = 0.0  # weight of the mean |attention|


@dataclass
class RunConfig:
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (tuples as lists), fit for YAML and checkpoints."""
        return plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "config") -> "RunConfig":
        """Typed config from a nested dict; raises ConfigError on unknown keys or bad values."""
        _check_keys(d, cls, source)
        cfg = build(cls, d, prefix="", sources={}, default_source=source)
        cfg.validate(default_source=source)
        return cfg

    def validate(self, sources: dict[str, str] | None = None,
                 default_source: str = "config") -> None:
        """Range and choice checks that types alone cannot express; an error starts with where
        the value was set (``sources``: {dotted key: file or ``--set ...``}; ``default_source``
        for values set nowhere else), as the type errors do."""
        name_sources(self._check_values, sources or {}, default_source)

    def _check_values(self) -> None:
        m, d, t, a = self.model, self.data, self.train, self.data.augment
        choice("train.optimizer", t.optimizer, ("sgd", "adam", "adamw"))
        choice("train.selection", t.selection, ("val", "test", "last"))
        choice("train.scheduler.name", t.scheduler.name, SCHEDULES)
        choice("data.stream", d.stream, STREAMS)
        choice("data.centre", d.centre, CENTRES)
        choice("data.normalise", d.normalise, NORMALISES)
        choice("data.frames", d.frames, FRAMES)
        checks = [
            ("data.val_fraction", 0 <= d.val_fraction < 1, "in [0, 1)"),
            ("data.num_workers", d.num_workers >= 0, ">= 0"),
            ("data.augment.rotation_deg", all(0 <= v <= 180 for v in a.rotation_deg),
             "three angles in [0, 180] degrees"),
            ("data.augment.scale", 0 < a.scale[0] <= a.scale[1],
             "[low, high] with 0 < low <= high"),
            ("data.augment.noise_std", a.noise_std >= 0, ">= 0"),
            ("data.augment.crop", 0 < a.crop[0] <= a.crop[1] <= 1,
             "[low, high] with 0 < low <= high <= 1"),
            ("data.augment.resample", 0 < a.resample[0] <= a.resample[1],
             "[low, high] with 0 < low <= high"),
            ("data.augment.mirror", 0 <= a.mirror <= 1, "a probability in [0, 1]"),
            ("data.augment.shear", 0 <= a.shear < 1, "in [0, 1) (0: off)"),
            ("data.augment.crop_resize", 0 < a.crop_resize[0] <= a.crop_resize[1] <= 1,
             "[low, high] with 0 < low <= high <= 1"),
            ("data.augment.joint_dropout", 0 <= a.joint_dropout < 1, "a probability in [0, 1)"),
            ("train.label_smoothing", 0 <= t.label_smoothing < 1, "in [0, 1)"),
            ("train.mixup", t.mixup >= 0, ">= 0 (0: off)"),
            ("train.ema", t.ema is None or 0 < t.ema < 1, "in (0, 1) or null"),
            ("train.lr", t.lr > 0, "> 0"),
            ("train.momentum", 0 <= t.momentum < 1, "in [0, 1)"),
            ("train.weight_decay", t.weight_decay >= 0, ">= 0"),
            ("train.batch_size", t.batch_size >= 1, ">= 1"),
            ("train.epochs", t.epochs >= 1, ">= 1"),
            ("train.scheduler.factor", 0 < t.scheduler.factor < 1, "in (0, 1)"),
            ("train.scheduler.patience", t.scheduler.patience >= 0, ">= 0"),
            ("train.scheduler.cooldown", t.scheduler.cooldown >= 0, ">= 0"),
            ("train.scheduler.min_lr", t.scheduler.min_lr >= 0, ">= 0"),
            ("train.scheduler.warmup_epochs", 0 <= t.scheduler.warmup_epochs < t.epochs,
             ">= 0 and below train.epochs"),
            ("train.scheduler.milestones", all(m >= 1 for m in t.scheduler.milestones or ())
             and list(t.scheduler.milestones or ()) == sorted(set(t.scheduler.milestones or ())),
             "increasing epochs >= 1, or null"),
            ("train.scheduler.gamma", 0 < t.scheduler.gamma <= 1, "in (0, 1]"),
            ("train.grad_clip", t.grad_clip is None or t.grad_clip > 0, "> 0 or null"),
            ("train.stop_after_epoch", t.stop_after_epoch is None or t.stop_after_epoch >= 1,
             ">= 1 or null"),
            ("train.attention_entropy", t.attention_entropy >= 0, ">= 0 (0: off)"),
            ("train.attention_l1", t.attention_l1 >= 0, ">= 0 (0: off)"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise BadValue(key, f"config key {key!r} must be {expected}; "
                                    f"got {get(self, key)!r}")
        # The model keys are checked by the model's own config, the one place that knows them
        # (an override of 0 filters is caught here, not when the run starts building the net).
        try:
            model_config(m.name, **{**m.overrides(), "num_classes": m.num_classes or 1})
        except ConfigError as e:  # "model.KEY: ..." (MANsConfig.validate), or an unknown name
            key = str(e).split(":", 1)[0]
            raise BadValue(key if key.startswith("model.") else "model.name", str(e)) from None
        if t.scheduler.name == "plateau" and t.scheduler.warmup_epochs:
            raise BadValue(("train.scheduler.warmup_epochs", "train.scheduler.name"),
                           "train.scheduler.warmup_epochs needs train.scheduler.name none, cosine "
                           "or step (reduce-on-plateau has no warm-up)")
        if t.scheduler.name == "step" and not t.scheduler.milestones:
            raise BadValue(("train.scheduler.milestones", "train.scheduler.name"),
                           "train.scheduler.name=step needs train.scheduler.milestones, e.g. "
                           "[35, 55]")
        if (t.attention_entropy or t.attention_l1) and (m.use_tarm is False
                                                         or m.attention is False):
            key = "train.attention_entropy" if t.attention_entropy else "train.attention_l1"
            raise BadValue((key, "model.use_tarm", "model.attention"),
                           f"{key} regularises the TARM attention, which this model does not "
                           f"have (model.use_tarm or model.attention is false)")
        if t.nesterov and t.optimizer == "sgd" and t.momentum == 0:
            raise BadValue(("train.nesterov", "train.momentum", "train.optimizer"),
                           "train.nesterov needs train.momentum > 0 (or set train.nesterov=false)")
        if t.selection == "val" and d.val_fraction == 0:
            raise BadValue(("train.selection", "data.val_fraction"),
                           "train.selection=val needs a validation split: set data.val_fraction "
                           "> 0, or choose train.selection=last (or test, the authors' rule)")


# Keys that may differ between the original run and a --resume of it.
RESUMABLE_KEYS = ("train.epochs", "train.stop_after_epoch", "train.grad_clip", "data.num_workers",
                  "description")


# --- loading -------------------------------------------------------------------------------------


def builtin_config_names() -> list[str]:
    """Names of the configs shipped in ``mans/configs``."""
    folder = resources.files("mans") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_config(path_or_name: str | Path, overrides: Iterable[str] = ()) -> RunConfig:
    """Load a config file or built-in config, follow its ``base:`` chain, apply ``overrides``
    (``"section.key=value"`` strings, values parsed as YAML) and return the typed config."""
    merged, sources = _load_chain(path_or_name, seen=())
    for item in overrides:
        key, value = parse_override(item)
        _check_key_path(key)
        set_dotted(merged, key, value)
        sources[key] = f"--set {item}"
    cfg = build(RunConfig, merged, prefix="", sources=sources, default_source=str(path_or_name))
    cfg.validate(sources, default_source=str(path_or_name))
    return cfg


def resolve_config(config: str | Path | RunConfig | dict,
                   overrides: Iterable[str] = ()) -> RunConfig:
    """Accept what callers have at hand: a path, a built-in name, a dict or a RunConfig."""
    overrides = list(overrides or ())
    if isinstance(config, RunConfig):
        if not overrides:
            return config
        config = config.to_dict()
    if isinstance(config, dict):
        merged = plain(config)
        _check_keys(merged, RunConfig, "config dict")
        sources: dict[str, str] = {}
        for item in overrides:
            key, value = parse_override(item)
            _check_key_path(key)
            set_dotted(merged, key, value)
            sources[key] = f"--set {item}"
        cfg = build(RunConfig, merged, prefix="", sources=sources, default_source="config dict")
        cfg.validate(sources, default_source="config dict")
        return cfg
    return load_config(config, overrides)


def save_config(cfg: RunConfig, path: str | Path) -> None:
    """Write the fully resolved config (every key, no ``base:``) as YAML."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def diff_configs(a: RunConfig, b: RunConfig) -> list[str]:
    """Dotted keys whose values differ between ``a`` and ``b``."""
    fa, fb = flatten(a.to_dict()), flatten(b.to_dict())
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))


def _find_file(ref: str | Path, relative_to: Path | None) -> Path:
    """A config reference -> file: an existing path (relative to the including file first), else
    the built-in config of that name."""
    p = Path(ref)
    candidates = [relative_to / p] if relative_to is not None and not p.is_absolute() else []
    candidates.append(p)
    for c in candidates:
        if c.is_file():
            return c
    name = str(ref)[:-5] if str(ref).endswith(".yaml") else str(ref)
    builtin = resources.files("mans") / "configs" / f"{name}.yaml"
    if "/" not in name and builtin.is_file():
        return Path(str(builtin))
    names = builtin_config_names()
    near = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise ConfigError(f"config {str(ref)!r} is neither a file nor a built-in config{hint} "
                      f"(built-in: {', '.join(names)})")


def _load_chain(ref: str | Path, seen: tuple[Path, ...], relative_to: Path | None = None
                ) -> tuple[dict, dict[str, str]]:
    """Load ``ref`` and its bases; returns the merged dict and {dotted key: source file}."""
    path = _find_file(ref, relative_to).resolve()
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ConfigError(f"config base chain loops: {chain}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    base = raw.pop("base", None)
    _check_keys(raw, RunConfig, str(path))
    if base is None:
        merged, sources = {}, {}
    else:
        merged, sources = _load_chain(base, (*seen, path), relative_to=path.parent)
    merge(merged, raw)
    sources.update({k: str(path) for k in flatten(raw)})
    return merged, sources


# --- key and type checking -----------------------------------------------------------------------


def _suggest(key: str) -> str:
    """'; did you mean X?' for the nearest valid dotted key, or ''. Tried in order: the same key
    name in another section, a similar name in the same section, a similar dotted key."""
    valid = list(schema_keys(RunConfig))
    section, _, leaf = key.rpartition(".")
    near = [k for k in valid if k.rpartition(".")[2] == leaf]
    if not near:
        siblings = {k.rpartition(".")[2]: k for k in valid if k.rpartition(".")[0] == section}
        near = [siblings[m] for m in difflib.get_close_matches(leaf, list(siblings), n=1)]
    if not near:
        near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"; did you mean {near[0]!r}?" if near else ""


def _check_key_path(key: str) -> None:
    if key not in schema_keys(RunConfig):
        raise ConfigError(f"unknown config key {key!r} in --set{_suggest(key)}")


def _check_keys(d: dict, cls: type, source: str) -> None:
    """:func:`~mans.engine.typed_config.check_keys` with mans' nearest-key suggestions."""
    check_keys(d, cls, source, _suggest)
