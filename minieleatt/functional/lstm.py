"""The LSTM cell (no peepholes), with or without the element-wise attention gate.

    a_t  = σ(x_t W_xa + h_{t-1} W_ha + b_a)          (only with the gate)
    x̃_t = a_t ⊙ x_t                                   (x̃_t = x_t without it)
    [i f g o] = x̃_t W_x + h_{t-1} W_h + b            gate blocks in PyTorch's order
    i, f, o = σ(i), σ(f), σ(o);  g = tanh(g)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

Shapes: x (T, B, D); h, c (B, H); W_x (D, 4H); W_h (H, 4H); b (4H,);
W_xa (D, D); W_ha (H, D); b_a (D,). The state is the pair ``(h, c)``.

As in ``gru.py``: ``lstm_forward`` / ``lstm_backward`` check their arguments and run the
plain version (the one to read, and the one CuPy runs) or, on NumPy arrays, the fast
one at the end of this file (``fast.py`` says why); both give the same cache values.
"""

from typing import NamedTuple

from ..backend import get_array_module
from .activations import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .fast import FastGatedInput, FastGatedInputGrad
from ..fast.kernels import kernels_for
from .sequence import (GatedInput, GatedInputGrad, carry, check_backward, check_sequence, check_state,
                       feature_major, order_grads, split_by_mask, use_fast_path)


class LSTMCache(NamedTuple):
    """What ``lstm_backward`` needs. With ``keep_cache=False`` only ``final_state`` is set."""

    x: object            # (T, B, D) the input
    h_all: object        # (T+1, B, H) h_0 ... h_T
    c_all: object        # (T+1, B, H) c_0 ... c_T
    gates: object        # (T, B, 4H) [i f g o] after their activations
    attention: object    # (T, B, D) gate responses a_t, or None without the gate
    mask: object         # (T, B, 1) bool, or None
    params: dict
    W_hcat: object       # (H, D+4H) [W_ha | W_h], or W_h without the gate
    kind: object         # 'sigmoid', 'softmax' or None
    final_state: object  # the pair (h_T, c_T), each (B, H)


def _split_state(state, name):
    if state is None:
        return None, None
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"the LSTM's {name} must be a pair (h, c) of (B, H) arrays (or None), got {type(state).__name__}")
    return state


def lstm_activate(pre, H, out=None):
    """[i f g o] pre-activations (B, 4H) -> σ(i), σ(f), tanh(g), σ(o), side by side (B, 4H)."""
    xp = get_array_module(pre)
    act = xp.empty_like(pre) if out is None else out
    act[:, : 2 * H] = sigmoid(pre[:, : 2 * H])
    act[:, 2 * H: 3 * H] = tanh(pre[:, 2 * H: 3 * H])
    act[:, 3 * H:] = sigmoid(pre[:, 3 * H:])
    return act


def lstm_forward(x, params, state=None, mask=None, attention="sigmoid", keep_cache=True):
    """Run the LSTM over a sequence.

    x: (T, B, D); params: dict (see ``param_shapes('lstm', ...)``);
    state: the pair (h0, c0), each (B, H) or None (zeros); mask: (T, B) of 0/1 or None;
    attention: 'sigmoid' (True), 'softmax' or None (False); keep_cache: False for inference.
    Returns ``hs`` (T, B, H) and an ``LSTMCache`` (``final_state`` is (h_T, c_T)).
    """
    s = check_sequence("lstm", x, params, mask, attention)
    h0, c0 = _split_state(state, "state")
    h0 = check_state("h0", h0, s.B, s.H, s.dtype, s.xp)
    c0 = check_state("c0", c0, s.B, s.H, s.dtype, s.xp)
    run = _lstm_forward_fast if use_fast_path(s.xp) else _lstm_forward_plain
    return run(s, x, params, h0, c0, keep_cache)


