"""The learners' checker for the gradient-checking exercises (``tutorials/exercises/``).

Each exercise gives a forward function and asks the learner for its backward:

    exercise      forward (given)        backward to write
    'gate'        forward_gate           gate_backward(dx_att, cache)       -> dx, dh_prev, grads
    'gru_step'    forward_gru_step       gru_step_backward(dh, cache)       -> dx, dh_prev, grads
    'lstm_step'   forward_lstm_step      lstm_step_backward(dstate, cache)  -> dx, (dh_prev, dc_prev), grads
    'masked_rnn'  forward_masked_rnn     masked_rnn_backward(dhs, cache)    -> dx, dh0, grads

``check(exercise, fn)`` (or ``check_gate(fn)``, ``check_gru_step(fn)`` ...) runs the learner's
function on a small random problem in float64 and compares every gradient it returns with
central differences (``minieleatt.gradcheck``): the report gives each gradient's relative
error and whether it is right. For a wrong gradient it adds a hint at the likely cause, found
by comparing the learner's gradient with the library's own backward pass
(``minieleatt.functional``): a transposed matrix, a flipped sign, a missing term, the wrong
input in a product, a mask ignored ... A function that raises ``NotImplementedError`` is
reported as "not implemented yet" (no exception), so a notebook whose exercise cells are still
empty runs from top to bottom.

    from minieleatt.exercises import check_gate, example
    dx_att, cache = example("gate")          # a problem to try your function on by hand
    report = check_gate(gate_backward)       # shows as a table in a notebook; print(report) elsewhere
    report.passed                            # True when every gradient is right

Conventions of all exercises: row vectors (a layer computes ``x @ W``), batch first within a
step, ``grads`` a dict with the parameters' names (``dW_x`` in a report means ``grads['W_x']``).
"""

import os
import traceback
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from .functional import (gate_step_backward, gate_step_forward, gru_step_backward, gru_step_forward,
                         lstm_step_backward, lstm_step_forward, param_shapes, rnn_backward, rnn_forward,
                         rnn_step_forward)
from .gradcheck import numerical_vjp, relative_error

TOLERANCE = 1e-6      # largest relative error (against central differences) that counts as right
_MATCH = 1e-6         # two analytic arrays "are the same" below this relative error

__all__ = [
    "EXERCISES", "TOLERANCE", "ExerciseReport", "GradientResult",
    "forward_gate", "forward_gru_step", "forward_lstm_step", "forward_masked_rnn",
    "GRUStepCache", "LSTMStepCache", "MaskedRNNCache",
    "check", "check_gate", "check_gru_step", "check_lstm_step", "check_masked_rnn",
    "example", "results", "summary",
]


# ============================================================================ the forward passes

def forward_gate(x, h_prev, W_xa, W_ha, b_a):
    """The attention gate of one step: ``a = σ(x W_xa + h_prev W_ha + b_a)``, ``x_att = a ⊙ x``.

    x: (B, D), h_prev: (B, H), W_xa: (D, D), W_ha: (H, D), b_a: (D,).
    Returns ``x_att`` (B, D) and the cache (``minieleatt.functional.GateCache``:
    fields ``x_t``, ``h_prev``, ``a``, ``W_xa``, ``W_ha``, ``activation``).
    """
    return gate_step_forward(x, h_prev, {"W_xa": W_xa, "W_ha": W_ha, "b_a": b_a}, "sigmoid")


class GRUStepCache(NamedTuple):
    """What ``gru_step_backward`` gets from ``forward_gru_step`` (every array (B, ·))."""

    x: object         # (B, D) the input x_t
    h_prev: object    # (B, H) the previous state h_{t-1}
    a: object         # (B, D) the attention gate's response
    x_att: object     # (B, D) the gated input a ⊙ x
    r: object         # (B, H) reset gate, after its sigmoid
    z: object         # (B, H) update gate, after its sigmoid
    n: object         # (B, H) candidate, after its tanh
    hn: object        # (B, H) h_prev W_hn + b_hn, the recurrent part of the candidate
    params: dict      # W_xa (D, D), W_ha (H, D), b_a (D,), W_x (D, 3H), W_h (H, 3H), b (3H,), b_hn (H,)


def forward_gru_step(x, h_prev, params):
    """One step of the EleAtt-GRU in its reset-after (cuDNN / PyTorch) form.

        a = σ(x W_xa + h_prev W_ha + b_a);  x̃ = a ⊙ x
        r = σ(x̃ W_xr + h_prev W_hr + b_r)
        z = σ(x̃ W_xz + h_prev W_hz + b_z)
        n = tanh(x̃ W_xn + b_n + r ⊙ (h_prev W_hn + b_hn))
        h = (1 - z) ⊙ n + z ⊙ h_prev

    ``W_x = [W_xr W_xz W_xn]`` (D, 3H), ``W_h`` (H, 3H) and ``b`` (3H,) in the same block order.
    x: (B, D), h_prev: (B, H). Returns ``h`` (B, H) and a ``GRUStepCache``.
    """
    h, c = gru_step_forward(x, h_prev, params, attention="sigmoid", reset_after=True)   # the library's reference
    return h, GRUStepCache(x=x, h_prev=h_prev, a=c.gate.a, x_att=c.x_att, r=c.r, z=c.z, n=c.n, hn=c.hn,
                           params=params)


