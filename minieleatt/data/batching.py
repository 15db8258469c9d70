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


def _check_labels(labels, num_sequences, num_classes):
    """``labels`` as an ``(N,)`` int64 array; TypeError / ValueError naming what is wrong."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {labels.shape}")
    if labels.size and not (np.issubdtype(labels.dtype, np.integer) and labels.dtype != np.bool_):
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.shape[0] != num_sequences:
        raise ValueError(f"got {num_sequences} sequences but {labels.shape[0]} labels")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be >= 0, got {labels.min()}")
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(f"labels must be in [0, {num_classes}), got {labels.max()}")
    return labels


def check_dataset(sequences, labels, num_classes):
    """Check a labelled set of sequences; return the labels as an ``(N,)`` int64 array.

    ``sequences``: a non-empty list of ``(T_i, C)`` arrays (``T_i >= 1``, the same
    ``C`` for all, numeric); ``labels``: ``N`` integers in ``[0, num_classes)``
    (``num_classes=None`` checks only ``>= 0``). Raises ValueError or TypeError
    naming the first problem.
    """
    if isinstance(sequences, np.ndarray) and sequences.dtype != object:
        raise TypeError("sequences must be a list of (T_i, C) arrays, got one array; "
                        "pass list(x) for a stack of equal-length cases")
    try:
        num_sequences = len(sequences)
    except TypeError:
        raise TypeError(f"sequences must be a list of (T_i, C) arrays, got {type(sequences).__name__}") from None
    if num_sequences == 0:
        raise ValueError("empty dataset: no sequences")
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise TypeError(f"num_classes must be an integer, got {num_classes!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    channels = None
    for i, s in enumerate(sequences):
        shape = np.shape(s)
        if len(shape) != 2:
            raise ValueError(f"sequence {i} has shape {shape}, expected (T_i, C)")
        if shape[0] == 0:
            raise ValueError(f"sequence {i} is empty (0 steps)")
        if channels is None:
            channels = shape[1]
        elif shape[1] != channels:
            raise ValueError(f"sequence {i} has {shape[1]} channels, sequence 0 has {channels}")
        a = np.asarray(s)
        if not (np.issubdtype(a.dtype, np.number) and a.dtype != np.bool_):
            raise TypeError(f"sequence {i} has non-numeric dtype {a.dtype}")
        if not np.isfinite(a).all():
            raise ValueError(f"sequence {i} holds NaN or inf (missing values?); fill them first, "
                             "e.g. ChannelNormalizer().fit(train).transform(cases, fill_missing=0.0)")
    return _check_labels(labels, num_sequences, num_classes)


def iterate_batches(sequences, labels, batch_size, rng=None, drop_last=False):
    """One epoch of padded mini-batches: an iterator of ``(x, mask, y, index)``.

    ``x``: ``(T, B, C)`` float32, time-major, zero-padded to the longest case of the
    batch; ``mask``: ``(T, B)`` float32, 1 on valid steps; ``y``: ``(B,)`` int64;
    ``index``: ``(B,)`` positions of the cases in ``sequences``. With an
    ``np.random.Generator`` the order is ``rng.permutation(N)`` (deterministic given
    its state, drawn at the call), else the given order. Every case appears once per
    epoch; the last batch is smaller unless ``drop_last``, which skips it. The
    arguments are checked at the call, before the first batch.
    """
    labels = check_dataset(sequences, labels, None)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an integer, got {batch_size!r}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    n = len(labels)
    order = np.arange(n) if rng is None else rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    return _batches(sequences, labels, order[:stop], int(batch_size))


def _batches(sequences, labels, order, batch_size):
    """The generator behind ``iterate_batches`` (kept apart so that bad input fails at the call)."""
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        x, mask = pad_sequences([sequences[i] for i in index], dtype="float32")
        yield x, mask, labels[index], index


def stratified_holdout(labels, fraction, rng, minimum=1):
    """A boolean mask that holds out ``round(fraction * n_c)`` of each class's ``n_c`` members,
    at least ``minimum`` and at most ``n_c - 1`` (when ``n_c > 1``), drawn with ``rng``."""
    labels = np.asarray(labels)
    if not 0.0 <= float(fraction) < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    held = np.zeros(len(labels), dtype=bool)
    if fraction == 0:
        return held
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n = int(round(fraction * members.size))
        if members.size > 1:
            n = min(max(n, minimum), members.size - 1)
        held[rng.choice(members, n, replace=False)] = True
    return held
