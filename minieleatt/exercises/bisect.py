"""The time bisector: when a sequence's backward pass is wrong, say *when*, and which carried term.

"The step check passes, the sequence check fails, and nothing says where": the bisector answers
that. Given the student's sequence functions (and knowing their step is right), it

1. runs them on the first 1, 2, ..., T steps of the problem and compares each with the
   reference: the first length L that goes wrong isolates the step where the error enters;
2. at L = 1 there is nothing carried: the loop hands the step the wrong gradient, or returns the
   wrong one;
3. at L >= 2 it probes with a gradient on the last step only (dhs[t] = 0 before it): if the probe
   is right, the loop forgets to add dhs[t] at the earlier steps; if it is wrong, the gradient
   that step L-1 sends back to step L-2 is wrong, and the bisector recovers what the student's loop
   gave step L-2 (the step's backward is linear in what it receives: a least-squares solve per
   sequence) and compares it with the right ``dh_next`` (and, for the LSTM, ``dc_next``): not carried,
   carried without the gate's share of dh_prev (dz_a W_haᵀ), only the gate's share, the step's own
   incoming dh passed on instead of its dh_prev, or carried twice;
4. when only the weights' gradients are wrong: not summed over the steps (the first or the last
   step's alone, or their mean).

It works on the library's reference (``minieleatt.functional``) for the right answers; the student's
code is called through ``Student.call``, like everywhere else in the checker.
"""

from typing import NamedTuple

import numpy as np

from ..functional import lstm_backward, lstm_forward, lstm_step_backward, rnn_backward, rnn_forward, \
    rnn_step_backward, scan_backward
from .diagnose import same
from .parts import copy
from .report import Finding


class SequenceProblem(NamedTuple):
    """A sequence to bisect, in the reference's terms."""

    cell: str            # 'rnn' or 'lstm'
    x: object            # (T, B, D)
    params: dict
    state0: object       # h0, or (h0, c0)
    mask: object         # (T, B) or None
    dhs: object          # (T, B, H)
    dstate_T: object     # the gradient on the final state, or None
    attention: object


def _reference(prob, L, dhs=None, dstate_T="same"):
    """The reference's gradients for the first L steps: dict dx, dh0 (dc0), d<param>."""
    dhs = prob.dhs[:L] if dhs is None else dhs
    dT = prob.dstate_T if dstate_T == "same" else dstate_T
    mask = None if prob.mask is None else prob.mask[:L]
    if prob.cell == "lstm":
        _, cache = lstm_forward(prob.x[:L], prob.params, prob.state0, mask, prob.attention)
        dx, (dh0, dc0), grads = lstm_backward(dhs, cache, dT)
        return {"dx": dx, "dh0": dh0, "dc0": dc0, **{"d" + k: v for k, v in grads.items()}}, cache
    _, cache = rnn_forward(prob.x[:L], prob.params, prob.state0, mask, prob.attention)
    dx, dh0, grads = rnn_backward(dhs, cache, dT)
    return {"dx": dx, "dh0": dh0, **{"d" + k: v for k, v in grads.items()}}, cache


def _state_at(prob, cache, t):
    """The reference's state after step t (t = -1: the initial state)."""
    if t < 0:
        return prob.state0
    steps = cache.steps
    if prob.cell == "lstm":
        # the state after step t is the next step's (h_prev, c_prev); after the last, the final state
        return (steps[t + 1].h_prev, steps[t + 1].c_prev) if t + 1 < len(steps) else cache.final_state
    return steps[t + 1].h_prev if t + 1 < len(steps) else cache.final_state


