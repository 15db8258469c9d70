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
"""

from typing import NamedTuple

from ..backend import get_array_module
from .activations import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .sequence import (GatedInput, GatedInputGrad, carry, check_grad, check_sequence, check_state, flat,
                       order_grads, require_cache, split_by_mask)


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
    xp, T, B, H = s.xp, s.T, s.B, s.H
    h_all = xp.empty((T + 1, B, H), dtype=s.dtype)
    h_all[0] = check_state("h0", h0, B, H, s.dtype, xp)
    gates = xp.empty((T, B, 3 * H), dtype=s.dtype) if keep_cache else None
    hn_all = xp.empty((T, B, H), dtype=s.dtype) if keep_cache and reset_after else None
    # reset-before: the candidate multiplies r ⊙ h_{t-1}, so only [W_hr W_hz] join the fused product
    inp = GatedInput(x, params, s.kind, h_cols=None if reset_after else 2 * H, keep=keep_cache)
    W_hn = params["W_h"][:, 2 * H:]
    for t in range(T):
        h_prev = h_all[t]
        gx, gh = inp.step(t, h_prev)                              # x̃_t W_x + b,  h_{t-1} W_h
        rz = sigmoid(gx[:, : 2 * H] + gh[:, : 2 * H])
        r, z = rz[:, :H], rz[:, H:]
        if reset_after:
            hn = gh[:, 2 * H:] + params["b_hn"]
            n = tanh(gx[:, 2 * H:] + r * hn)
        else:
            n = tanh(gx[:, 2 * H:] + (r * h_prev) @ W_hn)
        h = n + z * (h_prev - n)                                  # (1 - z) ⊙ n + z ⊙ h_{t-1}
        h_all[t + 1] = carry(None if s.mask is None else s.mask[t], h, h_prev)
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
    require_cache(cache, GRUCache)
    x, h_all, gates, mask, p = cache.x, cache.h_all, cache.gates, cache.mask, cache.params
    xp = get_array_module(x)
    T, B, H = h_all.shape[0] - 1, h_all.shape[1], h_all.shape[2]
    dhs = check_grad("dhs", dhs, (T, B, H), x.dtype, xp)
    dh_next = check_grad("dh_T", dh_T, (B, H), x.dtype, xp)
    after = cache.reset_after
    W_hn = p["W_h"][:, 2 * H:]
    grad = GatedInputGrad(x, cache.attention, p, cache.W_hcat, cache.kind, 3 * H, 3 * H if after else 2 * H,
                          shared=False)
    for t in reversed(range(T)):
        dh, dh_carry = split_by_mask(dhs[t] + dh_next, None if mask is None else mask[t])
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
