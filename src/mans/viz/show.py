"""``mans show``: a skeleton file as an animation (GIF or MP4) or a strip of key frames (PNG).

Every frame of the raw sequence is drawn from its layout's bones, every body in its own colour
(:mod:`mans.viz.skeleton`); one animation frame per sequence frame. With a model (``--ckpt``: a
``.pt`` checkpoint run on PyTorch, or a ``.onnx`` export run on onnxruntime) the figure adds the
TARM attention per frame (mean over x, y, z) as a curve with a cursor at the current frame, and
the top-3 classes in the title.

The model sees the *prepared* sequence (frames with too many bodies dropped, then resampled or
padded to S rows: its input pipeline, :mod:`mans.data.pipeline`); each model row is plotted at
the raw frame it came from (:func:`attention_per_frame`), so the curve and the skeleton share one
time axis.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ..attention_stats import attention_label
from ..errors import ConfigError
from ..outputs import atomic_path, check_out_folder
from ..formats import read_sequence

FORMATS = (".gif", ".mp4", ".png")
DPI = 80


def attention_per_frame(record: dict, raw_frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's attention placed on the raw sequence's frames.

    Args:
        record: a prediction record (:func:`mans.inference.records.prediction_record`) with
            ``attention`` ``(C, S)`` and ``frame_index`` ``(S,)`` (prepared frame per row, -1 =
            padding).
        raw_frames: ``(T',)`` the raw frame of each prepared frame (the input pipeline's
            :meth:`~mans.data.pipeline.InputPipeline.prepared_frames`).

    Returns:
        ``(frames (N,), weights (N,))``: raw frame index and mean-over-channels attention of each
        non-padding model row, sorted by frame.
    """
    rows = np.asarray(record["frame_index"])  # (S,)
    att = np.asarray(record["attention"], dtype=np.float64).mean(axis=0)  # (S,)
    use = rows >= 0
    frames = np.asarray(raw_frames)[rows[use]]
    order = np.argsort(frames, kind="stable")
    return frames[order], att[use][order]


def _predictor(ckpt: Path):
    """The model ``ckpt`` loaded for prediction on the CPU (an ``.onnx`` on onnxruntime)."""
    if ckpt.suffix == ".onnx":
        from ..inference.onnx_predict import OnnxPredictor

        return OnnxPredictor(ckpt)
    from ..inference.predict import Predictor

    return Predictor(ckpt, device="cpu")


def _writer(out: Path, fps: float):
    """An imageio writer for ``out`` (GIF: Pillow; MP4: ffmpeg, which must be installed)."""
    import imageio.v2 as imageio

    if out.suffix == ".mp4":
        return imageio.get_writer(out, fps=fps, macro_block_size=1)
    return imageio.get_writer(out, mode="I", duration=1000.0 / fps, loop=0)


def _title(record: dict | None, name: str) -> str:
    if record is None:
        return name
    top = ", ".join(f"{t['class']} {t['prob']:.2f}" for t in record["top"])
    return f"{name}: {top}"


