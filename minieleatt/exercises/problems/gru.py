"""Problems: one step of the EleAtt-GRU in the paper's reset-before form, then the reset-after form.

    x̃ = gate(x_t, h_prev);  r = σ(x̃ W_xr + h_prev W_hr + b_r);  z = σ(x̃ W_xz + h_prev W_hz + b_z)
    reset-before (Cho et al. 2014):  n = tanh(x̃ W_xn + (r ⊙ h_prev) W_hn + b_n)
    reset-after (cuDNN, PyTorch):    n = tanh(x̃ W_xn + b_n + r ⊙ (h_prev W_hn + b_hn))
    h = (1 − z) ⊙ n + z ⊙ h_prev

The student writes ``gru_step_forward(x_t, h_prev, params, attention="sigmoid", reset_after=False)
-> (h, cache)`` and ``gru_step_backward(dh, cache) -> (dx_t, dh_prev, grads)``, the library's
signatures; the second problem checks the same pair with ``reset_after=True``.
"""

import numpy as np

from ...functional import gru_step_backward, gru_step_forward
from ...functional.activations import sigmoid
from ..diagnose import Diagnosis
from ..parts import Problem, cases, draw
from ..report import Finding
from .common import BackwardPart, ForwardPart, Spec, missing_terms, per_sample
from .rnn import STEP_SHAPES, params_for

BLOCKS = ("r", "z", "n")

BEFORE = "n = tanh(x̃ W_xn + (r ⊙ h_prev) W_hn + b_n)"
AFTER = "n = tanh(x̃ W_xn + b_n + r ⊙ (h_prev W_hn + b_hn))"


def gru_pieces(x, h, p, reset_after, attention="sigmoid", swap_z=False, order=(0, 1, 2)):
    """The step by hand: a, x̃, r, z, n, h (optionally with z and 1 − z swapped, or the blocks reordered)."""
    H = h.shape[1]
    a = sigmoid(x @ p["W_xa"] + h @ p["W_ha"] + p["b_a"]) if attention else np.ones_like(x)
    xa = a * x
    Wx = [p["W_x"][:, k * H:(k + 1) * H] for k in order]
    Wh = [p["W_h"][:, k * H:(k + 1) * H] for k in order]
    b = [p["b"][k * H:(k + 1) * H] for k in order]
    r = sigmoid(xa @ Wx[0] + h @ Wh[0] + b[0])
    z = sigmoid(xa @ Wx[1] + h @ Wh[1] + b[1])
    if reset_after:
        n = np.tanh(xa @ Wx[2] + b[2] + r * (h @ Wh[2] + p.get("b_hn", 0)))
    else:
        n = np.tanh(xa @ Wx[2] + (r * h) @ Wh[2] + b[2])
    out = z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h
    return a, xa, r, z, n, out


