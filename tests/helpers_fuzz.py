"""Shared fuzz scaffolding for the reader fuzz tests (test_fuzz_readers.py,
test_fuzz_pose_readers.py): bounded, derandomised hypothesis settings, the byte-level mutation
strategy and the base check every reader's output must pass."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from mans.skeleton import Sequence

FUZZ = settings(max_examples=500, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` truncated, with bytes flipped, or with lines deleted/duplicated (1-3 edits)."""
    kind = draw(st.sampled_from(["truncate", "flip", "delete", "duplicate", "mixed"]))
    if kind == "truncate":
        return data[:draw(st.integers(0, len(data)))]
    out = bytearray(data)
    if kind in ("flip", "mixed"):
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(out) - 1))
            out[i] = draw(st.sampled_from([ord(c) for c in "0 9-.e\nxn:#\r"]) | st.integers(0, 255))
    if kind in ("delete", "duplicate", "mixed"):
        lines = bytes(out).split(b"\n")
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "duplicate":
                lines.insert(i, lines[i])
            else:
                del lines[i]
        out = bytearray(b"\n".join(lines))
    return bytes(out)


def check_sequence(seq: Sequence, layout: str | None = None) -> None:
    """What any reader's output must be: a Sequence of finite float32 ``(T >= 1, M, V, C)``
    joints, V the layout's joint count (and the layout called ``layout`` when given)."""
    assert isinstance(seq, Sequence)
    assert seq.joints.dtype == np.float32 and seq.joints.ndim == 4 and seq.num_frames >= 1
    assert np.isfinite(seq.joints).all()
    assert seq.joints.shape[2] == seq.layout.num_joints
    if layout is not None:
        assert seq.layout.name == layout