def show(path: str | Path, out: str | Path, *, ckpt: str | Path | None = None,
         fmt: str | None = None, fps: float | None = None, key_frames: int = 6) -> dict:
    """Draw the skeleton file ``path`` into ``out`` (``.gif``, ``.mp4`` or ``.png``).

    Args:
        path: a skeleton file any reader of :mod:`mans.formats` reads.
        out: the figure; its suffix chooses the kind.
        ckpt: optional model (``.pt`` or ``.onnx``) whose attention and top-3 classes are shown.
        fmt: reader to use (default: from the file name).
        fps: frames per second of the animation (default: the file's, else 30).
        key_frames: frames in the PNG strip, evenly spaced over the sequence.

    Returns:
        ``{"out", "kind", "frames": images written (animations: one per sequence frame; PNG:
        1), "sequence_frames": T, "bones": bones drawn per written frame (over all bodies),
        "layout_bones": the layout's bone count, "key_frames": PNG frame indices, "top"}``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    from .skeleton import SkeletonPanel

    path, out = Path(path), Path(out)
    if out.suffix not in FORMATS:
        raise ConfigError(f"{out}: mans show writes {', '.join(FORMATS)}, not {out.suffix!r}")
    if key_frames < 1 or (fps is not None and not fps > 0):
        raise ConfigError(f"mans show: --key-frames must be >= 1 and --fps > 0, got "
                          f"{key_frames} and {fps}")
    if out.suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise ConfigError(f"{out}: writing MP4 needs an ffmpeg writer, which is not "
                          f"installed (pip install 'mans[video]', which adds imageio-ffmpeg); write "
                          f"a .gif instead")
    check_out_folder(out.parent, "--out")  # before reading and predicting, not after
    predictor = None if ckpt is None else _predictor(Path(ckpt))
    # read once, drawn and predicted; an .npz may name the model's own layout
    seq = read_sequence(path, fmt, None if predictor is None else predictor.layout)
    layout = seq.layout
    joints = np.asarray(seq.joints, dtype=np.float32)  # (T, M, V, C)
    T = joints.shape[0]
    if T == 0:
        raise ConfigError(f"{path}: the sequence has no frames to show")
    record = curve = None
    if predictor is not None:
        record = predictor.predict(seq, topk=3)
        if record["attention"] is not None:
            curve = attention_per_frame(record, predictor.pipeline.prepared_frames(seq))
    fps = float(fps or seq.fps or 30.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {"out": str(out), "kind": out.suffix[1:], "sequence_frames": T,
            "layout_bones": len(layout.bones), "top": record["top"] if record else None,
            "attention_label": record.get("attention_label") if record else None}

    if out.suffix == ".png":
        keys = np.unique(np.linspace(0, T - 1, min(key_frames, T)).round().astype(int))
        k = len(keys)
        fig = plt.figure(figsize=(2.6 * k, 3.2 + (1.6 if curve else 0)), dpi=DPI)
        grid = GridSpec(2 if curve else 1, k, figure=fig,
                        height_ratios=[3.2, 1.6] if curve else None)
        bones = []
        for i, t in enumerate(keys):
            panel = SkeletonPanel(fig, grid[0, i], joints, layout)
            bones.append(panel.draw(int(t)))
            panel.ax.set_title(f"frame {t + 1}/{T}", fontsize=9)
        if curve:
            ax = fig.add_subplot(grid[1, :])
            _plot_curve(ax, curve, T)
            for t in keys:
                ax.axvline(t, color="0.6", lw=0.8, ls="--")
        fig.suptitle(_title(record, seq.name), fontsize=10)
        fig.subplots_adjust(left=0.03, right=0.97, wspace=0.05, top=0.9, bottom=0.1, hspace=0.3)
        with atomic_path(out) as tmp:  # never a half-written file under the name
            fig.savefig(tmp, dpi=DPI)
        plt.close(fig)
        info.update(frames=1, bones=bones, key_frames=keys.tolist())
        return info

    fig = plt.figure(figsize=(6, 7.5 if curve else 6), dpi=DPI)
    grid = GridSpec(2 if curve else 1, 1, figure=fig, height_ratios=[4, 1.2] if curve else None)
    panel = SkeletonPanel(fig, grid[0, 0], joints, layout)
    cursor = None
    if curve:
        ax = fig.add_subplot(grid[1, 0])
        _plot_curve(ax, curve, T)
        cursor = ax.axvline(0, color="tab:red", lw=1.5)
    title = fig.suptitle("", fontsize=10)
    bones = []
    try:
        with atomic_path(out) as tmp:  # an interrupted clip leaves nothing under the name
            writer = _writer(tmp, fps)
            try:
                for t in range(T):
                    bones.append(panel.draw(t))
                    # the frame counter also keeps consecutive images distinct: a GIF writer
                    # merges identical frames, and the frame count must equal the length
                    title.set_text(f"{_title(record, seq.name)}\nframe {t + 1}/{T}")
                    if cursor is not None:
                        cursor.set_xdata([t, t])
                    fig.canvas.draw()
                    writer.append_data(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
            finally:
                writer.close()
    finally:
        plt.close(fig)
    info.update(frames=T, bones=bones, key_frames=[])
    return info


def _plot_curve(ax, curve: tuple[np.ndarray, np.ndarray], T: int) -> None:
    """The attention per frame, on its own (min-max) range: a trained TARM's sigmoid weights
    often span only a few hundredths, which a 0-1 axis would show as a flat line; so the axis
    is labelled with the curve's max/min ratio (:func:`mans.attention_stats.attention_label`),
    which says "near-uniform" when the weights differ by less than half."""
    frames, weights = curve
    ax.plot(frames, weights, color="tab:blue", lw=1.2, marker=".", ms=3)
    ax.set_xlim(-0.5, T - 0.5)
    lo, hi = float(weights.min()), float(weights.max())
    pad = max(hi - lo, 1e-4) * 0.1
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("frame")
    ax.set_ylabel("attention")
    ax.set_title(attention_label(weights), fontsize=8)
    ax.tick_params(labelsize=8)
