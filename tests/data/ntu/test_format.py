"""NTU RGB+D: the .skeleton reader and writer (minieleatt/data/ntu/format.py)."""

import numpy as np
import pytest

from minieleatt.data.ntu import Body, read_skeleton, write_skeleton
from minieleatt.errors import DataFormatError

from .._files import BIG_ID, INFO, fmt, joints12, moving_body, replace_token, skeleton_text


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


BAD_SKELETONS = {
    "frame count not an integer": (lambda L: ["two"] + L[1:], 1, "frame count"),
    "negative body count": (lambda L: L[:1] + ["-1"] + L[2:], 2, "body count of frame 1"),
    "bodyID not an integer": (lambda L: L[:2] + [replace_token(L[2], 0, "7.2e16")] + L[3:], 3, "bodyID"),
    "joint count 24": (lambda L: L[:3] + ["24"] + L[4:], 4, "joint count"),
    "5000-digit frame count": (lambda L: ["1" * 5000] + L[1:], 1, "has 5000 digits"),
    "non-numeric joint value": (lambda L: L[:9] + [replace_token(L[9], 3, "abc")] + L[10:], 10,
                                "depthX of joint 5 (ElbowLeft) of body 1 of frame 1, got 'abc'"),
    "non-numeric body value": (lambda L: L[:30] + [replace_token(L[30], 8, "1,5")] + L[31:], 31,
                               "leanY in the body line of body 1 of frame 2"),
    "infinite joint value": (lambda L: L[:40] + [replace_token(L[40], 0, "inf")] + L[41:], 41, "non-finite"),
    "missing value on a joint line": (lambda L: L[:7] + [replace_token(L[7], 0, "")] + L[8:], 8,
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
    lines[9] = replace_token(lines[9], 0, "abc")
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())
    with pytest.raises(DataFormatError) as info:
        read_skeleton(path)
    assert info.value.line == 10  # lines still counted from the first


def test_format_error_survives_pickling():
    import pickle

    from minieleatt.errors import DataFormatError

    e = pickle.loads(pickle.dumps(DataFormatError("bad value", "f.skeleton", 7)))
    assert (e.reason, e.path, e.line) == ("bad value", "f.skeleton", 7)
    assert str(e) == "f.skeleton, line 7: bad value"
