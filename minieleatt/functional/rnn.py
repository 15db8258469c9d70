"""The standard RNN cell, with or without the element-wise attention gate: the reference.

    a_t = σ(x_t W_xa + h_{t-1} W_ha + b_a)           (only with the gate, gate.py)
    x̃_t = a_t ⊙ x_t                                  (x̃_t = x_t without it)
    h_t = tanh(x̃_t W_x + h_{t-1} W_h + b)

Shapes: x_t (B, D); h (B, H); W_x (D, H); W_h (H, H); b (H,); W_xa (D, D); W_ha (H, D);
b_a (D,). Sequences are time-major: x (T, B, D), hs (T, B, H).

``rnn_step_forward`` / ``rnn_step_backward`` are one step; ``rnn_forward`` / ``rnn_backward``
run them over a sequence with the shared time loop (``scan.py``). ``minieleatt.fast`` holds
implementations of the same functions organised for speed.
"""

from typing import NamedTuple

from ..backend import get_array_module
from .activations import tanh, tanh_grad_from_output
from .checks import check_backward, check_sequence, check_state, check_step, require_steps, resolve_attention
from .gate import gate_step_backward, gate_step_forward
from .scan import scan_backward, scan_forward


class RNNStepCache(NamedTuple):
    """What ``rnn_step_backward`` needs from ``rnn_step_forward``."""

    x_att: object        # (B, D) the gated input x̃_t (x_t without the gate)
    h_prev: object       # (B, H) h_{t-1}
    h: object            # (B, H) h_t
    gate: object         # the gate's GateCache, or None without the gate
    params: dict         # the parameters (not copied)


def rnn_step_forward(x_t, h_prev, params, attention="sigmoid"):
    """One step of the RNN.

    x_t: (B, D); h_prev: (B, H); params: dict (see ``param_shapes('rnn', ...)``);
    attention: 'sigmoid' (True), 'softmax' or None (False, the plain cell).
    Returns ``h`` (B, H), the new hidden state, and an ``RNNStepCache``.
    """
    activation = resolve_attention(attention)
    check_step("rnn", x_t, h_prev, params, activation)
    if activation:
        x_att, gate = gate_step_forward(x_t, h_prev, params, activation)   # x̃_t = a_t ⊙ x_t
    else:
        x_att, gate = x_t, None
    pre = x_att @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
    h = tanh(pre)
    return h, RNNStepCache(x_att=x_att, h_prev=h_prev, h=h, gate=gate, params=params)


def rnn_step_backward(dh, cache):
    """Backward of ``rnn_step_forward``.

    dh: (B, H), the gradient of the loss w.r.t. h_t.
    Returns ``dx_t`` (B, D), ``dh_prev`` (B, H) and ``grads`` (the keys and shapes of params).
    """
    x_att, h_prev, p = cache.x_att, cache.h_prev, cache.params
    dpre = dh * tanh_grad_from_output(cache.h)              # undo h = tanh(pre)
    dx_att = dpre @ p["W_x"].T                              # undo pre = x̃ W_x + ...
    dW_x = x_att.T @ dpre
    dh_prev = dpre @ p["W_h"].T                             # undo pre = ... + h_prev W_h + ...
    dW_h = h_prev.T @ dpre
    db = dpre.sum(axis=0)                                   # undo pre = ... + b
    grads = {}
    if cache.gate is not None:
        dx_t, dh_gate, grads = gate_step_backward(dx_att, cache.gate)     # undo x̃ = a_t ⊙ x_t
        dh_prev = dh_prev + dh_gate
    else:
        dx_t = dx_att
    grads.update(W_x=dW_x, W_h=dW_h, b=db)
    return dx_t, dh_prev, grads


def rnn_forward(x, params, h0=None, mask=None, attention="sigmoid", keep_cache=True):
    """Run the RNN over a sequence.

    x: (T, B, D); params: dict (see ``param_shapes('rnn', ...)``); h0: (B, H) or None (zeros);
    mask: (T, B) of 0/1 or None (padded steps carry the state over);
    attention: 'sigmoid' (True), 'softmax' or None (False);
    keep_cache: False for inference (keeps only the final state).
    Returns ``hs`` (T, B, H) and a ``SequenceCache`` (``cache.final_state`` is h_T).
    """
    s = check_sequence("rnn", x, params, mask, attention)
    h0 = check_state("h0", h0, s.B, s.H, s.dtype, s.xp)

    def step(x_t, h_prev):
        return rnn_step_forward(x_t, h_prev, params, s.attention)

    return scan_forward(step, x, h0, s.mask, keep_cache)


def rnn_backward(dhs, cache, dh_T=None):
    """Backpropagation through time for ``rnn_forward``.

    dhs: (T, B, H) gradient w.r.t. every h_t (None: zeros);
    dh_T: (B, H) optional gradient w.r.t. the final state (truncated BPTT across chunks).
    Returns ``dx`` (T, B, D), ``dh0`` (B, H) and ``grads`` (same keys and shapes as params).
    """
    require_steps(cache, RNNStepCache, "rnn")
    h_T = cache.final_state
    xp = get_array_module(h_T)
    dhs, dh_T = check_backward(dhs, len(cache.steps), *h_T.shape, h_T.dtype, xp, dh_T=dh_T)
    return scan_backward(rnn_step_backward, dhs, cache, dh_T)
