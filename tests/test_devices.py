"""One default compute device (mans.devices.DEFAULT_DEVICE) for the Python API, the engine and
every CLI command that takes --device."""

from __future__ import annotations

import argparse
import inspect

import mans
from mans.cli.commands import build_parser
from mans.devices import DEFAULT_DEVICE
from mans.engine.ensemble import run_ensemble
from mans.engine.evaluate import checkpoint_scores, run_eval, score_split
from mans.engine.train import run_training
from mans.inference.api import Classifier, load
from mans.inference.predict import Predictor, predict_files


def test_every_device_parameter_defaults_to_the_one_default():
    assert DEFAULT_DEVICE == "auto"
    for fn in (mans.load, load, Classifier, Predictor, predict_files, run_eval, score_split,
               checkpoint_scores, run_ensemble, run_training):
        assert inspect.signature(fn).parameters["device"].default == DEFAULT_DEVICE, fn
    assert mans.load is load


def test_every_cli_device_option_defaults_to_it():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    with_device = {name: next(a.default for a in p._actions if a.dest == "device")
                   for name, p in sub.choices.items()
                   if any(a.dest == "device" for a in p._actions)}
    assert set(with_device) == {"train", "eval", "predict", "ensemble", "stream"}
    assert set(with_device.values()) == {DEFAULT_DEVICE}
