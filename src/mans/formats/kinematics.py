"""Forward kinematics of an Acclaim skeleton (the CMU graphics lab convention) and the joint
layout of its bone end points.

With ``C`` the bone's axis rotation and ``M`` its motion rotation, the bone's global rotation is
``G = G_parent @ C @ M @ C^T`` and its end point is ``p = p_parent + length * G @ direction``.
Euler angles are rotations about fixed axes applied in the order written (``axis ... XYZ`` and
``dof rx ry rz`` both give ``R = Rz @ Ry @ Rx``).
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..geometry import euler_to_matrix
from ..skeleton import HDM05, Layout
from .asf import Skeleton

_AXES = "xyz"


def forward_kinematics(skel: Skeleton, root: np.ndarray, dofs: dict[str, np.ndarray]) -> np.ndarray:
    """Joint positions of every frame.

    Args:
        skel: the skeleton.
        root: ``(T, len(skel.root_order))`` root channels as in the AMC (file units/angle unit).
        dofs: bone name -> ``(T, len(bone.dof))`` angles (angle unit) for bones with dofs.

    Returns:
        ``(T, 1 + B, 3)`` float64 metres: the root and each bone's end point, in
        :attr:`Skeleton.joint_names` order.
    """
    to_rad = np.pi / 180.0 if skel.angle_unit == "deg" else 1.0
    scale = skel.metres_per_unit
    t = root.shape[0]
    order = skel.root_order
    trans = np.zeros((t, 3))
    for k, axis in enumerate(_AXES):
        if f"t{axis}" in order:
            trans[:, k] = root[:, order.index(f"t{axis}")]
    rot_channels = [c for c in order if c.startswith("r")]
    m_root = euler_to_matrix(root[:, [order.index(c) for c in rot_channels]] * to_rad,
                             "".join(c[1] for c in rot_channels))  # (T, 3, 3)
    c_root = euler_to_matrix(np.asarray(skel.root_orientation) * to_rad, skel.root_axis)
    glob = {"root": c_root @ m_root @ c_root.T}  # bone name -> (T, 3, 3) global rotation
    pos = {"root": (np.asarray(skel.root_position) + trans) * scale}  # name -> (T, 3) metres
    for b in skel.bones:
        c = euler_to_matrix(np.asarray(b.axis) * to_rad, b.axis_order)  # (3, 3)
        if b.dof:
            m = euler_to_matrix(dofs[b.name] * to_rad, "".join(d[1] for d in b.dof))  # (T,3,3)
            local = c @ m @ c.T
            glob[b.name] = glob[b.parent] @ local
        else:
            glob[b.name] = glob[b.parent]  # C @ I @ C^T = I
        offset = glob[b.name] @ (np.asarray(b.direction) * (b.length * scale))  # (T, 3)
        pos[b.name] = pos[b.parent] + offset
    return np.stack([pos[n] for n in skel.joint_names], axis=1)


def layout_for(skel: Skeleton) -> Layout:
    """The layout of ``skel``'s joints: the built-in ``hdm05`` when its bones and hierarchy are
    the HDM05/CMU ones, otherwise a layout ``acclaim-<hash of the hierarchy>`` (roles and torso
    copied by joint name from ``hdm05`` where the names exist)."""
    joints, parents = skel.joint_names, skel.joint_parents
    if joints == HDM05.joints and parents == HDM05.parents:
        return HDM05
    digest = hashlib.sha1(repr((joints, parents)).encode()).hexdigest()[:10]
    idx = {n: i for i, n in enumerate(joints)}
    roles = {r: idx[HDM05.joints[j]] for r, j in HDM05.roles.items() if HDM05.joints[j] in idx}
    torso = tuple(idx[HDM05.joints[j]] for j in HDM05.torso if HDM05.joints[j] in idx)
    return Layout(name=f"acclaim-{digest}", joints=joints, parents=parents, roles=roles,
                  torso=torso)
