"""The input pipeline: a prepared ``(C, T, J)`` sample -> what the model takes, in one order for
training, evaluation and every inference path::

    centre (data.centre) -> [augmentation, training only] -> normalise (data.normalise)
        -> frames to S rows (data.frames) -> stream (data.stream)
        -> layout: the (C, S, S) image, or the (C, S, J) sequence (the model's input)

:class:`InputPipeline` holds these settings (a checkpoint's :class:`~mans.data.spec.DataSpec`
builds it with :meth:`~mans.data.spec.DataSpec.pipeline`); :meth:`InputPipeline.centred` is the
step before augmentation and :meth:`InputPipeline.finish` the steps after it.

``data.frames``:

- ``pad`` (default): the paper's rule, as :func:`~mans.data.streams.model_input` has always done
  it: ``T > S`` frames sub-sampled to rows ``floor(linspace(0, T-1, S))``, ``T <= S`` frames
  centred between zero rows (the stream is taken after the sub-sampling);
- ``resample`` (CTR-GCN's small-data feeder): exactly ``S`` frame indices, at training drawn
  uniformly *with replacement* from the ``T`` frames and sorted (from the sample's RNG), at test
  the centres of ``S`` equal bins, ``floor((i + 1/2) T / S)`` (deterministic). The frames are
  taken before the stream, so a motion difference spans one model row (0 between two copies of
  one frame).

With every default (``centre: none``, ``normalise: none``, ``frames: pad``, image input) the
output is bit-identical to :func:`~mans.data.streams.model_input`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..skeleton import Layout
from .normalise import centre_spine, check_normalisation, minmax, torso_scale
from .streams import apply_stream, check_stream
from .transforms import frame_rows, pad_joints, resize_frames, to_image

FRAMES = ("pad", "resample")
LAYOUTS = ("image", "sequence")


def resample_indices(t: int, size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``(size,)`` int64 frame indices of ``data.frames: resample``: sorted uniform draws with
    replacement from ``0..t-1`` when ``rng`` is given (training), else ``floor((i + 0.5) t /
    size)`` for ``i = 0..size-1`` (test: evenly spaced, every frame about ``size / t`` times)."""
    if rng is not None:
        return np.sort(rng.integers(0, t, size=size)).astype(np.int64)
    return np.floor((np.arange(size) + 0.5) * t / size).astype(np.int64)


@dataclass(frozen=True)
class InputPipeline:
    """How a stored sample becomes the model's input (module docstring).

    Attributes:
        size: ``S``, the model's rows (and, for an image, its joint columns).
        stream: input stream (:data:`mans.data.streams.STREAMS`).
        input: ``"image"`` ``(C, S, S)`` or ``"sequence"`` ``(C, S, J)``.
        centre: ``none`` | ``spine`` (:mod:`mans.data.normalise`).
        normalise: ``none`` | ``minmax`` | ``torso``.
        frames: ``pad`` | ``resample``.
        layout: the joint layout (needed by the bone streams, centring and torso scaling).
    """

    size: int
    stream: str = "joint"
    input: str = "image"
    centre: str = "none"
    normalise: str = "none"
    frames: str = "pad"
    layout: Layout | None = None

    def __post_init__(self) -> None:
        check_stream(self.stream)
        if self.input not in LAYOUTS:
            raise ConfigError(f"unknown model input {self.input!r}; one of {list(LAYOUTS)}")
        if self.frames not in FRAMES:
            raise ConfigError(f"data.frames: expected one of {list(FRAMES)}, got {self.frames!r}")
        needs_layout = self.centre != "none" or self.normalise == "torso" or self.stream in (
            "bone", "bone_motion")
        if needs_layout and self.layout is None:
            raise ConfigError("the input pipeline needs the joint layout (its roles / parents)")
        check_normalisation(self.layout, self.centre, self.normalise)

    @property
    def is_default(self) -> bool:
        """Every setting the paper's (the output of :func:`~mans.data.streams.model_input`)."""
        return (self.input, self.centre, self.normalise, self.frames) == (
            "image", "none", "none", "pad")

    def centred(self, x: np.ndarray) -> np.ndarray:
        """The step before augmentation: ``x`` itself for ``centre: none`` (no copy), else a new
        ``(C, T, J)`` float32 array."""
        if self.centre == "spine":
            return centre_spine(x, self.layout)
        return x

    def finish(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """The steps after augmentation: normalise, frames, stream, layout -> ``(C, S, S)`` or
        ``(C, S, J)`` float32. ``rng`` (training only) draws the resampled frames."""
        x = np.asarray(x, dtype=np.float32)
        if self.normalise == "minmax":
            x = minmax(x)
        elif self.normalise == "torso":
            x = torso_scale(x, self.layout)
        if self.frames == "resample":
            x = x[:, resample_indices(x.shape[1], self.size, rng)]  # (C, S, J)
        x = apply_stream(x, self.stream, self.layout, self.size)  # pad: (C, min(T, S), J)
        if self.input == "image":
            return to_image(x, self.size) if self.frames == "pad" else pad_joints(x, self.size)
        return resize_frames(x, self.size) if self.frames == "pad" else x

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Test-time input of a stored sample: :meth:`centred` then :meth:`finish`."""
        return self.finish(self.centred(x))

    def rows(self, t: int) -> np.ndarray:
        """``(S,)`` int64: the frame of the ``t`` prepared frames each model row holds at test
        time (-1: a padding row)."""
        if self.frames == "resample":
            return resample_indices(t, self.size)
        return frame_rows(t, self.size)
