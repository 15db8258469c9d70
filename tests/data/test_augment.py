"""Training-time augmentation: random rotation per sequence plus Gaussian noise."""

import numpy as np
import pytest

from minieleatt.data import BONES, augment_batch, generate_skeletons, iterate_batches, rotation_matrices


def euler_angles(R):
    """Inverse of ``rotation_matrices`` for |beta| < pi/2: (..., 3, 3) -> (..., 3) angles about x, y, z."""
    return np.stack([np.arctan2(R[..., 2, 1], R[..., 2, 2]), -np.arcsin(R[..., 2, 0]),
                     np.arctan2(R[..., 1, 0], R[..., 0, 0])], axis=-1)


@pytest.fixture(scope="module")
def batch():
    data = generate_skeletons(3, seed=0, length=(10, 25))
    return next(iter(iterate_batches(data.sequences, data.labels, 30)))[:2]


def points(x):
    return x.reshape(x.shape[0], x.shape[1], -1, 3).astype(np.float64)


def test_rotation_matrices_are_rotations_in_x_y_z_order():
    angles = np.random.default_rng(0).uniform(-np.pi, np.pi, (50, 3))
    R = rotation_matrices(angles)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    a, b, g = 0.3, -0.2, 0.5
    Rx = [[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]]
    Ry = [[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]]
    Rz = [[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]]
    np.testing.assert_allclose(rotation_matrices([a, b, g]), np.array(Rz) @ Ry @ Rx, atol=1e-15)
    np.testing.assert_array_equal(rotation_matrices(np.zeros((2, 4, 3))), np.broadcast_to(np.eye(3), (2, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        rotation_matrices(np.zeros((4, 2)))


def test_rotation_keeps_bone_lengths_and_all_distances(batch):
    x, mask = batch
    out = augment_batch(x, mask, np.random.default_rng(1), noise_std=0.0)
    assert out.shape == x.shape and out.dtype == x.dtype
    p, q = points(x), points(out)
    distances = lambda a: np.linalg.norm(a[:, :, :, None] - a[:, :, None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(distances(q), distances(p), atol=1e-5)
    parents, kids = np.array(BONES).T
    np.testing.assert_allclose(np.linalg.norm(q[:, :, kids] - q[:, :, parents], axis=-1),
                               np.linalg.norm(p[:, :, kids] - p[:, :, parents], axis=-1), atol=1e-5)
    assert np.abs(q - p).max() > 0.05                                   # it did rotate


def test_padded_steps_and_absent_points_stay_zero(batch):
    x, mask = batch
    two = np.concatenate([x, np.zeros_like(x)], axis=-1)                # 150-d frames, no second actor
    out = augment_batch(two, mask, np.random.default_rng(2), noise_std=0.05)
    assert np.all(out[mask == 0] == 0)
    assert np.all(out[..., 75:] == 0)
    assert np.all((out[..., :75] != 0)[mask == 1].mean(axis=-1) > 0.9)   # valid steps are noisy


def test_one_rotation_per_sequence_with_bounded_angles(batch):
    x, mask = batch
    max_angle = 0.3
    out = augment_batch(x, mask, np.random.default_rng(3), max_angle=max_angle, noise_std=0.0)
    angles = []
    for b in range(x.shape[1]):
        valid = mask[:, b] == 1
        P, Q = points(x)[valid, b].reshape(-1, 3), points(out)[valid, b].reshape(-1, 3)
        Rt, *_ = np.linalg.lstsq(P, Q, rcond=None)                      # Q = P @ R^T, the same R for all frames
        np.testing.assert_allclose(P @ Rt, Q, atol=1e-5)
        angles.append(euler_angles(Rt.T))
    angles = np.abs(np.array(angles))
    assert angles.max() <= max_angle + 1e-4
    assert angles.max() > 0.6 * max_angle                               # the range is used


def test_noise_has_the_requested_std(batch):
    x, mask = batch
    out = augment_batch(x, mask, np.random.default_rng(4), max_angle=0.0, noise_std=0.05)
    valid = (mask == 1)[:, :, None] & (points(x) != 0).any(-1)
    diff = (points(out) - points(x))[valid]
    assert diff.std() == pytest.approx(0.05, rel=0.03) and abs(diff.mean()) < 0.002


def test_deterministic_given_the_generator_and_input_untouched(batch):
    x, mask = batch
    before = x.copy()
    a = augment_batch(x, mask, np.random.default_rng(5))
    b = augment_batch(x, mask, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("x, mask, rng, error, words", [
    (np.zeros((4, 2, 74), np.float32), np.ones((4, 2)), np.random.default_rng(0), ValueError, "multiple of 3"),
    (np.zeros((4, 75), np.float32), np.ones((4, 2)), np.random.default_rng(0), ValueError, r"\(T, B, C\)"),
    (np.zeros((4, 2, 75), np.float32), np.ones((4, 3)), np.random.default_rng(0), ValueError, "mask"),
    (np.zeros((4, 2, 75), np.int64), np.ones((4, 2)), np.random.default_rng(0), TypeError, "float"),
    (np.zeros((4, 2, 75), np.float32), np.ones((4, 2)), 0, TypeError, "Generator"),
])
def test_bad_batches_are_named(x, mask, rng, error, words):
    with pytest.raises(error, match=words):
        augment_batch(x, mask, rng)
