"""Run configs: base chains, recursive merge, overrides, unknown-key suggestions, type checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mans.engine.config import (
    RunConfig,
    builtin_config_names,
    diff_configs,
    load_config,
    resolve_config,
    save_config,
)
from mans.errors import ConfigError

EXPECTED_BUILTINS = {
    "base", "demo", "ntu60-xsub-resnet", "ntu60-xview-resnet", "ntu60-xsub-densenet161",
    "ntu60-xview-densenet161", "ntu120-xsub-resnet", "ntu120-xset-resnet",
    "ntu120-xsub-densenet161", "ntu120-xset-densenet161", "utkinect-xsub-resnet",
    "utkinect-loso-resnet", "utkinect-xsub-densenet161", "hdm05-resnet",
    "utkinect-xsub-resnet-basic", "utkinect-loso-resnet-basic", "hdm05-resnet-basic",
}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_are_the_paper_recipe():
    t = RunConfig().train
    assert (t.optimizer, t.lr, t.momentum, t.nesterov, t.weight_decay) == ("sgd", 0.01, 0.9, True,
                                                                          1e-4)
    assert (t.batch_size, t.epochs, t.selection) == (128, 50, "val")
    s = t.scheduler
    assert (s.name, s.factor, s.patience, s.cooldown, s.min_lr) == ("plateau", 0.2, 5, 3, 1e-4)
    a = RunConfig().data.augment
    assert a.rotation_deg == (0, 0, 0) and a.scale == (1, 1) and a.noise_std == 0
    assert a.crop == (1, 1) and a.resample == (1, 1)
    # base.yaml spells the recipe out and must agree with the dataclass defaults
    assert load_config("base").to_dict() == {**RunConfig().to_dict(),
                                             "description": load_config("base").description}


def test_every_builtin_loads_and_is_short():
    names = set(builtin_config_names())
    assert EXPECTED_BUILTINS <= names
    folder = Path(__file__).resolve().parents[1] / "src" / "mans" / "configs"
    for name in names:
        cfg = load_config(name)
        assert isinstance(cfg, RunConfig)
        if name != "base":
            assert len((folder / f"{name}.yaml").read_text().splitlines()) <= 25, name
    assert load_config("ntu60-xview-densenet161").model.name == "mans_densenet161"
    assert load_config("ntu60-xview-densenet161").data.protocol == "xview"
    assert load_config("ntu120-xset-resnet").data.dataset == "ntu120"


def test_no_two_builtins_are_identical():
    seen = {}
    for name in builtin_config_names():
        d = load_config(name).to_dict()
        d.pop("description")
        key = yaml.safe_dump(d, sort_keys=True)
        assert key not in seen, f"{name} duplicates {seen.get(key)}"
        seen[key] = name


def test_base_chain_merges_recursively(tmp_path):
    write(tmp_path / "a.yaml", "base: base\ntrain: {lr: 0.5, scheduler: {patience: 9}}\n"
                               "data: {augment: {noise_std: 0.01}}\n")
    write(tmp_path / "b.yaml", "base: a.yaml\ntrain: {scheduler: {factor: 0.5}}\n")
    cfg = load_config(tmp_path / "b.yaml")
    assert cfg.train.lr == 0.5  # from a
    assert cfg.train.scheduler.patience == 9  # from a, not clobbered by b's scheduler mapping
    assert cfg.train.scheduler.factor == 0.5  # from b
    assert cfg.train.scheduler.cooldown == 3  # from base
    assert cfg.data.augment.noise_std == 0.01
    assert cfg.train.momentum == 0.9


def test_overrides_parse_yaml_values_and_win(tmp_path):
    write(tmp_path / "a.yaml", "base: base\ntrain: {lr: 0.5}\n")
    cfg = load_config(tmp_path / "a.yaml", ["train.lr=1e-3", "train.epochs=7",
                                            "data.augment.scale=[0.9, 1.1]",
                                            "train.grad_clip=null", "model.hidden=32",
                                            "train.nesterov=false", "data.protocol=xview"])
    assert cfg.train.lr == pytest.approx(1e-3)  # "1e-3" is a YAML string; coerced to float
    assert cfg.train.epochs == 7 and cfg.train.nesterov is False
    assert cfg.data.augment.scale == (0.9, 1.1)
    assert cfg.train.grad_clip is None and cfg.model.hidden == 32
    assert cfg.data.protocol == "xview"
    assert cfg.model.overrides() == {"hidden": 32}


@pytest.mark.parametrize("override, suggestion", [
    ("train.lrr=1", "train.lr"),
    ("train.val_fraction=0.2", "data.val_fraction"),
    ("data.augment.rotation=5", "data.augment.rotation_deg"),
    ("trian.epochs=3", "train.epochs"),
])
def test_unknown_override_key_suggests_nearest(override, suggestion):
    with pytest.raises(ConfigError, match=f"did you mean '{suggestion}'"):
        load_config("base", [override])


def test_unknown_key_in_file_names_file_and_suggests(tmp_path):
    p = write(tmp_path / "bad.yaml", "base: base\ntrain:\n  epoch: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert "bad.yaml" in msg and "'train.epoch'" in msg and "did you mean 'train.epochs'" in msg


@pytest.mark.parametrize("override, fragment", [
    ("train.epochs=abc", "must be an integer"),
    ("train.epochs=2.5", "must be an integer"),
    ("train.lr=fast", "must be a number"),
    ("train.nesterov=1", "true or false"),
    ("data.augment.scale=[1.0]", "list of 2"),
    ("train.selection=tset", "did you mean 'test'"),
    ("train.lr=-1", "'train.lr' must be > 0"),
    ("data.val_fraction=1.5", "in [0, 1)"),
    ("data.augment.crop=[0.9, 0.5]", "low <= high"),
])
def test_bad_values_are_config_errors(override, fragment):
    with pytest.raises(ConfigError) as e:
        load_config("base", [override])
    assert fragment in str(e.value) and override.split("=")[0] in str(e.value)


def test_type_error_names_the_file(tmp_path):
    p = write(tmp_path / "t.yaml", "base: base\ntrain: {batch_size: many}\n")
    with pytest.raises(ConfigError, match=r"t\.yaml.*train\.batch_size.*integer"):
        load_config(p)


@pytest.mark.parametrize("yaml_text, override, key", [
    ("train: {lr: -1}\n", None, "train.lr"),
    ("train: {optimizer: sgdd}\n", None, "train.optimizer"),
    ("data: {augment: {crop: [0.9, 0.5]}}\n", None, "data.augment.crop"),
    ("model: {hidden: 0}\n", None, "model.hidden"),
    ("train: {lr: 0.1}\n", "train.lr=-2", "train.lr"),
    ("train: {momentum: 0}\n", None, "train.nesterov"),
])
def test_range_errors_name_the_file_or_set_that_set_the_value(tmp_path, yaml_text, override,
                                                                key):
    """As the type errors do: the value's file, or the --set that set it, starts the message."""
    p = write(tmp_path / "r.yaml", "base: base\n" + yaml_text)
    with pytest.raises(ConfigError) as e:
        load_config(p, [override] if override else [])
    where = f"--set {override}" if override else str(p.resolve())
    prefix, message = str(e.value).split(": ", 1)
    assert where in prefix.split(", ") and key in message  # nesterov: base.yaml set it, r.yaml
    # set the momentum: both are named


