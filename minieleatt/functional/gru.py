"""The GRU cell, with or without the element-wise attention gate, in both reset variants.

    a_t  = σ(x_t W_xa + h_{t-1} W_ha + b_a)          (only with the gate)
    x̃_t = a_t ⊙ x_t                                   (x̃_t = x_t without it)
    r = σ(x̃_t W_xr + h_{t-1} W_hr + b_r)
    z = σ(x̃_t W_xz + h_{t-1} W_hz + b_z)
    reset_after=False (Cho et al. 2014, the paper's form):
        n = tanh(x̃_t W_xn + (r ⊙ h_{t-1}) W_hn + b_n)
    reset_after=True (cuDNN / PyTorch form, one more parameter b_hn):
        n = tanh(x̃_t W_xn + b_n + r ⊙ (h_{t-1} W_hn + b_hn))
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

Shapes: x (T, B, D); h (B, H); W_x (D, 3H) = [W_xr W_xz W_xn]; W_h (H, 3H);
b (3H,); b_hn (H,); W_xa (D, D); W_ha (H, D); b_a (D,).

``gru_forward`` / ``gru_backward`` check their arguments and run one of two
implementations of the same maths: ``_gru_forward_plain`` / ``_gru_backward_plain``,
the version to read (and the one CuPy runs), and, on NumPy arrays,
``_gru_forward_fast`` / ``_gru_backward_fast`` at the end of this file, which
store every per-step array feature-major and work in place (``fast.py`` says
why). Both return the same ``GRUCache`` values, so either backward accepts
either cache.
"""

from typing import NamedTuple

from .activations import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .fast import FastGatedInput, FastGatedInputGrad
from ..fast.kernels import kernels_for
from .sequence import (GatedInput, GatedInputGrad, carry, check_backward, check_sequence, check_state,
                       feature_major, flat, order_grads, split_by_mask, use_fast_path)


class GRUCache(NamedTuple):
    """What ``gru_backward`` needs. With ``keep_cache=False`` only ``final_state`` is set."""

    x: object            # (T, B, D) the input
    h_all: object        # (T+1, B, H) h_0 ... h_T
    gates: object        # (T, B, 3H) [r z n] after their activations
    hn: object           # (T, B, H) h_{t-1} W_hn + b_hn (reset_after only), else None
    attention: object    # (T, B, D) gate responses a_t, or None without the gate
    mask: object         # (T, B, 1) bool, or None
    params: dict
    W_hcat: object       # (H, D + 2H or 3H): [W_ha | W_hr W_hz (W_hn if reset_after)]
    kind: object         # 'sigmoid', 'softmax' or None
    reset_after: bool
    final_state: object  # (B, H) h_T


def gru_forward(x, params, h0=None, mask=None, attention="sigmoid", reset_after=False, keep_cache=True):
    """Run the GRU over a sequence.

    x: (T, B, D); params: dict (see ``param_shapes('gru', ...)``); h0: (B, H) or None (zeros);
    mask: (T, B) of 0/1 or None; attention: 'sigmoid' (True), 'softmax' or None (False);
    reset_after: the cuDNN/PyTorch variant; keep_cache: False for inference.
    Returns ``hs`` (T, B, H) and a ``GRUCache``.
    """
    s = check_sequence("gru", x, params, mask, attention, reset_after)
    h0 = check_state("h0", h0, s.B, s.H, s.dtype, s.xp)
    run = _gru_forward_fast if use_fast_path(s.xp) else _gru_forward_plain
    return run(s, x, params, h0, reset_after, keep_cache)


