"""mans.datasets.ntu: the ntu60 / ntu120 specs (discovery, reading, class names, protocols),
checked against the released NTU sample lists in shared/data/ntu-metadata."""

from __future__ import annotations

import numpy as np
import pytest

from mans.datasets import get_dataset
from mans.datasets.ntu import ntu120_class_names, read_missing_list
from mans.errors import ConfigError, FormatError
from mans.formats.ntu import parse_sample_name, write_skeleton

STATS = {"ntu60": "ntu/statistics", "ntu120": "ntu120/statistics"}
MISSING = {"ntu60": "samples_with_missing_skeletons.txt",
           "ntu120": "NTU_RGBD120_samples_with_missing_skeletons.txt"}


def _words(path) -> list[str]:
    return path.read_text().split()  # some lists lack the final newline


def metadata(ntu_metadata, dataset) -> list[dict]:
    """Per-sample metadata dicts of the available (non-missing) samples, built from the names,
    after checking that the released per-field lists agree with the names."""
    stats = ntu_metadata / STATS[dataset]
    names = _words(stats / "skes_available_name.txt")
    ids = [parse_sample_name(n) for n in names]
    assert None not in ids
    for field, file in [("action", "label"), ("subject", "performer"), ("camera", "camera"),
                        ("setup", "setup"), ("replication", "replication")]:
        listed = np.array(_words(stats / f"{file}.txt"), dtype=np.int64)
        assert np.array_equal(listed, [i[field] for i in ids]), field
    return [{"name": n, "label": i["action"] - 1, **i} for n, i in zip(names, ids)]


EXPECTED = {  # (train, test) sample counts of the official protocols, missing samples removed
    ("ntu60", "xsub"): (40091, 16487),
    ("ntu60", "xview"): (37646, 18932),
    ("ntu120", "xsub"): (63026, 50919),
    ("ntu120", "xset"): (54468, 59477),
}


@pytest.mark.parametrize("dataset", ["ntu60", "ntu120"])
def test_protocol_counts_on_the_released_lists(ntu_metadata, dataset):
    metas = metadata(ntu_metadata, dataset)
    splits = get_dataset(dataset).protocols(metas)
    assert set(splits) == {p for d, p in EXPECTED if d == dataset}
    for name, split in splits.items():
        train, test = split["train"], split["test"]
        assert train.dtype == np.int64 and test.dtype == np.int64
        assert (len(train), len(test)) == EXPECTED[dataset, name]
        # a partition of all samples, sorted
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(metas)))
        assert (np.diff(train) > 0).all() and (np.diff(test) > 0).all()
    # the splits really are by subject / camera / setup
    subj = np.array([m["subject"] for m in metas])
    assert not set(subj[splits["xsub"]["train"]]) & set(subj[splits["xsub"]["test"]])
    if dataset == "ntu60":
        cam = np.array([m["camera"] for m in metas])
        assert set(cam[splits["xview"]["train"]]) == {2, 3}
        assert set(cam[splits["xview"]["test"]]) == {1}
    else:
        setup = np.array([m["setup"] for m in metas])
        assert (setup[splits["xset"]["train"]] % 2 == 0).all()
        assert (setup[splits["xset"]["test"]] % 2 == 1).all()


@pytest.mark.parametrize("dataset,total,n_missing", [("ntu60", 56880, 302),
                                                     ("ntu120", 114480, 535)])
def test_missing_plus_available_is_the_whole_dataset(ntu_metadata, dataset, total, n_missing):
    stats = ntu_metadata / STATS[dataset]
    available = set(_words(stats / "skes_available_name.txt"))
    missing = read_missing_list(stats / MISSING[dataset])
    assert len(missing) == n_missing and not available & missing
    assert len(available | missing) == total
    cfg = {"ntu60": ((1, 17), (1, 60)), "ntu120": ((1, 32), (1, 120))}[dataset]
    for name in available | missing:
        ids = parse_sample_name(name)
        assert cfg[0][0] <= ids["setup"] <= cfg[0][1] and cfg[1][0] <= ids["action"] <= cfg[1][1]


def test_ntu60_is_the_first_part_of_ntu120(ntu_metadata):
    n60 = set(_words(ntu_metadata / STATS["ntu60"] / "skes_available_name.txt"))
    n120 = _words(ntu_metadata / STATS["ntu120"] / "skes_available_name.txt")
    assert {n for n in n120 if parse_sample_name(n)["setup"] <= 17} == n60


def test_specs_and_class_names():
    names = ntu120_class_names()
    assert len(names) == 120 and len(set(names)) == 120
    assert names[0] == "drink water" and names[59] == "walking apart from each other"
    assert names[119] == "finger-guessing game (playing rock-paper-scissors)"
    for dataset, k in [("ntu60", 60), ("ntu120", 120)]:
        spec = get_dataset(dataset)
        assert (spec.name, spec.layout.name, spec.max_bodies, spec.default_protocol) == (
            dataset, "ntu25", 2, "xsub")
        assert spec.class_names(None) == list(names[:k])


