"""The cells' CPU fast paths (``_*_forward_fast`` / ``_*_backward_fast``, ``fast.py``) against the plain ones.

Same maths, different memory layout and order of the products: they agree to
rounding in float64 on every configuration, each backward accepts the other's
cache, neither writes into its inputs, and the plain path still passes the
finite-difference check on the CPU (the suite's other checks run the fast path).
"""

import numpy as np
import pytest

from minieleatt.cellcheck import CellConfig, all_configs, backward_cell, check_cell, make_problem, run_cell, split_inputs
from minieleatt.functional import gru_backward, gru_forward, sequence

CONFIGS = all_configs()
IDS = [c.label.replace(" ", ",") for c in CONFIGS]
RTOL, ATOL = 1e-12, 1e-13
CACHE_ARRAYS = ("h_all", "c_all", "gates", "hn", "attention")


def _problem(cfg, T=5, B=3, D=4, H=6, seed=0):
    inputs, douts, mask = make_problem(cfg, T=T, B=B, D=D, H=H, seed=seed)
    x, state, params = split_inputs(cfg, inputs)
    dstate_T = (douts[1], douts[2]) if cfg.cell == "lstm" else douts[1]
    return x, state, params, mask, douts[0], dstate_T


def _forward(cfg, x, state, params, mask, fast, keep_cache=True):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sequence, "FAST_PATH", fast)
        return run_cell(cfg, x, params, state, mask, keep_cache)


def _backward(cfg, cache, dhs, dstate_T, fast):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sequence, "FAST_PATH", fast)
        return backward_cell(cfg, dhs, cache, dstate_T)


def _close(a, b, what=""):
    if isinstance(a, tuple):
        for u, v in zip(a, b):
            _close(u, v, what)
        return
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def _same_backward(got, want):
    _close(got[0], want[0], "dx")
    _close(got[1], want[1], "dstate")
    assert list(got[2]) == list(want[2])
    for k in want[2]:
        assert got[2][k].shape == want[2][k].shape
        _close(got[2][k], want[2][k], k)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_fast_and_plain_agree(cfg):
    x, state, params, mask, dhs, dstate_T = _problem(cfg)
    hs_p, c_p = _forward(cfg, x, state, params, mask, fast=False)
    hs_f, c_f = _forward(cfg, x, state, params, mask, fast=True)
    _close(hs_f, hs_p, "hs")
    _close(c_f.final_state, c_p.final_state, "final_state")
    for name in CACHE_ARRAYS:
        a, b = getattr(c_f, name, None), getattr(c_p, name, None)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.shape == b.shape, name
            _close(a, b, name)
    np.testing.assert_array_equal(c_f.W_hcat, c_p.W_hcat)

    want = _backward(cfg, c_p, dhs, dstate_T, fast=False)
    _same_backward(_backward(cfg, c_f, dhs, dstate_T, fast=True), want)
    _same_backward(_backward(cfg, c_p, dhs, dstate_T, fast=True), want)     # the fast backward, plain cache
    _same_backward(_backward(cfg, c_f, dhs, dstate_T, fast=False), want)    # the plain backward, fast cache


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_inference_pass_agrees_and_keeps_nothing(cfg):
    x, state, params, mask, _, _ = _problem(cfg, seed=1)
    hs_p, c_p = _forward(cfg, x, state, params, mask, fast=False, keep_cache=False)
    hs_f, light = _forward(cfg, x, state, params, mask, fast=True, keep_cache=False)
    _close(hs_f, hs_p)
    _close(light.final_state, c_p.final_state)
    assert [f for f in light._fields if f not in ("kind", "reset_after", "final_state")
            and getattr(light, f) is not None] == []


def _copy(v):
    return tuple(a.copy() for a in v) if isinstance(v, tuple) else v.copy()


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 1, 2, 1), (2, 4, 5, 1), (2, 1, 1, 3)],
                         ids=["all1", "B1H1", "H1", "B1D1"])
@pytest.mark.parametrize("cfg", CONFIGS[::3], ids=IDS[::3])
def test_agreement_and_no_writes_at_degenerate_shapes(cfg, shape):
    """Size-1 axes make transposed arrays contiguous too: the fast path must still copy what it writes."""
    T, B, D, H = shape
    x, state, params, mask, dhs, dstate_T = _problem(cfg, T=T, B=B, D=D, H=H, seed=2)
    if T < 3:
        mask = None
    before = [_copy(v) for v in (x, state, dhs, dstate_T)] + [v.copy() for v in params.values()]
    hs_p, c_p = _forward(cfg, x, state, params, mask, fast=False)
    hs_f, c_f = _forward(cfg, x, state, params, mask, fast=True)
    _close(hs_f, hs_p)
    cache_before = {name: getattr(c_f, name).copy() for name in CACHE_ARRAYS if getattr(c_f, name, None) is not None}
    want = _backward(cfg, c_p, dhs, dstate_T, fast=False)
    _same_backward(_backward(cfg, c_f, dhs, dstate_T, fast=True), want)
    after = [x, state, dhs, dstate_T] + list(params.values())
    for a, b in zip(before, after):
        _close(a, b)
        if not isinstance(a, tuple):
            np.testing.assert_array_equal(a, b)
    for name, a in cache_before.items():
        np.testing.assert_array_equal(a, getattr(c_f, name), err_msg=name)


def test_the_fast_path_runs_on_numpy_by_default():
    cfg = CellConfig("gru", "sigmoid")
    x, h0, params, _, _, _ = _problem(cfg)
    hs, cache = gru_forward(x, params, h0)
    assert sequence.use_fast_path(np)
    assert not hs.flags.c_contiguous and hs.transpose(0, 2, 1).flags.c_contiguous   # stored feature-major
    assert cache.h_all.shape == (6, 3, 6) and cache.attention.shape == (5, 3, 4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_stays_float32_on_the_fast_path(cell):
    cfg = CellConfig(cell, "softmax", reset_after=cell == "gru", masked=True)
    inputs, douts, mask = make_problem(cfg, T=4, B=3, D=2, H=5, seed=3, dtype="float32")
    x, state, params = split_inputs(cfg, inputs)
    hs, cache = run_cell(cfg, x, params, state, mask)
    dstate_T = (douts[1], douts[2]) if cell == "lstm" else douts[1]
    dx, dstate, grads = backward_cell(cfg, douts[0], cache, dstate_T)
    assert hs.dtype == dx.dtype == np.float32
    assert all(d.dtype == np.float32 for d in (dstate if cell == "lstm" else (dstate,)))
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_the_plain_path_passes_the_gradient_check_on_the_cpu_too(cfg, monkeypatch):
    monkeypatch.setattr(sequence, "FAST_PATH", False)
    check_cell(cfg, T=3, B=2, D=3, H=4, seed=4).assert_ok()
    assert sequence.use_fast_path(np) is False


def test_gru_fast_backward_on_a_plain_cache_without_copies_elsewhere():
    """The public functions pick the path by the arrays alone; a plain cache is transposed on the way in."""
    cfg = CellConfig("gru", "sigmoid", reset_after=True)
    x, h0, params, mask, dhs, dh_T = _problem(cfg, seed=7)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sequence, "FAST_PATH", False)
        _, cache = gru_forward(x, params, h0, mask, "sigmoid", True)
    got = gru_backward(dhs, cache, dh_T)
    want = _backward(cfg, cache, dhs, dh_T, fast=False)
    _same_backward(got, want)
