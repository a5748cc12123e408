"""A PYSKL / mmaction2 annotation pickle as a dataset: ``mans prepare pyskl --ann FILE.pkl``.

The "raw" path is the pickle itself (:mod:`mans.formats.pyskl`; read with the restricted
unpickler). One sample per annotation, keyed by its ``frame_dir``; a second annotation with the
same ``frame_dir`` and annotations that cannot be read are skipped with their reason.

Class names: ``"0"`` ... ``"K-1"`` (the pickles store label indices only), K = largest label + 1.

Protocols, from the pickle's ``split`` names: ``P_train`` with ``P_val`` (or ``P_test``) becomes
protocol ``P`` (``xsub_train`` + ``xsub_val`` -> ``xsub``); bare ``train`` with ``val`` / ``test``
becomes ``given``; other split names are not used. ``default`` is the first protocol in the
pickle's order. Without ``split`` (a bare list): ``holdout`` as for custom folders. A protocol
with an empty train or test split (e.g. a split naming none of the annotations) is an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, FormatError
from ..formats.pyskl import annotation_to_sequence, layout_for, load_annotations
from ..skeleton import Sequence
from . import DatasetSpec, Discovery, Item, split_indices

MAX_BODIES = 2
_cache: dict[tuple[str, int, int], tuple] = {}


def _load(path: Path) -> tuple:
    """``load_annotations(path)``, cached per process by (path, mtime, size): discovery, the
    class names and the protocols all need it, and forked workers inherit it."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_annotations(path)
    return _cache[key]


def class_names(ann: Path) -> list[str]:
    labels = [a.get("label") for a in _load(ann)[1] if isinstance(a, dict)]
    ints = [int(x) for x in labels if isinstance(x, (int, np.integer)) and not isinstance(x, bool)
            and x >= 0]
    if not ints:
        raise ConfigError(f"{ann}: no annotation has an integer 'label'")
    return [str(i) for i in range(max(ints) + 1)]


def discover(ann: Path, options: dict | None = None) -> Discovery:
    """One item per annotation (``info["index"]`` into the list)."""
    ann = Path(ann)
    _, anns = _load(ann)
    items, skipped, seen, bodies = [], [], set(), 1
    layout = None
    for i, a in enumerate(anns):
        name = a.get("frame_dir") if isinstance(a, dict) else None
        key = str(name) if name else f"annotation-{i}"
        if key in seen:
            skipped.append({"file": str(ann), "key": key,
                            "reason": f"annotation {i}: frame_dir {key!r} appears twice"})
            continue
        seen.add(key)
        kp = a.get("keypoint") if isinstance(a, dict) else None
        if isinstance(kp, np.ndarray) and kp.ndim == 4 and kp.size:
            bodies = max(bodies, int((kp != 0).any(axis=(2, 3)).sum(axis=0).max()))
            if layout is None:  # decided as annotation_to_sequence does, without converting
                layout = layout_for(kp.shape[2], kp.shape[3],
                                    a.get("keypoint_score") is not None)
        items.append(Item(key=key, path=ann, info={"index": i}))
    for it in items:
        it.info["layout"] = layout
    return Discovery(items=items, skipped=skipped, layout=layout,
                     max_bodies=min(bodies, MAX_BODIES))


def read(item: Item) -> Sequence:
    i = item.info["index"]
    seq = annotation_to_sequence(item.path, _load(item.path)[1][i], i)
    want = item.info.get("layout")
    if want is not None and seq.layout != want:
        raise FormatError(item.path, f"annotation {i} ({item.key}): layout "
                          f"{seq.layout.name!r}, but the dataset's first annotation has "
                          f"{want.name!r}")
    return seq


def protocols(meta: list[dict]) -> dict[str, dict[str, np.ndarray]]:
    """Protocols from the pickle's ``split`` (module docstring)."""
    sources = {m.get("source") for m in meta}
    if len(sources) != 1:
        raise ConfigError("pyskl protocols: the samples come from more than one pickle")
    path = Path(next(iter(sources)))
    split, _ = _load(path)
    names = [m["name"] for m in meta]
    if split is None:
        from .custom import holdout_is_test

        out = {"holdout": split_indices(np.array([not holdout_is_test(n) for n in names]))}
    else:
        index = {n: i for i, n in enumerate(names)}
        out = {}
        for s in split:
            prefix = s[:-len("_train")] if s.endswith("_train") else "" if s == "train" else None
            if prefix is None:
                continue
            test = next((c for c in (f"{prefix}_val", f"{prefix}_test") if prefix and c in split),
                        None) if prefix else next((c for c in ("val", "test") if c in split), None)
            if test is None:
                continue
            out[prefix or "given"] = {
                "train": np.array(sorted(index[n] for n in split[s] if n in index), np.int64),
                "test": np.array(sorted(index[n] for n in split[test] if n in index), np.int64)}
    for p, d in out.items():
        empty = [s for s in ("train", "test") if d[s].size == 0]
        if empty:
            raise ConfigError(f"{path}: protocol {p!r}: the {' and '.join(empty)} split names "
                              f"none of the {len(meta)} prepared annotations")
    if not out:
        raise ConfigError(f"{path}: no protocol: 'split' has no NAME_train with NAME_val / "
                          f"NAME_test (found {sorted(split or {})[:8]})")
    out["default"] = next(iter(out.values()))
    return out


SPEC = DatasetSpec(
    name="pyskl",
    layout=None,  # from the key points: Discovery.layout
    max_bodies=MAX_BODIES,
    class_names=class_names,
    discover=discover,
    read=read,
    protocols=protocols,
    default_protocol="default",
)
