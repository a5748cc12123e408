"""Writer of NTU RGB+D ``.skeleton`` files (the official text layout, see :mod:`mans.formats.ntu`):
synthetic data (:mod:`mans.synth`) and tests write files the reader reads back bit-for-bit.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..skeleton import NTU25

NUM_JOINTS = NTU25.num_joints  # 25 (Kinect v2)

# Approximate Kinect v2 pinhole intrinsics, only to fill the depth/colour pixel fields plausibly
# (the reader ignores them). Image y grows downwards while camera y grows upwards.
_DEPTH_F, _DEPTH_C = 365.5, (256.0, 212.0)
_COLOR_F, _COLOR_C = 1064.0, (960.0, 540.0)
_BODY_ID_BASE = 72057594037927936  # Kinect body tracking ids are large 64-bit integers
# x y z to 9 significant digits (exact float32 round trip), pixels to 7, then fixed fields.
_JOINT_FMT = "%.9G %.9G %.9G %.7G %.7G %.7G %.7G 0 0 0 0 2"


def write_skeleton(
    path: str | Path,
    joints: np.ndarray,
    *,
    bodies: np.ndarray | list[int] | None = None,
    newline: str = "\r\n",
) -> Path:
    """Write joints in the official NTU ``.skeleton`` text format.

    Args:
        path: output file.
        joints: ``(T, M, 25, 3)`` x, y, z in metres (camera space: z is the distance from the
            camera, y up). Values are written with 9 significant digits, so float32 input reads
            back bit-for-bit.
        bodies: ``(T,)`` number of bodies listed in each frame; frame ``t`` lists slots
            ``0 .. bodies[t]-1``. Default: each frame lists its slots up to the last one with a
            non-zero joint (so all-zero trailing slots, and all-zero frames, list no body).
        newline: line end, CRLF like the official release by default.

    Each listed body gets the 10-field info line (body id ``72057594037927936 + slot``), the joint
    count 25 and 25 joint lines of 12 fields; depth/colour pixels are an approximate Kinect v2
    projection, orientations are 0 and every joint is "tracked" (2).

    The file is written under a temporary name and renamed, so it is complete or absent.

    Returns:
        ``Path(path)``.
    """
    joints = np.asarray(joints)
    if joints.ndim != 4 or joints.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be (T, M, {NUM_JOINTS}, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints must be finite")
    t_len, m = joints.shape[:2]
    if bodies is None:
        present = np.any(joints != 0, axis=(2, 3))  # (T, M)
        bodies = np.where(present.any(1), m - np.argmax(present[:, ::-1], axis=1), 0)
    bodies = np.asarray(bodies, dtype=np.int64)
    if bodies.shape != (t_len,) or (bodies < 0).any() or (bodies > m).any():
        raise ValueError(f"bodies must be (T,) = ({t_len},) ints in [0, {m}], got {bodies}")

    xyz = joints.astype(np.float64)  # (T, M, 25, 3)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    safe_z = np.where(z > 0, z, 1.0)
    pixels = np.stack([  # (T, M, 25, 4): depthX depthY colorX colorY, 0 behind the camera
        _DEPTH_C[0] + _DEPTH_F * x / safe_z, _DEPTH_C[1] - _DEPTH_F * y / safe_z,
        _COLOR_C[0] + _COLOR_F * x / safe_z, _COLOR_C[1] - _COLOR_F * y / safe_z,
    ], axis=-1) * (z > 0)[..., None]
    rows = np.concatenate([xyz, pixels], axis=-1)  # (T, M, 25, 7)

    body_fmt = newline.join([_JOINT_FMT] * NUM_JOINTS)
    out = [str(t_len)]
    for t in range(t_len):
        out.append(str(int(bodies[t])))
        for s in range(int(bodies[t])):
            out.append(f"{_BODY_ID_BASE + s} 0 1 1 1 1 0 0 0 2")
            out.append(str(NUM_JOINTS))
            out.append(body_fmt % tuple(rows[t, s].ravel().tolist()))
    path = Path(path)
    # Written beside and renamed into place: a failed write (disk full) leaves no partial file.
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="ascii", newline="") as fh:
            fh.write(newline.join(out) + newline)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