class LSTMStepCache(NamedTuple):
    """What ``lstm_step_backward`` gets from ``forward_lstm_step`` (every array (B, ·))."""

    x: object         # (B, D) the input x_t
    h_prev: object    # (B, H) h_{t-1}
    c_prev: object    # (B, H) c_{t-1}
    a: object         # (B, D) the attention gate's response
    x_att: object     # (B, D) the gated input a ⊙ x
    i: object         # (B, H) input gate, after its sigmoid
    f: object         # (B, H) forget gate, after its sigmoid
    g: object         # (B, H) candidate, after its tanh
    o: object         # (B, H) output gate, after its sigmoid
    c: object         # (B, H) the new cell c_t
    tanh_c: object    # (B, H) tanh(c_t)
    params: dict      # W_xa (D, D), W_ha (H, D), b_a (D,), W_x (D, 4H), W_h (H, 4H), b (4H,)


def forward_lstm_step(x, state_prev, params):
    """One step of the EleAtt-LSTM (no peepholes), gate blocks in the order i, f, g, o.

        a = σ(x W_xa + h_prev W_ha + b_a);  x̃ = a ⊙ x
        [i f g o] = x̃ W_x + h_prev W_h + b
        i, f, o = σ(i), σ(f), σ(o);  g = tanh(g)
        c = f ⊙ c_prev + i ⊙ g
        h = o ⊙ tanh(c)

    x: (B, D), state_prev: the pair (h_prev, c_prev), each (B, H).
    Returns the state ``(h, c)`` and an ``LSTMStepCache``.
    """
    (h, c), s = lstm_step_forward(x, state_prev, params, attention="sigmoid")   # the library's reference
    return (h, c), LSTMStepCache(x=x, h_prev=s.h_prev, c_prev=s.c_prev, a=s.gate.a, x_att=s.x_att, i=s.i, f=s.f,
                                 g=s.g, o=s.o, c=c, tanh_c=s.tanh_c, params=params)


class MaskedRNNCache(NamedTuple):
    """What ``masked_rnn_backward`` gets from ``forward_masked_rnn``."""

    steps: list       # T caches, one per step, from minieleatt.functional.rnn_step_forward
    mask: object      # (T, B) float, 1 on valid steps, 0 on padded ones


def forward_masked_rnn(x, params, mask, h0):
    """The EleAtt-RNN over a padded batch, one step at a time, carrying the state on padded steps.

        h_new = rnn_step_forward(x[t], h_{t-1}, params)          (the gated RNN cell)
        h_t   = m_t ⊙ h_new + (1 - m_t) ⊙ h_{t-1}                  (m_t = mask[t], one number per sequence)

    x: (T, B, D); params: the RNN's dict (W_xa, W_ha, b_a, W_x (D, H), W_h (H, H), b (H,));
    mask: (T, B) of 0/1; h0: (B, H). Returns ``hs`` (T, B, H), every h_t, and a ``MaskedRNNCache``.
    Each step's backward is ``minieleatt.functional.rnn_step_backward(dh_new, cache.steps[t])``,
    which returns ``dx_t`` (B, D), ``dh_prev`` (B, H) and that step's parameter gradients.
    """
    mask = np.asarray(mask, dtype=x.dtype)
    h, hs, steps = h0, [], []
    for t in range(x.shape[0]):
        h_new, step = rnn_step_forward(x[t], h, params)
        m = mask[t][:, None]
        h = m * h_new + (1 - m) * h
        hs.append(h)
        steps.append(step)
    return np.stack(hs), MaskedRNNCache(steps, mask)


# ============================================================================ the report

class GradientResult(NamedTuple):
    """One gradient of a learner's answer."""

    name: str          # 'dx', 'dh_prev', 'dW_x' (grads['W_x']) ...
    shape: tuple       # the shape it must have
    rel_error: float   # against central differences (nan when it could not be compared)
    passed: bool
    hint: str          # '' when right
    after: str = ""    # when wrong only because another gradient is: that gradient's name
    where: str = ""    # where a wrong gradient is worst: 'at [1, 2]: yours ..., numerical ...'


class ExerciseReport:
    """The verdict on one exercise. ``status`` is 'passed', 'failed', 'not implemented' or 'error'."""

    def __init__(self, exercise, status, results=(), message="", tol=TOLERANCE):
        self.exercise = exercise
        self.status = status
        self.results = list(results)
        self.message = message
        self.tol = tol

    @property
    def passed(self):
        return self.status == "passed"

    def failures(self):
        return [r for r in self.results if not r.passed]

    def __getitem__(self, name):
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def text(self):
        ex = EXERCISES[self.exercise]
        head = f"Exercise {ex.title} — {ex.fn_name}"
        if self.status == "not implemented":
            return f"{head}: not implemented yet.\n{self.message}"
        if self.status == "error":
            return f"{head}: your function did not run to the end.\n{self.message}"
        if not self.results:
            return f"{head}: {self.message}"
        right = sum(r.passed for r in self.results)
        verdict = "all gradients right" if self.passed else f"{right} of {len(self.results)} gradients right"
        lines = [f"{head}: {verdict} (tolerance {self.tol:.0e} against central differences)",
                 f"  {'gradient':<10} {'shape':<10} {'rel. error':>10}  result"]
        for r in self.results:
            shape = "x".join(str(s) for s in r.shape) or "scalar"
            err = "–" if np.isnan(r.rel_error) else f"{r.rel_error:.1e}"
            lines.append(f"  {r.name:<10} {shape:<10} {err:>10}  {'right' if r.passed else 'WRONG'}")
        roots = [r for r in self.failures() if not r.after]
        followers = [r for r in self.failures() if r.after]
        if roots:
            lines.append("What to fix:")
            groups = {}
            for r in roots:                                  # one line per distinct hint
                groups.setdefault(r.hint, []).append(r)
            for hint, rs in groups.items():
                where = f" (largest error {rs[0].where})" if len(rs) == 1 and rs[0].where else ""
                lines.append(f"- {', '.join(r.name for r in rs)}: {hint}{where}")
        if followers:
            names = ", ".join(r.name for r in followers)
            causes = ", ".join(dict.fromkeys(r.after for r in followers))
            lines.append(f"- also wrong, probably only because they are computed from {causes}: {names}. "
                         "Fix the above first, then check again.")
        if self.passed:
            lines.append("Well done: every gradient agrees with central differences.")
        return "\n".join(lines)

    __str__ = text

    def __repr__(self):
        return self.text()

    def assert_ok(self):
        """Raise ``AssertionError`` with the report when the exercise is not passed."""
        if not self.passed:
            raise AssertionError(self.text())
        return self