def _lstm_forward_plain(s, x, params, h0, c0, keep_cache):
    """``lstm_forward`` after the checks: the plain version, written to be read."""
    xp, T, B, H = s.xp, s.T, s.B, s.H
    h_all = xp.empty((T + 1, B, H), dtype=s.dtype)
    h_all[0] = h0
    c_prev = c0
    c_all = xp.empty((T + 1, B, H), dtype=s.dtype) if keep_cache else None
    gates = xp.empty((T, B, 4 * H), dtype=s.dtype) if keep_cache else None
    if keep_cache:
        c_all[0] = c_prev
    inp = GatedInput(x, params, s.kind, keep=keep_cache)
    kernels = kernels_for(xp)                                     # CuPy: the step's element-wise work in one kernel
    for t in range(T):
        h_prev = h_all[t]
        m_t = None if s.mask is None else s.mask[t]
        gx, gh = inp.step(t, h_prev)                              # x̃_t W_x + b,  h_{t-1} W_h
        if kernels is not None:
            c = c_all[t + 1] if keep_cache else xp.empty_like(c_prev)
            act = gates[t] if keep_cache else xp.empty_like(gx)
            kernels.lstm_forward(gx, gh, c_prev, h_prev, m_t, act, c, h_all[t + 1])
            c_prev = c
            continue
        act = lstm_activate(gx + gh, H, None if gates is None else gates[t])
        i, f, g, o = act[:, :H], act[:, H: 2 * H], act[:, 2 * H: 3 * H], act[:, 3 * H:]
        c = f * c_prev + i * g
        h = o * tanh(c)
        c_prev = carry(m_t, c, c_prev)
        h_all[t + 1] = carry(m_t, h, h_prev)
        if keep_cache:
            c_all[t + 1] = c_prev
    hs = h_all[1:]
    final = (hs[-1], c_prev)
    if not keep_cache:
        return hs, LSTMCache(None, None, None, None, None, None, None, None, s.kind, final)
    return hs, LSTMCache(x, h_all, c_all, gates, inp.A, s.mask, params, inp.W_hcat, s.kind, final)


def lstm_backward(dhs, cache, dstate_T=None):
    """Backpropagation through time for ``lstm_forward``.

    dhs: (T, B, H) gradient w.r.t. every h_t (None: zeros);
    dstate_T: optional pair (dh_T, dc_T) for the final state (either may be None).
    Returns ``dx`` (T, B, D), ``(dh0, dc0)`` each (B, H), and ``grads``.
    """
    dh_T, dc_T = _split_state(dstate_T, "dstate_T")
    xp, dhs, dh_T, dc_T = check_backward(cache, LSTMCache, dhs, dh_T=dh_T, dc_T=dc_T)
    run = _lstm_backward_fast if use_fast_path(xp) else _lstm_backward_plain
    return run(xp, dhs, dh_T, dc_T, cache)


def _lstm_backward_plain(xp, dhs, dh_T, dc_T, cache):
    """``lstm_backward`` after the checks: the plain version, written to be read."""
    x, h_all, c_all, gates, mask = cache.x, cache.h_all, cache.c_all, cache.gates, cache.mask
    T, H = h_all.shape[0] - 1, h_all.shape[2]
    dh_next, dc_next = dh_T, dc_T
    grad = GatedInputGrad(x, cache.attention, cache.params, cache.W_hcat, cache.kind, 4 * H, 4 * H, shared=True)
    tanh_c = tanh(c_all[1:])                                      # tanh(c_t) for all steps at once
    kernels = kernels_for(xp)                                     # CuPy: one fused kernel
    for t in reversed(range(T)):
        m_t = None if mask is None else mask[t]
        if kernels is not None:
            dc_prev, dh_carry = xp.empty_like(dc_next), xp.empty_like(dh_next)
            kernels.lstm_backward(dhs[t], dh_next, dc_next, gates[t], tanh_c[t], c_all[t], m_t, grad.dgx(t),
                                  dc_prev, dh_carry)
            dc_next = dc_prev
            dh_next = grad.step(t)
            if m_t is not None:
                dh_next += dh_carry
            continue
        dh, dh_carry = split_by_mask(dhs[t] + dh_next, m_t)
        dc, dc_carry = split_by_mask(dc_next, m_t)
        act, tc = gates[t], tanh_c[t]
        i, f, g, o = act[:, :H], act[:, H: 2 * H], act[:, 2 * H: 3 * H], act[:, 3 * H:]
        dc = dc + dh * o * tanh_grad_from_output(tc)              # undo h = o ⊙ tanh(c)
        dpre = grad.dgx(t)
        dpre[:, 3 * H:] = dh * tc * sigmoid_grad_from_output(o)   # undo h = o ⊙ tanh(c), o = σ(.)
        dpre[:, :H] = dc * g * sigmoid_grad_from_output(i)        # undo c = f c_prev + i g, i = σ(.)
        dpre[:, H: 2 * H] = dc * c_all[t] * sigmoid_grad_from_output(f)   # ... f = σ(.)
        dpre[:, 2 * H: 3 * H] = dc * i * tanh_grad_from_output(g)         # ... g = tanh(.)
        dc_next = dc * f                                          # undo c = f c_prev + ...
        dh_next = grad.step(t)                                    # undo pre = x̃ W_x + h W_h + b
        if m_t is not None:
            dh_next += dh_carry                                   # undo the carry of a padded step
            dc_next += dc_carry
    dx, grads = grad.finish(h_all[:-1])
    return dx, (dh_next, dc_next), order_grads(grads, cache.params)


