"""The custom ``.npz`` format: bring your own skeletons without writing a reader.

One ``.npz`` per sequence (``numpy.savez``), read without pickle. Keys:

``joints`` (required)
    ``(T, V, C)`` or ``(T, M, V, C)`` numbers, C = 3 (x, y, z in metres) or 2 (image
    coordinates); T frames, M body slots (absent bodies all zeros), V joints. Finite values
    within the bound of their kind only (:mod:`mans.coordinates`: 100 m for 3-D, 100,000 for
    2-D; e.g. millimetres are refused: divide them by 1000).
``layout``
    name of a built-in layout (``ntu25``, ``kinect20``, ``hdm05``, ...) or of the layout the
    caller passes (a model's own); together with ``joint_names`` it is instead the name of the
    layout the file defines.
``joint_names`` + ``parents``
    ``(V,)`` strings and ``(V,)`` ints (``-1`` for the root) defining the file's layout, named
    ``layout`` if given, else ``npz-<hash of the definition>`` (files defining the same skeleton
    get equal layouts). Optional ``roles``: ``(R,)`` strings ``"role=joint_name"``
    (roles of :data:`mans.skeleton.ROLES`, needed by the view normalisations); optional ``torso``:
    ``(K,)`` joint indices.
``label``
    0-d int (0-based class index) or str (class name, mapped through ``class_names``).
``subject``
    0-d int, 1-based. ``name``: 0-d str (default: the file stem). ``fps``: 0-d number.

Other keys are ignored. See docs/formats.md.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Sequence as Seq

import numpy as np

from ..coordinates import check_joints
from ..errors import ConfigError, FormatError
from ..skeleton import BUILTIN_LAYOUTS, ROLES, Layout, Sequence, builtin_layout

KEYS = ("joints", "layout", "joint_names", "parents", "roles", "torso", "label", "subject",
        "name", "fps")


def _load(path: Path, keys: Seq[str] = KEYS) -> dict[str, np.ndarray]:
    """The archive's arrays among ``keys`` (no pickle); any decoding failure -> FormatError."""
    if not path.is_file():
        raise FormatError(path, "no such file")
    with open(path, "rb") as f:
        npy = f.read(6) == b"\x93NUMPY"  # a single array: numpy reads it, refused below
    if not npy and not zipfile.is_zipfile(path):  # junk would reach numpy's pickle message
        raise FormatError(path, "not a readable .npz archive (not a zip file); expected "
                                "numpy.savez output")
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as e:  # corrupt zip / npy header: numpy raises many exception types
        raise FormatError(path, f"not a readable .npz archive ({type(e).__name__}: "
                          f"{str(e)[:120]}); expected numpy.savez output") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise FormatError(path, "expected an .npz archive (numpy.savez), found a single array")
    try:
        with archive:
            return {k: np.asarray(archive[k]) for k in archive.files if k in keys}
    except Exception as e:  # corrupt member, object arrays (pickle refused), bad CRC, ...
        raise FormatError(path, f"not a readable .npz archive ({type(e).__name__}: "
                          f"{str(e)[:120]}); expected numpy.savez output without objects") from None


def _scalar(path: Path, d: dict, key: str, kind: str):
    """The 0-d value of ``key`` as int/float/str (``kind`` = "i", "f", "s", or "is"), or None."""
    if key not in d:
        return None
    a = d[key]
    if a.ndim != 0 and a.size != 1:
        raise FormatError(path, f"key {key!r}: expected a single value, found shape {a.shape}")
    v = a.reshape(()).item() if a.ndim else a.item()
    if "s" in kind and isinstance(v, str):
        return v
    if "i" in kind and isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v)
    if "f" in kind and isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
            v, bool):
        return float(v)
    want = {"i": "an integer", "f": "a number", "s": "a string", "is": "an integer or string"}
    raise FormatError(path, f"key {key!r}: expected {want[kind]}, found {a.dtype} {v!r:.40}")


def define_layout(path: Path, d: dict, name: str | None) -> Layout:
    """The layout given by ``joint_names`` + ``parents`` (+ ``roles``, ``torso``)."""
    if "parents" not in d or "joint_names" not in d:
        missing = "parents" if "parents" not in d else "joint_names"
        raise FormatError(path, f"key {missing!r} missing: 'joint_names' and 'parents' define a "
                          f"layout together")
    names, parents = d["joint_names"], d["parents"]
    if names.ndim != 1 or names.dtype.kind != "U":
        raise FormatError(path, "key 'joint_names': expected a 1-D array of strings")
    if parents.ndim != 1 or parents.dtype.kind not in "iu" or parents.shape != names.shape:
        raise FormatError(path, f"key 'parents': expected {names.shape[0]} integers (one per "
                          f"joint name, -1 for the root)")
    joints = tuple(str(n) for n in names)
    if len(set(joints)) != len(joints):
        raise FormatError(path, "key 'joint_names': names must be unique")
    roles: dict[str, int] = {}
    if "roles" in d:
        if d["roles"].ndim != 1 or d["roles"].dtype.kind != "U":
            raise FormatError(path, "key 'roles': expected a 1-D array of 'role=joint_name'")
        for entry in d["roles"]:
            role, _, joint = str(entry).partition("=")
            if role not in ROLES or joint not in joints:
                raise FormatError(path, f"key 'roles': {str(entry)[:40]!r} is not "
                                  f"'role=joint_name' with a role of {ROLES} and a joint name")
            roles[role] = joints.index(joint)
    torso: tuple[int, ...] = ()
    if "torso" in d:
        if d["torso"].ndim != 1 or d["torso"].dtype.kind not in "iu":
            raise FormatError(path, "key 'torso': expected a 1-D array of joint indices")
        torso = tuple(int(j) for j in d["torso"])
    spec = (joints, tuple(int(p) for p in parents), tuple(sorted(roles.items())), torso)
    name = name or "npz-" + hashlib.sha1(repr(spec).encode()).hexdigest()[:10]
    try:
        layout = Layout(name=name, joints=joints, parents=spec[1], roles=roles, torso=torso)
    except ConfigError as e:
        raise FormatError(path, f"layout definition: {e}") from None
    if name in BUILTIN_LAYOUTS and BUILTIN_LAYOUTS[name] != layout:
        raise FormatError(path, f"key 'layout': {name!r} is a built-in layout, which the file's "
                          f"joint_names/parents/roles/torso do not match; name yours otherwise")
    return layout


