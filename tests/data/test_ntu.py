"""NTU RGB+D: the .skeleton reader, names and splits, preprocessing, and the cached loader."""

import os

import numpy as np
import pytest

from minieleatt.data import ntu
from minieleatt.data.ntu import (
    CS_TRAIN_SUBJECTS,
    CV_TEST_CAMERAS,
    CV_TRAIN_CAMERAS,
    Body,
    load_ntu,
    ntu_split,
    parse_ntu_name,
    preprocess_skeleton,
    read_skeleton,
    select_actors,
    skip_reason,
    write_skeleton,
)
from minieleatt.errors import DataFormatError

from ._files import BIG_ID, INFO, fmt, frames_from_tracks, joints12, moving_body, skeleton_text


def quantize(a):
    """The values as the reader sees them after printing with 7 digits."""
    return np.vectorize(lambda v: float(fmt(v)))(np.asarray(a, dtype=np.float64))


def write(path, text):
    path.write_bytes(text.encode("ascii"))
    return path


# --------------------------------------------------------------------------- read_skeleton

REAL_JOINT_LINE = "0.2183359 0.1725351 3.785889 277.6867 191.8688 1036.953 480.3602 -0.2669151 -0.01423804 0.9600477 -0.08367088 2"


def test_read_skeleton_literal_body_line_and_joint_line(tmp_path):
    rows = [REAL_JOINT_LINE] + [" ".join(fmt(0.01 * j + 0.001 * k) for k in range(11)) + " 1"
                                for j in range(1, 25)]
    text = "\r\n".join(["1", "1", "72057594037931101 0 1 1 1 1 0 0.02764709 0.05745083 2", "25"] + rows) + "\r\n"
    frames = read_skeleton(write(tmp_path / "S001C001P001R001A001.skeleton", text))
    assert len(frames) == 1 and len(frames[0]) == 1
    body = frames[0][0]
    assert isinstance(body, Body)
    assert type(body.body_id) is int and body.body_id == 72057594037931101  # exact, beyond 2**53
    np.testing.assert_array_equal(body.info, [0, 1, 1, 1, 1, 0, 0.02764709, 0.05745083, 2])
    assert body.info.shape == (9,)
    assert body.joints.shape == (25, 12) and body.joints.dtype in (np.float32, np.float64)
    np.testing.assert_array_equal(body.joints[0], [float(v) for v in REAL_JOINT_LINE.split()])
    np.testing.assert_allclose(body.joints[5, :11], [float(fmt(0.05 + 0.001 * k)) for k in range(11)])
    assert body.joints[5, 11] == 1  # trackingState


def test_read_skeleton_empty_frame_and_three_bodies(tmp_path):
    b1 = joints12(moving_body(1, seed=1), seed=1)[0]
    b2 = joints12(moving_body(3, center=(0.9, 0.2, 3.1), seed=2), seed=2)
    b3 = joints12(moving_body(1, center=(-1, 0, 4), seed=3), seed=3)[0]
    frames_in = [[(BIG_ID, b1)], [], [(BIG_ID, b2[0]), (BIG_ID + 5, b2[1]), (9, b3)]]
    frames = read_skeleton(write(tmp_path / "x.skeleton", skeleton_text(frames_in)))
    assert [len(f) for f in frames] == [1, 0, 3]
    assert frames[1] == []
    for got_frame, want_frame in zip(frames, frames_in):
        for got, (body_id, joints) in zip(got_frame, want_frame):
            assert got.body_id == body_id
            np.testing.assert_allclose(got.info, INFO, rtol=0, atol=0)
            np.testing.assert_allclose(got.joints, quantize(joints), rtol=1e-12, atol=0)


def test_write_skeleton_round_trip(tmp_path):
    xyz = moving_body(4, seed=4)
    frames = [[Body(BIG_ID + i, np.array(INFO, float), joints12(xyz, seed=4)[i])] for i in range(4)] + [[]]
    path = tmp_path / "rt.skeleton"
    write_skeleton(path, frames)
    again = read_skeleton(path)
    assert len(again) == 5 and again[4] == []
    for a, b in zip(frames[:4], again[:4]):
        assert a[0].body_id == b[0].body_id
        np.testing.assert_allclose(b[0].joints, quantize(a[0].joints), rtol=1e-12)


def _two_frame_lines():
    """Lines of a valid file: 2 frames of one body; line 1 frame count, 2 body count,
    3 body line, 4 joint count, 5-29 joints, 30 body count, 31 body line, 32 joint count, 33-57 joints."""
    joints = joints12(moving_body(2, seed=7), seed=7)
    return skeleton_text([[(BIG_ID, joints[0])], [(BIG_ID, joints[1])]]).splitlines()


