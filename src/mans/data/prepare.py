"""``mans prepare``: read a raw dataset once, normalise every sample, and write a prepared store.

Reading and :func:`~mans.data.pipeline.prepare_sequence` run in a process pool; the main process
receives the results in item order (so the store is identical whatever the number of workers) and
streams each one straight into the output files, so memory stays bounded by a few samples in
flight, not by the dataset. A sample that cannot be read or prepared is recorded in the manifest's
``skipped`` list with its reason and never stops the run.

The store's layout is defined in :mod:`mans.data.store` (its owner: the reader and this writer both
use its names); it is written to a temporary sibling folder and renamed into place at the end.
The arrays are byte-identical across re-runs on the same input; ``manifest.json`` differs only in
its ``created`` time stamp (and in ``raw`` if the raw folder moved).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from .. import __version__
from ..datasets import DatasetSpec, Item, get_dataset
from ..errors import ConfigError, FormatError
from ..outputs import check_out_folder, output_lock
from .store import (FRAMES, LABELS, MANIFEST, OFFSETS, PROTOCOLS, SAMPLES, STORE_FORMAT,
                    STORE_VERSION, FramesWriter, is_store)
from ..skeleton import Layout
from .spec import VIEWS, PrepConfig
from .pipeline import prepare_sequence
from .views import check_view

def _json_default(o):
    """JSON for NumPy scalars (a reader may hand back ``np.int64`` ids) and paths."""
    return o.item() if isinstance(o, np.generic) else str(o)



# --- worker side ----------------------------------------------------------------------------------

_worker_state: dict = {}


def _init_worker(spec: DatasetSpec, cfg: PrepConfig) -> None:
    _worker_state["spec"], _worker_state["cfg"] = spec, cfg


def _skip_reason(e: BaseException) -> str:
    if isinstance(e, FormatError):
        return f"line {e.line}: {e.reason}" if e.line is not None else e.reason
    return f"{type(e).__name__}: {e}"


def _process(item: Item) -> tuple[np.ndarray | None, dict | str]:
    """Read and prepare one item: ``(frames (T', C, J) float32, metadata)`` or
    ``(None, reason)``. Every exception becomes a skip reason: one bad file never stops a run."""
    try:
        seq = _worker_state["spec"].read(item)
        x = prepare_sequence(seq, _worker_state["cfg"])  # (C, T', J)
        return np.ascontiguousarray(x.transpose(1, 0, 2)), seq.metadata()  # (T', C, J)
    except Exception as e:  # noqa: BLE001 - recorded, see docstring
        return None, _skip_reason(e)


@contextlib.contextmanager
def _results(spec: DatasetSpec, cfg: PrepConfig, items: list[Item],
             workers: int) -> Iterator[Iterator[tuple[np.ndarray | None, dict | str]]]:
    """Context giving :func:`_process` of every item, in item order, computed by ``workers``
    processes (in this process when 1). Enter it before starting any thread (e.g. a progress
    bar's): the pool forks on entry."""
    if workers <= 1 or len(items) <= 1:
        _init_worker(spec, cfg)
        yield map(_process, items)
        return
    # Chunks amortise the IPC round trips; small enough that a chunk is never a long stall and
    # that there are many more chunks than workers (load balance).
    chunksize = max(1, min(32, len(items) // (workers * 8)))
    with mp.get_context().Pool(min(workers, len(items)), initializer=_init_worker,
                               initargs=(spec, cfg)) as pool:
        yield pool.imap(_process, items, chunksize=chunksize)


# --- output folder --------------------------------------------------------------------------------


def _check_out(out: Path, force: bool) -> None:
    """Refuse a non-empty folder that is not a store, and a store unless ``force``."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_store(out):
        raise ConfigError(f"--out {out} is a non-empty folder that is not a prepared store "
                          f"(no {MANIFEST} of format {STORE_FORMAT!r}); refusing to overwrite it")
    if is_store(out) and not force:
        try:
            old = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
            what = f" (dataset {old.get('dataset')!r}, {old.get('prepared')} samples)"
        except (OSError, ValueError, AttributeError):
            what = ""
        raise ConfigError(f"--out {out} already holds a prepared store{what}; pass --force to "
                          f"replace it (the old store stays whole until the new one is "
                          f"complete), or choose another --out")


def _remove_stale(out: Path) -> None:
    """Remove the temporary siblings (``.NAME.tmp-*``) that a killed prepare of ``out`` left.
    Called with ``out``'s lock held: only its holder makes them, so none is in use."""
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def _install(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` folder to ``out``, replacing an old store (or empty folder)."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.replace(out, old / "store")
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    """The process's umask (reading it means setting it; restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- the view normalisation: chosen from the data --------------------------------------------------


def _coordinate_dims(spec: DatasetSpec, items: list[Item], tries: int = 20) -> int | None:
    """The coordinate dimension (2 or 3) of the first of ``items`` that reads, None if none of
    the first ``tries`` does (their reasons are recorded when the pool reads them again)."""
    for item in items[:tries]:
        try:
            return int(spec.read(item).joints.shape[-1])
        except Exception:  # noqa: BLE001 - a bad file is skipped later, with its reason
            continue
    return None


def choose_view(layout: Layout, view: str | None, dims: int | None) -> str:
    """``view``, or when None the default that follows the data: ``2d`` for 2-D coordinates,
    ``authors`` (the paper's) for 3-D (``dims`` None, when no sample could be read: the one of
    the two the layout allows). Raises ConfigError when the view cannot run on ``layout`` and
    ``dims``-D data, naming the views that can."""
    chosen = view if view is not None else "2d" if dims == 2 else "authors"
    if view is None and dims is None and not _runs(layout, "authors", None) and _runs(
            layout, "2d", None):
        chosen = "2d"
    try:
        check_view(layout, chosen, dims)
    except ConfigError as e:
        works = [v for v in VIEWS if _runs(layout, v, dims)]  # "none" always does
        default = "" if view is not None else f" (the default for {dims or 3}-D data)"
        raise ConfigError(f"{e}{default}; views that work on these data: {', '.join(works)} "
                          f"(--view)") from None
    return chosen


def _runs(layout: Layout, view: str, dims: int | None) -> bool:
    try:
        check_view(layout, view, dims)
        return True
    except ConfigError:
        return False


# --- main -----------------------------------------------------------------------------------------


def prepare(dataset: str, raw: str | Path | None, out: str | Path, *, view: str | None = None,
            workers: int | None = None, missing_list: str | Path | None = None,
            progress: bool = True, max_bodies: int | None = None, confidence: bool = False,
            ann: str | Path | None = None, force: bool = False) -> dict:
    """Prepare the raw folder of ``dataset`` into a store at ``out`` (see module docstring).

    Args:
        dataset: registered dataset name (``ntu60``, ``ntu120``, ``utkinect``, ``hdm05``, ...).
        raw: folder with the raw files.
        out: store folder to create; an existing store there is refused unless ``force``, any
            other non-empty folder always. The folder is locked while it is written
            (:func:`mans.outputs.output_lock`).
        view: view normalisation (``authors``, ``gcn``, ``none``, ``2d``); None: from the data
            (:func:`choose_view`: ``2d`` for 2-D coordinates, ``authors`` for 3-D), printed
            on stderr with ``progress``.
        workers: reader processes (default ``os.cpu_count()``; ``1`` runs in this process).
        missing_list: passed to the dataset's discovery as ``options["missing_list"]`` (NTU's
            official list of samples with missing skeletons; listed samples are skipped).
        progress: show a progress bar.
        max_bodies: body slots to keep; default: the dataset's (``DatasetSpec.max_bodies``), or
            for data whose body count depends on the files (custom, pyskl) the most bodies found
            in one frame, at most the dataset's.
        confidence: view ``2d`` only: joint scores as a third channel.
        ann: an annotation file holding the whole dataset (``pyskl``), instead of ``raw``.
        force: replace an existing store at ``out``. The new store is written beside it and
            renamed into place when complete: killed midway, the old store is intact.

    Returns:
        The manifest dict (also written to ``out/manifest.json``); ``found == prepared +
        len(skipped)``.
    """
    spec = get_dataset(dataset)
    if ann is not None:
        raw = Path(ann)
        if not raw.is_file():
            raise ConfigError(f"--ann {raw}: no such file")
    elif raw is None:
        raise ConfigError(f"dataset {dataset!r} needs --raw FOLDER" if dataset != "pyskl"
                          else "dataset 'pyskl' needs --ann FILE.pkl")
    else:
        raw = Path(raw)
        if not raw.is_dir():
            raise ConfigError(f"--raw {raw} is not a folder")
    out = Path(out)
    check_out_folder(out)
    if max_bodies is not None and (not isinstance(max_bodies, int) or max_bodies < 1):
        raise ConfigError(f"--max-bodies: expected an integer >= 1, got {max_bodies!r}")
    if workers is not None and int(workers) < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    workers = int(workers or os.cpu_count() or 1)
    with output_lock(out):
        _check_out(out, force)
        _remove_stale(out)
        return _prepare_locked(spec, dataset, raw, out, view, workers, missing_list, progress,
                               max_bodies, confidence)


def _prepare_locked(spec: DatasetSpec, dataset: str, raw: Path, out: Path, view: str | None,
                    workers: int, missing_list, progress: bool, max_bodies: int | None,
                    confidence: bool) -> dict:
    """:func:`prepare` once its arguments are checked and ``out`` is locked."""
    class_names = [str(c) for c in spec.class_names(raw)]
    options = {"missing_list": Path(missing_list)} if missing_list is not None else {}
    found_items = spec.discover(raw, options)
    items, skipped = list(found_items.items), [dict(s) for s in found_items.skipped]
    found = len(items) + len(skipped)
    if found == 0:
        raise ConfigError(f"no {dataset} samples found in {raw}")
    layout = found_items.layout or spec.layout  # custom data: layout from the files
    if layout is None:  # only for data whose layout comes from the files: none could be read
        raise ConfigError(f"none of the {found} {dataset} samples in {raw} could be read; the "
                          f"first: {skipped[0]['file']}: {skipped[0]['reason']}")
    if max_bodies is None:
        max_bodies = found_items.max_bodies or spec.max_bodies
    dims = found_items.dims or _coordinate_dims(spec, items)
    chosen = choose_view(layout, view, dims)
    if view is None and progress:
        print(f"prepare: view {chosen!r}, the default for {dims or 3}-D coordinates (--view "
              f"chooses another)", file=sys.stderr)
    cfg = PrepConfig(view=chosen, max_bodies=max_bodies, confidence=confidence)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; a store is a normal folder
        manifest = _write_store(tmp, spec, cfg, layout, items, skipped, class_names,
                                 workers, progress)
        manifest.update(found=found, raw=str(raw.resolve()))
        assert manifest["found"] == manifest["prepared"] + len(manifest["skipped"])
        if manifest["prepared"] == 0:
            reasons = "; ".join(f"{s.get('file')}: {s['reason']}"
                                for s in manifest["skipped"][:3])
            raise ConfigError(f"none of the {found} {dataset} samples in {raw} could be "
                              f"prepared; first reasons: {reasons}")
        manifest = _finish_manifest(tmp, manifest, dataset, spec, cfg, layout)
        _install(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _write_store(tmp: Path, spec: DatasetSpec, cfg: PrepConfig, layout: Layout,
                 items: list[Item], skipped: list[dict], class_names: list[str], workers: int,
                 progress: bool) -> dict:
    """Stream every item's result into ``tmp``; returns the partial manifest."""
    joints = cfg.max_bodies * layout.num_joints
    offsets, labels, meta = [0], [], []
    k = len(class_names)
    with _results(spec, cfg, items, workers) as results, \
            FramesWriter(tmp / FRAMES, joints) as frames, \
            open(tmp / SAMPLES, "w", encoding="utf-8") as samples:
        bar = tqdm(total=len(items), desc=f"prepare {spec.name}", unit="file",
                   disable=not progress, dynamic_ncols=True)
        for item, (x, info) in zip(items, results):
            bar.update()
            if x is not None:
                reason = _check_sample(x, info, frames.channels, k, layout)
                if reason is None:
                    frames.channels = frames.channels or x.shape[1]
                    frames.append(x)
                    offsets.append(frames.rows)
                    labels.append(-1 if info["label"] is None else int(info["label"]))
                    row = {"key": item.key, **info, "kept_frames": int(x.shape[0])}
                    meta.append(row)
                    samples.write(json.dumps(row, default=_json_default) + "\n")
                    continue
                info = reason
            skipped.append({"file": str(item.path), "key": item.key, "reason": info})
            bar.set_postfix(skipped=len(skipped), refresh=False)
        bar.close()
        shape = frames.close()
    np.save(tmp / OFFSETS, np.asarray(offsets, dtype=np.int64))
    np.save(tmp / LABELS, np.asarray(labels, dtype=np.int64))
    return {"prepared": len(meta), "skipped": skipped, "frames_shape": list(shape),
            "class_names": class_names, "num_classes": k, "_meta": meta}


def _check_sample(x: np.ndarray, meta: dict, channels: int | None, k: int, layout: Layout
                  ) -> str | None:
    """Why a prepared sample cannot join the store, or None."""
    if meta.get("layout") != layout.name:
        return f"joint layout {meta.get('layout')!r}, but the store holds {layout.name!r}"
    if channels is not None and x.shape[1] != channels:
        return f"{x.shape[1]}-D coordinates, but the store holds {channels}-D ones"
    label = meta.get("label")
    if label is not None and not 0 <= int(label) < k:
        return f"label {label} outside 0..{k - 1} ({k} classes)"
    if not np.isfinite(x).all():
        return "non-finite coordinates (NaN or inf) after preprocessing"
    return None


def _finish_manifest(tmp: Path, manifest: dict, dataset: str, spec: DatasetSpec,
                     cfg: PrepConfig, layout) -> dict:
    """Protocol splits (protocols.json) and manifest.json; returns the manifest."""
    meta = manifest.pop("_meta")
    splits = spec.protocols(meta)
    with open(tmp / PROTOCOLS, "w", encoding="utf-8") as f:
        json.dump({p: {s: np.asarray(idx, dtype=np.int64).tolist() for s, idx in d.items()}
                   for p, d in splits.items()}, f, separators=(",", ":"))
    if spec.default_protocol not in splits:
        raise ConfigError(f"dataset {dataset!r}: default protocol {spec.default_protocol!r} "
                          f"not among the computed protocols {sorted(splits)[:10]}")
    manifest = {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "dataset": dataset,
        "found": manifest["found"],
        "prepared": manifest["prepared"],
        "skipped": manifest["skipped"],
        "protocols": {p: {s: int(len(idx)) for s, idx in d.items()} for p, d in splits.items()},
        "default_protocol": spec.default_protocol,
        "class_names": manifest["class_names"],
        "num_classes": manifest["num_classes"],
        "prep": {**cfg.to_dict(), "layout": layout.name, "layout_def": layout.to_dict(),
                 "channels": manifest["frames_shape"][1], "joints": manifest["frames_shape"][2]},
        "frames_shape": manifest["frames_shape"],
        "raw": manifest["raw"],
        "mans_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=_json_default) + "\n")
    return manifest
