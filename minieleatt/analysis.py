"""Numbers about the attention gate, from arrays: per-sequence and per-class responses,
per-joint sums, and how much the gate prefers the joints an action moves.

    per_seq = sequence_attention(cache.attention, mask)        # (B, D): mean over each sequence's valid steps
    att = class_attention(per_seq, labels, num_classes)        # (C, D): mean over each class's sequences
    joints = joint_attention(att)                              # (C, 25): x + y + z per joint
    attention_ratio(joints, relevant_joints)                   # (C,): relevant joints over the others
    attention_selectivity(joints, relevant_joints)             # (C,): this class over the other classes

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