def _carry(prob, ref_cache, t, dh):
    """What step t sends back to step t-1 for an incoming gradient ``dh`` on h_t (dc = 0): the reference's
    dstate0 of the one-step sequence that starts from the state after step t-1. Also the cell's and the
    gate's shares of dh_prev (without the carry past a padded step)."""
    state = _state_at(prob, ref_cache, t - 1)
    mask = None if prob.mask is None else prob.mask[t:t + 1]
    one = prob._replace(x=prob.x[t:t + 1], state0=state, mask=mask)
    if prob.cell == "lstm":
        _, cache = lstm_forward(one.x, one.params, state, mask, prob.attention)
        _, total, _ = lstm_backward(dh[None], cache, None)
        step = cache.steps[0]
        m = 1.0 if mask is None else mask[0][:, None]
        _, (cell_h, _), _ = lstm_step_backward((m * dh, np.zeros_like(dh)), step._replace(gate=None))
        return total, cell_h
    _, cache = rnn_forward(one.x, one.params, state, mask, prob.attention)
    _, total, _ = rnn_backward(dh[None], cache, None)
    step = cache.steps[0]
    m = 1.0 if mask is None else mask[0][:, None]
    _, cell_h, _ = rnn_step_backward(m * dh, step._replace(gate=None))
    return total, cell_h


def _recover(prob, ref_cache, t, dx_t, dstate0=None):
    """What the student's loop gave step t: solve dx_t = step_t.backward(d)[dx] for d, per sequence.

    Returns (dh, dc or None, ok): ok is False when the solve is not determined (too few equations, or
    the student's dx_t is not of that form)."""
    step = ref_cache.steps[t]
    B, H = prob.dhs.shape[1], prob.dhs.shape[2]
    K = 2 * H if prob.cell == "lstm" else H
    columns_dx, columns_d0 = [], []
    for j in range(K):
        e = np.zeros((B, K))
        e[:, j] = 1.0
        if prob.cell == "lstm":
            dx, (dh0, dc0), _ = lstm_step_backward((e[:, :H], e[:, H:]), step)
            d0 = np.concatenate([dh0, dc0], axis=1)
        else:
            dx, d0, _ = rnn_step_backward(e, step)
        columns_dx.append(dx)
        columns_d0.append(d0)
    out = np.zeros((B, K))
    ok = True
    for b in range(B):
        M = np.stack([c[b] for c in columns_dx], axis=1)               # (D, K)
        rhs = dx_t[b]
        if dstate0 is not None:
            M = np.concatenate([M, np.stack([c[b] for c in columns_d0], axis=1)])
            rhs = np.concatenate([rhs, dstate0[b]])
        if np.linalg.matrix_rank(M) < K:
            ok = False
            continue
        sol, *_ = np.linalg.lstsq(M, rhs, rcond=None)
        if not np.allclose(M @ sol, rhs, rtol=1e-6, atol=1e-9 * max(1.0, np.abs(rhs).max())):
            ok = False
        out[b] = sol
    return out[:, :H], (out[:, H:] if prob.cell == "lstm" else None), ok