def _resolve_layout(path: Path, d: dict, default: Layout | str | None) -> Layout:
    """The file's own layout, else the one it names (``default`` when it has that name, else a
    built-in one), else ``default``."""
    name = _scalar(path, d, "layout", "s")
    if "joint_names" in d or "parents" in d:
        return define_layout(path, d, name)
    if isinstance(default, Layout) and name in (None, default.name):
        return default
    if not (name or default):
        raise FormatError(path, "no layout: give 'layout' (a built-in name) or 'joint_names' "
                          "+ 'parents'")
    try:
        return builtin_layout(name or default)  # type: ignore[arg-type]
    except ConfigError as e:
        raise FormatError(path, f"key 'layout': {e}") from None


def read_npz(path: str | Path, layout: Layout | str | None = None,
             class_names: Seq[str] | None = None) -> Sequence:
    """Read one custom ``.npz`` sequence (keys in the module docstring).

    Args:
        path: the file.
        layout: the layout (or a built-in layout's name) of a file that names none; a
            :class:`Layout` is also used for a file that names it without defining it.
        class_names: maps a string ``label`` to its index (a string label without it -> None).

    Returns:
        :class:`Sequence` with joints ``(T, M, V, C)`` float32 (a 3-D ``joints`` gets M = 1).

    Raises:
        FormatError: naming the file and the offending key.
    """
    return read_npz_with_label(path, layout, class_names)[0]


def read_npz_with_label(path: str | Path, layout: Layout | str | None = None,
                        class_names: Seq[str] | None = None) -> tuple[Sequence, int | str | None]:
    """:func:`read_npz` plus the file's ``label`` exactly as stored (int, str or None)."""
    path = Path(path)
    d = _load(path)
    if "joints" not in d:
        raise FormatError(path, f"no 'joints' array; keys found: {sorted(d)}; expected 'joints' "
                          f"(T, V, C) or (T, M, V, C)")
    joints = d["joints"]
    if joints.dtype.kind not in "iuf":
        raise FormatError(path, f"key 'joints': expected numbers, found dtype {joints.dtype}")
    if joints.ndim in (3, 4) and joints.shape[0] == 0:
        raise FormatError(path, f"key 'joints' has 0 frames (shape {joints.shape}); expected "
                          f"(T, V, C) or (T, M, V, C) with no empty axis")
    if joints.ndim == 3:
        joints = joints[:, None]  # (T, 1, V, C)
    if joints.ndim != 4 or joints.shape[-1] not in (2, 3) or 0 in joints.shape:
        raise FormatError(path, f"key 'joints': expected shape (T, V, C) or (T, M, V, C) with "
                          f"C in (2, 3) and no empty axis, found {d['joints'].shape}")
    lay = _resolve_layout(path, d, layout)
    joints = check_joints(path, joints, lay, locate=lambda tmv: (  # (T, M, V, C) float32
        None, f"key 'joints', frame {tmv[0]}, body slot {tmv[1]}, joint {tmv[2]} "
              f"({lay.joints[tmv[2]]})"))

    stored = label = _scalar(path, d, "label", "is")
    if isinstance(label, str):
        if class_names is None:
            label = None
        elif label not in class_names:
            raise FormatError(path, f"key 'label': {label!r} is not a known class")
        else:
            label = list(class_names).index(label)
    elif label is not None and (label < 0 or (class_names is not None
                                              and label >= len(class_names))):
        raise FormatError(path, f"key 'label': class index {label} out of range")
    subject = _scalar(path, d, "subject", "i")
    if subject is not None and subject < 1:
        raise FormatError(path, f"key 'subject': expected a 1-based id, found {subject}")
    fps = _scalar(path, d, "fps", "f")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise FormatError(path, f"key 'fps': expected a positive number, found {fps}")
    name = _scalar(path, d, "name", "s") or path.stem
    seq = Sequence(joints=joints, layout=lay, name=name, label=label, subject=subject,
                   fps=fps, source=str(path))
    return seq, stored
