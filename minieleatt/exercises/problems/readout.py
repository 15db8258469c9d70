"""Problem: the classifier's head: the mean over each sequence's valid steps, and softmax cross-entropy.

    pooled_b = Σ_t m_tb h_tb / Σ_t m_tb                    (the mean over sequence b's valid steps)
    loss = −(1/B) Σ_b log softmax(logits_b)[y_b];   dlogits = (softmax(logits) − onehot(y)) / B

The student writes ``mean_readout_forward(hs, mask) -> (pooled, cache)``,
``mean_readout_backward(dpooled, cache) -> dhs`` and ``softmax_cross_entropy(logits, y) -> (loss, dlogits)``
(the library's ``minieleatt.nn`` signature).
"""

import numpy as np

from ...functional.activations import log_softmax
from ...nn import readout_backward, readout_forward, softmax_cross_entropy
from ..diagnose import Diagnosis
from ..parts import CaseResult, Malformed, Part, Problem, cases, compare, draw
from ..report import Finding
from .common import BackwardPart, ForwardPart, Spec
from .masked import example_mask

SHAPES = [dict(T=6, B=4, H=3), dict(T=5, B=3, H=2)]


class ReadoutSpec(Spec):
    forward_name = "mean_readout_forward"
    backward_name = "mean_readout_backward"
    forward_signature = "mean_readout_forward(hs, mask) -> (pooled, cache)"
    backward_signature = "mean_readout_backward(dpooled, cache) -> dhs"
    forward_returns = "(pooled, cache)"
    backward_returns = "dhs"
    out_names = ("pooled",)
    backward_layout = "dhs"

    def inputs(self, rng, s):
        return {"hs": draw(rng, s["T"], s["B"], s["H"]), "mask": example_mask(s["T"], s["B"])}

    def param_names(self, inputs):
        return []

    def reference_forward(self, inp):
        return {"pooled": readout_forward(inp["hs"], inp["mask"], "mean")}

    def reference_backward(self, inp, douts):
        return {"dhs": readout_backward(douts[0], inp["hs"].shape, inp["mask"], "mean")}

    def forward_args(self, inst):
        return inst.inputs["hs"], inst.inputs["mask"]

    def backward_args(self, inst, cache):
        return inst.douts[0], cache

    def forward_diagnosis(self, inst):
        hs, mask = inst.inputs["hs"], inst.inputs["mask"]
        m = mask[:, :, None]
        return Diagnosis(suspects={"pooled": [
            (hs.mean(axis=0), Finding("the mean over all T steps: the mask is ignored",
                                      "pooled = (hs ⊙ m).sum(axis=0) / m.sum(axis=0), with m = mask[:, :, None]")),
            ((hs * m).sum(axis=0) / hs.shape[0], Finding("divides by T, not by each sequence's number of valid steps",
                                                         "divide by m.sum(axis=0), shape (B, 1)")),
            ((hs * m).sum(axis=0), Finding("the sum over the valid steps, not their mean",
                                           "divide by m.sum(axis=0), each sequence's number of valid steps")),
            (hs[-1], Finding("the last step, not the mean over the valid steps", "pooled = (hs ⊙ m).sum(0) / m.sum(0)"))]})

    def backward_diagnosis(self, inst):
        hs, mask, dp = inst.inputs["hs"], inst.inputs["mask"], inst.douts[0]
        T = hs.shape[0]
        m = mask[:, :, None]
        n = m.sum(axis=0)
        return Diagnosis(suspects={"dhs": [
            (np.broadcast_to(dp / n, hs.shape), Finding("padded steps get gradient: they were not in the mean",
                                                       "dhs = m ⊙ dpooled / m.sum(axis=0)")),
            (np.broadcast_to(dp / T, hs.shape) * m, Finding("divides by T, not by each sequence's number of valid steps",
                                                           "dhs = m ⊙ dpooled / m.sum(axis=0)")),
            (m * dp, Finding("the 1 / (number of valid steps) of the mean is missing",
                             "dhs = m ⊙ dpooled / m.sum(axis=0)"))]})


READOUT = ReadoutSpec()


class LossPart(Part):
    """softmax_cross_entropy(logits, y) -> (loss, dlogits), also with logits in the thousands."""

    LARGE = "logits in the thousands"

    def __init__(self, points):
        super().__init__("loss", "softmax cross-entropy and its gradient", ("softmax_cross_entropy",), points,
                         "softmax_cross_entropy(logits, y) -> (loss, dlogits)")

    def cases(self):
        return cases([0, 1], [dict(B=4, C=3), dict(B=5, C=6)]) + cases([2], [dict(B=4, C=3)], self.LARGE)

    def run_case(self, student, case):
        B, C = case.sizes["B"], case.sizes["C"]
        rng = np.random.default_rng(2000 + case.seed)
        logits = draw(rng, B, C, scale=2000.0 if case.variant else 2.0)
        y = rng.integers(0, C, B)
        out = student.call("softmax_cross_entropy", logits, y, sizes=case.sizes)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise Malformed("it must return (loss, dlogits), a number and a (B, C) array")
        loss, dlogits = out
        try:
            loss = np.asarray(float(loss))
        except (TypeError, ValueError):
            raise Malformed(f"the loss must be a number (a float), got a {type(loss).__name__}") from None
        ref_loss, ref_d = softmax_cross_entropy(logits, y)
        right = {"loss": np.asarray(ref_loss), "dlogits": ref_d}
        p = np.exp(log_softmax(logits))
        onehot = np.eye(C)[y]
        logp = log_softmax(logits)
        s = {"loss": [(np.asarray(ref_loss * B), Finding("the sum over the batch, not the mean",
                                                        "loss = −mean over the batch of log softmax(logits)[y]")),
                      (np.asarray(-float(logp[np.arange(B), y].sum() / C)),
                       Finding("divides by the number of classes, not by B", "loss = −(1/B) Σ_b log p_b[y_b]"))],
             "dlogits": [(p - onehot, Finding("not divided by B: the loss is a mean over the batch",
                                              "dlogits = (softmax(logits) − onehot(y)) / B")),
                         (p / B, Finding("misses the − 1 at each row's label", "dlogits = (softmax(logits) − onehot(y)) / B")),
                         ((onehot - p) / B, Finding("the wrong sign", "dlogits = (softmax(logits) − onehot(y)) / B"))]}
        got = {"loss": loss, "dlogits": dlogits}
        rows = compare(got, right, right, case.sizes, Diagnosis(suspects=s), tol=1e-9)
        rows = [r._replace(finding=Finding("holds NaN or inf: exp overflowed",
                                           "log-softmax by the log-sum-exp trick: z − max(z) − log Σ exp(z − max(z))"))
                if r.problem == "holds NaN or inf" else r for r in rows]
        return CaseResult(rows)


def readout_loss_problem():
    case_list = cases([0, 1], SHAPES)
    fwd = ForwardPart(READOUT, "readout_forward", "the mean over each sequence's valid steps", 1, case_list)
    bwd = BackwardPart(READOUT, "readout_backward", "its backward", 1, case_list, fwd)
    return Problem("readout_loss", "The mean readout and the softmax cross-entropy", [fwd, bwd, LossPart(2)])

