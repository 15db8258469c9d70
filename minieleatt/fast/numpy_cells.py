"""The cells' NumPy fast path: the reference's sequence functions, organised for speed on the CPU.

Each public function here computes what the reference function it names computes
(``minieleatt.functional``), to rounding, on every configuration (the tests in
``tests/fast/`` prove it): ``rnn_forward_fast`` is ``functional.rnn_forward`` and so on.
``numpy_input.py`` says how they are organised and why. They run on NumPy arrays; their
caches are the stacked caches of ``caches.py``, which their backward passes (and the fused
path's) accept.
"""

from ..functional.checks import check_sequence, check_state, split_pair
from .caches import GRUCache, LSTMCache, RNNCache, check_stacked_backward, order_grads
from .numpy_input import FeatureMajorInput, FeatureMajorInputGrad, feature_major


def _time_major(a):
    """(T, K, B) feature-major storage seen as the (T, B, K) of the contract (a view), or None."""
    return None if a is None else a.transpose(0, 2, 1)


def _require_numpy(xp):
    if getattr(xp, "__name__", "") != "numpy":
        raise ValueError("impl='fast' is the NumPy (CPU) fast path; for CuPy arrays use impl='fused' "
                         "or impl='reference' (impl='auto' chooses)")


# ----------------------------------------------------------------------------- RNN

def rnn_forward_fast(x, params, h0=None, mask=None, attention="sigmoid", keep_cache=True):
    """Reproduces ``minieleatt.functional.rnn_forward`` (same arguments, same results); NumPy only."""
    s = check_sequence("rnn", x, params, mask, attention)
    _require_numpy(s.xp)
    return _rnn_forward(s, x, params, check_state("h0", h0, s.B, s.H, s.dtype, s.xp), keep_cache)


def rnn_backward_fast(dhs, cache, dh_T=None):
    """Reproduces ``minieleatt.functional.rnn_backward``, from the cache of ``rnn_forward_fast``."""
    xp, dhs, dh_T = _check_backward(cache, "rnn", dhs, dh_T=dh_T)
    return _rnn_backward(xp, dhs, dh_T, cache)


def _rnn_forward(s, x, params, h0, keep_cache):
    xp, T, B, H = s.xp, s.T, s.B, s.H
    inp = FeatureMajorInput(s, x, params, H, [], keep_cache, store_g=False)
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
        return hs, RNNCache.inference(hs[-1], activation=s.attention)
    return hs, RNNCache(x=_time_major(inp.xT), h_all=_time_major(hT), responses=inp.responses(), mask=s.mask,
                        params=params, W_hcat=inp.W_hcat, activation=s.attention, final_state=hs[-1])


def _rnn_backward(xp, dhs, dh_T, cache):
    hT, dhsT = feature_major(xp, cache.h_all), feature_major(xp, dhs)
    pad = None if cache.mask is None else ~cache.mask.transpose(0, 2, 1)
    T, H, B = hT.shape[0] - 1, hT.shape[1], hT.shape[2]
    grad = FeatureMajorInputGrad(xp, cache, H, H, shared=True)
    dh_next = dh_T.T.copy()                                   # (H, B); becomes each step's dh_prev buffer
    dh, t1 = xp.empty((H, B), dtype=hT.dtype), xp.empty((H, B), dtype=hT.dtype)
    passed = xp.empty((H, B), dtype=hT.dtype) if pad is not None else None
    for t in reversed(range(T)):
        xp.add(dhsT[t], dh_next, out=dh)
        if pad is not None:
            xp.multiply(dh, pad[t], out=passed)               # what flows past a padded step unchanged
            dh -= passed
        h = hT[t + 1]
        xp.multiply(h, h, out=t1)
        xp.subtract(1, t1, out=t1)
        xp.multiply(dh, t1, out=grad.dgx)                     # undo h = tanh(pre)
        dh_prev = dh_next                                     # free again: reuse it
        grad.step(t, dh_prev, add=False)                      # undo pre = x̃ W_x + h_prev W_h + b
        if pad is not None:
            dh_prev += passed                                 # undo the carry of a padded step
        dh_next = dh_prev
    dx, grads, _ = grad.finish()
    return dx, xp.ascontiguousarray(dh_next.T), order_grads(grads, cache.params)


# ----------------------------------------------------------------------------- LSTM

def lstm_forward_fast(x, params, state=None, mask=None, attention="sigmoid", keep_cache=True):
    """Reproduces ``minieleatt.functional.lstm_forward`` (same arguments, same results); NumPy only."""
    s = check_sequence("lstm", x, params, mask, attention)
    _require_numpy(s.xp)
    h0, c0 = split_pair(state, "state")
    return _lstm_forward(s, x, params, check_state("h0", h0, s.B, s.H, s.dtype, s.xp),
                         check_state("c0", c0, s.B, s.H, s.dtype, s.xp), keep_cache)


def lstm_backward_fast(dhs, cache, dstate_T=None):
    """Reproduces ``minieleatt.functional.lstm_backward``, from the cache of ``lstm_forward_fast``."""
    dh_T, dc_T = split_pair(dstate_T, "dstate_T")
    xp, dhs, dh_T, dc_T = _check_backward(cache, "lstm", dhs, dh_T=dh_T, dc_T=dc_T)
    return _lstm_backward(xp, dhs, dh_T, dc_T, cache)