def lstm_step_forward(x_t, state_prev, params, attention="sigmoid"):
    """One step: ``lstm_forward`` on a sequence of length 1.

    x_t: (B, D); state_prev: (h_prev, c_prev). Returns the state (h_t, c_t) and the cache.
    """
    _, cache = lstm_forward(x_t[None], params, state_prev, attention=attention)
    return cache.final_state, cache


def lstm_step_backward(dstate, cache):
    """Backward of one step. ``dstate`` is (dh_t, dc_t). Returns ``dx_t``, ``(dh_prev, dc_prev)``, ``grads``."""
    dh_t, dc_t = _split_state(dstate, "dstate")
    dx, dstate_prev, grads = lstm_backward(None, cache, (dh_t, dc_t))
    return dx[0], dstate_prev, grads


# ----------------------------------------------------------------------------- the fast path (NumPy)
#
# The same maths as ``_lstm_forward_plain`` / ``_lstm_backward_plain``, organised for speed on
# the CPU (see ``fast.py``): feature-major, in place, the sigmoids of i, f, o from halved weight rows.

def _lstm_forward_fast(s, x, params, h0, c0, keep_cache):
    """``lstm_forward`` after the checks, on NumPy (see ``fast.py``)."""
    xp, T, B, H, dt = s.xp, s.T, s.B, s.H, s.dtype
    inp = FastGatedInput(s, x, params, 4 * H, [slice(0, 2 * H), slice(3 * H, 4 * H)], keep_cache, keep_cache)
    hT = xp.empty((T + 1, H, B), dtype=dt)                    # h_0 ... h_T, feature-major
    hT[0] = h0.T
    cT = xp.empty((T + 1 if keep_cache else 2, H, B), dtype=dt)   # c_0 ... c_T (or the last two)
    cT[0] = c0.T
    pad = None if s.mask is None else ~s.mask.transpose(0, 2, 1)   # (T, 1, B), True on padded steps
    tmp = xp.empty((H, B), dtype=dt)
    for t in range(T):
        h_prev = hT[t]
        c_prev, c = (cT[t], cT[t + 1]) if keep_cache else (cT[t % 2], cT[(t + 1) % 2])
        g, hw = inp.step(t, h_prev)                           # x̃_t W_x + b,  h_{t-1} W_h  (i, f, o rows halved)
        g += hw
        xp.tanh(g, out=g)                                     # g = tanh(.); i, f, o hold tanh(z/2)
        for block in (g[: 2 * H], g[3 * H:]):
            block *= 0.5
            block += 0.5                                      # i, f, o = σ(.)
        i, f, gg, o = g[:H], g[H: 2 * H], g[2 * H: 3 * H], g[3 * H:]
        xp.multiply(f, c_prev, out=c)
        xp.multiply(i, gg, out=tmp)
        c += tmp                                              # c_t = f ⊙ c_{t-1} + i ⊙ g
        xp.tanh(c, out=tmp)
        h = hT[t + 1]
        xp.multiply(o, tmp, out=h)                            # h_t = o ⊙ tanh(c_t)
        if pad is not None:
            xp.copyto(c, c_prev, where=pad[t])                # padded step: carry the state over
            xp.copyto(h, h_prev, where=pad[t])
    hs = hT[1:].transpose(0, 2, 1)
    final = (hs[-1], (cT[T] if keep_cache else cT[T % 2]).T)
    if not keep_cache:
        return hs, LSTMCache(None, None, None, None, None, None, None, None, s.kind, final)
    view = lambda a: a.transpose(0, 2, 1)                     # noqa: E731  (T, K, B) -> (T, B, K)
    return hs, LSTMCache(view(inp.xT), view(hT), view(cT), view(inp.GT), inp.attention(), s.mask, params,
                         inp.W_hcat, s.kind, final)


