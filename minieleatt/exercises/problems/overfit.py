"""Problem: overfit a tiny batch with your own masked RNN, readout, loss and update.

A network that cannot drive the loss of five sequences to nearly zero has a bug (or a learning rate
far off): CS231n's classic sanity check. The student writes
``overfit_tiny_batch(x, mask, y, num_classes) -> (params, losses)`` with their own
``masked_rnn_forward/backward``, ``mean_readout_forward/backward`` and ``softmax_cross_entropy``, and an
update of their choice (plain gradient descent is enough; ``minieleatt.optim`` may be used). The
grader evaluates the returned parameters with the library's reference: the loss must be below
``THRESHOLD`` and every sequence classified right.
"""

import math

import numpy as np

from ...functional import param_shapes, rnn_forward
from ...nn import readout_forward, softmax_cross_entropy
from ..parts import CaseResult, Malformed, Part, Problem, cases, draw
from ..report import Finding, TensorRow
from .masked import GIVEN, example_mask

THRESHOLD = 0.1


def tiny_batch(seed=0, T=6, B=5, D=4, C=3):
    """The batch to overfit: x (T, B, D), mask (T, B), labels y (B,)."""
    rng = np.random.default_rng(4000 + seed)
    x = draw(rng, T, B, D)
    mask = example_mask(T, B)
    y = np.arange(B) % C
    return x, mask, y


def evaluate(params, x, mask, y, num_classes):
    """The reference's loss and accuracy of the student's parameters on the batch."""
    H = params["W_h"].shape[0]
    rnn = {k: params[k] for k in param_shapes("rnn", x.shape[2], H, "sigmoid")}
    hs, _ = rnn_forward(x, rnn, None, mask, "sigmoid")
    logits = readout_forward(hs, mask, "mean") @ params["W_out"] + params["b_out"]
    loss, _ = softmax_cross_entropy(logits, y)
    return loss, float((logits.argmax(axis=1) == y).mean())


class OverfitPart(Part):
    def __init__(self, points):
        super().__init__("overfit", "the loss of a tiny batch driven to nearly zero", ("overfit_tiny_batch",), points,
                         "overfit_tiny_batch(x, mask, y, num_classes) -> (params, losses)")

    def cases(self):
        return cases([0], [dict(T=6, B=5, D=4, C=3)])

    def run_case(self, student, case):
        s = case.sizes
        x, mask, y = tiny_batch(case.seed, **s)
        C = s["C"]
        out = student.call("overfit_tiny_batch", x, mask, y, C, callbacks=(), sizes=s)
        if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[0], dict):
            raise Malformed("it must return (params, losses): a dict of the trained parameters and the list of losses")
        params, losses = out
        try:
            losses = [float(v) for v in losses]
        except (TypeError, ValueError):
            raise Malformed("losses must be a list of numbers, the loss at each step") from None
        need = {"W_xa", "W_ha", "b_a", "W_x", "W_h", "b", "W_out", "b_out"}
        missing = sorted(need - set(params))
        if missing:
            raise Malformed(f"params misses {missing}; it must hold the RNN's parameters and W_out (H, C), b_out (C,)")
        try:
            with np.errstate(all="ignore"):
                loss, acc = evaluate({k: np.asarray(v, dtype=np.float64) for k, v in params.items()}, x, mask, y, C)
        except (ValueError, TypeError, KeyError) as exc:
            raise Malformed(f"the returned parameters cannot be evaluated: {exc}") from None
        ok = math.isfinite(loss) and loss < THRESHOLD and acc == 1.0
        finding = None if ok else _why(losses, loss, C)
        rows = [TensorRow("loss", (), loss, ok and True, "" if ok else f"{loss:.4g} (must be below {THRESHOLD})",
                          finding),
                TensorRow("accuracy", (), acc, acc == 1.0, "" if acc == 1.0 else f"{acc:.0%} of the batch")]
        return CaseResult(rows)


def _why(losses, loss, C):
    chance = math.log(C)
    if not losses:
        return Finding("no losses were recorded", "append the loss of every step to losses")
    first, last = losses[0], losses[-1]
    if not all(math.isfinite(v) for v in losses) or not math.isfinite(loss):
        return Finding("the loss became NaN or inf: the run diverged", "a smaller learning rate, or clip the gradients "
                       "by their global norm")
    if abs(first - chance) > 0.5 * chance:
        return Finding(f"the first loss is {first:.3g}, far from ln C = {chance:.3g} (a network that guesses): "
                       "the initial weights are too large", "draw them small, e.g. uniform in ±1/√H")
    if last > first:
        return Finding(f"the loss rose from {first:.3g} to {last:.3g}: a step along +grad, or a learning rate far too "
                       "large", "p -= lr * grads[name] for every parameter")
    if abs(last - loss) > 1e-3 * max(1.0, abs(loss)) and loss > last:
        return Finding(f"your last recorded loss is {last:.3g} but the returned parameters give {loss:.3g}: are they "
                       "the trained arrays?", "return the parameters you updated")
    if first - last < 0.1 * first:
        return Finding(f"the loss hardly moved ({first:.3g} to {last:.3g}): a tiny learning rate, or gradients that do "
                       "not reach the parameters", "check that the update changes the arrays the forward pass uses")
    return Finding(f"the loss fell from {first:.3g} to {last:.3g} but not below {THRESHOLD}", "more steps or a larger "
                   "learning rate")


def overfit_problem():
    return Problem("overfit", "Overfit a tiny batch", [OverfitPart(3)],
                   given=GIVEN | {("optim.py", "*")})
