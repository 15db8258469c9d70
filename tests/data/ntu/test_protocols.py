"""NTU RGB+D: sample names and the cross-subject / cross-view protocols (minieleatt/data/ntu/protocols.py)."""

import os

import numpy as np
import pytest

from minieleatt.data.ntu import CS_TRAIN_SUBJECTS, CV_TEST_CAMERAS, CV_TRAIN_CAMERAS, ntu_split, parse_ntu_name


# --------------------------------------------------------------------------- names and splits


def test_parse_ntu_name():
    assert parse_ntu_name("S001C002P003R002A013") == (1, 2, 3, 2, 13)
    p = parse_ntu_name(os.path.join("some", "dir", "S017C003P040R001A060.skeleton"))
    assert (p.setup, p.camera, p.subject, p.replication, p.action) == (17, 3, 40, 1, 60)
    assert parse_ntu_name("S032C001P106R002A120_rgb.avi").action == 120  # NTU-120 names too


@pytest.mark.parametrize("name", ["S01C002P003R002A013", "X001C002P003R002A013", "s001c002p003r002a013",
                                  "S001C002P003R002", "S001C002P003R002A013x", "S000C001P001R001A001", ""])
def test_parse_ntu_name_rejects(name):
    with pytest.raises(ValueError, match="NTU RGB\\+D sample name|1-based"):
        parse_ntu_name(name)


def test_protocol_constants_are_the_published_lists():
    assert CS_TRAIN_SUBJECTS == (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
    assert CV_TRAIN_CAMERAS == (2, 3) and CV_TEST_CAMERAS == (1,)


def _all_names():
    return [f"S{s:03d}C{c:03d}P{p:03d}R{r:03d}A{a:03d}"
            for s in (1, 17) for c in (1, 2, 3) for p in range(1, 41) for r in (1, 2) for a in (1, 60)]


def test_cross_subject_split_reproduces_the_subject_list():
    names = _all_names()
    train, test = ntu_split(names, "cs")
    assert train.dtype == np.int64 and len(train) + len(test) == len(names)
    assert sorted(set(train) | set(test)) == list(range(len(names)))
    assert {parse_ntu_name(names[i]).subject for i in train} == set(CS_TRAIN_SUBJECTS)
    assert {parse_ntu_name(names[i]).subject for i in test} == set(range(1, 41)) - set(CS_TRAIN_SUBJECTS)


def test_cross_view_split_reproduces_the_cameras():
    names = _all_names()
    train, test = ntu_split(names, "CV")
    assert {parse_ntu_name(names[i]).camera for i in train} == {2, 3}
    assert {parse_ntu_name(names[i]).camera for i in test} == {1}
    assert len(train) == 2 * len(test)
    with pytest.raises(ValueError, match="camera 4"):
        ntu_split(["S001C004P001R001A001"], "cv")


def test_unknown_protocol_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'cs' .*'cv'"):
        ntu_split(["S001C001P001R001A001"], "xsub")
