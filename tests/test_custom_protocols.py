"""Custom folders as new users met them: extra metadata columns, protocols.yaml, max_bodies from
the files, 0-frame files and empty splits reported, the custom built-in config."""

from __future__ import annotations

import numpy as np
import pytest

from mans.datasets import get_dataset
from mans.engine.config import load_config
from mans.errors import ConfigError, FormatError
from mans.data.prepare import prepare
from mans.data.store import PreparedStore


def _clip(rng, t=6, bodies=1):
    x = rng.normal(size=(t, bodies, 20, 3)).astype(np.float32) + 1.0
    return x


def _folder(tmp_path, n=9, extra_header=",view,session", protocols=None, bodies=None):
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    rows = ["file,label,subject" + extra_header]
    for i in range(n):
        b = 1 if bodies is None else bodies[i]
        np.savez(raw / f"c{i}.npz", joints=_clip(rng, bodies=b), layout="kinect20")
        rows.append(f"c{i}.npz,{'ab'[i % 2]},{i // 3 + 1},{i % 3 + 1},s{i % 2}")
    (raw / "labels.csv").write_text("\n".join(rows) + "\n")
    if protocols is not None:
        (raw / "protocols.yaml").write_text(protocols)
    return raw


XVIEW = "xview:\n  train: {view: [1, 2]}\n  test: {view: 3}\n"


def test_extra_columns_define_a_cross_view_protocol(tmp_path):
    raw = _folder(tmp_path, protocols=XVIEW + "bysession:\n  train: {session: s0}\n"
                                               "  test: {session: s1, view: [1, 3]}\n")
    m = prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)
    store = PreparedStore.open(tmp_path / "store")
    # view of file i is i % 3 + 1: views 1, 2 -> i % 3 in (0, 1)
    assert store.split("xview", "train").tolist() == [i for i in range(9) if i % 3 in (0, 1)]
    assert store.split("xview", "test").tolist() == [2, 5, 8]
    # session s1 = odd i, and view 1 or 3 (i % 3 in (0, 2)): 5 only... and 3? 3 % 3 == 0 -> view 1
    assert store.split("bysession", "train").tolist() == [0, 2, 4, 6, 8]
    assert store.split("bysession", "test").tolist() == [3, 5]
    assert store.meta[4]["extra"] == {"view": "2", "session": "s0"}
    assert m["protocols"]["xview"] == {"train": 6, "test": 3}


@pytest.mark.parametrize("text, words", [
    ("xview:\n  train: {view: 1}\n  test: {view: 9}\n", "test split is empty"),
    ("xview:\n  train: {view: 1}\n  test: {camera: 2}\n", "no labels.csv column camera"),
    ("xview:\n  train: {view: [1, 2]}\n  test: {view: 2}\n", "more than one split"),
    ("xview:\n  train: {view: 1}\n", "expected the splits train and test"),
    ("xview: [1\n", "cannot read as YAML"),
    ("xsub:\n  train: {view: 1}\n  test: {view: 2}\n",
     "protocol 'xsub': given, xsub, holdout, default are the names of the protocols mans makes"),
])
def test_bad_protocols_yaml_is_an_error(tmp_path, text, words):
    raw = _folder(tmp_path, protocols=text)
    with pytest.raises((ConfigError, FormatError), match=words) as e:
        prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "store").exists()


def test_empty_given_split_is_an_error(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.savez(raw / f"c{i}.npz", joints=_clip(rng), layout="kinect20")
    (raw / "labels.csv").write_text("file,label,split\nc0.npz,a,train\nc1.npz,b,train\n"
                                    "c2.npz,a,val\n")
    with pytest.raises(ConfigError, match="the test split is empty"):
        prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)


def test_zero_frame_and_unreadable_files_are_skipped_with_reason(tmp_path):
    raw = _folder(tmp_path)
    np.savez(raw / "c1.npz", joints=np.zeros((0, 20, 3), np.float32), layout="kinect20")
    (raw / "c2.npz").write_bytes(b"garbage")
    m = prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)
    assert m["found"] == 9 and m["prepared"] == 7
    reasons = {s["key"]: s["reason"] for s in m["skipped"]}
    assert set(reasons) == {"c1", "c2"}
    assert "0 frames" in reasons["c1"] and "not a readable .npz" in reasons["c2"]


