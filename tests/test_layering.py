"""The package's import directions, written down once (docs/architecture.md): a module may import
modules of its own layer or of lower layers, never of a higher one. Every ``import`` statement of
the package counts, also those inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mans"

# Lowest first. Every module of the package is listed by its dotted name, once; a module that is
# not listed fails test_every_module_has_a_layer, so a new module must be placed here by hand.
# ``mans.__version__`` is the one attribute of the package's ``__init__`` imported from below it
# (it is a constant, the lazy ``mans.load`` is what puts ``mans`` itself at the top).
LAYERS = [
    ("foundation", ["mans.errors", "mans.skeleton", "mans.geometry", "mans.threads",
                    "mans.devices", "mans.outputs", "mans.coordinates", "mans.attention_stats",
                    "mans.__version__"]),
    ("formats", ["mans.formats", "mans.formats.acclaim", "mans.formats.asf",
                 "mans.formats.kinematics", "mans.formats.coco",
                 "mans.formats.csvrows", "mans.formats.custom", "mans.formats.decimals",
                 "mans.formats.keypoints", "mans.formats.mediapipe", "mans.formats.ntu",
                 "mans.formats.ntu_writer",
                 "mans.formats.openpose", "mans.formats.pyskl", "mans.formats.utkinect"]),
    ("datasets", ["mans.datasets", "mans.datasets.custom", "mans.datasets.hdm05",
                  "mans.datasets.ntu", "mans.datasets.pyskl", "mans.datasets.utkinect"]),
    ("data: steps", ["mans.data", "mans.data.bodies", "mans.data.views", "mans.data.views2d",
                     "mans.data.frames", "mans.data.layout", "mans.data.streams",
                     "mans.data.augment", "mans.data.normalise", "mans.data.spec"]),
    ("data: pipeline", ["mans.data.pipeline"]),
    ("data: store", ["mans.data.store", "mans.data.dataset"]),
    ("data: prepare", ["mans.data.prepare"]),
    ("models", ["mans.models", "mans.models.cooccurrence", "mans.models.densenet",
                "mans.models.flops", "mans.models.gru", "mans.models.joint_mixing",
                "mans.models.mans", "mans.models.resnet", "mans.models.tarm", "mans.models.tta"]),
    ("engine", ["mans.engine", "mans.engine.attention", "mans.engine.checkpoint",
                "mans.engine.config", "mans.engine.data", "mans.engine.deletion",
                "mans.engine.distributed",
                "mans.engine.ensemble", "mans.engine.evaluate", "mans.engine.metrics",
                "mans.engine.plots", "mans.engine.report", "mans.engine.resume",
                "mans.engine.run_evaluation", "mans.engine.run_outputs", "mans.engine.run_setup",
                "mans.engine.run_state", "mans.engine.selection", "mans.engine.train",
                "mans.engine.typed_config"]),
    ("inference", ["mans.inference", "mans.inference.records", "mans.inference.predict",
                   "mans.inference.onnx_predict", "mans.inference.export", "mans.inference.api",
                   "mans.inference.timeline", "mans.inference.live"]),
    ("viz", ["mans.viz", "mans.viz.skeleton", "mans.viz.show"]),
    ("applications", ["mans.synth", "mans.synth.actions", "mans.synth.body", "mans.synth.common",
                      "mans.synth.driver", "mans.synth.planted", "mans.synth.staging", "mans.cli",
                      "mans.cli.commands",
                      "mans.cli.parser", "mans.cli.subcommands", "mans.cli.prepare_summary",
                      "mans.cli.demo", "mans.cli.inspect",
                      "mans.__main__", "mans"]),
]
_RANK = {m: i for i, (_, modules) in enumerate(LAYERS) for m in modules}


def layer_of(module: str) -> int:
    """The layer of a listed module (or of the listed name ``mans.__version__``)."""
    assert module in _RANK, f"{module} is in no layer: add it to LAYERS"
    return _RANK[module]


def is_module(name: str) -> bool:
    base = SRC.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path, name: str | None = None) -> list[tuple[str, int]]:
    """``(imported mans module, line)`` of every import in ``path`` (module ``name``, by default
    from its place under ``src``)."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "mans"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mans":
                continue
            if node.module is None or node.level and not node.module:
                # ``from PKG import NAME``: the module NAME, or the package defining it
                out += [(f"{target}.{a.name}" if is_module(f"{target}.{a.name}") or
                         f"{target}.{a.name}" in _RANK else target, node.lineno)
                        for a in node.names]
            else:
                out.append((target, node.lineno))
    return out


