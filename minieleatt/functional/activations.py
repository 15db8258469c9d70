"""Activations and their derivatives, finite for inputs of any magnitude.

Each function takes its array module from its argument, so it runs on NumPy and
on CuPy alike, and keeps the input's dtype (float32 stays float32).
"""

from ..backend import get_array_module


def sigmoid(z):
    """Logistic sigmoid, computed as ``0.5 * tanh(z / 2) + 0.5``.

    The tanh form never overflows (``exp`` of a large ``|z|`` would) and is
    accurate to a few ulp of 1 for every input; at ±1e4 it returns exactly 1 and 0.
    """
    xp = get_array_module(z)
    s = xp.tanh(z * 0.5)
    s *= 0.5
    s += 0.5
    return s


def sigmoid_grad_from_output(s):
    """Derivative of the sigmoid, given its output ``s``: ``s * (1 - s)``."""
    return s * (1 - s)


def tanh(z):
    """Hyperbolic tangent (finite for every input)."""
    return get_array_module(z).tanh(z)


def tanh_grad_from_output(t):
    """Derivative of tanh, given its output ``t``: ``1 - t**2``."""
    return 1 - t * t


def softmax(z, axis=-1):
    """Softmax along ``axis``; the maximum is subtracted first, so it never overflows."""
    xp = get_array_module(z)
    e = xp.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(ds, s, axis=-1):
    """Gradient through ``s = softmax(z)``: ``dz = s * (ds - sum(ds * s))`` along ``axis``."""
    return s * (ds - (ds * s).sum(axis=axis, keepdims=True))


def log_softmax(z, axis=-1):
    """``log(softmax(z))`` by the log-sum-exp trick: finite for logits of any size."""
    xp = get_array_module(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
