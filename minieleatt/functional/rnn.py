"""The standard RNN cell, with or without the element-wise attention gate.

    a_t  = σ(x_t W_xa + h_{t-1} W_ha + b_a)          (only with the gate)
    x̃_t = a_t ⊙ x_t                                   (x̃_t = x_t without it)
    h_t  = tanh(x̃_t W_x + h_{t-1} W_h + b)

Shapes: x (T, B, D); h (B, H); W_x (D, H); W_h (H, H); b (H,);
W_xa (D, D); W_ha (H, D); b_a (D,). Sequences are time-major.

As in ``gru.py``: ``rnn_forward`` / ``rnn_backward`` check their arguments and run the
plain version (the one to read, and the one CuPy runs) or, on NumPy arrays, the fast
one at the end of this file (``fast.py`` says why); both give the same cache values.
"""

from typing import NamedTuple

from .activations import tanh, tanh_grad_from_output
from .fast import FastGatedInput, FastGatedInputGrad
from ..fast.kernels import kernels_for
from .sequence import (GatedInput, GatedInputGrad, carry, check_backward, check_sequence, check_state,
                       feature_major, order_grads, split_by_mask, use_fast_path)


class RNNCache(NamedTuple):
    """What ``rnn_backward`` needs. With ``keep_cache=False`` only ``final_state`` is set."""

    x: object            # (T, B, D) the input
    h_all: object        # (T+1, B, H) h_0 ... h_T (h_all[0] is the initial state)
    attention: object    # (T, B, D) gate responses a_t, or None without the gate
    mask: object         # (T, B, 1) bool, or None
    params: dict         # the parameters (not copied)
    W_hcat: object       # (H, D+H) [W_ha | W_h], or W_h without the gate
    kind: object         # 'sigmoid', 'softmax' or None
    final_state: object  # (B, H) h_T


def rnn_forward(x, params, h0=None, mask=None, attention="sigmoid", keep_cache=True):
    """Run the RNN over a sequence.

    x: (T, B, D); params: dict (see ``param_shapes('rnn', ...)``); h0: (B, H) or None (zeros);
    mask: (T, B) of 0/1 or None (padded steps carry the state over);
    attention: 'sigmoid' (True), 'softmax' or None (False);
    keep_cache: False for inference (keeps only the final state).
    Returns ``hs`` (T, B, H) and an ``RNNCache``.
    """
    s = check_sequence("rnn", x, params, mask, attention)
    h0 = check_state("h0", h0, s.B, s.H, s.dtype, s.xp)
    run = _rnn_forward_fast if use_fast_path(s.xp) else _rnn_forward_plain
    return run(s, x, params, h0, keep_cache)


def _rnn_forward_plain(s, x, params, h0, keep_cache):
    """``rnn_forward`` after the checks: the plain version, written to be read."""
    xp, T, B = s.xp, s.T, s.B
    h_all = xp.empty((T + 1, B, s.H), dtype=s.dtype)
    h_all[0] = h0
    inp = GatedInput(x, params, s.kind, keep=keep_cache)
    kernels = kernels_for(xp)                        # CuPy: the step's element-wise work in one kernel
    for t in range(T):
        h_prev = h_all[t]
        m_t = None if s.mask is None else s.mask[t]
        gx, gh = inp.step(t, h_prev)                 # x̃_t W_x + b,  h_{t-1} W_h
        if kernels is not None:
            kernels.rnn_forward(gx, gh, h_prev, m_t, h_all[t + 1])
            continue
        h = tanh(gx + gh)
        h_all[t + 1] = carry(m_t, h, h_prev)
    hs = h_all[1:]
    if not keep_cache:
        return hs, RNNCache(None, None, None, None, None, None, s.kind, hs[-1])
    return hs, RNNCache(x, h_all, inp.A, s.mask, params, inp.W_hcat, s.kind, hs[-1])


def rnn_backward(dhs, cache, dh_T=None):
    """Backpropagation through time for ``rnn_forward``.

    dhs: (T, B, H) gradient w.r.t. every h_t (None: zeros);
    dh_T: (B, H) optional gradient w.r.t. the final state (truncated BPTT across chunks).
    Returns ``dx`` (T, B, D), ``dh0`` (B, H) and ``grads`` (same keys and shapes as params).
    """
    xp, dhs, dh_T = check_backward(cache, RNNCache, dhs, dh_T=dh_T)
    run = _rnn_backward_fast if use_fast_path(xp) else _rnn_backward_plain
    return run(xp, dhs, dh_T, cache)


