"""The checks of the cells' arguments, with messages that name the argument, the expected and the given.

Shared by the reference (``rnn.py``, ``lstm.py``, ``gru.py``) and the fast paths
(``minieleatt.fast``), so that every implementation refuses the same input with the
same words. Nothing here is maths; a reader of a cell can skip this file.
"""

from typing import NamedTuple

from ..backend import check_float_array, check_same_device, device_of, get_array_module, mixed_devices, module_device
GATE_COUNT = {"rnn": 1, "lstm": 4, "gru": 3}     # blocks of W_x / W_h / b: h; i f g o; r z n


ACTIVATIONS = ("sigmoid", "softmax")              # the attention gate's activations


def resolve_attention(attention):
    """The gate option of a cell: ``None``/``False`` (no gate) -> None, ``True`` -> 'sigmoid', or
    'sigmoid' / 'softmax' (the gate's activation)."""
    if attention is None or attention is False:
        return None
    if attention is True:
        return "sigmoid"
    if isinstance(attention, str) and attention.lower() in ACTIVATIONS:
        return attention.lower()
    raise ValueError(f"attention must be True, False, None, 'sigmoid' or 'softmax', got {attention!r}")


def param_shapes(cell, input_size, hidden_size, attention, reset_after=False):
    """The exact parameter dict of a layer: name -> shape, in the order the gradients come back."""
    D, H, G = input_size, hidden_size, GATE_COUNT[cell]
    shapes = {}
    if resolve_attention(attention):
        shapes.update(W_xa=(D, D), W_ha=(H, D), b_a=(D,))
    shapes.update(W_x=(D, G * H), W_h=(H, G * H), b=(G * H,))
    if cell == "gru" and reset_after:
        shapes["b_hn"] = (H,)
    return shapes


def fmt(shape):
    """A shape as the messages write it: ``(3, 4)``."""
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
            raise ValueError(f"{what}['{k}'] must have shape {fmt(shape)}, got {fmt(params[k].shape)}")


def check_device(name, a, xp, other):
    """``a`` on the device of the array module ``xp`` (that of ``other``), else a ``DeviceError`` naming both."""
    if device_of(a) != module_device(xp):
        raise mixed_devices(name, device_of(a), other, module_device(xp))


def check_state(name, state, B, H, dtype, xp):
    """A state array (B, H) of the right dtype and finite values, on the device of x (None means zeros)."""
    if state is None:
        return xp.zeros((B, H), dtype=dtype)
    check_float_array(name, state, dtype)
    check_device(name, state, xp, "x")
    if tuple(state.shape) != (B, H):
        raise ValueError(f"{name} must have shape (B, H) = {fmt((B, H))}, got {fmt(state.shape)}")
    if not bool(xp.isfinite(state).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return state


def split_pair(state, name):
    """The LSTM's state ``(h, c)`` as two values (each may be None); None -> (None, None)."""
    if state is None:
        return None, None
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"the LSTM's {name} must be a pair (h, c) of (B, H) arrays (or None), got {type(state).__name__}")
    return tuple(state)


def check_mask(mask, T, B, xp):
    """A 0/1 mask (T, B) of bool or numbers. Returns it as bool (T, B, 1), or None."""
    if mask is None:
        return None
    if not hasattr(mask, "shape") or not hasattr(mask, "dtype"):
        raise TypeError(f"mask must be an array of shape (T, B) = {fmt((T, B))}, got {type(mask).__name__}")
    if tuple(mask.shape) != (T, B):
        raise ValueError(f"mask must have shape (T, B) = {fmt((T, B))}, got {fmt(mask.shape)}")
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
    attention: object    # the gate's activation: None (no gate), 'sigmoid' or 'softmax'
    mask: object         # (T, B, 1) bool, or None


