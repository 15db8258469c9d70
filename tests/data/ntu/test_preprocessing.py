"""NTU RGB+D: denoising, actors and the (T, 150) sequence (minieleatt/data/ntu/preprocessing.py)."""

import numpy as np

from minieleatt.data.ntu import Body, preprocess_skeleton, read_skeleton, select_actors, skip_reason

from .._files import BIG_ID, fmt, frames_from_tracks, joints12, moving_body, skeleton_text


def quantize(a):
    """The values as the reader sees them after printing with 7 digits."""
    return np.vectorize(lambda v: float(fmt(v)))(np.asarray(a, dtype=np.float64))


def write(path, text):
    path.write_bytes(text.encode("ascii"))
    return path


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
