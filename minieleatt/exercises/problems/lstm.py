"""Problems: one step of the EleAtt-LSTM, then the LSTM over a sequence on the student's own step.

    x̃ = gate(x_t, h_prev);  [i f g o] = x̃ W_x + h_prev W_h + b;  i, f, o = σ(.), g = tanh(.)
    c = f ⊙ c_prev + i ⊙ g;  h = o ⊙ tanh(c)

The student writes ``lstm_step_forward(x_t, state_prev, params, attention="sigmoid") -> ((h, c), cache)``
and ``lstm_step_backward(dstate, cache) -> (dx_t, (dh_prev, dc_prev), grads)`` (the library's
signatures), then ``lstm_forward(x, params, state0, attention="sigmoid") -> (hs, cache)`` and
``lstm_backward(dhs, cache) -> (dx, (dh0, dc0), grads)``.
"""

from itertools import permutations

import numpy as np

from ...functional import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from ...functional.activations import sigmoid
from ..diagnose import Diagnosis
from ..parts import Problem, cases, draw
from ..report import Finding
from .common import BackwardPart, ForwardPart, Spec, missing_terms, per_sample, sigmoid_prime_of_output_again
from .rnn import SEQ_SHAPES, STEP_SHAPES, params_for, sequence_findings

BLOCKS = ("i", "f", "g", "o")
BLOCK_FORMULAS = {
    "i": "di = dc_total ⊙ g, then ⊙ i ⊙ (1 − i) (σ′ from the output i).",
    "f": "df = dc_total ⊙ c_prev, then ⊙ f ⊙ (1 − f) (f is a sigmoid).",
    "g": "dg = dc_total ⊙ i, then ⊙ (1 − g²) (g is a tanh).",
    "o": "do = dh ⊙ tanh(c), then ⊙ o ⊙ (1 − o).",
}


def lstm_pieces(x, h, c_prev, p, attention="sigmoid", order=(0, 1, 2, 3)):
    """The step's pieces by hand (blocks taken in ``order``): a, x̃, i, f, g, o, c, tanh(c)."""
    H = h.shape[1]
    if attention:
        a = sigmoid(x @ p["W_xa"] + h @ p["W_ha"] + p["b_a"])
    else:
        a = np.ones_like(x)
    xa = a * x
    pre = xa @ p["W_x"] + h @ p["W_h"] + p["b"]
    blk = [pre[:, k * H:(k + 1) * H] for k in order]
    i, f, g, o = sigmoid(blk[0]), sigmoid(blk[1]), np.tanh(blk[2]), sigmoid(blk[3])
    c = f * c_prev + i * g
    return a, xa, i, f, g, o, c, np.tanh(c)