def check_sequence(cell, x, params, mask, attention, reset_after=False):
    """Check ``x`` (T, B, D), the parameter dict and the mask of a ``cell`` call."""
    check_same_device(x=x, params=params, mask=mask)
    xp = get_array_module(x, params, mask)
    check_float_array("x", x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (T, B, D) (time-major), got {x.ndim} dimensions {fmt(x.shape)}")
    T, B, D = x.shape
    if T == 0 or B == 0 or D == 0:
        raise ValueError(f"x must have at least one step, one sequence and one feature, got shape {fmt(x.shape)}")
    activation = resolve_attention(attention)
    if not isinstance(params, dict) or "W_h" not in params or not hasattr(params["W_h"], "shape"):
        raise ValueError("params must be a dict with at least 'W_h' (H, G*H); see minieleatt.functional.param_shapes")
    H = params["W_h"].shape[0]
    W_x = params.get("W_x")
    if hasattr(W_x, "shape") and len(W_x.shape) == 2 and W_x.shape[0] != D:
        raise ValueError(f"x must have shape (T, B, D) with D = {W_x.shape[0]} (the input size of params['W_x'] "
                         f"{fmt(W_x.shape)}), got {fmt(x.shape)}")
    check_params(params, param_shapes(cell, D, H, activation, reset_after), x.dtype)
    if not bool(xp.isfinite(x).all()):
        raise ValueError("x contains NaN or inf")
    return Sequence(xp, T, B, D, H, x.dtype, activation, check_mask(mask, T, B, xp))


def check_step(cell, x_t, state_prev, params, attention, reset_after=False):
    """The arguments of a step function: ``x_t`` (B, D), the previous state ((B, H), or the LSTM's pair)
    and the cell's parameter dict, all of one dtype and on one device (no finiteness scan: steps are hot)."""
    check_same_device(x_t=x_t, **({"h_prev": state_prev[0], "c_prev": state_prev[1]}
                                  if isinstance(state_prev, tuple) else {"h_prev": state_prev}), params=params)
    check_float_array("x_t", x_t)
    if x_t.ndim != 2:
        raise ValueError(f"x_t must have shape (B, D), got {fmt(x_t.shape)}")
    W_x, W_h = (params.get("W_x"), params.get("W_h")) if isinstance(params, dict) else (None, None)
    if hasattr(W_x, "shape") and len(W_x.shape) == 2 and W_x.shape[0] != x_t.shape[1]:
        raise ValueError(f"x_t must have shape (B, D) with D = {W_x.shape[0]} (the input size of params['W_x'] "
                         f"{fmt(W_x.shape)}), got {fmt(x_t.shape)}")
    H = W_h.shape[0] if hasattr(W_h, "shape") and len(W_h.shape) == 2 else None
    names = ("h_prev", "c_prev") if isinstance(state_prev, tuple) else ("h_prev",)
    states = state_prev if isinstance(state_prev, tuple) else (state_prev,)
    for name, state in zip(names, states):
        check_float_array(name, state, x_t.dtype)
        if state.ndim != 2 or state.shape[0] != x_t.shape[0] or (H is not None and state.shape[1] != H):
            raise ValueError(f"{name} must have shape (B, H) = {fmt((x_t.shape[0], H if H is not None else 'H'))} "
                             f"(B from x_t, H from params['W_h']), got {fmt(state.shape)}")
    check_params(params, param_shapes(cell, x_t.shape[1], states[0].shape[1], attention, reset_after), x_t.dtype)


def check_gate_step(x_t, h_prev, params, activation):
    """The arguments of the gate's step: ``x_t`` (B, D), ``h_prev`` (B, H), 'W_xa' (D, D), 'W_ha' (H, D),
    'b_a' (D,) in ``params`` (other keys, a cell's, are ignored), one dtype, one device."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be 'sigmoid' or 'softmax', got {activation!r}")
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    gate_params = {k: params.get(k) for k in ("W_xa", "W_ha", "b_a")}
    check_same_device(x_t=x_t, h_prev=h_prev, params=gate_params)
    check_float_array("x_t", x_t)
    check_float_array("h_prev", h_prev, x_t.dtype)
    if x_t.ndim != 2 or h_prev.ndim != 2 or h_prev.shape[0] != x_t.shape[0]:
        raise ValueError(f"x_t must have shape (B, D) and h_prev (B, H) with the same B, got {fmt(x_t.shape)} "
                         f"and {fmt(h_prev.shape)}")
    (B, D), H = x_t.shape, h_prev.shape[1]
    check_params(gate_params, {"W_xa": (D, D), "W_ha": (H, D), "b_a": (D,)}, x_t.dtype)


def check_grad(name, g, shape, dtype, xp):
    """A gradient given to a backward pass: None means zeros."""
    if g is None:
        return xp.zeros(shape, dtype=dtype)
    check_float_array(name, g, dtype)
    check_device(name, g, xp, "the cache (the forward pass's arrays)")
    if tuple(g.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {fmt(shape)}, got {fmt(g.shape)}")
    return g


def check_backward(dhs, T, B, H, dtype, xp, **final_grads):
    """The gradients given to a backward call: ``dhs`` (T, B, H) and each gradient on the final state
    (B, H), by name. Returns ``dhs`` and those gradients in the order given, zeros where None."""
    return (check_grad("dhs", dhs, (T, B, H), dtype, xp),) + tuple(
        check_grad(name, g, (B, H), dtype, xp) for name, g in final_grads.items())


def require_steps(cache, step_type, cell):
    """A reference cache (``scan.SequenceCache``) of this cell with its step caches kept."""
    steps = getattr(cache, "steps", "absent")
    if steps == "absent" or not hasattr(cache, "final_state"):
        raise TypeError(f"cache must be the cache returned by {cell}_forward, got {type(cache).__name__} "
                        f"(a cache of a fast implementation goes back through the same implementation)")
    if steps is None:
        raise ValueError("this cache comes from a forward pass with keep_cache=False; "
                         "run it with keep_cache=True to backpropagate")
    if not isinstance(steps[0], step_type):
        raise TypeError(f"cache must come from {cell}_forward, but its steps are {type(steps[0]).__name__}")
