"""The GRU cell, with or without the element-wise attention gate, in both reset variants: the reference.

    a_t = σ(x_t W_xa + h_{t-1} W_ha + b_a)           (only with the gate, gate.py)
    x̃_t = a_t ⊙ x_t                                  (x̃_t = x_t without it)
    r = σ(x̃_t W_xr + h_{t-1} W_hr + b_r)
    z = σ(x̃_t W_xz + h_{t-1} W_hz + b_z)
    reset_after=False (Cho et al. 2014, the paper's form):
        n = tanh(x̃_t W_xn + (r ⊙ h_{t-1}) W_hn + b_n)
    reset_after=True (cuDNN / PyTorch form, one more parameter b_hn):
        n = tanh(x̃_t W_xn + b_n + r ⊙ (h_{t-1} W_hn + b_hn))
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

Shapes: x_t (B, D); h (B, H); W_x (D, 3H) = [W_xr W_xz W_xn]; W_h (H, 3H) = [W_hr W_hz W_hn];
b (3H,) = [b_r b_z b_n]; b_hn (H,); W_xa (D, D); W_ha (H, D); b_a (D,).

``gru_step_forward`` / ``gru_step_backward`` are one step; ``gru_forward`` / ``gru_backward``
run them over a sequence with the shared time loop (``scan.py``).
"""

from typing import NamedTuple

from ..backend import get_array_module
from .activations import sigmoid, sigmoid_grad_from_output, tanh, tanh_grad_from_output
from .checks import check_backward, check_sequence, check_state, check_step, require_steps, resolve_attention
from .gate import gate_step_backward, gate_step_forward
from .scan import scan_backward, scan_forward


class GRUStepCache(NamedTuple):
    """What ``gru_step_backward`` needs from ``gru_step_forward``."""

    x_att: object        # (B, D) the gated input x̃_t (x_t without the gate)
    h_prev: object       # (B, H) h_{t-1}
    r: object            # (B, H) reset gate
    z: object            # (B, H) update gate
    n: object            # (B, H) candidate
    hn: object           # (B, H) h_{t-1} W_hn + b_hn (reset_after), else None
    gate: object         # the gate's GateCache, or None without the gate
    params: dict         # the parameters (not copied)
    reset_after: bool


def gru_step_forward(x_t, h_prev, params, attention="sigmoid", reset_after=False):
    """One step of the GRU.

    x_t: (B, D); h_prev: (B, H); params: dict (see ``param_shapes('gru', ...)``);
    attention: 'sigmoid' (True), 'softmax' or None (False); reset_after: the cuDNN/PyTorch variant.
    Returns ``h`` (B, H), the new hidden state, and a ``GRUStepCache``.
    """
    activation = resolve_attention(attention)
    check_step("gru", x_t, h_prev, params, activation, reset_after)
    H = h_prev.shape[1]
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    W_hrz, W_hn = W_h[:, : 2 * H], W_h[:, 2 * H:]
    if activation:
        x_att, gate = gate_step_forward(x_t, h_prev, params, activation)   # x̃_t = a_t ⊙ x_t
    else:
        x_att, gate = x_t, None
    gx = x_att @ W_x + b                                    # (B, 3H): x̃ W_x + b for r, z, n
    rz = sigmoid(gx[:, : 2 * H] + h_prev @ W_hrz)           # r and z side by side
    r, z = rz[:, :H], rz[:, H:]
    if reset_after:
        hn = h_prev @ W_hn + params["b_hn"]
        n = tanh(gx[:, 2 * H:] + r * hn)
    else:
        hn = None
        n = tanh(gx[:, 2 * H:] + (r * h_prev) @ W_hn)
    h = (1 - z) * n + z * h_prev
    cache = GRUStepCache(x_att=x_att, h_prev=h_prev, r=r, z=z, n=n, hn=hn, gate=gate, params=params,
                         reset_after=reset_after)
    return h, cache


