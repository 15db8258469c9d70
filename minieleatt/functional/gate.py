"""The element-wise attention gate (EleAttG), shared by the RNN, the LSTM and the GRU.

    z_a = x_t W_xa + h_{t-1} W_ha + b_a          the gate's pre-activation, (B, D)
    a_t = σ(z_a)                                  its response, each element in (0, 1)
    x̃_t = a_t ⊙ x_t                              replaces x_t in every gate of the cell

Shapes: x_t (B, D); h_{t-1} (B, H); W_xa (D, D); W_ha (H, D); b_a (D,).

One pair of step functions, ``gate_step_forward`` / ``gate_step_backward``, which
every cell calls at the start of its step (and undoes at the end of its step
backward). ``activation`` chooses the paper's sigmoid, which keeps every element's
importance independent of the others, or the softmax over the ``D`` elements (the
responses of one step sum to 1), the ablation the paper argues against.
"""

from typing import NamedTuple

from .activations import sigmoid, sigmoid_grad_from_output, softmax, softmax_backward
from .checks import check_gate_step

class GateCache(NamedTuple):
    """What ``gate_step_backward`` needs from ``gate_step_forward``."""

    x_t: object          # (B, D) the step's input
    h_prev: object       # (B, H) the previous hidden state
    a: object            # (B, D) the gate's response a_t
    W_xa: object         # (D, D)
    W_ha: object         # (H, D)
    activation: str      # 'sigmoid' or 'softmax'


def gate_step_forward(x_t, h_prev, params, activation="sigmoid"):
    """One step of the gate.

    x_t: (B, D); h_prev: (B, H); params: a dict with 'W_xa' (D, D), 'W_ha' (H, D), 'b_a' (D,)
    (a cell's parameter dict will do); activation: 'sigmoid' or 'softmax'.
    Returns ``x_att`` (B, D), the gated input x̃_t, and a ``GateCache`` (``cache.a`` is a_t).
    """
    check_gate_step(x_t, h_prev, params, activation)
    W_xa, W_ha, b_a = params["W_xa"], params["W_ha"], params["b_a"]
    z_a = x_t @ W_xa + h_prev @ W_ha + b_a                  # the gate's pre-activation
    if activation == "sigmoid":
        a = sigmoid(z_a)                                    # each element on its own
    else:
        a = softmax(z_a, axis=-1)                           # the elements compete: a sums to 1
    x_att = a * x_t                                         # x̃_t = a_t ⊙ x_t
    return x_att, GateCache(x_t=x_t, h_prev=h_prev, a=a, W_xa=W_xa, W_ha=W_ha, activation=activation)


def gate_step_backward(dx_att, cache):
    """Backward of ``gate_step_forward``.

    dx_att: (B, D), the gradient of the loss w.r.t. the gated input x̃_t.
    Returns ``dx_t`` (B, D), ``dh_prev`` (B, H), the part of the gradient of h_{t-1} that flows
    through the gate, and ``grads``: {'W_xa': (D, D), 'W_ha': (H, D), 'b_a': (D,)}.
    """
    x_t, h_prev, a = cache.x_t, cache.h_prev, cache.a
    da = dx_att * x_t                                       # undo x_att = a ⊙ x_t (through a)
    dx_t = dx_att * a                                       # undo x_att = a ⊙ x_t (through x_t)
    if cache.activation == "sigmoid":
        dz_a = da * sigmoid_grad_from_output(a)             # undo a = σ(z_a)
    else:
        dz_a = softmax_backward(da, a, axis=-1)             # undo a = softmax(z_a)
    dx_t = dx_t + dz_a @ cache.W_xa.T                       # undo z_a = x_t W_xa + ...
    dh_prev = dz_a @ cache.W_ha.T                           # undo z_a = ... + h_prev W_ha + ...
    dW_xa = x_t.T @ dz_a
    dW_ha = h_prev.T @ dz_a
    db_a = dz_a.sum(axis=0)                                 # undo z_a = ... + b_a
    return dx_t, dh_prev, {"W_xa": dW_xa, "W_ha": dW_ha, "b_a": db_a}
