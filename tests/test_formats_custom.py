"""Custom .npz reader and the ``custom`` folder dataset (labels.csv)."""

from __future__ import annotations

import numpy as np
import pytest

from mans.datasets import get_dataset
from mans.datasets.custom import holdout_is_test
from mans.errors import ConfigError, FormatError
from mans.formats import read_sequence
from mans.formats.custom import read_npz
from mans.skeleton import builtin_layout

RNG = np.random.default_rng(0)


def _xyz(t=7, v=25, c=3, m=None):
    shape = (t, v, c) if m is None else (t, m, v, c)
    return RNG.normal(size=shape).astype(np.float32)


def test_builtin_layout_by_name(tmp_path):
    xyz = _xyz()
    np.savez(tmp_path / "a.npz", joints=xyz, layout="ntu25", label=3, subject=2, fps=30)
    seq = read_sequence(tmp_path / "a.npz")
    assert seq.joints.shape == (7, 1, 25, 3) and seq.joints.dtype == np.float32
    np.testing.assert_array_equal(seq.joints[:, 0], xyz)
    assert (seq.layout.name, seq.label, seq.subject, seq.fps, seq.name) == ("ntu25", 3, 2, 30.0, "a")


def test_multi_body_2d_and_string_label(tmp_path):
    xyz = _xyz(t=4, v=20, c=2, m=2)
    np.savez(tmp_path / "b.npz", joints=xyz.astype(np.float64), layout="kinect20", label="jump",
             name="clip-b")
    seq = read_npz(tmp_path / "b.npz")
    assert seq.joints.shape == (4, 2, 20, 2) and seq.label is None and seq.name == "clip-b"
    assert read_npz(tmp_path / "b.npz", class_names=["walk", "jump"]).label == 1


def test_layout_defined_in_file(tmp_path):
    names = np.array(["pelvis", "lhip", "rhip", "neck"])
    parents = np.array([-1, 0, 0, 0])
    roles = np.array(["spine_base=pelvis", "left_hip=lhip", "right_hip=rhip", "spine_top=neck"])
    for f in ("c.npz", "d.npz"):
        np.savez(tmp_path / f, joints=_xyz(v=4), joint_names=names, parents=parents, roles=roles)
    a, b = read_npz(tmp_path / "c.npz"), read_npz(tmp_path / "d.npz")
    assert a.layout == b.layout and a.layout.name.startswith("npz-")  # same definition, same name
    lay = a.layout
    assert lay.joints == tuple(names) and lay.parents == (-1, 0, 0, 0)
    assert lay.role("left_hip") == 1 and lay.role("spine_top") == 3
    np.savez(tmp_path / "e.npz", joints=_xyz(v=4), joint_names=names, parents=parents,
             layout="my-rig")
    rig = read_npz(tmp_path / "e.npz").layout
    assert rig.name == "my-rig" and rig.parents == (-1, 0, 0, 0)
    # the definition travels on the sequence: nothing is registered under the file's name
    with pytest.raises(ConfigError, match="unknown layout 'my-rig'"):
        builtin_layout("my-rig")
    # a file may name a layout the caller holds (a model's own) without defining it again
    np.savez(tmp_path / "f.npz", joints=_xyz(v=4), layout="my-rig")
    assert "unknown layout 'my-rig'" in _bad_file(tmp_path / "f.npz")
    assert read_npz(tmp_path / "f.npz", rig).layout is rig
    # a definition may not take a built-in layout's name
    np.savez(tmp_path / "g.npz", joints=_xyz(v=4), joint_names=names, parents=parents,
             layout="ntu25")
    assert "'ntu25' is a built-in layout" in _bad_file(tmp_path / "g.npz")


def _bad_file(path):
    with pytest.raises(FormatError) as e:
        read_npz(path)
    return str(e.value)


