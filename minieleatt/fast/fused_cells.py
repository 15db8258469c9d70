"""The cells' fused path: the reference's sequence functions with each step's element-wise work in one kernel.

Each public function here computes what the reference function it names computes
(``minieleatt.functional``), on every configuration (the tests in ``tests/fast/`` prove
it): ``rnn_forward_fused`` is ``functional.rnn_forward`` and so on. Per step, the products
are cuBLAS calls with the fused matrices of ``fused_input.py``, and all the element-wise
arithmetic of the step (activations, the cell's gates, the carry of padded steps) is one
CUDA kernel (``kernels.py``; two for the reset-before GRU), instead of a dozen launches.

Made for CuPy. On NumPy arrays the kernel bodies are evaluated by NumPy (slowly): that is
how the CPU tests prove these loops and the kernels' maths without a GPU.
"""

from ..functional.checks import check_sequence, check_state, split_pair
from .caches import GRUCache, LSTMCache, RNNCache, check_stacked_backward, order_grads
from .fused_input import GatedInput, GatedInputGrad, flat
from .kernels import kernels_for


# ----------------------------------------------------------------------------- RNN

def rnn_forward_fused(x, params, h0=None, mask=None, attention="sigmoid", keep_cache=True):
    """Reproduces ``minieleatt.functional.rnn_forward`` (same arguments, same results)."""
    s = check_sequence("rnn", x, params, mask, attention)
    h0 = check_state("h0", h0, s.B, s.H, s.dtype, s.xp)
    xp, T, B = s.xp, s.T, s.B
    kernels = kernels_for(xp)
    h_all = xp.empty((T + 1, B, s.H), dtype=s.dtype)
    h_all[0] = h0
    inp = GatedInput(x, params, s.attention, kernels, keep=keep_cache)
    for t in range(T):
        m_t = None if s.mask is None else s.mask[t]
        gx, gh = inp.step(t, h_all[t])                            # x̃_t W_x + b,  h_{t-1} W_h
        kernels.rnn_step(gx, gh, h_all[t], m_t, h_all[t + 1])     # tanh, and the carry of a padded step
    hs = h_all[1:]
    if not keep_cache:
        return hs, RNNCache.inference(hs[-1], activation=s.attention)
    return hs, RNNCache(x=x, h_all=h_all, responses=inp.A, mask=s.mask, params=params, W_hcat=inp.W_hcat,
                        activation=s.attention, final_state=hs[-1])


def rnn_backward_fused(dhs, cache, dh_T=None):
    """Reproduces ``minieleatt.functional.rnn_backward``, from a stacked cache (``caches.RNNCache``)."""
    xp, dhs, dh_next = check_stacked_backward(cache, "rnn", dhs, dh_T=dh_T)
    kernels = kernels_for(xp)
    x, h_all, mask = cache.x, cache.h_all, cache.mask
    H = h_all.shape[2]
    grad = GatedInputGrad(x, cache.responses, cache.params, cache.W_hcat, cache.activation, kernels, H, H, shared=True)
    for t in reversed(range(h_all.shape[0] - 1)):
        m_t = None if mask is None else mask[t]
        dh_passed = xp.empty_like(dh_next)
        kernels.rnn_step_backward(dhs[t], dh_next, h_all[t + 1], m_t, grad.dgx(t), dh_passed)   # undo tanh
        dh_next = grad.step(t)                                    # undo pre = x̃ W_x + h W_h + b
        if m_t is not None:
            dh_next += dh_passed                                  # undo the carry of a padded step
    dx, grads = grad.finish(h_all[:-1])
    return dx, dh_next, order_grads(grads, cache.params)


# ----------------------------------------------------------------------------- LSTM

def lstm_forward_fused(x, params, state=None, mask=None, attention="sigmoid", keep_cache=True):
    """Reproduces ``minieleatt.functional.lstm_forward`` (same arguments, same results)."""
    s = check_sequence("lstm", x, params, mask, attention)
    h0, c0 = split_pair(state, "state")
    h0 = check_state("h0", h0, s.B, s.H, s.dtype, s.xp)
    c_prev = check_state("c0", c0, s.B, s.H, s.dtype, s.xp)
    xp, T, B, H = s.xp, s.T, s.B, s.H
    kernels = kernels_for(xp)
    h_all = xp.empty((T + 1, B, H), dtype=s.dtype)
    h_all[0] = h0
    c_all = xp.empty((T + 1, B, H), dtype=s.dtype) if keep_cache else None
    gates = xp.empty((T, B, 4 * H), dtype=s.dtype) if keep_cache else None
    if keep_cache:
        c_all[0] = c_prev
    inp = GatedInput(x, params, s.attention, kernels, keep=keep_cache)
    for t in range(T):
        h_prev = h_all[t]
        m_t = None if s.mask is None else s.mask[t]
        gx, gh = inp.step(t, h_prev)                              # x̃_t W_x + b,  h_{t-1} W_h
        c = c_all[t + 1] if keep_cache else xp.empty_like(c_prev)
        act = gates[t] if keep_cache else xp.empty_like(gx)
        kernels.lstm_step(gx, gh, c_prev, h_prev, m_t, act, c, h_all[t + 1])
        c_prev = c
    hs = h_all[1:]
    final = (hs[-1], c_prev)
    if not keep_cache:
        return hs, LSTMCache.inference(final, activation=s.attention)
    return hs, LSTMCache(x=x, h_all=h_all, c_all=c_all, gates=gates, responses=inp.A, mask=s.mask, params=params,
                         W_hcat=inp.W_hcat, activation=s.attention, final_state=final)


