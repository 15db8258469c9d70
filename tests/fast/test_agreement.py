"""Every fast implementation equals the reference on every configuration, to 1e-12 in float64.

Configurations: 3 cells × no gate / sigmoid / softmax × both GRU variants × mask on/off,
each with a given (non-zero) initial state and a gradient on the final state (``dstate_T``).
Compared: the outputs ``hs``, what the cache shows the user (``responses`` / ``attention``,
``final_state``) and the whole backward pass (``dx``, ``dstate0``, every parameter
gradient, in the parameters' order). On the CPU "fused" runs its kernel bodies on NumPy;
with a GPU (marker ``gpu``) the compiled kernels are compared on CuPy.
"""

import numpy as np
import pytest

from minieleatt.backend import to_host
from minieleatt.cellcheck import all_configs, backward_cell, make_problem, run_cell, split_inputs

CONFIGS = all_configs()
IDS = [c.label.replace(" ", ",") for c in CONFIGS]
TOL = dict(rtol=1e-12, atol=1e-12)
FAST_IMPLS = ["fast", "fused"]


def _problem(cfg, device="cpu", T=5, B=3, D=4, H=6, seed=0):
    inputs, douts, mask = make_problem(cfg, T=T, B=B, D=D, H=H, device=device, seed=seed)
    x, state, params = split_inputs(cfg, inputs)
    dstate_T = (douts[1], douts[2]) if cfg.cell == "lstm" else douts[1]
    return x, state, params, mask, douts[0], dstate_T


def _flat(v):
    return tuple(v) if isinstance(v, tuple) else (v,)


def run_both(cfg, impl, device="cpu", **shape):
    """(reference, impl) results of one configuration: a dict name -> host array each."""
    x, state, params, mask, dhs, dstate_T = _problem(cfg, device, **shape)
    results = []
    for which in ("reference", impl):
        hs, cache = run_cell(cfg, x, params, state, mask, impl=which)
        dx, dstate0, grads = backward_cell(cfg, dhs, cache, dstate_T, impl=which)
        out = {"hs": hs, "dx": dx}
        out.update({f"final_state[{i}]": a for i, a in enumerate(_flat(cache.final_state))})
        out.update({f"dstate0[{i}]": a for i, a in enumerate(_flat(dstate0))})
        out.update({f"d{k}": g for k, g in grads.items()})
        if cache.responses is not None:
            out["responses"] = cache.responses
            assert cache.attention is cache.responses or np.array_equal(to_host(cache.attention),
                                                                        to_host(cache.responses))
        out["grad order"] = list(grads)
        results.append({k: (v if k == "grad order" else to_host(v)) for k, v in out.items()})
    return results


def assert_agree(ref, got):
    assert ref.keys() == got.keys()
    assert ref["grad order"] == got["grad order"]
    for k in ref:
        if k != "grad order":
            assert got[k].shape == ref[k].shape, k
            np.testing.assert_allclose(got[k], ref[k], err_msg=k, **TOL)


@pytest.mark.parametrize("impl", FAST_IMPLS)
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_fast_implementations_equal_the_reference(cfg, impl):
    ref, got = run_both(cfg, impl)
    assert ("responses" in ref) == (cfg.attention is not None)
    assert_agree(ref, got)


@pytest.mark.parametrize("impl", FAST_IMPLS)
@pytest.mark.parametrize("cfg", CONFIGS[::2], ids=IDS[::2])
def test_inference_passes_agree_and_keep_nothing(cfg, impl):
    x, state, params, mask, _, _ = _problem(cfg, seed=1)
    hs_r, light_r = run_cell(cfg, x, params, state, mask, keep_cache=False, impl="reference")
    hs_f, light_f = run_cell(cfg, x, params, state, mask, keep_cache=False, impl=impl)
    np.testing.assert_allclose(hs_f, hs_r, **TOL)
    for a, b in zip(_flat(light_f.final_state), _flat(light_r.final_state)):
        np.testing.assert_allclose(a, b, **TOL)
    options = ("activation", "reset_after", "final_state")
    assert [f for f in light_f._fields if f not in options and getattr(light_f, f) is not None] == []
    assert light_f.responses is None and light_r.responses is None


@pytest.mark.parametrize("impl", FAST_IMPLS)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 1, 2, 1), (2, 4, 5, 1), (2, 1, 1, 3)],
                         ids=["all1", "B1H1", "H1", "B1D1"])
@pytest.mark.parametrize("cfg", CONFIGS[::3], ids=IDS[::3])
def test_agreement_at_degenerate_shapes(cfg, shape, impl):
    """Size-1 axes make transposed arrays contiguous too: every path must still agree."""
    T, B, D, H = shape
    ref, got = run_both(cfg, impl, T=T, B=B, D=D, H=H, seed=2)
    assert_agree(ref, got)


@pytest.mark.gpu
@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_on_the_gpu_every_implementation_equals_the_cpu_reference(cfg, impl):
    cpu_ref, _ = run_both(cfg, "fast", device="cpu")
    _, gpu = run_both(cfg, impl, device="gpu")
    assert_agree(cpu_ref, gpu)