def _rnn_backward_plain(xp, dhs, dh_T, cache):
    """``rnn_backward`` after the checks: the plain version, written to be read."""
    x, h_all, A, mask = cache.x, cache.h_all, cache.attention, cache.mask
    T, H = h_all.shape[0] - 1, h_all.shape[2]
    dh_next = dh_T
    grad = GatedInputGrad(x, A, cache.params, cache.W_hcat, cache.kind, H, H, shared=True)
    kernels = kernels_for(xp)                                           # CuPy: one fused kernel
    for t in reversed(range(T)):
        m_t = None if mask is None else mask[t]
        if kernels is not None:
            dh_carry = xp.empty_like(dh_next)
            kernels.rnn_backward(dhs[t], dh_next, h_all[t + 1], m_t, grad.dgx(t), dh_carry)
            dh_carry = None if m_t is None else dh_carry
        else:
            dh, dh_carry = split_by_mask(dhs[t] + dh_next, m_t)
            grad.dgx(t)[...] = dh * tanh_grad_from_output(h_all[t + 1])   # undo h = tanh(pre)
        dh_next = grad.step(t)                                          # undo pre = x̃ W_x + h W_h + b
        if dh_carry is not None:
            dh_next += dh_carry                                         # undo the carry of a padded step
    dx, grads = grad.finish(h_all[:-1])
    return dx, dh_next, order_grads(grads, cache.params)


def rnn_step_forward(x_t, h_prev, params, attention="sigmoid"):
    """One step: ``rnn_forward`` on a sequence of length 1.

    x_t: (B, D); h_prev: (B, H). Returns ``h_t`` (B, H) and the cache.
    """
    hs, cache = rnn_forward(x_t[None], params, h_prev, attention=attention)
    return hs[0], cache


def rnn_step_backward(dh_t, cache):
    """Backward of one step. Returns ``dx_t`` (B, D), ``dh_prev`` (B, H) and ``grads``."""
    dx, dh_prev, grads = rnn_backward(dh_t[None], cache)
    return dx[0], dh_prev, grads


# ----------------------------------------------------------------------------- the fast path (NumPy)
#
# The same maths as ``_rnn_forward_plain`` / ``_rnn_backward_plain``, organised for speed on the
# CPU (see ``fast.py``): feature-major, in place, weight gradients accumulated in the loop.

def _rnn_forward_fast(s, x, params, h0, keep_cache):
    """``rnn_forward`` after the checks, on NumPy (see ``fast.py``)."""
    xp, T, B, H = s.xp, s.T, s.B, s.H
    inp = FastGatedInput(s, x, params, H, [], keep_cache, store_g=False)
    hT = xp.empty((T + 1, H, B), dtype=s.dtype)               # h_0 ... h_T, feature-major
    hT[0] = h0.T
    pad = None if s.mask is None else ~s.mask.transpose(0, 2, 1)   # (T, 1, B), True on padded steps
    for t in range(T):
        h_prev = hT[t]
        g, hw = inp.step(t, h_prev)                           # x̃_t W_x + b,  h_{t-1} W_h
        h = hT[t + 1]
        xp.add(g, hw, out=h)
        xp.tanh(h, out=h)
        if pad is not None:
            xp.copyto(h, h_prev, where=pad[t])                # padded step: carry the state over
    hs = hT[1:].transpose(0, 2, 1)
    if not keep_cache:
        return hs, RNNCache(None, None, None, None, None, None, s.kind, hs[-1])
    return hs, RNNCache(inp.xT.transpose(0, 2, 1), hT.transpose(0, 2, 1), inp.attention(), s.mask, params,
                        inp.W_hcat, s.kind, hs[-1])


def _rnn_backward_fast(xp, dhs, dh_T, cache):
    """``rnn_backward`` after the checks, on NumPy (see ``fast.py``)."""
    hT, dhsT = feature_major(xp, cache.h_all), feature_major(xp, dhs)
    pad = None if cache.mask is None else ~cache.mask.transpose(0, 2, 1)
    T, H, B = hT.shape[0] - 1, hT.shape[1], hT.shape[2]
    grad = FastGatedInputGrad(xp, cache, H, H, shared=True)
    dh_next = dh_T.T.copy()                                   # (H, B); becomes each step's dh_prev buffer
    dh, t1 = xp.empty((H, B), dtype=hT.dtype), xp.empty((H, B), dtype=hT.dtype)
    carry = xp.empty((H, B), dtype=hT.dtype) if pad is not None else None
    for t in reversed(range(T)):
        xp.add(dhsT[t], dh_next, out=dh)
        if pad is not None:
            xp.multiply(dh, pad[t], out=carry)                # what flows past a padded step unchanged
            dh -= carry
        h = hT[t + 1]
        xp.multiply(h, h, out=t1)
        xp.subtract(1, t1, out=t1)
        xp.multiply(dh, t1, out=grad.dgx)                     # undo h = tanh(pre)
        dh_prev = dh_next                                     # free again: reuse it
        grad.step(t, dh_prev, add=False)                      # undo pre = x̃ W_x + h_prev W_h + b
        if pad is not None:
            dh_prev += carry                                  # undo the carry of a padded step
        dh_next = dh_prev
    dx, grads, _ = grad.finish()
    return dx, xp.ascontiguousarray(dh_next.T), order_grads(grads, cache.params)
