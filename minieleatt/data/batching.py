"""Padding, masks and mini-batches (NumPy, on the host).

Sequences are time-major: a case is a ``(T_i, C)`` array; a padded batch is
``x (T, N, C)`` with ``mask (T, N)`` (1 on valid steps, 0 on padding).
"""

import numpy as np


def pad_sequences(seqs, dtype="float32", length=None):
    """Pad a list of time-major ``(T_i, C)`` arrays into ``x (T, N, C)`` and ``mask (T, N)``.

    ``length`` fixes ``T`` (longer cases are cut); by default ``T = max T_i``.
    Padding is zeros at the end of each case; ``mask`` is float of ``dtype``.
    """
    if len(seqs) == 0:
        raise ValueError("pad_sequences: got an empty list of sequences")
    arrays = [np.asarray(s) for s in seqs]
    for i, a in enumerate(arrays):
        if a.ndim != 2:
            raise ValueError(f"pad_sequences: case {i} has shape {a.shape}, expected (T_i, C)")
        if a.shape[0] == 0:
            raise ValueError(f"pad_sequences: case {i} is empty (0 steps)")
    channels = {a.shape[1] for a in arrays}
    if len(channels) != 1:
        raise ValueError(f"pad_sequences: cases have different channel counts {sorted(channels)}")
    (C,) = channels
    T = max(a.shape[0] for a in arrays) if length is None else int(length)
    x = np.zeros((T, len(arrays), C), dtype=dtype)
    mask = np.zeros((T, len(arrays)), dtype=dtype)
    for i, a in enumerate(arrays):
        n = min(a.shape[0], T)
        x[:n, i] = a[:n]
        mask[:n, i] = 1
    return x, mask