def test_real_samples_discover_and_read(ntu_samples):
    for dataset in ("ntu60", "ntu120"):
        spec = get_dataset(dataset)
        found = spec.discover(ntu_samples, {})
        assert [i.key for i in found.items] == sorted(p.stem for p in
                                                      ntu_samples.glob("*.skeleton"))
        assert found.skipped == []
        seqs = [spec.read(i) for i in found.items]
        assert [s.label for s in seqs] == [10, 57, 2, 33, 16]
        assert [s.num_frames for s in seqs] == [82, 70, 100, 71, 124]
        splits = spec.protocols([s.metadata() for s in seqs])
        # subjects 1, 8, 3, 15, 3 -> xsub train holds 1, 8, 15
        assert splits["xsub"]["train"].tolist() == [0, 1, 3]
        assert splits["xsub"]["test"].tolist() == [2, 4]
        if dataset == "ntu60":  # cameras 1, 3, 1, 1, 2
            assert splits["xview"]["train"].tolist() == [1, 4]
        else:  # setups 1, 1, 2, 3, 4
            assert splits["xset"]["train"].tolist() == [2, 4]


def _write(path, bodies=(1, 1)):
    path.parent.mkdir(parents=True, exist_ok=True)
    joints = np.zeros((len(bodies), 2, 25, 3), np.float32)
    for t, n in enumerate(bodies):
        joints[t, :n] = 0.5
    return write_skeleton(path, joints, bodies=list(bodies))


def test_discover_selection_skips_and_missing_list(tmp_path):
    raw = tmp_path / "raw"
    _write(raw / "S001C001P001R001A001.skeleton")
    _write(raw / "sub" / "S017C003P040R002A060.skeleton")
    _write(raw / "sub" / "deeper" / "S002C002P002R001A002.skeleton")
    _write(raw / "S018C001P041R001A061.skeleton")  # NTU-120 only
    _write(raw / "S001C001P001R001A070.skeleton")  # action of NTU-120 only
    _write(raw / "notes.skeleton")  # not a sample name
    _write(raw / "S040C001P001R001A001.skeleton")  # setup beyond NTU-120
    _write(raw / "other" / "S001C001P001R001A001.skeleton")  # same sample twice
    _write(raw / "S005C001P001R001A005.skeleton", bodies=(0, 0))  # listed as missing
    (raw / "S006C001P001R001A001.txt").write_text("not a skeleton file")
    missing = tmp_path / "missing.txt"
    missing.write_text("# official list\nS005C001P001R001A005\n\nS009C001P001R001A009\n")

    d60 = get_dataset("ntu60").discover(raw, {"missing_list": missing})
    assert [i.key for i in d60.items] == ["S001C001P001R001A001", "S002C002P002R001A002",
                                          "S017C003P040R002A060"]
    assert d60.items[0].path == raw / "S001C001P001R001A001.skeleton"
    reasons = {s["file"]: s["reason"] for s in d60.skipped}
    assert set(reasons) == {str(raw / p) for p in (
        "notes.skeleton", "S040C001P001R001A001.skeleton", "other/S001C001P001R001A001.skeleton",
        "S005C001P001R001A005.skeleton")}
    assert reasons[str(raw / "S005C001P001R001A005.skeleton")] == \
        f"listed in official missing-skeleton list {missing}"
    assert "duplicate" in reasons[str(raw / "other/S001C001P001R001A001.skeleton")]
    assert "not an NTU RGB+D sample name" in reasons[str(raw / "notes.skeleton")]

    d120 = get_dataset("ntu120").discover(raw, {})  # no missing list: the empty one is an item
    assert [i.key for i in d120.items] == [
        "S001C001P001R001A001", "S001C001P001R001A070", "S002C002P002R001A002",
        "S005C001P001R001A005", "S017C003P040R002A060", "S018C001P041R001A061"]
    assert len(d120.skipped) == 3
    # and reading the missing-skeleton sample is refused, so prepare skips it
    spec = get_dataset("ntu120")
    item = d120.items[3]
    with pytest.raises(FormatError, match="no frame of the 2 has a body"):
        spec.read(item)
    assert spec.read(d120.items[0]).bodies_per_frame().tolist() == [1, 1]


def test_discover_errors(tmp_path):
    spec = get_dataset("ntu60")
    with pytest.raises(ConfigError, match="raw folder"):
        spec.discover(tmp_path / "nope", {})
    with pytest.raises(ConfigError, match="no such file"):
        spec.discover(tmp_path, {"missing_list": tmp_path / "nope.txt"})
    bad = tmp_path / "missing.txt"
    bad.write_text("S001C002P005R002A008\nS001C002P006R001A008.skeleton\nS001 C002\n")
    with pytest.raises(FormatError) as e:
        spec.discover(tmp_path, {"missing_list": bad})
    assert e.value.line == 3 and "sample name" in str(e.value)
    bad.write_text("S001C002P005R002A008\nS001C002P006R001A008.skeleton\n")
    assert read_missing_list(bad) == {"S001C002P005R002A008", "S001C002P006R001A008"}


def test_protocols_need_the_ids():
    with pytest.raises(ConfigError, match="no subject id"):
        get_dataset("ntu60").protocols([{"name": "x", "subject": None, "camera": 1}])
    empty = get_dataset("ntu120").protocols([])
    assert empty["xset"]["train"].shape == (0,) and empty["xset"]["train"].dtype == np.int64