def bisect(prob, run_student, names):
    """Findings about the student's sequence backward.

    run_student(L, dhs, dstate_T) -> dict of the student's gradients (keys of ``names``) for the first
    L steps (it may raise ``Stop``). ``names``: {'dx': 'dx', 'dh0': 'dh0', ...}: how the part names
    the reference's tensors in its report.
    """
    T = prob.x.shape[0]
    first, wrong = None, []
    for L in range(1, T + 1):
        ref, _ = _reference(prob, L)
        got = run_student(L, prob.dhs[:L].copy(), copy(prob.dstate_T))
        wrong = [k for k in ref if k in got and not (got[k] is not None and np.shape(got[k]) == ref[k].shape
                                                   and same(np.asarray(got[k], dtype=float), ref[k]))]
        if wrong:
            first = L
            break
    if first is None:
        return []
    L = first
    shown = ", ".join(names.get(k, k) for k in wrong)
    ref, ref_cache = _reference(prob, L)
    got = run_student(L, prob.dhs[:L].copy(), copy(prob.dstate_T))
    param_rows = [k for k in ref if k not in ("dx", "dh0", "dc0")]
    state_rows = [k for k in ("dh0", "dc0") if k in ref]
    if L == 1:
        return [_one_step(prob, ref, got, wrong, names)]
    if set(wrong) <= set(param_rows):
        return [_summing(prob, got, wrong, L, names)]
    # a probe: the gradient on the last step only
    dhs = np.zeros_like(prob.dhs[:L])
    dhs[L - 1] = prob.dhs[L - 1]
    zero_T = None if prob.dstate_T is None else copy(prob.dstate_T) * 0 if not isinstance(prob.dstate_T, tuple) \
        else tuple(d * 0 for d in prob.dstate_T)
    ref_p, _ = _reference(prob, L, dhs, zero_T)
    got_p = run_student(L, dhs.copy(), zero_T)
    probe_ok = all(got_p.get(k) is not None and np.shape(got_p[k]) == ref_p[k].shape
                   and same(np.asarray(got_p[k], dtype=float), ref_p[k]) for k in ref_p)
    head = f"{_right_up_to(L)}; from length {L} on, {shown} {'is' if len(wrong) == 1 else 'are'} wrong"
    if probe_ok:
        return [Finding(f"{head}, but only when the loss also has gradients on the earlier steps: at steps "
                        f"t < {L - 1}, dhs[t] is not added to what comes back from step t+1",
                        "at every step, dh_t = dhs[t] + dh_next, where dh_next is the dh_prev that step t+1 "
                        "returned; walk t from T-1 down to 0")]
    end = _counted_from_the_end(prob, run_student, L)
    if end is not None:
        return [end]
    t = L - 2
    dh_in = dhs[L - 1]
    total, cell = _carry(prob, ref_cache, L - 1, dh_in)
    right_h, right_c = (total if prob.cell == "lstm" else (total, None))
    gate = right_h - cell
    d0 = None
    if t == 0:
        d0 = np.concatenate([got_p["dh0"], got_p["dc0"]], axis=1) if prob.cell == "lstm" else got_p["dh0"]
        d0 = np.asarray(d0, dtype=float)
    valid = np.ones(dhs.shape[1], dtype=bool) if prob.mask is None else prob.mask[t] != 0
    rec_h, rec_c, ok = _recover(prob, ref_cache, t, np.asarray(got_p["dx"], dtype=float)[t], d0)
    where = f"{head}: the gradient that step {L - 1} sends back to step {t}"
    formula = ("dh_next = the dh_prev that step t+1 returns, and dh_t = dhs[t] + dh_next; dh_prev holds "
               "the cell's share (dpre W_hᵀ) and the gate's share (dz_a W_haᵀ)")
    if prob.cell == "lstm":
        formula += "; the cell state's gradient is carried too: dc_next = dc_prev of step t+1"
    if not ok or not valid.any():
        name = "dh_next" + (" or dc_next" if prob.cell == "lstm" else "")
        return [Finding(f"{where} ({name}) is wrong", formula)]
    v = valid

    def close(a, b, right):
        """a equal to b, measured against the size of the right answer."""
        scale = max(float(np.abs(right).max()), 1e-300)
        return float(np.abs(a - b).max()) / scale < 1e-6

    parts = []
    h_right = close(rec_h[v], right_h[v], right_h[v])
    if not h_right:
        cands = [(np.zeros_like(right_h), "is not carried at all (dh_next stays 0)"),
                 (cell, "misses the gate's share of dh_prev, dz_a W_haᵀ"),
                 (gate, "holds only the gate's share of dh_prev (the cell's dpre W_hᵀ is missing)"),
                 (dh_in, f"is the dh that step {L - 1} received, passed on unchanged, instead of the dh_prev it "
                         "returned"),
                 (2 * right_h, "is added twice")]
        what = next((w for c, w in cands if close(rec_h[v], c[v], right_h[v])), "is wrong")
        parts.append(f"dh_next {what}")
    c_right = prob.cell != "lstm" or close(rec_c[v], right_c[v], right_c[v])
    if not c_right:
        cands = [(np.zeros_like(right_c), "is not carried at all (dc_next stays 0)"),
                 (2 * right_c, "is added twice")]
        what = next((w for c, w in cands if close(rec_c[v], c[v], right_c[v])), "is wrong")
        parts.append(f"dc_next {what}")
    if not parts:
        return [Finding(f"{where} is right, yet {shown} {'is' if len(wrong) == 1 else 'are'} wrong: look at what "
                        f"your loop stores or returns at step {t}", formula)]
    right_parts = []
    if h_right:
        right_parts.append("dh_next is right")
    if prob.cell == "lstm" and c_right:
        right_parts.append("dc_next is right")
    return [Finding(f"{where}: " + "; ".join(parts + right_parts), formula)]


