"""The bug zoo: real student mistakes, each applied to the model solution, with what the checker says.

``MISTAKES`` is the one catalogue: the bug-zoo notebook (tutorials/08_bug_zoo.ipynb) shows every entry
beside the report the checker prints, and the tests grade every entry and require that the named part
fails with the named diagnosis. An entry is an edit of a model solution (the assignments' sources,
written line for line like the library's reference cells in ``minieleatt.functional``):

    Mistake(key, title, story, assignment, edits=((old, new), ...), part, signature)

``apply(mistake)`` returns the namespace of the assignment's solutions with the edit made (the edited
cell is compiled as a submission's, so the grader sees it exactly as it would see a student's);
``report(mistake)`` grades the part it must fail.
"""

import difflib
from typing import NamedTuple

from .assignments import find_part
from .grader import SKIPPED_TAGS, _register, _strip_magics
from .handout import read_source


class Mistake(NamedTuple):
    key: str
    title: str
    story: str           # how students come to make it
    assignment: str
    edits: tuple         # (old, new) pairs, each old found exactly once in the assignment's solution cells
    part: str            # the part that must fail
    signature: str       # words the checker's report (hint level 'formula') must contain
    secret: str = None   # caught only on the grader's hidden cases: drawn from this secret


def _m(key, title, story, assignment, edits, part, signature, secret=None):
    if isinstance(edits[0], str):
        edits = (edits,)
    return Mistake(key, title, story, f"assignment{assignment}", tuple(edits), part, signature, secret)