def _lstm_forward(s, x, params, h0, c0, keep_cache):
    xp, T, B, H, dt = s.xp, s.T, s.B, s.H, s.dtype
    inp = FeatureMajorInput(s, x, params, 4 * H, [slice(0, 2 * H), slice(3 * H, 4 * H)], keep_cache, keep_cache)
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
        return hs, LSTMCache.inference(final, activation=s.attention)
    return hs, LSTMCache(x=_time_major(inp.xT), h_all=_time_major(hT), c_all=_time_major(cT),
                         gates=_time_major(inp.GT), responses=inp.responses(), mask=s.mask, params=params,
                         W_hcat=inp.W_hcat, activation=s.attention, final_state=final)


def _lstm_backward(xp, dhs, dh_T, dc_T, cache):
    hT, cT, GT = feature_major(xp, cache.h_all), feature_major(xp, cache.c_all), feature_major(xp, cache.gates)
    dhsT = feature_major(xp, dhs)
    pad = None if cache.mask is None else ~cache.mask.transpose(0, 2, 1)
    T, H, B = hT.shape[0] - 1, hT.shape[1], hT.shape[2]
    dt = hT.dtype
    grad = FeatureMajorInputGrad(xp, cache, 4 * H, 4 * H, shared=True)
    dgx = grad.dgx
    dif, di, df, dgg, do = dgx[: 2 * H], dgx[:H], dgx[H: 2 * H], dgx[2 * H: 3 * H], dgx[3 * H:]
    dh_next, dc = dh_T.T.copy(), dc_T.T.copy()                # (H, B), ours to overwrite
    dh, dc_other, tc, t1 = (xp.empty((H, B), dtype=dt) for _ in range(4))
    t2 = xp.empty((2 * H, B), dtype=dt)
    if pad is not None:
        passed_h, passed_c = xp.empty((H, B), dtype=dt), xp.empty((H, B), dtype=dt)
    for t in reversed(range(T)):
        xp.add(dhsT[t], dh_next, out=dh)
        if pad is not None:
            xp.multiply(dh, pad[t], out=passed_h)              # what flows past a padded step unchanged
            dh -= passed_h
            xp.multiply(dc, pad[t], out=passed_c)
            dc -= passed_c
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
            dh_prev += passed_h                                # undo the carry of a padded step
            dc_prev += passed_c
        dh_next, dc_other, dc = dh_prev, dc, dc_prev
    dx, grads, _ = grad.finish()
    return dx, (xp.ascontiguousarray(dh_next.T), xp.ascontiguousarray(dc.T)), order_grads(grads, cache.params)


# ----------------------------------------------------------------------------- GRU

def gru_forward_fast(x, params, h0=None, mask=None, attention="sigmoid", reset_after=False, keep_cache=True):
    """Reproduces ``minieleatt.functional.gru_forward`` (same arguments, same results); NumPy only."""
    s = check_sequence("gru", x, params, mask, attention, reset_after)
    _require_numpy(s.xp)
    return _gru_forward(s, x, params, check_state("h0", h0, s.B, s.H, s.dtype, s.xp), reset_after, keep_cache)


def gru_backward_fast(dhs, cache, dh_T=None):
    """Reproduces ``minieleatt.functional.gru_backward``, from the cache of ``gru_forward_fast``."""
    xp, dhs, dh_T = _check_backward(cache, "gru", dhs, dh_T=dh_T)
    return _gru_backward(xp, dhs, dh_T, cache)


def _gru_forward(s, x, params, h0, reset_after, keep_cache):
    xp, T, B, H, dt = s.xp, s.T, s.B, s.H, s.dtype
    inp = FeatureMajorInput(s, x, params, 3 * H if reset_after else 2 * H, [slice(0, 2 * H)], keep_cache, keep_cache)
    W_hn_T = xp.ascontiguousarray(params["W_h"][:, 2 * H:].T)
    hT = xp.empty((T + 1, H, B), dtype=dt)                    # h_0 ... h_T, feature-major
    hT[0] = h0.T
    hnT = xp.empty((T, H, B), dtype=dt) if keep_cache and reset_after else None
    pad = None if s.mask is None else ~s.mask.transpose(0, 2, 1)   # (T, 1, B), True on padded steps
    tmp, rh = xp.empty((H, B), dtype=dt), xp.empty((H, B), dtype=dt)
    for t in range(T):
        h_prev = hT[t]
        g, hw = inp.step(t, h_prev)                           # x̃_t W_x + b,  h_{t-1} W_h  (r, z rows halved)
        rz = g[: 2 * H]
        rz += hw[: 2 * H]
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5                                             # [r z]
        r, z, n = g[:H], g[H: 2 * H], g[2 * H:]
        if reset_after:
            hn = hnT[t] if keep_cache else tmp
            xp.add(hw[2 * H:], params["b_hn"][:, None], out=hn)
            xp.multiply(r, hn, out=rh)
            n += rh
        else:
            xp.multiply(r, h_prev, out=rh)
            xp.matmul(W_hn_T, rh, out=tmp)
            n += tmp
        xp.tanh(n, out=n)                                     # n
        h = hT[t + 1]
        xp.subtract(h_prev, n, out=h)
        h *= z
        h += n                                                # (1 - z) ⊙ n + z ⊙ h_{t-1}
        if pad is not None:
            xp.copyto(h, h_prev, where=pad[t])                # padded step: carry the state over
    hs = hT[1:].transpose(0, 2, 1)
    if not keep_cache:
        return hs, GRUCache.inference(hs[-1], activation=s.attention, reset_after=reset_after)
    return hs, GRUCache(x=_time_major(inp.xT), h_all=_time_major(hT), gates=_time_major(inp.GT),
                        hn=_time_major(hnT), responses=inp.responses(), mask=s.mask, params=params,
                        W_hcat=inp.W_hcat, activation=s.attention, reset_after=reset_after, final_state=hs[-1])


