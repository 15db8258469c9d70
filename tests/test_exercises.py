"""The learners' checker (minieleatt.exercises): it passes the model solutions, and it fails planted
bugs with a report that names the wrong gradient and gives the right hint."""

import importlib.util
import inspect
from pathlib import Path

import numpy as np
import pytest

from minieleatt import exercises as E
from minieleatt import functional as F
from minieleatt.gradcheck import numerical_vjp, relative_error

SOLUTIONS_PATH = (Path(__file__).resolve().parents[1] / "tutorials" / "exercises" / "solutions"
                  / "gradient_checking_solutions.py")


def _load_solutions():
    spec = importlib.util.spec_from_file_location("gradient_checking_solutions", SOLUTIONS_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = _load_solutions()
SOLUTION_OF = {"gate": S.gate_backward, "gru_step": S.gru_step_backward, "lstm_step": S.lstm_step_backward,
               "masked_rnn": S.masked_rnn_backward}
NAMES = {"gate": ["dx", "dh_prev", "dW_xa", "dW_ha", "db_a"],
         "gru_step": ["dx", "dh_prev", "dW_xa", "dW_ha", "db_a", "dW_x", "dW_h", "db", "db_hn"],
         "lstm_step": ["dx", "dh_prev", "dc_prev", "dW_xa", "dW_ha", "db_a", "dW_x", "dW_h", "db"],
         "masked_rnn": ["dx", "dh0", "dW_xa", "dW_ha", "db_a", "dW_x", "dW_h", "db"]}


def planted(exercise, old, new):
    """The model solution of ``exercise`` with one line edited: ``old`` replaced by ``new``."""
    fn = SOLUTION_OF[exercise]
    source = inspect.getsource(fn)
    assert old in source, f"the solution of {exercise} no longer contains {old!r}"
    namespace = dict(vars(S))
    exec(compile(source.replace(old, new), f"<planted bug in {fn.__name__}>", "exec"), namespace)
    return namespace[fn.__name__]


# ----------------------------------------------------------------------------- the solutions pass

@pytest.mark.parametrize("exercise", list(E.EXERCISES))
@pytest.mark.parametrize("seed", [0, 1])
def test_the_solutions_pass(exercise, seed):
    report = E.check(exercise, SOLUTION_OF[exercise], seed=seed)
    assert report.passed, report.text()
    assert [r.name for r in report.results] == NAMES[exercise]
    assert all(r.rel_error < 1e-7 and r.hint == "" for r in report.results)
    text = report.text()
    assert "all gradients right" in text and "WRONG" not in text
    assert E.results()[exercise] == "passed"


def test_the_exercise_forwards_are_the_library_cells():
    """The exercises' readable forward passes compute what the library's cells compute."""
    rng = np.random.default_rng(5)
    B, D, H = 3, 4, 3
    x, h, c = rng.standard_normal((B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    p = {k: rng.standard_normal(s) for k, s in F.param_shapes("gru", D, H, "sigmoid", reset_after=True).items()}
    h_ex, cache = E.forward_gru_step(x, h, p)
    h_lib, lib = F.gru_step_forward(x, h, p, attention="sigmoid", reset_after=True)
    np.testing.assert_allclose(h_ex, h_lib, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cache.a, lib.gate.a, rtol=0, atol=1e-12)
    p = {k: rng.standard_normal(s) for k, s in F.param_shapes("lstm", D, H, "sigmoid").items()}
    (h_ex, c_ex), _ = E.forward_lstm_step(x, (h, c), p)
    (h_lib, c_lib), _ = F.lstm_step_forward(x, (h, c), p)
    np.testing.assert_allclose(h_ex, h_lib, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c_ex, c_lib, rtol=0, atol=1e-12)
    T = 5
    xs, mask = rng.standard_normal((T, B, D)), np.ones((T, B))
    mask[2:, 0] = 0
    mask[1, 2] = 0
    p = {k: rng.standard_normal(s) for k, s in F.param_shapes("rnn", D, H, "sigmoid").items()}
    hs_ex, cache = E.forward_masked_rnn(xs, p, mask, h)
    hs_lib, _ = F.rnn_forward(xs, p, h, mask)
    np.testing.assert_allclose(hs_ex, hs_lib, rtol=0, atol=1e-12)
    assert len(cache.steps) == T and cache.mask.shape == (T, B)


@pytest.mark.parametrize("exercise", list(E.EXERCISES))
def test_the_reference_agrees_with_central_differences(exercise):
    """The library backward pass the hints are computed from is itself right on every problem."""
    p = E._problem(exercise, 0)
    fn = lambda inp: p.ex.outputs(inp, p.extra)  # noqa: E731
    for name in p.inputs:
        assert relative_error(p.reference[name], numerical_vjp(fn, p.copy_inputs(), name, p.dout)) < 1e-7, name


def test_example_gives_the_checkers_arguments():
    for exercise, fn in SOLUTION_OF.items():
        args = E.example(exercise)
        dx = fn(*args)[0]
        np.testing.assert_allclose(dx, E._problem(exercise, 0).reference["x"], rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------- planted bugs

BUGS = [
    # exercise, old, new, the gradient named as wrong, words of its hint
    ("gate", "dx = dx_att * a + dz @ cache.W_xa.T", "dx = dz @ cache.W_xa.T",
     "dx", "misses a term: the direct path"),
    ("gate", "dx = dx_att * a + dz @ cache.W_xa.T", "dx = dx_att * a + dz @ cache.W_xa",
     "dx", "transposed?"),
    ("gate", '"W_xa": x.T @ dz', '"W_xa": dz.T @ x', "dW_xa", "transposed?"),
    ("gate", "dz = da * a * (1 - a)", "dz = da", "db_a", "missing the sigmoid's derivative"),
    ("gate", "dh_prev = dz @ cache.W_ha.T", "dh_prev = -dz @ cache.W_ha.T", "dh_prev", "wrong sign"),
    ("gru_step", "dh_prev = dh * z", "dh_prev = 0 * dh", "dh_prev", "misses a term: the direct path of h"),
    ("gru_step", "dhn = dn_pre * r", "dhn = dn_pre", "db_hn", "multiply dn_pre by r"),
    ("gru_step", "dz = dh * (cache.h_prev - n)", "dz = dh * (n - cache.h_prev)", "db",
     "wrong only in the columns of z"),
    ("gru_step", '"W_x": cache.x_att.T @ dG', '"W_x": cache.x.T @ dG', "dW_x", "gated input"),
    ("gru_step", 'dh_prev = dh_prev + dza @ p["W_ha"].T', "dh_prev = dh_prev", "dh_prev",
     "misses a term: the path through the attention gate"),
    ("gru_step", "dx = dx_att * a + dza @ p[\"W_xa\"].T", "dx = dx_att * a + dza @ p[\"W_xa\"]", "dx",
     "transposed?"),
    ("lstm_step", "dc = dc + dh * o * (1 - tc * tc)", "dc = dc", "dc_prev", "path through h"),
    ("lstm_step", "dc_prev = dc * f", "dc_prev = dc", "dc_prev", "the f is missing"),
    ("lstm_step", "do = dh * tc", "do = dh * cache.c", "db", "wrong only in the columns of o"),
    ("lstm_step", 'dx = dx_att * a + dza @ p["W_xa"].T', 'dx = dx_att + dza @ p["W_xa"].T', "dx",
     "is dx̃ ⊙ a, not dx̃"),
    ("masked_rnn", "rnn_step_backward(m * dh, cache.steps[t])", "rnn_step_backward(dh, cache.steps[t])",
     "dx", "not zero at padded steps"),
    ("masked_rnn", "dh_next = dh_prev + (1 - m) * dh", "dh_next = dh_prev", "dh0",
     "did you carry the gradient through masked steps?"),
    ("masked_rnn", "grads = g if grads is None else {k: grads[k] + g[k] for k in grads}", "grads = g",
     "dW_x", "summed over all steps"),
    ("masked_rnn", "dh = dhs[t] + dh_next", "dh = dh_next + 0 * dhs[t]", "dx", "not in the masking"),
]


@pytest.mark.parametrize("exercise,old,new,name,hint", BUGS, ids=[f"{b[0]}:{b[2]}" for b in BUGS])
def test_planted_bugs_fail_naming_the_gradient_with_a_hint(exercise, old, new, name, hint):
    report = E.check(exercise, planted(exercise, old, new))
    assert report.status == "failed"
    row = report[name]
    assert not row.passed and row.rel_error > 1e-3 and not row.after
    assert hint in row.hint, row.hint
    text = report.text()
    assert "WRONG" in text and f"{name}" in text and hint in text
    assert E.results()[exercise] == "failed"


def test_errors_that_follow_from_another_are_grouped_under_it():
    """A wrong pre-activation gradient spoils everything computed from it: one hint, the rest follow."""
    report = E.check("gru_step", planted("gru_step", "dn_pre = dn * (1 - n * n)", "dn_pre = dn"))
    roots = [r.name for r in report.failures() if not r.after]
    assert roots == ["db"]
    assert "columns of r, n" in report["db"].hint
    assert report["dW_x"].after == "db" and report["dW_xa"].after == "db_a"
    assert "also wrong, probably only because they are computed from db" in report.text()


def test_the_hint_locates_only_the_columns_that_are_wrong():
    report = E.check("lstm_step", planted("lstm_step", "do = dh * tc", "do = dh * cache.c"))
    assert "Check do" in report["db"].hint and "Check di" not in report["db"].hint


# ----------------------------------------------------------------------------- what a learner may hand in

def test_not_implemented_is_reported_not_raised():
    def gate_backward(dx_att, cache):
        raise NotImplementedError

    report = E.check_gate(gate_backward)
    assert report.status == "not implemented" and not report.passed
    assert "not implemented yet" in report.text() and "YOUR CODE HERE" in report.text()
    assert E.results()["gate"] == "not implemented"
    assert "not implemented" in E.summary()


def test_an_exception_names_the_line_and_explains_a_shape_error():
    def gate_backward(dx_att, cache):
        dz = dx_att * cache.x_t * cache.a * (1 - cache.a)
        dh_prev = dz @ cache.W_ha                      # (B, D) @ (H, D): should be W_ha.T
        return dx_att, dh_prev, {}

    report = E.check_gate(gate_backward)
    assert report.status == "error"
    text = report.text()
    assert "ValueError" in text and "dh_prev = dz @ cache.W_ha" in text and "transpose" in text


@pytest.mark.parametrize("out,words", [
    (lambda g: g[:2], "must return a tuple (dx, dh_prev, grads), got a tuple of 2 items"),
    (lambda g: (g[0], g[1], list(g[2].values())), "must be a dict of parameter gradients"),
    (lambda g: (g[0], g[1], {**g[2], "W_zz": g[2]["b_a"]}), "unexpected keys ['W_zz']"),
])
def test_a_malformed_answer_says_what_shape_it_must_have(out, words):
    report = E.check_gate(lambda dx_att, cache: out(S.gate_backward(dx_att, cache)))
    assert report.status == "failed" and words in report.text()


def test_missing_wrong_shaped_and_non_finite_gradients():
    def gate_backward(dx_att, cache):
        dx, dh_prev, grads = S.gate_backward(dx_att, cache)
        del grads["W_ha"]
        grads["W_xa"] = grads["W_xa"].T.copy()[:, :3]    # (4, 3) instead of (4, 4)
        grads["b_a"] = np.full_like(grads["b_a"], np.nan)
        return dx.T, None, grads

    report = E.check_gate(gate_backward)
    assert report["dx"].hint == "shape (4, 3), but it must be (3, 4): transposed?"
    assert report["dh_prev"].hint == "missing: your function returned None."
    assert report["dW_ha"].hint == "missing from grads: add grads['W_ha']."
    assert "must be (4, 4)" in report["dW_xa"].hint
    assert report["db_a"].hint == "holds NaN or inf."
    assert all(np.isnan(r.rel_error) for r in report.results)


def test_an_unsummed_bias_is_told_to_sum_over_the_batch():
    report = E.check("gate", planted("gate", '"b_a": dz.sum(axis=0)', '"b_a": dz'))
    assert report["db_a"].hint == "shape (3, 4), but it must be (4,): sum over the batch (axis 0)."


def test_a_learner_writing_into_the_cache_cannot_spoil_later_checks():
    def vandal(dx_att, cache):
        cache.x_t[...] = 0.0
        cache.a[...] = 0.0
        dx_att[...] = 0.0
        raise NotImplementedError

    E.check_gate(vandal)
    assert E.check_gate(S.gate_backward).passed


def test_unknown_exercise():
    with pytest.raises(ValueError, match="unknown exercise 'rnn'"):
        E.check("rnn", S.gate_backward)
