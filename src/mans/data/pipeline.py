"""The input pipeline: the one way from a raw file (or a :class:`~mans.skeleton.Sequence`, or an
array) to the tensor a model takes, for training, evaluation and every inference path.

::

    raw file ─read─▶ Sequence ─bodies─▶ ─view─▶ (C, T', J)     prepare time: a store holds this
    (formats)      (T, M, V, C)  (bodies) (views, views2d)
      ─centre─▶ ─[augment]─▶ ─normalise─▶ ─frames─▶ ─stream─▶ ─layout─▶ model input    load time
      (normalise) (augment,   (normalise)  (frames)  (streams)  (layout)  (C, S, S) | (C, S, J)
                  training)

Each arrow is one function of the module named under it; :class:`InputPipeline` calls them in
this order, with the settings a model was trained with (its :class:`~mans.data.spec.DataSpec`,
saved in every checkpoint and ONNX export), so that a training sample, an evaluated one and a
predicted file cannot be prepared differently:

1. :meth:`InputPipeline.read`: a file (its reader, :func:`mans.formats.read_sequence`), a
   Sequence, or an array ``(T, V, C)`` / ``(T, M, V, C)`` -> a Sequence, checked once to have the
   model's joint layout;
2. :meth:`InputPipeline.prepare`: bodies and view normalisation, :func:`prepare_sequence` ->
   the stored ``(C, T', J)`` (``mans prepare`` runs the same function once per sample, so a store
   holds exactly this);
3. :meth:`InputPipeline.sample`: a stored ``(C, T', J)`` -> the model input: centring
   (``data.centre``, :mod:`mans.data.normalise`), augmentation (a training sample only,
   :mod:`mans.data.augment`), normalisation (``data.normalise``), the ``S`` frames the model's
   rows hold (``data.frames``, :mod:`mans.data.frames`), the input stream of those frames
   (:func:`mans.data.streams.apply_stream`: a motion difference spans one model row), and the
   tensor layout (:mod:`mans.data.layout`) the model declares (``DataSpec.input``): ``"image"``
   ``(C, S, S)``, the ``J`` joint columns centred in ``S`` (the ResNet / DenseNet STCMs), or
   ``"sequence"`` ``(C, S, J)`` (the co-occurrence STCM).

``pipeline(x)`` runs all three and returns a :class:`ModelInput` (the tensor, which prepared frame
each row holds, the sequence read); :class:`~mans.data.dataset.SkeletonDataset` runs step 3 on the
samples of a store. NumPy only: ``mans predict --onnx`` runs it without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..coordinates import as_frames
from ..errors import ConfigError, FormatError
from ..formats import read_sequence
from ..skeleton import Layout, Sequence, as_layout
from .augment import Augment
from .bodies import body_presence, kept_frames, select_bodies
from .frames import frame_rows, resample_indices, take_rows
from .layout import arrange, centre_offset
from .normalise import centre_spine, check_normalisation, minmax, torso_scale
from .spec import DEFAULT_INPUT, DEFAULT_STREAM, DataSpec, PrepConfig
from .streams import apply_stream, check_stream, column_mirror
from .views import check_view, disambiguate_signs, to_channels_first, view_authors, view_gcn
from .views2d import normalise_2d, select_slots_2d


# --- prepare time: bodies -> view, what a store holds -----------------------------------------


def prepare_sequence(seq: Sequence, cfg: PrepConfig) -> np.ndarray:
    """Body selection (:mod:`mans.data.bodies`; 2-D: :func:`mans.data.views2d.select_slots_2d`),
    view normalisation (:mod:`mans.data.views`, :mod:`mans.data.views2d`) and the channel-first
    stored layout of one sequence: step 2 of the pipeline, and what ``mans prepare`` stores.

    Args:
        seq: as read; ``seq.joints`` ``(T, M, V, C)``.
        cfg: view and body count.

    Returns:
        ``(C, T', cfg.max_bodies * V)`` float32, ``T'`` = frames with at most ``max_bodies``
        bodies.

    Raises:
        FormatError: no frame has a body, or every frame has too many bodies (nothing to keep).
        ConfigError: the view needs joint roles the layout lacks, or 3-D coordinates.
    """
    layout = seq.layout
    joints = np.asarray(seq.joints)
    if joints.ndim != 4 or joints.shape[2] != layout.num_joints:
        raise FormatError(seq.source or seq.name, f"joints of shape {joints.shape}; expected "
                          f"(T, M, {layout.num_joints}, C) for layout {layout.name!r}")
    check_view(layout, cfg.view, joints.shape[3])
    if cfg.view == "2d":
        return _prepare_2d(seq, joints, layout, cfg)
    bodies, kept = select_bodies(joints, cfg.max_bodies)  # (T', M', V, C)
    present = body_presence(bodies)  # (T', M')
    if not present.any():
        why = ("no frame holds a body" if kept.all() else
               f"every frame with a body has more than {cfg.max_bodies} bodies")
        raise FormatError(seq.source or seq.name, f"nothing to prepare: {why}")
    if cfg.view == "authors":
        bodies = disambiguate_signs(view_authors(bodies, layout, present), layout, present)
    elif cfg.view == "gcn":
        bodies = view_gcn(bodies, layout, present)
    return to_channels_first(bodies.astype(np.float32, copy=False))


def _prepare_2d(seq: Sequence, joints: np.ndarray, layout: Layout, cfg: PrepConfig) -> np.ndarray:
    """The 2-D path of :func:`prepare_sequence` (:mod:`mans.data.views2d`): every frame is kept
    (frames without a detection are zero rows), slots are kept as matched by the reader."""
    scores = None if seq.scores is None else np.asarray(seq.scores, dtype=np.float64)
    if scores is not None and scores.shape != joints.shape[:3]:
        raise FormatError(seq.source or seq.name, f"scores of shape {scores.shape}; expected "
                          f"{joints.shape[:3]} (T, M, V)")
    bodies, scores = select_slots_2d(joints, scores, cfg.max_bodies)
    if not body_presence(bodies).any():
        raise FormatError(seq.source or seq.name, "nothing to prepare: no frame holds a body")
    out = normalise_2d(bodies, scores, layout, cfg.confidence)  # (T, M, V, 2 or 3)
    return to_channels_first(out.astype(np.float32))


# --- the pipeline ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInput:
    """One input on its way into the model.

    Attributes:
        x: the model input, ``(C, S, S)`` or ``(C, S, J)`` float32.
        rows: ``(S,)`` int64, the prepared frame each row holds (-1: a padding row).
        frames: ``T'``, the prepared frames (before the model's ``S`` rows were taken).
        sequence: the input as read (its name, label and metadata).
    """

    x: np.ndarray
    rows: np.ndarray
    frames: int
    sequence: Sequence


class InputPipeline:
    """A model's input pipeline (module docstring), built from its data settings.

    Args:
        spec: the settings (a checkpoint's ``data`` entry; :meth:`for_store` makes them for a
            store).
        augment: ``(x (C, T, J), rng) -> x``, applied to training samples only
            (:func:`mans.data.augment.build_augment`); None: none.
        source: the model file, named by the error of an input in another joint layout.

    Attributes:
        spec, augment; size (``S``), layout, prep (:class:`~mans.data.spec.PrepConfig`),
        stream, input (``"image"`` | ``"sequence"``), centre, normalise, frames read from
        ``spec``; width: the columns of the model input (``S`` for an image, ``J`` for a
        sequence).

    Raises:
        ConfigError: ``centre`` / ``normalise`` need joint roles the layout lacks.
    """

    def __init__(self, spec: DataSpec, *, augment: Augment | None = None,
                 source: str | Path = "the model"):
        self.spec, self.augment, self.source = spec, augment, source
        self.size, self.layout, self.prep = spec.size, spec.layout, spec.prep_config
        self.stream, self.input = check_stream(spec.stream), spec.input
        self.centre, self.normalise, self.frames = spec.centre, spec.normalise, spec.frames
        check_normalisation(self.layout, self.centre, self.normalise)
        self.width = self.size if self.input == "image" else spec.joints

    @classmethod
    def for_store(cls, store, size: int, *, stream: str = DEFAULT_STREAM,
                  input: str = DEFAULT_INPUT, augment: Augment | None = None,
                  protocol: str | None = None, **settings) -> "InputPipeline":
        """The pipeline of a model of side ``size`` trained on an open
        :class:`~mans.data.store.PreparedStore` (:meth:`DataSpec.from_store`; protocol: the
        store's default; ``settings``: ``centre``, ``normalise``, ``frames``)."""
        spec = DataSpec.from_store(store, protocol=protocol or store.default_protocol,
                                   size=size, stream=stream, input=input, **settings)
        return cls(spec, augment=augment, source=store.path)

    # --- 1. the raw input -> a Sequence in the model's layout ---------------------------------

    def read(self, x, *, layout: Layout | str | None = None, scores=None,
             fmt: str | None = None) -> Sequence:
        """A path (read by the reader for ``fmt`` or the file name), a :class:`Sequence`, or an
        array ``(T, V, C)`` / ``(T, M, V, C)`` in ``layout`` (default: the model's) with optional
        ``scores`` ``(T, V)`` / ``(T, M, V)``, as a Sequence.

        Raises:
            ConfigError: the input has another joint layout than the model (or a bad array).
            FormatError: an unreadable file.
        """
        if isinstance(x, Sequence):
            seq = x
        elif isinstance(x, (str, Path)):
            seq = read_sequence(x, fmt, self.layout)
        else:
            lay = self.layout if layout in (None, self.layout.name) else as_layout(layout)
            a, sc = as_frames(x, lay.num_joints, scores, what=f"array ({lay.name})")
            seq = Sequence(joints=a, layout=lay, name="array", scores=sc)
        if (seq.layout.name, seq.layout.joints) != (self.layout.name, self.layout.joints):
            raise ConfigError(
                f"{seq.source or seq.name}: the data has joint layout {seq.layout.name!r}"
                f"{' (other joints)' if seq.layout.name == self.layout.name else ''} but the "
                f"model {self.source} was trained on {self.layout.name!r}")
        return seq

    # --- 2. bodies -> view: what a store holds --------------------------------------------------

    def prepare(self, seq: Sequence) -> np.ndarray:
        """``(C, T', J)`` float32: bodies and view normalisation of a read sequence, as
        ``mans prepare`` stored the training samples (:func:`prepare_sequence`)."""
        return prepare_sequence(seq, self.prep)

    def prepared_frames(self, seq: Sequence) -> np.ndarray:
        """``(T',)`` int64: the frame of ``seq`` each prepared frame is (the 2-D view keeps every
        frame; the others drop frames with more than ``max_bodies`` bodies,
        :func:`mans.data.bodies.kept_frames`), e.g. to place a model row on the recording."""
        if self.prep.view == "2d":
            return np.arange(seq.num_frames, dtype=np.int64)
        kept = kept_frames(np.asarray(seq.joints), self.prep.max_bodies)
        return np.flatnonzero(kept).astype(np.int64)

    # --- 3. a stored sample -> the model input ------------------------------------------------

    def rows(self, t: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``(S,)`` int64: the frame of ``t`` prepared frames each model row holds (-1: a padding
        row): ``data.frames`` ``pad`` (:func:`mans.data.frames.frame_rows`) or ``resample``
        (:func:`mans.data.frames.resample_indices`, drawn from ``rng``, a training sample's
        generator; evenly spaced without it)."""
        if self.frames == "resample":
            return resample_indices(t, self.size, rng)
        return frame_rows(t, self.size)

    def sample(self, x: np.ndarray, rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """A stored ``(C, T', J)`` sample -> ``(model input, rows)`` (see :class:`ModelInput`).

        Args:
            x: the sample (a store's memory map is not written to).
            rng: a training sample's generator: augmentation, then the resampled frames draw from
                it (None: a test sample, never augmented).
        """
        x = np.asarray(x, dtype=np.float32)
        if self.centre == "spine":  # before augmentation: a rotation turns about the body
            x = centre_spine(x, self.layout)
        if rng is not None and self.augment is not None:
            x = self.augment(np.array(x, dtype=np.float32), rng)  # on a private copy
        if self.normalise == "minmax":
            x = minmax(x)
        elif self.normalise == "torso":
            x = torso_scale(x, self.layout)
        rows = self.rows(x.shape[1], rng)  # (S,)
        values = apply_stream(take_rows(x, rows), self.stream, self.layout)  # (C, n, J)
        return arrange(values, rows, self.width), rows

    # --- the whole way --------------------------------------------------------------------------

    def __call__(self, x, *, layout: Layout | str | None = None, scores=None,
                 fmt: str | None = None) -> ModelInput:
        """Any input (:meth:`read`) -> its :class:`ModelInput` (test time: no augmentation)."""
        seq = self.read(x, layout=layout, scores=scores, fmt=fmt)
        return self.model_input(seq)

    def model_input(self, seq: Sequence) -> ModelInput:
        """A sequence :meth:`read` returned (or a part of one) -> its :class:`ModelInput`."""
        stored = self.prepare(seq)  # (C, T', J)
        x, rows = self.sample(stored)
        return ModelInput(x=x, rows=rows, frames=int(stored.shape[1]), sequence=seq)

    # --- what the model side needs to know of the input -----------------------------------------

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One model input's shape: ``(C, S, S)`` or ``(C, S, J)``."""
        return self.spec.channels, self.size, self.width

    def mirror_columns(self) -> np.ndarray:
        """``(width,)`` int64 permutation of the model input's columns that swaps left and right
        joints (:func:`mans.data.streams.column_mirror`, centred as :meth:`sample` centres the
        joints): test-time mirroring (:class:`mans.models.tta.MirrorAverage`). Mirroring is
        linear and maps a joint's parent to its partner's parent, so the one permutation (and
        negating channel 0) mirrors every input stream."""
        j = self.spec.joints
        perm = np.arange(self.width, dtype=np.int64)
        j0 = centre_offset(j, self.width)
        perm[j0:j0 + j] = j0 + column_mirror(self.layout, j)
        return perm
