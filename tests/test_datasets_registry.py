"""The dataset registry: one explicit table of the built-in datasets, no registration as a side
effect of importing a module."""

from __future__ import annotations

import importlib

import pytest

import mans.datasets as ds
from mans.errors import ConfigError


def test_the_table_names_every_built_in_dataset():
    assert sorted(ds.BUILTIN) == ["custom", "hdm05", "ntu120", "ntu60", "pyskl", "utkinect"]
    assert ds.dataset_names() == sorted([*ds.BUILTIN, *ds._REGISTERED])  # tests register some
    for name, (module, attr) in ds.BUILTIN.items():
        spec = ds.get_dataset(name)
        assert spec.name == name
        assert spec is getattr(importlib.import_module(f"mans.datasets.{module}"), attr)


@pytest.mark.parametrize("module", sorted({m for m, _ in ds.BUILTIN.values()}))
def test_importing_a_dataset_module_registers_nothing(module, monkeypatch):
    def refuse(spec):
        raise AssertionError(f"mans.datasets.{module} registers {spec.name} when imported")

    monkeypatch.setattr(ds, "register_dataset", refuse)
    importlib.reload(importlib.import_module(f"mans.datasets.{module}"))


def test_registered_datasets_come_after_the_table(monkeypatch):
    spec = ds.get_dataset("hdm05")
    other = type(spec)(**{**spec.__dict__, "name": "hdm05-copy"})
    monkeypatch.setitem(ds._REGISTERED, "hdm05-copy", other)  # as register_dataset does
    assert ds.get_dataset("hdm05-copy") is other and "hdm05-copy" in ds.dataset_names()
    with pytest.raises(ConfigError, match="already a built-in dataset"):
        ds.register_dataset(type(spec)(**{**spec.__dict__, "name": "ntu60"}))
    with pytest.raises(ConfigError, match="unknown dataset 'nope'; choose one of"):
        ds.get_dataset("nope")
