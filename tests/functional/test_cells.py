"""Properties every configuration of the reference cells must have: gradients by finite
differences, masks that carry the state, inference without a cache, steps, chunked BPTT, dtypes.

Every test body runs on NumPy and, with the ``gpu`` marker, on CuPy. The fast
implementations are proven equal to the reference in ``tests/fast/``.
"""

import numpy as np
import pytest

from minieleatt.backend import to_host
from minieleatt.cellcheck import (CellConfig, all_configs, analytic_gradients, backward_cell, check_cell,
                                  make_problem, run_cell, split_inputs)
from minieleatt.functional import (param_shapes, gru_step_backward, gru_step_forward, lstm_step_backward, lstm_step_forward,
                                   rnn_step_backward, rnn_step_forward)

CONFIGS = all_configs()
IDS = [c.label.replace(" ", ",") for c in CONFIGS]


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_gradients_match_finite_differences(cfg, device):
    report = check_cell(cfg, T=3, B=2, D=3, H=4, device=device, seed=1)
    report.assert_ok()
    names = {r.name for r in report.rows}
    assert {"x", "h0", "W_x", "W_h", "b"} <= names
    assert ("W_xa" in names) == (cfg.attention is not None)
    assert ("b_hn" in names) == cfg.reset_after
    assert ("c0" in names) == (cfg.cell == "lstm")
    assert report.worst.rel_error < 1e-6


@pytest.mark.parametrize("shape", [(1, 1, 2, 3), (5, 3, 4, 2), (2, 4, 1, 5)], ids=["T1B1", "D>H", "D1"])
@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c.attention != "softmax"],
                         ids=[i for c, i in zip(CONFIGS, IDS) if c.attention != "softmax"])
def test_gradients_at_edge_shapes(cfg, shape, device):
    T, B, D, H = shape
    check_cell(cfg, T=T, B=B, D=D, H=H, device=device, seed=2).assert_ok()


def _state_h(cfg, state):
    return state[0] if cfg.cell == "lstm" else state


def _state_tuple(cfg, state):
    return tuple(state) if cfg.cell == "lstm" else (state,)


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c.masked], ids=[i for c, i in zip(CONFIGS, IDS) if c.masked])
def test_padded_steps_carry_the_state_unchanged(cfg, device):
    inputs, douts, mask = make_problem(cfg, T=5, B=3, D=3, H=4, device=device, seed=3)
    x, state, params = split_inputs(cfg, inputs)
    hs, cache = run_cell(cfg, x, params, state, mask)
    m, hs_h, h0 = to_host(mask), to_host(hs), to_host(_state_h(cfg, state))
    prev = np.concatenate([h0[None], hs_h[:-1]])
    assert (m == 0).any()
    for t, b in zip(*np.nonzero(m == 0)):
        np.testing.assert_array_equal(hs_h[t, b], prev[t, b])
    if cfg.cell == "lstm":                       # c too: the state after step t equals the one after t - 1
        for t, b in zip(*np.nonzero(m == 0)):
            c_before = to_host(run_cell(cfg, x[:t], params, state, mask[:t])[1].final_state[1]) if t else \
                to_host(state[1])
            c_after = to_host(run_cell(cfg, x[: t + 1], params, state, mask[: t + 1])[1].final_state[1])
            np.testing.assert_array_equal(c_after[b], c_before[b])
    # the input of a padded step has no influence at all
    grads = analytic_gradients(cfg, inputs, douts, mask)
    dx = to_host(grads["x"])
    for t, b in zip(*np.nonzero(m == 0)):
        assert not dx[t, b].any()


@pytest.mark.parametrize("cfg", CONFIGS[::2], ids=IDS[::2])
def test_inference_pass_keeps_no_cache_and_agrees(cfg, device):
    inputs, _, mask = make_problem(cfg, T=4, B=2, D=3, H=5, device=device, seed=4)
    x, state, params = split_inputs(cfg, inputs)
    hs, cache = run_cell(cfg, x, params, state, mask)
    hs_inf, light = run_cell(cfg, x, params, state, mask, keep_cache=False)
    np.testing.assert_array_equal(to_host(hs), to_host(hs_inf))
    for a, b in zip(_state_tuple(cfg, cache.final_state), _state_tuple(cfg, light.final_state)):
        np.testing.assert_array_equal(to_host(a), to_host(b))
    kept = [f for f in light._fields if f != "final_state" and getattr(light, f) is not None]
    assert kept == [] and light.attention is None
    with pytest.raises(ValueError, match="keep_cache=False"):
        backward_cell(cfg, None, light)


