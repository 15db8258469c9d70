"""The attention gate's step pair (``minieleatt/functional/gate.py``), on its own and as the cells use it."""

import numpy as np
import pytest

import minieleatt.functional as F
from minieleatt.backend import to_device, to_host
from minieleatt.gradcheck import check_gradients

B, D, H = 3, 5, 4


def _problem(device, seed=0):
    rng = np.random.default_rng(seed)
    inputs = {"x_t": rng.standard_normal((B, D)), "h_prev": 0.5 * rng.standard_normal((B, H)),
              "W_xa": 0.5 * rng.standard_normal((D, D)), "W_ha": 0.5 * rng.standard_normal((H, D)),
              "b_a": 0.5 * rng.standard_normal(D)}
    return to_device(inputs, device), to_device(rng.standard_normal((B, D)), device)


@pytest.mark.parametrize("activation", F.ACTIVATIONS)
def test_gate_step_backward_matches_finite_differences(activation, device):
    inputs, dx_att = _problem(device)

    def forward(inp):
        return F.gate_step_forward(inp["x_t"], inp["h_prev"], inp, activation)[0]

    _, cache = F.gate_step_forward(inputs["x_t"], inputs["h_prev"], inputs, activation)
    dx_t, dh_prev, grads = F.gate_step_backward(dx_att, cache)
    assert list(grads) == ["W_xa", "W_ha", "b_a"]
    check_gradients(forward, inputs, {"x_t": dx_t, "h_prev": dh_prev, **grads}, dx_att, mode="full").assert_ok()


def test_sigmoid_responses_are_independent_and_softmax_responses_sum_to_one(device):
    inputs, _ = _problem(device)
    _, sig = F.gate_step_forward(inputs["x_t"], inputs["h_prev"], inputs, "sigmoid")
    x_att, soft = F.gate_step_forward(inputs["x_t"], inputs["h_prev"], inputs, "softmax")
    a_sig, a_soft = to_host(sig.a), to_host(soft.a)
    assert ((a_sig > 0) & (a_sig < 1)).all() and not np.allclose(a_sig.sum(axis=1), 1)
    np.testing.assert_allclose(a_soft.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(to_host(x_att), a_soft * to_host(inputs["x_t"]), rtol=1e-15)


@pytest.mark.parametrize("cell", F.CELLS)
def test_every_cell_calls_the_one_gate_pair(cell, monkeypatch):
    """The three cells do not compute the gate themselves: they call gate_step_forward / _backward."""
    calls = []
    module = getattr(F, cell)
    for name in ("gate_step_forward", "gate_step_backward"):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    rng = np.random.default_rng(1)
    params = {k: rng.standard_normal(s) for k, s in F.param_shapes(cell, D, H, "sigmoid").items()}
    state = (np.zeros((B, H)), np.zeros((B, H))) if cell == "lstm" else np.zeros((B, H))
    x = rng.standard_normal((2, B, D))
    forward, backward = getattr(F, f"{cell}_forward"), getattr(F, f"{cell}_backward")
    hs, cache = forward(x, params, state)
    backward(np.ones_like(hs), cache)
    assert calls == ["gate_step_forward"] * 2 + ["gate_step_backward"] * 2


def test_resolve_attention_names_the_options():
    assert F.resolve_attention(True) == "sigmoid" and F.resolve_attention(False) is None
    assert F.resolve_attention("Softmax") == "softmax"
    with pytest.raises(ValueError, match="attention must be True, False, None, 'sigmoid' or 'softmax', got 'relu'"):
        F.resolve_attention("relu")
