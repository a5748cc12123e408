"""The Python API: ``mans.load(checkpoint)`` -> :class:`Classifier`.

    import mans
    clf = mans.load("run/best.pt")
    clf.predict("clip.json")                        # a file any reader of mans reads
    clf.predict(xyz, layout="kinect20")             # an array (T, V, C) or (T, M, V, C)
    clf.timeline("recording.txt", window=40, stride=10)   # a long recording, window by window
    stream = clf.stream(stride=5)                   # live: push one frame at a time
    for frame in frames:
        result = stream.push(frame)                 # a prediction every 5 frames, else None

Every input walks the same path as a training sample, with the settings saved in the checkpoint
(:class:`~mans.inference.predict.Predictor`): :func:`~mans.data.transforms.prepare_sequence` (bodies, view
normalisation, 2-D normalisation) -> :func:`~mans.data.streams.model_input` (the checkpoint's input
stream) -> model. ``mans predict``
(files, ``--window``) and ``mans stream`` call these same methods.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.spec import DEFAULT_STREAM, DataSpec
from ..devices import DEFAULT_DEVICE
from ..errors import ConfigError, FormatError
from ..formats import read_sequence
from .predict import Predictor
from ..skeleton import Layout, Sequence, as_layout
from .timeline import Timeline, merge_segments
from .runtime import as_frames, check_layout, file_of, softmax, top_classes

BATCH = 64  # windows per forward pass of a timeline


class Classifier:
    """A trained checkpoint, loaded once (see module docstring).

    Attributes:
        class_names: index = label.
        layout: the joint layout the checkpoint was trained on (arrays must follow it).
        size: ``S``, the model's frames x joint columns.
        prep: the prepare-time settings (:class:`~mans.data.transforms.PrepConfig`).
    """

    def __init__(self, checkpoint: str | Path, device: str = DEFAULT_DEVICE):
        self.predictor = Predictor(checkpoint, device)
        self.class_names = self.predictor.class_names
        self.layout = self.predictor.layout
        self.size = self.predictor.size
        self.prep = self.predictor.prep

    # --- inputs -----------------------------------------------------------------------------

    def sequence(self, x, *, layout: Layout | str | None = None, scores=None,
                 fmt: str | None = None) -> Sequence:
        """Any input as a :class:`Sequence`: a path (read by the reader for ``fmt`` or the file
        name), a :class:`Sequence`, or an array ``(T, V, C)`` / ``(T, M, V, C)`` in ``layout``
        (default: the checkpoint's) with optional ``scores`` ``(T, V)`` / ``(T, M, V)``."""
        if isinstance(x, Sequence):
            seq = x
        elif isinstance(x, (str, Path)):
            seq = read_sequence(x, fmt, self.layout)
        else:
            seq = self._from_array(x, layout, scores)
        check_layout(seq, self.layout, self.predictor.path)
        return seq

    def _from_array(self, x, layout: Layout | str | None, scores) -> Sequence:
        lay = self.layout if layout in (None, self.layout.name) else as_layout(layout)
        a, sc = as_frames(x, lay.num_joints, scores, what=f"array ({lay.name})")
        return Sequence(joints=a, layout=lay, name="array", scores=sc)

    # --- one sequence ------------------------------------------------------------------------

    def image(self, seq: Sequence) -> tuple[np.ndarray, int]:
        """``(model input (C, S, S) or (C, S, J), frames used T')`` of one sequence."""
        img, meta = self.predictor.image(seq)
        return img, meta["frames_used"]

    @torch.no_grad()
    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """``(B, K)`` class probabilities of ``(B, C, S, S)`` (or ``(B, C, S, J)``) inputs."""
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.predictor.device)
        return softmax(self.predictor.model(x).float().cpu().numpy())

    def top(self, prob: np.ndarray, topk: int = 5) -> list[dict]:
        """The ``topk`` most probable classes of ``prob (K,)`` (as in ``mans predict``)."""
        return top_classes(prob, self.class_names, topk)

    @torch.no_grad()
    def predict(self, x, *, layout: Layout | str | None = None, scores=None, topk: int = 5,
                fmt: str | None = None) -> dict:
        """Top-k classes and per-frame attention of one file, Sequence or array (see
        :meth:`sequence`); the same dict as ``mans predict --json`` (``file``: the file the
        sequence was read from, None for arrays)."""
        if isinstance(x, (str, Path)):
            return self.predictor.predict(x, topk=topk, fmt=fmt)  # the CLI's own path
        seq = self.sequence(x, layout=layout, scores=scores, fmt=fmt)
        return self.predictor.predict(seq, topk=topk)

    # --- long recordings and streams ---------------------------------------------------------

    def timeline(self, x, *, window: int, stride: int, topk: int = 5,
                 layout: Layout | str | None = None,
                 scores=None, fmt: str | None = None) -> Timeline:
        """Classify every window of ``window`` frames, every ``stride`` frames (the last window
        is aligned to the end so that every frame is covered; a recording shorter than
        ``window`` is one window). A window without any body gets no prediction (its
        ``reason`` says why). See :class:`~mans.inference.timeline.Timeline`."""
        if window < 1 or stride < 1:
            raise ConfigError(f"--window and --stride must be >= 1, got {window}, {stride}")
        seq = self.sequence(x, layout=layout, scores=scores, fmt=fmt)
        t = seq.num_frames
        starts = list(range(0, max(t - window, 0) + 1, stride))
        if starts[-1] + window < t:
            starts.append(t - window)
        windows, images, rows = [], [], []
        probs = np.full((len(starts), len(self.class_names)), np.nan)
        for i, s in enumerate(starts):
            e = min(s + window, t)  # exclusive
            part = Sequence(joints=seq.joints[s:e], layout=seq.layout, name=seq.name,
                            source=seq.source,
                            scores=None if seq.scores is None else seq.scores[s:e])
            entry = {"start": s, "end": e - 1}
            try:
                images.append(self.image(part)[0])
                rows.append(i)
            except FormatError as err:  # e.g. no body in these frames
                entry.update(top=[], reason=err.reason)
            windows.append(entry)
            if len(images) == BATCH or (i == len(starts) - 1 and images):  # bounded memory
                probs[rows] = self.probabilities(np.stack(images))
                images, rows = [], []
        for r, w in enumerate(windows):
            if "reason" not in w:
                w["top"] = self.top(probs[r], topk)
        src = file_of(x)
        return Timeline(file=None if src is None else str(src), name=seq.name,
                        frames=t, window=window, stride=stride, windows=windows,
                        segments=merge_segments(windows), probs=probs)

    def stream(self, *, window: int | None = None, stride: int = 5, topk: int = 5,
               min_frames: int | None = None):
        """A :class:`~mans.inference.live.Stream` over this classifier (``window`` defaults to the
        model's ``S`` frames)."""
        from .live import Stream

        return Stream(self, window=window or self.size, stride=stride, topk=topk,
                      min_frames=min_frames)


