"""The element-wise attention gate (EleAttG), shared by the RNN, the LSTM and the GRU.

    a_t  = σ(x_t W_xa + h_{t-1} W_ha + b_a)        (B, D), each element in (0, 1)
    x̃_t = a_t ⊙ x_t                                 replaces x_t in every gate of the cell

``gate_forward`` / ``gate_backward`` are the one pair of functions that every
cell calls. They start from the gate's pre-activation ``z_t`` because the cells
compute its two products elsewhere, where they are cheapest: ``x_t W_xa`` for
all steps at once before the time loop, and ``h_{t-1} W_ha`` fused with the
cell's own product with ``h_{t-1}``.

``attention_gate_forward`` / ``attention_gate_backward`` are the whole gate of
one step, products included, for teaching and for the exercises.
"""

from typing import NamedTuple

from .activations import sigmoid, sigmoid_grad_from_output, softmax, softmax_backward

ATTENTION_KINDS = ("sigmoid", "softmax")


def resolve_attention(attention):
    """Normalise the ``attention`` option: False/None -> None, True -> 'sigmoid', or 'sigmoid'/'softmax'."""
    if attention is None or attention is False:
        return None
    if attention is True:
        return "sigmoid"
    if isinstance(attention, str) and attention.lower() in ATTENTION_KINDS:
        return attention.lower()
    raise ValueError(
        f"attention must be True, False, None, 'sigmoid' or 'softmax', got {attention!r}"
    )


def gate_forward(z, x, kind="sigmoid"):
    """Gate response and gated input from the pre-activation.

    z: (B, D) pre-activation ``x_t W_xa + h_{t-1} W_ha + b_a``
    x: (B, D) input ``x_t``
    kind: 'sigmoid' (the paper's gate: each element independent) or 'softmax'
          (the ablation: responses over the D elements sum to 1).
    Returns ``a`` (B, D) and ``x_att = a * x`` (B, D).
    """
    a = sigmoid(z) if kind == "sigmoid" else softmax(z, axis=-1)
    return a, a * x


def gate_backward(dx_att, x, a, kind="sigmoid"):
    """Backward of ``gate_forward``.

    dx_att: (B, D) gradient of the loss w.r.t. ``x_att``
    x, a:   (B, D) the input and the gate response of the forward pass
    Returns ``dz`` (B, D), the gradient w.r.t. the pre-activation, and ``dx`` (B, D),
    the part of the input's gradient that flows through ``x_att = a * x`` directly.
    """
    da = dx_att * x                              # undo x_att = a * x (through a)
    dx = dx_att * a                              # undo x_att = a * x (through x)
    if kind == "sigmoid":
        dz = da * sigmoid_grad_from_output(a)    # undo a = sigmoid(z)
    else:
        dz = softmax_backward(da, a, axis=-1)    # undo a = softmax(z)
    return dz, dx


class GateCache(NamedTuple):
    """What ``attention_gate_backward`` needs from ``attention_gate_forward``."""

    x: object        # (B, D) input x_t
    h_prev: object   # (B, H) previous hidden state h_{t-1}
    a: object        # (B, D) gate response a_t
    W_xa: object     # (D, D)
    W_ha: object     # (H, D)
    kind: str        # 'sigmoid' or 'softmax'


def attention_gate_forward(x, h_prev, W_xa, W_ha, b_a, kind="sigmoid"):
    """One step of the whole gate: ``a = σ(x W_xa + h_prev W_ha + b_a)``, ``x_att = a * x``.

    x: (B, D), h_prev: (B, H), W_xa: (D, D), W_ha: (H, D), b_a: (D,)
    Returns ``x_att`` (B, D) and a ``GateCache`` (its ``a`` is the response).
    """
    z = x @ W_xa + h_prev @ W_ha + b_a
    a, x_att = gate_forward(z, x, kind)
    return x_att, GateCache(x, h_prev, a, W_xa, W_ha, kind)


def attention_gate_backward(dx_att, cache):
    """Backward of ``attention_gate_forward``.

    dx_att: (B, D) gradient w.r.t. the gated input.
    Returns ``dx`` (B, D), ``dh_prev`` (B, H) and ``grads`` {'W_xa': (D, D), 'W_ha': (H, D), 'b_a': (D,)}.
    """
    dz, dx = gate_backward(dx_att, cache.x, cache.a, cache.kind)
    dx = dx + dz @ cache.W_xa.T                  # undo z = x W_xa + ...
    dh_prev = dz @ cache.W_ha.T                  # undo z = ... + h_prev W_ha
    grads = {"W_xa": cache.x.T @ dz, "W_ha": cache.h_prev.T @ dz, "b_a": dz.sum(axis=0)}
    return dx, dh_prev, grads