def _gru_backward(xp, dhs, dh_T, cache):
    p, after = cache.params, cache.reset_after
    hT, GT, dhsT = feature_major(xp, cache.h_all), feature_major(xp, cache.gates), feature_major(xp, dhs)
    hnT = feature_major(xp, cache.hn) if after else None
    pad = None if cache.mask is None else ~cache.mask.transpose(0, 2, 1)
    T, H, B = hT.shape[0] - 1, hT.shape[1], hT.shape[2]
    dt = hT.dtype
    # reset-before, the h-part's gradient [dr dz] is the start of [dr dz dn]: one buffer
    grad = FeatureMajorInputGrad(xp, cache, 3 * H, 3 * H if after else 2 * H, shared=not after)
    dgx, dgh = grad.dgx, grad.dgh
    drz, dr, dz, dn = dgx[: 2 * H], dgx[:H], dgx[H: 2 * H], dgx[2 * H:]
    W_hn = p["W_h"][:, 2 * H:]
    if not after:
        dW_hn, dW_hn_t = xp.zeros((H, H), dtype=dt), xp.empty((H, H), dtype=dt)
    dh_next = dh_T.T.copy()                                   # (H, B); becomes each step's dh_prev buffer
    dh, t1, t2 = (xp.empty((H, B), dtype=dt) for _ in range(3))
    one_minus_rz = xp.empty((2 * H, B), dtype=dt)
    one_minus_z = one_minus_rz[H:]
    passed = xp.empty((H, B), dtype=dt) if pad is not None else None
    for t in reversed(range(T)):
        xp.add(dhsT[t], dh_next, out=dh)
        if pad is not None:
            xp.multiply(dh, pad[t], out=passed)               # what flows past a padded step unchanged
            dh -= passed
        h_prev, g = hT[t], GT[t]
        rz, r, z, n = g[: 2 * H], g[:H], g[H: 2 * H], g[2 * H:]
        dh_prev = dh_next                                     # dh_next is free again: reuse it
        xp.subtract(1, rz, out=one_minus_rz)
        xp.multiply(n, n, out=t1)
        xp.subtract(1, t1, out=t1)
        xp.multiply(dh, one_minus_z, out=dn)
        dn *= t1                                              # undo h = (1-z) n + ..., n = tanh(.)
        xp.subtract(h_prev, n, out=dz)
        dz *= dh                                              # undo h = ... + z (h_prev - n)  (before σ')
        xp.multiply(dh, z, out=dh_prev)                       # undo h = ... + z ⊙ h_prev
        if after:
            xp.multiply(dn, r, out=dgh[2 * H:])               # undo r ⊙ (h_prev W_hn + b_hn)
            xp.multiply(dn, hnT[t], out=dr)                   # (before σ')
        else:
            xp.matmul(W_hn, dn, out=t1)                       # undo (r ⊙ h_prev) W_hn
            xp.multiply(t1, h_prev, out=dr)                   # (before σ')
            xp.multiply(t1, r, out=t2)
            dh_prev += t2
            xp.multiply(r, h_prev, out=t2)
            xp.matmul(t2, dn.T, out=dW_hn_t)
            dW_hn += dW_hn_t
        drz *= rz
        drz *= one_minus_rz                                   # undo r = σ(.), z = σ(.)
        if after:
            dgh[: 2 * H] = drz
        grad.step(t, dh_prev)                                 # undo x̃ W_x + b and h_prev [W_ha | W_h]
        if pad is not None:
            dh_prev += passed                                 # undo the carry of a padded step
        dh_next = dh_prev
    dx, grads, dgh_sum = grad.finish()
    if after:
        grads["b_hn"] = dgh_sum[2 * H:]
    else:
        grads["W_h"] = xp.concatenate([grads["W_h"], dW_hn], axis=1)
    return dx, xp.ascontiguousarray(dh_next.T), order_grads(grads, p)



def _check_backward(cache, cell, dhs, **final_grads):
    """``check_stacked_backward``, on NumPy only."""
    checked = check_stacked_backward(cache, cell, dhs, **final_grads)
    _require_numpy(checked[0])
    return checked