def _incoming(prob, L, dhs, dstate_T):
    """What each of the first L steps receives in the reference's backward pass (dh, or (dh, dc)), by t."""
    _, cache = _reference(prob, L, dhs, dstate_T)
    received = {}
    step_backward = lstm_step_backward if prob.cell == "lstm" else rnn_step_backward

    def recording(dstate, step_cache):
        received[id(step_cache)] = dstate
        return step_backward(dstate, step_cache)

    zeros = np.zeros_like(prob.dhs[0])
    dT = dstate_T if dstate_T is not None else ((zeros, zeros) if prob.cell == "lstm" else zeros)
    scan_backward(recording, dhs, cache, dT)
    return [received[id(c)] for c in cache.steps], cache


def _counted_from_the_end(prob, run_student, L):
    """The bisector's shorter sequences put an error that the student's loop anchors at the end (``t == T - 2``)
    at the wrong step. On the whole sequence, with a gradient on the last step only, recover what every step
    received from the student's dx; a Finding when the first wrong carry is not where the prefixes put it."""
    T = prob.x.shape[0]
    if L >= T or prob.mask is not None:
        return None
    dhs = np.zeros_like(prob.dhs)
    dhs[T - 1] = prob.dhs[T - 1]
    zero_T = None if prob.dstate_T is None else (tuple(d * 0 for d in prob.dstate_T)
                                                 if isinstance(prob.dstate_T, tuple) else prob.dstate_T * 0)
    try:
        got = run_student(T, dhs.copy(), zero_T)
    except Exception:  # noqa: BLE001 - Stop, or anything: no finding from here
        return None
    dx = got.get("dx")
    if dx is None or np.shape(dx) != prob.x.shape:
        return None
    dx = np.asarray(dx, dtype=float)
    received, cache = _incoming(prob, T, dhs, zero_T)
    for t in range(T - 2, -1, -1):
        rec_h, rec_c, ok = _recover(prob, cache, t, dx[t])
        if not ok:
            return None
        right_h, right_c = received[t] if prob.cell == "lstm" else (received[t], None)
        scale = max(float(np.abs(right_h).max()), 1e-300)
        c_right = right_c is None or float(np.abs(rec_c - right_c).max()) <= 1e-6 * max(float(np.abs(right_c).max()),
                                                                                        1e-300)
        if float(np.abs(rec_h - right_h).max()) / scale < 1e-6 and c_right:
            continue
        sender = t + 1
        if sender in (L - 1, T - 1):
            return None                      # where the prefixes put it, or at every step: the bisector's own words
        if float(np.abs(rec_h - 2 * right_h).max()) / scale < 1e-6:
            what = "is added twice"
        elif float(np.abs(rec_h).max()) / scale < 1e-6:
            what = "is not carried at all"
        else:
            what = "is wrong"
        return Finding(f"the gradient that step T-{T - sender} sends back to step T-{T - t} {what} (steps {sender} → {t} "
                       f"of this T = {T}); on shorter sequences the error moves with T (from length {L} on it "
                       f"shows as step {L - 1} → {L - 2}): your loop singles out a step counted from the end "
                       "(a condition or an index written with T)",
                       "every step is handled alike: dh_t = dhs[t] + dh_next, with dh_next the dh_prev that step t+1 "
                       "returned, for t = T-1 down to 0")
    return None


