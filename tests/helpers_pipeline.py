"""The reference of the input pipeline (tests/test_pipeline_reference.py): tiny checkpoints, one
per built-in input stream, trained on a 3-D store (UT-Kinect, view ``authors``) and a 2-D one
(JHMDB-14 key points, view ``2d``), and what every path that feeds a model gives for them.

:func:`outputs` runs every such path on one checkpoint -- ``mans predict`` (the CLI's function,
also fused over the store's four streams), ``mans.load(...).predict`` (files and arrays),
``mans predict --onnx``, timelines, live streams, ``mans eval`` scores and the training set's
(augmented) samples -- and returns the class probabilities (and attention) as arrays.
tests/fixtures/pipeline/make_pipeline.py wrote the checkpoints and what the code of its commit
gave (``expected.npz``); the test checks that today's code gives the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FIX = Path(__file__).resolve().parent / "fixtures" / "pipeline"
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MANS_SHARED_DATA", REPO.parent / "shared" / "data"))

STORES = ("utkinect", "jhmdb14")
STREAMS = ("joint", "bone", "motion", "bone_motion")
# (store, stream, test-time mirroring): every stream on both stores; mirroring on the bone ones
CASES = [(s, k, k == "bone") for s in STORES for k in STREAMS]
# raw inputs: a file of the shared data (long: T > S) and a short one (T < S) kept here
LONG = {"utkinect": "utkinect/joints/joints_s01_e01.txt", "jhmdb14": "jhmdb14/clips/catch_001.npz"}
# timeline windows (window, stride) and live stream strides per store
WINDOWS = {"utkinect": (20, 8), "jhmdb14": (16, 6)}
LIVE = {"utkinect": (5, 90), "jhmdb14": (4, 40)}  # (stride, frames pushed)
# every augmentation step on, for the training samples
AUGMENT = ["data.augment.mirror=0.5", "data.augment.crop=[0.6,1.0]",
           "data.augment.resample=[0.8,1.25]", "data.augment.rotation_deg=[5,5,30]",
           "data.augment.scale=[0.9,1.1]", "data.augment.noise_std=0.01"]
AUGMENT_2D = ["data.augment.mirror=0.5", "data.augment.crop=[0.6,1.0]",
              "data.augment.resample=[0.8,1.25]", "data.augment.rotation_deg=[0,0,20]",
              "data.augment.scale=[0.9,1.1]", "data.augment.noise_std=0.02"]


def case_name(store: str, stream: str) -> str:
    return f"{store}-{stream}"


def checkpoint(store: str, stream: str) -> Path:
    return FIX / f"{case_name(store, stream)}.pt"


def mini_store(store: str) -> Path:
    return FIX / "stores" / store


def inputs(store: str) -> dict[str, Path]:
    """The raw files of ``store``'s cases: ``long`` (shared data) and ``short`` (kept here)."""
    return {"long": SHARED_DATA / LONG[store], "short": FIX / "inputs" / f"{store}-short.npz"}


def probs(record: dict) -> np.ndarray:
    """``(K,)`` class probabilities of a prediction record listing every class."""
    return np.array([t["prob"] for t in sorted(record["top"], key=lambda t: t["label"])])