def lstm_backward_fused(dhs, cache, dstate_T=None):
    """Reproduces ``minieleatt.functional.lstm_backward``, from a stacked cache (``caches.LSTMCache``)."""
    dh_T, dc_T = split_pair(dstate_T, "dstate_T")
    xp, dhs, dh_next, dc_next = check_stacked_backward(cache, "lstm", dhs, dh_T=dh_T, dc_T=dc_T)
    kernels = kernels_for(xp)
    x, h_all, c_all, gates, mask = cache.x, cache.h_all, cache.c_all, cache.gates, cache.mask
    H = h_all.shape[2]
    grad = GatedInputGrad(x, cache.responses, cache.params, cache.W_hcat, cache.activation, kernels, 4 * H, 4 * H,
                          shared=True)
    tanh_c = xp.tanh(c_all[1:])                                   # tanh(c_t) for all steps at once
    for t in reversed(range(h_all.shape[0] - 1)):
        m_t = None if mask is None else mask[t]
        dc_prev, dh_passed = xp.empty_like(dc_next), xp.empty_like(dh_next)
        kernels.lstm_step_backward(dhs[t], dh_next, dc_next, gates[t], tanh_c[t], c_all[t], m_t, grad.dgx(t),
                                   dc_prev, dh_passed)
        dc_next = dc_prev
        dh_next = grad.step(t)                                    # undo pre = x̃ W_x + h W_h + b
        if m_t is not None:
            dh_next += dh_passed                                  # undo the carry of a padded step
    dx, grads = grad.finish(h_all[:-1])
    return dx, (dh_next, dc_next), order_grads(grads, cache.params)


# ----------------------------------------------------------------------------- GRU

def gru_forward_fused(x, params, h0=None, mask=None, attention="sigmoid", reset_after=False, keep_cache=True):
    """Reproduces ``minieleatt.functional.gru_forward`` (same arguments, same results)."""
    s = check_sequence("gru", x, params, mask, attention, reset_after)
    h0 = check_state("h0", h0, s.B, s.H, s.dtype, s.xp)
    xp, T, B, H = s.xp, s.T, s.B, s.H
    kernels = kernels_for(xp)
    h_all = xp.empty((T + 1, B, H), dtype=s.dtype)
    h_all[0] = h0
    gates = xp.empty((T, B, 3 * H), dtype=s.dtype) if keep_cache else None
    hn_all = xp.empty((T, B, H), dtype=s.dtype) if keep_cache and reset_after else None
    # reset-before: the candidate multiplies r ⊙ h_{t-1}, so only [W_hr W_hz] join the fused product
    inp = GatedInput(x, params, s.attention, kernels, h_cols=None if reset_after else 2 * H, keep=keep_cache)
    W_hn = params["W_h"][:, 2 * H:]
    for t in range(T):
        h_prev = h_all[t]
        m_t = None if s.mask is None else s.mask[t]
        gx, gh = inp.step(t, h_prev)                              # x̃_t W_x + b,  h_{t-1} W_h
        g = gates[t] if keep_cache else xp.empty_like(gx)
        hn = None if not reset_after else hn_all[t] if keep_cache else xp.empty_like(h_prev)
        kernels.gru_step(gx, gh, h_prev, m_t, params.get("b_hn"), W_hn, g, hn, h_all[t + 1])
    hs = h_all[1:]
    if not keep_cache:
        return hs, GRUCache.inference(hs[-1], activation=s.attention, reset_after=reset_after)
    return hs, GRUCache(x=x, h_all=h_all, gates=gates, hn=hn_all, responses=inp.A, mask=s.mask, params=params,
                        W_hcat=inp.W_hcat, activation=s.attention, reset_after=reset_after, final_state=hs[-1])


def gru_backward_fused(dhs, cache, dh_T=None):
    """Reproduces ``minieleatt.functional.gru_backward``, from a stacked cache (``caches.GRUCache``)."""
    xp, dhs, dh_next = check_stacked_backward(cache, "gru", dhs, dh_T=dh_T)
    kernels = kernels_for(xp)
    x, h_all, gates, mask, p = cache.x, cache.h_all, cache.gates, cache.mask, cache.params
    H, after = h_all.shape[2], cache.reset_after
    W_hn = p["W_h"][:, 2 * H:]
    grad = GatedInputGrad(x, cache.responses, p, cache.W_hcat, cache.activation, kernels, 3 * H,
                          3 * H if after else 2 * H, shared=False)
    for t in reversed(range(h_all.shape[0] - 1)):
        m_t = None if mask is None else mask[t]
        dh_prev = kernels.gru_step_backward(dhs[t], dh_next, gates[t], cache.hn[t] if after else None, h_all[t], m_t,
                                            grad.dgx(t), grad.dgh(t), W_hn)
        dh_prev += grad.step(t)                                   # undo x̃ W_x + b and h_prev [W_ha | W_h]
        dh_next = dh_prev
    h_prev_all = h_all[:-1]
    dx, grads = grad.finish(h_prev_all)
    if after:
        grads["b_hn"] = flat(grad.dGh[:, :, 2 * H:]).sum(axis=0)
    else:
        # the candidate's recurrent weights see r ⊙ h_{t-1}: one product over all steps
        dW_hn = flat(gates[:, :, :H] * h_prev_all).T @ flat(grad.dGx[:, :, 2 * H:])
        grads["W_h"] = xp.concatenate([grads["W_h"], dW_hn], axis=1)
    return dx, dh_next, order_grads(grads, p)