def gru_step_backward(dh, cache):
    """Backward of ``gru_step_forward``.

    dh: (B, H), the gradient of the loss w.r.t. h_t.
    Returns ``dx_t`` (B, D), ``dh_prev`` (B, H) and ``grads`` (the keys and shapes of params).
    """
    xp = get_array_module(dh)
    x_att, h_prev, r, z, n, p = cache.x_att, cache.h_prev, cache.r, cache.z, cache.n, cache.params
    H = h_prev.shape[1]
    W_hrz, W_hn = p["W_h"][:, : 2 * H], p["W_h"][:, 2 * H:]
    dn = dh * (1 - z)                                       # undo h = (1 - z) ⊙ n + z ⊙ h_prev
    dz = dh * (h_prev - n)
    dh_prev = dh * z
    dn_pre = dn * tanh_grad_from_output(n)                  # undo n = tanh(.)
    if cache.reset_after:
        dhn = dn_pre * r                                    # undo n = tanh(... + r ⊙ hn)
        dr = dn_pre * cache.hn
        dh_prev = dh_prev + dhn @ W_hn.T                    # undo hn = h_prev W_hn + b_hn
        dW_hn = h_prev.T @ dhn
        db_hn = dhn.sum(axis=0)
    else:
        drh = dn_pre @ W_hn.T                               # undo n = tanh(... + (r ⊙ h_prev) W_hn)
        dW_hn = (r * h_prev).T @ dn_pre
        dr = drh * h_prev                                   # undo r ⊙ h_prev
        dh_prev = dh_prev + drh * r
    drz_pre = xp.concatenate([dr * sigmoid_grad_from_output(r),      # undo r = σ(.)
                              dz * sigmoid_grad_from_output(z)],     # undo z = σ(.)
                             axis=1)
    dh_prev = dh_prev + drz_pre @ W_hrz.T                   # undo rz = σ(... + h_prev [W_hr W_hz])
    dW_hrz = h_prev.T @ drz_pre
    dgx = xp.concatenate([drz_pre, dn_pre], axis=1)         # (B, 3H)
    dx_att = dgx @ p["W_x"].T                               # undo gx = x̃ W_x + b
    dW_x = x_att.T @ dgx
    db = dgx.sum(axis=0)
    grads = {}
    if cache.gate is not None:
        dx_t, dh_gate, grads = gate_step_backward(dx_att, cache.gate)     # undo x̃ = a_t ⊙ x_t
        dh_prev = dh_prev + dh_gate
    else:
        dx_t = dx_att
    grads.update(W_x=dW_x, W_h=xp.concatenate([dW_hrz, dW_hn], axis=1), b=db)
    if cache.reset_after:
        grads["b_hn"] = db_hn
    return dx_t, dh_prev, grads


def gru_forward(x, params, h0=None, mask=None, attention="sigmoid", reset_after=False, keep_cache=True):
    """Run the GRU over a sequence.

    x: (T, B, D); params: dict (see ``param_shapes('gru', ...)``); h0: (B, H) or None (zeros);
    mask: (T, B) of 0/1 or None; attention: 'sigmoid' (True), 'softmax' or None (False);
    reset_after: the cuDNN/PyTorch variant; keep_cache: False for inference.
    Returns ``hs`` (T, B, H) and a ``SequenceCache`` (``cache.final_state`` is h_T).
    """
    s = check_sequence("gru", x, params, mask, attention, reset_after)
    h0 = check_state("h0", h0, s.B, s.H, s.dtype, s.xp)

    def step(x_t, h_prev):
        return gru_step_forward(x_t, h_prev, params, s.attention, reset_after)

    return scan_forward(step, x, h0, s.mask, keep_cache)


def gru_backward(dhs, cache, dh_T=None):
    """Backpropagation through time for ``gru_forward``.

    dhs: (T, B, H) gradient w.r.t. every h_t (None: zeros);
    dh_T: (B, H) optional gradient w.r.t. the final state.
    Returns ``dx`` (T, B, D), ``dh0`` (B, H) and ``grads`` (same keys and shapes as params).
    """
    require_steps(cache, GRUStepCache, "gru")
    h_T = cache.final_state
    xp = get_array_module(h_T)
    dhs, dh_T = check_backward(dhs, len(cache.steps), *h_T.shape, h_T.dtype, xp, dh_T=dh_T)
    return scan_backward(gru_step_backward, dhs, cache, dh_T)
