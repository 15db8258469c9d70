"""One step of each cell written straight from the contract's equations, in plain NumPy.

An independent oracle for the attention cells (PyTorch has none): no fused
matrices, no hoisting, no shared helpers from the package.
"""

import numpy as np


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def gate(x, h, p, kind):
    if kind is None:
        return x
    z = x @ p["W_xa"] + h @ p["W_ha"] + p["b_a"]
    if kind == "sigmoid":
        a = sig(z)
    else:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        a = e / e.sum(axis=-1, keepdims=True)
    return a * x


def rnn_step(x, h, p, kind):
    xt = gate(x, h, p, kind)
    return np.tanh(xt @ p["W_x"] + h @ p["W_h"] + p["b"])


def lstm_step(x, h, c, p, kind):
    H = h.shape[1]
    xt = gate(x, h, p, kind)
    pre = xt @ p["W_x"] + h @ p["W_h"] + p["b"]
    i, f, g, o = sig(pre[:, :H]), sig(pre[:, H:2 * H]), np.tanh(pre[:, 2 * H:3 * H]), sig(pre[:, 3 * H:])
    c = f * c + i * g
    return o * np.tanh(c), c


def gru_step(x, h, p, kind, reset_after):
    H = h.shape[1]
    xt = gate(x, h, p, kind)
    Wx, Wh, b = p["W_x"], p["W_h"], p["b"]
    r = sig(xt @ Wx[:, :H] + h @ Wh[:, :H] + b[:H])
    z = sig(xt @ Wx[:, H:2 * H] + h @ Wh[:, H:2 * H] + b[H:2 * H])
    if reset_after:
        n = np.tanh(xt @ Wx[:, 2 * H:] + b[2 * H:] + r * (h @ Wh[:, 2 * H:] + p["b_hn"]))
    else:
        n = np.tanh(xt @ Wx[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:] + b[2 * H:])
    return (1 - z) * n + z * h
