"""View normalisation, the prepare-time step after body selection: what
:func:`mans.data.pipeline.prepare_sequence` (run once per sample by ``mans prepare`` and for every
input at inference) does with the bodies of a read :class:`~mans.skeleton.Sequence` before it is
stored as ``(C, T', J)``.

Following the authors' ``process_data.py`` (github.com/memory-attention-networks/MANs):

1. bodies (:func:`mans.data.bodies.select_bodies`): frames with more than ``max_bodies`` bodies are
   dropped, the present bodies of a frame packed to the front, the body axis cut / zero-padded to
   ``max_bodies`` slots;
2. view normalisation, one of
   - ``"authors"`` (:func:`view_authors`): for each body slot, an origin (hip centre) and a
     rotation (PCA of the torso + hip vector) are computed once, from the first frame in which
     that slot is occupied, and applied to all its frames; then :func:`disambiguate_signs` flips
     whole axes so that the subject stands up (+z), faces +y and has its right hip on +x.
   - ``"gcn"`` (:func:`view_gcn`): one rigid transform for the whole sequence (all bodies), from
     body 0 in its first frame: origin at the spine base, +z along spine base -> spine top, +x
     along left hip -> right hip (made orthogonal to z), +y = z x x. This is the SGN / CTR-GCN
     translation (one origin per sequence, so global motion such as walking survives) combined
     with the 2s-AGCN style rotation, but with the hips (not the shoulders) defining x, so that
     the axes agree with the authors' convention.
   - ``"2d"`` (:mod:`mans.data.views2d`): image key points, hip-centred and torso-scaled; every
     frame and the readers' body slots are kept;
   - ``"none"``: coordinates as read.
   Absent bodies (all-zero slots) are never transformed: they stay exactly ``0.0``.
3. :func:`to_channels_first`: ``(T', M, V, C)`` -> ``(C, T', M*V)``, the bodies of a frame side by
   side (NTU: ``3 x T' x 50``).

Everything here is vectorised NumPy (no per-frame or per-joint Python loops) and deterministic.
Layouts are always accessed through joint roles (``layout.role("left_hip")``, ``layout.torso``).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..skeleton import Layout
from .bodies import body_presence
from .spec import VIEWS
from .views2d import ROLES_2D

# Joint roles each view normalisation (mans.data.spec.VIEWS) needs (checked up front by
# :func:`check_view`).
VIEW_ROLES = {
    "authors": ("left_hip", "right_hip", "left_shoulder", "left_ankle", "right_ankle",
                "left_foot", "right_foot"),
    "gcn": ("spine_base", "spine_top", "left_hip", "right_hip"),
    "none": (),
    "2d": ROLES_2D,
}
_EPS = 1e-8  # below this an axis length (metres) is degenerate -> that body keeps identity rotation


def check_view(layout: Layout, view: str, channels: int | None = None) -> None:
    """Raise one :class:`ConfigError` listing *everything* that keeps ``view`` from running on
    ``layout`` and ``channels``-dimensional coordinates: every missing joint role, too few torso
    joints, the wrong coordinate dimension (the 3-D views need 3-D, ``2d`` needs 2-D)."""
    if view not in VIEWS:
        raise ConfigError(f"unknown view normalisation {view!r}; choose one of {VIEWS}")
    problems = []
    missing = [r for r in VIEW_ROLES[view] if r not in layout.roles]
    if missing:
        problems.append(f"the joint roles {', '.join(missing)}")
    if view == "authors" and len(layout.torso) < 3:
        problems.append(f"at least 3 torso joints (it defines {len(layout.torso)})")
    want = 2 if view == "2d" else 3
    if view != "none" and channels is not None and channels != want:
        problems.append(f"{want}-D coordinates (the data are {channels}-D)")
    if problems:
        raise ConfigError(f"view normalisation {view!r} cannot run on layout {layout.name!r}: it "
                          f"needs " + "; ".join(problems) + " (docs/formats.md, 'What each view "
                          "needs'); define them in the layout or choose another view")


# --- view normalisation ---------------------------------------------------------------------------


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of ``(B, 3)`` arrays (``np.cross`` has ~3x the call overhead,
    which matters at a few vectors per sample)."""
    i, j = [1, 2, 0], [2, 0, 1]
    return a[:, i] * b[:, j] - a[:, j] * b[:, i]