class LSTMStepSpec(Spec):
    forward_name = "lstm_step_forward"
    backward_name = "lstm_step_backward"
    forward_signature = "lstm_step_forward(x_t, state_prev, params, attention='sigmoid') -> ((h, c), cache)"
    backward_signature = "lstm_step_backward(dstate, cache) -> (dx_t, (dh_prev, dc_prev), grads)"
    forward_returns = "((h, c), cache)"
    backward_returns = "(dx_t, (dh_prev, dc_prev), grads)"
    out_names = ("h", "c")
    backward_layout = ("dx_t", ("dh_prev", "dc_prev"), "grads")
    attention = "sigmoid"

    def inputs(self, rng, s):
        B, D, H = s["B"], s["D"], s["H"]
        return {"x_t": draw(rng, B, D), "h_prev": draw(rng, B, H, scale=0.5), "c_prev": draw(rng, B, H, scale=0.5),
                **params_for(rng, "lstm", D, H, self.attention)}

    @staticmethod
    def params(inp):
        return {k: v for k, v in inp.items() if k not in ("x_t", "h_prev", "c_prev")}

    def reference_forward(self, inp):
        (h, c), _ = lstm_step_forward(inp["x_t"], (inp["h_prev"], inp["c_prev"]), self.params(inp), self.attention)
        return {"h": h, "c": c}

    def reference_backward(self, inp, douts):
        _, cache = lstm_step_forward(inp["x_t"], (inp["h_prev"], inp["c_prev"]), self.params(inp), self.attention)
        dx, (dh, dc), grads = lstm_step_backward(douts, cache)
        return {"dx_t": dx, "dh_prev": dh, "dc_prev": dc, **{"d" + k: grads[k] for k in self.params(inp)}}

    def forward_args(self, inst):
        return inst.inputs["x_t"], (inst.inputs["h_prev"], inst.inputs["c_prev"]), self.params(inst.inputs), \
            self.attention

    def backward_args(self, inst, cache):
        return inst.douts, cache

    def forward_diagnosis(self, inst):
        x, h, cp, p = inst.inputs["x_t"], inst.inputs["h_prev"], inst.inputs["c_prev"], self.params(inst.inputs)
        s = {"h": [], "c": []}
        for order in permutations(range(4)):
            if order == (0, 1, 2, 3):
                continue
            *_, c, tc = pieces = lstm_pieces(x, h, cp, p, self.attention, order)
            o = pieces[5]
            moved = [BLOCKS[k] for k in range(4) if order[k] != k]
            f = Finding(f"the gate blocks {', '.join(moved)} are taken from the wrong columns (a swap of blocks)",
                        "the columns of the pre-activation are the blocks i, f, g, o in that order, each H wide: "
                        "i = pre[:, :H], f = pre[:, H:2H], g = pre[:, 2H:3H], o = pre[:, 3H:]")
            s["h"].append((o * tc, f))
            s["c"].append((c, f))
        a, xa, i, f_, g, o, c, tc = lstm_pieces(x, h, cp, p, self.attention)
        s["h"] += [(o * c, Finding("h = o ⊙ c: the tanh of the cell is missing", "h = o ⊙ tanh(c)"))]
        s["c"] += [(f_ * cp + g, Finding("c = f ⊙ c_prev + g: the input gate i is missing", "c = f ⊙ c_prev + i ⊙ g")),
                   (cp + i * g, Finding("the forget gate is missing", "c = f ⊙ c_prev + i ⊙ g"))]
        if self.attention:
            _, _, i2, f2, g2, o2, c2, tc2 = lstm_pieces(x, h, cp, p, None)
            skip = Finding("the cell sees x_t, not the gated x̃ = a ⊙ x_t (the gate is skipped)",
                           "x̃ = a ⊙ x_t feeds every gate: [i f g o] = x̃ W_x + h_prev W_h + b")
            s["h"].append((o2 * tc2, skip))
            s["c"].append((c2, skip))
        return Diagnosis(suspects=s)

    def backward_diagnosis(self, inst):
        x, h, cp, p = inst.inputs["x_t"], inst.inputs["h_prev"], inst.inputs["c_prev"], self.params(inst.inputs)
        dh, dc = inst.douts
        ref = inst.grads
        H = h.shape[1]
        a, xa, i, f, g, o, c, tc = lstm_pieces(x, h, cp, p, self.attention)
        per = per_sample(x.shape[0], lambda b: _library_grads(x[b:b + 1], h[b:b + 1], cp[b:b + 1], p, dh[b:b + 1],
                                                              dc[b:b + 1], self.attention))
        dG = per["b"]
        dza = per["b_a"] if self.attention else None
        dc_total = dc + dh * o * (1 - tc ** 2)

        def db_with(i_d=None, f_d=None, g_d=None, o_d=None, dct=dc_total):
            di, df, dg, do = dct * g, dct * cp, dct * i, dh * tc
            parts = [di * (i * (1 - i) if i_d is None else i_d), df * (f * (1 - f) if f_d is None else f_d),
                     dg * ((1 - g * g) if g_d is None else g_d), do * (o * (1 - o) if o_d is None else o_d)]
            return np.concatenate(parts, axis=1).sum(0)

        sp = sigmoid_prime_of_output_again
        again = Finding("σ′ is applied to the gate's output: σ(i) ⊙ (1 − σ(i)) where i is already σ(î)",
                        "from the output of a sigmoid, σ′ = i ⊙ (1 − i) (and the same for f and o)")
        s = {
            "dc_prev": [(dc * f, Finding("misses the path of c through h = o ⊙ tanh(c)",
                                         "dc_total = dc + dh ⊙ o ⊙ (1 − tanh²(c)), then dc_prev = dc_total ⊙ f")),
                        (dc_total, Finding("the forget gate's factor f is missing",
                                           "c = f ⊙ c_prev + i ⊙ g, so dc_prev = dc_total ⊙ f"))],
            "db": [(db_with(sp(i), sp(f), None, sp(o)), again),
                   (db_with(sp(i)), again), (db_with(None, sp(f)), again), (db_with(None, None, None, sp(o)), again),
                   (db_with(None, 1 - f * f), Finding("the forget gate's derivative is the tanh's, 1 − f²",
                                                     "f is a sigmoid: df_pre = df ⊙ f ⊙ (1 − f)")),
                   (db_with(dct=dc), Finding("the gates i, f, g use dc, the incoming gradient alone: c also "
                                             "reaches the loss through h = o ⊙ tanh(c)",
                                             "dc_total = dc + dh ⊙ o ⊙ (1 − tanh²(c)); di = dc_total ⊙ g, "
                                             "df = dc_total ⊙ c_prev, dg = dc_total ⊙ i"))],
            "dW_x": [(x.T @ dG, Finding("multiplies the raw x_t, but the gates see x̃ = a ⊙ x_t",
                                        "dW_x = x̃ᵀ dG"))] if self.attention else [],
        }
        terms = [(dG @ p["W_h"].T, "the gates' share, dG W_hᵀ", "dh_prev = dG W_hᵀ + dz_a W_haᵀ")]
        if self.attention:
            terms.append((dza @ p["W_ha"].T, "the attention gate's share, dz_a W_haᵀ", "dh_prev = dG W_hᵀ + dz_a W_haᵀ"))
            dx_att = dG @ p["W_x"].T
            s["dx_t"] = missing_terms(ref["dx_t"], [
                (dx_att * a, "the direct path of x̃ = a ⊙ x_t, dx̃ ⊙ a", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ"),
                (dza @ p["W_xa"].T, "the path through the attention gate, dz_a W_xaᵀ", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ")]) + [
                (dx_att * a + dza @ p["W_xa"], Finding("the gate's path is transposed (W_xa is square, so it ran)",
                                                       "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ")),
                (dx_att + dza @ p["W_xa"].T, Finding("the direct path is dx̃, not dx̃ ⊙ a", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ"))]
            s["dW_xa"] = [(xa.T @ dza, Finding("multiplies x̃, but W_xa multiplies the raw x_t", "dW_xa = x_tᵀ dz_a"))]
        s["dh_prev"] = missing_terms(ref["dh_prev"], terms)
        deps = {"db_a": ("db",), "dW_x": ("db",), "dW_h": ("db",), "dW_xa": ("db_a",), "dW_ha": ("db_a",),
                "dx_t": ("db", "db_a"), "dh_prev": ("db", "db_a")}
        fallback = {
            "db": Finding("dG = [di, df, dg, do] before their activations is wrong",
                          "dc_total = dc + dh ⊙ o ⊙ (1 − tanh²(c)); " + " ".join(BLOCK_FORMULAS.values())),
            "dc_prev": Finding("c = f ⊙ c_prev + i ⊙ g", "dc_prev = dc_total ⊙ f, with dc_total = dc + dh ⊙ o ⊙ (1 − tanh²(c))"),
            "db_a": Finding("dG is right (db is); the gate gets dx̃ = dG W_xᵀ", "dz_a = (dx̃ ⊙ x_t) ⊙ a ⊙ (1 − a)"),
            "dW_x": Finding("dG is right (db is), so the error is in the product", "dW_x = x̃ᵀ dG"),
            "dW_h": Finding("dG is right (db is), so the error is in the product", "dW_h = h_prevᵀ dG"),
            "dh_prev": Finding("h_prev reaches h through the gates and through the attention gate",
                               "dh_prev = dG W_hᵀ + dz_a W_haᵀ"),
            "dx_t": Finding("x_t reaches x̃ directly and through the attention gate", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ"),
        }
        blocks = {k: BLOCKS for k in ("db", "dW_x", "dW_h")}
        return Diagnosis(s, deps, fallback, blocks, BLOCK_FORMULAS)


def _library_grads(x, h, c, p, dh, dc, attention):
    _, cache = lstm_step_forward(x, (h, c), p, attention)
    return lstm_step_backward((dh, dc), cache)[2]


STEP = LSTMStepSpec()


def lstm_step_problem():
    fwd = ForwardPart(STEP, "forward", "one LSTM step's forward", 2, cases([0, 1], STEP_SHAPES))
    bwd = BackwardPart(STEP, "backward", "one LSTM step's backward", 4, cases([0, 1], STEP_SHAPES), fwd)
    return Problem("lstm_step", "One step of the EleAtt-LSTM", [fwd, bwd])


# ----------------------------------------------------------------------------- the sequence

class LSTMSequenceSpec(Spec):
    forward_name = "lstm_forward"
    backward_name = "lstm_backward"
    forward_signature = "lstm_forward(x, params, state0, attention='sigmoid') -> (hs, cache)"
    backward_signature = "lstm_backward(dhs, cache) -> (dx, (dh0, dc0), grads)"
    forward_returns = "(hs, cache)"
    backward_returns = "(dx, (dh0, dc0), grads)"
    out_names = ("hs",)
    backward_layout = ("dx", ("dh0", "dc0"), "grads")
    cell = "lstm"
    step_names = ("lstm_step_forward", "lstm_step_backward")
    attention = "sigmoid"

    def inputs(self, rng, s):
        return {"x": draw(rng, s["T"], s["B"], s["D"]), "h0": draw(rng, s["B"], s["H"], scale=0.5),
                "c0": draw(rng, s["B"], s["H"], scale=0.5), **params_for(rng, "lstm", s["D"], s["H"], self.attention)}

    @staticmethod
    def params(inp):
        return {k: v for k, v in inp.items() if k not in ("x", "h0", "c0")}

    def reference_forward(self, inp):
        hs, _ = lstm_forward(inp["x"], self.params(inp), (inp["h0"], inp["c0"]), attention=self.attention)
        return {"hs": hs}

    def reference_backward(self, inp, douts):
        _, cache = lstm_forward(inp["x"], self.params(inp), (inp["h0"], inp["c0"]), attention=self.attention)
        dx, (dh0, dc0), grads = lstm_backward(douts[0], cache)
        return {"dx": dx, "dh0": dh0, "dc0": dc0, **{"d" + k: grads[k] for k in self.params(inp)}}

    def forward_args(self, inst):
        return inst.inputs["x"], self.params(inst.inputs), (inst.inputs["h0"], inst.inputs["c0"]), self.attention

    def backward_args(self, inst, cache):
        return inst.douts[0], cache

    def forward_diagnosis(self, inst):
        x, h0, c0, p = inst.inputs["x"], inst.inputs["h0"], inst.inputs["c0"], self.params(inst.inputs)
        h, hs_c = h0, []
        for t in range(len(x)):                         # c restarts from c0 at every step
            (h, _), _ = lstm_step_forward(x[t], (h, c0), p, self.attention)
            hs_c.append(h)
        c, hs_h = c0, []
        for t in range(len(x)):                         # h restarts from h0 at every step
            (hh, c), _ = lstm_step_forward(x[t], (h0, c), p, self.attention)
            hs_h.append(hh)
        return Diagnosis(suspects={"hs": [
            (np.stack(hs_c), Finding("the cell state c is not carried: every step starts from c0",
                                     "the state is the pair: (h, c), cache_t = step(x[t], (h, c))")),
            (np.stack(hs_h), Finding("h is not carried: every step starts from h0 (c is carried)",
                                     "(h, c), cache_t = step(x[t], (h, c)); hs[t] = h"))]})

    def backward_findings(self, student, inst, cache, got, rows):
        return sequence_findings(self, student, inst, got)


SEQUENCE = LSTMSequenceSpec()


def lstm_sequence_problem():
    fwd = ForwardPart(SEQUENCE, "forward", "the LSTM over a sequence, forward", 1, cases([0, 1], SEQ_SHAPES))
    bwd = BackwardPart(SEQUENCE, "backward", "the LSTM over a sequence, backward through time", 3,
                       cases([0, 1], SEQ_SHAPES), fwd)
    fwd.step_cell = bwd.step_cell = "lstm"
    return Problem("lstm_sequence", "The LSTM over a sequence, on your own step", [fwd, bwd])
