"""The gradient checker itself: it passes correct gradients and catches planted bugs, naming the tensor."""

import numpy as np
import pytest

from minieleatt import functional
from minieleatt.cellcheck import CellConfig, check_cell
from minieleatt.gradcheck import check_gradients, numerical_vjp, relative_error

rng = np.random.default_rng(0)
X0 = rng.standard_normal((4, 3))
W0 = rng.standard_normal((3, 3))
DOUT = rng.standard_normal((4, 3))


def layer(inp):
    return np.tanh(inp["x"] @ inp["W"])


def grads(inp, bug=None):
    y = layer(inp)
    dpre = DOUT * (1 - y * y)
    if bug == "dropped term":
        dpre = DOUT                                  # forgot the tanh derivative
    dx = dpre @ inp["W"].T
    if bug == "transposed weight":
        dx = dpre @ inp["W"]                         # W where W.T belongs
    return {"x": dx, "W": inp["x"].T @ (DOUT * (1 - y * y))}


def fresh():
    return {"x": X0.copy(), "W": W0.copy()}


@pytest.mark.parametrize("mode", ["full", "sample", "direction", "auto"])
def test_correct_gradients_pass(mode):
    inp = fresh()
    report = check_gradients(layer, inp, grads(inp), DOUT, mode=mode, samples=5)
    assert report.passed, str(report)
    assert report.worst.rel_error < 1e-7
    assert [r.name for r in report.rows] == ["x", "W"]
    np.testing.assert_array_equal(inp["x"], X0)          # inputs restored exactly
    np.testing.assert_array_equal(inp["W"], W0)


@pytest.mark.parametrize("bug", ["dropped term", "transposed weight"])
@pytest.mark.parametrize("mode", ["full", "sample", "direction"])
def test_planted_bugs_fail_and_name_the_tensor(bug, mode):
    inp = fresh()
    report = check_gradients(layer, inp, grads(inp, bug), DOUT, mode=mode, samples=8)
    assert not report.passed
    assert [r.name for r in report.failures()] == ["x"]
    assert report.worst.name == "x" and report.worst.rel_error > 1e-2
    text = str(report)
    assert "GRADIENT MISMATCH" in text and "worst tensor 'x'" in text
    if mode != "direction":
        assert "at index" in text
        i = report.worst.index
        assert report.worst.analytic == pytest.approx(grads(inp, bug)["x"][i])
        assert report.worst.numerical == pytest.approx(grads(inp)["x"][i], rel=1e-6)
    with pytest.raises(AssertionError, match=r"gradient check failed for x"):
        report.assert_ok()


def test_float32_is_refused_with_the_reason():
    inp = {k: v.astype(np.float32) for k, v in fresh().items()}
    with pytest.raises(TypeError, match=r"needs float64, but 'x' is float32.*rounding error"):
        check_gradients(layer, inp, grads(inp), DOUT.astype(np.float32))
    with pytest.raises(TypeError, match=r"'dout\[0\]' is float32"):
        check_gradients(layer, fresh(), grads(fresh()), DOUT.astype(np.float32))


def test_mismatched_keys_and_shapes():
    inp = fresh()
    with pytest.raises(ValueError, match=r"missing \['W'\]"):
        check_gradients(layer, inp, {"x": grads(inp)["x"]}, DOUT)
    with pytest.raises(ValueError, match=r"analytic gradient 'W' has shape \(3,\), the input has \(3, 3\)"):
        check_gradients(layer, inp, {"x": grads(inp)["x"], "W": np.zeros(3)}, DOUT)
    with pytest.raises(ValueError, match="mode must be"):
        check_gradients(layer, inp, grads(inp), DOUT, mode="random")


def test_numerical_vjp_and_relative_error():
    inp = fresh()
    num = numerical_vjp(layer, inp, "W", DOUT)
    np.testing.assert_allclose(num, grads(inp)["W"], rtol=1e-7, atol=1e-9)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)


def test_a_broken_cell_is_caught_and_the_tensors_named(monkeypatch):
    """Plant a wrong derivative in the reference GRU: the checker fails and names what it reaches."""
    cfg = CellConfig("gru", "sigmoid")
    assert check_cell(cfg).passed
    monkeypatch.setattr(functional.gru, "sigmoid_grad_from_output", lambda s: s)     # s instead of s(1-s)
    report = check_cell(cfg)
    assert not report.passed
    failed = {r.name for r in report.failures()}
    assert {"W_x", "W_h", "b"} <= failed
    assert report.worst.rel_error > 1e-3


def test_a_dropped_mask_is_caught(monkeypatch):
    """Ignore the mask's carry in backward (a typical bug): the masked check fails, the unmasked one passes."""
    monkeypatch.setattr(functional.scan, "split_carry", lambda m, d: (d, None))
    assert check_cell(CellConfig("rnn", "sigmoid", masked=False)).passed
    report = check_cell(CellConfig("rnn", "sigmoid", masked=True))
    assert not report.passed and "x" in {r.name for r in report.failures()}
def test_an_empty_check_is_refused():
    with pytest.raises(ValueError, match=r"input 'h0' has no entries \(shape \(2, 0\)\): an empty check checks nothing"):
        check_cell(CellConfig("gru"), H=0)
    with pytest.raises(ValueError, match="no inputs to check"):
        check_gradients(lambda inp: np.zeros(1), {}, {}, np.zeros(1))
