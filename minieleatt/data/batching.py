"""Padding, masks and mini-batches (NumPy, on the host).

Sequences are time-major: a case is a ``(T_i, C)`` array; a padded batch is
``x (T, N, C)`` with ``mask (T, N)`` (1 on valid steps, 0 on padding).
"""

import hashlib

import numpy as np

from ..backend import is_cupy_array
from ..errors import DeviceError


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
    """``labels`` as an ``(N,)`` int64 array; TypeError / ValueError naming the first bad label and its sequence."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {labels.shape}")
    if labels.size and not (np.issubdtype(labels.dtype, np.integer) and labels.dtype != np.bool_):
        if np.issubdtype(labels.dtype, np.floating):
            odd = np.flatnonzero(~np.isfinite(labels) | (labels != np.round(labels)))
            if odd.size:
                i = int(odd[0])
                raise TypeError(f"label {float(labels[i]):g} of sequence {i} is not an integer; labels are class "
                                "indices 0..C-1")
            raise TypeError(f"labels must be integers, got dtype {labels.dtype} (whole numbers: pass "
                            "labels.astype(int))")
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.shape[0] != num_sequences:
        raise ValueError(f"got {num_sequences} sequences but {labels.shape[0]} labels")
    labels = labels.astype(np.int64)
    top = None if num_classes is None else num_classes - 1
    bad = np.flatnonzero((labels < 0) | (labels > (top if top is not None else np.iinfo(np.int64).max)))
    if bad.size:
        i = int(bad[0])
        if top is None:
            raise ValueError(f"label {labels[i]} of sequence {i} is negative; labels are class indices from 0")
        raise ValueError(f"label {labels[i]} of sequence {i} is outside 0..{top} ({num_classes} classes)")
    return labels


def _on_the_gpu(what):
    return DeviceError(f"{what} is on the GPU (a CuPy array) but data sets are kept on the CPU (NumPy arrays): each "
                       f"batch is moved to the model's device (config.device) when it is used; pass "
                       f"minieleatt.to_host(array)")


def check_dataset(sequences, labels, num_classes, name=None):
    """Check a labelled set of sequences; return the labels as an ``(N,)`` int64 array.

    ``sequences``: a non-empty list of ``(T_i, C)`` host (NumPy) arrays (``T_i >= 1``,
    the same ``C`` for all, numeric); ``labels``: ``N`` integers in ``[0, num_classes)``
    (``num_classes=None`` checks only ``>= 0``). Raises ValueError or TypeError
    naming the first problem, and DeviceError for a CuPy array (named ``name.sequences[i]``
    or ``name.labels`` with a ``name``): data sets stay on the host, and each batch is
    moved to the model's device.
    """
    prefix = "" if name is None else name + "."
    if is_cupy_array(labels):
        raise _on_the_gpu(prefix + "labels")
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
        if is_cupy_array(s):
            raise _on_the_gpu(f"{prefix}sequences[{i}]")
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


def validation_holdout(labels, fraction, rng, min_size=30):
    """The validation split of a training set: ``(held, note)``.

    ``held`` is the boolean mask of ``stratified_holdout(labels, fraction, rng)`` when it
    holds at least ``min_size`` sequences; below that a validation set is too small to
    mean anything (one sequence moves its accuracy by more than 3 points), so nothing is
    held out and ``note`` says so. ``note`` is None when the split was made.
    """
    labels = np.asarray(labels)
    held = stratified_holdout(labels, fraction, rng)
    if fraction == 0:
        return held, "no validation set was asked for (validation fraction 0)"
    if held.sum() < min_size:
        return np.zeros(len(labels), dtype=bool), (
            f"no validation set: {int(held.sum())} of the {len(labels)} training sequences "
            f"({100 * fraction:.0f} % per class) would be too few to mean anything (fewer than {min_size}); "
            "all of them train")
    return held, None


def average_windows(sequences, window):
    """Every ``(T_i, C)`` sequence averaged over consecutive windows of ``window`` steps:
    ``(ceil(T_i / window), C)``; the last window averages the steps that are left.

    ``window`` 1 returns the sequences as they are (the same list).
    """
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if window == 1:
        return sequences
    out = []
    for s in sequences:
        a = np.asarray(s)
        T = a.shape[0]
        full = (T // window) * window
        parts = [a[:full].reshape(T // window, window, -1).mean(axis=1)] if full else []
        if full < T:
            parts.append(a[full:].mean(axis=0, keepdims=True))
        out.append(np.concatenate(parts, axis=0).astype(a.dtype, copy=False))
    return out


def fingerprint(sequences, labels):
    """A short hex digest of a labelled set (labels, lengths, every value), to tell two sets apart."""
    digest = hashlib.sha256()
    digest.update(np.asarray(labels, dtype=np.int64).tobytes())
    for s in sequences:
        a = np.ascontiguousarray(s, dtype=np.float32)
        digest.update(np.int64(a.shape[0]).tobytes())
        digest.update(a.tobytes())
    return digest.hexdigest()[:16]
