"""The layers: ``EleAttRNN``, ``EleAttLSTM``, ``EleAttGRU``.

A layer owns its parameters (a dict with the contract's keys) and calls the
cells. It adds nothing to the maths: ``forward`` and ``backward`` are the
sequence functions with the layer's options filled in, run by the implementation
``impl`` names (``minieleatt.implementations``: "auto", the fastest for the
arrays at hand, "reference", the readable ``minieleatt.functional``, "fast" or
"fused"), given to the constructor or to each call.

    layer = EleAttGRU(75, 100, attention=True, dtype="float32", seed=0)
    hs, cache = layer.forward(x, state=None, mask=None)      # x (T, B, 75) -> hs (T, B, 100)
    cache.attention                                          # (T, B, 75) gate responses
    dx, dstate, grads = layer.backward(dhs, cache)           # grads has the keys of layer.params
"""

import numpy as np

from .backend import array_module, check_device, device_of, resolve_dtype, to_device
from .functional import param_shapes, resolve_attention
from .implementations import check_impl, sequence_backward, sequence_forward


def _load_arrays_into(arrays, params, owner):
    """Copy ``arrays`` into the arrays of ``params`` (same names, same shapes; cast to their dtype and
    moved to their device), or raise a ValueError naming every missing, unexpected or misshapen key."""
    missing, unexpected = sorted(set(params) - set(arrays)), sorted(set(arrays) - set(params))
    if missing or unexpected:
        raise ValueError(f"{owner}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
    wrong = [f"{k}: {tuple(arrays[k].shape)}, expected {tuple(p.shape)}" for k, p in params.items()
             if tuple(arrays[k].shape) != tuple(p.shape)]
    if wrong:
        raise ValueError(f"{owner}.load_state_dict: shapes differ ({'; '.join(wrong)})")
    for k, p in params.items():
        p[...] = to_device(arrays[k], device_of(p)).astype(p.dtype, copy=False)


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


class _EleAttLayer:
    """Shared constructor and bookkeeping of the three layers (see the module docstring)."""

    cell = None

    def __init__(self, input_size, hidden_size, attention=True, dtype="float64", seed=0, device="cpu", impl="auto"):
        self.impl = check_impl(impl)
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.attention = resolve_attention(attention)    # None, 'sigmoid' or 'softmax'
        self.dtype = resolve_dtype(dtype)
        self.seed = seed
        self.params = to_device(self.init_params(np.random.default_rng(seed)), check_device(device))

    def param_shapes(self):
        return param_shapes(self.cell, self.input_size, self.hidden_size, self.attention, self._reset_after())

    def _reset_after(self):
        return False

    def init_params(self, rng):
        """Uniform in ±1/√H, as PyTorch initialises its recurrent layers (drawn on the host, seeded)."""
        k = 1.0 / np.sqrt(self.hidden_size)
        return {name: rng.uniform(-k, k, size=shape).astype(self.dtype)
                for name, shape in self.param_shapes().items()}

    @property
    def device(self):
        return device_of(self.params["W_x"])

    @property
    def xp(self):
        return array_module(self.device)

    @property
    def num_params(self):
        return int(sum(p.size for p in self.params.values()))

    def to(self, device):
        """Move the parameters to 'cpu' or 'gpu' (in place); returns the layer."""
        self.params = to_device(self.params, device)
        return self

    def state_dict(self):
        """A copy of every parameter by its contract name (``W_xa, W_ha, b_a, W_x, W_h, b``, the GRU's
        ``b_hn``: the keys of the PyTorch bridge's modules), on the layer's device."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state_dict):
        """Copy ``state_dict`` (name -> NumPy or CuPy array, e.g. from ``state_dict()``) into the parameters,
        in place, on the layer's device and dtype; the names and the shapes must be the layer's."""
        _load_arrays_into(state_dict, self.params, type(self).__name__)
        return self

    def zero_state(self, batch_size):
        return self.xp.zeros((batch_size, self.hidden_size), dtype=self.dtype)

    def forward(self, x, state=None, mask=None, keep_cache=True, impl=None):
        """x (T, B, D), state or None, mask (T, B) or None -> hs (T, B, H), cache.

        The state is h0 (B, H), or the pair (h0, c0) for the LSTM. ``impl`` overrides the layer's.
        """
        return sequence_forward(self.cell, x, self.params, state, mask, self.attention, self._reset_after(),
                                keep_cache, self.impl if impl is None else impl)

    def backward(self, dhs, cache, dstate_T=None, impl=None):
        """dhs (T, B, H) -> dx (T, B, D), dstate (B, H) or (dh0, dc0), grads (keys of params).

        ``dstate_T``: the gradient w.r.t. the final state (truncated BPTT). ``impl``: by default
        the implementation that made the cache.
        """
        return sequence_backward(self.cell, dhs, cache, dstate_T, "auto" if impl is None else impl)

    def __repr__(self):
        extra = f", reset_after={self._reset_after()}" if self.cell == "gru" else ""
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, attention={self.attention!r}"
                f"{extra}, dtype='{self.dtype}', device='{self.device}', impl='{self.impl}')")


class EleAttRNN(_EleAttLayer):
    """Standard RNN layer with the element-wise attention gate (``attention=False``: the plain RNN)."""

    cell = "rnn"


class EleAttLSTM(_EleAttLayer):
    """LSTM layer with the element-wise attention gate; the state is the pair (h, c).

    ``forget_bias`` is added to the forget-gate block of ``b`` after initialisation
    (1.0 is a common choice that helps long memories from the start).
    """

    cell = "lstm"

    def __init__(self, input_size, hidden_size, attention=True, dtype="float64", seed=0, device="cpu",
                 forget_bias=0.0, impl="auto"):
        self.forget_bias = float(forget_bias)
        super().__init__(input_size, hidden_size, attention, dtype, seed, device, impl)

    def init_params(self, rng):
        params = super().init_params(rng)
        H = self.hidden_size
        params["b"][H: 2 * H] += self.dtype.type(self.forget_bias)
        return params

    def zero_state(self, batch_size):
        return super().zero_state(batch_size), super().zero_state(batch_size)


class EleAttGRU(_EleAttLayer):
    """GRU layer with the element-wise attention gate.

    ``reset_after=False`` is the paper's (Cho et al.) form; ``True`` the cuDNN/PyTorch
    form with the extra bias ``b_hn``.
    """

    cell = "gru"

    def __init__(self, input_size, hidden_size, attention=True, reset_after=False, dtype="float64", seed=0,
                 device="cpu", impl="auto"):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, attention, dtype, seed, device, impl)

    def _reset_after(self):
        return self.reset_after


LAYERS = {"rnn": EleAttRNN, "lstm": EleAttLSTM, "gru": EleAttGRU}