def violations(path: Path, me: str) -> list[str]:
    return [f"{path.name}:{line}: {me} ({LAYERS[layer_of(me)][0]}) imports {target} "
            f"({LAYERS[layer_of(target)][0]})"
            for target, line in imports(path, me) if layer_of(target) > layer_of(me)]


def test_every_module_has_a_layer():
    """Every module file is listed in exactly one layer, and every listed module exists."""
    found = {module_name(f) for f in SRC.rglob("*.py")}
    listed = [m for _, modules in LAYERS for m in modules if m != "mans.__version__"]
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert sorted(found - set(listed)) == [], "modules in no layer: add them to LAYERS"
    assert sorted(set(listed) - found) == [], "listed modules that do not exist"


def test_an_unlisted_module_is_refused():
    import pytest
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("mans.brand_new_module")
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("mans.formats.brand_new_module")


def test_no_module_imports_a_higher_layer():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 40
    wrong = [v for f in files for v in violations(f, module_name(f))]
    assert not wrong, "\n".join(wrong)


def test_the_checker_catches_upward_imports(tmp_path):
    """The rule is not vacuous: relative, absolute and in-function imports of a higher layer are
    caught; same-layer and lower imports are not."""
    f = tmp_path / "store.py"
    f.write_text("from ..engine.train import run_training\nimport mans.models\n"
                 "from . import streams\nfrom ..errors import ConfigError\n"
                 "def g():\n    from ..inference.predict import Predictor\n")
    found = violations(f, "mans.data.store")
    assert [v.split(":")[1] for v in found] == ["1", "2", "6"], found


def test_store_and_prepare_do_not_import_torch():
    """The prepare workers import these modules: torch would cost each of them its start-up."""
    code = ("import sys, mans.data.store, mans.data.prepare; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


# The steps of the input pipeline that were data/transforms.py (bodies -> view at prepare time,
# frames -> layout at load time), the normalisations and the input streams: mans.data.pipeline
# alone puts them together.
_TRANSFORM_STEPS = {"mans.data.bodies", "mans.data.views", "mans.data.views2d", "mans.data.frames",
                    "mans.data.layout", "mans.data.normalise"}
_STREAMS = "mans.data.streams"


def _imported(path: Path) -> set[str]:
    return {target for target, _ in imports(path)}


def test_only_the_pipeline_puts_the_steps_together():
    """No module outside mans.data.pipeline imports both a transform step and the streams, and
    the model rows and tensor layout (mans.data.frames, mans.data.layout) are the pipeline's
    alone: every path to a
    model input (training, eval, predict, API, ONNX, timeline, live) goes through it."""
    both, frames = [], []
    for f in sorted(SRC.rglob("*.py")):
        me, targets = module_name(f), _imported(f)
        if me == "mans.data.pipeline":
            assert _STREAMS in targets and "mans.data.frames" in targets
            continue
        if targets & _TRANSFORM_STEPS and _STREAMS in targets:
            both.append(me)
        if me != "mans.data.frames" and targets & {"mans.data.frames", "mans.data.layout"}:
            frames.append(me)
    assert both == [] and frames == []


def test_every_model_input_path_uses_the_pipeline():
    users = {module_name(f) for f in SRC.rglob("*.py")
             if "mans.data.pipeline" in _imported(f)}
    assert {"mans.data.dataset", "mans.engine.run_setup", "mans.engine.evaluate",
            "mans.engine.checkpoint", "mans.inference.records"} <= users