class GRUStepSpec(Spec):
    forward_name = "gru_step_forward"
    backward_name = "gru_step_backward"
    forward_returns = "(h, cache)"
    backward_returns = "(dx_t, dh_prev, grads)"
    out_names = ("h",)
    backward_layout = ("dx_t", "dh_prev", "grads")
    attention = "sigmoid"

    def __init__(self, reset_after):
        self.reset_after = reset_after
        self.forward_signature = (f"gru_step_forward(x_t, h_prev, params, attention='sigmoid', "
                                  f"reset_after={reset_after}) -> (h, cache)")
        self.backward_signature = f"gru_step_backward(dh, cache) -> (dx_t, dh_prev, grads)  [reset_after={reset_after}]"

    def inputs(self, rng, s):
        return {"x_t": draw(rng, s["B"], s["D"]), "h_prev": draw(rng, s["B"], s["H"], scale=0.5),
                **params_for(rng, "gru", s["D"], s["H"], self.attention, self.reset_after)}

    @staticmethod
    def params(inp):
        return {k: v for k, v in inp.items() if k not in ("x_t", "h_prev")}

    def reference_forward(self, inp):
        h, _ = gru_step_forward(inp["x_t"], inp["h_prev"], self.params(inp), self.attention, self.reset_after)
        return {"h": h}

    def reference_backward(self, inp, douts):
        _, cache = gru_step_forward(inp["x_t"], inp["h_prev"], self.params(inp), self.attention, self.reset_after)
        dx, dh, grads = gru_step_backward(douts[0], cache)
        return {"dx_t": dx, "dh_prev": dh, **{"d" + k: grads[k] for k in self.params(inp)}}

    def forward_args(self, inst):
        return inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs), self.attention, self.reset_after

    def backward_args(self, inst, cache):
        return inst.douts[0], cache

    def forward_diagnosis(self, inst):
        x, h, p = inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs)
        other = gru_pieces(x, h, p, not self.reset_after)[-1]
        if self.reset_after:
            variant = Finding("this is the reset-before GRU, the paper's (r multiplies h_prev before the product, "
                              "and b_hn is not used): reset_after=True asks for the other form",
                              f"reset_after=True: {AFTER}")
        else:
            variant = Finding("this is the reset-after GRU (cuDNN / PyTorch: r multiplies h_prev W_hn after the "
                              "product): the paper's form, reset_after=False, resets before it",
                              f"reset_after=False: {BEFORE}")
        form = AFTER if self.reset_after else BEFORE
        s = [(other, variant),
             (gru_pieces(x, h, p, self.reset_after, swap_z=True)[-1],
              Finding("z and 1 − z are swapped", "h = (1 − z) ⊙ n + z ⊙ h_prev: z keeps the old state")),
             (gru_pieces(x, h, p, self.reset_after, order=(1, 0, 2))[-1],
              Finding("the gate blocks r and z are taken from each other's columns",
                      "the blocks of W_x, W_h and b are in the order r, z, n, each H wide")),
             (gru_pieces(x, h, p, self.reset_after, attention=None)[-1],
              Finding("the cell sees x_t, not the gated x̃ = a ⊙ x_t (the gate is skipped)",
                      f"x̃ = a ⊙ x_t feeds r, z and n: {form}"))]
        return Diagnosis(suspects={"h": s})

    def backward_diagnosis(self, inst):
        x, h, p, dh = inst.inputs["x_t"], inst.inputs["h_prev"], self.params(inst.inputs), inst.douts[0]
        ref = inst.grads
        H = h.shape[1]
        a, xa, r, z, n, _ = gru_pieces(x, h, p, self.reset_after)
        per = per_sample(x.shape[0], lambda b: _library_grads(x[b:b + 1], h[b:b + 1], p, dh[b:b + 1],
                                                              self.reset_after))
        dG, dza = per["b"], per["b_a"]
        dn_pre = dG[:, 2 * H:]
        W_hn, W_hrz = p["W_h"][:, 2 * H:], p["W_h"][:, :2 * H]
        if self.reset_after:
            cand_path = (dn_pre * r) @ W_hn.T
            wrong_path = (dn_pre @ W_hn.T) * r
            path_text = "the path through the candidate, (dn_pre ⊙ r) W_hnᵀ"
            wrong_dWh = np.concatenate([h.T @ dG[:, :2 * H], (r * h).T @ dn_pre], axis=1)
            wrong_dWh_text = Finding("the candidate's block of dW_h is the reset-before GRU's, (r ⊙ h_prev)ᵀ dn_pre",
                                     f"reset-after: {AFTER}, so dW_hn = h_prevᵀ (dn_pre ⊙ r) and "
                                     "db_hn = (dn_pre ⊙ r).sum(axis=0)")
        else:
            cand_path = (dn_pre @ W_hn.T) * r
            wrong_path = (dn_pre * r) @ W_hn.T
            path_text = "the path through the candidate, (dn_pre W_hnᵀ) ⊙ r"
            wrong_dWh = np.concatenate([h.T @ dG[:, :2 * H], h.T @ (dn_pre * r)], axis=1)
            wrong_dWh_text = Finding("the candidate's block of dW_h is the reset-after GRU's, h_prevᵀ (dn_pre ⊙ r)",
                                     f"reset-before: {BEFORE}, so dW_hn = (r ⊙ h_prev)ᵀ dn_pre")
        dh_formula = ("dh_prev = dh ⊙ z + [dr_pre, dz_pre] W_hrzᵀ + "
                      + ("(dn_pre ⊙ r) W_hnᵀ" if self.reset_after else "(dn_pre W_hnᵀ) ⊙ r") + " + dz_a W_haᵀ")
        dx_att = dG @ p["W_x"].T
        s = {
            "dh_prev": missing_terms(ref["dh_prev"], [
                (dh * z, "the direct path of h = (1 − z) ⊙ n + z ⊙ h_prev, dh ⊙ z", dh_formula),
                (dG[:, :2 * H] @ W_hrz.T, "the paths through r and z, [dr_pre, dz_pre] W_hrzᵀ", dh_formula),
                (cand_path, path_text, dh_formula),
                (dza @ p["W_ha"].T, "the attention gate's share, dz_a W_haᵀ", dh_formula)]) + [
                (ref["dh_prev"] - cand_path + wrong_path,
                 Finding("the candidate's path applies r on the wrong side of the product (the other reset form's)",
                         dh_formula))],
            "dW_x": [(x.T @ dG, Finding("multiplies the raw x_t, but the gates see x̃ = a ⊙ x_t", "dW_x = x̃ᵀ dG"))],
            "dW_h": [(wrong_dWh, wrong_dWh_text)],
            "dW_xa": [(xa.T @ dza, Finding("multiplies x̃, but W_xa multiplies the raw x_t", "dW_xa = x_tᵀ dz_a"))],
            "dx_t": missing_terms(ref["dx_t"], [
                (dx_att * a, "the direct path of x̃ = a ⊙ x_t, dx̃ ⊙ a", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ"),
                (dza @ p["W_xa"].T, "the attention gate's path, dz_a W_xaᵀ", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ")]) + [
                (dx_att * a + dza @ p["W_xa"], Finding("the gate's path is transposed (W_xa is square, so it ran)",
                                                       "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ")),
                (dx_att + dza @ p["W_xa"].T, Finding("the direct path is dx̃, not dx̃ ⊙ a", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ"))],
        }
        no_r = Finding("the candidate's path misses the reset gate r", dh_formula)
        s["dh_prev"].append((ref["dh_prev"] - cand_path + dn_pre @ W_hn.T, no_r))
        s["dW_h"].append((np.concatenate([h.T @ dG[:, :2 * H], h.T @ dn_pre], axis=1),
                          Finding("the candidate's block of dW_h misses the reset gate r",
                                  "dW_hn = h_prevᵀ (dn_pre ⊙ r)" if self.reset_after else "dW_hn = (r ⊙ h_prev)ᵀ dn_pre")))
        if self.reset_after:
            s["db_hn"] = [(dn_pre.sum(0), Finding("b_hn sits inside r ⊙ (h_prev W_hn + b_hn): r is missing",
                                                 "db_hn = (dn_pre ⊙ r).sum(axis=0)"))]
        r_formula = ("dr = dn_pre ⊙ (h_prev W_hn + b_hn)" if self.reset_after
                     else "dr = ((dn_pre W_hnᵀ) ⊙ h_prev)")
        block_formulas = {
            "r": f"r only enters the candidate: {r_formula}, then ⊙ r ⊙ (1 − r).",
            "z": "from h = (1 − z) ⊙ n + z ⊙ h_prev: dz = dh ⊙ (h_prev − n), then ⊙ z ⊙ (1 − z).",
            "n": "dn = dh ⊙ (1 − z), then ⊙ (1 − n²).",
        }
        deps = {"db_a": ("db",), "dW_x": ("db",), "dW_h": ("db",), "db_hn": ("db",), "dW_xa": ("db_a",),
                "dW_ha": ("db_a",), "dx_t": ("db", "db_a"), "dh_prev": ("db", "db_a")}
        fallback = {
            "db": Finding("dG = [dr, dz, dn] before their activations is wrong", " ".join(block_formulas.values())),
            "db_a": Finding("dG is right (db is); the gate gets dx̃ = dG W_xᵀ", "dz_a = (dx̃ ⊙ x_t) ⊙ a ⊙ (1 − a)"),
            "dW_x": Finding("dG is right (db is), so the error is in the product", "dW_x = x̃ᵀ dG"),
            "dW_h": Finding("dG is right (db is): the candidate's block needs its own form",
                            "dW_h = [h_prevᵀ dr_pre, h_prevᵀ dz_pre, " +
                            ("h_prevᵀ (dn_pre ⊙ r)]" if self.reset_after else "(r ⊙ h_prev)ᵀ dn_pre]")),
            "db_hn": Finding("b_hn sits inside r ⊙ (h_prev W_hn + b_hn)", "db_hn = (dn_pre ⊙ r).sum(axis=0)"),
            "dh_prev": Finding("h_prev reaches h by four paths", dh_formula),
            "dx_t": Finding("x_t reaches x̃ directly and through the attention gate", "dx_t = dx̃ ⊙ a + dz_a W_xaᵀ"),
        }
        blocks = {k: BLOCKS for k in ("db", "dW_x", "dW_h")}
        return Diagnosis(s, deps, fallback, blocks, block_formulas)


def _library_grads(x, h, p, dh, reset_after):
    _, cache = gru_step_forward(x, h, p, "sigmoid", reset_after)
    return gru_step_backward(dh, cache)[2]


BEFORE_SPEC, AFTER_SPEC = GRUStepSpec(False), GRUStepSpec(True)


def gru_step_problem():
    fwd = ForwardPart(BEFORE_SPEC, "forward", "one GRU step's forward (reset-before, the paper's)", 2,
                      cases([0, 1], STEP_SHAPES))
    bwd = BackwardPart(BEFORE_SPEC, "backward", "one GRU step's backward (reset-before)", 4,
                       cases([0, 1], STEP_SHAPES), fwd)
    return Problem("gru_step", "One step of the EleAtt-GRU, the paper's reset-before form", [fwd, bwd])


def gru_reset_after_problem():
    fwd = ForwardPart(AFTER_SPEC, "forward", "one GRU step's forward (reset-after)", 1, cases([0, 1], STEP_SHAPES))
    bwd = BackwardPart(AFTER_SPEC, "backward", "one GRU step's backward (reset-after)", 2, cases([0, 1], STEP_SHAPES),
                       fwd)
    return Problem("gru_reset_after", "The reset-after GRU (cuDNN, PyTorch)", [fwd, bwd])
