"""The driver: :func:`write_synthetic` writes every file with
:func:`mans.formats.ntu.write_skeleton` (official text layout, CRLF line endings)."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..formats.ntu import write_skeleton
from ..outputs import check_out_folder
from .common import NTU60_SUBJECTS, SETUP, _TAG_CAMERA, _rng, xsub_train_subjects
from .actions import ACTIONS
from .staging import CAMERAS, Recording, render_performance, sense

# =================================================================================================
# 6. The driver
# =================================================================================================

_NAME = "S{:03d}C{:03d}P{:03d}R{:03d}A{:03d}"


def subject_ids(n: int) -> list[int]:
    """``n`` NTU performer ids, alternating between the cross-subject train and test lists
    (1, 3, 2, 6, 4, 7, ...), so that both splits get performers."""
    if not 1 <= n <= NTU60_SUBJECTS:
        raise ConfigError(f"subjects must be between 1 and {NTU60_SUBJECTS} (NTU performer ids), "
                          f"got {n}")
    train = xsub_train_subjects()
    test = [i for i in range(1, NTU60_SUBJECTS + 1) if i not in train]
    ids = [i for pair in zip(train, test) for i in pair]
    return ids[:n]


@dataclass(frozen=True)
class FileJob:
    """One file to write: everything that determines its bytes (picklable, for the workers)."""

    seed: int
    subject: int
    camera: int
    replication: int
    action: int
    setup: int = SETUP

    @property
    def name(self) -> str:
        return _NAME.format(self.setup, self.camera, self.subject, self.replication, self.action)


def record_file(job: FileJob) -> Recording:
    """The recording behind one ``.skeleton`` file (camera ``job.camera``'s view of the
    performance, with that camera's own noise and artefacts)."""
    staged = render_performance(job.seed, job.subject, job.replication, job.action, job.setup)
    rng = _rng(job.seed, _TAG_CAMERA, job.setup, job.subject, job.replication, job.action,
               job.camera)
    return sense(staged, CAMERAS[job.camera], rng)


def write_file(job: FileJob, folder: str | Path) -> dict:
    """Write ``folder/<job.name>.skeleton``; return its stats (frames, 0-body frames, frames with
    3 or more bodies, whether a spurious body appears)."""
    rec = record_file(job)
    write_skeleton(Path(folder) / f"{job.name}.skeleton", rec.joints, bodies=rec.bodies)
    return {"frames": int(rec.bodies.shape[0]), "empty": int((rec.bodies == 0).sum()),
            "three": int((rec.bodies >= 3).sum()),
            "ghost": int(rec.joints.shape[1] > ACTIONS[job.action].bodies)}


def _write_one(args: tuple[FileJob, str]) -> dict:
    return write_file(*args)


def write_synthetic(out: Path, seed: int = 0, subjects: int = 10, replications: int = 2,
                    progress: bool = True) -> dict:
    """Write the synthetic dataset into ``out``: every action of :data:`ACTIONS` x ``subjects``
    performers x cameras 1-3 x ``replications``, one ``SsssCcccPpppRrrrAaaa.skeleton`` file each
    (setup 1), and return a JSON-serialisable summary (files, classes with NTU ids and names,
    subjects per cross-subject split, cameras, frame statistics, 0-body and 3-body frames).

    Same ``seed`` -> byte-identical files. Raises ConfigError for bad arguments, or when ``out``
    already holds ``.skeleton`` files this run would not write (they would mix into the data)."""
    out = Path(out)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if not 1 <= replications <= 999:
        raise ConfigError(f"replications must be between 1 and 999, got {replications}")
    ids = subject_ids(subjects)
    jobs = [FileJob(int(seed), s, c, r, a) for s in ids for c in sorted(CAMERAS)
            for r in range(1, replications + 1) for a in sorted(ACTIONS)]
    check_out_folder(out, "output folder")
    out.mkdir(parents=True, exist_ok=True)
    planned = {f"{j.name}.skeleton" for j in jobs}
    stale = sorted(p.name for p in out.glob("*.skeleton") if p.name not in planned)
    if stale:
        raise ConfigError(f"{out} already holds {len(stale)} .skeleton files that this run would "
                          f"not write (e.g. {stale[0]}); use an empty or new folder")

    work = [(j, str(out)) for j in jobs]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cores or 1, 8)
    if workers > 1 and len(jobs) >= 64:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            it = ex.map(_write_one, work, chunksize=16)
            stats = list(_progress(it, len(work), progress))
    else:
        stats = list(_progress(map(_write_one, work), len(work), progress))

    frames = np.array([s["frames"] for s in stats])
    return {
        "out": str(out),
        "seed": int(seed),
        "files": len(jobs),
        "setup": SETUP,
        "classes": [{"label": a.ntu - 1, "action": a.ntu, "code": a.code, "name": a.name,
                     "bodies": a.bodies, **({"reverse_of": a.reverse_of} if a.reverse_of else {})}
                    for a in (ACTIONS[k] for k in sorted(ACTIONS))],
        "subjects": {"train": [s for s in ids if s in xsub_train_subjects()],
                     "test": [s for s in ids if s not in xsub_train_subjects()]},
        "cameras": [{"camera": c, "azimuth_deg": cam.azimuth, "distance_m": cam.distance,
                     "height_m": cam.height} for c, cam in sorted(CAMERAS.items())],
        "replications": replications,
        "frames": {"min": int(frames.min()), "max": int(frames.max()),
                   "mean": round(float(frames.mean()), 1), "total": int(frames.sum())},
        "zero_body_frames": int(sum(s["empty"] for s in stats)),
        "files_with_zero_body_frames": int(sum(s["empty"] > 0 for s in stats)),
        "three_body_frames": int(sum(s["three"] for s in stats)),
        "files_with_three_body_frames": int(sum(s["three"] > 0 for s in stats)),
        "files_with_spurious_body": int(sum(s["ghost"] for s in stats)),
    }


def _progress(it, total: int, enabled: bool):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, total=total, desc="synth", unit="file")
