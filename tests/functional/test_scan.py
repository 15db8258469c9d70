"""The one time loop (``minieleatt/functional/scan.py``): state threading, the carry of padded steps,
the sum of the steps' gradients; and the rule that the cells have no loop of their own."""

import ast
import pathlib

import numpy as np
import pytest

import minieleatt.functional as F
from minieleatt.functional.scan import SequenceCache, scan_backward, scan_forward


def _linear_cell(W):
    """A toy cell, h_t = h_{t-1} + x_t W, whose gradients are known by heart."""
    def step_forward(x_t, h_prev):
        return h_prev + x_t @ W, (x_t, W)

    def step_backward(dh, cache):
        x_t, W_ = cache
        return dh @ W_.T, dh, {"W": x_t.T @ dh}
    return step_forward, step_backward


def test_scan_threads_the_state_carries_padded_steps_and_sums_the_gradients():
    rng = np.random.default_rng(0)
    T, B, D, H = 4, 2, 3, 2
    W, x, h0 = rng.standard_normal((D, H)), rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    mask = np.ones((T, B, 1), dtype=bool)
    mask[2, 1] = False                                   # sequence 1 skips step 2
    fwd, bwd = _linear_cell(W)
    hs, cache = scan_forward(fwd, x, h0, mask)
    valid = mask[:, :, 0].astype(float)[:, :, None]
    np.testing.assert_allclose(hs, h0 + np.cumsum(valid * (x @ W), axis=0))
    np.testing.assert_array_equal(hs[2, 1], hs[1, 1])   # the padded step carried the state
    dhs, dh_T = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    dx, dh0, grads = scan_backward(bwd, dhs, cache, dh_T)
    suffix = np.cumsum(dhs[::-1], axis=0)[::-1] + dh_T   # dL/dh_t: everything from t onwards
    np.testing.assert_allclose(dh0, suffix[0])
    np.testing.assert_allclose(dx, valid * (suffix @ W.T))
    np.testing.assert_allclose(grads["W"], np.einsum("tbd,tbh->dh", valid * x, suffix))
    assert not dx[2, 1].any()


def test_an_inference_cache_holds_the_final_state_only():
    fwd, _ = _linear_cell(np.eye(2))
    hs, cache = scan_forward(fwd, np.ones((3, 1, 2)), np.zeros((1, 2)), keep_cache=False)
    assert cache == SequenceCache.inference(cache.final_state) and cache.steps is None
    np.testing.assert_array_equal(cache.final_state, hs[-1])


CELL_FILES = [pathlib.Path(F.__file__).parent / f"{cell}.py" for cell in F.CELLS] + \
             [pathlib.Path(F.__file__).parent / "gate.py"]


@pytest.mark.parametrize("path", CELL_FILES, ids=lambda p: p.name)
def test_the_cells_have_no_time_loop_of_their_own(path):
    """The time loop, the carry of padded steps and the summing of step gradients live in scan.py only."""
    tree = ast.parse(path.read_text())
    loops = [node.lineno for node in ast.walk(tree) if isinstance(node, (ast.For, ast.While, ast.comprehension))]
    assert loops == [], f"{path.name} has loops at lines {loops}"
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
            {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"where", "carry", "split_carry"}, names & {"where", "carry", "split_carry"}
