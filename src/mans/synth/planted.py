"""Planted-signal data: sequences in which only a known window of frames carries the class.

A test of temporal attention needs data where the right answer is known. Each sample here is
one performer (a body of :mod:`mans.synth.body`) who, inside a window of frames, performs one
of the :data:`TARGETS` actions (the class), and outside it either stands idle (breathing-sized
sway) or performs one of the :data:`DISTRACTORS` (actions that are never a class), so only the
window tells the class::

    frames 0 .. T-1        [ idle | distractor ] [ window: the class motion ] [ idle | distr. ]
    T                      uniform in FRAMES (64-96; the model's S = 32 rows sub-sample them)
    window length          round(T * u), u uniform in WINDOW_SHARE (a quarter to 40 %)
    window start           uniform over the places where it fits
    each side              idle or a distractor (half and half), a distractor only when the side
                           holds at least MIN_MOTION frames

Every draw comes from a generator seeded from ``(seed, tag, subject, replication, label)``
(:func:`mans.synth.common._rng`), so a sample depends only on its identity. The camera and the
sensor are simple: the performer faces the camera give or take 40 degrees and every coordinate
gets Gaussian noise of 8 mm.

:func:`write_planted` writes the samples as a custom dataset folder (``mans prepare custom``,
docs/formats.md): one ``.npz`` per sample, ``labels.csv`` (``file,label,subject,split,
window_start,window_stop,background``; ``split`` by subject, a third of them test) and
``classes.txt``; the window (frames ``window_start <= t < window_stop`` of the file) travels into
the store's per-sample ``extra`` metadata. Every frame holds one body, so preparing keeps all
frames and the stored frame ``t`` is the file's frame ``t``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..outputs import check_out_folder
from .actions import ACTIONS, Ctx, Motion
from .body import Body, make_body
from .common import _rng, ry
from .staging import CAMERAS, action_time, animate

TARGETS = (10, 23, 27, 24, 7)  # NTU ids: clapping, hand waving, jump up, kicking, throw
DISTRACTORS = (26, 20, 6)  # hopping, put on a hat, pick up: motion that is never a class
FRAMES = (64, 96)  # sequence length range (inclusive)
WINDOW_SHARE = (0.25, 0.4)  # window length / sequence length
MIN_MOTION = 12  # a side shorter than this stays idle
NOISE_M = 0.008  # sensor noise per coordinate, metres
_TAG_PLANTED = 11


@dataclass(frozen=True)
class PlantedSample:
    """One planted sample: ``joints (T, 25, 3)`` float32 camera-space metres (NTU layout), the
    class ``label`` (index into :data:`TARGETS`), the window ``[start, stop)`` of frames that
    carries it, and what fills each side (``"idle"`` or a distractor's NTU code)."""

    joints: np.ndarray
    label: int
    start: int
    stop: int
    subject: int
    replication: int
    background: tuple[str, str]


def class_names() -> list[str]:
    """The NTU names of :data:`TARGETS`, in label order."""
    return [ACTIONS[a].name for a in TARGETS]


def _idle(body: Body, t: int, rng: np.random.Generator) -> np.ndarray:
    """``(t, 25, 3)``: standing, with a slow sway of the trunk and arms of a few degrees."""
    u = np.arange(t) / 30.0  # seconds at 30 fps
    ph = rng.uniform(0, 2 * np.pi, size=3)
    f = rng.uniform(0.2, 0.5)
    dofs = {"pitch": 1.5 * np.sin(2 * np.pi * f * u + ph[0]),
            "l_sh_flex": 3.0 * np.sin(2 * np.pi * f * u + ph[1]),
            "r_sh_flex": 3.0 * np.sin(2 * np.pi * f * u + ph[2])}
    return animate(body, Motion(dofs), t)


def _motion(body: Body, ntu: int, t: int, rng: np.random.Generator) -> np.ndarray:
    """``(t, 25, 3)``: action ``ntu`` (a single-person one with its own function) played over
    exactly ``t`` frames."""
    v = action_time(t, rng)
    perf = ACTIONS[ntu].fn(Ctx(v, rng, [body]))
    return animate(body, perf.motions[0], t)


def planted_sample(seed: int, subject: int, replication: int, label: int) -> PlantedSample:
    """The sample of ``subject`` (1-based), ``replication`` and class ``label`` (module
    docstring); the same arguments give the same sample."""
    if not 0 <= label < len(TARGETS):
        raise ConfigError(f"planted: label must be in 0..{len(TARGETS) - 1}, got {label}")
    rng = _rng(seed, _TAG_PLANTED, subject, replication, label)
    body = make_body(seed, subject)
    t = int(rng.integers(FRAMES[0], FRAMES[1] + 1))
    n = int(round(t * rng.uniform(*WINDOW_SHARE)))
    start = int(rng.integers(0, t - n + 1))
    parts, background = [], []
    for lo, hi in ((0, start), (start + n, t)):
        if hi - lo == 0:
            background.append("none")
            continue
        if hi - lo >= MIN_MOTION and rng.random() < 0.5:
            ntu = int(rng.choice(DISTRACTORS))
            parts.append((lo, _motion(body, ntu, hi - lo, rng)))
            background.append(ACTIONS[ntu].code)
        else:
            parts.append((lo, _idle(body, hi - lo, rng)))
            background.append("idle")
    parts.append((start, _motion(body, TARGETS[label], n, rng)))
    pos = np.concatenate([p for _, p in sorted(parts, key=lambda x: x[0])])  # (T, 25, 3)
    spot = np.array([rng.uniform(-0.3, 0.3), 0.0, rng.uniform(-0.3, 0.3)])
    room = pos @ ry(180.0 + rng.uniform(-40, 40)).T + spot  # faces camera 1 (at -z)
    cam = CAMERAS[1].to_camera(room)
    cam = cam + rng.normal(0.0, NOISE_M, size=cam.shape)
    return PlantedSample(cam.astype(np.float32), label, start, start + n, subject, replication,
                         (background[0], background[1]))


def write_planted(out: str | Path, seed: int = 0, subjects: int = 12, replications: int = 5
                  ) -> dict:
    """Write ``subjects x replications x len(TARGETS)`` planted samples into the custom dataset
    folder ``out`` (module docstring); subjects 3, 6, 9, ... are the test split. Returns a
    summary (files, classes, splits, window share statistics)."""
    if subjects < 2 or replications < 1:
        raise ConfigError(f"planted: need at least 2 subjects and 1 replication, got "
                          f"{subjects} and {replications}")
    out = Path(out)
    check_out_folder(out, "output folder")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("*.npz")):
        raise ConfigError(f"{out} already holds .npz files; use an empty or new folder")
    names = class_names()
    rows, shares = [], []
    for s in range(1, subjects + 1):
        split = "test" if s % 3 == 0 else "train"
        for r in range(1, replications + 1):
            for k in range(len(TARGETS)):
                p = planted_sample(seed, s, r, k)
                file = f"P{s:03d}R{r:03d}K{k:02d}.npz"
                np.savez(out / file, joints=p.joints, layout="ntu25", subject=s)
                rows.append([file, names[k], s, split, p.start, p.stop, "+".join(p.background)])
                shares.append((p.stop - p.start) / len(p.joints))
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "subject", "split", "window_start", "window_stop",
                    "background"])
        w.writerows(rows)
    (out / "classes.txt").write_text("\n".join(names) + "\n")
    summary = {"out": str(out), "seed": int(seed), "files": len(rows), "classes": names,
               "targets": list(TARGETS), "distractors": list(DISTRACTORS),
               "train": sum(r[3] == "train" for r in rows),
               "test": sum(r[3] == "test" for r in rows),
               "window_share": {"min": round(min(shares), 3), "max": round(max(shares), 3),
                                "mean": round(float(np.mean(shares)), 3)}}
    (out / "planted.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