MISTAKES = [
    # -- the checker itself
    _m("forward-difference", "a one-sided difference in the checker",
       "The definition of the derivative is one-sided; its error shrinks only like ε, not ε².", 1,
       [("        x[i] = old - eps\n        minus", "        x[i] = old\n        minus"),
        ("dx[i] = (plus - minus) / (2 * eps)", "dx[i] = (plus - minus) / eps")],
       "numerical_vjp.gradient", "a forward difference"),
    _m("half-step", "dividing by ε instead of 2ε", "The two evaluations are 2ε apart, not ε.", 1,
       ("dx[i] = (plus - minus) / (2 * eps)", "dx[i] = (plus - minus) / eps"),
       "numerical_vjp.gradient", "divided by ε, not by 2ε"),
    _m("float32-check", "float32 in the check",
       "float32 halves the memory and runs faster, so it is tempting; a gradient check cannot afford it.", 1,
       [("plus = (f(x) * dout).sum()", "plus = (f(x.astype(np.float32)) * dout).sum()"),
        ("minus = (f(x) * dout).sum()", "minus = (f(x.astype(np.float32)) * dout).sum()")],
       "numerical_vjp.gradient", "float32"),
    _m("not-restored", "a perturbation not undone",
       "Forgetting to put x[i] back; every later entry is then estimated at a shifted point, and the caller's x "
       "comes back changed.", 1,
       ("        x[i] = old                                  # exactly as it was\n", ""),
       "numerical_vjp.inputs", "x is not left as it was"),
    _m("arithmetic-restore", "x[i] restored by arithmetic",
       "x[i] += ε, then x[i] -= ε looks like it undoes itself; in floating point it does only where x[i] is large "
       "next to ε, as on the visible cases. The grader's hidden cases hold inputs far smaller than ε.", 1,
       ("        x[i] = old + eps\n        plus = (f(x) * dout).sum()\n        x[i] = old - eps\n"
        "        minus = (f(x) * dout).sum()\n        x[i] = old                                  # exactly as it was\n",
        "        x[i] += eps\n        plus = (f(x) * dout).sum()\n        x[i] -= eps\n        x[i] -= eps\n"
        "        minus = (f(x) * dout).sum()\n        x[i] += eps\n"),
       "numerical_vjp.inputs", "undone by arithmetic", secret="the bug zoo"),
    # -- the gate
    _m("gate-in-place", "the gate applied in place",
       "x_att = x_t makes a second name for the same array, so x_att *= a also scales the caller's x_t: the output "
       "is right, the input is not.", 1,
       ("    x_att = a * x_t\n", "    x_att = x_t\n    x_att *= a\n"), "gate.forward", "writes into its argument x_t"),
    _m("gate-direct-path", "the direct path of x̃ = a ⊙ x forgotten",
       "x reaches x̃ twice (directly and through z_a); the path through the gate is the one students remember.", 1,
       ("dx_t = dx_t + dz_a @ W_xa.T", "dx_t = dz_a @ W_xa.T"), "gate.backward",
       "misses one of its terms: the direct path"),
    _m("gate-transposed", "a transposed weight",
       "W_xa is square (D x D), so dz_a @ W_xa runs: nothing but the checker objects.", 1,
       ("dx_t = dx_t + dz_a @ W_xa.T", "dx_t = dx_t + dz_a @ W_xa"), "gate.backward", "transposed"),
    _m("gate-no-derivative", "the sigmoid's derivative forgotten", "da is taken for dz_a.", 1,
       ("        dz_a = da * a * (1 - a)                             # undo a = σ(z_a)",
        "        dz_a = da"), "gate.backward", "derivative of the gate's activation is missing"),
    _m("bias-not-summed", "the bias's gradient not summed over the batch",
       "b_a is added to every row, so every row's gradient reaches it: one (D,) vector, the sum over the rows.", 1,
       ('"b_a": dz_a.sum(axis=0)', '"b_a": dz_a'), "gate.backward", "not summed over the batch (axis 0)"),
    _m("bias-wrong-axis", "the bias summed over the wrong axis",
       "axis=1 sums over the features; a bias keeps one entry per feature and sums over the batch.", 1,
       ('"b_a": dz_a.sum(axis=0)', '"b_a": dz_a.sum(axis=1)'), "gate.backward", "summed over axis 1"),
    _m("bias-mean", "a mean where a sum belongs",
       "The loss's 1/B is already in the upstream gradient; averaging again divides by B twice.", 1,
       ('"b_a": dz_a.sum(axis=0)', '"b_a": dz_a.mean(axis=0)'), "gate.backward", "divided by B = "),
    _m("softmax-batch-axis", "the softmax over the batch",
       "softmax(z) without an axis, or with axis=0, normalises the wrong way.", 1,
       ("a = softmax(z_a, axis=-1)", "a = softmax(z_a, axis=0)"), "softmax_gate.forward",
       "runs over the batch (axis 0)"),
    _m("softmax-as-sigmoid", "the softmax differentiated like a sigmoid",
       "a ⊙ (1 − a) is only the diagonal of the softmax's Jacobian.", 1,
       ("dz_a = a * (da - (da * a).sum(axis=1, keepdims=True))", "dz_a = da * a * (1 - a)"),
       "softmax_gate.backward", "treats the softmax like a sigmoid"),
    # -- the RNN step and the sequence
    _m("tanh-derivative-again", "tanh′ taken of the output again",
       "tanh′(z) = 1 − tanh²(z): from the output h that is 1 − h², not 1 − tanh²(h).", 1,
       ("dpre = dh * (1 - h * h)", "dpre = dh * (1 - tanh(h) ** 2)"), "rnn_step.backward", "tanh′ of h again"),
    _m("dh-in-place", "dh scaled in place",
       "dpre = dh; dpre *= 1 - h**2 saves an array, but dpre is dh: the caller's dh changes (in a loop, dhs[t]).", 1,
       ("    dpre = dh * (1 - h * h)  ", "    dpre = dh\n    dpre *= 1 - h * h  "), "rnn_step.backward",
       "writes into its argument dh"),
    _m("rnn-transposed-Wh", "W_h transposed in dh_prev",
       "W_h is square (H x H), so the slip runs.", 1,
       ('dh_prev = dpre @ p["W_h"].T', 'dh_prev = dpre @ p["W_h"]'), "rnn_step.backward",
       "uses W_h where W_hᵀ belongs"),
    _m("gate-share", "the gate's share of dh_prev forgotten",
       "h_prev feeds the cell and the gate; the second path is easy to overlook.", 1,
       ("        dh_prev = dh_prev + dh_gate                                # h_prev's second path\n", ""),
       "rnn_step.backward", "the gate's share, dz_a W_haᵀ"),
    _m("h-not-carried-forward", "the state not carried forward", "Each step is given h0 instead of the last h.", 1,
       ("h, step_cache = rnn_step_forward(x[t], h, params, attention)",
        "h, step_cache = rnn_step_forward(x[t], h0, params, attention)"),
       "rnn_sequence.forward", "every step starts from h0"),
    _m("float32-forward", "a float32 array in the forward pass",
       "np.zeros((T, B, H), dtype=np.float32), or an .astype, slips float32 into a float64 check.", 1,
       ("    return np.stack(hs), caches", "    return np.stack(hs).astype(np.float32), caches"),
       "rnn_sequence.forward", "float32"),
    _m("dh-not-carried", "dh not carried back through time",
       "Each step gets only the loss's gradient dhs[t]; what step t+1 sends back is dropped.", 1,
       ("dh = dhs[t] + dh_next", "dh = dhs[t]"), "rnn_sequence.backward", "dh_next is not carried at all"),
    _m("dhs-only-last", "dhs[t] added at the last step only",
       "Seeding the loop with the last step's gradient, then passing on only what comes back.", 1,
       ("dh = dhs[t] + dh_next", "dh = dhs[t] if t == T - 1 else dh_next"), "rnn_sequence.backward",
       "dhs[t] is not added"),
    _m("dx-reversed", "dx stacked in reverse time order",
       "Appending dx_t while walking t from T-1 down to 0 builds the list backwards.", 1,
       ("    return np.stack(dxs), dh_next, grads", "    return np.stack(dxs[::-1]), dh_next, grads"),
       "rnn_sequence.backward", "dx holds the steps in reverse order"),
    _m("step-0-skipped", "the loop stops before step 0",
       "range(T - 1, 0, -1) counts down to 1: its end is exclusive, so step 0 is never taken back.", 1,
       ("    for t in reversed(range(T)):\n        dh = dhs[t] + dh_next ",
        "    for t in range(T - 1, 0, -1):\n        dh = dhs[t] + dh_next "),
       "rnn_sequence.backward", "never reaches step 0"),
    _m("carry-doubled-from-the-end", "a carry doubled at step T-2",
       "A special case for the step before the last (an index written from T) doubles what it sends back.", 1,
       ("        dxs[t], dh_next, step_grads = rnn_step_backward(dh, cache[t])\n",
        "        dxs[t], dh_next, step_grads = rnn_step_backward(dh, cache[t])\n"
        "        if t == T - 2:\n            dh_next = 2 * dh_next\n"),
       "rnn_sequence.backward", "the gradient that step T-2 sends back to step T-3 is added twice"),
    _m("in-place-state", "the state updated in place",
       "h[...] = h_new saves an allocation, but every step's cache holds the same array, now overwritten (and the "
       "caller's h0 with it).", 1,
       ("        h, step_cache = rnn_step_forward(x[t], h, params, attention)\n        hs.append(h)",
        "        h_new, step_cache = rnn_step_forward(x[t], h, params, attention)\n        h[...] = h_new\n"
        "        hs.append(h.copy())"),
       "rnn_sequence.backward", "writes into its argument"),
    _m("grads-overwritten", "the weights' gradients overwritten, not summed",
       "grads = step_grads at every step keeps only the last one computed (step 0).", 1,
       ("grads = {k: grads[k] + step_grads[k] for k in grads}", "grads = dict(step_grads)"),
       "rnn_sequence.backward", "only step 0's gradient"),
    # -- the LSTM and the GRU
    _m("lstm-f-missing", "the forget gate missing from dc_prev", "c = f ⊙ c_prev + ...: the f is part of the path.", 2,
       ("dc_prev = dc * f", "dc_prev = dc"), "lstm_step.backward", "the forget gate's factor f is missing"),
    _m("forget-derivative", "the forget-gate derivative", "f is a sigmoid, not a tanh: f ⊙ (1 − f), not 1 − f².", 2,
       ("df * f * (1 - f),", "df * (1 - f * f),"), "lstm_step.backward", "the forget gate's derivative is the tanh's"),
    _m("sigma-prime-of-output", "σ′ of the post-activation",
       "A helper dsigmoid(v) = σ(v)(1 − σ(v)) applied to the gates' outputs applies σ twice.", 2,
       [("di * i * (1 - i),", "di * sigmoid(i) * (1 - sigmoid(i)),"),
        ("df * f * (1 - f),", "df * sigmoid(f) * (1 - sigmoid(f)),"),
        ("do * o * (1 - o)],", "do * sigmoid(o) * (1 - sigmoid(o))],")],
       "lstm_step.backward", "σ′ is applied to the gate's output"),
    _m("lstm-swapped-blocks", "two gate blocks swapped",
       "Keras orders the blocks i, f, c, o, some texts i, f, o, g; this library (and PyTorch) i, f, g, o.", 2,
       [("    g = tanh(pre[:, 2 * H:3 * H])\n    o = sigmoid(pre[:, 3 * H:])",
         "    o = sigmoid(pre[:, 2 * H:3 * H])\n    g = tanh(pre[:, 3 * H:])")],
       "lstm_step.forward", "taken from the wrong columns (a swap of blocks)"),
    _m("lstm-dc-through-h", "c's path through h forgotten",
       "dc is the gradient from the next step; c also reaches the loss through h = o ⊙ tanh(c).", 2,
       ("    dc = dc + dh * o * (1 - tanh_c * tanh_c)                # undo h = o * tanh(c) (through c)\n", ""),
       "lstm_step.backward", "misses the path of c through h"),
    _m("dc-not-carried", "dc not carried back through time",
       "The cell state's gradient is dropped between steps: each step gets dc = 0.", 2,
       ("lstm_step_backward((dh, dc_next), cache[t])", "lstm_step_backward((dh, np.zeros_like(dh)), cache[t])"),
       "lstm_sequence.backward", "dc_next is not carried at all"),
    _m("reset-before-for-after", "a reset-before GRU handed in as the reset-after one",
       "Papers write the reset before the product, PyTorch after it; reset_after is ignored.", 2,
       ("    if reset_after:\n        hn = h_prev @ W_hn", "    if False:\n        hn = h_prev @ W_hn"),
       "gru_reset_after.forward", "this is the reset-before GRU"),
    _m("gru-z-swapped", "z and 1 − z swapped", "Both conventions appear in the literature; this library keeps h_prev "
       "with z.", 2, ("    h = (1 - z) * n + z * h_prev\n", "    h = z * n + (1 - z) * h_prev\n"), "gru_step.forward",
       "z and 1 − z are swapped"),
    _m("gru-direct-path", "the GRU's direct path forgotten", "h_prev reaches h by four paths; z ⊙ h_prev is the "
       "simplest and the most often forgotten.", 2, ("    dh_prev = dh * z\n", "    dh_prev = 0 * dh\n"),
       "gru_step.backward", "the direct path of h = (1 − z) ⊙ n + z ⊙ h_prev"),
    _m("b_hn-without-r", "b_hn's gradient without r", "b_hn sits inside r ⊙ (h W_hn + b_hn).", 2,
       ("db_hn = dhn.sum(axis=0)", "db_hn = dn_pre.sum(axis=0)"), "gru_reset_after.backward", "b_hn sits inside"),
    # -- masks, chunks, the head
    _m("mask-on-outputs", "the mask applied to the step's outputs instead of its incoming gradient",
       "Masking dx_t and dh_prev after the step's backward looks symmetric to the forward, but the weights' gradients "
       "already hold the padded steps' share.", 3,
       [("dxs[t], dh_prev, step_grads = rnn_step_backward(m * dh, steps[t])",
         "dxs[t], dh_prev, step_grads = rnn_step_backward(dh, steps[t])\n        dxs[t] = m * dxs[t]"),
        ("dh_next = dh_prev + (1 - m) * dh", "dh_next = m * dh_prev + (1 - m) * dh")],
       "masked_rnn.backward", "the weights' gradients include the padded steps"),
    _m("dh0-is-dh", "dh returned as dh0", "After the loop, dh (what step 0 received) is at hand; dh0 is what step 0 "
       "sends back.", 3, ("    return np.stack(dxs), dh_next, grads", "    return np.stack(dxs), dh, grads"),
       "masked_rnn.backward", "dh0 is the gradient that step 0 received"),
    _m("mask-not-a-column", "mask[t] without [:, None]",
       "mask[t] is (B,); NumPy lines it up with the last axis of a (B, H) array. It runs, wrongly, when B = H.", 3,
       ("        m = mask[t][:, None]\n        dh = dhs[t] + dh_next", "        m = mask[t]\n        dh = dhs[t] + dh_next"),
       "masked_rnn.backward", "mask[t][:, None]"),
    _m("mask-ignored", "the mask ignored in backward", "The forward pass carried the state; the backward pass "
       "treats every step as valid.", 3,
       [("rnn_step_backward(m * dh, steps[t])", "rnn_step_backward(dh, steps[t])"),
        ("dh_next = dh_prev + (1 - m) * dh", "dh_next = dh_prev")],
       "masked_rnn.backward", "gradient flows into padded steps"),
    _m("padded-carry", "nothing carried past a padded step", "Where m = 0, h_t = h_{t-1}: a straight path "
       "the backward must follow.", 3, ("dh_next = dh_prev + (1 - m) * dh", "dh_next = dh_prev"),
       "masked_rnn.backward", "a padded step passes nothing back"),
    _m("dh_T-ignored", "dh_T ignored", "The final state's gradient from the next chunk never enters the loop.", 3,
       ("dh_next = np.zeros_like(dhs[0]) if dh_T is None else dh_T", "dh_next = np.zeros_like(dhs[0])"),
       "masked_rnn.backward", "dh_T is ignored"),
    _m("readout-all-steps", "the mean over all T steps", "hs.mean(axis=0) counts the padding as data.", 3,
       ("return (hs * m).sum(axis=0) / count, (m, count)", "return hs.mean(axis=0), (m, count)"),
       "readout_loss.readout_forward", "the mask is ignored"),
    _m("ce-not-mean", "dlogits not divided by B", "The loss is a mean over the batch, so is its gradient.", 3,
       ("    return loss, dlogits / B", "    return loss, dlogits"), "readout_loss.loss", "not divided by B"),
    _m("ce-overflow", "softmax without the max trick", "exp of a logit in the thousands is inf.", 3,
       ("logp = log_softmax(logits, axis=1)", "logp = np.log(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))"),
       "readout_loss.loss", "exp overflowed"),
    _m("gradient-ascent", "a step up the gradient", "p += lr * g climbs the loss.", 3,
       ("params[name] -= lr * grads[name]", "params[name] += lr * grads[name]"), "overfit.overfit", "the loss rose"),
]


