"""Model answers of tutorials/exercises/gradient_checking_exercises.ipynb (for teachers).

Hand the exercise notebook out without this folder. Each function is written to be pasted
into the cell of the same name: it uses only ``np`` and ``rnn_step_backward``, which the
notebook imports in its first cell. Check them with

    from minieleatt.exercises import check
    check("gate", gate_backward)        # 'gru_step', 'lstm_step', 'masked_rnn'

Row vectors throughout: for ``y = x W`` (x (B, D), W (D, K)), ``dx = dy Wᵀ`` and ``dW = xᵀ dy``,
and a bias added to every row gets the sum over the batch.
"""

import numpy as np

from minieleatt.functional import rnn_step_backward


def gate_backward(dx_att, cache):
    """Backward of the attention gate of one step.

    Forward: z = x W_xa + h_prev W_ha + b_a;  a = σ(z);  x_att = a ⊙ x.
    dx_att: (B, D) gradient of the loss w.r.t. x_att.
    cache: GateCache with x_t (B, D), h_prev (B, H), a (B, D), W_xa (D, D), W_ha (H, D).
    Returns dx (B, D), dh_prev (B, H), grads {'W_xa': (D, D), 'W_ha': (H, D), 'b_a': (D,)}.
    """
    x, h_prev, a = cache.x_t, cache.h_prev, cache.a
    da = dx_att * x                        # x_att = a ⊙ x, through a
    dz = da * a * (1 - a)                  # a = σ(z)
    dx = dx_att * a + dz @ cache.W_xa.T    # two paths: directly, and through z
    dh_prev = dz @ cache.W_ha.T
    grads = {"W_xa": x.T @ dz, "W_ha": h_prev.T @ dz, "b_a": dz.sum(axis=0)}
    return dx, dh_prev, grads


def gru_step_backward(dh, cache):
    """Backward of one step of the EleAtt-GRU, reset-after form.

    Forward:  a = σ(x W_xa + h_prev W_ha + b_a);  x̃ = a ⊙ x
              r = σ(x̃ W_xr + h_prev W_hr + b_r);  z = σ(x̃ W_xz + h_prev W_hz + b_z)
              hn = h_prev W_hn + b_hn;  n = tanh(x̃ W_xn + b_n + r ⊙ hn)
              h = (1 - z) ⊙ n + z ⊙ h_prev
    dh: (B, H) gradient w.r.t. h.  cache: GRUStepCache (x, h_prev, a, x_att, r, z, n, hn, params).
    Returns dx (B, D), dh_prev (B, H), grads with the keys of cache.params.
    """
    p, r, z, n = cache.params, cache.r, cache.z, cache.n
    # h = (1 - z) ⊙ n + z ⊙ h_prev
    dn = dh * (1 - z)
    dz = dh * (cache.h_prev - n)
    dh_prev = dh * z
    # n = tanh(x̃ W_xn + b_n + r ⊙ hn)
    dn_pre = dn * (1 - n * n)
    dr = dn_pre * cache.hn
    dhn = dn_pre * r
    # r, z = σ(.)
    dr_pre = dr * r * (1 - r)
    dz_pre = dz * z * (1 - z)
    dG = np.concatenate([dr_pre, dz_pre, dn_pre], axis=1)        # gradient of x̃ W_x + b   (B, 3H)
    dG_h = np.concatenate([dr_pre, dz_pre, dhn], axis=1)         # gradient of h_prev W_h  (B, 3H)
    dx_att = dG @ p["W_x"].T
    dh_prev = dh_prev + dG_h @ p["W_h"].T
    # the attention gate: x̃ = a ⊙ x, a = σ(x W_xa + h_prev W_ha + b_a)
    x, a = cache.x, cache.a
    dza = dx_att * x * a * (1 - a)
    dx = dx_att * a + dza @ p["W_xa"].T
    dh_prev = dh_prev + dza @ p["W_ha"].T
    grads = {"W_xa": x.T @ dza, "W_ha": cache.h_prev.T @ dza, "b_a": dza.sum(axis=0),
             "W_x": cache.x_att.T @ dG, "W_h": cache.h_prev.T @ dG_h, "b": dG.sum(axis=0),
             "b_hn": dhn.sum(axis=0)}
    return dx, dh_prev, grads


def lstm_step_backward(dstate, cache):
    """Backward of one step of the EleAtt-LSTM.

    Forward:  a = σ(x W_xa + h_prev W_ha + b_a);  x̃ = a ⊙ x
              [i f g o] = x̃ W_x + h_prev W_h + b;  i, f, o = σ(.), g = tanh(.)
              c = f ⊙ c_prev + i ⊙ g;  h = o ⊙ tanh(c)
    dstate: the pair (dh, dc), each (B, H): the gradients w.r.t. h and c (c also feeds the next step).
    cache: LSTMStepCache (x, h_prev, c_prev, a, x_att, i, f, g, o, c, tanh_c, params).
    Returns dx (B, D), (dh_prev, dc_prev) each (B, H), grads with the keys of cache.params.
    """
    dh, dc = dstate
    p, i, f, g, o, tc = cache.params, cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    dc = dc + dh * o * (1 - tc * tc)       # h = o ⊙ tanh(c): c's second path
    do = dh * tc
    di, df, dg = dc * g, dc * cache.c_prev, dc * i
    dc_prev = dc * f
    dG = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1)
    dx_att = dG @ p["W_x"].T
    dh_prev = dG @ p["W_h"].T
    x, a = cache.x, cache.a
    dza = dx_att * x * a * (1 - a)
    dx = dx_att * a + dza @ p["W_xa"].T
    dh_prev = dh_prev + dza @ p["W_ha"].T
    grads = {"W_xa": x.T @ dza, "W_ha": cache.h_prev.T @ dza, "b_a": dza.sum(axis=0),
             "W_x": cache.x_att.T @ dG, "W_h": cache.h_prev.T @ dG, "b": dG.sum(axis=0)}
    return dx, (dh_prev, dc_prev), grads


def masked_rnn_backward(dhs, cache):
    """Backpropagation through time of forward_masked_rnn.

    Forward, per step: h_new = cell(x[t], h_{t-1});  h_t = m_t ⊙ h_new + (1 - m_t) ⊙ h_{t-1}.
    dhs: (T, B, H) gradient w.r.t. every h_t.  cache: MaskedRNNCache (steps: T step caches, mask (T, B)).
    Returns dx (T, B, D), dh0 (B, H), grads (summed over the steps).
    """
    T = dhs.shape[0]
    grads, dxs = None, [None] * T
    dh_next = np.zeros_like(dhs[0])
    for t in reversed(range(T)):
        m = cache.mask[t][:, None]
        dh = dhs[t] + dh_next                                      # every path into h_t
        dx_t, dh_prev, g = rnn_step_backward(m * dh, cache.steps[t])   # only valid steps ran the cell
        dh_next = dh_prev + (1 - m) * dh                           # a padded step passes dh_t straight on
        dxs[t] = dx_t
        grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
    return np.stack(dxs), dh_next, grads
