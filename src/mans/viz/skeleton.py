"""Drawing skeletons with matplotlib: the bones of a :class:`~mans.skeleton.Layout`, every body.

One :class:`SkeletonPanel` owns a matplotlib axes (2-D, or 3-D for 3-D joints) with one line
collection per body slot, and :meth:`SkeletonPanel.draw` moves the bones to a given frame, so an
animation re-uses the same artists for every frame. Display axes: 3-D joints are drawn as
(x, z, y) with y vertical (Kinect and Acclaim use y up, z depth); 2-D joints as (x, y) with y
pointing down (image coordinates).
"""

from __future__ import annotations

import numpy as np

from ..skeleton import Layout
from ..data.bodies import body_presence

BODY_COLOURS = ("tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown")


def bone_segments(frame: np.ndarray, layout: Layout) -> list[np.ndarray]:
    """The bones of one frame, per present body slot.

    Args:
        frame: ``(M, V, C)`` joints of one frame (an absent body is all zeros).
        layout: the joints' layout; its bones are ``(child, parent)`` pairs.

    Returns:
        one ``(E, 2, C)`` array per body slot (E = number of the layout's bones), empty
        ``(0, 2, C)`` for an absent body.
    """
    m, v, c = frame.shape
    bones = np.asarray(layout.bones, dtype=np.int64).reshape(-1, 2)  # (E, 2)
    present = body_presence(frame[None])[0]  # (M,)
    return [frame[b][bones] if present[b] else np.zeros((0, 2, c), frame.dtype)
            for b in range(m)]


def display_coords(points: np.ndarray) -> np.ndarray:
    """Joint coordinates ``(..., C)`` in display order: (x, z, y) for C = 3, (x, y) for C = 2."""
    return points[..., [0, 2, 1]] if points.shape[-1] == 3 else points


def sequence_limits(joints: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """``(C, 2)`` display-axis limits holding every present joint of ``joints (T, M, V, C)``
    (equal spans on all axes, so that bone lengths are not distorted)."""
    present = body_presence(joints)  # (T, M)
    pts = display_coords(joints[present].reshape(-1, joints.shape[-1]))  # (N, C)
    if pts.size == 0:
        return np.tile([-1.0, 1.0], (joints.shape[-1], 1))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2, 1e-6) * (1 + margin)
    return np.stack([centre - half, centre + half], axis=1)


class SkeletonPanel:
    """The skeleton of a sequence in one matplotlib axes, redrawn per frame.

    Args:
        fig: the figure.
        spec: where the axes goes (a matplotlib ``SubplotSpec``, e.g. ``GridSpec(...)[0]``).
        joints: ``(T, M, V, C)`` the whole sequence (fixes the axis limits).
        layout: the joints' layout.
    """

    def __init__(self, fig, spec, joints: np.ndarray, layout: Layout) -> None:
        from matplotlib.collections import LineCollection

        self.joints, self.layout = joints, layout
        self.dims = joints.shape[-1]
        limits = sequence_limits(joints)
        if self.dims == 3:
            from mpl_toolkits.mplot3d.art3d import Line3DCollection

            self.ax = fig.add_subplot(spec, projection="3d")
            self.ax.set_xlim(*limits[0])
            self.ax.set_ylim(*limits[1])
            self.ax.set_zlim(*limits[2])
            self.ax.set_xlabel("x")
            self.ax.set_ylabel("z")
            self.ax.set_zlabel("y")
            self.ax.set_box_aspect((1, 1, 1), zoom=1.25)  # less empty margin round the cube
            self.ax.view_init(elev=10, azim=-80)
            make = Line3DCollection
        else:
            self.ax = fig.add_subplot(spec)
            self.ax.set_xlim(*limits[0])
            self.ax.set_ylim(limits[1][1], limits[1][0])  # image coordinates: y down
            self.ax.set_aspect("equal")
            make = LineCollection
        self.collections = []
        for b in range(joints.shape[1]):
            col = make([], colors=BODY_COLOURS[b % len(BODY_COLOURS)], linewidths=2)
            if self.dims == 3:
                self.ax.add_collection3d(col, autolim=False)  # the limits are set above
            else:
                self.ax.add_collection(col, autolim=False)
            self.collections.append(col)

    def draw(self, t: int) -> int:
        """Move the bones to frame ``t``; returns the number of bones drawn (over all bodies)."""
        drawn = 0
        for col, segs in zip(self.collections, bone_segments(self.joints[t], self.layout)):
            col.set_segments(list(display_coords(segs)))  # E x (2, C)
            drawn += len(segs)
        return drawn
