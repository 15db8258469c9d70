"""The NumPy fast path (``minieleatt/fast/numpy_cells.py``) beyond its agreement with the reference.

It stores its arrays feature-major and works in place: it must never write into its
inputs or into a cache that a backward pass reads, keep float32 as float32, read the
fused path's caches too (both are stacked caches), and refuse what it cannot run.
"""

import numpy as np
import pytest

from minieleatt.cellcheck import CellConfig, all_configs, backward_cell, make_problem, run_cell, split_inputs
from minieleatt.fast.numpy_cells import gru_forward_fast

CONFIGS = all_configs()
IDS = [c.label.replace(" ", ",") for c in CONFIGS]
CACHE_ARRAYS = ("x", "h_all", "c_all", "gates", "hn", "responses")


def _problem(cfg, T=5, B=3, D=4, H=6, seed=0, dtype="float64"):
    inputs, douts, mask = make_problem(cfg, T=T, B=B, D=D, H=H, seed=seed, dtype=dtype)
    x, state, params = split_inputs(cfg, inputs)
    dstate_T = (douts[1], douts[2]) if cfg.cell == "lstm" else douts[1]
    return x, state, params, mask, douts[0], dstate_T


def _copy(v):
    return tuple(a.copy() for a in v) if isinstance(v, tuple) else v.copy()


def _same(a, b, what):
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        np.testing.assert_array_equal(u, v, err_msg=what)


@pytest.mark.parametrize("impl", ["fast", "fused"])
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 1, 2, 1), (2, 4, 5, 1), (5, 3, 4, 6)],
                         ids=["all1", "B1H1", "H1", "general"])
@pytest.mark.parametrize("cfg", CONFIGS[::3], ids=IDS[::3])
def test_no_writes_into_inputs_or_the_cache(cfg, shape, impl):
    """Size-1 axes make transposed arrays contiguous too: the fast path must still copy what it writes."""
    T, B, D, H = shape
    x, state, params, mask, dhs, dstate_T = _problem(cfg, T=T, B=B, D=D, H=H, seed=2)
    if T < 3:
        mask = None
    before = [_copy(v) for v in (x, state, dhs, dstate_T)] + [v.copy() for v in params.values()]
    _, cache = run_cell(cfg, x, params, state, mask, impl=impl)
    cache_before = {name: getattr(cache, name).copy() for name in CACHE_ARRAYS if getattr(cache, name, None) is not None}
    first = backward_cell(cfg, dhs, cache, dstate_T)
    for a, b, what in zip(before, [x, state, dhs, dstate_T] + list(params.values()),
                          ["x", "state", "dhs", "dstate_T"] + list(params)):
        _same(a, b, what)
    for name, a in cache_before.items():
        np.testing.assert_array_equal(a, getattr(cache, name), err_msg=name)
    second = backward_cell(cfg, dhs, cache, dstate_T)           # the same cache, backpropagated again
    np.testing.assert_array_equal(first[0], second[0])


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_each_stacked_backward_reads_the_other_paths_cache(cfg):
    x, state, params, mask, dhs, dstate_T = _problem(cfg, seed=7)
    _, fast_cache = run_cell(cfg, x, params, state, mask, impl="fast")
    _, fused_cache = run_cell(cfg, x, params, state, mask, impl="fused")
    want = backward_cell(cfg, dhs, fast_cache, dstate_T, impl="fast")
    for cache, impl in ((fused_cache, "fast"), (fast_cache, "fused")):
        got = backward_cell(cfg, dhs, cache, dstate_T, impl=impl)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-13)
        for k in want[2]:
            np.testing.assert_allclose(got[2][k], want[2][k], rtol=1e-12, atol=1e-13, err_msg=k)


def test_the_fast_path_stores_its_arrays_feature_major():
    cfg = CellConfig("gru", "sigmoid")
    x, h0, params, _, _, _ = _problem(cfg)
    hs, cache = gru_forward_fast(x, params, h0)
    assert not hs.flags.c_contiguous and hs.transpose(0, 2, 1).flags.c_contiguous
    assert cache.h_all.shape == (6, 3, 6) and cache.attention.shape == (5, 3, 4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_stays_float32_on_the_fast_path(cell):
    cfg = CellConfig(cell, "softmax", reset_after=cell == "gru", masked=True)
    x, state, params, mask, dhs, dstate_T = _problem(cfg, T=4, B=3, D=2, H=5, seed=3, dtype="float32")
    hs, cache = run_cell(cfg, x, params, state, mask, impl="fast")
    dx, dstate, grads = backward_cell(cfg, dhs, cache, dstate_T)
    assert hs.dtype == dx.dtype == np.float32
    assert all(d.dtype == np.float32 for d in (dstate if cell == "lstm" else (dstate,)))
    assert all(g.dtype == np.float32 for g in grads.values())
