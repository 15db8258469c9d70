"""Numbers about the attention gate, from arrays: per-sequence and per-class responses,
per-joint sums, and how much the gate prefers the joints an action moves.

    per_seq = sequence_attention(cache.attention, mask)        # (B, D): mean over each sequence's valid steps
    att = class_attention(per_seq, labels, num_classes)        # (C, D): mean over each class's sequences
    joints = joint_attention(att)                              # (C, 25): x + y + z per joint
    attention_ratio(joints, relevant_joints)                   # (C,): relevant joints over the others
    attention_selectivity(joints, relevant_joints)             # (C,): this class over the other classes

For cases of their own lengths (a list of ``(T_i, D)`` arrays, e.g. one per test case):

    case_mean(attention_per_case)                             # (N, D): each case's mean over its steps
    class_mean_over_time(attention_per_case, labels, C)       # (C, T_max, D): per class, step by step
    relative_to_classes(att)                                  # (C, D): each class over the mean of the classes
    wilson_interval(accuracy, n_test)                         # the 95 % interval of an accuracy on n cases

Everything here takes host arrays and returns NumPy arrays; it knows nothing of models,
the training loop or figures (``viz`` draws these numbers, the trainer computes them).
"""

import numpy as np


def sequence_attention(attention, mask=None):
    """Mean gate response of every sequence over its valid steps: ``(T, B, D)`` -> ``(B, D)``.

    ``mask (T, B)`` marks the valid steps (None: all); a sequence with no valid step is an error.
    """
    a = np.asarray(attention, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"attention must have shape (T, B, D), got {a.shape}")
    if mask is None:
        return a.mean(axis=0)
    m = np.asarray(mask, dtype=np.float64)
    if m.shape != a.shape[:2]:
        raise ValueError(f"mask must have shape {a.shape[:2]} (T, B) to match attention, got {m.shape}")
    steps = m.sum(axis=0)
    empty = np.flatnonzero(steps == 0)
    if empty.size:
        raise ValueError(f"mask: sequence {int(empty[0])} of the batch has no valid step")
    return (a * m[:, :, None]).sum(axis=0) / steps[:, None]


def class_attention(per_sequence, labels, num_classes):
    """Mean of the per-sequence responses ``(N, D)`` over the sequences of each class: ``(C, D)``.

    ``labels``: ``N`` integers in ``[0, num_classes)``. A class with no sequence gets zeros.
    """
    a = np.asarray(per_sequence, dtype=np.float64)
    y = np.asarray(labels)
    if a.ndim != 2 or y.shape != (a.shape[0],):
        raise ValueError(f"per_sequence must be (N, D) and labels (N,), got {a.shape} and {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got {int(y.min())}..{int(y.max())}")
    sums = np.zeros((num_classes, a.shape[1]))
    counts = np.zeros(num_classes)
    np.add.at(sums, y, a)
    np.add.at(counts, y, 1)
    return sums / np.maximum(counts, 1)[:, None]


def joint_attention(attention, channels_per_joint=3):
    """Per-joint response from per-element responses: (..., J*3) -> (..., J), x, y, z summed."""
    a = np.asarray(attention, dtype=float)
    if a.shape[-1] % channels_per_joint:
        raise ValueError(f"attention has {a.shape[-1]} elements, not a multiple of {channels_per_joint}")
    return a.reshape(a.shape[:-1] + (-1, channels_per_joint)).sum(axis=-1)


def attention_ratio(joint_weights, relevant):
    """Mean response on the relevant joints over the mean on the others, one number per class.

    joint_weights: (K, J); relevant: K collections of joint indices. Returns (K,) ratios.
    """
    w = np.asarray(joint_weights, dtype=float)
    ratios = []
    for k, rel in enumerate(relevant):
        mask = np.zeros(w.shape[1], dtype=bool)
        mask[list(rel)] = True
        if mask.all() or not mask.any():
            raise ValueError(f"class {k}: relevant joints must be a non-empty proper subset")
        ratios.append(w[k, mask].mean() / w[k, ~mask].mean())
    return np.array(ratios)


