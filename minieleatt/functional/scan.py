"""The time loop, written once for the three cells.

A cell is a pair of step functions (``rnn.py``, ``lstm.py``, ``gru.py``):

    step_forward(x_t, state_prev)   -> state_t, step_cache
    step_backward(dstate_t, cache)  -> dx_t, dstate_prev, grads

and a sequence is the step run over ``t = 0 ... T-1``. ``scan_forward`` does that and
``scan_backward`` runs the steps' backward passes in reverse. What the time loop adds to
the steps lives here and nowhere else:

- the state is threaded from step to step; it is ``h`` (B, H) for the RNN and the GRU
  and the pair ``(h, c)`` for the LSTM, and ``hs[t]`` is its ``h``;
- a padded step (``mask[t, b] == 0``) carries the state over unchanged, so backward
  passes that sequence's gradient straight on to the step before;
- ``h_t`` is both an output (``hs[t]``) and the next step's ``h_{t-1}``, so its gradient is
  the sum of ``dhs[t]`` and what the next step sends back (``dstate_next``);
- the weights are shared by all steps, so their gradient is the sum of the steps' gradients.

Everything takes its array module from its arguments (NumPy or CuPy).
"""

from typing import NamedTuple

from ..backend import get_array_module


class SequenceCache(NamedTuple):
    """What a sequence's backward pass needs: the step caches, in order. With ``keep_cache=False``
    only ``final_state`` is kept (``SequenceCache.inference``)."""

    steps: list          # T step caches (the cell's *StepCache), or None after an inference pass
    mask: object         # (T, B, 1) bool, or None
    final_state: object  # h_T (B, H), or the pair (h_T, c_T) for the LSTM

    @classmethod
    def inference(cls, final_state):
        """The cache of a pass with ``keep_cache=False``: the final state and nothing to backpropagate."""
        return cls(steps=None, mask=None, final_state=final_state)

    @property
    def responses(self):
        """(T, B, D) the gate's responses a_t of every step, or None (no gate, or no cache kept)."""
        if not self.steps or self.steps[0].gate is None:
            return None
        a = [step.gate.a for step in self.steps]
        return get_array_module(a[0]).stack(a)

    @property
    def attention(self):
        """The gate's responses under the name of the contract (``cache.attention``, eleatt.md)."""
        return self.responses


def hidden(state):
    """The hidden state ``h`` of a cell's state: the state itself, or the first of the LSTM's ``(h, c)``."""
    return state[0] if isinstance(state, tuple) else state


def carry(m_t, new, prev):
    """Forward of a step that may be padded: ``new`` where ``m_t`` (B, 1) is True, ``prev`` where it is
    False, for ``h`` and (LSTM) ``c`` alike."""
    if m_t is None:
        return new
    if isinstance(new, tuple):
        return tuple(carry(m_t, n, p) for n, p in zip(new, prev))
    return get_array_module(new).where(m_t, new, prev)


def split_carry(m_t, dstate):
    """Backward of ``carry``: the gradient that reaches the step's own computation (valid rows) and the one
    carried past it unchanged to the previous state (padded rows)."""
    if m_t is None:
        return dstate, None
    if isinstance(dstate, tuple):
        parts = [split_carry(m_t, d) for d in dstate]
        return tuple(p[0] for p in parts), tuple(p[1] for p in parts)
    d_step = dstate * m_t
    return d_step, dstate - d_step


def _add(a, b):
    """``a + b`` for states: arrays, or pairs of arrays."""
    if isinstance(a, tuple):
        return tuple(u + v for u, v in zip(a, b))
    return a + b


def _add_to_hidden(dstate, dh):
    """Add ``dh`` to the ``h`` part of a state's gradient."""
    if isinstance(dstate, tuple):
        return (dstate[0] + dh,) + tuple(dstate[1:])
    return dstate + dh


def scan_forward(step_forward, x, state, mask=None, keep_cache=True):
    """Run ``step_forward`` over the time axis of ``x``.

    step_forward: (x_t (B, D), state_prev) -> (state_t, step_cache)
    x: (T, B, D); state: the initial state, h0 (B, H) or (h0, c0);
    mask: (T, B, 1) bool or None: padded steps carry the state over;
    keep_cache: False keeps only the final state (inference).
    Returns ``hs`` (T, B, H) and a ``SequenceCache``.
    """
    xp = get_array_module(x)
    T = x.shape[0]
    h0 = hidden(state)
    hs = xp.empty((T,) + tuple(h0.shape), dtype=h0.dtype)
    steps = []
    for t in range(T):
        m_t = None if mask is None else mask[t]
        state_t, step_cache = step_forward(x[t], state)
        state = carry(m_t, state_t, state)                 # a padded step keeps the previous state
        hs[t] = hidden(state)
        if keep_cache:
            steps.append(step_cache)
    if not keep_cache:
        return hs, SequenceCache.inference(state)
    return hs, SequenceCache(steps=steps, mask=mask, final_state=state)


def scan_backward(step_backward, dhs, cache, dstate_T):
    """Backpropagation through time: ``step_backward`` run over the steps in reverse.

    step_backward: (dstate_t, step_cache) -> (dx_t, dstate_prev, grads)
    dhs: (T, B, H) the gradient of the loss w.r.t. every ``hs[t]``;
    cache: the ``SequenceCache`` of ``scan_forward``;
    dstate_T: the gradient w.r.t. the final state (zeros when there is none), structured like the state.
    Returns ``dx`` (T, B, D), ``dstate0`` (the gradient w.r.t. the initial state) and ``grads``,
    the sum over the steps of their weight gradients.
    """
    xp = get_array_module(dhs)
    mask = cache.mask
    dstate = dstate_T
    dxs, grads = [None] * len(cache.steps), None
    for t in reversed(range(len(cache.steps))):
        m_t = None if mask is None else mask[t]
        dstate = _add_to_hidden(dstate, dhs[t])            # undo hs[t] = h_t (h_t is also the next h_{t-1})
        d_step, d_carried = split_carry(m_t, dstate)       # undo the carry of a padded step
        dxs[t], dstate, step_grads = step_backward(d_step, cache.steps[t])
        if d_carried is not None:
            dstate = _add(dstate, d_carried)
        if grads is None:
            grads = dict(step_grads)
        else:
            grads = {name: grads[name] + g for name, g in step_grads.items()}   # the weights are shared by all steps
    return xp.stack(dxs), dstate, grads
