"""docs/formats.md documents the joint order of every built-in layout: its tables must be exactly
the constants of mans.skeleton (index, joint name, parent, roles, torso membership). And the
package's docstrings name only modules and functions that exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from mans.skeleton import BUILTIN_LAYOUTS, Layout

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "formats.md"


def layout_table(lay: Layout) -> str:
    """The markdown table of one layout, as docs/formats.md shows it."""
    roles: dict[int, list[str]] = {}
    for role, j in lay.roles.items():
        roles.setdefault(j, []).append(role)
    lines = [f"`{lay.name}` ({lay.num_joints} joints)", "",
             "| index | joint | parent | roles | torso |", "| --- | --- | --- | --- | --- |"]
    for j, name in enumerate(lay.joints):
        parent = "-" if lay.parents[j] < 0 else f"{lay.parents[j]} {lay.joints[lay.parents[j]]}"
        lines.append(f"| {j} | {name} | {parent} | {', '.join(sorted(roles.get(j, [])))} | "
                     f"{'yes' if j in lay.torso else ''} |")
    return "\n".join(lines)


def test_every_builtin_layout_table_is_in_the_docs():
    text = DOC.read_text()
    assert len(BUILTIN_LAYOUTS) == 7  # ntu25, kinect20, hdm05, coco17, openpose25/18, mediapipe33
    for name, lay in BUILTIN_LAYOUTS.items():
        assert layout_table(lay) in text, name


def _resolve(dotted: str) -> bool:
    """True when ``mans.a.b.c`` is a module or an attribute chain of the longest importable
    module prefix."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for name in parts[k:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_docstring_cross_references_resolve():
    """Sphinx-style references (:mod:`mans.x`, :func:`mans.x.f`, ...) in src/mans point at code
    that exists (one once named a module mans.formats.people that never did)."""
    ref = re.compile(r":(?:mod|func|class|meth|data|attr|exc):`~?(mans(?:\.\w+)+)`")
    found, broken = 0, []
    for f in sorted((ROOT / "src" / "mans").rglob("*.py")):
        for m in ref.finditer(f.read_text("utf-8")):
            found += 1
            if not _resolve(m.group(1)):
                broken.append(f"{f.relative_to(ROOT)}: {m.group(1)}")
    assert found > 50 and broken == []
