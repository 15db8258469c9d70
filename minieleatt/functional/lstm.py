"""The LSTM cell (no peepholes), with or without the element-wise attention gate: the reference.

    a_t = σ(x_t W_xa + h_{t-1} W_ha + b_a)           (only with the gate, gate.py)
    x̃_t = a_t ⊙ x_t                                  (x̃_t = x_t without it)
    [i f g o] = x̃_t W_x + h_{t-1} W_h + b            gate blocks in PyTorch's order
    i, f, o = σ(i), σ(f), σ(o);  g = tanh(g)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

Shapes: x_t (B, D); h, c (B, H); W_x (D, 4H); W_h (H, 4H); b (4H,); W_xa (D, D);
W_ha (H, D); b_a (D,). The state is the pair ``(h, c)``.

``lstm_step_forward`` / ``lstm_step_backward`` are one step; ``lstm_forward`` /
``lstm_backward`` run them over a sequence with the shared time loop (``scan.py``).
"""

from typing import NamedTuple

from ..backend import get_array_module
from .activations import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .checks import check_backward, check_sequence, check_state, check_step, require_steps, resolve_attention, split_pair
from .gate import gate_step_backward, gate_step_forward
from .scan import scan_backward, scan_forward


class LSTMStepCache(NamedTuple):
    """What ``lstm_step_backward`` needs from ``lstm_step_forward``."""

    x_att: object        # (B, D) the gated input x̃_t (x_t without the gate)
    h_prev: object       # (B, H) h_{t-1}
    c_prev: object       # (B, H) c_{t-1}
    i: object            # (B, H) input gate σ(.)
    f: object            # (B, H) forget gate σ(.)
    g: object            # (B, H) candidate tanh(.)
    o: object            # (B, H) output gate σ(.)
    tanh_c: object       # (B, H) tanh(c_t)
    gate: object         # the gate's GateCache, or None without the gate
    params: dict         # the parameters (not copied)


def lstm_step_forward(x_t, state_prev, params, attention="sigmoid"):
    """One step of the LSTM.

    x_t: (B, D); state_prev: the pair (h_prev, c_prev), each (B, H); params: dict (see
    ``param_shapes('lstm', ...)``); attention: 'sigmoid' (True), 'softmax' or None (False).
    Returns the new state ``(h, c)``, each (B, H), and an ``LSTMStepCache``.
    """
    h_prev, c_prev = split_pair(state_prev, "state_prev")
    activation = resolve_attention(attention)
    check_step("lstm", x_t, (h_prev, c_prev), params, activation)
    H = h_prev.shape[1]
    if activation:
        x_att, gate = gate_step_forward(x_t, h_prev, params, activation)   # x̃_t = a_t ⊙ x_t
    else:
        x_att, gate = x_t, None
    pre = x_att @ params["W_x"] + h_prev @ params["W_h"] + params["b"]    # (B, 4H): blocks i f g o
    i = sigmoid(pre[:, :H])
    f = sigmoid(pre[:, H: 2 * H])
    g = tanh(pre[:, 2 * H: 3 * H])
    o = sigmoid(pre[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = tanh(c)
    h = o * tanh_c
    cache = LSTMStepCache(x_att=x_att, h_prev=h_prev, c_prev=c_prev, i=i, f=f, g=g, o=o, tanh_c=tanh_c,
                          gate=gate, params=params)
    return (h, c), cache


def lstm_step_backward(dstate, cache):
    """Backward of ``lstm_step_forward``.

    dstate: the pair (dh, dc), the gradients w.r.t. h_t and c_t, each (B, H) (dc may be None: zeros).
    Returns ``dx_t`` (B, D), ``(dh_prev, dc_prev)`` each (B, H) and ``grads`` (the keys of params).
    """
    dh, dc = split_pair(dstate, "dstate")
    xp = get_array_module(dh)
    x_att, h_prev, p = cache.x_att, cache.h_prev, cache.params
    i, f, g, o, tanh_c = cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    if dc is None:
        dc = xp.zeros_like(dh)
    do = dh * tanh_c                                        # undo h = o ⊙ tanh(c) (through o)
    dc = dc + dh * o * tanh_grad_from_output(tanh_c)        # undo h = o ⊙ tanh(c) (through c)
    df = dc * cache.c_prev                                  # undo c = f ⊙ c_prev + ...
    dc_prev = dc * f
    di = dc * g                                             # undo c = ... + i ⊙ g
    dg = dc * i
    dpre = xp.concatenate([di * sigmoid_grad_from_output(i),     # undo i = σ(.)
                           df * sigmoid_grad_from_output(f),     # undo f = σ(.)
                           dg * tanh_grad_from_output(g),        # undo g = tanh(.)
                           do * sigmoid_grad_from_output(o)],    # undo o = σ(.)
                          axis=1)
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
    return dx_t, (dh_prev, dc_prev), grads


def lstm_forward(x, params, state=None, mask=None, attention="sigmoid", keep_cache=True):
    """Run the LSTM over a sequence.

    x: (T, B, D); params: dict (see ``param_shapes('lstm', ...)``);
    state: the pair (h0, c0), each (B, H) or None (zeros); mask: (T, B) of 0/1 or None;
    attention: 'sigmoid' (True), 'softmax' or None (False); keep_cache: False for inference.
    Returns ``hs`` (T, B, H) and a ``SequenceCache`` (``cache.final_state`` is (h_T, c_T)).
    """
    s = check_sequence("lstm", x, params, mask, attention)
    h0, c0 = split_pair(state, "state")
    state = (check_state("h0", h0, s.B, s.H, s.dtype, s.xp), check_state("c0", c0, s.B, s.H, s.dtype, s.xp))

    def step(x_t, state_prev):
        return lstm_step_forward(x_t, state_prev, params, s.attention)

    return scan_forward(step, x, state, s.mask, keep_cache)


def lstm_backward(dhs, cache, dstate_T=None):
    """Backpropagation through time for ``lstm_forward``.

    dhs: (T, B, H) gradient w.r.t. every h_t (None: zeros);
    dstate_T: optional pair (dh_T, dc_T) for the final state (either may be None).
    Returns ``dx`` (T, B, D), ``(dh0, dc0)`` each (B, H), and ``grads``.
    """
    require_steps(cache, LSTMStepCache, "lstm")
    dh_T, dc_T = split_pair(dstate_T, "dstate_T")
    h_T = cache.final_state[0]
    xp = get_array_module(h_T)
    dhs, dh_T, dc_T = check_backward(dhs, len(cache.steps), *h_T.shape, h_T.dtype, xp, dh_T=dh_T, dc_T=dc_T)
    return scan_backward(lstm_step_backward, dhs, cache, (dh_T, dc_T))