def _cells(assignment):
    return [c for c in read_source(assignment)
            if c.kind == "code" and not set(c.metadata.get("tags", [])) & set(SKIPPED_TAGS)]


def edited_cells(mistake):
    """The assignment's solution cells with the mistake's edits made: [(source, edited?)]."""
    cells = [[c.source, False] for c in _cells(mistake.assignment)]
    for old, new in mistake.edits:
        hits = [cell for cell in cells if old in cell[0]]
        if len(hits) != 1 or hits[0][0].count(old) != 1:
            raise ValueError(f"mistake {mistake.key!r}: {old!r} must occur exactly once in the solutions "
                             f"(found {sum(cell[0].count(old) for cell in cells)})")
        hits[0][0] = hits[0][0].replace(old, new)
        hits[0][1] = True
    return [tuple(c) for c in cells]


def apply(mistake=None, assignment=None):
    """The namespace of an assignment's model solutions, with ``mistake`` made (None: the solutions as they are)."""
    key = mistake.assignment if mistake is not None else assignment
    cells = edited_cells(mistake) if mistake is not None else [(c.source, False) for c in _cells(key)]
    namespace = {"__name__": "__submission__"}
    for k, (source, edited) in enumerate(cells):
        filename = f"<{key} solution cell {k}{', edited' if edited else ''}>"
        _register(filename, source)
        exec(compile(_strip_magics(source), filename, "exec"), namespace)
    return namespace


def report(mistake, hints="formula"):
    """The checker's report on the part the mistake must fail."""
    _, parts = find_part(mistake.part)
    part = parts[0]
    if mistake.secret is not None:
        from .grader import secret_rng
        r = part.grade(apply(mistake), part.hidden_cases(secret_rng(mistake.secret, part.id)))
    else:
        r = part.grade(apply(mistake))
    r.hints = hints
    return r


def diff(mistake):
    """The edit as a unified diff of the solution's lines."""
    lines = []
    for old, new in mistake.edits:
        lines.extend(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0))
    return "\n".join(line for line in lines if not line.startswith(("---", "+++", "@@")))


def get(key):
    for m in MISTAKES:
        if m.key == key:
            return m
    raise KeyError(f"no mistake {key!r} in the bug zoo")
