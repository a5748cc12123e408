"""Fuzzing mans.formats.ntu.read_skeleton with corrupted copies of the real NTU samples.

Whatever the damage (truncation, byte flips, deleted or duplicated lines), the reader either
returns a Sequence of finite float32 joints of shape (T, M >= 1, 25, 3) or raises FormatError with
a line number; nothing else may escape. Where the fast parser accepts a file, the line-by-line
parser must return the very same arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mans.errors import FormatError
from mans.formats import ntu

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Replacement bytes: mostly ones the format uses, so many mutants still pass the fast parser's
# character screen and exercise its deeper checks; the rest arbitrary.
FORMAT_BYTES = b"0123456789.-+eE \r\n"
byte_values = st.one_of(st.sampled_from(list(FORMAT_BYTES)), st.integers(0, 255))


@pytest.fixture(scope="module")
def originals(ntu_samples) -> list[bytes]:
    raws = [p.read_bytes() for p in sorted(ntu_samples.glob("*.skeleton"))]
    assert len(raws) == 5
    return raws + [r.replace(b"\r\n", b"\n") for r in raws]  # CRLF and LF versions


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def check(raw: bytes, path) -> None:
    path.write_bytes(raw)
    try:
        seq = ntu.read_skeleton(path)
    except FormatError as e:
        assert e.path == str(path)
        # Byte-level problems always have a line; only unreadable files have none.
        assert isinstance(e.line, int) and 1 <= e.line <= raw.count(b"\n") + 2, str(e)
        return
    j = seq.joints
    assert j.dtype == np.float32 and j.ndim == 4 and j.shape[1] >= 1 and j.shape[2:] == (25, 3)
    assert np.isfinite(j).all()
    fast = ntu._parse_fast(raw)
    if fast is not None:
        bodies, xyz = ntu._parse_checked(raw, path)
        assert fast[0] == bodies
        np.testing.assert_array_equal(fast[1], xyz)


def mutate_bytes(raw: bytes, edits: list[tuple[float, int]]) -> bytes:
    b = bytearray(raw)
    for where, value in edits:
        b[int(where * (len(b) - 1))] = value
    return bytes(b)


def mutate_lines(raw: bytes, edits: list[tuple[str, float]]) -> bytes:
    lines = raw.split(b"\n")
    for op, where in edits:
        k = int(where * (len(lines) - 1))
        if op == "delete" and len(lines) > 1:
            del lines[k]
        elif op == "duplicate":
            lines.insert(k, lines[k])
        elif op == "swap" and k + 1 < len(lines):
            lines[k], lines[k + 1] = lines[k + 1], lines[k]
    return b"\n".join(lines)


unit = st.floats(0, 1)


@settings(max_examples=150, **SETTINGS)
@given(which=st.integers(0, 9), cut=unit)
def test_truncations(originals, workdir, which, cut):
    raw = originals[which]
    check(raw[: int(cut * len(raw))], workdir / "cut.skeleton")


@settings(max_examples=250, **SETTINGS)
@given(which=st.integers(0, 9), edits=st.lists(st.tuples(unit, byte_values), min_size=1,
                                                max_size=4))
def test_byte_flips(originals, workdir, which, edits):
    check(mutate_bytes(originals[which], edits), workdir / "flip.skeleton")


@settings(max_examples=150, **SETTINGS)
@given(which=st.integers(0, 9),
       edits=st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "swap"]), unit),
                      min_size=1, max_size=3))
def test_line_edits(originals, workdir, which, edits):
    check(mutate_lines(originals[which], edits), workdir / "lines.skeleton")


@settings(max_examples=100, **SETTINGS)
@given(which=st.integers(0, 9),
       line_edits=st.lists(st.tuples(st.sampled_from(["delete", "duplicate"]), unit),
                           max_size=2),
       byte_edits=st.lists(st.tuples(unit, byte_values), max_size=2), cut=st.floats(0.5, 1))
def test_combined(originals, workdir, which, line_edits, byte_edits, cut):
    raw = mutate_bytes(mutate_lines(originals[which], line_edits), byte_edits)
    check(raw[: int(cut * len(raw))], workdir / "combined.skeleton")
