"""mans.formats.ntu: the NTU RGB+D .skeleton reader and writer, on the real samples and on
hand-made files (0-body and 3-body frames, CRLF/LF, every kind of broken input)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mans.coordinates import F32_OVERFLOW
from mans.errors import FormatError
from mans.formats import read_sequence
from mans.formats import ntu
from mans.formats.ntu import parse_sample_name, read_skeleton, write_skeleton

# name -> (frames, bodies listed in every frame), from shared/data/ntu-samples/SOURCE.txt
REAL = {
    "S001C001P001R001A011": (82, 1),
    "S001C003P008R002A058": (70, 2),
    "S002C001P003R001A003": (100, 1),
    "S003C001P015R001A034": (71, 1),
    "S004C002P003R001A017": (124, 1),
}


def reference_parse(text: str) -> tuple[list[int], np.ndarray]:
    """Independent reader for well-formed files: walks the whitespace-separated token stream
    (no notion of lines), returning bodies per frame and ``(N * 25, 3)`` x, y, z as float32."""
    tok = text.split()
    k = 1
    bodies, xyz = [], []
    for _ in range(int(tok[0])):
        nb = int(tok[k])
        k += 1
        bodies.append(nb)
        for _ in range(nb):
            k += 10  # body-info fields
            assert tok[k] == "25"
            k += 1
            for _ in range(25):
                xyz.append([float(v) for v in tok[k:k + 3]])
                k += 12
    assert k == len(tok)
    return bodies, np.asarray(xyz, dtype=np.float32).reshape(-1, 3)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_samples(ntu_samples, name):
    path = ntu_samples / f"{name}.skeleton"
    seq = read_skeleton(path)
    frames, nbody = REAL[name]
    assert seq.joints.dtype == np.float32
    assert seq.joints.shape == (frames, nbody, 25, 3)
    assert (seq.bodies_per_frame() == nbody).all()
    assert np.isfinite(seq.joints).all()
    # Kinect v2 range: people stand 0.5-4.5 m in front of the camera, within a few metres.
    xyz = seq.joints.reshape(-1, 3)
    assert (np.abs(xyz[:, :2]) < 2.5).all()
    assert (xyz[:, 2] > 0.5).all() and (xyz[:, 2] < 6.0).all()
    # Every listed coordinate equals the token-stream reference, bit for bit.
    bodies, ref = reference_parse(path.read_text("ascii"))
    assert bodies == [nbody] * frames
    np.testing.assert_array_equal(seq.joints.reshape(-1, 3), ref)
    ids = parse_sample_name(name)
    assert (seq.name, seq.layout.name, seq.fps, seq.source) == (name, "ntu25", 30.0, str(path))
    assert seq.label == ids["action"] - 1
    assert (seq.setup, seq.camera, seq.subject, seq.replication) == (
        ids["setup"], ids["camera"], ids["subject"], ids["replication"])


def test_real_values_spot_checks(ntu_samples):
    """Values copied by hand from the file text."""
    a011 = read_skeleton(ntu_samples / "S001C001P001R001A011.skeleton").joints
    np.testing.assert_array_equal(a011[0, 0, 0], np.float32([0.2058097, 0.1920515, 3.810989]))
    np.testing.assert_array_equal(a011[0, 0, 3], np.float32([0.1907605, 0.8009055, 3.606914]))
    a058 = read_skeleton(ntu_samples / "S001C003P008R002A058.skeleton").joints
    # line 32: the first joint of the second body of frame 1
    np.testing.assert_array_equal(a058[0, 1, 0], np.float32([-0.387201, -0.05403496, 2.961099]))
    a017 = read_skeleton(ntu_samples / "S004C002P003R001A017.skeleton").joints
    # last line of the file: joint 25 (right thumb) of the only body of the last frame
    np.testing.assert_array_equal(a017[-1, 0, 24], np.float32([0.02893868, -0.4615996, 2.90275]))


def test_real_samples_take_the_fast_path(ntu_samples):
    """The official layout must not fall back to the per-line parser (that is the speed)."""
    for name in REAL:
        raw = (ntu_samples / f"{name}.skeleton").read_bytes()
        fast = ntu._parse_fast(raw)
        assert fast is not None, name
        bodies, xyz = ntu._parse_checked(raw, Path(name))
        assert fast[0] == bodies
        np.testing.assert_array_equal(fast[1], xyz)


def test_crlf_and_lf_identical(ntu_samples, tmp_path):
    src = ntu_samples / "S001C003P008R002A058.skeleton"
    raw = src.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")  # the release is CRLF throughout
    lf = tmp_path / src.name
    lf.write_bytes(raw.replace(b"\r\n", b"\n"))
    assert ntu._parse_fast(lf.read_bytes()) is not None
    np.testing.assert_array_equal(read_skeleton(src).joints, read_skeleton(lf).joints)


def test_loose_whitespace_is_accepted(ntu_samples, tmp_path):
    """Tabs, repeated spaces, indentation, trailing blanks: the checked parser takes over and
    gives the same arrays."""
    src = ntu_samples / "S001C001P001R001A011.skeleton"
    raw = src.read_bytes()
    lines = raw.split(b"\r\n")
    loose = [b"  " + ln.replace(b" ", b" \t ") + b"  " for ln in lines[:-1]] + [b"", b"  "]
    p = tmp_path / src.name
    p.write_bytes(b"\n".join(loose))
    assert ntu._parse_fast(p.read_bytes()) is None
    np.testing.assert_array_equal(read_skeleton(src).joints, read_skeleton(p).joints)


def test_name_parsing(tmp_path):
    ids = parse_sample_name("S017C002P040R001A060")
    assert ids == {"setup": 17, "camera": 2, "subject": 40, "replication": 1, "action": 60}
    for bad in ("S17C002P040R001A060", "S017C002P040R001A060x", "s017c002p040r001a060",
                "S017C002P040R001A000", "foo"):
        assert parse_sample_name(bad) is None
    joints = np.ones((2, 1, 25, 3), np.float32)
    seq = read_skeleton(write_skeleton(tmp_path / "S032C003P106R002A120.skeleton", joints))
    assert (seq.setup, seq.camera, seq.subject, seq.replication, seq.label) == (32, 3, 106, 2, 119)
    seq = read_skeleton(write_skeleton(tmp_path / "my_recording.skeleton", joints))
    assert seq.name == "my_recording"
    assert (seq.setup, seq.camera, seq.subject, seq.replication, seq.label) == (None,) * 5


def random_joints(rng, t, m):
    x = rng.uniform(-1.5, 1.5, size=(t, m, 25, 3)).astype(np.float32)
    x[..., 2] += 3.0  # in front of the camera
    return x


def test_writer_round_trip_exact(tmp_path):
    rng = np.random.default_rng(0)
    joints = random_joints(rng, 20, 2)
    joints[3, 1, 5] = [1e-7, -2.5e-6, 1e-30]  # exponent notation
    joints[4, 0, 0] = [-0.0, 0.0, 123.456]
    p = write_skeleton(tmp_path / "S001C001P001R001A001.skeleton", joints)
    seq = read_skeleton(p, max_coord_m=1e3)  # 123.456 m probes the number format, not realism
    np.testing.assert_array_equal(seq.joints, joints)
    raw = p.read_bytes()
    assert ntu._parse_fast(raw) is not None
    lines = raw.split(b"\r\n")
    assert lines[-1] == b"" and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
    assert lines[0] == b"20" and lines[1] == b"2" and lines[3] == b"25"
    assert len(lines[2].split()) == 10 and len(lines[4].split()) == 12
    assert len(lines) - 1 == 1 + 20 * (1 + 2 * 27)


def test_zero_and_three_body_frames(tmp_path):
    rng = np.random.default_rng(1)
    joints = random_joints(rng, 5, 3)
    bodies = [1, 0, 3, 2, 0]
    for t, n in enumerate(bodies):
        joints[t, n:] = 0
    p = write_skeleton(tmp_path / "S001C001P001R001A050.skeleton", joints, bodies=bodies,
                       newline="\n")
    text = p.read_text()
    assert "\r" not in text
    assert [int(v.split()[0]) for v in text.split("\n")[1:3]] == [1, 72057594037927936]
    seq = read_skeleton(p)
    assert seq.joints.shape == (5, 3, 25, 3)
    assert seq.bodies_per_frame().tolist() == bodies
    np.testing.assert_array_equal(seq.joints, joints)
    ref_bodies, ref = reference_parse(text)
    assert ref_bodies == bodies and len(ref) == 6 * 25
    # default `bodies`: up to the last non-empty slot, so the same file comes out
    p2 = write_skeleton(tmp_path / "again.skeleton", joints, newline="\n")
    assert p2.read_bytes() == p.read_bytes()


def test_no_body_at_all_keeps_one_slot(tmp_path):
    p = write_skeleton(tmp_path / "S001C002P005R002A008.skeleton", np.zeros((4, 2, 25, 3)))
    assert p.read_bytes() == b"4\r\n0\r\n0\r\n0\r\n0\r\n"
    seq = read_skeleton(p)
    assert seq.joints.shape == (4, 1, 25, 3) and not seq.joints.any()
    p.write_text("0\n")
    assert read_skeleton(p).joints.shape == (0, 1, 25, 3)


def test_writer_rejects_bad_arrays(tmp_path):
    with pytest.raises(ValueError, match="25, 3"):
        write_skeleton(tmp_path / "a.skeleton", np.zeros((2, 1, 20, 3)))
    with pytest.raises(ValueError, match="finite"):
        write_skeleton(tmp_path / "a.skeleton", np.full((2, 1, 25, 3), np.nan))
    with pytest.raises(ValueError, match="bodies"):
        write_skeleton(tmp_path / "a.skeleton", np.zeros((2, 1, 25, 3)), bodies=[2, 0])


def test_float32_overflow_threshold():
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(F32_OVERFLOW))
        assert np.isfinite(np.float32(np.nextafter(F32_OVERFLOW, 0.0)))


# --- broken input --------------------------------------------------------------------------------
# A small LF file with frames listing 1, 2 and 0 bodies; its lines (1-based):
#   1 "3" | 2 "1" | 3 info | 4 "25" | 5-29 joints | 30 "2" | 31 info | 32 "25" | 33-57 joints |
#   58 info | 59 "25" | 60-84 joints | 85 "0"


@pytest.fixture
def small_lines(tmp_path) -> list[str]:
    joints = random_joints(np.random.default_rng(2), 3, 2)
    p = write_skeleton(tmp_path / "small.skeleton", joints, bodies=[1, 2, 0], newline="\n")
    lines = p.read_text().split("\n")
    assert len(lines) == 86 and lines[-1] == "" and lines[84] == "0"
    return lines[:-1]


def _replace(lines, number, new):
    out = list(lines)
    out[number - 1] = new
    return out


def _field(lines, number, k, value):
    f = lines[number - 1].split(" ")
    f[k] = value
    return _replace(lines, number, " ".join(f))


def _drop_field(line, k, pad):
    """``line`` without field ``k``, ``pad`` added in front of the field that follows it."""
    f = line.split(" ")
    del f[k]
    if k < len(f):
        f[k] = pad + f[k]
    return " ".join(f)


BROKEN = {
    # case: (edit of the 85 lines -> text, line reported, words in the message)
    "empty file": (lambda ls: "", 1, "empty file"),
    "only blank lines": (lambda ls: "\r\n \n\n", 1, "empty file"),
    "frame count not a number": (lambda ls: "\n".join(_replace(ls, 1, "three")), 1,
                                 "number of frames"),
    "negative body count": (lambda ls: "\n".join(_replace(ls, 30, "-2")), 30,
                            "non-negative integer"),
    "body count with a fraction": (lambda ls: "\n".join(_replace(ls, 2, "1.0")), 2,
                                   "number of bodies in frame 1"),
    "truncated inside joints": (lambda ls: "\n".join(ls[:40]) + "\n", 41, "file ends early"),
    "truncated mid-line": (lambda ls: "\n".join(ls[:40])[:-7], 40, "expected 12 fields"),
    "truncated before a frame": (lambda ls: "\n".join(ls[:84]), 85,
                                 "file ends early: expected the number of bodies in frame 3"),
    "frame count too large": (lambda ls: "\n".join(_replace(ls, 1, "4")), 86, "file ends early"),
    "wrong joint count": (lambda ls: "\n".join(_replace(ls, 32, "24")), 32, "expected 25 joints"),
    "joint line with 11 fields": (lambda ls: "\n".join(
        _replace(ls, 45, ls[44].rsplit(" ", 1)[0])), 45, "expected 12 fields"),
    "joint line with 13 fields": (lambda ls: "\n".join(_replace(ls, 45, ls[44] + " 0")), 45,
                                  "found 13"),
    # 11 fields but 11 spaces (an empty field): the space count alone would pass
    "joint line with a double space": (lambda ls: "\n".join(_replace(ls, 46, _drop_field(
        ls[45], 7, " "))), 46, "found 11"),
    "joint line with a leading space": (lambda ls: "\n".join(_replace(ls, 47, " " + _drop_field(
        ls[46], 3, ""))), 47, "found 11"),
    "joint line with a trailing space": (lambda ls: "\n".join(_replace(ls, 48, _drop_field(
        ls[47], 11, "") + " ")), 48, "found 11"),
    "body-info line with 9 fields": (lambda ls: "\n".join(
        _replace(ls, 58, ls[57].rsplit(" ", 1)[0])), 58, "10 fields"),
    "non-numeric x": (lambda ls: "\n".join(_field(ls, 7, 0, "abc")), 7, "x is not a number"),
    "non-numeric y (two dots)": (lambda ls: "\n".join(_field(ls, 8, 1, "1.2.3")), 8,
                                 "y is not a number"),
    "non-numeric unused field": (lambda ls: "\n".join(_field(ls, 9, 11, "2x")), 9,
                                 "trackingState is not a number"),
    "non-numeric body info": (lambda ls: "\n".join(_field(ls, 31, 0, "id#7")), 31,
                              "body-info field 1"),
    "NaN": (lambda ls: "\n".join(_field(ls, 60, 1, "nan")), 60, "y is not finite"),
    "inf": (lambda ls: "\n".join(_field(ls, 61, 2, "-inf")), 61, "z is not finite"),
    "overflowing exponent": (lambda ls: "\n".join(_field(ls, 62, 0, "1E999")), 62,
                             "x is not finite"),
    "beyond float32": (lambda ls: "\n".join(_field(ls, 63, 0, "1E39")), 63, "float32 range"),
    "NUL byte": (lambda ls: "\n".join(_field(ls, 64, 2, "1\x000")), 64, "z is not a number"),
    "non-ASCII byte": (lambda ls: "\n".join(_field(ls, 65, 4, "2\u00b5")), 65,
                       "depthY is not a number"),
    "blank line inside": (lambda ls: "\n".join(ls[:29] + [""] + ls[29:]), 30,
                          "found an empty line"),
    "trailing garbage": (lambda ls: "\n".join(ls + ["", "7 7 7"]) + "\n", 87,
                         "after the last frame"),
    "trailing number": (lambda ls: "\n".join(ls + ["0"]), 86, "after the last frame"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_broken_input_raises_format_error_at_the_line(small_lines, tmp_path, case, newline):
    edit, line, words = BROKEN[case]
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_bytes(edit(small_lines).replace("\n", newline).encode("utf-8"))
    with pytest.raises(FormatError) as err:
        read_skeleton(p)
    e = err.value
    assert (e.path, e.line) == (str(p), line), str(e)
    assert str(e).startswith(f"{p}:{line}: ")
    assert words in str(e)


def test_the_unbroken_small_file_reads(small_lines, tmp_path):
    """Guard for the table above: without the edit the same file is fine."""
    p = tmp_path / "S001C001P001R001A001.skeleton"
    p.write_text("\n".join(small_lines) + "\n")
    assert read_skeleton(p).bodies_per_frame().tolist() == [1, 2, 0]


def test_truncated_real_file(ntu_samples, tmp_path):
    raw = (ntu_samples / "S001C001P001R001A011.skeleton").read_bytes()
    p = tmp_path / "cut.skeleton"
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.skeleton:\d+: "):
        read_skeleton(p)


def test_unreadable_paths(tmp_path):
    with pytest.raises(FormatError, match="cannot read"):
        read_skeleton(tmp_path / "absent.skeleton")
    with pytest.raises(FormatError, match="cannot read"):
        read_skeleton(tmp_path)  # a folder


def test_read_sequence_dispatch(ntu_samples):
    seq = read_sequence(ntu_samples / "S003C001P015R001A034.skeleton")
    assert seq.layout.name == "ntu25" and seq.joints.shape == (71, 1, 25, 3)


@pytest.mark.parametrize("token", ["+1", "-.5", "5.", "1e5", "1E+05", "-0", "1e-400", "007.5",
                                   ".e1", "1e", "--1", "1.2.3", "e", "+", "-", "1e5.5", "0x1"])
def test_fast_and_checked_parsers_agree_on_odd_numbers(small_lines, tmp_path, token):
    """x of one joint replaced by an odd token: the fast parser either declines or returns
    what the checked parser returns, and read_skeleton's outcome follows the checked one."""
    raw = "\n".join(_field(small_lines, 40, 0, token)).encode()
    p = tmp_path / "odd.skeleton"
    p.write_bytes(raw)
    try:
        expected = ntu._parse_checked(raw, p)
    except FormatError as e:
        assert e.line == 40 and ntu._parse_fast(raw) is None
        with pytest.raises(FormatError, match=":40: "):
            read_skeleton(p)
        return
    assert float(token) == expected[1][40 - 33 + 25, 0]  # line 40: joint 8 of body 1, frame 2
    fast = ntu._parse_fast(raw)
    assert fast is not None and fast[0] == expected[0]
    np.testing.assert_array_equal(fast[1], expected[1])
