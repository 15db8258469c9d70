"""The caches of the fast implementations: every per-step array stacked over time.

The reference keeps a list of step caches (``minieleatt.functional.scan.SequenceCache``);
the fast implementations keep one array per quantity for all steps, which their backward
passes read as a block. The names a user sees are the same: ``responses`` (alias
``attention``), the gate's responses a_t (T, B, D), and ``final_state``.
Both fast implementations (``numpy_cells``, ``fused_cells``) make and accept these caches.
"""

from typing import NamedTuple

from ..backend import get_array_module
from ..functional.checks import check_backward


class _Stacked:
    """What the three caches share: the contract's name for the responses, and the inference cache."""

    __slots__ = ()

    @property
    def attention(self):
        """The gate's responses under the name of the contract (``cache.attention``, eleatt.md)."""
        return self.responses

    @classmethod
    def inference(cls, final_state, **options):
        """The cache of a pass with ``keep_cache=False``: the final state and the options, no arrays."""
        return cls(**{name: None for name in cls._fields} | dict(options, final_state=final_state))


class RNNCache(_Stacked, NamedTuple("RNNCache", [
        ("x", object),            # (T, B, D) the input
        ("h_all", object),        # (T+1, B, H) h_0 ... h_T
        ("responses", object),    # (T, B, D) the gate's responses a_t, or None without the gate
        ("mask", object),         # (T, B, 1) bool, or None
        ("params", dict),         # the parameters (not copied)
        ("W_hcat", object),       # (H, D+H) [W_ha | W_h], or W_h without the gate
        ("activation", object),   # the gate's activation: 'sigmoid', 'softmax' or None
        ("final_state", object)])):   # (B, H) h_T
    """The RNN's stacked cache (``rnn_forward_fast`` / ``rnn_forward_fused``)."""

    __slots__ = ()


class LSTMCache(_Stacked, NamedTuple("LSTMCache", [
        ("x", object),            # (T, B, D) the input
        ("h_all", object),        # (T+1, B, H) h_0 ... h_T
        ("c_all", object),        # (T+1, B, H) c_0 ... c_T
        ("gates", object),        # (T, B, 4H) [i f g o] after their activations
        ("responses", object),    # (T, B, D) the gate's responses a_t, or None
        ("mask", object),         # (T, B, 1) bool, or None
        ("params", dict),
        ("W_hcat", object),       # (H, D+4H) [W_ha | W_h], or W_h without the gate
        ("activation", object),
        ("final_state", object)])):   # the pair (h_T, c_T)
    """The LSTM's stacked cache (``lstm_forward_fast`` / ``lstm_forward_fused``)."""

    __slots__ = ()


class GRUCache(_Stacked, NamedTuple("GRUCache", [
        ("x", object),            # (T, B, D) the input
        ("h_all", object),        # (T+1, B, H) h_0 ... h_T
        ("gates", object),        # (T, B, 3H) [r z n] after their activations
        ("hn", object),           # (T, B, H) h_{t-1} W_hn + b_hn (reset_after only), else None
        ("responses", object),    # (T, B, D) the gate's responses a_t, or None
        ("mask", object),         # (T, B, 1) bool, or None
        ("params", dict),
        ("W_hcat", object),       # (H, D + 2H or 3H): [W_ha | W_hr W_hz (W_hn if reset_after)]
        ("activation", object),
        ("reset_after", bool),
        ("final_state", object)])):   # (B, H) h_T
    """The GRU's stacked cache (``gru_forward_fast`` / ``gru_forward_fused``)."""

    __slots__ = ()


CACHES = {"rnn": RNNCache, "lstm": LSTMCache, "gru": GRUCache}


def require_cache(cache, cell):
    """A stacked cache of this cell with its arrays kept."""
    cache_type = CACHES[cell]
    if not isinstance(cache, cache_type):
        raise TypeError(f"cache must be the {cache_type.__name__} of a fast {cell} forward pass, got "
                        f"{type(cache).__name__} (a reference cache goes back through the reference)")
    if cache.h_all is None:
        raise ValueError("this cache comes from a forward pass with keep_cache=False; "
                         "run it with keep_cache=True to backpropagate")


def check_stacked_backward(cache, cell, dhs, **final_grads):
    """The checks of a backward call on a stacked cache: returns ``xp``, ``dhs`` (T, B, H) and each
    gradient on the final state (B, H) given by name, zeros where None."""
    require_cache(cache, cell)
    xp = get_array_module(cache.x)
    T, B, H = cache.h_all.shape[0] - 1, cache.h_all.shape[1], cache.h_all.shape[2]
    return (xp,) + check_backward(dhs, T, B, H, cache.x.dtype, xp, **final_grads)


def order_grads(grads, params):
    """Gradients in the order of the parameter dict (same keys, same shapes)."""
    return {k: grads[k] for k in params}
