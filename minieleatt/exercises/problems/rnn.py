"""Problems: one step of the EleAtt-RNN, then the RNN over a sequence on the student's own step.

    step:      x̃ = gate(x_t, h_prev);   h = tanh(x̃ W_x + h_prev W_h + b)
    sequence:  h_t = step(x_t, h_{t-1}) for t = 0 ... T-1, every h_t returned

The student writes ``rnn_step_forward(x_t, h_prev, params, attention="sigmoid") -> (h, cache)``,
``rnn_step_backward(dh, cache) -> (dx_t, dh_prev, grads)`` (the library's signatures), then
``rnn_forward(x, params, h0, attention="sigmoid") -> (hs, cache)`` and
``rnn_backward(dhs, cache) -> (dx, dh0, grads)`` with a cache of their own design.
"""

import numpy as np

from ...functional import (lstm_step_backward, lstm_step_forward, param_shapes, rnn_backward, rnn_forward,
                           rnn_step_backward, rnn_step_forward)
from ...functional.activations import sigmoid
from ..bisect import SequenceProblem, bisect
from ..diagnose import Diagnosis, same
from ..parts import PROBES, Problem, Stop, cases, copy, draw, reference_steps, unpack
from ..report import Finding
from .common import BackwardPart, ForwardPart, Spec, missing_terms

STEP_SHAPES = [dict(B=3, D=4, H=5), dict(B=4, D=6, H=2)]
SEQ_SHAPES = [dict(T=5, B=3, D=7, H=2), dict(T=4, B=2, D=6, H=3)]


def params_for(rng, cell, D, H, attention, reset_after=False):
    return {k: draw(rng, *s, scale=0.5) for k, s in param_shapes(cell, D, H, attention, reset_after).items()}


def gate_terms(x, h, p, dx_att):
    """The gate's pieces for the diagnoses: a, z_a's gradient dz_a, given the gradient of x̃."""
    a = sigmoid(x @ p["W_xa"] + h @ p["W_ha"] + p["b_a"])
    dz_a = dx_att * x * a * (1 - a)
    return a, dz_a


