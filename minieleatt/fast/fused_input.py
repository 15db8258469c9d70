"""The input side of the cells' fused (CuPy) path: the gated input with its products hoisted and fused.

Forward, per step, ``GatedInput`` gives the two halves of a cell's pre-activations,
``gx_t = x̃_t W_x + b`` and ``gh_t = h_{t-1} W_h``, with ``x̃_t = a_t ⊙ x_t`` when the gate
is on. Every product that does not depend on the previous step is hoisted out of the time
loop (``x_t W_xa + b_a`` for all steps at once), and every product with ``h_{t-1}`` of one
step (the gate's ``W_ha`` and the cell's ``W_h``) is one matrix product with the fused
matrix ``[W_ha | W_h]``: on the GPU each product is a kernel launch, so fewer, larger
products are faster. The sigmoid gate's element-wise work is one fused kernel
(``kernels.py``). Backward, ``GatedInputGrad`` takes the gradients of ``gx_t`` and ``gh_t``,
returns the part of ``dh_{t-1}`` that flows through them, and after the loop forms every
weight gradient as one large product over all steps.

These reproduce the gate and the products of the reference's step functions
(``minieleatt.functional.gate.gate_step_forward`` and the cells' products).
"""

from ..backend import get_array_module
from ..functional.activations import softmax, softmax_backward


def flat(a):
    """(T, B, K) -> (T*B, K), a view when possible."""
    return a.reshape(-1, a.shape[-1])


class GatedInput:
    """Forward of a cell's input side (see the module docstring).

    x: (T, B, D); params: the cell's dict; activation: None, 'sigmoid' or 'softmax'; kernels: kernels_for(xp);
    h_cols: how many columns of ``W_h`` take part in the fused product with
    ``h_{t-1}`` (all of them, except for the reset-before GRU whose candidate
    multiplies ``r ⊙ h_{t-1}``); keep: store the gate responses for backward.
    """

    def __init__(self, x, params, activation, kernels, h_cols=None, keep=True):
        xp = get_array_module(x)
        T, B, D = x.shape
        self.xp, self.x, self.params, self.activation, self.D = xp, x, params, activation, D
        self.kernels = kernels
        W_h = params["W_h"] if h_cols is None else params["W_h"][:, :h_cols]
        if activation is None:
            self.W_hcat = W_h
            # x_t W_x + b for all steps: one product before the loop
            self.x_proj = (flat(x) @ params["W_x"] + params["b"]).reshape(T, B, -1)
            self.A = None
        else:
            # [W_ha | W_h]: the products with h_{t-1} of one step in one matmul
            self.W_hcat = xp.concatenate([params["W_ha"], W_h], axis=1)
            # x_t W_xa + b_a for all steps: the input half of the gate, one product before the loop
            self.x_proj = (flat(x) @ params["W_xa"] + params["b_a"]).reshape(T, B, D)
            self.A = xp.empty((T, B, D), dtype=x.dtype) if keep else None

    def step(self, t, h_prev):
        """Return ``gx_t = x̃_t W_x + b`` (B, G*H) and ``gh_t = h_{t-1} W_h`` (B, h_cols)."""
        hW = h_prev @ self.W_hcat                             # every product with h_{t-1}
        if self.activation is None:
            return self.x_proj[t], hW
        D = self.D
        if self.activation == "sigmoid":                      # the gate in one fused kernel
            x_att = self.xp.empty_like(self.x[t])
            a = self.A[t] if self.A is not None else self.xp.empty_like(x_att)
            self.kernels.gate_step(self.x_proj[t], hW[:, :D], self.x[t], a, x_att)
        else:                                                 # the softmax gate: a reduction, no kernel
            a = softmax(self.x_proj[t] + hW[:, :D], axis=-1)
            x_att = a * self.x[t]
            if self.A is not None:
                self.A[t] = a
        return x_att @ self.params["W_x"] + self.params["b"], hW[:, D:]


class GatedInputGrad:
    """Backward of ``GatedInput``.

    Per step the cell writes the gradients of ``gx_t`` and ``gh_t`` into the
    views ``dgx(t)`` and ``dgh(t)`` and calls ``step(t)``, which returns the part
    of ``dh_{t-1}`` that flows through them (the gate's ``W_ha`` included).
    ``finish`` then forms ``dx`` and every weight gradient with one product over
    all steps each. ``shared=True`` when ``gx_t`` and ``gh_t`` are summed into one
    pre-activation (RNN, LSTM): then their gradients are one buffer.
    """

    def __init__(self, x, A, params, W_hcat, activation, kernels, gx_cols, gh_cols, shared):
        xp = get_array_module(x)
        T, B, D = x.shape
        self.x, self.A, self.params, self.W_hcat, self.activation, self.D = x, A, params, W_hcat, activation, D
        self.kernels = kernels
        lead = 0 if activation is None else D
        # [dz_a | dgh] side by side, so that one product gives dh_{t-1} and, after the loop, [dW_ha | dW_h]
        self.dhcat = xp.empty((T, B, lead + gh_cols), dtype=x.dtype)
        self.dGh = self.dhcat[:, :, lead:]
        self.dGx = self.dGh if shared else xp.empty((T, B, gx_cols), dtype=x.dtype)
        self.dX = None if activation is None else xp.empty((T, B, D), dtype=x.dtype)

    def dgx(self, t):
        return self.dGx[t]

    def dgh(self, t):
        return self.dGh[t]

    def step(self, t):
        """After ``dgx(t)`` and ``dgh(t)`` are written: return the gradient they send to ``h_{t-1}``."""
        if self.activation is not None:
            dx_att = self.dGx[t] @ self.params["W_x"].T     # undo gx = x̃ W_x + b
            x_t, a = self.x[t], self.A[t]
            if self.activation == "sigmoid":                  # the gate in one fused kernel
                self.kernels.gate_step_backward(dx_att, x_t, a, self.dhcat[t, :, : self.D], self.dX[t])
            else:
                self.dhcat[t, :, : self.D] = softmax_backward(dx_att * x_t, a, axis=-1)   # undo a = softmax(z_a)
                self.dX[t] = dx_att * a                       # undo x̃ = a ⊙ x (through x)
        return self.dhcat[t] @ self.W_hcat.T                # undo h_{t-1} [W_ha | W_h]

    def finish(self, h_prev_all):
        """Weight gradients and ``dx`` after the loop.

        h_prev_all: (T, B, H), the states h_0 ... h_{T-1}.
        Returns ``dx`` (T, B, D) and a dict with 'W_x', 'b', 'W_h' (the fused
        columns only) and, with the gate, 'W_xa', 'W_ha', 'b_a'.
        """
        x, p, D = self.x, self.params, self.D
        dGx = flat(self.dGx)
        grads = {"b": dGx.sum(axis=0)}
        dhcat_w = flat(h_prev_all).T @ flat(self.dhcat)     # one product: [dW_ha | dW_h]
        if self.activation is None:
            grads["W_x"] = flat(x).T @ dGx
            grads["W_h"] = dhcat_w
            dx = (dGx @ p["W_x"].T).reshape(x.shape)
        else:
            dZ = flat(self.dhcat[:, :, :D])
            grads["W_x"] = flat(self.A * x).T @ dGx         # x̃ = a ⊙ x, for all steps at once
            grads["W_ha"], grads["W_h"] = dhcat_w[:, :D], dhcat_w[:, D:]
            grads["W_xa"] = flat(x).T @ dZ
            grads["b_a"] = dZ.sum(axis=0)
            dx = self.dX + (dZ @ p["W_xa"].T).reshape(x.shape)
        return dx, grads