def test_range_errors_of_a_saved_config_name_its_source():
    from mans.engine.config import RunConfig

    d = load_config("base").to_dict()
    d["train"]["lr"] = -1
    with pytest.raises(ConfigError, match=r"^run/last\.pt: config key 'train\.lr' must be > 0"):
        RunConfig.from_dict(d, source="run/last.pt")
    with pytest.raises(ConfigError, match=r"^--set train\.lr=-3: "):
        resolve_config(d | {"train": {**d["train"], "lr": 0.1}}, ["train.lr=-3"])


def test_selection_val_needs_validation_split():
    with pytest.raises(ConfigError, match="val_fraction"):
        load_config("base", ["data.val_fraction=0"])
    assert load_config("base", ["data.val_fraction=0", "train.selection=test"]).train.selection \
        == "test"


def test_missing_config_and_loops(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'ntu60-xsub-resnet'"):
        load_config("ntu60-xsub-resnt")
    write(tmp_path / "x.yaml", "base: y.yaml\n")
    write(tmp_path / "y.yaml", "base: x.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "x.yaml")
    with pytest.raises(ConfigError, match="not of the form"):
        load_config("base", ["train.lr"])


def test_snapshot_round_trip_and_diff(tmp_path):
    cfg = load_config("utkinect-loso-resnet", ["data.protocol=loso-07", "train.epochs=3"])
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")  # a snapshot is itself a loadable config
    assert again == cfg
    assert resolve_config(cfg.to_dict()) == cfg and resolve_config(cfg) is cfg
    other = resolve_config(cfg, ["train.epochs=5", "train.lr=0.1"])
    assert diff_configs(cfg, other) == ["train.epochs", "train.lr"]


def test_model_section_mirrors_the_model_config():
    """``model.*`` keys are MANsConfig's fields (made optional), plus the registry name; the
    variant and input channels come from the registry and the store."""
    import dataclasses

    from mans.engine.config import ModelConfig
    from mans.models import MANsConfig

    ours = {f.name for f in dataclasses.fields(ModelConfig)} - {"name"}
    theirs = {f.name for f in dataclasses.fields(MANsConfig)} - {"variant", "in_channels"}
    assert ours == theirs


def test_model_values_are_checked_by_the_model_config():
    with pytest.raises(ConfigError, match="model.resnet_width: expected a positive integer"):
        load_config("base", ["model.resnet_width=0"])
    with pytest.raises(ConfigError, match="unknown model 'mans_vgg'"):
        load_config("base", ["model.name=mans_vgg"])
    with pytest.raises(ConfigError, match="model.gru_dropout"):
        load_config("base", ["model.gru_dropout=1.5"])
