"""``mans show``: skeleton animations and strips, checked by what can be computed from them --
frame counts, pixel sizes, the bones drawn, the colours of the bodies, the attention curve."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from helpers_export import write_checkpoint
from mans import cli
from mans.errors import ConfigError
from mans.formats import read_sequence
from mans.viz.show import DPI, attention_per_frame, show
from mans.skeleton import NTU25, Layout, Sequence
from mans.data.bodies import body_presence
from helpers_pipeline import pipeline_for
from mans.viz.skeleton import bone_segments

TWO_PERSON = "S001C003P008R002A058.skeleton"  # handshaking: 2 bodies


def colour_pixels(img: np.ndarray, name: str, tol: int = 40) -> int:
    """Pixels of ``img (H, W, 3)`` uint8 within ``tol`` of matplotlib colour ``name``."""
    rgb = np.array(to_rgb(name)) * 255
    return int((np.abs(img[..., :3].astype(int) - rgb).max(axis=-1) < tol).sum())


def test_bone_segments_are_the_layout_edges():
    rng = np.random.default_rng(0)
    frame = rng.normal(size=(2, NTU25.num_joints, 3)).astype(np.float32)
    frame[1] = 0  # second body absent
    segs = bone_segments(frame, NTU25)
    assert len(segs) == 2 and segs[1].shape == (0, 2, 3)
    assert segs[0].shape == (len(NTU25.bones), 2, 3) == (24, 2, 3)
    for (child, parent), seg in zip(NTU25.bones, segs[0]):
        assert np.array_equal(seg, frame[0, [child, parent]])


def test_gif_has_one_frame_per_sequence_frame(ntu_samples, tmp_path):
    f = ntu_samples / TWO_PERSON
    seq = read_sequence(f)
    info = show(f, tmp_path / "clip.gif")
    frames = iio.imread(tmp_path / "clip.gif", index=None)  # (N, H, W, 3 or 4)
    assert frames.shape[0] == info["frames"] == seq.num_frames == 70
    assert frames.shape[1:3] == (6 * DPI, 6 * DPI)
    # bones drawn per frame = the layout's edges times the bodies present in that frame
    present = body_presence(seq.joints).sum(axis=1)  # (T,)
    assert info["bones"] == (present * len(NTU25.bones)).tolist()
    assert info["layout_bones"] == 24
    # both bodies are drawn in their colours, and the skeletons move between frames
    assert colour_pixels(frames[0], "tab:blue") > 50 and colour_pixels(frames[0], "tab:red") > 50
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).sum() > 0


def test_png_strip_with_attention(ntu_samples, tmp_path, monkeypatch):
    import mans.formats.ntu as ntu_reader

    reads = []
    real = ntu_reader.read_skeleton
    monkeypatch.setattr(ntu_reader, "read_skeleton", lambda p: reads.append(p) or real(p))
    ckpt = write_checkpoint(tmp_path / "m.pt", "mans_resnet", size=50, hidden=8,
                            resnet_width=8, resnet_stages=[1])
    f = ntu_samples / TWO_PERSON
    info = show(f, tmp_path / "strip.png", ckpt=ckpt, key_frames=4)
    assert reads == [f]  # drawn and predicted from one read
    img = iio.imread(tmp_path / "strip.png")
    assert img.shape[:2] == (round((3.2 + 1.6) * DPI), round(2.6 * 4 * DPI))
    assert info["key_frames"] == [0, 23, 46, 69] and info["bones"] == [48] * 4
    assert len(info["top"]) == 3 and info["top"][0]["class"].startswith("class ")
    # the attention curve (tab:blue line) is drawn in the lower part of the figure, under the
    # skeleton panels
    lower = img[round(3.4 * DPI):]
    assert colour_pixels(lower, "tab:blue", tol=30) > 100


def test_gif_with_checkpoint_and_onnx_model(ntu_samples, tmp_path, capsys):
    from mans.inference.export import export_onnx

    ckpt = write_checkpoint(tmp_path / "m.pt", "mans_resnet", size=50, hidden=8,
                            resnet_width=8, resnet_stages=[1])
    export_onnx(ckpt, tmp_path / "m.onnx", check=False)
    f = ntu_samples / "S001C001P001R001A011.skeleton"
    assert cli.main(["show", str(f), "--ckpt", str(tmp_path / "m.onnx"), "--out",
                     str(tmp_path / "c.gif")]) == 0
    info = json.loads(capsys.readouterr().out)
    frames = iio.imread(tmp_path / "c.gif", index=None)
    assert frames.shape[0] == info["sequence_frames"] == read_sequence(f).num_frames
    assert frames.shape[1:3] == (round(7.5 * DPI), 6 * DPI)
    # the red cursor (the only red in the lower panel: one body, drawn in blue) moves right
    # with the frames; GIF palettes shift colours a little, so "red" is a range
    cols = []
    for fr in (frames[0], frames[-1]):
        lower = fr[round(6 * DPI):, :, :3].astype(int)
        red = (lower[..., 0] > 150) & (lower[..., 1] < 100) & (lower[..., 2] < 100)
        assert red.sum() > 50
        cols.append(np.nonzero(red)[1].mean())
    assert cols[1] - cols[0] > 300  # from the first to the last frame of a 480-pixel-wide axis


def test_attention_per_frame_maps_rows_to_raw_frames():
    # 5 raw frames; frame 2 has 3 bodies and is dropped with max_bodies=2: prepared frames
    # 0..3 are raw frames 0, 1, 3, 4. S = 6 rows: 1 padding row each side.
    joints = np.zeros((5, 3, NTU25.num_joints, 3), np.float32)
    joints[:, 0] = 1.0
    joints[2, 1:] = 1.0
    record = {"frame_index": [-1, 0, 1, 2, 3, -1],
              "attention": [[9, 0.1, 0.2, 0.3, 0.4, 9]] * 2 + [[9, 0.4, 0.5, 0.6, 0.7, 9]]}
    pipeline = pipeline_for(NTU25, 6, view="none", bodies=2)
    frames, w = attention_per_frame(
        record, pipeline.prepared_frames(Sequence(joints=joints, layout=NTU25, name="x")))
    assert frames.tolist() == [0, 1, 3, 4]
    assert np.allclose(w, [0.2, 0.3, 0.4, 0.5])  # mean of x, y, z


def test_two_dimensional_layout(tmp_path):
    from matplotlib.figure import Figure
    from matplotlib.gridspec import GridSpec

    from mans.viz.skeleton import SkeletonPanel

    layout = Layout("stick3", ("a", "b", "c"), (-1, 0, 1))
    joints = np.array([[[[0, 0], [1, 0], [1, 2]]]] * 4, np.float32)  # (T=4, M=1, V=3, C=2)
    fig = Figure()
    panel = SkeletonPanel(fig, GridSpec(1, 1, figure=fig)[0], joints, layout)
    assert panel.draw(0) == 2
    assert [s.tolist() for s in panel.collections[0].get_segments()] == \
        [[[1, 0], [0, 0]], [[1, 2], [1, 0]]]
    assert panel.ax.get_ylim()[0] > panel.ax.get_ylim()[1]  # image coordinates: y down


def test_an_interrupted_clip_leaves_no_file(ntu_samples, tmp_path, monkeypatch):
    """A clip is written beside its name and renamed at the end: an interruption mid-way (or a
    full disk) leaves neither a half-made clip nor the temporary file."""
    import mans.viz.show as show_mod

    real, calls = show_mod._writer, []

    def failing_writer(path, fps):
        writer = real(path, fps)

        class Failing:
            def append_data(self, img):
                calls.append(path)
                if len(calls) == 5:
                    raise KeyboardInterrupt
                writer.append_data(img)

            def close(self):
                writer.close()
        return Failing()

    monkeypatch.setattr(show_mod, "_writer", failing_writer)
    with pytest.raises(KeyboardInterrupt):
        show(ntu_samples / TWO_PERSON, tmp_path / "clip.gif")
    assert calls[0].name != "clip.gif" and list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match="--out .*/f exists and is not a folder"):
        show(ntu_samples / TWO_PERSON, tmp_path / "f" / "clip.gif")


def test_mp4_without_ffmpeg_says_so(ntu_samples, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "imageio_ffmpeg" else real(name, *a))
    with pytest.raises(ConfigError, match="clip.mp4: writing MP4 needs an ffmpeg writer") as e:
        show(ntu_samples / TWO_PERSON, tmp_path / "clip.mp4")
    assert "pip install 'mans[video]'" in str(e.value)  # the extra that installs it:
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("imageio-ffmpeg") for d in project["optional-dependencies"]["video"])
    with pytest.raises(ConfigError, match="writes .gif, .mp4, .png"):
        show(ntu_samples / TWO_PERSON, tmp_path / "clip.avi")
    with pytest.raises(ConfigError, match="--key-frames must be >= 1"):
        show(ntu_samples / TWO_PERSON, tmp_path / "s.png", key_frames=0)