def test_max_bodies_defaults_to_most_bodies_found(tmp_path):
    raw = _folder(tmp_path, bodies=[1, 2, 1, 1, 1, 1, 1, 1, 1])
    m = prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)
    assert m["prep"]["max_bodies"] == 2 and m["prep"]["joints"] == 40
    disc = get_dataset("custom").discover(raw, {})
    assert disc.max_bodies == 2
    m = prepare("custom", raw, tmp_path / "s1", view="none", workers=1, progress=False,
                max_bodies=1)
    # the file with 2 bodies in every frame loses all its frames under max_bodies=1
    assert m["prep"]["joints"] == 20 and [s["key"] for s in m["skipped"]] == ["c1"]


def test_custom_builtin_config_has_no_dataset_lock():
    cfg = load_config("custom-small-resnet")
    assert cfg.data.dataset is None and cfg.data.protocol is None
    assert cfg.model.size == 32 and cfg.train.selection == "last"


def _tiny(tmp_path, header, rows, protocols):
    """3 kinect20 clips c0..c2 (none of whose keys hashes into the hold-out test share)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        np.savez(raw / f"c{i}.npz", joints=_clip(rng), layout="kinect20")
    (raw / "labels.csv").write_text("\n".join([header] + rows) + "\n")
    (raw / "protocols.yaml").write_text(protocols)
    return raw


def test_default_falls_back_to_the_first_protocols_yaml_protocol(tmp_path):
    from mans.datasets.custom import holdout_is_test

    assert not any(holdout_is_test(f"c{i}") for i in range(3))  # so no holdout protocol
    raw = _tiny(tmp_path, "file,label,view", ["c0.npz,a,1", "c1.npz,b,2", "c2.npz,a,1"],
                "byview:\n  train: {view: 1}\n  test: {view: 2}\n"
                "other:\n  train: {view: 2}\n  test: {view: 1}\n")
    m = prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)
    store = PreparedStore.open(tmp_path / "store")
    assert store.split("default", "train").tolist() == [0, 2]  # byview, the first in the file
    assert store.split("default", "test").tolist() == [1]
    assert m["protocols"]["other"] == {"train": 1, "test": 2}


def test_a_rule_on_subject_without_a_subject_column_is_an_error(tmp_path):
    # without the column every row's subject is None, and str(None) == "None" matched them all
    raw = _tiny(tmp_path, "file,label,view", ["c0.npz,a,1", "c1.npz,b,2", "c2.npz,a,1"],
                "bysub:\n  train: {subject: None}\n  test: {view: 2}\n")
    with pytest.raises(FormatError, match="protocol 'bysub', train: no labels.csv column "
                                          "subject; columns: \\['view'\\]") as e:
        prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)
    assert "protocols.yaml" in str(e.value)
    assert not (tmp_path / "store").exists()


def test_prepare_reads_each_file_and_labels_csv_once(tmp_path, monkeypatch):
    """Discovery's probe of a file is the read that prepares it, and labels.csv is parsed once
    (classes, discovery and the protocols all use that parse); the store is the same."""
    import mans.datasets.custom as custom

    raw = _folder(tmp_path, protocols=XVIEW)
    # a split column: the "given" protocol looks the splits up in labels.csv
    lines = (raw / "labels.csv").read_text().splitlines()
    (raw / "labels.csv").write_text("\n".join([lines[0] + ",split"] + [
        f"{ln},{'train' if i % 3 else 'test'}" for i, ln in enumerate(lines[1:])]) + "\n")
    reads, parses = [], []
    for name, log in (("read_sequence", reads), ("read_npz_with_label", reads),
                      ("csv_records", parses)):
        real = getattr(custom, name)
        monkeypatch.setattr(custom, name, lambda *a, _r=real, _l=log, **k: _l.append(a[0])
                            or _r(*a, **k))
    prepare("custom", raw, tmp_path / "store", view="none", workers=1, progress=False)
    assert sorted(reads) == sorted(raw / f"c{i}.npz" for i in range(9))  # each file once
    assert len(parses) == 1
    store = PreparedStore.open(tmp_path / "store")
    assert len(store) == 9 and {"given", "xview", "xsub"} <= set(store.protocols)