def outputs(store: str, stream: str, *, onnx_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Every path's probabilities for one case (module docstring), as ``{name: array}``; with
    ``onnx_dir`` also ``mans predict --onnx`` (the checkpoint exported there)."""
    import mans
    from mans.data.augment import build_augment
    from mans.data.dataset import SkeletonDataset
    from mans.data.pipeline import InputPipeline
    from mans.data.store import PreparedStore
    from mans.engine.config import load_config
    from mans.engine.evaluate import checkpoint_scores
    from mans.formats import read_sequence
    from mans.inference.predict import predict_files

    ckpt = checkpoint(store, stream)
    files = inputs(store)
    out: dict[str, np.ndarray] = {}
    clf = mans.load(ckpt, device="cpu")
    k = len(clf.class_names)
    # mans predict (its function: one checkpoint), and fused with the store's other streams
    recs = predict_files(ckpt, list(files.values()), topk=k, device="cpu")
    for name, r in zip(files, recs):
        out[f"predict/{name}"] = probs(r)
        out[f"attention/{name}"] = np.asarray(r["attention"])
        out[f"frame_index/{name}"] = np.asarray(r["frame_index"])
    others = [checkpoint(store, s) for s in STREAMS if s != stream]
    fused = predict_files(ckpt, [files["long"]], topk=k, device="cpu", ensemble=others)
    out["fused/long"] = probs(fused[0])
    # the API: files, and the frames of the short file as an array
    for name, f in files.items():
        out[f"api/{name}"] = probs(clf.predict(f, topk=k))
    short = read_sequence(files["short"], layout=clf.layout)
    out["api/array"] = probs(clf.predict(short.joints[:, 0], topk=k))
    # a timeline of the long file
    window, stride = WINDOWS[store]
    out["timeline/long"] = clf.timeline(files["long"], window=window, stride=stride, topk=k).probs
    # a live stream of the long file's frames
    every, frames = LIVE[store]
    seq = read_sequence(files["long"], layout=clf.layout)
    live = clf.stream(stride=every, topk=k)
    rows = [probs(r) for f in seq.joints[:frames] if (r := live.push(f)) and r["top"]]
    out["live/long"] = np.stack(rows)
    # mans eval: the scores of the mini store's test split
    ev = checkpoint_scores(ckpt, mini_store(store), split="test", device="cpu")
    out["eval/test"] = ev["result"]["scores"].astype(np.float64)
    # training samples, augmented as a run with every augmentation step on draws them
    st = PreparedStore.open(mini_store(store))
    cfg = load_config("demo", overrides=AUGMENT_2D if st.prep["view"] == "2d" else AUGMENT)
    augment = build_augment(cfg.data.augment, st.layout)
    pipeline = InputPipeline(clf.predictor.spec, augment=augment)
    ds = SkeletonDataset(st, st.split(clf.predictor.spec.protocol, "train"), pipeline, seed=5,
                         train=True)
    ds.set_epoch(2)
    images = np.stack([ds[i][0].numpy() for i in range(len(ds))])
    out["train/augmented"] = clf.probabilities(images)
    if onnx_dir is not None:
        from mans.inference.export import export_onnx
        from mans.inference.onnx_predict import OnnxPredictor

        model = onnx_dir / f"{case_name(store, stream)}.onnx"
        export_onnx(ckpt, model, check=False)
        pred = OnnxPredictor(model, threads=1)
        for name, f in files.items():
            out[f"onnx/{name}"] = probs(pred.predict(f, topk=k))
    return out


def joint_image(x: np.ndarray, size: int) -> np.ndarray:
    """The ``(C, S, S)`` image of a stored ``(C, T, J)`` sample with the joint stream, from the
    pipeline's frames and layout steps (:mod:`mans.data.frames`, :mod:`mans.data.layout`), as a
    reference for tests."""
    from mans.data.frames import frame_rows, take_rows
    from mans.data.layout import arrange

    rows = frame_rows(x.shape[1], size)
    return arrange(take_rows(np.asarray(x, dtype=np.float32), rows), rows, size)


def pipeline_for(layout, size: int, stream: str = "joint", *, bodies: int = 1,
                 input: str = "image", view: str = "authors", augment=None, **settings):
    """The :class:`~mans.data.pipeline.InputPipeline` of a model of side ``size`` on data of
    ``layout`` (a Layout or a built-in name) prepared with ``view`` and ``bodies`` slots
    (``settings``: ``centre``, ``normalise``, ``frames``)."""
    from mans.data.pipeline import InputPipeline
    from mans.data.spec import DataSpec
    from mans.skeleton import as_layout

    lay = as_layout(layout)
    prep = {"view": view, "max_bodies": bodies, "layout": lay.name, "layout_def": lay.to_dict(),
            "channels": 2 if view == "2d" else 3, "joints": bodies * lay.num_joints}
    spec = DataSpec(prep=prep, class_names=("a", "b"), size=size, stream=stream, input=input,
                    **settings)
    return InputPipeline(spec, augment=augment)
