"""What a model was trained on and how its input is made: the ``data`` entry of a checkpoint (and
of an ONNX export's metadata), owned by one torch-free dataclass, :class:`DataSpec`, and the part
of it that says how a store was prepared, :class:`PrepConfig` (also in the store's manifest).

Built in one place from a run's config and its store (:meth:`DataSpec.from_store`, called by the
trainer), written with :meth:`DataSpec.to_dict` and read back with :meth:`DataSpec.from_dict`
(every version of the entry, also the ones older checkpoints hold) by everything that feeds a
model: ``mans predict`` on PyTorch and on onnxruntime, the Python API, eval, ensemble, report.
The input pipeline (raw file -> model input, :class:`mans.data.pipeline.InputPipeline`) is built
from it.

The entry, as saved (``to_dict``)::

    input        "image"                   # the tensor layout the model takes, see INPUTS
    dataset      str | None                # the store's dataset name
    protocol     str                       # the protocol the run trained on
    prep         dict                      # the store's prep settings, as its manifest holds
                                           # them: view, max_bodies, confidence, layout (name),
                                           # layout_def (Layout.to_dict), channels, joints
    class_names  [str, ...]                # index = label
    stream       str                       # input stream (STREAMS; mans.data.streams)
    test_mirror  bool                      # average the logits with the mirrored input's
    centre       "none" | "spine"          # data.centre (mans.data.normalise)
    normalise    "none" | "minmax" | "torso"   # data.normalise
    frames       "pad" | "resample"        # data.frames (mans.data.frames)

The image side ``S`` is the model's (``MANsConfig.size``) and is saved once, in the model's
config; :meth:`DataSpec.from_dict` takes it from there. Entries written before this module (a
checkpoint's ``version`` 1, an export's metadata ``version`` 1) also held ``size``, ``layout``
and ``num_classes``; they, and entries written before the pipeline's own settings, may lack
``stream``, ``test_mirror``, ``input``, ``centre``, ``normalise`` and ``frames``: they read as the
defaults below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError, FormatError, MansError
from ..skeleton import Layout, builtin_layout
# --- the settings of the input pipeline and their values (each step's module implements them) ---

# View normalisations (mans.data.views; "2d": mans.data.views2d).
VIEWS = ("authors", "gcn", "none", "2d")
# Input streams (mans.data.streams). The default is the one home of the default stream: a config
# that names none, and every checkpoint written before streams existed, use it.
STREAMS = ("joint", "bone", "motion", "bone_motion")
DEFAULT_STREAM = "joint"
# data.centre (before augmentation) and data.normalise (after it): mans.data.normalise.
CENTRES = ("none", "spine")
NORMALISES = ("none", "minmax", "torso")
# data.frames, the frames the model's S rows hold (mans.data.frames): "pad" (the paper's:
# sub-sampled when T > S, centred between zero rows when T <= S) or "resample" (S frames drawn
# with replacement at training, evenly spaced at test).
FRAMES = ("pad", "resample")
# Tensor layouts a model can ask for: "image" = (C, S, S), S frames x S joint columns (the
# ResNet / DenseNet STCMs); "sequence" = (C, S, J), S frames x the J joint columns as they are
# (the co-occurrence STCM). The model declares which; mans.data.pipeline makes it.
INPUTS = ("image", "sequence")
DEFAULT_INPUT = "image"  # every checkpoint written before the entry had the key

# Keys of the entry in older files, now derived: size (the model's config), layout
# (prep.layout), num_classes (len(class_names)).
_LEGACY_KEYS = ("size", "layout", "num_classes")
_KEYS = ("input", "dataset", "protocol", "prep", "class_names", "stream", "test_mirror",
         "centre", "normalise", "frames")


@dataclass(frozen=True)
class PrepConfig:
    """Prepare-time settings, saved in the store manifest and in checkpoints.

    Attributes:
        view: ``"authors"`` (paper's per-body PCA frame), ``"gcn"`` (spine-centred rigid
            transform) or ``"none"``.
        max_bodies: body slots kept (2 for NTU; 1 for single-person data). ``J = max_bodies * V``.
        confidence: ``"2d"`` view only: add the joint scores as a third channel
            (:mod:`mans.data.views2d`); without it 2-D data have 2 channels.
    """

    view: str = "authors"
    max_bodies: int = 2
    confidence: bool = False

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ConfigError(f"prep.view: unknown view normalisation {self.view!r}; "
                              f"choose one of {VIEWS}")
        if not isinstance(self.max_bodies, int) or isinstance(self.max_bodies, bool) \
                or self.max_bodies < 1:
            raise ConfigError(f"prep.max_bodies: expected an integer >= 1, got {self.max_bodies!r}")
        if not isinstance(self.confidence, bool):
            raise ConfigError(f"prep.confidence: expected true or false, got {self.confidence!r}")
        if self.confidence and self.view != "2d":
            raise ConfigError("prep.confidence: the confidence channel exists only for view '2d'")

    @property
    def channels(self) -> int:
        """Coordinate channels of a prepared sample: 3 for the 3-D views, 2 for ``2d`` (3 with
        the confidence channel)."""
        return (3 if self.confidence else 2) if self.view == "2d" else 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PrepConfig":
        """Build from a dict holding at least ``view`` and ``max_bodies``; other keys (e.g. the
        layout a store manifest keeps beside them) are ignored."""
        missing = [k for k in ("view", "max_bodies") if k not in d]
        if missing:
            raise ConfigError(f"prep settings lack {missing}; got keys {sorted(d)}")
        return cls(view=str(d["view"]), max_bodies=d["max_bodies"],
                   confidence=bool(d.get("confidence", False)))  # absent in older stores


@dataclass(frozen=True)
class DataSpec:
    """The data settings a model was trained with (see module docstring).

    Attributes:
        prep: the store's prep settings (manifest ``prep``), kept whole so that a store can be
            checked against them (``mans eval``).
        class_names: index = label.
        size: ``S``, frames (rows) and joint columns of the model's input image.
        stream: input stream, one of :data:`STREAMS`.
        test_mirror: average the logits of the input and of its left/right mirror.
        input: the tensor layout the model takes, one of :data:`INPUTS`.
        centre, normalise, frames: ``data.centre``, ``data.normalise``, ``data.frames``
            (:mod:`mans.data.pipeline`).
        dataset: the store's dataset name (None for a checkpoint not trained on a store).
        protocol: the protocol trained on (``"none"`` likewise).
        layout: the joint layout, from ``prep`` (derived, not passed).
        prep_config: ``prep`` as :class:`PrepConfig` (derived).
    """

    prep: dict
    class_names: tuple[str, ...]
    size: int
    stream: str = DEFAULT_STREAM
    test_mirror: bool = False
    input: str = DEFAULT_INPUT
    dataset: str | None = None
    protocol: str = "none"
    centre: str = "none"
    normalise: str = "none"
    frames: str = "pad"
    layout: Layout = field(init=False, repr=False, compare=False)
    prep_config: PrepConfig = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "prep", dict(self.prep))
        if not self.class_names:
            raise ValueError("a DataSpec needs at least one class name")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"size must be an integer >= 1, got {self.size!r}")
        if self.stream not in STREAMS:
            raise ValueError(f"unknown input stream {self.stream!r}; one of {STREAMS}")
        if self.input not in INPUTS:
            raise ValueError(f"unknown model input {self.input!r}; one of {INPUTS}")
        for key, value, allowed in (("centre", self.centre, CENTRES),
                                    ("normalise", self.normalise, NORMALISES),
                                    ("frames", self.frames, FRAMES)):
            if value not in allowed:
                raise ValueError(f"unknown {key} {value!r}; one of {allowed}")
        layout_def = self.prep.get("layout_def")
        layout = Layout.from_dict(layout_def) if layout_def else builtin_layout(self.prep["layout"])
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "prep_config", PrepConfig.from_dict(self.prep))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        """``C``: coordinate channels of the stored samples (and of the model input)."""
        return int(self.prep.get("channels", self.prep_config.channels))

    @property
    def joints(self) -> int:
        """``J``: stored joint columns (bodies x joints of the layout)."""
        return int(self.prep.get("joints", self.prep_config.max_bodies * self.layout.num_joints))

    # --- building, writing, reading ---------------------------------------------------------

    @classmethod
    def from_store(cls, store, *, protocol: str, size: int, stream: str = DEFAULT_STREAM,
                   test_mirror: bool = False, input: str = DEFAULT_INPUT, centre: str = "none",
                   normalise: str = "none", frames: str = "pad") -> "DataSpec":
        """The spec of a run on an open :class:`~mans.data.store.PreparedStore` (its prep
        settings, classes and dataset name) with the run's protocol, stream, mirroring and input
        pipeline and the model's ``size`` and ``input``."""
        return cls(prep=store.prep, class_names=tuple(store.class_names), size=int(size),
                   stream=stream, test_mirror=bool(test_mirror), dataset=store.dataset,
                   protocol=protocol, input=input, centre=centre, normalise=normalise,
                   frames=frames)

    def to_dict(self) -> dict:
        """The entry as saved (plain containers only; no ``size``: the model's config holds
        it)."""
        return {"input": self.input, "dataset": self.dataset, "protocol": self.protocol,
                "prep": dict(self.prep), "class_names": list(self.class_names),
                "stream": self.stream, "test_mirror": self.test_mirror, "centre": self.centre,
                "normalise": self.normalise, "frames": self.frames}

    @classmethod
    def from_dict(cls, d: dict, *, size: int | None = None,
                  source: str | Path = "checkpoint") -> "DataSpec":
        """Read an entry written by :meth:`to_dict` or by older code (module docstring).

        Args:
            size: the model's image side (its config's ``size``); may be None only for an older
                entry, which holds it itself. When both are there they must agree.
            source: the file the entry came from, for the error messages.

        Raises:
            FormatError: naming ``source``, for a missing or malformed key.
        """
        if not isinstance(d, dict):
            raise FormatError(source, f"the data entry is a {type(d).__name__}, not a mapping")
        unknown = sorted(set(d) - set(_KEYS) - set(_LEGACY_KEYS))
        if unknown:
            raise FormatError(source, f"unknown keys {unknown} in the data entry (written by a "
                                      f"newer mans?)")
        for key in ("prep", "class_names"):
            if key not in d:
                raise FormatError(source, f"the data entry lacks {key!r}")
        if not isinstance(d["prep"], dict):
            raise FormatError(source, "the data entry's 'prep' is not a mapping")
        saved = d.get("size")
        if size is None and saved is None:
            raise FormatError(source, "no image size: neither the model config nor the data "
                                      "entry gives one")
        if size is not None and saved is not None and int(saved) != int(size):
            raise FormatError(source, f"the data entry's size {saved} differs from the model's "
                                      f"{size}")
        prep = dict(d["prep"])
        if "layout" not in prep and d.get("layout") is not None:  # oldest files: name only here
            prep["layout"] = d["layout"]
        try:
            return cls(prep=prep, class_names=tuple(d["class_names"]),
                       size=int(size if size is not None else saved),
                       stream=str(d.get("stream") or DEFAULT_STREAM),
                       test_mirror=bool(d.get("test_mirror", False)),
                       input=str(d.get("input") or DEFAULT_INPUT),
                       dataset=d.get("dataset"), protocol=str(d.get("protocol", "none")),
                       centre=str(d.get("centre") or "none"),
                       normalise=str(d.get("normalise") or "none"),
                       frames=str(d.get("frames") or "pad"))
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(source, f"bad data entry ({type(e).__name__}: {e})") from None
        except MansError as e:  # an unknown layout, bad prep settings
            raise FormatError(source, f"bad data entry: {e}") from None
