"""What the three cells' sequence functions share, written once.

- ``check_sequence``: every argument checked, with messages that name the
  argument, the expected and the given shape.
- ``GatedInput`` / ``GatedInputGrad``: the input side of a cell with or without
  the attention gate. Forward, per step, they give the two halves of the cell's
  pre-activations, ``gx_t = x̃_t W_x + b`` and ``gh_t = h_{t-1} W_h``, with
  ``x̃_t = a_t ⊙ x_t`` when the gate is on. All products that do not depend on
  the previous step are hoisted out of the time loop, and all products with
  ``h_{t-1}`` of one step (the gate's ``W_ha`` and the cell's ``W_h``) are one
  matrix product with the fused matrix ``[W_ha | W_h]``. Backward, they take the
  gradients of ``gx_t`` and ``gh_t``, return the part of ``dh_{t-1}`` that flows
  through them, and after the loop form every weight gradient as one large
  product over all steps.
- ``carry`` / ``split_by_mask``: the masking of padded steps (state carried over).
- ``use_fast_path`` / ``feature_major``: what the CPU fast paths (``gru.py``) share.
"""

from typing import NamedTuple

from ..backend import check_float_array, get_array_module
from .attention import gate_backward, gate_forward, resolve_attention
from ..fast.kernels import kernels_for

GATE_COUNT = {"rnn": 1, "lstm": 4, "gru": 3}

# The CPU fast paths (see ``_gru_forward_fast``) run on NumPy arrays when this is True. Set it to
# False to run the plain code everywhere (the tests and the benchmark compare the two).
FAST_PATH = True


def use_fast_path(xp):
    """True when a cell's fast path applies: NumPy arrays, fast paths on. CuPy runs the plain code."""
    return FAST_PATH and getattr(xp, "__name__", "") == "numpy"


def feature_major(xp, a):
    """(T, B, K) -> the same values as (T, K, B), C-contiguous: a view when ``a`` is already stored
    that way (the fast paths return their arrays so), else a copy."""
    return xp.ascontiguousarray(a.transpose(0, 2, 1))


# ----------------------------------------------------------------------------- checks

def param_shapes(cell, input_size, hidden_size, attention, reset_after=False):
    """The exact parameter dict of a layer: name -> shape."""
    D, H, G = input_size, hidden_size, GATE_COUNT[cell]
    shapes = {}
    if resolve_attention(attention):
        shapes.update(W_xa=(D, D), W_ha=(H, D), b_a=(D,))
    shapes.update(W_x=(D, G * H), W_h=(H, G * H), b=(G * H,))
    if cell == "gru" and reset_after:
        shapes["b_hn"] = (H,)
    return shapes