def _right_up_to(L):
    return "a sequence of one step is right" if L == 2 else f"sequences of 1 to {L - 1} steps are right"


def _one_step(prob, ref, got, wrong, names):
    shown = ", ".join(names.get(k, k) for k in wrong)
    extra = ""
    for key, carried in (("dh0", "dh_next"), ("dc0", "dc_next")):
        value = got.get(key)
        if key not in wrong or value is None or np.shape(value) != ref[key].shape:
            continue
        value = np.asarray(value, dtype=float)
        if not np.any(value):
            extra += (f"; {key} is all zeros: the loop never keeps the {key[:2]}_prev the step returns, so "
                      f"{carried} is never carried back either")
        elif key == "dh0":
            incoming = prob.dhs[0] + (0 if prob.dstate_T is None else
                                      (prob.dstate_T[0] if isinstance(prob.dstate_T, tuple) else prob.dstate_T))
            _, ref_cache = _reference(prob, 1)
            total, cell = _carry(prob, ref_cache, 0, incoming)
            total = total[0] if isinstance(total, tuple) else total
            if same(value, incoming):
                extra += "; your dh0 is the gradient the step received, not the dh_prev it returned"
            elif same(value, cell):
                extra += "; your dh0 misses the gate's share of dh_prev, dz_a W_haᵀ"
            elif same(value, total - cell):
                extra += "; your dh0 holds only the gate's share of dh_prev (the cell's dpre W_hᵀ is missing)"
    return Finding(f"already a sequence of one step is wrong ({shown}); nothing is carried in a single step, so the "
                   f"loop hands the step the wrong gradient or returns the wrong one{extra}",
                   "for one step: dx[0], dstate0, grads = step_backward(dhs[0] (+ the final state's gradient), "
                   "cache of step 0), and dstate0 is what the step returns")


def _per_step_grads(prob, L):
    """The reference's weight gradients of each of the first L steps, in order."""
    _, cache = _reference(prob, L)
    recorded = {}
    step_backward = lstm_step_backward if prob.cell == "lstm" else rnn_step_backward

    def recording(dstate, step_cache):
        out = step_backward(dstate, step_cache)
        recorded[id(step_cache)] = out[2]
        return out

    zeros = np.zeros_like(prob.dhs[0])
    dT = prob.dstate_T if prob.dstate_T is not None else ((zeros, zeros) if prob.cell == "lstm" else zeros)
    scan_backward(recording, prob.dhs[:L], cache, dT)
    return [recorded[id(c)] for c in cache.steps]


def _summing(prob, got, wrong, L, names):
    shown = ", ".join(names.get(k, k) for k in wrong)
    per_step = _per_step_grads(prob, L)
    keys = [k[1:] for k in wrong]
    mine = {k: np.asarray(got["d" + k], dtype=float) for k in keys}

    def matches(candidate):
        return all(np.shape(mine[k]) == candidate[k].shape and same(mine[k], candidate[k]) for k in keys)

    total = {k: sum(g[k] for g in per_step) for k in keys}
    if matches(per_step[0]):
        kind = "they hold only step 0's gradient: the sum is overwritten at every step of a loop that runs backward"
    elif matches(per_step[-1]):
        kind = f"they hold only step {L - 1}'s gradient: the sum is overwritten at every step"
    elif matches({k: v / L for k, v in total.items()}):
        kind = "they are averaged over the steps, not summed"
    else:
        kind = "they are not the sum of the steps' gradients"
    return Finding(f"{_right_up_to(L)}; from length {L} on only the weights' gradients "
                   f"({shown}) are wrong, while dx and the initial state's gradient are right (so every step received "
                   f"the right gradient): {kind}",
                   "the weights are shared by every step: their gradient is the sum of every step's, "
                   "grads[k] = grads[k] + step_grads[k]")
