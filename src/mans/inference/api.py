"""The Python API: ``mans.load(checkpoint)`` -> :class:`Classifier`.

    import mans
    clf = mans.load("run/best.pt")
    clf.predict("clip.json")                        # a file any reader of mans reads
    clf.predict(xyz, layout="kinect20")             # an array (T, V, C) or (T, M, V, C)
    clf.timeline("recording.txt", window=40, stride=10)   # a long recording, window by window
    stream = clf.stream(stride=5)                   # live: push one frame at a time
    for frame in frames:
        result = stream.push(frame)                 # a prediction every 5 frames, else None

Every input goes the checkpoint's input pipeline (:class:`~mans.data.pipeline.InputPipeline`,
built from the settings saved in the checkpoint: read, bodies, view normalisation, frames, the
checkpoint's input stream, the tensor layout the model takes), as a training sample did, then the
model. ``mans predict`` (files, ``--window``) and ``mans stream`` call these same methods.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.spec import DEFAULT_STREAM, DataSpec
from ..devices import DEFAULT_DEVICE
from ..skeleton import Layout, Sequence, as_layout
from .predict import Predictor
from .records import softmax, top_classes
from .timeline import Timeline, check_window, classify_windows


class Classifier:
    """A trained checkpoint, loaded once (see module docstring).

    Attributes:
        class_names: index = label.
        layout: the joint layout the checkpoint was trained on (arrays must follow it).
        size: ``S``, the model's frames (rows).
        prep: the prepare-time settings (:class:`~mans.data.spec.PrepConfig`).
        pipeline: the checkpoint's input pipeline (:class:`~mans.data.pipeline.InputPipeline`).
    """

    def __init__(self, checkpoint: str | Path, device: str = DEFAULT_DEVICE):
        self.predictor = Predictor(checkpoint, device)
        self.pipeline = self.predictor.pipeline
        self.class_names = self.predictor.class_names
        self.layout = self.predictor.layout
        self.size = self.predictor.size
        self.prep = self.predictor.prep

    # --- inputs -----------------------------------------------------------------------------

    def sequence(self, x, *, layout: Layout | str | None = None, scores=None,
                 fmt: str | None = None) -> Sequence:
        """Any input as a :class:`Sequence` in the checkpoint's layout: a path (read by the reader
        for ``fmt`` or the file name), a :class:`Sequence`, or an array ``(T, V, C)`` /
        ``(T, M, V, C)`` in ``layout`` (default: the checkpoint's) with optional ``scores``
        ``(T, V)`` / ``(T, M, V)`` (:meth:`~mans.data.pipeline.InputPipeline.read`)."""
        return self.pipeline.read(x, layout=layout, scores=scores, fmt=fmt)

    def image(self, seq: Sequence) -> tuple[np.ndarray, int]:
        """``(model input (C, S, S) or (C, S, J), prepared frames T')`` of one sequence
        :meth:`sequence` returned (:meth:`~mans.data.pipeline.InputPipeline.model_input`)."""
        inp = self.pipeline.model_input(seq)
        return inp.x, inp.frames

    @torch.no_grad()
    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """``(B, K)`` class probabilities of ``(B, C, S, W)`` model inputs."""
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.predictor.device)
        return softmax(self.predictor.model(x).float().cpu().numpy())

    def top(self, prob: np.ndarray, topk: int = 5) -> list[dict]:
        """The ``topk`` most probable classes of ``prob (K,)`` (as in ``mans predict``)."""
        return top_classes(prob, self.class_names, topk)

    def predict(self, x, *, layout: Layout | str | None = None, scores=None, topk: int = 5,
                fmt: str | None = None) -> dict:
        """Top-k classes and per-frame attention of one file, Sequence or array (see
        :meth:`sequence`); the same dict as ``mans predict --json`` (``file``: the file the
        sequence was read from, None for arrays)."""
        return self.predictor.predict(x, topk=topk, fmt=fmt, layout=layout, scores=scores)

    # --- long recordings and streams ---------------------------------------------------------

    def timeline(self, x, *, window: int, stride: int, topk: int = 5,
                 layout: Layout | str | None = None,
                 scores=None, fmt: str | None = None) -> Timeline:
        """Classify every window of ``window`` frames, every ``stride`` frames (the last window
        is aligned to the end so that every frame is covered; a recording shorter than
        ``window`` is one window). A window without any body gets no prediction (its
        ``reason`` says why). See :func:`~mans.inference.timeline.classify_windows`."""
        check_window(window, stride)
        seq = self.sequence(x, layout=layout, scores=scores, fmt=fmt)
        return classify_windows(seq, window=window, stride=stride, topk=topk,
                                model_input=self.pipeline.model_input,
                                probabilities=self.probabilities, class_names=self.class_names,
                                file=x if isinstance(x, (str, Path)) else seq.source or None)

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
    :class:`~mans.data.spec.PrepConfig` fields; channels are inferred. ``stream``,
    ``test_mirror``, ``centre``, ``normalise``, ``frames``: the input the checkpoint asks for, as
    a trained one's (a sequence model's ``joints`` and ``bodies`` come from ``layout`` and
    ``prep``)."""
    from ..data.spec import PrepConfig
    from ..engine.checkpoint import Checkpoint
    from ..models import build_model, fill_data_overrides

    cfg = PrepConfig.from_dict(prep)
    lay = as_layout(layout)
    channels = cfg.channels
    model_overrides.setdefault("in_channels", channels)
    model_overrides.setdefault("num_classes", len(class_names))
    fill_data_overrides(model, model_overrides, joints=cfg.max_bodies * lay.num_joints,
                        bodies=cfg.max_bodies, parents=lay.parents)
    torch.manual_seed(seed)
    net = build_model(model, **model_overrides)
    prep = {**cfg.to_dict(), "layout": lay.name, "layout_def": lay.to_dict(),
            "channels": channels, "joints": cfg.max_bodies * lay.num_joints}
    spec = DataSpec(prep=prep, class_names=tuple(class_names),
                    size=int(net.config.size), stream=stream, test_mirror=test_mirror,
                    input=net.config.input, centre=centre, normalise=normalise, frames=frames)
    return Checkpoint(model_name=model, model_config=net.config.to_dict(),
                      state_dict={k: v.detach().cpu() for k, v in net.state_dict().items()},
                      data=spec).save(path)
