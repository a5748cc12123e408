"""The 2-D path: image key points of pose estimators -> body-centred, size-normalised coordinates.

Pose estimators (OpenPose, MMPose/HRNet, YOLO-pose, MediaPipe) give image coordinates in pixels
(or image fractions), with the y axis pointing down, a confidence per joint and joints that were
not found (score 0, coordinates 0). There is no 3-D body frame to rotate into, so the ``"2d"``
view normalisation (``PrepConfig(view="2d")``) does, for each body slot separately:

1. **valid joints**: score > 0 when scores are known, else any non-zero coordinate;
2. **centre**: the hip mid-point ``(left_hip + right_hip) / 2`` (joint roles), in every frame where
   both hips are valid; the slot's origin is the per-axis median over those frames (robust to
   detection jitter, and global motion such as walking survives, as in the 3-D ``gcn`` view);
3. **scale**: the torso length ``|shoulder mid-point - hip mid-point|``, median over the frames
   where all four joints are valid; coordinates are divided by it (so the unit is "one torso");
4. **y up**: y is negated so that +y points up, as in the 3-D views;
5. invalid joints and absent slots are exactly 0 after the transform;
6. optionally (``PrepConfig.confidence``) the joint scores become a third channel, so the
   network's input is (x, y, score); without it the input has 2 channels.

Fallbacks, for slots where a role is never valid: no hip frame -> origin = median of the valid
joints' centroid per frame; no torso frame -> scale = median per-frame bounding-box height of the
valid joints divided by 3 (a torso is about a third of a standing person's height); a scale below
1e-8 -> 1.

Body slots (:func:`select_slots_2d`): unlike the 3-D path, slots are never packed and no frame is
dropped for holding too many people: readers already matched people to slots across frames
(:func:`mans.formats.keypoints.assign_slots`), and packing would swap identities. The
``max_bodies`` slots present in most frames are kept (ties: the larger summed score, then the
lower slot).
"""

from __future__ import annotations

import numpy as np

from ..skeleton import Layout

_EPS = 1e-8
ROLES_2D = ("left_hip", "right_hip", "left_shoulder", "right_shoulder")