def principal_axis(points: np.ndarray) -> np.ndarray:
    """First principal component of each point set, as sklearn's ``PCA(...).components_[0]``:
    the points are centred on their own mean and the first right-singular vector is taken.

    Args:
        points: ``(B, K, 3)``.

    Returns:
        ``(B, 3)`` unit vectors. The sign is whatever LAPACK returns; callers fix it.
    """
    centred = points - points.mean(axis=1, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)  # vt (B, 3, 3), rows = components
    return vt[:, 0, :]


def authors_frames(bodies: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """The authors' per-body origin and rotation, from one frame of each body.

    origin ``o`` = mid-point of the hips; ``u = v3`` = first principal axis of the torso joints;
    ``v`` = left hip - right hip; ``v2 = v x u``; ``v1 = v2 x v3``; ``R = [v1, v2, v3] / norms``
    (columns), so ``p' = R^T (p - o)`` puts +x from the left towards the right hip, +z along the
    torso and +y = z x x in front of the body (up to the signs :func:`disambiguate_signs` fixes).

    Sign of ``v3``: a principal axis has no intrinsic sign (sklearn's, via ``svd_flip``, depends on
    the data's coordinates and its version). We point ``v3`` from the hip centre towards the
    torso's centroid, i.e. up the spine. For body 0 this choice cannot change the output (flipping
    ``v3`` negates y and z, which :func:`disambiguate_signs` undoes); for body 1 it makes the
    output view invariant and upright like body 0, whereas the authors' body 1 may end up mirrored.

    A body whose axes are degenerate (``|v1|`` or ``|v2|`` < 1e-8, e.g. all joints at one point)
    keeps the identity rotation (it is still translated to its hip centre).

    Args:
        bodies: ``(B, V, 3)`` one frame of each body.
        layout: gives the hip roles and torso joints.

    Returns:
        ``(origin (B, 3), R (B, 3, 3))`` with ``R[b]`` columns ``v1, v2, v3``.
    """
    lh, rh = bodies[:, layout.role("left_hip")], bodies[:, layout.role("right_hip")]  # (B, 3)
    origin = 0.5 * (lh + rh)
    torso = bodies[:, list(layout.torso)] - origin[:, None]  # (B, K, 3)
    v3 = principal_axis(torso)  # (B, 3)
    up = (v3 * torso.mean(axis=1)).sum(axis=1)  # (B,)
    v3 = np.where(up[:, None] < 0, -v3, v3)
    v2 = _cross(lh - rh, v3)
    v1 = _cross(v2, v3)
    axes = np.stack([v1, v2, v3], axis=2)  # (B, 3, 3), columns v1, v2, v3
    norms = np.sqrt((axes * axes).sum(axis=1, keepdims=True))  # (B, 1, 3)
    ok = np.all(norms[:, 0] > _EPS, axis=1)  # (B,)
    rot = np.where(ok[:, None, None], axes / np.where(norms > _EPS, norms, 1.0), np.eye(3))
    return origin, rot


def view_authors(joints: np.ndarray, layout: Layout,
                 present: np.ndarray | None = None) -> np.ndarray:
    """The authors' view normalisation of each body slot (before sign disambiguation).

    Args:
        joints: ``(T, M, V, 3)``; all-zero slots are absent bodies.
        present: ``(T, M)`` bool body presence (default: the non-zero slots of ``joints``).

    Returns:
        ``(T, M, V, 3)`` float64: ``R_m^T (p - o_m)`` for present bodies, exact zeros elsewhere.
    """
    present = body_presence(joints) if present is None else present  # (T, M)
    first = present.argmax(axis=0)  # (M,) first frame of each slot (0 if never occupied)
    m = joints.shape[1]
    ref = joints[first, np.arange(m)].astype(np.float64)  # (M, V, 3) each slot's first frame
    origin, rot = authors_frames(ref, layout)
    # p' = R^T (p - o), written for row vectors: (p - o) @ R; (T, M, V, 3) @ (1, M, 3, 3).
    out = (joints - origin[None, :, None, :]) @ rot[None]
    out[~present] = 0.0  # absent bodies are never transformed
    return out


def disambiguate_signs(joints: np.ndarray, layout: Layout,
                       present: np.ndarray | None = None) -> np.ndarray:
    """The authors' whole-axis sign flips, decided on body 0 and applied to all bodies.

    - z: negated if body 0's left shoulder has z < 0 in the first frame where body 0 is present;
    - y: negated if the mean over frames of ``y[left_foot] - y[left_ankle]`` or of
      ``y[right_foot] - y[right_ankle]`` is negative (the feet point forward, +y);
    - x: negated if the mean of ``x[right_hip] - x[left_hip]`` is negative.

    Difference from the authors, who test these on their frame array that still holds zero rows
    (0-body and 3+-body frames): the z test uses the first frame *with* body 0 (the authors'
    frame 0 may be an empty row, which silently skips the test); the means run over the frames
    with body 0. Zero rows add zero to both terms of a mean, so the y and x decisions are the
    same as the authors'.

    Args:
        joints: ``(T, M, V, 3)`` view-normalised, absent slots zero.
        present: ``(T, M)`` bool body presence (default: the non-zero slots of ``joints``).

    Returns:
        ``(T, M, V, 3)``: a copy with the flipped axes, or ``joints`` itself when no axis flips;
        absent slots stay exactly ``+0.0``.
    """
    present = body_presence(joints) if present is None else present  # (T, M)
    rows = present[:, 0]
    if not rows.any():
        return joints
    role = layout.role
    cols = [role("left_shoulder"), role("left_foot"), role("left_ankle"), role("right_foot"),
            role("right_ankle"), role("right_hip"), role("left_hip")]
    ls, lf, la, rf, ra, rh, lh = joints[:, 0, cols][rows].transpose(1, 0, 2)  # each (T0, 3)
    sign = np.ones(3)
    if ls[0, 2] < 0:
        sign[2] = -1
    if np.mean(lf[:, 1] - la[:, 1]) < 0 or np.mean(rf[:, 1] - ra[:, 1]) < 0:
        sign[1] = -1
    if np.mean(rh[:, 0] - lh[:, 0]) < 0:
        sign[0] = -1
    if np.all(sign > 0):
        return joints
    out = joints * sign.astype(joints.dtype)
    out[~present] = 0.0  # -1 * 0.0 is -0.0: keep absent bodies bit-exact +0.0
    return out


def gcn_frame(body: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Origin and rotation of the GCN-style normalisation from one frame of one body.

    origin = spine base; ``e3 = (spine_top - spine_base)/|.|``; ``e1`` = (right hip - left hip)
    minus its component along ``e3``, normalised; ``e2 = e3 x e1``. ``R = [e1, e2, e3]`` (columns,
    a proper rotation), so ``p' = R^T (p - o)``. Degenerate axes -> identity rotation.

    Args:
        body: ``(V, 3)``.

    Returns:
        ``(origin (3,), R (3, 3))``.
    """
    origin = body[layout.role("spine_base")]
    up = body[layout.role("spine_top")] - origin
    side = body[layout.role("right_hip")] - body[layout.role("left_hip")]
    n_up = np.linalg.norm(up)
    if n_up <= _EPS:
        return origin, np.eye(3)
    e3 = up / n_up
    side = side - np.dot(side, e3) * e3
    n_side = np.linalg.norm(side)
    if n_side <= _EPS:
        return origin, np.eye(3)
    e1 = side / n_side
    e2 = np.cross(e3, e1)
    return origin, np.stack([e1, e2, e3], axis=1)


def view_gcn(joints: np.ndarray, layout: Layout, present: np.ndarray | None = None) -> np.ndarray:
    """GCN-style normalisation: one rigid transform from body 0's first frame, applied to all
    present bodies of all frames (keeps the bodies' relative placement and global motion).

    Args:
        joints: ``(T, M, V, 3)``.
        present: ``(T, M)`` bool body presence (default: the non-zero slots of ``joints``).

    Returns:
        ``(T, M, V, 3)`` float64, absent slots exactly zero.
    """
    present = body_presence(joints) if present is None else present  # (T, M)
    rows = np.flatnonzero(present[:, 0])
    if rows.size == 0:
        return np.zeros(joints.shape, dtype=np.float64)
    origin, rot = gcn_frame(joints[rows[0], 0].astype(np.float64), layout)
    out = (joints - origin) @ rot  # (T, M, V, 3)
    out[~present] = 0.0
    return out


# --- layout of the stored array -------------------------------------------------------------------


def to_channels_first(joints: np.ndarray) -> np.ndarray:
    """``(T, M, V, C)`` -> ``(C, T, M*V)``: the bodies of a frame side by side (body 0's joints in
    columns ``0..V-1``, body 1's in ``V..2V-1``, ...)."""
    t, m, v, c = joints.shape
    return np.ascontiguousarray(joints.reshape(t, m * v, c).transpose(2, 0, 1))
