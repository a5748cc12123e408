"""The package's import directions, written down once (docs/architecture.md): a module may import
modules of its own layer or of lower layers, never of a higher one. Every ``import`` statement of
the package counts, also those inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mans"

# Lowest first. A module is placed by its dotted name (``mans.engine.train``): the longest
# matching prefix wins.
LAYERS = [
    ("foundation", ["mans.errors", "mans.skeleton", "mans.geometry", "mans.threads",
                    "mans.outputs", "mans.__version__"]),
    ("formats", ["mans.formats"]),
    ("datasets", ["mans.datasets"]),
    ("transforms", ["mans.transforms", "mans.transforms2d", "mans.streams", "mans.augment"]),
    ("store", ["mans.store"]),
    ("prepare", ["mans.prepare"]),
    ("models", ["mans.models"]),
    ("engine", ["mans.engine"]),
    ("applications", ["mans.runtime", "mans.predict", "mans.api", "mans.timeline", "mans.stream",
                      "mans.export", "mans.onnx_predict", "mans.show", "mans.viz",
                      "mans.summary", "mans.synth", "mans.demo", "mans.cli", "mans.__main__",
                      "mans"]),
]


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    assert rank is not None, f"{module} is in no layer: add it to LAYERS"
    return rank


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
                out += [(f"{target}.{a.name}", node.lineno) for a in node.names]
            else:
                out.append((target, node.lineno))
    return out


def violations(path: Path, me: str) -> list[str]:
    return [f"{path.name}:{line}: {me} ({LAYERS[layer_of(me)][0]}) imports {target} "
            f"({LAYERS[layer_of(target)][0]})"
            for target, line in imports(path, me) if layer_of(target) > layer_of(me)]


def test_no_module_imports_a_higher_layer():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 40
    wrong = [v for f in files for v in violations(f, module_name(f))]
    assert not wrong, "\n".join(wrong)


def test_the_checker_catches_upward_imports(tmp_path):
    """The rule is not vacuous: relative, absolute and in-function imports of a higher layer are
    caught; same-layer and lower imports are not."""
    f = tmp_path / "store.py"
    f.write_text("from .engine.train import run_training\nimport mans.models\n"
                 "from . import streams\nfrom .errors import ConfigError\n"
                 "def g():\n    from .predict import Predictor\n")
    found = violations(f, "mans.store")
    assert [v.split(":")[1] for v in found] == ["1", "2", "6"], found


def test_store_and_prepare_do_not_import_torch():
    """The prepare workers import these modules: torch would cost each of them its start-up."""
    code = ("import sys, mans.store, mans.prepare; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
