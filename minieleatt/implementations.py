"""Which implementation of the cells runs: an explicit choice, ``impl=``.

    impl="reference"  the readable reference, ``minieleatt.functional`` (NumPy or CuPy)
    impl="fast"       the NumPy fast path, ``minieleatt.fast.numpy_cells`` (NumPy only)
    impl="fused"      the fused-kernel path, ``minieleatt.fast.fused_cells`` (made for CuPy; on NumPy
                      arrays its kernel bodies are evaluated by NumPy, slowly: for the tests)
    impl="auto"       the fastest for the arrays at hand: "fast" on NumPy, "fused" on CuPy

All compute the same values (the tests prove it on every configuration). The layers, the
network, ``TrainConfig`` and the commands take the same ``impl`` and pass it down to
``sequence_forward`` / ``sequence_backward`` here.

A backward pass goes through the implementation whose forward pass made the cache:
``impl="auto"`` follows the cache (a reference cache back through the reference, a
stacked cache through the fast path of its array module); a named ``impl`` that cannot
read the cache is an error.
"""

from . import functional as F
from .backend import check_same_device, get_array_module
from .fast import fused_cells, numpy_cells
from .functional.scan import SequenceCache

IMPLS = ("auto", "reference", "fast", "fused")

_FORWARD = {
    "reference": {"rnn": F.rnn_forward, "lstm": F.lstm_forward, "gru": F.gru_forward},
    "fast": {"rnn": numpy_cells.rnn_forward_fast, "lstm": numpy_cells.lstm_forward_fast,
             "gru": numpy_cells.gru_forward_fast},
    "fused": {"rnn": fused_cells.rnn_forward_fused, "lstm": fused_cells.lstm_forward_fused,
              "gru": fused_cells.gru_forward_fused},
}
_BACKWARD = {
    "reference": {"rnn": F.rnn_backward, "lstm": F.lstm_backward, "gru": F.gru_backward},
    "fast": {"rnn": numpy_cells.rnn_backward_fast, "lstm": numpy_cells.lstm_backward_fast,
             "gru": numpy_cells.gru_backward_fast},
    "fused": {"rnn": fused_cells.rnn_backward_fused, "lstm": fused_cells.lstm_backward_fused,
              "gru": fused_cells.gru_backward_fused},
}


def check_impl(impl):
    """Validate an ``impl`` name; return it."""
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(repr(i) for i in IMPLS)}, got {impl!r}")
    return impl


def _is_numpy(xp):
    return getattr(xp, "__name__", "") == "numpy"


def resolve_impl(impl, xp):
    """The implementation that ``impl`` names for arrays of ``xp`` ('auto' resolved)."""
    check_impl(impl)
    if impl == "auto":
        return "fast" if _is_numpy(xp) else "fused"
    return impl


def _check_cell(cell):
    if cell not in F.CELLS:
        raise ValueError(f"cell must be one of {F.CELLS}, got {cell!r}")


def sequence_forward(cell, x, params, state=None, mask=None, attention="sigmoid", reset_after=False,
                     keep_cache=True, impl="auto"):
    """The ``cell``'s sequence forward pass (``functional.<cell>_forward``) by the implementation ``impl``.

    cell: 'rnn', 'lstm' or 'gru'; x (T, B, D); state: h0 (B, H), or (h0, c0) for the LSTM, or None;
    mask (T, B) or None; reset_after: GRU only. Returns ``hs`` (T, B, H) and the implementation's cache.
    """
    _check_cell(cell)
    check_same_device(x=x, params=params, **({"h0": state[0], "c0": state[1]} if isinstance(state, tuple)
                                              else {"h0": state}), mask=mask)
    forward = _FORWARD[resolve_impl(impl, get_array_module(x))][cell]
    if cell == "gru":
        return forward(x, params, state, mask, attention, reset_after, keep_cache)
    if reset_after:
        raise ValueError(f"reset_after applies to the GRU only, not to cell={cell!r}")
    return forward(x, params, state, mask, attention, keep_cache)


def cache_impl(cache):
    """'reference' for a cache of the reference, 'stacked' for one of the fast paths."""
    return "reference" if isinstance(cache, SequenceCache) else "stacked"


def sequence_backward(cell, dhs, cache, dstate_T=None, impl="auto"):
    """The ``cell``'s backward pass through time (``functional.<cell>_backward``) by ``impl``.

    'auto' follows the cache: a reference cache goes back through the reference, a stacked
    cache through the fast path of its arrays' module. Returns ``dx``, ``dstate0``, ``grads``.
    """
    _check_cell(cell)
    check_impl(impl)
    made_by = cache_impl(cache)
    if impl == "auto":
        impl = "reference" if made_by == "reference" else resolve_impl("auto", get_array_module(cache.final_state))
    elif (impl == "reference") != (made_by == "reference"):
        raise ValueError(f"impl={impl!r} cannot backpropagate a cache made by "
                         f"{'the reference' if made_by == 'reference' else 'a fast implementation'}: "
                         f"run the forward pass with the same impl (or use impl='auto', which follows the cache)")
    return _BACKWARD[impl][cell](dhs, cache, dstate_T)
