"""Body selection, the first step of preparing a 3-D sequence
(:func:`mans.data.pipeline.prepare_sequence`): which body slots of a frame hold a body, and the
fixed number of slots a model takes.

Following the authors' ``process_data.py``, frames with more than ``max_bodies`` bodies are
**dropped** (the authors leave them as zero rows, and drop the whole sample when its *last* frame
has 3+ bodies, a bug); the present bodies of each frame are packed to the front of the body axis
in listed order and the body axis is cut / zero-padded to ``max_bodies`` slots. Frames with no
body stay (zeros). (2-D key points keep their slots as the readers matched them:
:func:`mans.data.views2d.select_slots_2d`.)
"""

from __future__ import annotations

import numpy as np


def body_presence(joints: np.ndarray) -> np.ndarray:
    """``(T, M)`` bool: slot ``m`` of frame ``t`` holds a body (any coordinate non-zero).

    Args:
        joints: ``(T, M, V, C)``.
    """
    t, m, v, c = joints.shape
    return (joints != 0).reshape(t, m, v * c).any(axis=2)  # one reduced axis: faster than two


def kept_frames(joints: np.ndarray, max_bodies: int) -> np.ndarray:
    """``(T,)`` bool: the frames :func:`select_bodies` keeps (at most ``max_bodies`` bodies)."""
    return body_presence(joints).sum(axis=1) <= max_bodies


def select_bodies(joints: np.ndarray, max_bodies: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop frames with more than ``max_bodies`` bodies and fix the body axis to ``max_bodies``.

    Within each kept frame the present bodies are moved to the front slots in their listed order
    (a reader's all-zero body in slot 0 would otherwise shift a real body out of the kept slots).

    Args:
        joints: ``(T, M, V, C)`` float.
        max_bodies: slots to keep.

    Returns:
        ``(joints (T', max_bodies, V, C), kept (T,) bool)``: the kept frames and which input frames
        they are.
    """
    t, m, v, c = joints.shape
    present = body_presence(joints)  # (T, M)
    kept = present.sum(axis=1) <= max_bodies  # (T,)
    if not kept.all():
        joints, present = joints[kept], present[kept]
    if np.any(present[:, 1:] & ~present[:, :-1]):  # a body after an empty slot: pack the frame
        # Stable sort of "absent" (False first) moves present bodies forward, order preserved.
        order = np.argsort(~present, axis=1, kind="stable")  # (T', M)
        joints = joints[np.arange(joints.shape[0])[:, None], order]
    if m >= max_bodies:
        joints = joints[:, :max_bodies]
    else:
        pad = np.zeros((joints.shape[0], max_bodies - m, v, c), dtype=joints.dtype)
        joints = np.concatenate([joints, pad], axis=1)
    return joints, kept
