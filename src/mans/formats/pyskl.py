"""PYSKL / mmaction2 skeleton annotation pickles (docs/formats.md, "PYSKL / mmaction2").

A file holds a whole dataset::

    {"split": {"xsub_train": [frame_dir, ...], "xsub_val": [...], ...},
     "annotations": [{"frame_dir": str, "label": int, "keypoint": (M, T, V, C) array,
                      "keypoint_score": (M, T, V) array?, "img_shape": (h, w)?,
                      "total_frames": int?, ...}, ...]}

(an older mmaction2 file may be the bare list of annotations, without ``split``).

**Safety.** A pickle can name any Python callable, and unpickling calls it: loading an untrusted
pickle with :mod:`pickle` runs arbitrary code. :func:`load_annotations` uses
:class:`RestrictedUnpickler`, which resolves only the names needed to rebuild NumPy arrays, dtypes
and scalars and builtin containers and scalars (:data:`ALLOWED`); any other name (``os.system``,
``builtins.eval``, a class of some package, ...) raises :class:`RefusedPickle` inside the
unpickler and a :class:`~mans.errors.FormatError` naming it, before anything is called.

Layout, from the key-point array (PYSKL's own files): ``V = 17`` -> ``coco17`` (2-D; a third
coordinate without ``keypoint_score`` is the score); ``V = 25`` with 3 coordinates and no
``keypoint_score`` -> ``ntu25`` (PYSKL's 3-D NTU files, metres); ``V = 25`` otherwise ->
``openpose25``; ``V = 18`` -> ``openpose18``; ``V = 20`` with 3 coordinates -> ``kinect20``.
"""

from __future__ import annotations

import builtins
import codecs
import collections
import pickle
from pathlib import Path

import numpy as np

from ..coordinates import check_joints
from ..errors import FormatError
from ..skeleton import COCO17, KINECT20, NTU25, OPENPOSE18, OPENPOSE25, Layout, Sequence