def load(checkpoint: str | Path, device: str = DEFAULT_DEVICE) -> Classifier:
    """Load a checkpoint written by ``mans train`` as a :class:`Classifier`."""
    return Classifier(checkpoint, device)


def save_untrained(path: str | Path, *, layout: Layout | str, prep: dict, class_names: list[str],
                   model: str = "mans_resnet", seed: int = 0, stream: str = DEFAULT_STREAM,
                   test_mirror: bool = False, centre: str = "none", normalise: str = "none",
                   frames: str = "pad", **model_overrides) -> Path:
    """Write a checkpoint of an *untrained* network (random weights, seeded): for latency
    measurements (bench/stream.py) and tests, where what is measured does not depend on the
    weights. ``layout``: a :class:`~mans.skeleton.Layout` or a built-in one's name. ``prep``:
    :class:`~mans.data.transforms.PrepConfig` fields; channels are inferred. ``stream``,
    ``test_mirror``, ``centre``, ``normalise``, ``frames``: the input the checkpoint asks for, as
    a trained one's (a sequence model's ``joints`` and ``bodies`` come from ``layout`` and
    ``prep``)."""
    from ..engine.checkpoint import Checkpoint
    from ..models import build_model, model_config
    from ..data.transforms import PrepConfig

    cfg = PrepConfig.from_dict(prep)
    lay = as_layout(layout)
    channels = (3 if cfg.confidence else 2) if cfg.view == "2d" else 3
    model_overrides.setdefault("in_channels", channels)
    if model_config(model, num_classes=len(class_names), **model_overrides).input == "sequence":
        model_overrides.setdefault("joints", cfg.max_bodies * lay.num_joints)
        model_overrides.setdefault("bodies", cfg.max_bodies)
        if model_overrides.get("joint_mixing"):
            model_overrides.setdefault("parents", tuple(lay.parents))
    torch.manual_seed(seed)
    net = build_model(model, num_classes=len(class_names), **model_overrides)
    prep = {**cfg.to_dict(), "layout": lay.name, "layout_def": lay.to_dict(),
            "channels": channels, "joints": cfg.max_bodies * lay.num_joints}
    spec = DataSpec(prep=prep, class_names=tuple(class_names),
                    size=int(net.config.size), stream=stream, test_mirror=test_mirror,
                    input=net.config.input, centre=centre, normalise=normalise, frames=frames)
    return Checkpoint(model_name=model, model_config=net.config.to_dict(),
                      state_dict={k: v.detach().cpu() for k, v in net.state_dict().items()},
                      data=spec).save(path)