_LATEST = {}


def results():
    """The latest status of every exercise checked in this session: name -> status."""
    return {name: _LATEST.get(name, "not checked") for name in EXERCISES}


def summary():
    """A short table of the latest status of every exercise (print it)."""
    return "\n".join(f"{EXERCISES[k].title:<26} {v}" for k, v in results().items())


# ============================================================================ diagnosis

def _same(a, b):
    """Are two analytic arrays equal up to rounding?"""
    return a.shape == b.shape and relative_error(a, b) < _MATCH


class _Diagnosis(NamedTuple):
    """How to explain the wrong gradients of one exercise.

    suspects:    name -> [(candidate array, hint)]: a gradient equal to a candidate gets its hint
                 (a term left out, the wrong input in a product ...).
    deps:        name -> the gradients it is computed from, in order: when one of them is wrong,
                 this one is reported as following from it.
    hints:       name -> the hint when its own derivation is at fault: a string, or a function of
                 the set of wrong names.
    blocks:      name -> [(gate, slice of the last axis)]: to say which gate's columns are wrong.
    block_hints: gate -> what to check for that gate.
    explain:     optional function(name, learner's, reference) -> hint or None, tried first
                 (the masked sequence: where in time and batch a gradient is wrong).
    """

    suspects: dict
    deps: dict
    hints: dict
    blocks: dict = {}
    block_hints: dict = {}
    explain: Callable = None


def _missing_terms(total, terms):
    """Suspects for a gradient that is a sum of ``terms`` [(array, what it is)]: one left out or doubled."""
    out = []
    for term, what in terms:
        out.append((total - term, f"misses a term: {what}."))
        out.append((total + term, f"counts a term twice: {what}."))
    return out


def _diagnose(name, L, R, diag, wrong):
    """Explain the learner's ``L`` against the reference ``R``: (hint, name of the gradient it follows from)."""
    if diag.explain is not None:
        hint = diag.explain(name, L, R)
        if hint:
            return hint, ""
    for cand, hint in diag.suspects.get(name, ()):
        if _same(L, cand):
            return hint, ""
    for up in diag.deps.get(name, ()):
        if up in wrong:
            return f"computed from {up}, which is wrong.", up
    if not np.any(L) and np.any(R):
        return "all zeros: not computed yet, or never added to?", ""
    if _same(L, -R):
        return "the right size but the wrong sign: a minus sign somewhere (1 - z, h_prev - n ...)?", ""
    if L.ndim == 2 and L.shape[0] == L.shape[1] and _same(L, R.T):
        return ("the transpose of the right answer: transposed? For a row-vector layer y = x W, "
                "dW = xᵀ dy and dx = dy Wᵀ."), ""
    rr = float((R * R).sum())
    if rr > 0:
        c = float((L * R).sum()) / rr
        if abs(c - 1) > 1e-3 and _same(L, c * R):
            return f"the right answer times {c:.4g}: a factor too many or too few (a term added twice?).", ""
    parts = []
    blocks = diag.blocks.get(name)
    if blocks:
        bad = [(b, sl) for b, sl in blocks if not _same(L[..., sl], R[..., sl])]
        if bad and len(bad) < len(blocks):
            flipped = [b for b, sl in bad if _same(L[..., sl], -R[..., sl])]
            parts.append(f"wrong only in the columns of {', '.join(b for b, _ in bad)} (right in the others)"
                         + (f"; in those of {', '.join(flipped)} it has the wrong sign." if flipped else "."))
            parts.extend(diag.block_hints[b] for b, _ in bad if b in diag.block_hints)
    hint = diag.hints.get(name)
    if callable(hint):
        hint = hint(wrong)
    if hint:
        parts.append(hint)
    return " ".join(parts) or "recheck its derivation term by term.", ""


def _shape_hint(got, want, batch):
    said = f"shape {tuple(got)}, but it must be {tuple(want)}"
    if tuple(got) == tuple(want)[::-1]:
        return f"{said}: transposed?"
    if len(got) == len(want) + 1 and got[0] == batch and tuple(got[1:]) == tuple(want):
        return f"{said}: sum over the batch (axis 0)."
    return f"{said}."


# ============================================================================ the exercises