def attention_selectivity(joint_weights, relevant):
    """How much more a class's relevant joints are attended in that class than in the others.

    joint_weights: (K, J); relevant: K collections of joint indices. Entry k is the mean
    response on class k's relevant joints for class k, over the mean response on those same
    joints for the other classes: above 1 when the gate opens them for this action, not
    merely for every action (which the ratio of ``attention_ratio`` cannot tell apart).
    """
    w = np.asarray(joint_weights, dtype=float)
    K = w.shape[0]
    if K < 2:
        raise ValueError("attention_selectivity needs at least two classes")
    out = []
    for k, rel in enumerate(relevant):
        rel = list(rel)
        others = np.delete(np.arange(K), k)
        out.append(w[k, rel].mean() / w[np.ix_(others, rel)].mean())
    return np.array(out)


def _check_cases(sequences, name="sequences"):
    """The cases as a list of float64 ``(T_i, D)`` arrays with one D; a clear error otherwise."""
    cases = [np.asarray(a, dtype=np.float64) for a in sequences]
    if not cases:
        raise ValueError(f"{name}: no cases")
    for i, a in enumerate(cases):
        if a.ndim != 2 or a.shape[0] == 0:
            raise ValueError(f"{name}[{i}] must have shape (T, D) with T >= 1, got {a.shape}")
        if a.shape[1] != cases[0].shape[1]:
            raise ValueError(f"{name}[{i}] has {a.shape[1]} input elements, {name}[0] has {cases[0].shape[1]}")
    return cases


def case_mean(sequences):
    """Each case's mean over its own steps: a list of N ``(T_i, D)`` arrays -> ``(N, D)``.

    With ``class_attention`` it gives the per-class, per-channel response (``(C, D)``):
    ``class_attention(case_mean(att), labels, C)``.
    """
    return np.stack([a.mean(axis=0) for a in _check_cases(sequences)])


def class_mean_over_time(sequences, labels, num_classes):
    """The mean of each class's cases step by step: N ``(T_i, D)`` arrays -> ``(C, T_max, D)``.

    ``labels``: N integers in ``[0, num_classes)``. Step t of class c is the mean over that
    class's cases at least t+1 steps long; a step no case of the class reaches (and a class
    with no case) is NaN, which the figures draw blank. Use it for the inputs and for the
    gate's responses alike, e.g. for ``viz.plot_class_attention_over_time``.
    """
    cases = _check_cases(sequences)
    y = np.asarray(labels)
    if y.shape != (len(cases),):
        raise ValueError(f"labels must have one label per case ({len(cases)}), got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must be in [0, {num_classes}), got {int(y.min())}..{int(y.max())}")
    T, D = max(a.shape[0] for a in cases), cases[0].shape[1]
    sums, counts = np.zeros((num_classes, T, D)), np.zeros((num_classes, T, 1))
    for a, c in zip(cases, y):
        sums[c, :a.shape[0]] += a
        counts[c, :a.shape[0]] += 1
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def relative_to_classes(class_values, reference=None):
    """Each class's values over the mean of the classes, element by element: ``(C, ...)`` -> ``(C, ...)``.

    1 means "as in the average class"; above 1, this class opens the element more than the others.
    An element attended in every class (the spine of a skeleton) comes out near 1, so what is
    particular to a class shows. ``reference``: the values to divide by, shaped like one class
    (default: the mean over the C classes given).
    """
    v = np.asarray(class_values, dtype=np.float64)
    ref = v.mean(axis=0) if reference is None else np.asarray(reference, dtype=np.float64)
    if ref.shape != v.shape[1:]:
        raise ValueError(f"reference must have shape {v.shape[1:]} (one class), got {ref.shape}")
    if np.any(ref <= 0):
        raise ValueError("relative_to_classes: the reference must be positive (gate responses are)")
    return v / ref


def wilson_interval(accuracy, n, z=1.96):
    """The Wilson score interval of an accuracy measured on ``n`` cases: ``(low, high)`` in [0, 1].

    ``accuracy``: a number or an array in [0, 1]; ``n``: the number of test cases (a positive
    int, or an array broadcasting with ``accuracy``); ``z``: 1.96 for 95 %. Unlike the normal
    approximation ``p ± z·sqrt(p(1-p)/n)`` it stays inside [0, 1] and does not shrink to a
    point at 0 % or 100 %. On 600 cases at 90 % it is about [87.3, 92.3] %.
    """
    p = np.asarray(accuracy, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"accuracy must be in [0, 1], got {accuracy!r}")
    if np.any(n < 1):
        raise ValueError(f"n (the number of test cases) must be >= 1, got {n!r}")
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
