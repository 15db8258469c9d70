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
