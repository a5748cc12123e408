"""docs/formats.md documents the joint order of every built-in layout: its tables must be exactly
what the code registers (index, joint name, parent, roles, torso membership)."""

from __future__ import annotations

from pathlib import Path

import mans.formats.acclaim  # noqa: F401  (registers hdm05)
from mans.skeleton import Layout, builtin_layout

BUILTIN = ("ntu25", "kinect20", "hdm05", "coco17", "openpose25", "openpose18", "mediapipe33")
DOC = Path(__file__).resolve().parents[1] / "docs" / "formats.md"


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
    for name in BUILTIN:
        assert layout_table(builtin_layout(name)) in text, name