def _fmt(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def check_params(params, shapes, dtype, what="params"):
    """Exact keys, shapes and dtype of a parameter (or gradient) dict."""
    if not isinstance(params, dict):
        raise TypeError(f"{what} must be a dict of arrays, got {type(params).__name__}")
    missing = [k for k in shapes if k not in params]
    extra = [k for k in params if k not in shapes]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise ValueError(f"{what} has the wrong keys: {', '.join(parts)}; expected exactly {list(shapes)}")
    for k, shape in shapes.items():
        check_float_array(f"{what}['{k}']", params[k], dtype)
        if tuple(params[k].shape) != shape:
            raise ValueError(f"{what}['{k}'] must have shape {_fmt(shape)}, got {_fmt(params[k].shape)}")


def check_state(name, state, B, H, dtype, xp):
    """A state array (B, H) of the right dtype and finite values (None means zeros)."""
    if state is None:
        return xp.zeros((B, H), dtype=dtype)
    check_float_array(name, state, dtype)
    if tuple(state.shape) != (B, H):
        raise ValueError(f"{name} must have shape (B, H) = {_fmt((B, H))}, got {_fmt(state.shape)}")
    if not bool(xp.isfinite(state).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return state


def check_mask(mask, T, B, xp):
    """A 0/1 mask (T, B) of bool or numbers. Returns it as bool (T, B, 1), or None."""
    if mask is None:
        return None
    if not hasattr(mask, "shape") or not hasattr(mask, "dtype"):
        raise TypeError(f"mask must be an array of shape (T, B) = {_fmt((T, B))}, got {type(mask).__name__}")
    if tuple(mask.shape) != (T, B):
        raise ValueError(f"mask must have shape (T, B) = {_fmt((T, B))}, got {_fmt(mask.shape)}")
    if mask.dtype.kind not in "biuf":
        raise TypeError(f"mask must hold 0/1 as bool or numbers, got dtype {mask.dtype}")
    if mask.dtype.kind != "b" and not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError("mask must hold only 0 and 1 (or False and True)")
    return (mask != 0)[:, :, None]


class Sequence(NamedTuple):
    """The checked arguments of a sequence call."""

    xp: object
    T: int
    B: int
    D: int
    H: int
    dtype: object
    kind: object     # None, 'sigmoid' or 'softmax'
    mask: object     # (T, B, 1) bool, or None


def check_sequence(cell, x, params, mask, attention, reset_after=False):
    """Check ``x`` (T, B, D), the parameter dict and the mask of a ``cell`` call."""
    xp = get_array_module(x, params, mask)
    check_float_array("x", x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, B, D) (time-major), got {x.ndim} dimensions {_fmt(x.shape)}")
    T, B, D = x.shape
    if T == 0 or B == 0 or D == 0:
        raise ValueError(f"x must have at least one step, one sequence and one feature, got shape {_fmt(x.shape)}")
    kind = resolve_attention(attention)
    if not isinstance(params, dict) or "W_h" not in params or not hasattr(params["W_h"], "shape"):
        raise ValueError("params must be a dict with at least 'W_h' (H, G*H); see minieleatt.functional.param_shapes")
    H = params["W_h"].shape[0]
    W_x = params.get("W_x")
    if hasattr(W_x, "shape") and len(W_x.shape) == 2 and W_x.shape[0] != D:
        raise ValueError(f"x must have shape (T, B, D) with D = {W_x.shape[0]} (the input size of params['W_x'] "
                         f"{_fmt(W_x.shape)}), got {_fmt(x.shape)}")
    check_params(params, param_shapes(cell, D, H, kind, reset_after), x.dtype)
    if not bool(xp.isfinite(x).all()):
        raise ValueError("x contains NaN or inf")
    return Sequence(xp, T, B, D, H, x.dtype, kind, check_mask(mask, T, B, xp))


def check_grad(name, g, shape, dtype, xp):
    """A gradient given to a backward pass: None means zeros."""
    if g is None:
        return xp.zeros(shape, dtype=dtype)
    check_float_array(name, g, dtype)
    if tuple(g.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {_fmt(shape)}, got {_fmt(g.shape)}")
    return g


def check_backward(cache, cache_type, dhs, **final_grads):
    """The checks of a backward call: the cache's type and completeness, ``dhs`` (T, B, H) and each
    gradient on the final state (B, H), given by name. Returns ``xp``, ``dhs`` and those gradients
    in the order given, zeros where None."""
    require_cache(cache, cache_type)
    xp, dtype = get_array_module(cache.x), cache.x.dtype
    T, B, H = cache.h_all.shape[0] - 1, cache.h_all.shape[1], cache.h_all.shape[2]
    finals = tuple(check_grad(name, g, (B, H), dtype, xp) for name, g in final_grads.items())
    return (xp, check_grad("dhs", dhs, (T, B, H), dtype, xp)) + finals


def require_cache(cache, cache_type):
    if not isinstance(cache, cache_type):
        raise TypeError(f"cache must be the {cache_type.__name__} returned by the forward pass, got {type(cache).__name__}")
    if cache.h_all is None:
        raise ValueError("this cache comes from a forward pass with keep_cache=False; run it with keep_cache=True to backpropagate")


# ----------------------------------------------------------------------------- masks

def carry(m_t, new, prev):
    """``new`` where the step is valid (``m_t`` True), else the carried-over ``prev``."""
    return new if m_t is None else get_array_module(new).where(m_t, new, prev)


def split_by_mask(d, m_t):
    """Backward of ``carry``: the gradient to the new state and the one carried to ``prev``."""
    if m_t is None:
        return d, None
    d_new = d * m_t
    return d_new, d - d_new


# ----------------------------------------------------------------------------- the gated input

def flat(a):
    """(T, B, K) -> (T*B, K), a view when possible."""
    return a.reshape(-1, a.shape[-1])


class GatedInput:
    """Forward of a cell's input side (see the module docstring).

    x: (T, B, D); params: the cell's dict; kind: None, 'sigmoid' or 'softmax';
    h_cols: how many columns of ``W_h`` take part in the fused product with
    ``h_{t-1}`` (all of them, except for the reset-before GRU whose candidate
    multiplies ``r ⊙ h_{t-1}``); keep: store the gate responses for backward.
    """

    def __init__(self, x, params, kind, h_cols=None, keep=True):
        xp = get_array_module(x)
        T, B, D = x.shape
        self.xp, self.x, self.params, self.kind, self.D = xp, x, params, kind, D
        self.kernels = kernels_for(xp) if kind == "sigmoid" else None    # the fused gate (CuPy)
        W_h = params["W_h"] if h_cols is None else params["W_h"][:, :h_cols]
        if kind is None:
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
        if self.kind is None:
            return self.x_proj[t], hW
        D = self.D
        if self.kernels is not None:                          # CuPy: the gate in one fused kernel
            x_att = self.xp.empty_like(self.x[t])
            a = self.A[t] if self.A is not None else self.xp.empty_like(x_att)
            self.kernels.gate_forward(self.x_proj[t], hW[:, :D], self.x[t], a, x_att)
        else:
            a, x_att = gate_forward(self.x_proj[t] + hW[:, :D], self.x[t], self.kind)
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

    def __init__(self, x, A, params, W_hcat, kind, gx_cols, gh_cols, shared):
        xp = get_array_module(x)
        T, B, D = x.shape
        self.x, self.A, self.params, self.W_hcat, self.kind, self.D = x, A, params, W_hcat, kind, D
        self.kernels = kernels_for(xp) if kind == "sigmoid" else None    # the fused gate (CuPy)
        lead = 0 if kind is None else D
        # [dz_a | dgh] side by side, so that one product gives dh_{t-1} and, after the loop, [dW_ha | dW_h]
        self.dhcat = xp.empty((T, B, lead + gh_cols), dtype=x.dtype)
        self.dGh = self.dhcat[:, :, lead:]
        self.dGx = self.dGh if shared else xp.empty((T, B, gx_cols), dtype=x.dtype)
        self.dX = None if kind is None else xp.empty((T, B, D), dtype=x.dtype)

    def dgx(self, t):
        return self.dGx[t]

    def dgh(self, t):
        return self.dGh[t]

    def step(self, t):
        """After ``dgx(t)`` and ``dgh(t)`` are written: return the gradient they send to ``h_{t-1}``."""
        if self.kind is not None:
            dx_att = self.dGx[t] @ self.params["W_x"].T     # undo gx = x̃ W_x + b
            if self.kernels is not None:                      # CuPy: the gate in one fused kernel
                self.kernels.gate_backward(dx_att, self.x[t], self.A[t], self.dhcat[t, :, : self.D], self.dX[t])
            else:
                dz, dx = gate_backward(dx_att, self.x[t], self.A[t], self.kind)
                self.dhcat[t, :, : self.D] = dz
                self.dX[t] = dx
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
        if self.kind is None:
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


def order_grads(grads, params):
    """Gradients in the order of the parameter dict (same keys, same shapes)."""
    return {k: grads[k] for k in params}