def _replace_token(line, k, new):
    tokens = line.split()
    tokens[k] = new
    return " ".join(tokens)


BAD_SKELETONS = {
    "frame count not an integer": (lambda L: ["two"] + L[1:], 1, "frame count"),
    "negative body count": (lambda L: L[:1] + ["-1"] + L[2:], 2, "body count of frame 1"),
    "bodyID not an integer": (lambda L: L[:2] + [_replace_token(L[2], 0, "7.2e16")] + L[3:], 3, "bodyID"),
    "joint count 24": (lambda L: L[:3] + ["24"] + L[4:], 4, "joint count"),
    "5000-digit frame count": (lambda L: ["1" * 5000] + L[1:], 1, "has 5000 digits"),
    "non-numeric joint value": (lambda L: L[:9] + [_replace_token(L[9], 3, "abc")] + L[10:], 10,
                                "depthX of joint 5 (ElbowLeft) of body 1 of frame 1, got 'abc'"),
    "non-numeric body value": (lambda L: L[:30] + [_replace_token(L[30], 8, "1,5")] + L[31:], 31,
                               "leanY in the body line of body 1 of frame 2"),
    "infinite joint value": (lambda L: L[:40] + [_replace_token(L[40], 0, "inf")] + L[41:], 41, "non-finite"),
    "missing value on a joint line": (lambda L: L[:7] + [_replace_token(L[7], 0, "")] + L[8:], 8,
                                      "11 values on the line of joint 3 (Head) of body 1 of frame 1"),
    "extra value on a body line": (lambda L: L[:29] + ["1"] + [L[30] + " 0"] + L[31:], 31,
                                   "11 values on the line of the body line of body 1 of frame 2"),
    "two lines run together": (lambda L: L[:9] + [L[9] + " " + L[10]] + L[11:], 10, "24 values on the line"),
    "truncated in frame 2": (lambda L: L[:50], 50, "file ends early: expected 1 body in frame 2"),
    "truncated in the last joint line": (lambda L: L[:-1] + [L[-1][:-2]], 57, "ends early"),
    "truncated after the frame count": (lambda L: L[:1], 1, "frame count 2 but"),
    "data after the last frame": (lambda L: L + ["7"], 58, "after the last"),
    "body count of frame 2 not a number": (lambda L: L[:29] + ["x"] + L[30:], 30, "body count of frame 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_SKELETONS))
def test_read_skeleton_errors_name_file_and_line(tmp_path, case):
    mutate, line, words = BAD_SKELETONS[case]
    path = write(tmp_path / "bad.skeleton", "\n".join(mutate(_two_frame_lines())) + "\n")
    with pytest.raises(DataFormatError) as info:
        read_skeleton(path)
    assert info.value.path == str(path)
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert f"{path}, line {line}:" in str(info.value)


def test_read_skeleton_empty_file(tmp_path):
    with pytest.raises(DataFormatError) as info:
        read_skeleton(write(tmp_path / "empty.skeleton", ""))
    assert info.value.line == 1 and "ends early" in str(info.value)


def test_read_skeleton_zero_frames_is_valid(tmp_path):
    assert read_skeleton(write(tmp_path / "z.skeleton", "0\n")) == []


def test_read_skeleton_ignores_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.skeleton"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(_two_frame_lines()).encode() + b"\n")
    assert [len(f) for f in read_skeleton(path)] == [1, 1]
    lines = _two_frame_lines()
    lines[9] = _replace_token(lines[9], 0, "abc")
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())
    with pytest.raises(DataFormatError) as info:
        read_skeleton(path)
    assert info.value.line == 10  # lines still counted from the first


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


# --------------------------------------------------------------------------- preprocessing


def _frames(tmp_path, n_frames, tracks):
    """Write tracks ``(body_id, first, xyz (n, 25, 3))`` to a file and read it back."""
    full = [(bid, first, joints12(xyz, seed=k)) for k, (bid, first, xyz) in enumerate(tracks)]
    path = write(tmp_path / "p.skeleton", skeleton_text(frames_from_tracks(n_frames, full)))
    return read_skeleton(path)


def test_preprocess_three_bodies_one_noisy_and_an_empty_frame(tmp_path):
    a = moving_body(40, center=(0.0, 0.2, 3.0), amplitude=0.10, seed=1)   # most motion: actor 1
    b = moving_body(40, center=(0.8, 0.2, 3.2), amplitude=0.02, seed=2)   # actor 2
    c = moving_body(5, center=(-1.0, 0.0, 4.0), amplitude=0.50, seed=3)   # 5 frames: noise
    frames = _frames(tmp_path, 41, [(BIG_ID + 2, 10, c), (BIG_ID, 0, a), (BIG_ID + 1, 0, b)])
    assert frames[40] == [] and len(frames[12]) == 3
    assert select_actors(frames) == (BIG_ID, BIG_ID + 1)

    seq = preprocess_skeleton(frames)
    assert seq.shape == (40, 150) and seq.dtype == np.float32  # the empty frame is dropped
    origin = quantize(a)[0, 1]
    np.testing.assert_allclose(seq[:, :75], (quantize(a) - origin).reshape(40, 75), atol=2e-6)
    np.testing.assert_allclose(seq[:, 75:], (quantize(b) - origin).reshape(40, 75), atol=2e-6)
    np.testing.assert_array_equal(seq[0, 3:6], 0)  # actor 1's SpineMid in the first frame is the origin
    assert skip_reason(frames, seq) is None

    # The noise body survives when the length threshold allows it, and moves most.
    assert select_actors(frames, min_body_frames=3)[0] == BIG_ID + 2


def test_preprocess_drops_a_body_much_wider_than_tall(tmp_path):
    person = moving_body(30, amplitude=0.02, seed=4)
    wide = moving_body(30, center=(1.0, 0.0, 3.5), amplitude=0.3, seed=5, wide=4.0)  # x-spread 2.7 m, y 1.6 m
    frames = _frames(tmp_path, 30, [(BIG_ID + 1, 0, wide), (BIG_ID, 0, person)])
    assert select_actors(frames) == (BIG_ID, None)
    seq = preprocess_skeleton(frames)
    np.testing.assert_array_equal(seq[:, 75:], 0)  # no second actor: zeros
    np.testing.assert_allclose(seq[:, :75], (quantize(person) - quantize(person)[0, 1]).reshape(30, 75), atol=2e-6)
    # With the spread test switched off the wide body moves most and becomes actor 1.
    assert select_actors(frames, noisy_frame_ratio=1.01) == (BIG_ID + 1, BIG_ID)
    # The spread test never removes the last body.
    alone = _frames(tmp_path, 30, [(BIG_ID + 1, 0, wide)])
    assert select_actors(alone) == (BIG_ID + 1, None)


def test_preprocess_actor1_appearing_after_actor2(tmp_path):
    a = moving_body(25, amplitude=0.10, seed=6)
    b = moving_body(30, center=(0.7, 0.2, 3.1), amplitude=0.01, seed=7)
    frames = _frames(tmp_path, 30, [(BIG_ID + 1, 0, b), (BIG_ID, 5, a)])
    seq = preprocess_skeleton(frames)
    assert seq.shape == (30, 150)
    origin = quantize(a)[0, 1]  # actor 1's SpineMid where it first appears (frame 5)
    np.testing.assert_array_equal(seq[:5, :75], 0)  # actor 1 absent: zeros, not shifted
    np.testing.assert_allclose(seq[5, 3:6], 0, atol=1e-7)
    np.testing.assert_allclose(seq[:, 75:], (quantize(b) - origin).reshape(30, 75), atol=2e-6)


def test_preprocess_single_short_body_is_kept_then_flagged(tmp_path):
    short = moving_body(5, seed=8)
    frames = _frames(tmp_path, 30, [(BIG_ID, 12, short)])
    seq = preprocess_skeleton(frames)
    assert seq.shape == (5, 150)
    kind, detail = skip_reason(frames, seq)
    assert kind == "too-few-frames" and "5 valid frame(s) of 30" in detail
    assert skip_reason(frames, seq, min_valid_frames=5) is None


def test_preprocess_several_short_bodies_keeps_the_longest(tmp_path):
    frames = _frames(tmp_path, 20, [(3, 0, moving_body(4, seed=1)), (4, 10, moving_body(6, seed=2))])
    assert select_actors(frames) == (4, None)


def test_preprocess_no_body_and_all_zero_bodies(tmp_path):
    empty = read_skeleton(write(tmp_path / "e.skeleton", "3\n0\n0\n0\n"))
    seq = preprocess_skeleton(empty)
    assert seq.shape == (0, 150) and seq.dtype == np.float32
    assert skip_reason(empty, seq)[0] == "no-body"
    zeros = [[Body(1, np.zeros(9), np.zeros((25, 12)))]] * 3
    assert preprocess_skeleton(zeros).shape == (0, 150)
    assert skip_reason(zeros, preprocess_skeleton(zeros))[0] == "too-few-frames"


# --------------------------------------------------------------------------- load_ntu

SAMPLES = {
    # name: (n_frames, tracks) -- cs: subjects 1, 2 train, 3 test; cv: camera 1 test, 2 and 3 train
    "S001C001P001R001A001": (20, [(BIG_ID, 0, moving_body(20, seed=11))]),
    "S001C002P003R001A002": (24, [(BIG_ID, 0, moving_body(24, amplitude=0.1, seed=12)),
                                  (BIG_ID + 1, 2, moving_body(22, center=(0.8, 0.2, 3.0), seed=13))]),
    "S002C003P002R002A060": (15, [(BIG_ID + 3, 0, moving_body(15, seed=14))]),
    "S001C001P003R001A010": (12, []),                                      # no body: skipped
    "S001C002P001R001A011": (30, [(BIG_ID, 4, moving_body(3, seed=15))]),  # 3 frames: skipped
}


@pytest.fixture
def ntu_dir(tmp_path):
    folder = tmp_path / "nturgb+d_skeletons"
    folder.mkdir()
    for name, (n, tracks) in SAMPLES.items():
        full = [(bid, first, joints12(xyz, seed=k)) for k, (bid, first, xyz) in enumerate(tracks)]
        write(folder / f"{name}.skeleton", skeleton_text(frames_from_tracks(n, full), newline="\r\n"))
    (folder / "notes.txt").write_text("not a skeleton")
    return folder


def _expected(folder, name):
    return preprocess_skeleton(read_skeleton(folder / f"{name}.skeleton"))


def test_load_ntu_splits_labels_and_skip_report(ntu_dir, tmp_path):
    data = load_ntu(ntu_dir, "cs", cache=tmp_path / "c.npz", workers=1, progress=False)
    assert data.train.names == ["S001C001P001R001A001", "S002C003P002R002A060"]
    assert data.test.names == ["S001C002P003R001A002"]
    np.testing.assert_array_equal(data.train.labels, [0, 59])
    np.testing.assert_array_equal(data.test.labels, [1])
    assert data.train.labels.dtype == np.int64
    for split in (data.train, data.test):
        for name, seq in zip(split.names, split.sequences):
            assert seq.dtype == np.float32 and seq.shape[1] == 150
            np.testing.assert_array_equal(seq, _expected(ntu_dir, name))
    assert data.test.sequences[0].shape == (24, 150)
    assert {(s.name, s.kind) for s in data.skipped} == {
        ("S001C001P003R001A010", "no-body"), ("S001C002P001R001A011", "too-few-frames")}
    assert len(data.skipped) == 2 and data.skipped.counts() == {"no-body": 1, "too-few-frames": 1}
    assert "S001C001P003R001A010: no-body" in str(data.skipped)
    assert data.from_cache is False and data.cache_path == str(tmp_path / "c.npz")


def test_load_ntu_cache_round_trip_and_second_load_uses_it(ntu_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "ntu.npz"
    first = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    assert cache.exists() and not first.from_cache
    assert [p.name for p in cache.parent.iterdir()] == ["ntu.npz"]  # no temporary file left
    with np.load(cache, allow_pickle=False) as z:  # no pickled object inside
        assert all(z[k].dtype != object for k in z.files)
        assert z["names"].dtype.kind == "U" and z["data"].shape == (20 + 24 + 15, 150)

    def no_parsing(*args, **kwargs):
        raise AssertionError("the files were parsed again although the cache is valid")

    monkeypatch.setattr(ntu, "_build_table", no_parsing)
    second = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    assert second.from_cache
    for a, b in ((first.train, second.train), (first.test, second.test)):
        assert a.names == b.names
        np.testing.assert_array_equal(a.labels, b.labels)
        for x, y in zip(a.sequences, b.sequences):
            np.testing.assert_array_equal(x, y)
    assert list(second.skipped) == list(first.skipped)
    # One cache serves both protocols.
    cv = load_ntu(ntu_dir, "cv", cache=cache, workers=1, progress=False)
    assert cv.from_cache
    assert cv.train.names == ["S001C002P003R001A002", "S002C003P002R002A060"]
    assert cv.test.names == ["S001C001P001R001A001"]


@pytest.mark.parametrize("mp_context", [None, "spawn"])
def test_load_ntu_parallel_matches_serial(ntu_dir, mp_context):
    serial = load_ntu(ntu_dir, "cv", cache=None, workers=1, progress=False)
    parallel = load_ntu(ntu_dir, "cv", cache=None, workers=2, progress=True, mp_context=mp_context)
    assert parallel.train.names == serial.train.names and parallel.test.names == serial.test.names
    for x, y in zip(serial.train.sequences + serial.test.sequences,
                    parallel.train.sequences + parallel.test.sequences):
        np.testing.assert_array_equal(x, y)
    assert list(parallel.skipped) == list(serial.skipped)
    assert parallel.cache_path is None


def test_load_ntu_stale_cache_other_settings(ntu_dir, tmp_path):
    cache = tmp_path / "c.npz"
    load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    with pytest.raises(DataFormatError, match="other preprocessing settings.*min_valid_frames"):
        load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False, min_valid_frames=3,
                 on_stale_cache="error")
    with pytest.warns(UserWarning, match="other preprocessing settings"):
        data = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False, min_valid_frames=3)
    assert not data.from_cache and "S001C002P001R001A011" in data.train.names  # 3 frames now enough
    assert load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False, min_valid_frames=3).from_cache


