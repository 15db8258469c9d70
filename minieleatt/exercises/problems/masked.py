"""Problem: the RNN over a padded batch with a mask, and backpropagation across two chunks.

    h_t = m_t ⊙ step(x_t, h_{t-1}) + (1 − m_t) ⊙ h_{t-1}         (m_t = mask[t][:, None], 1 or 0 per sequence)

A padded step keeps the state, so ``hs[-1]`` is each sequence's state after its own last step.
The student writes ``masked_rnn_forward(x, params, h0, mask, attention="sigmoid") -> (hs, cache)`` and
``masked_rnn_backward(dhs, cache, dh_T=None) -> (dx, dh0, grads)``, where ``dh_T`` is the gradient on
the final state that a later chunk sends back (truncated BPTT runs a long sequence in chunks; passing
``dh_T`` back makes the chunks' gradients add up to the whole sequence's). The step functions
``rnn_step_forward`` / ``rnn_step_backward`` are given (the library's, or the student's own).
"""

import numpy as np

from ...functional import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from ..diagnose import Diagnosis, same
from ..parts import CaseResult, Part, Problem, cases, compare, copy, unpack
from ..report import RECHECK, Finding
from .common import BackwardPart, ForwardPart, get_instance
from .rnn import RNNSequenceSpec, sequence_findings

SHAPES = [dict(T=6, B=4, D=7, H=3), dict(T=5, B=3, D=6, H=2)]
GIVEN = {("functional/rnn.py", "rnn_step_forward"), ("functional/rnn.py", "rnn_step_backward"),
         ("functional/gate.py", "gate_step_forward"), ("functional/gate.py", "gate_step_backward")}


def example_mask(T, B):
    """Sequence 0 is full; 1 ends two steps early; 2 has a hole of two padded steps; the others end one early."""
    mask = np.ones((T, B))
    mask[T - 2:, 1] = 0
    if B > 2:
        mask[1:3, 2] = 0
    for b in range(3, B):
        mask[T - 1:, b] = 0
    return mask


def variant_backward(x, params, h0, mask, dhs, dh_T, attention, variant):
    """The masked backward pass with one named slip, on the reference's step functions.

    variant: 'mask_outputs' (the step gets the whole dh, its outputs are masked afterwards),
    'mask_ignored' (no mask in backward), 'no_padded_carry' (a padded step passes nothing on),
    'dh0_is_dh' (returns the dh step 0 received), 'dh_T_ignored', 'dh_T_every_step'.
    Returns a dict dx, dh0, d<param>."""
    T = x.shape[0]
    h, caches = h0, []
    for t in range(T):
        h_new, c = rnn_step_forward(x[t], h, params, attention)
        m = mask[t][:, None]
        h = m * h_new + (1 - m) * h
        caches.append(c)
    dh_next = np.zeros_like(h0) if (dh_T is None or variant == "dh_T_ignored") else dh_T.copy()
    dxs, grads, dh = [None] * T, None, None
    for t in reversed(range(T)):
        m = mask[t][:, None]
        dh = dhs[t] + dh_next
        if variant == "dh_T_every_step" and dh_T is not None and t < T - 1:
            dh = dh + dh_T
        if variant in ("mask_outputs", "mask_ignored"):
            dx_t, dh_prev, g = rnn_step_backward(dh, caches[t])
        else:
            dx_t, dh_prev, g = rnn_step_backward(m * dh, caches[t])
        if variant == "mask_outputs":
            dx_t = m * dx_t
            dh_next = m * dh_prev + (1 - m) * dh
        elif variant in ("mask_ignored", "no_padded_carry"):
            dh_next = dh_prev
        else:
            dh_next = dh_prev + (1 - m) * dh
        dxs[t] = dx_t
        grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
    dh0 = dh if variant == "dh0_is_dh" else dh_next
    return {"dx": np.stack(dxs), "dh0": dh0, **{"d" + k: v for k, v in grads.items()}}