STEP_FNS = {"rnn": (rnn_step_forward, rnn_step_backward), "lstm": (lstm_step_forward, lstm_step_backward),
            "gru": (gru_step_forward, gru_step_backward)}


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if not c.masked], ids=[i for c, i in zip(CONFIGS, IDS) if not c.masked])
def test_steps_chained_by_hand_equal_the_sequence(cfg, device):
    """Step functions run in a Python loop, forward then backward, give the sequence's results."""
    inputs, douts, _ = make_problem(cfg, T=4, B=2, D=3, H=3, device=device, seed=5)
    x, state, params = split_inputs(cfg, inputs)
    fwd, bwd = STEP_FNS[cfg.cell]
    kw = {"reset_after": cfg.reset_after} if cfg.cell == "gru" else {}
    caches, hs = [], []
    for t in range(x.shape[0]):
        state, cache = fwd(x[t], state, params, attention=cfg.attention, **kw)
        caches.append(cache)
        hs.append(_state_h(cfg, state))
    hs_seq, _ = run_cell(cfg, x, params, (inputs["h0"], inputs["c0"]) if cfg.cell == "lstm" else inputs["h0"], None)
    np.testing.assert_allclose(to_host(np.stack([to_host(h) for h in hs])), to_host(hs_seq), rtol=1e-12, atol=1e-12)

    dhs, dh_T = douts[0], douts[1]
    expected = analytic_gradients(cfg, inputs, douts, None)
    dstate = (dh_T, douts[2]) if cfg.cell == "lstm" else dh_T
    total = {k: 0 for k in params}
    for t in reversed(range(x.shape[0])):
        if cfg.cell == "lstm":
            dstate = (dstate[0] + dhs[t], dstate[1])
        else:
            dstate = dstate + dhs[t]
        dx_t, dstate, grads = bwd(dstate, caches[t])
        np.testing.assert_allclose(to_host(dx_t), to_host(expected["x"][t]), rtol=1e-10, atol=1e-12)
        for k in params:
            total[k] = total[k] + to_host(grads[k])
    np.testing.assert_allclose(to_host(_state_h(cfg, dstate)), to_host(expected["h0"]), rtol=1e-10, atol=1e-12)
    for k in params:
        np.testing.assert_allclose(total[k], to_host(expected[k]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_chunked_bptt_equals_one_pass(cfg, device):
    """Two chunks joined by the final state and its gradient (dstate_T) give the whole sequence's gradients."""
    inputs, douts, mask = make_problem(cfg, T=6, B=3, D=3, H=4, device=device, seed=6)
    x, state, params = split_inputs(cfg, inputs)
    dhs = douts[0]
    hs, cache = run_cell(cfg, x, params, state, mask)
    dx, dstate0, grads = backward_cell(cfg, dhs, cache)

    k = 4
    m1, m2 = (None, None) if mask is None else (mask[:k], mask[k:])
    hs1, c1 = run_cell(cfg, x[:k], params, state, m1)
    hs2, c2 = run_cell(cfg, x[k:], params, c1.final_state, m2)
    np.testing.assert_allclose(to_host(hs2), to_host(hs[k:]), rtol=1e-12, atol=1e-12)
    dx2, dstate_k, g2 = backward_cell(cfg, dhs[k:], c2)
    dx1, dstate_0, g1 = backward_cell(cfg, dhs[:k], c1, dstate_k)
    np.testing.assert_allclose(to_host(np.concatenate([to_host(dx1), to_host(dx2)])), to_host(dx), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_host(_state_h(cfg, dstate_0)), to_host(_state_h(cfg, dstate0)), rtol=1e-10, atol=1e-12)
    for name in params:
        np.testing.assert_allclose(to_host(g1[name] + g2[name]), to_host(grads[name]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS[1::4], ids=IDS[1::4])
def test_float32_stays_float32(cfg, device):
    inputs, douts, mask = make_problem(cfg, T=3, B=2, D=3, H=4, device=device, seed=7, dtype="float32")
    x, state, params = split_inputs(cfg, inputs)
    hs, cache = run_cell(cfg, x, params, state, mask)
    assert hs.dtype == np.float32
    dstate_T = (douts[1], douts[2]) if cfg.cell == "lstm" else douts[1]
    dx, dstate, grads = backward_cell(cfg, douts[0], cache, dstate_T)
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(d.dtype == np.float32 for d in _state_tuple(cfg, dstate))
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in params.items()}
    assert list(grads) == list(params)


@pytest.mark.parametrize("attention", ["sigmoid", "softmax"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_attention_responses_are_kept(cell, attention, device):
    cfg = CellConfig(cell, attention)
    inputs, _, _ = make_problem(cfg, T=3, B=2, D=5, H=4, device=device, seed=8)
    x, state, params = split_inputs(cfg, inputs)
    _, cache = run_cell(cfg, x, params, state, None)
    a = to_host(cache.attention)
    assert a.shape == (3, 2, 5)
    assert ((a > 0) & (a < 1)).all()
    if attention == "softmax":
        np.testing.assert_allclose(a.sum(axis=-1), 1.0, rtol=1e-12)
    plain_params = {k: params[k] for k in param_shapes(cell, 5, 4, None)}
    _, plain = run_cell(CellConfig(cell, None), x, plain_params, state, None)
    assert plain.attention is None