def valid_joints(joints: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
    """``(T, M, V)`` bool: joint detected (score > 0, or any non-zero coordinate without scores).

    Args:
        joints: ``(T, M, V, C)``.
        scores: ``(T, M, V)`` or None.
    """
    nonzero = (joints != 0).any(axis=3)
    return nonzero if scores is None else nonzero & (scores > 0)


def select_slots_2d(joints: np.ndarray, scores: np.ndarray | None,
                    max_bodies: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Keep the ``max_bodies`` body slots present in most frames, in their original order, and
    zero-pad to ``max_bodies`` slots when there are fewer.

    Args:
        joints: ``(T, M, V, C)``; scores ``(T, M, V)`` or None.

    Returns:
        ``(joints (T, max_bodies, V, C), scores (T, max_bodies, V) or None)``.
    """
    t, m, v, c = joints.shape
    valid = valid_joints(joints, scores)  # (T, M, V)
    if m > max_bodies:
        frames = valid.any(axis=2).sum(axis=0)  # (M,) frames in which each slot holds a body
        mass = (scores * valid).sum(axis=(0, 2)) if scores is not None else valid.sum(axis=(0, 2))
        # lexsort: last key is primary -> most frames, then most score, then lowest slot
        order = np.lexsort((np.arange(m), -mass, -frames))[:max_bodies]
        keep = np.sort(order)
        joints = joints[:, keep]
        scores = scores[:, keep] if scores is not None else None
    elif m < max_bodies:
        joints = np.concatenate([joints, np.zeros((t, max_bodies - m, v, c), joints.dtype)], 1)
        if scores is not None:
            scores = np.concatenate([scores, np.zeros((t, max_bodies - m, v), scores.dtype)], 1)
    return joints, scores


def _median_rows(x: np.ndarray, ok: np.ndarray) -> np.ndarray | None:
    """Per-axis median of the rows of ``x`` (T, D) where ``ok`` (T,); None when none is ok."""
    return np.median(x[ok], axis=0) if ok.any() else None


def normalise_2d(joints: np.ndarray, scores: np.ndarray | None, layout: Layout,
                 confidence: bool = False) -> np.ndarray:
    """The ``"2d"`` view normalisation of every body slot (module docstring).

    Args:
        joints: ``(T, M, V, 2)`` image coordinates (pixels or fractions; y down).
        scores: ``(T, M, V)`` confidences in [0, 1], or None.
        layout: gives the hip and shoulder roles.
        confidence: append the scores (1 for valid joints when None) as a third channel.

    Returns:
        ``(T, M, V, 2 or 3)`` float64: body-centred coordinates in torso lengths, +y up; invalid
        joints and absent slots exactly 0.
    """
    joints = np.asarray(joints, dtype=np.float64)
    t, m, v, _ = joints.shape
    valid = valid_joints(joints, scores)  # (T, M, V)
    lh, rh = layout.role("left_hip"), layout.role("right_hip")
    ls, rs = layout.role("left_shoulder"), layout.role("right_shoulder")
    out = np.zeros((t, m, v, 3 if confidence else 2), dtype=np.float64)
    for b in range(m):  # a handful of slots: the per-frame work below is vectorised
        p, ok = joints[:, b], valid[:, b]  # (T, V, 2), (T, V)
        if not ok.any():
            continue
        hip = 0.5 * (p[:, lh] + p[:, rh])  # (T, 2)
        hip_ok = ok[:, lh] & ok[:, rh]
        origin = _median_rows(hip, hip_ok)
        if origin is None:  # no frame with both hips: centroid of the valid joints
            cnt = ok.sum(axis=1)  # (T,)
            centroid = (p * ok[..., None]).sum(axis=1) / np.maximum(cnt, 1)[:, None]
            origin = _median_rows(centroid, cnt > 0)
        torso_ok = hip_ok & ok[:, ls] & ok[:, rs]
        torso = np.linalg.norm(0.5 * (p[:, ls] + p[:, rs]) - hip, axis=1)  # (T,)
        scale = float(np.median(torso[torso_ok])) if torso_ok.any() else None
        if scale is None:  # no torso frame: a third of the median bounding-box height
            ys = np.where(ok, p[..., 1], np.nan)
            rows = ok.any(axis=1)
            height = np.nanmax(ys[rows], axis=1) - np.nanmin(ys[rows], axis=1)
            scale = float(np.median(height)) / 3.0
        if not scale > _EPS:
            scale = 1.0
        xy = (p - origin) / scale  # (T, V, 2)
        xy[..., 1] *= -1.0  # image y points down; +y up as in the 3-D views
        out[:, b, :, :2] = np.where(ok[..., None], xy, 0.0)
        if confidence:
            conf = scores[:, b] if scores is not None else np.ones((t, v))
            out[:, b, :, 2] = np.where(ok, conf, 0.0)
    return out


# --- synthetic 2-D views of 3-D data (bench/accuracy2d.py) ---------------------------------------

KINECT_V1_INTRINSICS = (525.0, 320.0, 240.0)  # focal length and principal point, pixels, 640x480
MIN_DEPTH = 0.1  # metres: a joint nearer to the camera than this (or behind it) is not visible


def pinhole_project(joints: np.ndarray, camera: np.ndarray | None = None,
                    intrinsics: tuple[float, float, float] = KINECT_V1_INTRINSICS) -> np.ndarray:
    """Project 3-D joints (metres, y up) to image pixels (y down) through a pinhole camera.

    The camera sits at ``camera`` (world position, metres; default the origin, i.e. the data are
    already in a Kinect camera frame: x right, y up, z away from the sensor) and looks along +z
    with +y up: ``u = cx + f (x - x0) / (z - z0)``, ``v = cy - f (y - y0) / (z - z0)``.

    Args:
        joints: ``(T, M, V, 3)``; all-zero bodies are absent.
        camera: ``(3,)`` camera position, or None for the origin.
        intrinsics: ``(f, cx, cy)`` in pixels.

    Returns:
        ``(T, M, V, 2)`` float32 pixels; absent bodies and invisible joints (nearer than
        ``MIN_DEPTH`` in z, or behind the camera) exactly 0.
    """
    f, cx, cy = intrinsics
    p = np.asarray(joints, dtype=np.float64)
    present = (p != 0).any(axis=(2, 3))  # (T, M)
    rel = p - (np.zeros(3) if camera is None else np.asarray(camera, dtype=np.float64))
    z = rel[..., 2]
    ok = (z > MIN_DEPTH) & present[..., None]  # (T, M, V)
    zs = np.where(ok, z, 1.0)
    uv = np.stack([cx + f * rel[..., 0] / zs, cy - f * rel[..., 1] / zs], axis=-1)
    return np.where(ok[..., None], uv, 0.0).astype(np.float32)


def camera_in_front(joints: np.ndarray, layout: Layout, distance: float = 4.0,
                    height: float = 1.0) -> np.ndarray:
    """A camera position ``distance`` metres in front (-z) of the mean hip centre of a motion
    capture sequence (y up), at ``height`` metres: frames the whole performance like a fixed
    camera would. Returns ``(3,)``."""
    p = np.asarray(joints, dtype=np.float64)
    hips = 0.5 * (p[:, :, layout.role("left_hip")] + p[:, :, layout.role("right_hip")])
    present = (p != 0).any(axis=(2, 3))
    centre = hips[present].mean(axis=0) if present.any() else np.zeros(3)
    cam = centre.copy()
    cam[1] = height  # y is up
    cam[2] = centre[2] - distance
    return cam