class MaskedSpec(RNNSequenceSpec):
    """The RNN sequence of assignment 1 (its returns, layout, cell and step names) with a mask and ``dh_T``."""
    forward_name = "masked_rnn_forward"
    backward_name = "masked_rnn_backward"
    forward_signature = "masked_rnn_forward(x, params, h0, mask, attention='sigmoid') -> (hs, cache)"
    backward_signature = "masked_rnn_backward(dhs, cache, dh_T=None) -> (dx, dh0, grads)"

    def inputs(self, rng, s):
        return {**super().inputs(rng, s), "mask": example_mask(s["T"], s["B"])}

    @staticmethod
    def params(inp):
        return {k: v for k, v in inp.items() if k not in ("x", "h0", "mask")}

    def param_names(self, inputs):
        return list(self.params(inputs))

    def reference_forward(self, inp):
        hs, cache = rnn_forward(inp["x"], self.params(inp), inp["h0"], inp["mask"], self.attention)
        return {"hs": hs, "h_T": cache.final_state}

    def forward_outputs(self, raw):
        arr = np.asarray(raw) if isinstance(raw, np.ndarray) else raw
        return {"hs": raw, "h_T": arr[-1] if isinstance(arr, np.ndarray) and arr.ndim == 3 else None}

    def reference_backward(self, inp, douts):
        _, cache = rnn_forward(inp["x"], self.params(inp), inp["h0"], inp["mask"], self.attention)
        dx, dh0, grads = rnn_backward(douts[0], cache, douts[1])
        return {"dx": dx, "dh0": dh0, **{"d" + k: grads[k] for k in self.params(inp)}}

    def forward_args(self, inst):
        return inst.inputs["x"], self.params(inst.inputs), inst.inputs["h0"], inst.inputs["mask"], self.attention

    def backward_args(self, inst, cache):
        dh_T = inst.douts[1] if len(inst.douts) > 1 else getattr(inst, "dstate_T", None)
        return inst.douts[0], cache, dh_T

    def forward_diagnosis(self, inst):
        x, h0, p, mask = inst.inputs["x"], inst.inputs["h0"], self.params(inst.inputs), inst.inputs["mask"]
        unmasked, _ = rnn_forward(x, p, h0, None, self.attention)
        h, zeroed = h0, []
        for t in range(len(x)):
            h_new, _ = rnn_step_forward(x[t], h, p, self.attention)
            m = mask[t][:, None]
            zeroed.append(m * h_new)
            h = m * h_new + (1 - m) * h
        ignore = Finding("the mask is ignored: padded steps update the state as if they were data",
                         "h_t = m_t ⊙ step(x_t, h_{t-1}) + (1 − m_t) ⊙ h_{t-1}, with m_t = mask[t][:, None]")
        zero = Finding("a padded step sets the state to 0 instead of keeping it",
                       "h_t = m_t ⊙ h_new + (1 − m_t) ⊙ h_{t-1}: the (1 − m_t) ⊙ h_{t-1} term carries it")
        zeroed = np.stack(zeroed)
        return Diagnosis(suspects={"hs": [(unmasked, ignore), (zeroed, zero)],
                                   "h_T": [(unmasked[-1], ignore), (zeroed[-1], zero)]})

    def backward_diagnosis(self, inst):
        x, h0, p, mask = inst.inputs["x"], inst.inputs["h0"], self.params(inst.inputs), inst.inputs["mask"]
        dhs, dh_T = inst.douts
        v = {name: variant_backward(x, p, h0, mask, dhs, dh_T, self.attention, name)
             for name in ("mask_outputs", "mask_ignored", "no_padded_carry", "dh0_is_dh", "dh_T_ignored",
                          "dh_T_every_step")}
        into_pad = Finding("gradient flows into padded steps, where the cell never ran (dx is not 0 there)",
                           "give the step's backward m_t ⊙ dh_t, so that nothing reaches x or the weights at a "
                           "padded step")
        outputs = Finding("dx and dh0 are right, but the weights' gradients include the padded steps: the step's "
                          "backward got the whole dh_t, and masking what it returns (dx_t, dh_prev) afterwards "
                          "cannot take a padded step's share out of dW",
                          "mask what goes in: dx_t, dh_prev, step_grads = step_backward(m_t ⊙ dh_t, cache_t); "
                          "then dh_next = dh_prev + (1 − m_t) ⊙ dh_t")
        carry = Finding("a padded step passes nothing back: where m_t = 0, h_t = h_{t-1}, so dh_t must reach "
                        "h_{t-1} unchanged",
                        "dh_next = dh_prev + (1 − m_t) ⊙ dh_t")
        dh0_is_dh = Finding("dh0 is the gradient that step 0 received, not what it sends back to h0",
                            "after the loop, dh0 = dh_next = dh_prev of step 0 + (1 − m_0) ⊙ dh_0")
        dT_ignored = Finding("dh_T is ignored: the gradient a later chunk sends back to the final state must start "
                             "the loop", "dh_next = dh_T before the loop (zeros when dh_T is None)")
        dT_every = Finding("dh_T is added at every step: it is the gradient of the final state only",
                           "dh_next = dh_T before the loop, then dh_t = dhs[t] + dh_next")
        names = ["dx", "dh0"] + ["d" + k for k in p]
        s = {n: [] for n in names}
        for n in names:
            s[n].append((v["dh_T_ignored"][n], dT_ignored))
            s[n].append((v["dh_T_every_step"][n], dT_every))
            s[n].append((v["no_padded_carry"][n], carry))
        s["dx"].append((v["mask_ignored"]["dx"], into_pad))
        s["dh0"].insert(0, (v["dh0_is_dh"]["dh0"], dh0_is_dh))
        for n in names[2:]:
            s[n].insert(0, (v["mask_outputs"][n], outputs))
            s[n].append((v["mask_ignored"][n], into_pad))
        deps = {n: ("dx", "dh0") for n in names[2:]}
        return Diagnosis(s, deps)

    def backward_findings(self, student, inst, cache, got, rows):
        if any(r.finding is not None and r.finding != RECHECK for r in rows if not r.passed and not r.after):
            return []              # a named slip explains it already
        return sequence_findings(self, student, _WithTail(inst))