def test_load_ntu_stale_cache_after_files_change(ntu_dir, tmp_path):
    cache = tmp_path / "c.npz"
    load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    (ntu_dir / "S001C001P001R001A001.skeleton").rename(ntu_dir / "S001C001P001R001A005.skeleton")
    with pytest.warns(UserWarning, match="files changed"):
        data = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    assert not data.from_cache and data.train.names[0] == "S001C001P001R001A005"
    np.testing.assert_array_equal(data.train.labels, [4, 59])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "inconsistent"])
def test_load_ntu_corrupt_cache_is_rebuilt_or_refused(ntu_dir, tmp_path, damage):
    cache = tmp_path / "c.npz"
    good = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    raw = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        cache.write_bytes(raw[: len(raw) // 2])
    else:
        with np.load(cache, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["offsets"] = arrays["offsets"][::-1].copy()
        with open(cache, "wb") as f:
            np.savez(f, **arrays)
    with pytest.raises(DataFormatError, match="cannot be used") as info:
        load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False, on_stale_cache="error")
    assert info.value.path == str(cache)
    with pytest.warns(UserWarning, match="unreadable or damaged"):
        data = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    assert not data.from_cache and data.train.names == good.train.names
    assert load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False).from_cache


def test_load_ntu_unwritable_cache_only_warns(ntu_dir, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.warns(UserWarning, match="could not write the NTU cache"):
        data = load_ntu(ntu_dir, "cs", cache=blocker / "c.npz", workers=1, progress=False)
    assert len(data.train.names) == 2


def test_load_ntu_auto_cache_location(ntu_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    data = load_ntu(ntu_dir, "cs", workers=1, progress=False)
    assert data.cache_path.startswith(str(tmp_path / "xdg" / "minieleatt")) and os.path.exists(data.cache_path)
    assert load_ntu(ntu_dir, "cs", workers=1, progress=False).from_cache


@pytest.mark.parametrize("workers", [1, 2])
def test_load_ntu_format_error_raises_or_is_reported(ntu_dir, workers):
    bad = ntu_dir / "S003C001P001R001A003.skeleton"
    lines = skeleton_text([[(BIG_ID, joints12(moving_body(1))[0])]]).splitlines()
    lines[6] = _replace_token(lines[6], 2, "nan?")
    write(bad, "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as info:
        load_ntu(ntu_dir, "cs", cache=None, workers=workers, progress=False)
    assert info.value.path == str(bad) and info.value.line == 7
    data = load_ntu(ntu_dir, "cs", cache=None, workers=workers, progress=False, on_error="skip")
    (entry,) = [s for s in data.skipped if s.kind == "format-error"]
    assert entry.name == "S003C001P001R001A003" and "line 7" in entry.detail


def test_load_ntu_bad_folders_and_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*.skeleton file in .*empty_dir"):
        (tmp_path / "empty_dir").mkdir()
        load_ntu(tmp_path / "empty_dir", "cs", cache=None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_ntu(tmp_path / "missing", "cs", cache=None)
    with pytest.raises(ValueError, match="'cs' .*'cv'"):
        load_ntu(tmp_path, "cross", cache=None)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "take1.skeleton").write_text("0\n")
    with pytest.raises(ValueError, match="'take1.skeleton' is not an NTU RGB\\+D sample name"):
        load_ntu(tmp_path / "odd", "cs", cache=None)


def test_format_error_survives_pickling():
    import pickle

    from minieleatt.errors import DataFormatError

    e = pickle.loads(pickle.dumps(DataFormatError("bad value", "f.skeleton", 7)))
    assert (e.reason, e.path, e.line) == ("bad value", "f.skeleton", 7)
    assert str(e) == "f.skeleton, line 7: bad value"