class RNNStepSpec(Spec):
    forward_name = "rnn_step_forward"
    backward_name = "rnn_step_backward"
    forward_returns = "(h, cache)"
    backward_returns = "(dx_t, dh_prev, grads)"
    out_names = ("h",)
    backward_layout = ("dx_t", "dh_prev", "grads")

    def __init__(self, attention):
        self.attention = attention
        self.forward_signature = f"rnn_step_forward(x_t, h_prev, params, attention={attention!r}) -> (h, cache)"
        self.backward_signature = f"rnn_step_backward(dh, cache) -> (dx_t, dh_prev, grads)  [attention={attention!r}]"

    def inputs(self, rng, s):
        return {"x_t": draw(rng, s["B"], s["D"]), "h_prev": draw(rng, s["B"], s["H"], scale=0.5),
                **params_for(rng, "rnn", s["D"], s["H"], self.attention)}

    @staticmethod
    def params(inp):
        return {k: v for k, v in inp.items() if k not in ("x_t", "h_prev")}

    def reference_forward(self, inp):
        h, _ = rnn_step_forward(inp["x_t"], inp["h_prev"], self.params(inp), self.attention)
        return {"h": h}

    def reference_backward(self, inp, douts):
        _, cache = rnn_step_forward(inp["x_t"], inp["h_prev"], self.params(inp), self.attention)
        dx, dh, grads = rnn_step_backward(douts[0], cache)
        return {"dx_t": dx, "dh_prev": dh, **{"d" + k: grads[k] for k in self.params(inp)}}

    def forward_args(self, inst):
        return inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs), self.attention

    def backward_args(self, inst, cache):
        return inst.douts[0], cache

    def forward_diagnosis(self, inst):
        x, h, p = inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs)
        gated = self.attention is not None
        xa = gate_terms(x, h, p, 0)[0] * x if gated else x
        s = [(np.tanh(xa @ p["W_x"] + h @ p["W_h"].T + p["b"]),
              Finding("h_prev multiplies W_hᵀ: transposed (W_h is square, so it ran)", "h = tanh(x̃ W_x + h_prev W_h + b)")),
             (np.tanh(xa @ p["W_x"] + h @ p["W_h"]), Finding("the bias b is missing", "h = tanh(x̃ W_x + h_prev W_h + b)")),
             (sigmoid(xa @ p["W_x"] + h @ p["W_h"] + p["b"]),
              Finding("a sigmoid where the RNN's tanh belongs", "h = tanh(x̃ W_x + h_prev W_h + b)")),
             (np.tanh(xa @ p["W_x"] + p["b"]), Finding("the recurrent term h_prev W_h is missing",
                                                      "h = tanh(x̃ W_x + h_prev W_h + b)"))]
        if gated:
            s.append((np.tanh(x @ p["W_x"] + h @ p["W_h"] + p["b"]),
                      Finding("the cell sees x_t, not the gated input x̃ = a ⊙ x_t (the gate is skipped)",
                              "x̃, cache_gate = gate_step_forward(x_t, h_prev, params, attention); "
                              "h = tanh(x̃ W_x + h_prev W_h + b)")))
        return Diagnosis(suspects={"h": s})

    def backward_diagnosis(self, inst):
        x, h_prev, p, dh = inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs), inst.douts[0]
        ref = inst.grads
        gated = self.attention is not None
        a = gate_terms(x, h_prev, p, 0)[0] if gated else np.ones_like(x)
        xa = a * x
        h = np.tanh(xa @ p["W_x"] + h_prev @ p["W_h"] + p["b"])
        dpre = dh * (1 - h * h)
        dx_att = dpre @ p["W_x"].T
        s = {"db": [((dh * (1 - np.tanh(h) ** 2)).sum(0),
                     Finding("takes tanh′ of h again: 1 − tanh²(h), where h is already tanh(pre)",
                             "from the output h, tanh′ = 1 − h²: dpre = dh ⊙ (1 − h²)")),
                    (dh.sum(0), Finding("the tanh's derivative is missing", "dpre = dh ⊙ (1 − h²)"))],
             "dW_x": [(x.T @ dpre, Finding("multiplies the raw x_t, but the cell sees the gated x̃ = a ⊙ x_t",
                                          "dW_x = x̃ᵀ dpre"))] if gated else [],
             "dW_h": [(dpre.T @ h_prev, Finding("transposed (W_h is square, so it ran)", "dW_h = h_prevᵀ dpre"))],
             }
        terms = [(dpre @ p["W_h"].T, "the cell's share, dpre W_hᵀ", "dh_prev = dpre W_hᵀ + dz_a W_haᵀ")]
        if gated:
            _, dz_a = gate_terms(x, h_prev, p, dx_att)
            terms.append((dz_a @ p["W_ha"].T, "the gate's share, dz_a W_haᵀ (h_prev also feeds the gate)",
                          "dh_prev = dpre W_hᵀ + dz_a W_haᵀ"))
        s["dh_prev"] = missing_terms(ref["dh_prev"], terms) + [
            (ref["dh_prev"] - dpre @ p["W_h"].T + dpre @ p["W_h"],
             Finding("the cell's share uses W_h where W_hᵀ belongs (W_h is square, so it ran)",
                     "for pre = ... + h_prev W_h, dh_prev gets dpre W_hᵀ"))]
        if gated:
            s["dx_t"] = [(dx_att + dz_a @ p["W_xa"].T,
                          Finding("the direct path of the gate is dx̃, not dx̃ ⊙ a", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ")),
                         (dx_att, Finding("is dx̃, the gradient of the gated input: the gate's backward is skipped",
                                          "dx_t, dh_gate, gate_grads = gate_step_backward(dx̃, cache_gate)"))]
        deps = {"dW_x": ("db",), "dW_h": ("db",), "db_a": ("db",), "dW_xa": ("db_a",), "dW_ha": ("db_a",),
                "dx_t": ("db", "db_a"), "dh_prev": ("db", "db_a")}
        fallback = {"db": Finding("dpre, the gradient of the pre-activation, is wrong", "dpre = dh ⊙ (1 − h²); "
                                  "db = dpre.sum(axis=0)"),
                    "dW_x": Finding("dpre is right (db is), so the error is in the product", "dW_x = x̃ᵀ dpre"),
                    "dW_h": Finding("dpre is right (db is), so the error is in the product", "dW_h = h_prevᵀ dpre"),
                    "db_a": Finding("dpre is right (db is); the gate's backward gets dx̃ = dpre W_xᵀ",
                                    "dz_a = (dx̃ ⊙ x_t) ⊙ a ⊙ (1 − a)"),
                    "dh_prev": Finding("h_prev reaches h by two paths", "dh_prev = dpre W_hᵀ + dz_a W_haᵀ"),
                    "dx_t": Finding("x_t reaches h through the gate", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ")}
        return Diagnosis(s, deps, fallback)


STEP_SIGMOID, STEP_PLAIN = RNNStepSpec("sigmoid"), RNNStepSpec(None)


PLAIN = "attention=None"


def rnn_step_problem():
    specs = {"": STEP_SIGMOID, PLAIN: STEP_PLAIN}
    case_list = cases([0, 1], STEP_SHAPES) + cases([2], STEP_SHAPES[:1], PLAIN)
    fwd = ForwardPart(specs, "forward", "one RNN step's forward (with the gate, and without)", 2, case_list)
    bwd = BackwardPart(specs, "backward", "one RNN step's backward (with the gate, and without)", 3, case_list, fwd)
    return Problem("rnn_step", "One step of the EleAtt-RNN", [fwd, bwd])


# ----------------------------------------------------------------------------- the sequence

class RNNSequenceSpec(Spec):
    forward_name = "rnn_forward"
    backward_name = "rnn_backward"
    forward_signature = "rnn_forward(x, params, h0, attention='sigmoid') -> (hs, cache)"
    backward_signature = "rnn_backward(dhs, cache) -> (dx, dh0, grads)"
    forward_returns = "(hs, cache)"
    backward_returns = "(dx, dh0, grads)"
    out_names = ("hs",)
    backward_layout = ("dx", "dh0", "grads")
    cell = "rnn"
    step_names = ("rnn_step_forward", "rnn_step_backward")
    attention = "sigmoid"

    def inputs(self, rng, s):
        return {"x": draw(rng, s["T"], s["B"], s["D"]), "h0": draw(rng, s["B"], s["H"], scale=0.5),
                **params_for(rng, "rnn", s["D"], s["H"], self.attention)}

    @staticmethod
    def params(inp):
        return {k: v for k, v in inp.items() if k not in ("x", "h0", "c0")}

    def reference_forward(self, inp):
        hs, _ = rnn_forward(inp["x"], self.params(inp), inp["h0"], attention=self.attention)
        return {"hs": hs}

    def reference_backward(self, inp, douts):
        _, cache = rnn_forward(inp["x"], self.params(inp), inp["h0"], attention=self.attention)
        dx, dh0, grads = rnn_backward(douts[0], cache)
        return {"dx": dx, "dh0": dh0, **{"d" + k: grads[k] for k in self.params(inp)}}

    def forward_args(self, inst):
        return inst.inputs["x"], self.params(inst.inputs), inst.inputs["h0"], self.attention

    def backward_args(self, inst, cache):
        return inst.douts[0], cache

    def forward_diagnosis(self, inst):
        x, h0, p = inst.inputs["x"], inst.inputs["h0"], self.params(inst.inputs)
        hs = inst.outs["hs"]
        from_h0 = np.stack([rnn_step_forward(x[t], h0, p, self.attention)[0] for t in range(len(x))])
        shifted = np.concatenate([h0[None], hs[:-1]])
        return Diagnosis(suspects={"hs": [
            (from_h0, Finding("every step starts from h0: the state is not carried from step to step",
                              "h = h0; for t in range(T): h, cache_t = step(x[t], h); hs[t] = h")),
            (shifted, Finding("hs[t] holds h_{t-1}, the state before step t, not h_t after it",
                              "store the new state: hs[t] = h after h, cache_t = step(x[t], h)"))]})

    # -- the bisector
    def backward_findings(self, student, inst, cache, got, rows):
        return sequence_findings(self, student, inst, got)

    def skipped_steps(self, student, inst):
        """A finding when the student's loop never takes back some time step (``range(T - 1, 0, -1)``), or None."""
        args = [list(self.forward_args(inst)), inst.douts[0], list(self.backward_args(inst, None)[2:])]
        try:
            visited = student.probe("visited_steps", self.cell, self.forward_name, self.backward_name, *args)
        except Stop:
            return None
        T = len(inst.inputs["x"])
        if not isinstance(visited, list) or not visited:
            return None
        missing = [t for t in range(T) if t not in visited]
        if not missing:
            return None
        if missing == [0]:
            what = "never reaches step 0: it takes back steps 1 to T-1 only, so dx[0], step 0's share of the weights' " \
                   "gradients and dh0 are missing or wrong"
            formula = ("range(T - 1, 0, -1) stops at 1 (its end is exclusive): walk t = T-1, ..., 0 with "
                       "reversed(range(T)) or range(T - 1, -1, -1)")
        else:
            what = f"skips step{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} (of 0 to {T - 1}), " \
                   "so their gradients are missing"
            formula = "the backward loop takes back every step: for t in reversed(range(T))"
        return Finding(f"your loop {what}", formula)


def step_findings(spec, student, inst):
    """Is the student's own step right on this sequence's first step? [] when it is (or is not written)."""
    fwd_name, bwd_name = spec.step_names
    if not student.has(fwd_name) or not student.has(bwd_name):
        return []
    p = spec.params(inst.inputs)
    state0 = (inst.inputs["h0"], inst.inputs["c0"]) if spec.cell == "lstm" else inst.inputs["h0"]
    x0 = inst.inputs["x"][0]
    if spec.cell == "lstm":
        _, ref_cache = lstm_step_forward(x0, state0, p, spec.attention)
        dstate = (inst.douts[0][0], np.zeros_like(inst.douts[0][0]))
        ref = lstm_step_backward(dstate, ref_cache)
        ref_flat = [ref[0], ref[1][0], ref[1][1]] + [ref[2][k] for k in p]
    else:
        _, ref_cache = rnn_step_forward(x0, state0, p, spec.attention)
        dstate = inst.douts[0][0]
        ref = rnn_step_backward(dstate, ref_cache)
        ref_flat = [ref[0], ref[1]] + [ref[2][k] for k in p]
    try:
        _, c = student.call(fwd_name, x0, state0, p, spec.attention)
        out = student.call(bwd_name, dstate, c)
        if spec.cell == "lstm":
            flat = [out[0], out[1][0], out[1][1]] + [out[2][k] for k in p]
        else:
            flat = [out[0], out[1]] + [out[2][k] for k in p]
        ok = all(np.shape(a) == np.shape(b) and same(np.asarray(a, dtype=float), b) for a, b in zip(flat, ref_flat))
    except Exception:  # noqa: BLE001 - any failure of the step (Stop included) means it is not right
        ok = False
    if ok:
        return []
    return [Finding(f"your step ({fwd_name} / {bwd_name}) is not right on this sequence's first step, and the "
                    f"sequence runs on it: fix the step first (its own part, [{spec.cell}_step])",
                    "the sequence adds nothing to the step's maths, only the loop")]


def sequence_findings(spec, student, inst, got=None):
    """The findings about a wrong sequence backward: the step first, skipped steps, dx in reverse order, then the
    time bisector."""
    found = step_findings(spec, student, inst)
    if found:
        return found
    skipped = spec.skipped_steps(student, inst)
    if skipped is not None:
        return [skipped]
    if got is not None and _reversed(got.get("dx"), inst.grads["dx"]):
        return [Finding("dx holds the steps in reverse order: dx[t] is the gradient of x[T-1-t] (dx[::-1] is right)",
                        "store each step's gradient at its own index (dxs[t] = ...), or, after appending from t = T-1 "
                        "down to 0, reverse the list once: np.stack(dxs[::-1])")]
    p = spec.params(inst.inputs)
    state0 = (inst.inputs["h0"], inst.inputs["c0"]) if spec.cell == "lstm" else inst.inputs["h0"]
    mask = inst.inputs.get("mask")
    dT = getattr(inst, "dstate_T", None)
    prob = SequenceProblem(spec.cell, inst.inputs["x"], p, state0, mask, inst.douts[0], dT, spec.attention)
    names = {"dx": "dx", "dh0": "dh0", "dc0": "dc0"}

    def run(L, dhs, dstate_T):
        sub = dict(inst.inputs)
        sub["x"] = inst.inputs["x"][:L]
        if mask is not None:
            sub["mask"] = mask[:L]
        fake = _Prefix(sub, (dhs,), dstate_T)
        _, cache = student.call(spec.forward_name, *spec.forward_args(fake))
        raw = student.call(spec.backward_name, *spec.backward_args(fake, cache))
        return unpack(raw, spec.backward_layout, spec.backward_returns, list(p))

    try:
        return bisect(prob, run, names)
    except Stop:
        return []


def _reversed(dx, right):
    if dx is None or np.shape(dx) != right.shape or len(right) < 2:
        return False
    dx = np.asarray(dx, dtype=float)
    return same(dx[::-1], right) and not same(dx, right)


def probe_visited_steps(student, cell, forward_name, backward_name, forward_args, dhs, backward_tail):
    """The time steps whose step backward the student's sequence backward takes, in order of t (run on the
    library's steps, which this probe watches: a forward step's cache is step t's). None when the loop does not
    call the steps by their names, or does not run."""
    ref = reference_steps(cell)
    fname, bname = f"{cell}_step_forward", f"{cell}_step_backward"
    order, seen, keep = [], [], []

    def forward(*args, **kwargs):
        out = ref[fname](*args, **kwargs)
        order.append(id(out[1]))
        keep.append(out[1])
        return out

    def backward(dstate, cache, *args, **kwargs):
        seen.append(id(cache))
        return ref[bname](dstate, cache, *args, **kwargs)

    ns = student.namespace
    saved = {n: ns.get(n) for n in (fname, bname)}
    ns[fname], ns[bname] = forward, backward
    try:
        with np.errstate(all="ignore"):
            _, cache = student.function(forward_name)(*copy(forward_args))
            try:
                student.function(backward_name)(copy(dhs), cache, *copy(backward_tail))
            except Exception:  # noqa: BLE001 - what it reached before failing is what counts
                pass
    except Exception:  # noqa: BLE001
        return None
    finally:
        for n, fn in saved.items():
            if fn is None:
                ns.pop(n, None)
            else:
                ns[n] = fn
    if not order or not seen:
        return None
    return sorted({order.index(i) for i in seen if i in order})


PROBES["visited_steps"] = probe_visited_steps


class _Prefix:
    """A stand-in instance for the bisector's shorter sequences."""

    def __init__(self, inputs, douts, dstate_T):
        self.inputs, self.douts, self.dstate_T = inputs, douts, dstate_T


SEQUENCE = RNNSequenceSpec()


def rnn_sequence_problem():
    fwd = ForwardPart(SEQUENCE, "forward", "the RNN over a sequence, forward", 2, cases([0, 1], SEQ_SHAPES))
    bwd = BackwardPart(SEQUENCE, "backward", "the RNN over a sequence, backward through time", 4,
                       cases([0, 1], SEQ_SHAPES), fwd)
    fwd.step_cell = bwd.step_cell = "rnn"
    return Problem("rnn_sequence", "The RNN over a sequence, on your own step", [fwd, bwd])