def _gru_forward_plain(s, x, params, h0, reset_after, keep_cache):
    """``gru_forward`` after the checks: the plain version, written to be read."""
    xp, T, B, H = s.xp, s.T, s.B, s.H
    h_all = xp.empty((T + 1, B, H), dtype=s.dtype)
    h_all[0] = h0
    gates = xp.empty((T, B, 3 * H), dtype=s.dtype) if keep_cache else None
    hn_all = xp.empty((T, B, H), dtype=s.dtype) if keep_cache and reset_after else None
    # reset-before: the candidate multiplies r ⊙ h_{t-1}, so only [W_hr W_hz] join the fused product
    inp = GatedInput(x, params, s.kind, h_cols=None if reset_after else 2 * H, keep=keep_cache)
    W_hn = params["W_h"][:, 2 * H:]
    kernels = kernels_for(xp)                                     # CuPy: the step's element-wise work fused
    for t in range(T):
        h_prev = h_all[t]
        m_t = None if s.mask is None else s.mask[t]
        gx, gh = inp.step(t, h_prev)                              # x̃_t W_x + b,  h_{t-1} W_h
        if kernels is not None:
            g = gates[t] if keep_cache else xp.empty_like(gx)
            hn = None if not reset_after else hn_all[t] if keep_cache else xp.empty_like(h_prev)
            kernels.gru_forward(gx, gh, h_prev, m_t, params.get("b_hn"), W_hn, g, hn, h_all[t + 1])
            continue
        rz = sigmoid(gx[:, : 2 * H] + gh[:, : 2 * H])
        r, z = rz[:, :H], rz[:, H:]
        if reset_after:
            hn = gh[:, 2 * H:] + params["b_hn"]
            n = tanh(gx[:, 2 * H:] + r * hn)
        else:
            n = tanh(gx[:, 2 * H:] + (r * h_prev) @ W_hn)
        h = n + z * (h_prev - n)                                  # (1 - z) ⊙ n + z ⊙ h_{t-1}
        h_all[t + 1] = carry(m_t, h, h_prev)
        if keep_cache:
            gates[t, :, : 2 * H] = rz
            gates[t, :, 2 * H:] = n
            if reset_after:
                hn_all[t] = hn
    hs = h_all[1:]
    if not keep_cache:
        return hs, GRUCache(None, None, None, None, None, None, None, None, s.kind, reset_after, hs[-1])
    cache = GRUCache(x, h_all, gates, hn_all, inp.A, s.mask, params, inp.W_hcat, s.kind, reset_after, hs[-1])
    return hs, cache


def gru_backward(dhs, cache, dh_T=None):
    """Backpropagation through time for ``gru_forward``.

    dhs: (T, B, H) gradient w.r.t. every h_t (None: zeros);
    dh_T: (B, H) optional gradient w.r.t. the final state.
    Returns ``dx`` (T, B, D), ``dh0`` (B, H) and ``grads`` (same keys and shapes as params).
    """
    xp, dhs, dh_T = check_backward(cache, GRUCache, dhs, dh_T=dh_T)
    run = _gru_backward_fast if use_fast_path(xp) else _gru_backward_plain
    return run(xp, dhs, dh_T, cache)


def _gru_backward_plain(xp, dhs, dh_T, cache):
    """``gru_backward`` after the checks: the plain version, written to be read."""
    x, h_all, gates, mask, p = cache.x, cache.h_all, cache.gates, cache.mask, cache.params
    T, H = h_all.shape[0] - 1, h_all.shape[2]
    dh_next = dh_T
    after = cache.reset_after
    W_hn = p["W_h"][:, 2 * H:]
    grad = GatedInputGrad(x, cache.attention, p, cache.W_hcat, cache.kind, 3 * H, 3 * H if after else 2 * H,
                          shared=False)
    kernels = kernels_for(xp)                                     # CuPy: the step's element-wise work fused
    for t in reversed(range(T)):
        m_t = None if mask is None else mask[t]
        if kernels is not None:
            dh_prev = kernels.gru_backward(dhs[t], dh_next, gates[t], cache.hn[t] if after else None, h_all[t], m_t,
                                           grad.dgx(t), grad.dgh(t), W_hn)
            dh_prev += grad.step(t)
            dh_next = dh_prev
            continue
        dh, dh_carry = split_by_mask(dhs[t] + dh_next, m_t)
        h_prev = h_all[t]
        r, z, n = gates[t, :, :H], gates[t, :, H: 2 * H], gates[t, :, 2 * H:]
        dgx, dgh = grad.dgx(t), grad.dgh(t)
        dz = dh * (h_prev - n)                                    # undo h = (1-z) n + z h_prev
        dn = dh * (1 - z)
        dh_prev = dh * z
        dgx[:, 2 * H:] = dn * tanh_grad_from_output(n)            # undo n = tanh(.)
        dn_pre = dgx[:, 2 * H:]
        if after:
            dgh[:, 2 * H:] = dn_pre * r                           # undo r ⊙ (h_prev W_hn + b_hn)
            dr = dn_pre * cache.hn[t]
        else:
            d_rh = dn_pre @ W_hn.T                                # undo (r ⊙ h_prev) W_hn
            dr = d_rh * h_prev
            dh_prev += d_rh * r
        dgx[:, :H] = dr * sigmoid_grad_from_output(r)             # undo r = σ(.)
        dgx[:, H: 2 * H] = dz * sigmoid_grad_from_output(z)       # undo z = σ(.)
        dgh[:, : 2 * H] = dgx[:, : 2 * H]
        dh_prev += grad.step(t)                                   # undo x̃ W_x + b and h_prev [W_ha | W_h]
        if dh_carry is not None:
            dh_prev += dh_carry                                   # undo the carry of a padded step
        dh_next = dh_prev
    h_prev_all = h_all[:-1]
    dx, grads = grad.finish(h_prev_all)
    dN = flat(grad.dGx[:, :, 2 * H:])
    if after:
        grads["b_hn"] = flat(grad.dGh[:, :, 2 * H:]).sum(axis=0)
    else:
        # the candidate's recurrent weights see r ⊙ h_{t-1}: one product over all steps
        dW_hn = flat(gates[:, :, :H] * h_prev_all).T @ dN
        grads["W_h"] = xp.concatenate([grads["W_h"], dW_hn], axis=1)
    return dx, dh_next, order_grads(grads, p)