def _draw(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def _params(rng, cell, D, H, reset_after=False):
    return {k: _draw(rng, *s, scale=0.5) for k, s in param_shapes(cell, D, H, "sigmoid", reset_after).items()}


def _per_sample(B, backward_of_sample):
    """Stack ``backward_of_sample(b)`` (a dict of gradients of sample b alone) over the batch.

    A bias's gradient summed over a batch of one is that sample's pre-activation gradient:
    this gives the per-sample intermediate gradients from the library's public backward pass.
    """
    rows = [backward_of_sample(b) for b in range(B)]
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


# ---------------------------------------------------------------------------- (a) the gate

def _gate_make(rng):
    B, D, H = 3, 4, 3
    inputs = {"x": _draw(rng, B, D), "h_prev": _draw(rng, B, H, scale=0.5),
              "W_xa": _draw(rng, D, D, scale=0.5), "W_ha": _draw(rng, H, D, scale=0.5), "b_a": _draw(rng, D, scale=0.5)}
    return inputs, _draw(rng, B, D), None


def _gate_outputs(inp, extra):
    return forward_gate(inp["x"], inp["h_prev"], inp["W_xa"], inp["W_ha"], inp["b_a"])[0]


def _gate_call(fn, inp, dout, extra):
    _, cache = forward_gate(inp["x"], inp["h_prev"], inp["W_xa"], inp["W_ha"], inp["b_a"])
    return fn(dout.copy(), cache)


def _gate_reference(inp, dout, extra):
    _, cache = forward_gate(inp["x"], inp["h_prev"], inp["W_xa"], inp["W_ha"], inp["b_a"])
    dx, dh_prev, grads = gate_step_backward(dout, cache)
    return {"x": dx, "h_prev": dh_prev, **grads}


def _gate_diagnosis(inp, dout, extra, ref):
    x, h, W_xa, W_ha = inp["x"], inp["h_prev"], inp["W_xa"], inp["W_ha"]
    _, cache = forward_gate(x, h, W_xa, W_ha, inp["b_a"])
    a = cache.a
    dx_direct = dout * a                               # the direct path of x̃ = a ⊙ x
    dz = dout * x * a * (1 - a)                        # dz: the gradient of the pre-activation
    suspects = {
        "dx": _missing_terms(ref["x"], [
            (dx_direct, "the direct path of x̃ = a ⊙ x, dx̃ ⊙ a"),
            (dz @ W_xa.T, "the path through the gate's pre-activation, dz W_xaᵀ")]) + [
            (dx_direct + dz @ W_xa, "the path through the pre-activation uses W_xa where W_xaᵀ belongs: transposed?"),
            (dout + dz @ W_xa.T, "the direct path of x̃ = a ⊙ x is dx̃ ⊙ a, not dx̃.")],
        "db_a": [(((dout * a) * a * (1 - a)).sum(0), "da = dx̃ ⊙ x (x̃ = a ⊙ x), not dx̃ ⊙ a."),
                 ((dout * x * a).sum(0), "the sigmoid's derivative is a ⊙ (1 - a), not a."),
                 ((dout * x).sum(0), "dz is missing the sigmoid's derivative a ⊙ (1 - a).")],
        "dW_xa": [((cache.a * x).T @ dz, "W_xa multiplies the raw input x, not the gated x̃.")],
    }

    deps = {k: ("db_a",) for k in ("dx", "dh_prev", "dW_xa", "dW_ha")}
    hints = {"db_a": "dz = (dx̃ ⊙ x) ⊙ a ⊙ (1 - a), then the sum over the batch.",
             "dx": "dz is right (db_a is); x reaches x̃ = a ⊙ x by two paths: directly, and through z.",
             "dh_prev": "dz is right (db_a is): dh_prev = dz W_haᵀ.",
             "dW_xa": "dz is right (db_a is), so the error is in the product: dW_xa = xᵀ dz.",
             "dW_ha": "dz is right (db_a is), so the error is in the product: dW_ha = h_prevᵀ dz."}
    return _Diagnosis(suspects, deps, hints)


# ---------------------------------------------------------------------------- (b) a GRU step

def _gru_make(rng):
    B, D, H = 3, 4, 3
    inputs = {"x": _draw(rng, B, D), "h_prev": _draw(rng, B, H, scale=0.5), **_params(rng, "gru", D, H, True)}
    return inputs, _draw(rng, B, H), None


def _gru_outputs(inp, extra):
    return forward_gru_step(inp["x"], inp["h_prev"], _only_params(inp))[0]


def _only_params(inp):
    return {k: v for k, v in inp.items() if k not in ("x", "h_prev", "c_prev", "h0")}


def _gru_call(fn, inp, dout, extra):
    _, cache = forward_gru_step(inp["x"], inp["h_prev"], _only_params(inp))
    return fn(dout.copy(), cache)


def _gru_library(x, h, params, dh):
    _, cache = gru_step_forward(x, h, params, attention="sigmoid", reset_after=True)
    return gru_step_backward(dh, cache)


def _gru_reference(inp, dout, extra):
    dx, dh_prev, grads = _gru_library(inp["x"], inp["h_prev"], _only_params(inp), dout)
    return {"x": dx, "h_prev": dh_prev, **grads}


def _gru_diagnosis(inp, dout, extra, ref):
    x, h, p = inp["x"], inp["h_prev"], _only_params(inp)
    H = h.shape[1]
    _, c = forward_gru_step(x, h, p)
    per = _per_sample(x.shape[0], lambda b: _gru_library(x[b:b + 1], h[b:b + 1], p, dout[b:b + 1])[2])
    dG, dza = per["b"], per["b_a"]                         # pre-activation gradients [r z n] and the gate's
    dn_pre = dG[:, 2 * H:]
    W_hn = p["W_h"][:, 2 * H:]
    dx_att = dG @ p["W_x"].T
    dx_direct, dx_gate = dx_att * c.a, dza @ p["W_xa"].T
    dh_terms = [(dout * c.z, "the direct path of h = ... + z ⊙ h_prev, dh ⊙ z"),
                (dG[:, :2 * H] @ p["W_h"][:, :2 * H].T, "the paths through r and z, [dr dz]_pre W_hrzᵀ"),
                ((dn_pre * c.r) @ W_hn.T, "the path through the candidate, (dn_pre ⊙ r) W_hnᵀ"),
                (dza @ p["W_ha"].T, "the path through the attention gate, dz_a W_haᵀ")]
    suspects = {
        "dx": _missing_terms(ref["x"], [(dx_direct, "the direct path of x̃ = a ⊙ x, dx̃ ⊙ a"),
                                        (dx_gate, "the path through the attention gate, dz_a W_xaᵀ")]) + [
            (dx_direct + dza @ p["W_xa"], "the gate's path uses W_xa where W_xaᵀ belongs: transposed?"),
            (dx_att + dx_gate, "the direct path of x̃ = a ⊙ x is dx̃ ⊙ a, not dx̃.")],
        "dh_prev": _missing_terms(ref["h_prev"], dh_terms) + [
            (ref["h_prev"] - (dn_pre * c.r) @ W_hn.T + dn_pre @ W_hn.T,
             "the candidate's path must go through r: (dn_pre ⊙ r) W_hnᵀ, since n = tanh(... + r ⊙ (h_prev W_hn + b_hn)).")],
        "dW_x": [(x.T @ dG, "you multiplied by x, but the GRU's gates see the gated input x̃ = a ⊙ x: dW_x = x̃ᵀ dG.")],
        "dW_h": [(h.T @ dG, "the candidate's block must use dn_pre ⊙ r: n = tanh(... + r ⊙ (h_prev W_hn + b_hn)).")],
        "db_hn": [(dn_pre.sum(0), "b_hn sits inside r ⊙ (h_prev W_hn + b_hn): multiply dn_pre by r before summing.")],
        "dW_xa": [(c.x_att.T @ dza, "W_xa multiplies the raw input x, not x̃.")],
    }
    blocks = {k: [("r", slice(0, H)), ("z", slice(H, 2 * H)), ("n", slice(2 * H, 3 * H))] for k in ("db", "dW_x", "dW_h")}
    block_hints = {
        "r": "Check dr: r only enters n = tanh(... + r ⊙ hn), so dr = dn_pre ⊙ hn, then times r ⊙ (1 - r).",
        "z": "Check dz: from h = (1 - z) ⊙ n + z ⊙ h_prev, dz = dh ⊙ (h_prev - n), then times z ⊙ (1 - z).",
        "n": "Check dn: dn = dh ⊙ (1 - z), then times the tanh's derivative 1 - n².",
    }

    deps = {"db_a": ("db",), "dW_x": ("db",), "dW_h": ("db",), "db_hn": ("db",),
            "dW_xa": ("db_a",), "dW_ha": ("db_a",), "dx": ("db", "db_a"), "dh_prev": ("db", "db_a")}
    hints = {
        "db": "db is the sum over the batch of dG = [dr, dz, dn] before their activations.",
        "db_a": "dG is right (db is): dx̃ = dG W_xᵀ, then dz_a = (dx̃ ⊙ x) ⊙ a ⊙ (1 - a).",
        "dW_x": "dG is right (db is), so the error is in the product: dW_x = x̃ᵀ dG.",
        "dW_h": "dG is right (db is): dW_h = h_prevᵀ [dr_pre, dz_pre, dn_pre ⊙ r].",
        "db_hn": "b_hn sits inside r ⊙ (h_prev W_hn + b_hn): db_hn is the batch sum of dn_pre ⊙ r.",
        "dW_xa": "dz_a is right (db_a is): dW_xa = xᵀ dz_a.",
        "dW_ha": "dz_a is right (db_a is): dW_ha = h_prevᵀ dz_a.",
        "dh_prev": ("dG and dz_a are right (db and db_a are); h_prev reaches h by four paths: z ⊙ h_prev, "
                    "the products h_prev W_hr and h_prev W_hz, r ⊙ (h_prev W_hn + b_hn), and the gate's h_prev W_ha."),
        "dx": "dG and dz_a are right (db and db_a are); x reaches x̃ = a ⊙ x directly and through the gate's z_a.",
    }
    return _Diagnosis(suspects, deps, hints, blocks, block_hints)


# ---------------------------------------------------------------------------- (c) an LSTM step

def _lstm_make(rng):
    B, D, H = 3, 4, 3
    inputs = {"x": _draw(rng, B, D), "h_prev": _draw(rng, B, H, scale=0.5), "c_prev": _draw(rng, B, H, scale=0.5),
              **_params(rng, "lstm", D, H)}
    return inputs, (_draw(rng, B, H), _draw(rng, B, H)), None


def _lstm_outputs(inp, extra):
    return forward_lstm_step(inp["x"], (inp["h_prev"], inp["c_prev"]), _only_params(inp))[0]


def _lstm_call(fn, inp, dout, extra):
    _, cache = forward_lstm_step(inp["x"], (inp["h_prev"], inp["c_prev"]), _only_params(inp))
    return fn((dout[0].copy(), dout[1].copy()), cache)


def _lstm_library(x, h, c, params, dh, dc):
    _, cache = lstm_step_forward(x, (h, c), params, attention="sigmoid")
    return lstm_step_backward((dh, dc), cache)


def _lstm_reference(inp, dout, extra):
    dx, (dh_prev, dc_prev), grads = _lstm_library(inp["x"], inp["h_prev"], inp["c_prev"], _only_params(inp), *dout)
    return {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, **grads}


def _lstm_diagnosis(inp, dout, extra, ref):
    x, h, cp, p = inp["x"], inp["h_prev"], inp["c_prev"], _only_params(inp)
    dh, dc = dout
    H = h.shape[1]
    _, c = forward_lstm_step(x, (h, cp), p)
    per = _per_sample(x.shape[0], lambda b: _lstm_library(x[b:b + 1], h[b:b + 1], cp[b:b + 1], p,
                                                           dh[b:b + 1], dc[b:b + 1])[2])
    dG, dza = per["b"], per["b_a"]
    dc_total = dc + dh * c.o * (1 - c.tanh_c ** 2)
    dx_att = dG @ p["W_x"].T
    dx_direct, dx_gate = dx_att * c.a, dza @ p["W_xa"].T
    suspects = {
        "dc_prev": [(dc * c.f, "the cell's gradient must include the path through h = o ⊙ tanh(c): "
                               "dc_total = dc + dh ⊙ o ⊙ (1 - tanh²(c)), and dc_prev = dc_total ⊙ f."),
                    (dc_total, "c = f ⊙ c_prev + i ⊙ g: dc_prev = dc_total ⊙ f (the f is missing).")],
        "dx": _missing_terms(ref["x"], [(dx_direct, "the direct path of x̃ = a ⊙ x, dx̃ ⊙ a"),
                                        (dx_gate, "the path through the attention gate, dz_a W_xaᵀ")]) + [
            (dx_direct + dza @ p["W_xa"], "the gate's path uses W_xa where W_xaᵀ belongs: transposed?"),
            (dx_att + dx_gate, "the direct path of x̃ = a ⊙ x is dx̃ ⊙ a, not dx̃.")],
        "dh_prev": _missing_terms(ref["h_prev"], [
            (dG @ p["W_h"].T, "the path through the gates' pre-activations, dG W_hᵀ"),
            (dza @ p["W_ha"].T, "the path through the attention gate, dz_a W_haᵀ")]),
        "dW_x": [(x.T @ dG, "you multiplied by x, but the LSTM's gates see the gated input x̃ = a ⊙ x: dW_x = x̃ᵀ dG.")],
        "dW_xa": [(c.x_att.T @ dza, "W_xa multiplies the raw input x, not x̃.")],
    }
    blocks = {k: [("i", slice(0, H)), ("f", slice(H, 2 * H)), ("g", slice(2 * H, 3 * H)), ("o", slice(3 * H, 4 * H))]
              for k in ("db", "dW_x", "dW_h")}
    block_hints = {
        "i": "Check di: from c = f ⊙ c_prev + i ⊙ g, di = dc_total ⊙ g, then times i ⊙ (1 - i).",
        "f": "Check df: df = dc_total ⊙ c_prev, then times f ⊙ (1 - f).",
        "g": "Check dg: dg = dc_total ⊙ i, then times the tanh's derivative 1 - g².",
        "o": "Check do: from h = o ⊙ tanh(c), do = dh ⊙ tanh(c), then times o ⊙ (1 - o).",
    }

    def db_hint(wrong):
        if "dc_prev" in wrong:
            return ("dc_prev is wrong too: both use the cell's gradient dc_total = dc + dh ⊙ o ⊙ (1 - tanh²(c)), "
                    "the incoming dc plus the path through h = o ⊙ tanh(c).")
        return "db is the sum over the batch of dG = [di, df, dg, do] before their activations."

    deps = {"db_a": ("db",), "dW_x": ("db",), "dW_h": ("db",), "dW_xa": ("db_a",), "dW_ha": ("db_a",),
            "dx": ("db", "db_a"), "dh_prev": ("db", "db_a")}
    hints = {
        "db": db_hint,
        "dc_prev": "c = f ⊙ c_prev + i ⊙ g, so dc_prev = dc_total ⊙ f, with dc_total = dc + dh ⊙ o ⊙ (1 - tanh²(c)).",
        "db_a": "dG is right (db is): dx̃ = dG W_xᵀ, then dz_a = (dx̃ ⊙ x) ⊙ a ⊙ (1 - a).",
        "dW_x": "dG is right (db is), so the error is in the product: dW_x = x̃ᵀ dG.",
        "dW_h": "dG is right (db is), so the error is in the product: dW_h = h_prevᵀ dG.",
        "dW_xa": "dz_a is right (db_a is): dW_xa = xᵀ dz_a.",
        "dW_ha": "dz_a is right (db_a is): dW_ha = h_prevᵀ dz_a.",
        "dh_prev": "dG and dz_a are right (db and db_a are); h_prev reaches the step through W_h and through the gate's W_ha.",
        "dx": "dG and dz_a are right (db and db_a are); x reaches x̃ = a ⊙ x directly and through the gate's z_a.",
    }
    return _Diagnosis(suspects, deps, hints, blocks, block_hints)


# ---------------------------------------------------------------------------- (d) a masked sequence

def _masked_make(rng):
    T, B, D, H = 5, 3, 4, 3
    mask = np.ones((T, B))
    mask[3:, 1] = 0            # sequence 1 ends after 3 steps (padded tail)
    mask[1:3, 2] = 0           # sequence 2 has a hole of two padded steps
    inputs = {"x": _draw(rng, T, B, D), "h0": _draw(rng, B, H, scale=0.5), **_params(rng, "rnn", D, H)}
    return inputs, _draw(rng, T, B, H), mask


def _masked_outputs(inp, mask):
    return forward_masked_rnn(inp["x"], _only_params(inp), mask, inp["h0"])[0]


def _masked_call(fn, inp, dout, mask):
    _, cache = forward_masked_rnn(inp["x"], _only_params(inp), mask, inp["h0"])
    return fn(dout.copy(), cache)


def _masked_reference(inp, dout, mask):
    _, cache = rnn_forward(inp["x"], _only_params(inp), inp["h0"], mask, attention="sigmoid")
    dx, dh0, grads = rnn_backward(dout, cache)
    return {"x": dx, "h0": dh0, **grads}


def _masked_diagnosis(inp, dout, mask, ref):
    padded_seqs = (mask == 0).any(axis=0)                       # (B,) sequences with padding

    def where_wrong(L, R):
        """(T, B) or (B,) booleans: where L differs from R (measured against R's scale)."""
        scale = max(np.abs(R).max(), 1e-300)
        return np.abs(L - R).max(axis=-1) / scale > _MATCH

    carry = ("only sequences with padding are wrong, and not at their padded steps: did you carry the "
             "gradient through masked steps? Where m_t = 0, h_t = h_{t-1}, so dh_{t-1} receives (1 - m_t) ⊙ dh_t "
             "unchanged, besides what the cell's backward gives.")
    into_pad = ("not zero at padded steps, where the cell never ran: give the cell's backward m_t ⊙ dh_t, "
                "so that nothing flows into x (or the weights) at a padded step.")
    core = ("wrong in the sequence without padding too, so the error is not in the masking: at every step "
            "dh_t = dhs[t] + the dh_prev that step t+1 gave back; walk t from T-1 down to 0.")

    def explain(name, L, R):
        if name not in ("dx", "dh0"):
            return None
        bad = where_wrong(L, R)
        if name == "dx":
            if (bad & (mask == 0)).any():
                return into_pad
            bad = bad.any(axis=0)
        if not bad.any():
            return None
        if (bad & ~padded_seqs).any():
            return core
        return carry

    params = [_label(k) for k in param_shapes("rnn", 1, 1, "sigmoid")]
    deps = {k: ("dx", "dh0") for k in params}
    summed = ("dx and dh0 are right, so every step's dh_t is: the parameter gradients must be summed over "
              "all steps (grads[k] += step_grads[k]), not overwritten.")
    hints = {k: summed for k in params}
    return _Diagnosis({}, deps, hints, explain=explain)


# ---------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class _Exercise:
    name: str
    title: str
    fn_name: str
    returns: str          # the return structure, in words
    layout: tuple         # input names in the order of the return structure; a tuple for a pair; 'grads'
    make: Callable
    outputs: Callable
    call: Callable
    reference: Callable
    diagnosis: Callable


EXERCISES = {
    "gate": _Exercise("gate", "(a) the attention gate", "gate_backward", "(dx, dh_prev, grads)",
                      ("x", "h_prev", "grads"), _gate_make, _gate_outputs, _gate_call, _gate_reference,
                      _gate_diagnosis),
    "gru_step": _Exercise("gru_step", "(b) a GRU step", "gru_step_backward", "(dx, dh_prev, grads)",
                          ("x", "h_prev", "grads"), _gru_make, _gru_outputs, _gru_call, _gru_reference,
                          _gru_diagnosis),
    "lstm_step": _Exercise("lstm_step", "(c) an LSTM step", "lstm_step_backward", "(dx, (dh_prev, dc_prev), grads)",
                           ("x", ("h_prev", "c_prev"), "grads"), _lstm_make, _lstm_outputs, _lstm_call,
                           _lstm_reference, _lstm_diagnosis),
    "masked_rnn": _Exercise("masked_rnn", "(d) a masked sequence", "masked_rnn_backward", "(dx, dh0, grads)",
                            ("x", "h0", "grads"), _masked_make, _masked_outputs, _masked_call, _masked_reference,
                            _masked_diagnosis),
}


class _Problem:
    """One exercise's random problem, with its numerical and reference gradients (computed once)."""

    def __init__(self, ex, seed):
        self.ex = ex
        self.inputs, self.dout, self.extra = ex.make(np.random.default_rng(seed))
        self.param_names = [k for k in self.inputs if k not in ("x", "h_prev", "c_prev", "h0")]
        self._numerical = self._reference = self._diagnosis = None

    @property
    def numerical(self):
        if self._numerical is None:
            fn = lambda inp: self.ex.outputs(inp, self.extra)  # noqa: E731
            self._numerical = {k: numerical_vjp(fn, self.inputs, k, self.dout) for k in self.inputs}
        return self._numerical

    @property
    def reference(self):
        if self._reference is None:
            self._reference = self.ex.reference(self.inputs, self.dout, self.extra)
        return self._reference

    @property
    def diagnosis(self):
        if self._diagnosis is None:
            self._diagnosis = self.ex.diagnosis(self.inputs, self.dout, self.extra, self.reference)
        return self._diagnosis

    def copy_inputs(self):
        return {k: v.copy() for k, v in self.inputs.items()}


_PROBLEMS = {}


def _problem(name, seed):
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; the exercises are {list(EXERCISES)}")
    key = (name, seed)
    if key not in _PROBLEMS:
        _PROBLEMS[key] = _Problem(EXERCISES[name], seed)
    return _PROBLEMS[key]


def example(exercise, seed=0):
    """The arguments the checker passes to the learner's function, to try it by hand.

    'gate': ``(dx_att, cache)``; 'gru_step': ``(dh, cache)``; 'lstm_step': ``((dh, dc), cache)``;
    'masked_rnn': ``(dhs, cache)``. Returns fresh copies each time.
    """
    p = _problem(exercise, seed)
    captured = []
    p.ex.call(lambda *args: captured.append(args), p.copy_inputs(), p.dout, p.extra)
    return captured[0]


def _label(key):
    return "d" + key


# ============================================================================ checking

class _Malformed(Exception):
    pass


def _unpack(ex, out, param_names):
    """The learner's return value -> {input name: gradient or None}; _Malformed for a wrong structure."""
    want = ex.returns
    if not isinstance(out, (tuple, list)) or len(out) != len(ex.layout):
        got = f"a {type(out).__name__}" + (f" of {len(out)} items" if isinstance(out, (tuple, list)) else "")
        raise _Malformed(f"{ex.fn_name} must return a tuple {want}, got {got}.")
    grads = {}
    for item, spec in zip(out, ex.layout):
        if spec == "grads":
            if not isinstance(item, dict):
                raise _Malformed(f"the last item of {want} must be a dict of parameter gradients, "
                                 f"got {type(item).__name__}.")
            grads.update((k, item[k]) for k in param_names if k in item)
            extra = sorted(set(item) - set(param_names))
            if extra:
                raise _Malformed(f"grads has unexpected keys {extra}; the parameters are {param_names}.")
        elif isinstance(spec, tuple):
            if not isinstance(item, (tuple, list)) or len(item) != len(spec):
                names = ", ".join(_label(s) for s in spec)
                raise _Malformed(f"the second item of {want} must be the pair ({names}).")
            grads.update(zip(spec, item))
        else:
            grads[spec] = item
    return grads


def _where(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _where_worst(L, N):
    """Where the learner's gradient ``L`` is farthest from the numerical ``N``, in words."""
    j = np.unravel_index(int(np.abs(L - N).argmax()), L.shape)
    return f"at {_where(j)}: yours {L[j]:.6g}, numerical {N[j]:.6g}"


def check(exercise, fn, seed=0, tol=TOLERANCE):
    """Check the learner's backward function ``fn`` for ``exercise`` ('gate', 'gru_step', 'lstm_step',
    'masked_rnn'); returns an ``ExerciseReport`` (it shows as a table in a notebook)."""
    p = _problem(exercise, seed)
    ex = p.ex
    try:
        out = ex.call(fn, p.copy_inputs(), p.dout, p.extra)
    except NotImplementedError:
        report = ExerciseReport(exercise, "not implemented",
                                message=f"Write the body of {ex.fn_name} in the cell marked YOUR CODE HERE, "
                                        "run that cell, then run this check again.", tol=tol)
    except Exception as exc:  # the learner's code failed: say where and what
        report = ExerciseReport(exercise, "error", message=_explain_exception(exc), tol=tol)
    else:
        report = _compare(p, out, tol)
    _LATEST[exercise] = report.status
    return report


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _explain_exception(exc):
    """The exception of the learner's code, with the learner's line that raised it and a hint."""
    frames = traceback.extract_tb(exc.__traceback__)
    theirs = [f for f in frames if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)] or frames
    last = theirs[-1]
    where = f"line {last.lineno}" + (f": {last.line.strip()}" if last.line else "")
    text = f"{type(exc).__name__}: {exc}\n  at {where}"
    if isinstance(exc, ValueError) and "matmul" in str(exc):
        text += ("\n  A matrix product has mismatched shapes: check which side needs a transpose "
                 "(row vectors: for y = x W, dx = dy Wᵀ and dW = xᵀ dy).")
    elif isinstance(exc, ValueError) and "broadcast" in str(exc):
        text += "\n  Two arrays of different shapes met element-wise: print the shapes of both sides."
    elif isinstance(exc, (AttributeError, KeyError)):
        text += "\n  Look at the cache's fields (print(cache._fields)) and the parameter names (cache.params.keys())."
    return text


def _compare(p, out, tol):
    ex = p.ex
    try:
        got = _unpack(ex, out, p.param_names)
    except _Malformed as exc:
        return ExerciseReport(ex.name, "failed", message=str(exc), tol=tol)
    ref, num = p.reference, p.numerical
    B = p.inputs["x"].shape[-2]                                    # x is (B, D), or (T, B, D)
    rows, arrays = {}, {}
    for key in p.inputs:
        want = tuple(p.inputs[key].shape)
        g = got.get(key)
        if g is None:
            rows[key] = GradientResult(_label(key), want, float("nan"), False,
                                       "missing: your function returned None." if key in got else
                                       f"missing from grads: add grads['{key}'].")
            continue
        try:
            g = np.asarray(g, dtype=np.float64)
        except (TypeError, ValueError):
            rows[key] = GradientResult(_label(key), want, float("nan"), False, "not an array of numbers.")
            continue
        if g.shape != want:
            rows[key] = GradientResult(_label(key), want, float("nan"), False, _shape_hint(g.shape, want, B))
            continue
        if not np.isfinite(g).all():
            rows[key] = GradientResult(_label(key), want, float("nan"), False, "holds NaN or inf.")
            continue
        arrays[key] = g
        err = relative_error(g, num[key])
        rows[key] = GradientResult(_label(key), want, err, err <= tol, "")
    wrong = {r.name for r in rows.values() if not r.passed}
    diag = p.diagnosis if wrong else None
    for key, g in arrays.items():
        if not rows[key].passed:
            hint, after = _diagnose(_label(key), g, ref[key], diag, wrong)
            rows[key] = rows[key]._replace(hint=hint, after=after, where=_where_worst(g, num[key]))
    results_ = [rows[k] for k in p.inputs]
    status = "passed" if all(r.passed for r in results_) else "failed"
    return ExerciseReport(ex.name, status, results_, tol=tol)


def check_gate(fn, seed=0):
    """Check ``gate_backward(dx_att, cache) -> (dx, dh_prev, grads)``; see ``check``."""
    return check("gate", fn, seed)


def check_gru_step(fn, seed=0):
    """Check ``gru_step_backward(dh, cache) -> (dx, dh_prev, grads)``; see ``check``."""
    return check("gru_step", fn, seed)


def check_lstm_step(fn, seed=0):
    """Check ``lstm_step_backward((dh, dc), cache) -> (dx, (dh_prev, dc_prev), grads)``; see ``check``."""
    return check("lstm_step", fn, seed)


def check_masked_rnn(fn, seed=0):
    """Check ``masked_rnn_backward(dhs, cache) -> (dx, dh0, grads)``; see ``check``."""
    return check("masked_rnn", fn, seed)