class RefusedPickle(pickle.UnpicklingError):
    """The pickle names a callable (or a use of one) outside :data:`ALLOWED`: told apart from a
    corrupt stream by its type, not by its message."""


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as protocol-2 pickles of bytes use it, limited to latin-1."""
    if encoding not in ("latin1", "latin-1") or not isinstance(obj, str):
        raise RefusedPickle(f"refused _codecs.encode with {str(encoding)[:20]!r}")
    return codecs.encode(obj, "latin1", errors)


def _numpy_reconstructors() -> dict[str, object]:
    """NumPy's own pickling helpers, found from NumPy's reductions (they moved from
    ``numpy.core`` to ``numpy._core`` in NumPy 2; pickles name either)."""
    return {
        "_reconstruct": np.ndarray((0,)).__reduce__()[0],
        "scalar": np.float32(0).__reduce__()[0],
        "_frombuffer": np.ones(1).__reduce_ex__(5)[0],
    }


def _allowed() -> dict[tuple[str, str], object]:
    out: dict[tuple[str, str], object] = {}
    for name, fn in _numpy_reconstructors().items():
        mod = "numeric" if name == "_frombuffer" else "multiarray"
        for pkg in ("numpy.core", "numpy._core"):
            out[(f"{pkg}.{mod}", name)] = fn
    out[("numpy", "ndarray")] = np.ndarray
    out[("numpy", "dtype")] = np.dtype
    for name in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "str",
                 "bytes", "bytearray", "bool", "slice"):
        out[("builtins", name)] = out[("__builtin__", name)] = getattr(builtins, name)
    out[("collections", "OrderedDict")] = collections.OrderedDict
    out[("_codecs", "encode")] = _latin1_encode
    return out


ALLOWED = _allowed()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in :data:`ALLOWED` (no import happens: the
    objects are looked up in that table)."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(f"refused to load {module}.{name}") from None


def load_annotations(path: str | Path) -> tuple[dict[str, list[str]] | None, list[dict]]:
    """``(split or None, annotations)`` of a PYSKL / mmaction2 pickle, loaded safely.

    Raises:
        FormatError: unreadable file, a refused callable ("refused to load os.system: this
            pickle names something other than NumPy arrays and builtin containers"), or a
            structure other than the one in the module docstring.
    """
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as e:
        raise FormatError(path, f"cannot read file: {e.strerror or e}") from None
    try:
        with f:  # unpickled from the file, not from a copy of it in memory (peak memory)
            obj = RestrictedUnpickler(f).load()
    except RefusedPickle as e:
        raise FormatError(path, f"{e}: a PYSKL annotation pickle may hold only NumPy arrays "
                          f"and builtin containers and scalars; not loading it") from None
    except pickle.UnpicklingError as e:
        raise FormatError(path, f"not a readable pickle ({e})") from None
    except Exception as e:  # truncated / corrupt streams raise many types (EOFError, ...)
        raise FormatError(path, f"not a readable pickle ({type(e).__name__}: "
                          f"{str(e)[:100]})") from None
    if isinstance(obj, list):
        split, anns = None, obj
    elif isinstance(obj, dict) and "annotations" in obj:
        split, anns = obj.get("split"), obj["annotations"]
    else:
        raise FormatError(path, "expected {'split': ..., 'annotations': [...]} or a list of "
                          "annotations")
    if not isinstance(anns, list):
        raise FormatError(path, "'annotations' must be a list")
    if split is not None:
        if not isinstance(split, dict) or not all(
                isinstance(k, str) and isinstance(v, (list, tuple)) for k, v in split.items()):
            raise FormatError(path, "'split' must map split names to lists of frame_dir names")
        split = {k: [str(x) for x in v] for k, v in split.items()}
    return split, anns


def layout_for(v: int, c: int, has_score: bool) -> Layout | None:
    """The layout of a ``(M, T, V, C)`` key-point array (module docstring), None if unknown."""
    if v == 17 and c in (2, 3):
        return COCO17
    if v == 25 and c == 3 and not has_score:
        return NTU25
    if v == 25 and c in (2, 3):
        return OPENPOSE25
    if v == 18 and c in (2, 3):
        return OPENPOSE18
    if v == 20 and c == 3:
        return KINECT20
    return None


def annotation_to_sequence(path: Path, ann, index: int) -> Sequence:
    """One annotation dict -> :class:`Sequence` (joints ``(T, M, V, C)``; 2-D layouts get
    ``scores``). FormatError names the file and the annotation (index and frame_dir)."""
    if not isinstance(ann, dict):
        raise FormatError(path, f"annotation {index}: expected a dict, found "
                          f"{type(ann).__name__}")
    name = ann.get("frame_dir")
    where = f"annotation {index} ({str(name)[:60]})"
    if not isinstance(name, str) or not name:
        raise FormatError(path, f"annotation {index}: 'frame_dir' must be a non-empty string")
    kp = ann.get("keypoint")
    if not isinstance(kp, np.ndarray) or kp.ndim != 4 or kp.dtype.kind not in "iuf":
        raise FormatError(path, f"{where}: 'keypoint' must be a numeric (M, T, V, C) array")
    m, t, v, c = kp.shape
    if t == 0 or m == 0:
        raise FormatError(path, f"{where}: 0 frames or 0 people (keypoint shape {kp.shape})")
    score = ann.get("keypoint_score")
    if score is not None and (not isinstance(score, np.ndarray) or score.shape != (m, t, v)
                              or score.dtype.kind not in "iuf"):
        raise FormatError(path, f"{where}: 'keypoint_score' must be a numeric (M, T, V) = "
                          f"{(m, t, v)} array")
    layout = layout_for(v, c, score is not None)
    if layout is None:
        raise FormatError(path, f"{where}: no built-in layout for {v} key points of {c} "
                          f"coordinates (known: 17 COCO, 18/25 OpenPose, 25 NTU 3-D, 20 Kinect)")
    label = ann.get("label")
    if label is not None and (isinstance(label, bool) or not isinstance(label, (int, np.integer))
                              or label < 0):
        raise FormatError(path, f"{where}: 'label' must be a non-negative integer")
    x = kp.astype(np.float64)
    joints = x.transpose(1, 0, 2, 3)  # (T, M, V, C)
    scores = None
    if layout not in (NTU25, KINECT20):  # 2-D key points of a pose estimator
        what = "'keypoint_score'" if score is not None else "the scores of 'keypoint'"
        if score is None:
            score = x[..., 2] if c == 3 else np.ones((m, t, v))
        s = np.asarray(score, dtype=np.float64)
        if not np.isfinite(s).all():
            raise FormatError(path, f"{where}: NaN/inf in {what}")
        scores = np.clip(s, 0.0, 1.0).transpose(1, 0, 2)  # (T, M, V)
        joints = np.where(scores[..., None] > 0, joints[..., :2], 0.0)  # undetected: zeros
    joints = check_joints(path, joints, layout, locate=lambda tmv: (  # (T, M, V, C) float32
        None, f"{where}: 'keypoint' of person {tmv[1]}, frame {tmv[0]}, joint {tmv[2]} "
              f"({layout.joints[tmv[2]]})"))
    return Sequence(joints=joints, layout=layout, name=name,
                    label=None if label is None else int(label), source=str(path),
                    scores=None if scores is None else scores.astype(np.float32))