def gru_step_forward(x_t, h_prev, params, attention="sigmoid", reset_after=False):
    """One step: ``gru_forward`` on a sequence of length 1.

    x_t: (B, D); h_prev: (B, H). Returns ``h_t`` (B, H) and the cache.
    """
    hs, cache = gru_forward(x_t[None], params, h_prev, attention=attention, reset_after=reset_after)
    return hs[0], cache


def gru_step_backward(dh_t, cache):
    """Backward of one step. Returns ``dx_t`` (B, D), ``dh_prev`` (B, H) and ``grads``."""
    dx, dh_prev, grads = gru_backward(dh_t[None], cache)
    return dx[0], dh_prev, grads


# ----------------------------------------------------------------------------- the fast path (NumPy)
#
# The same maths as ``_gru_forward_plain`` / ``_gru_backward_plain``, organised for speed on the
# CPU: feature-major, in place, sigmoids from halved weight rows, weight gradients accumulated in
# the loop. ``fast.py`` says why and holds the input side shared with the other cells.

def _gru_forward_fast(s, x, params, h0, reset_after, keep_cache):
    """``gru_forward`` after the checks, on NumPy (see ``fast.py``)."""
    xp, T, B, H, dt = s.xp, s.T, s.B, s.H, s.dtype
    inp = FastGatedInput(s, x, params, 3 * H if reset_after else 2 * H, [slice(0, 2 * H)], keep_cache, keep_cache)
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
        return hs, GRUCache(None, None, None, None, None, None, None, None, s.kind, reset_after, hs[-1])
    view = lambda a: None if a is None else a.transpose(0, 2, 1)   # noqa: E731  (T, K, B) -> (T, B, K)
    return hs, GRUCache(view(inp.xT), view(hT), view(inp.GT), view(hnT), inp.attention(), s.mask, params,
                        inp.W_hcat, s.kind, reset_after, hs[-1])


def _gru_backward_fast(xp, dhs, dh_T, cache):
    """``gru_backward`` after the checks, on NumPy (see ``fast.py``)."""
    p, after = cache.params, cache.reset_after
    hT, GT, dhsT = feature_major(xp, cache.h_all), feature_major(xp, cache.gates), feature_major(xp, dhs)
    hnT = feature_major(xp, cache.hn) if after else None
    pad = None if cache.mask is None else ~cache.mask.transpose(0, 2, 1)
    T, H, B = hT.shape[0] - 1, hT.shape[1], hT.shape[2]
    dt = hT.dtype
    # reset-before, the h-part's gradient [dr dz] is the start of [dr dz dn]: one buffer
    grad = FastGatedInputGrad(xp, cache, 3 * H, 3 * H if after else 2 * H, shared=not after)
    dgx, dgh = grad.dgx, grad.dgh
    drz, dr, dz, dn = dgx[: 2 * H], dgx[:H], dgx[H: 2 * H], dgx[2 * H:]
    W_hn = p["W_h"][:, 2 * H:]
    if not after:
        dW_hn, dW_hn_t = xp.zeros((H, H), dtype=dt), xp.empty((H, H), dtype=dt)
    dh_next = dh_T.T.copy()                                   # (H, B); becomes each step's dh_prev buffer
    dh, t1, t2 = (xp.empty((H, B), dtype=dt) for _ in range(3))
    one_minus_rz = xp.empty((2 * H, B), dtype=dt)
    one_minus_z = one_minus_rz[H:]
    carry = xp.empty((H, B), dtype=dt) if pad is not None else None
    for t in reversed(range(T)):
        xp.add(dhsT[t], dh_next, out=dh)
        if pad is not None:
            xp.multiply(dh, pad[t], out=carry)                # what flows past a padded step unchanged
            dh -= carry
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
            dh_prev += carry                                  # undo the carry of a padded step
        dh_next = dh_prev
    dx, grads, dgh_sum = grad.finish()
    if after:
        grads["b_hn"] = dgh_sum[2 * H:]
    else:
        grads["W_h"] = xp.concatenate([grads["W_h"], dW_hn], axis=1)
    return dx, xp.ascontiguousarray(dh_next.T), order_grads(grads, p)
