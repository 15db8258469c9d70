"""The GRU's fast path (``_gru_forward_fast`` / ``_gru_backward_fast``, NumPy) against the plain one.

Same maths, different memory layout and order of the products: they agree to
rounding in float64 on every configuration, each backward accepts the other's
cache, and neither writes into its inputs.
"""

import numpy as np
import pytest

from minieleatt.cellcheck import CellConfig, all_configs, check_cell, make_problem, split_inputs
from minieleatt.functional import gru, gru_backward, gru_forward, sequence

CONFIGS = [c for c in all_configs() if c.cell == "gru"]
IDS = [c.label.replace(" ", ",") for c in CONFIGS]
RTOL, ATOL = 1e-12, 1e-13


def _problem(cfg, T=5, B=3, D=4, H=6, seed=0):
    inputs, douts, mask = make_problem(cfg, T=T, B=B, D=D, H=H, seed=seed)
    x, h0, params = split_inputs(cfg, inputs)
    return x, h0, params, mask, douts


def _run(cfg, x, h0, params, mask, fast, keep_cache=True):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sequence, "FAST_PATH", fast)
        return gru_forward(x, params, h0, mask, cfg.attention, cfg.reset_after, keep_cache)


def _back(cache, dhs, dh_T, fast):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sequence, "FAST_PATH", fast)
        return gru_backward(dhs, cache, dh_T)


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_fast_and_plain_agree(cfg):
    x, h0, params, mask, (dhs, dh_T) = _problem(cfg)
    hs_p, c_p = _run(cfg, x, h0, params, mask, fast=False)
    hs_f, c_f = _run(cfg, x, h0, params, mask, fast=True)
    _close(hs_f, hs_p)
    for name in ("h_all", "gates", "hn", "attention", "final_state"):
        a, b = getattr(c_f, name), getattr(c_p, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.shape == b.shape, name
            _close(a, b)
    np.testing.assert_array_equal(c_f.W_hcat, c_p.W_hcat)

    dx_p, dh0_p, g_p = _back(c_p, dhs, dh_T, fast=False)
    for cache in (c_f, c_p):                       # the fast backward on either cache
        dx_f, dh0_f, g_f = _back(cache, dhs, dh_T, fast=True)
        _close(dx_f, dx_p)
        _close(dh0_f, dh0_p)
        assert list(g_f) == list(g_p)
        for k in g_p:
            assert g_f[k].shape == g_p[k].shape
            _close(g_f[k], g_p[k])
    dx_x, _, g_x = _back(c_f, dhs, dh_T, fast=False)  # and the plain backward on the fast cache
    _close(dx_x, dx_p)
    for k in g_p:
        _close(g_x[k], g_p[k])


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_inference_pass_agrees_and_keeps_nothing(cfg):
    x, h0, params, mask, _ = _problem(cfg, seed=1)
    hs_p, _ = _run(cfg, x, h0, params, mask, fast=False, keep_cache=False)
    hs_f, light = _run(cfg, x, h0, params, mask, fast=True, keep_cache=False)
    _close(hs_f, hs_p)
    assert [f for f in light._fields if f not in ("kind", "reset_after", "final_state")
            and getattr(light, f) is not None] == []


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 1, 2, 1), (2, 4, 5, 1), (2, 1, 1, 3)],
                         ids=["all1", "B1H1", "H1", "B1D1"])
@pytest.mark.parametrize("cfg", CONFIGS[::3], ids=IDS[::3])
def test_agreement_and_no_writes_at_degenerate_shapes(cfg, shape):
    """Size-1 axes make transposed arrays contiguous too: the fast path must still copy what it writes."""
    T, B, D, H = shape
    x, h0, params, mask, (dhs, dh_T) = _problem(cfg, T=T, B=B, D=D, H=H, seed=2)
    if mask is not None and T < 3:
        mask = None
    before = [a.copy() for a in (x, h0, dhs, dh_T)] + [v.copy() for v in params.values()]
    hs_p, c_p = _run(cfg, x, h0, params, mask, fast=False)
    hs_f, c_f = _run(cfg, x, h0, params, mask, fast=True)
    _close(hs_f, hs_p)
    cache_before = [c_f.h_all.copy(), c_f.gates.copy()]
    dx_p, dh0_p, g_p = _back(c_p, dhs, dh_T, fast=False)
    dx_f, dh0_f, g_f = _back(c_f, dhs, dh_T, fast=True)
    _close(dx_f, dx_p)
    _close(dh0_f, dh0_p)
    for k in g_p:
        _close(g_f[k], g_p[k])
    after = [x, h0, dhs, dh_T] + list(params.values())
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cache_before[0], c_f.h_all)
    np.testing.assert_array_equal(cache_before[1], c_f.gates)


def test_the_fast_path_runs_on_numpy_by_default():
    cfg = CellConfig("gru", "sigmoid")
    x, h0, params, mask, _ = _problem(cfg)
    hs, cache = gru_forward(x, params, h0)
    assert sequence.use_fast_path(np)
    assert not hs.flags.c_contiguous and hs.transpose(0, 2, 1).flags.c_contiguous   # stored feature-major
    assert cache.h_all.shape == (6, 3, 6) and cache.attention.shape == (5, 3, 4)


def test_float32_stays_float32_on_the_fast_path():
    cfg = CellConfig("gru", "softmax", reset_after=True, masked=True)
    inputs, douts, mask = make_problem(cfg, T=4, B=3, D=2, H=5, seed=3, dtype="float32")
    x, h0, params = split_inputs(cfg, inputs)
    hs, cache = gru_forward(x, params, h0, mask, cfg.attention, cfg.reset_after)
    dx, dh0, grads = gru_backward(douts[0], cache, douts[1])
    assert hs.dtype == dx.dtype == dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_the_plain_path_passes_the_gradient_check_on_the_cpu_too(cfg, monkeypatch):
    monkeypatch.setattr(sequence, "FAST_PATH", False)
    check_cell(cfg, T=3, B=2, D=3, H=4, seed=4).assert_ok()
    assert gru.use_fast_path(np) is False
