"""What ``mans prepare`` prints: a short summary of the manifest on stdout and the skip reasons,
grouped by kind, on stderr (the full lists stay in the store's ``manifest.json``)."""

from __future__ import annotations

import re
from pathlib import Path

from ..data.store import MANIFEST

_SHOWN_PROTOCOLS = 6  # leave-one-out datasets have hundreds: the manifest keeps them all


def short_summary(manifest: dict, out: str | Path) -> dict:
    """What ``mans prepare`` prints: counts and at most a few protocols' split sizes (the full
    list stays in ``manifest.json``)."""
    protocols = manifest.get("protocols", {})
    default = manifest.get("default_protocol")
    names = ([default] if default in protocols else []) + \
        [p for p in protocols if p != default]
    summary = {k: manifest[k] for k in ("dataset", "found", "prepared") if k in manifest}
    summary["skipped"] = len(manifest.get("skipped", []))
    if "prep" in manifest:
        summary["view"] = manifest["prep"].get("view")
    summary["protocols"] = {p: protocols[p] for p in names[:_SHOWN_PROTOCOLS]}
    if len(names) > _SHOWN_PROTOCOLS:
        summary["protocols_total"] = len(names)
        summary["protocols_note"] = (f"{len(names) - _SHOWN_PROTOCOLS} more protocols in "
                                     f"{Path(out) / MANIFEST}")
    summary["out"] = str(out)
    return summary


def _reason_kind(reason: str) -> str:
    """A skip reason without what differs from file to file (line numbers, counts, values), so
    that reasons of one kind are counted together."""
    text = re.sub(r"^line \d+: ", "", str(reason))
    text = re.sub(r"'[^']*'", "'...'", text)  # quoted tokens
    text = re.sub(r"\d+(\.\d+)?([eE][-+]?\d+)?", "N", text)
    return text if len(text) <= 100 else text[:97] + "..."


def skip_summary(skipped: list[dict], shown: int = 10) -> list[str]:
    """Lines for stderr: how many samples were skipped, grouped by kind of reason (most frequent
    first), with one example file each; empty when nothing was skipped."""
    if not skipped:
        return []
    groups: dict[str, list[dict]] = {}
    for s in skipped:
        groups.setdefault(_reason_kind(s.get("reason", "")), []).append(s)
    order = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    lines = [f"skipped {len(skipped)} samples ({len(groups)} kinds of reason; every file and "
             f"reason is in manifest.json):"]
    for kind, members in order[:shown]:
        lines.append(f"  {len(members):6d}  {kind}  (e.g. {members[0].get('file')})")
    if len(order) > shown:
        rest = sum(len(m) for _, m in order[shown:])
        lines.append(f"  {rest:6d}  other reasons ({len(order) - shown} kinds)")
    return lines