def _lstm_backward_fast(xp, dhs, dh_T, dc_T, cache):
    """``lstm_backward`` after the checks, on NumPy (see ``fast.py``)."""
    hT, cT, GT = feature_major(xp, cache.h_all), feature_major(xp, cache.c_all), feature_major(xp, cache.gates)
    dhsT = feature_major(xp, dhs)
    pad = None if cache.mask is None else ~cache.mask.transpose(0, 2, 1)
    T, H, B = hT.shape[0] - 1, hT.shape[1], hT.shape[2]
    dt = hT.dtype
    grad = FastGatedInputGrad(xp, cache, 4 * H, 4 * H, shared=True)
    dgx = grad.dgx
    dif, di, df, dgg, do = dgx[: 2 * H], dgx[:H], dgx[H: 2 * H], dgx[2 * H: 3 * H], dgx[3 * H:]
    dh_next, dc = dh_T.T.copy(), dc_T.T.copy()                # (H, B), ours to overwrite
    dh, dc_other, tc, t1 = (xp.empty((H, B), dtype=dt) for _ in range(4))
    t2 = xp.empty((2 * H, B), dtype=dt)
    if pad is not None:
        carry_h, carry_c = xp.empty((H, B), dtype=dt), xp.empty((H, B), dtype=dt)
    for t in reversed(range(T)):
        xp.add(dhsT[t], dh_next, out=dh)
        if pad is not None:
            xp.multiply(dh, pad[t], out=carry_h)              # what flows past a padded step unchanged
            dh -= carry_h
            xp.multiply(dc, pad[t], out=carry_c)
            dc -= carry_c
        g, c_prev = GT[t], cT[t]
        i, f, gg, o = g[:H], g[H: 2 * H], g[2 * H: 3 * H], g[3 * H:]
        xp.tanh(cT[t + 1], out=tc)
        xp.multiply(tc, tc, out=t1)
        xp.subtract(1, t1, out=t1)
        t1 *= o
        t1 *= dh
        dc += t1                                              # undo h = o ⊙ tanh(c)  (through c)
        xp.multiply(dh, tc, out=do)                           # ... (through o, before σ')
        xp.multiply(dc, gg, out=di)                           # undo c = f c_prev + i g  (before σ')
        xp.multiply(dc, c_prev, out=df)
        xp.multiply(gg, gg, out=t1)
        xp.subtract(1, t1, out=t1)
        xp.multiply(dc, i, out=dgg)
        dgg *= t1                                             # ... g = tanh(.)
        dif *= g[: 2 * H]
        xp.subtract(1, g[: 2 * H], out=t2)
        dif *= t2                                             # i = σ(.), f = σ(.)
        do *= o
        xp.subtract(1, o, out=t1)
        do *= t1                                              # o = σ(.)
        dc_prev = dc_other
        xp.multiply(dc, f, out=dc_prev)                       # undo c = f ⊙ c_prev + ...
        dh_prev = dh_next                                     # free again: reuse it
        grad.step(t, dh_prev, add=False)                      # undo pre = x̃ W_x + h_prev W_h + b
        if pad is not None:
            dh_prev += carry_h                                # undo the carry of a padded step
            dc_prev += carry_c
        dh_next, dc_other, dc = dh_prev, dc, dc_prev
    dx, grads, _ = grad.finish()
    return dx, (xp.ascontiguousarray(dh_next.T), xp.ascontiguousarray(dc.T)), order_grads(grads, cache.params)
