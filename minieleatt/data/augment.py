"""Training-time augmentation of skeleton batches (the paper's): one random rotation
per sequence plus Gaussian noise, on a padded NumPy batch.

A frame of ``C`` values is ``C // 3`` points in xyz, joint-major
(``[j0x, j0y, j0z, j1x, ...]``), so 75-d (one actor) and 150-d (two actors) frames
are handled alike.
"""

import numpy as np


def rotation_matrices(angles):
    """Rotation matrices from angles about x, y and z: ``(..., 3) -> (..., 3, 3)``.

    ``R = Rz(gamma) @ Ry(beta) @ Rx(alpha)`` for ``angles[..., :] = (alpha, beta, gamma)``
    in radians: the rotation about x is applied first, the one about z last.
    """
    angles = np.asarray(angles, dtype=np.float64)
    if angles.ndim == 0 or angles.shape[-1] != 3:
        raise ValueError(f"rotation_matrices: angles must have shape (..., 3), got {angles.shape}")
    ca, cb, cg = np.cos(angles[..., 0]), np.cos(angles[..., 1]), np.cos(angles[..., 2])
    sa, sb, sg = np.sin(angles[..., 0]), np.sin(angles[..., 1]), np.sin(angles[..., 2])
    R = np.empty(angles.shape[:-1] + (3, 3))
    R[..., 0, 0] = cg * cb
    R[..., 0, 1] = cg * sb * sa - sg * ca
    R[..., 0, 2] = cg * sb * ca + sg * sa
    R[..., 1, 0] = sg * cb
    R[..., 1, 1] = sg * sb * sa + cg * ca
    R[..., 1, 2] = sg * sb * ca - cg * sa
    R[..., 2, 0] = -sb
    R[..., 2, 1] = cb * sa
    R[..., 2, 2] = cb * ca
    return R


def augment_batch(x, mask, rng, max_angle=0.3, noise_std=0.01):
    """Rotate each sequence of a padded batch at random and add Gaussian noise; a new array.

    ``x``: ``(T, B, C)`` float NumPy batch with ``C`` a multiple of 3 (``C // 3``
    points, xyz, joint-major); ``mask``: ``(T, B)``, nonzero on valid steps;
    ``rng``: ``np.random.Generator``. Sequence ``b`` gets one rotation
    ``rotation_matrices(angles[b])`` with each angle ``~U(-max_angle, max_angle)``
    (radians), applied about the origin to every point of every frame, then noise
    ``~N(0, noise_std^2)`` on every coordinate. Padded steps stay zero, and so do
    points that are exactly ``(0, 0, 0)`` (an absent second actor). Returns an array
    of ``x``'s shape and dtype.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    x = np.asarray(x)
    mask = np.asarray(mask)
    if x.ndim != 3:
        raise ValueError(f"augment_batch: x must have shape (T, B, C), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"augment_batch: x must be a float array, got dtype {x.dtype}")
    T, B, C = x.shape
    if C % 3:
        raise ValueError(f"augment_batch: frames must hold xyz points, but C={C} is not a multiple of 3")
    if mask.shape != (T, B):
        raise ValueError(f"augment_batch: mask has shape {mask.shape}, expected (T, B) = {(T, B)}")
    if not max_angle >= 0 or not noise_std >= 0:
        raise ValueError(f"max_angle and noise_std must be >= 0, got {max_angle}, {noise_std}")

    points = x.reshape(T, B, C // 3, 3).astype(np.float64)
    R = rotation_matrices(rng.uniform(-max_angle, max_angle, (B, 3)))           # (B, 3, 3)
    out = np.einsum("bij,tbkj->tbki", R, points)
    if noise_std:
        out += rng.normal(0.0, noise_std, out.shape)
    keep = (mask != 0)[:, :, None] & np.any(points != 0, axis=-1)                # (T, B, C // 3)
    out *= keep[..., None]
    return out.reshape(T, B, C).astype(x.dtype)