def _bad(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(FormatError) as e:
        read_npz(path)
    assert str(path) in str(e.value)
    return str(e.value)


def test_errors(tmp_path):
    xyz = _xyz()
    assert "no 'joints'" in _bad(tmp_path, layout="ntu25")
    assert "no layout" in _bad(tmp_path, joints=xyz)
    assert "unknown layout" in _bad(tmp_path, joints=xyz, layout="nope")
    assert "25 joints per body, but layout 'kinect20' has 20" in _bad(tmp_path, joints=xyz,
                                                                       layout="kinect20")
    assert "C in (2, 3)" in _bad(tmp_path, joints=_xyz(c=4), layout="ntu25")
    assert "no empty axis" in _bad(tmp_path, joints=np.zeros((0, 25, 3)), layout="ntu25")
    assert "shape (T, V, C)" in _bad(tmp_path, joints=np.zeros((25, 3)), layout="ntu25")
    nan = xyz.copy()
    nan[5, 3, 1] = np.nan
    assert "key 'joints', frame 5, body slot 0, joint 3 (head): y = nan is not finite" in _bad(
        tmp_path, joints=nan, layout="ntu25")
    assert "float32 range" in _bad(tmp_path, joints=np.full((2, 25, 3), 1e300), layout="ntu25")
    assert "expected numbers" in _bad(tmp_path, joints=np.full((2, 25, 3), "x"), layout="ntu25")
    assert "'subject'" in _bad(tmp_path, joints=xyz, layout="ntu25", subject=0)
    assert "'label'" in _bad(tmp_path, joints=xyz, layout="ntu25", label=-1)
    assert "'label'" in _bad(tmp_path, joints=xyz, layout="ntu25", label=np.array([1, 2]))
    assert "'label'" in _bad(tmp_path, joints=xyz, layout="ntu25", label=1.5)
    assert "'fps'" in _bad(tmp_path, joints=xyz, layout="ntu25", fps=-3)
    names = np.array(["a", "b"])
    assert "'parents'" in _bad(tmp_path, joints=_xyz(v=2), joint_names=names)
    assert "'parents'" in _bad(tmp_path, joints=_xyz(v=2), joint_names=names,
                               parents=np.array([-1]))
    assert "invalid parent" in _bad(tmp_path, joints=_xyz(v=2), joint_names=names,
                                    parents=np.array([-1, 7]))
    assert "'roles'" in _bad(tmp_path, joints=_xyz(v=2), joint_names=names,
                             parents=np.array([-1, 0]), roles=np.array(["knee=a"]))
    assert "unique" in _bad(tmp_path, joints=_xyz(v=2), joint_names=np.array(["a", "a"]),
                            parents=np.array([-1, 0]))


def test_not_an_archive(tmp_path):
    for name, data in [("empty.npz", b""), ("text.npz", b"hello"),
                       ("half.npz", None)]:
        path = tmp_path / name
        if data is None:
            np.savez(path, joints=_xyz(), layout="ntu25")
            data = path.read_bytes()[:200]
        path.write_bytes(data)
        with pytest.raises(FormatError, match="not a readable .npz"):
            read_npz(path)
    np.save(tmp_path / "single.npy", _xyz())
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    with pytest.raises(FormatError, match="single array"):
        read_npz(tmp_path / "single.npz")
    np.savez(tmp_path / "obj.npz", joints=np.array([None, 1], dtype=object))
    with pytest.raises(FormatError, match="not a readable"):
        read_npz(tmp_path / "obj.npz")


# --- the folder dataset -------------------------------------------------------------------------


def _folder(tmp_path, rows, header="file,label,subject", classes=None, labels=None):
    for i, row in enumerate(rows):
        file = row.split(",")[0]
        extra = {} if labels is None else {"label": labels[i]}
        np.savez(tmp_path / file, joints=_xyz(t=3 + i), layout="ntu25", **extra)
    (tmp_path / "labels.csv").write_text("\n".join([header] + rows) + "\n")
    if classes is not None:
        (tmp_path / "classes.txt").write_text("\n".join(classes) + "\n")
    return tmp_path


def test_folder_dataset_xsub_and_holdout(tmp_path):
    spec = get_dataset("custom")
    rows = [f"s{i}.npz,{'wave' if i % 2 else 'jump'},{i % 4 + 1}" for i in range(12)]
    raw = _folder(tmp_path, rows)
    assert spec.class_names(raw) == ["jump", "wave"]
    disc = spec.discover(raw, {})
    seqs = [spec.read(item) for item in disc.items]
    assert [s.name for s in seqs] == [f"s{i}" for i in range(12)]
    assert [s.label for s in seqs] == [i % 2 for i in range(12)]
    assert [s.subject for s in seqs] == [i % 4 + 1 for i in range(12)]
    assert seqs[4].num_frames == 7
    p = spec.protocols([s.metadata() for s in seqs])
    # none of the 12 keys hashes into the 20 % test share: an empty hold-out is not created
    assert not any(holdout_is_test(f"s{i}") for i in range(12))
    assert set(p) == {"xsub", "default"} and spec.default_protocol == "default"
    # subjects 1, 3 train; 2, 4 test
    assert p["xsub"]["train"].tolist() == [i for i in range(12) if (i % 4 + 1) in (1, 3)]
    assert p["default"]["test"].tolist() == p["xsub"]["test"].tolist()


def test_holdout_is_about_80_20():
    share = np.mean([holdout_is_test(f"clip_{i:05d}") for i in range(5000)])
    assert 0.18 < share < 0.22


def test_folder_dataset_given_split_and_classes_txt(tmp_path):
    spec = get_dataset("custom")
    rows = ["a.npz,2,test", "b.npz,10,train", "c.npz,2,train", "d.npz,10,val"]
    raw = _folder(tmp_path, rows, header="file,label,split")
    assert spec.class_names(raw) == ["2", "10"]  # integer labels sort numerically
    for odd in ("\u00b2", "--5"):  # '²'.isdigit() and "--5".lstrip("-") are digits; int() refuses
        (raw / "labels.csv").write_text(f"file,label,split\na.npz,{odd},test\nb.npz,10,train\n")
        assert spec.class_names(raw) == sorted(["10", odd])  # not numbers: sorted as text
    (raw / "labels.csv").write_text("\n".join(["file,label,split"] + rows) + "\n")
    (raw / "classes.txt").write_text("10\n2\n7\n")
    assert spec.class_names(raw) == ["10", "2", "7"]
    disc = spec.discover(raw, {})
    seqs = [spec.read(item) for item in disc.items]
    assert [s.label for s in seqs] == [1, 0, 1, 0]
    p = spec.protocols([s.metadata() for s in seqs])
    assert set(p) == {"given", "holdout", "default"}
    assert p["given"]["train"].tolist() == [1, 2] and p["given"]["test"].tolist() == [0]
    assert p["given"]["val"].tolist() == [3] and p["default"] is p["given"]
    # a caller that kept the item info in the metadata gets the same answer
    meta = [dict(s.metadata(), split=item.info["split"]) for s, item in zip(seqs, disc.items)]
    assert spec.protocols(meta)["given"]["train"].tolist() == [1, 2]


@pytest.mark.parametrize("csv, line, words", [
    ("", 1, "empty file"),
    ("file,lab\n", 1, "no 'label' column"),
    ("file,label,label\n", 1, "distinct names"),
    ("file,label,Colour!\n", 1, "distinct names"),
    ("file,label\na.npz,x\nb.npz\n", 3, "expected 2 columns"),
    ("file,label\na.npz,x\na.npz,y\n", 3, "already listed on line 2"),
    ("file,label,subject\na.npz,x,0\n", 2, "1-based integer"),
    ("file,label,subject\na.npz,x,\u00b2\n", 2, "1-based integer"),  # '²'.isdigit() is True
    ("file,label,split\na.npz,x,later\n", 2, "expected one of"),
    ("file,label\na.npz,x\nmissing.npz,x\n", 3, "not found"),
    ("file,label\na.npz,\n", 2, "empty 'file' or 'label'"),
    ("file,label\n", None, "no rows"),
])
def test_csv_errors_name_the_line(tmp_path, csv, line, words):
    np.savez(tmp_path / "a.npz", joints=_xyz(), layout="ntu25")
    np.savez(tmp_path / "b.npz", joints=_xyz(), layout="ntu25")
    (tmp_path / "labels.csv").write_text(csv)
    with pytest.raises(FormatError) as e:
        get_dataset("custom").discover(tmp_path, {})
    assert words in str(e.value) and e.value.line == line and "labels.csv" in e.value.path


def test_unknown_class_and_label_conflict(tmp_path):
    spec = get_dataset("custom")
    raw = _folder(tmp_path, ["a.npz,walk", "b.npz,run"], header="file,label",
                  classes=["walk"])
    with pytest.raises(FormatError, match="'run' is not in classes.txt") as e:
        spec.discover(raw, {})
    assert e.value.line == 3
    (raw / "classes.txt").unlink()
    np.savez(raw / "b.npz", joints=_xyz(), layout="ntu25", label="walk")
    item = [i for i in spec.discover(raw, {}).items if i.key == "b"][0]
    with pytest.raises(FormatError, match="contradicts labels.csv line 3"):
        spec.read(item)


def test_missing_csv(tmp_path):
    with pytest.raises(FormatError, match="labels.csv"):
        get_dataset("custom").discover(tmp_path, {})


def test_folder_dataset_holdout_only(tmp_path):
    spec = get_dataset("custom")
    raw = _folder(tmp_path, [f"c{i}.npz,{i % 3}" for i in range(30)], header="file,label")
    seqs = [spec.read(item) for item in spec.discover(raw, {}).items]
    p = spec.protocols([s.metadata() for s in seqs])
    assert set(p) == {"holdout", "default"}
    assert p["default"]["test"].tolist() == [i for i in range(30) if holdout_is_test(f"c{i}")]
    assert 0 < len(p["default"]["test"]) < 15


def test_folder_dataset_subfolders(tmp_path):
    spec = get_dataset("custom")
    (tmp_path / "a").mkdir()
    raw = _folder(tmp_path, ["a/x.npz,run,1,train", "y.npz,walk,2,test"],
                  header="file,label,subject,split")
    seqs = [spec.read(item) for item in spec.discover(raw, {}).items]
    assert [s.name for s in seqs] == ["a/x", "y"]
    p = spec.protocols([s.metadata() for s in seqs])
    assert p["given"]["train"].tolist() == [0] and p["given"]["test"].tolist() == [1]


def test_folder_dataset_layout(tmp_path):
    spec = get_dataset("custom")
    raw = _folder(tmp_path, ["a.npz,x", "b.npz,y"], header="file,label")
    assert spec.discover(raw, {}).layout.name == "ntu25"
    np.savez(raw / "b.npz", joints=_xyz(v=20), layout="kinect20")
    with pytest.raises(FormatError, match="one dataset needs one layout") as e:
        spec.discover(raw, {})
    assert e.value.line == 3
    # a user layout defined by the first file may be only named by the others
    names, parents = np.array(["root", "a", "b"]), np.array([-1, 0, 1])
    np.savez(raw / "a.npz", joints=_xyz(v=3), joint_names=names, parents=parents, layout="rig")
    np.savez(raw / "b.npz", joints=_xyz(v=3), layout="rig")
    found = spec.discover(raw, {})
    assert found.layout.name == "rig" and found.layout.parents == (-1, 0, 1)
    assert [spec.read(it).layout for it in found.items] == [found.layout] * 2
    # ... but not defined otherwise under the same name
    np.savez(raw / "b.npz", joints=_xyz(v=3), joint_names=names, parents=np.array([-1, 0, 0]),
             layout="rig")
    with pytest.raises(FormatError, match="another definition of layout 'rig'"):
        spec.discover(raw, {})