class _WithTail:
    """An instance seen with its final-state gradient as ``dstate_T`` (for the bisector)."""

    def __init__(self, inst):
        self.inputs, self.douts, self.dstate_T = inst.inputs, inst.douts, inst.douts[1]


SPEC = MaskedSpec()


class ChunksPart(Part):
    """Truncated BPTT across two chunks: the chunks' gradients, with dh_T passed back, equal the whole's."""

    def __init__(self, spec, points, case_list):
        super().__init__("chunks", "backpropagation across two chunks (dh_T)", (spec.forward_name, spec.backward_name),
                         points, "masked_rnn_forward / masked_rnn_backward on x[:k], then x[k:], backward with dh_T")
        self.spec = spec
        self._cases = case_list

    def cases(self):
        return self._cases

    def run_case(self, student, case):
        spec = self.spec
        inst = get_instance(spec, case)
        x, h0, mask, p = inst.inputs["x"], inst.inputs["h0"], inst.inputs["mask"], spec.params(inst.inputs)
        dhs = inst.douts[0]
        T = x.shape[0]
        k = T // 2
        _, ref_cache = rnn_forward(x, p, h0, mask, spec.attention)
        dx, dh0, grads = rnn_backward(dhs, ref_cache)
        right = {"dx": dx, "dh0": dh0, **{"d" + n: grads[n] for n in p}}
        # the whole sequence first: the chunks need the plain backward to be right
        _, cache = student.call(spec.forward_name, x, p, h0, mask, spec.attention, sizes=case.sizes)
        whole = unpack(student.call(spec.backward_name, dhs, cache, None, sizes=case.sizes), spec.backward_layout,
                       spec.backward_returns, list(p))
        if not all(_ok(whole[n], right[n]) for n in right):
            return CaseResult([], message="masked_rnn_backward is not right on the whole sequence (dh_T=None) "
                                          "[masked_rnn.backward]: fix it first.")
        hs_a, cache_a = student.call(spec.forward_name, x[:k], p, h0, mask[:k], spec.attention, sizes=case.sizes)
        h_k = np.asarray(hs_a)[-1]
        _, cache_b = student.call(spec.forward_name, x[k:], p, h_k, mask[k:], spec.attention, sizes=case.sizes)
        b = unpack(student.call(spec.backward_name, dhs[k:], cache_b, None, sizes=case.sizes), spec.backward_layout,
                   spec.backward_returns, list(p))
        a = unpack(student.call(spec.backward_name, dhs[:k], cache_a, copy(b["dh0"]), sizes=case.sizes),
                   spec.backward_layout, spec.backward_returns, list(p))
        got = {"dx": np.concatenate([np.asarray(a["dx"]), np.asarray(b["dx"])]), "dh0": a["dh0"],
               **{"d" + n: np.asarray(a["d" + n]) + np.asarray(b["d" + n]) for n in p}}
        a_alone = variant_backward(x[:k], p, h0, mask[:k], dhs[:k], np.asarray(b["dh0"]), spec.attention,
                                   "dh_T_ignored")
        every = variant_backward(x[:k], p, h0, mask[:k], dhs[:k], np.asarray(b["dh0"]), spec.attention,
                                 "dh_T_every_step")
        ignored = Finding("the first chunk's backward ignores dh_T: its steps do not see the gradient that the second "
                          "chunk sends back", "dh_next = dh_T before the loop")
        every_f = Finding("dh_T is added at every step of the first chunk", "dh_next = dh_T before the loop, once")
        suspects = {"dh0": [(a_alone["dh0"], ignored), (every["dh0"], every_f)]}
        diag = Diagnosis(suspects=suspects, deps={n: ("dx", "dh0") for n in right if n not in ("dx", "dh0")})
        rows = compare(got, right, right, case.sizes, diag)
        return CaseResult(rows)


def _ok(a, b):
    return a is not None and np.shape(a) == b.shape and same(np.asarray(a, dtype=float), b)


def masked_rnn_problem():
    case_list = cases([0, 1], SHAPES)
    fwd = ForwardPart(SPEC, "forward", "the RNN over a padded batch, forward", 2, case_list)
    bwd = BackwardPart(SPEC, "backward", "the RNN over a padded batch, backward (with dh_T)", 4, case_list, fwd)
    chunks = ChunksPart(SPEC, 2, case_list)
    return Problem("masked_rnn", "Masks and backpropagation in chunks", [fwd, bwd, chunks], given=GIVEN)
