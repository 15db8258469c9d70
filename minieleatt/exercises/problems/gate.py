"""Problems: the attention gate's step, forward and backward, with the sigmoid and with the softmax.

    z_a = x_t W_xa + h_prev W_ha + b_a;   a = σ(z_a)  (or softmax(z_a) over the D elements);   x̃ = a ⊙ x_t

The student writes the library's pair with the library's signatures:
``gate_step_forward(x_t, h_prev, params, activation="sigmoid") -> (x_att, cache)`` and
``gate_step_backward(dx_att, cache) -> (dx_t, dh_prev, grads)``.
"""

import numpy as np

from ...functional import gate_step_backward, gate_step_forward
from ...functional.activations import sigmoid, softmax
from ..diagnose import Diagnosis
from ..parts import Problem, cases, draw
from ..report import Finding
from .common import BackwardPart, ForwardPart, Spec, missing_terms

SHAPES = [dict(B=3, D=4, H=5), dict(B=4, D=6, H=2)]
SEEDS = [0, 1]
GATE_PARAMS = ("W_xa", "W_ha", "b_a")


class GateSpec(Spec):
    forward_name = "gate_step_forward"
    backward_name = "gate_step_backward"
    forward_returns = "(x_att, cache)"
    backward_returns = "(dx_t, dh_prev, grads)"
    out_names = ("x_att",)
    backward_layout = ("dx_t", "dh_prev", "grads")

    def __init__(self, activation, scale=1.0):
        self.activation = activation
        self.scale = scale
        act = f', activation="{activation}"'
        self.forward_signature = f"gate_step_forward(x_t, h_prev, params{act}) -> (x_att, cache)"
        self.backward_signature = f"gate_step_backward(dx_att, cache) -> (dx_t, dh_prev, grads)  [{activation}]"

    def inputs(self, rng, s):
        B, D, H = s["B"], s["D"], s["H"]
        return {"x_t": draw(rng, B, D, scale=self.scale), "h_prev": draw(rng, B, H, scale=0.5),
                "W_xa": draw(rng, D, D, scale=0.5), "W_ha": draw(rng, H, D, scale=0.5),
                "b_a": draw(rng, D, scale=0.5)}

    @staticmethod
    def params(inputs):
        return {k: inputs[k] for k in GATE_PARAMS}

    def reference_forward(self, inp):
        x_att, _ = gate_step_forward(inp["x_t"], inp["h_prev"], self.params(inp), self.activation)
        return {"x_att": x_att}

    def reference_backward(self, inp, douts):
        _, cache = gate_step_forward(inp["x_t"], inp["h_prev"], self.params(inp), self.activation)
        dx, dh, grads = gate_step_backward(douts[0], cache)
        return {"dx_t": dx, "dh_prev": dh, **{"d" + k: grads[k] for k in GATE_PARAMS}}

    def forward_args(self, inst):
        return inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs), self.activation

    def backward_args(self, inst, cache):
        return inst.douts[0], cache

    # -- the diagnoses
    def forward_diagnosis(self, inst):
        x, h, p = inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs)
        z_a = x @ p["W_xa"] + h @ p["W_ha"] + p["b_a"]
        a = sigmoid(z_a) if self.activation == "sigmoid" else softmax(z_a, axis=-1)
        s = [(a, Finding("equals the gate's response a, not the gated input", "x_att = a ⊙ x_t")),
             (np.tanh(z_a) * x, Finding("uses tanh where the gate's activation belongs",
                                        "a = σ(z_a) (or the softmax over the D elements)")),
             (sigmoid(x @ p["W_xa"] + p["b_a"]) * x if self.activation == "sigmoid"
              else softmax(x @ p["W_xa"] + p["b_a"]) * x,
              Finding("the gate ignores h_prev", "z_a = x_t W_xa + h_prev W_ha + b_a")),
             ((sigmoid(x @ p["W_xa"] + h @ p["W_ha"]) if self.activation == "sigmoid"
               else softmax(x @ p["W_xa"] + h @ p["W_ha"])) * x,
              Finding("the bias b_a is missing", "z_a = x_t W_xa + h_prev W_ha + b_a"))]
        if self.activation == "softmax":
            s += [(sigmoid(z_a) * x, Finding("computes the sigmoid gate: activation='softmax' is ignored",
                                             "a = softmax(z_a) over the D elements of each row: "
                                             "exp(z_a - max) / sum(exp(z_a - max), axis=1, keepdims=True)")),
                  (softmax(z_a, axis=0) * x, Finding("the softmax runs over the batch (axis 0), not over the D "
                                                     "elements of each row", "softmax(z_a, axis=-1): each row of "
                                                     "a sums to 1"))]
        return Diagnosis(suspects={"x_att": s})

    def backward_diagnosis(self, inst):
        x, h, p, dout = inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs), inst.douts[0]
        _, cache = gate_step_forward(x, h, p, self.activation)
        a, ref = cache.a, inst.grads
        da = dout * x
        if self.activation == "sigmoid":
            dz_a = da * a * (1 - a)
        else:
            dz_a = a * (da - (da * a).sum(axis=1, keepdims=True))
        dx_direct = dout * a
        derivative = ("a ⊙ (1 − a)" if self.activation == "sigmoid"
                      else "the softmax's Jacobian: dz_a = a ⊙ (da − Σ_k da_k a_k), row by row")
        suspects = {
            "dx_t": missing_terms(ref["dx_t"], [
                (dx_direct, "the direct path of x̃ = a ⊙ x_t, dx_att ⊙ a",
                 "x_t reaches x̃ twice, directly and through z_a: dx_t = dx_att ⊙ a + dz_a W_xaᵀ"),
                (dz_a @ p["W_xa"].T, "the path through the gate's pre-activation z_a, dz_a W_xaᵀ",
                 "x_t reaches x̃ twice, directly and through z_a: dx_t = dx_att ⊙ a + dz_a W_xaᵀ")]) + [
                (dx_direct + dz_a @ p["W_xa"], Finding("the path through z_a is transposed (W_xa is square, so it ran)",
                                                       "for z_a = x_t W_xa, dx_t gets dz_a W_xaᵀ")),
                (dout + dz_a @ p["W_xa"].T, Finding("the direct path is dx_att, not dx_att ⊙ a",
                                                    "x̃ = a ⊙ x_t, so its direct path gives dx_att ⊙ a"))],
            "db_a": [((dout * a * a * (1 - a)).sum(0) if self.activation == "sigmoid" else None,
                      Finding("starts from dx_att ⊙ a instead of da = dx_att ⊙ x_t",
                              "x̃ = a ⊙ x_t, so da = dx_att ⊙ x_t")),
                     ((da * a).sum(0) if self.activation == "sigmoid" else None,
                      Finding("the sigmoid's derivative is taken as a, not a ⊙ (1 − a)",
                              "σ′ from the output a is a ⊙ (1 − a)")),
                     (da.sum(0), Finding("the derivative of the gate's activation is missing",
                                         f"dz_a = da ⊙ {derivative}" if self.activation == "sigmoid" else derivative))],
            "dW_xa": [((a * x).T @ dz_a, Finding("multiplies the gated x̃, but W_xa multiplies the raw x_t",
                                                 "dW_xa = x_tᵀ dz_a"))],
        }
        if self.activation == "softmax":
            sig = da * a * (1 - a)
            suspects["db_a"] += [
                (sig.sum(0), Finding("treats the softmax like a sigmoid (a ⊙ (1 − a)): the softmax's Jacobian is "
                                     "not diagonal, every element's response depends on every z_a",
                                     "dz_a = a ⊙ (da − Σ_k da_k a_k), the sum over the D elements of each row")),
                ((a * da).sum(0), Finding("misses the term that couples the elements, −a ⊙ Σ_k da_k a_k",
                                          "dz_a = a ⊙ (da − Σ_k da_k a_k)")),
                ((a * (da - (da * a).sum(axis=0, keepdims=True))).sum(0),
                 Finding("sums da ⊙ a over the batch (axis 0), not over the D elements of each row",
                         "dz_a = a ⊙ (da − (da ⊙ a).sum(axis=1, keepdims=True))"))]
        deps = {k: ("db_a",) for k in ("dx_t", "dh_prev", "dW_xa", "dW_ha")}
        fallback = {
            "db_a": Finding("dz_a, the gradient of the gate's pre-activation, is wrong",
                            f"da = dx_att ⊙ x_t, then dz_a = da ⊙ {derivative}; db_a = dz_a.sum(axis=0)"),
            "dx_t": Finding("dz_a is right (db_a is), so the error is in how dx_t collects its two paths",
                            "dx_t = dx_att ⊙ a + dz_a W_xaᵀ"),
            "dh_prev": Finding("dz_a is right (db_a is), so the error is in the product",
                               "dh_prev = dz_a W_haᵀ"),
            "dW_xa": Finding("dz_a is right (db_a is), so the error is in the product", "dW_xa = x_tᵀ dz_a"),
            "dW_ha": Finding("dz_a is right (db_a is), so the error is in the product", "dW_ha = h_prevᵀ dz_a"),
        }
        return Diagnosis(suspects, deps, fallback)


SIGMOID = GateSpec("sigmoid")
SOFTMAX = GateSpec("softmax")
SOFTMAX_LARGE = GateSpec("softmax", scale=300.0)      # z_a in the hundreds: exp overflows without the max trick


def gate_problem():
    fwd = ForwardPart(SIGMOID, "forward", "the gate's forward (sigmoid)", 2, cases(SEEDS, SHAPES))
    bwd = BackwardPart(SIGMOID, "backward", "the gate's backward (sigmoid)", 3, cases(SEEDS, SHAPES), fwd)
    return Problem("gate", "The attention gate", [fwd, bwd])


def softmax_gate_problem():
    large = "z_a in the hundreds"
    fwd = ForwardPart({"": SOFTMAX, large: SOFTMAX_LARGE}, "forward", "the softmax gate's forward", 1,
                      cases(SEEDS, SHAPES) + cases([2], SHAPES[:1], large))
    bwd = BackwardPart(SOFTMAX, "backward", "the softmax gate's backward", 2, cases(SEEDS, SHAPES), fwd)
    return Problem("softmax_gate", "The softmax gate (the paper's ablation)", [fwd, bwd])
