"""Every path that feeds a model gives the probabilities it gave before the one input pipeline
(issue 18): ``mans predict`` (also fused), ``mans.load(...).predict`` (files, arrays), ``mans
predict --onnx``, timelines, live streams, ``mans eval`` and the training samples (augmented), for
a checkpoint of every built-in input stream on 3-D (UT-Kinect) and 2-D (JHMDB-14) data.

The checkpoints, mini stores and expected numbers in tests/fixtures/pipeline/ were written by
make_pipeline.py there, with the code of the commit that added them (helpers_pipeline.py says
what each number is).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from helpers_engine import one_torch_thread  # noqa: F401  (fixture)
from helpers_pipeline import CASES, FIX, SHARED_DATA, case_name, outputs

EXPECTED = np.load(FIX / "expected.npz")


@pytest.mark.parametrize("store,stream", [(s, k) for s, k, _ in CASES])
def test_every_path_gives_the_reference_probabilities(store, stream, tmp_path):
    if not (SHARED_DATA / store).is_dir():
        pytest.fail(f"real data folder {SHARED_DATA / store} is missing", pytrace=False)
    onnx = importlib.util.find_spec("onnxruntime") is not None
    got = outputs(store, stream, onnx_dir=tmp_path if onnx else None)
    prefix = f"{case_name(store, stream)}/"
    want = {k[len(prefix):]: EXPECTED[k] for k in EXPECTED.files if k.startswith(prefix)}
    if not onnx:
        want = {k: v for k, v in want.items() if not k.startswith("onnx/")}
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        if key.startswith("frame_index/"):
            np.testing.assert_array_equal(got[key], value, err_msg=key)
        elif key.startswith("attention/"):  # the record rounds it to 1e-4
            np.testing.assert_allclose(got[key], value, atol=2e-4, err_msg=key)
        elif key.startswith("onnx/"):
            np.testing.assert_allclose(got[key], value, rtol=1e-4, atol=1e-6, err_msg=key)
        else:
            np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-7, err_msg=key)


def test_the_reference_is_not_degenerate():
    """The inputs differ enough that a preprocessing change shows beyond the tolerances: the
    probabilities of different inputs to one checkpoint, and of one input to the four streams,
    differ by far more than 1e-5."""
    for store in ("utkinect", "jhmdb14"):
        a = EXPECTED[f"{store}-joint/predict/long"]
        b = EXPECTED[f"{store}-joint/predict/short"]
        assert np.abs(a - b).max() > 1e-3
        streams = [EXPECTED[f"{store}-{s}/predict/long"]
                   for s in ("joint", "bone", "motion", "bone_motion")]
        assert min(np.abs(x - y).max() for i, x in enumerate(streams)
                   for y in streams[i + 1:]) > 1e-3
