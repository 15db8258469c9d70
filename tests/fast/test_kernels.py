"""The fused element-wise kernels of the GPU path (``minieleatt/fast/kernels.py``).

On the CPU the kernel bodies run on NumPy (``kernels_for(numpy)`` evaluates them): the
fused path passes the finite-difference check (its agreement with the reference is in
``test_agreement.py``), and the kernels' sources are well formed. With a GPU (marker
``gpu``) the compiled kernels run.
"""

import re

import numpy as np
import pytest

from minieleatt.backend import to_device, to_host
from minieleatt.cellcheck import CellConfig, all_configs, analytic_gradients, check_cell, make_problem, run_cell, split_inputs
from minieleatt.fast import kernels as fused

CONFIGS = all_configs()
IDS = [c.label.replace(" ", ",") for c in CONFIGS]
KERNELS = [v for v in vars(fused).values() if isinstance(v, fused.Kernel)]


def _results(cfg, device="cpu", seed=0, impl="fused"):
    inputs, douts, mask = make_problem(cfg, T=5, B=3, D=4, H=6, device=device, seed=seed)
    x, state, params = split_inputs(cfg, inputs)
    hs, cache = run_cell(cfg, x, params, state, mask, impl=impl)
    grads = analytic_gradients(cfg, inputs, douts, mask, impl=impl)
    out = {"hs": hs, **{f"d{k}": v for k, v in grads.items()}}
    if cache.attention is not None:
        out["attention"] = cache.attention
    return {k: to_host(v) for k, v in out.items()}


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_the_fused_path_passes_the_gradient_check(cfg):
    check_cell(cfg, T=3, B=2, D=3, H=4, seed=5, impl="fused").assert_ok()


def test_numpy_evaluates_the_kernel_bodies():
    kernels = fused.kernels_for(np)
    assert kernels.emulate and kernels is fused.kernels_for(np)
    a, xa = np.empty((2, 3)), np.empty((2, 3))
    x = np.arange(6.0).reshape(2, 3)
    kernels.gate_step(np.zeros((2, 3)), np.zeros((2, 3)), x, a, xa)     # a = σ(0) = 0.5
    np.testing.assert_array_equal(a, 0.5)
    np.testing.assert_array_equal(xa, 0.5 * x)


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_kernel_sources_are_well_formed(kernel):
    """Every output written once, every local declared once, no name CuPy reserves, only known helpers."""
    ins = [name for _, name in kernel.inputs]
    outs = [name for _, name in kernel.outputs]
    targets = [t for t, _ in kernel.body]
    assert sorted(set(outs)) == sorted(o for o in targets if o in outs) and len(set(targets)) == len(targets)
    for name in ins + outs + targets:
        assert name not in ("i", "n") and not name.startswith("_"), name
    assert not set(ins) & set(targets)
    known = set(ins) | set(targets) | {"sigm", "tanh", "keep", "choose"}
    for target, expr in kernel.body:
        for word in re.findall(r"[A-Za-z_]\w*", expr):
            assert word in known, (kernel.name, word)
    src = kernel.cuda()
    for target, _ in kernel.body:
        assert (f"{target} = " in src) and ((f"T {target} = " in src) == (target not in outs))
    assert all(t in ("T", "bool") for t, _ in kernel.inputs + kernel.outputs)


def test_an_output_of_the_wrong_shape_is_refused():
    k = fused.Kernels(np, emulate=True)
    with pytest.raises(ValueError, match="broadcast"):
        k.run(fused.GATE_FORWARD, np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)),
              np.zeros((3, 2)))


# ----------------------------------------------------------------------------- on the GPU

@pytest.mark.gpu
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_compiled_kernels_agree_with_the_reference_on_cupy_and_the_cpu(cfg):
    import cupy

    assert not fused.kernels_for(cupy).emulate
    with_kernels = _results(cfg, device="gpu")
    reference = _results(cfg, device="gpu", impl="reference")
    cpu = _results(cfg, device="cpu", impl="reference")
    for k in reference:
        np.testing.assert_allclose(with_kernels[k], reference[k], rtol=1e-12, atol=1e-13, err_msg=k)
        np.testing.assert_allclose(with_kernels[k], cpu[k], rtol=1e-12, atol=1e-13, err_msg=k)


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_compiled_kernels_in_float32_write_float32(cell):
    cfg = CellConfig(cell, "sigmoid", masked=True)
    inputs, douts, mask = make_problem(cfg, T=4, B=3, D=5, H=7, device="gpu", seed=6, dtype="float32")
    x, state, params = split_inputs(cfg, inputs)
    hs, cache = run_cell(cfg, x, params, state, mask, impl="fused")
    assert hs.dtype == np.float32
    grads = analytic_gradients(cfg, inputs, douts, mask, impl="fused")
    assert all(g.dtype == np.float32 for g in grads.values())
    cpu = {k: to_device(v, "cpu") for k, v in inputs.items()}
    x_c, state_c, params_c = split_inputs(cfg, cpu)
    hs_c, _ = run_cell(cfg, x_c, params_c, state_c, to_host(mask), impl="reference")
    np.testing.assert_allclose(to_host(hs), hs_c, rtol=1e-5, atol=1e-6)


def _cxx():
    import shutil
    return shutil.which("g++") or shutil.which("clang++") or shutil.which("c++")


@pytest.mark.skipif(_cxx() is None, reason="needs a C++ compiler")
@pytest.mark.parametrize("ctype", ["float", "double"])
def test_kernel_sources_compile_as_cpp(ctype, tmp_path):
    """Each kernel's CUDA source, wrapped the way CuPy wraps it (inputs as const references, outputs as
    references, T a typedef), compiles as host C++: a syntax and type check of what only nvrtc sees."""
    import subprocess

    lines = ["#include <cmath>", "using std::tanh;", "#define __device__", f"typedef {ctype} T;", fused.PREAMBLE]
    for k in KERNELS:
        params = [f"const {t} &{n}" for t, n in k.inputs] + [f"{t} &{n}" for t, n in k.outputs]
        lines.append(f"void {k.name}({', '.join(params)}) {{\n{k.cuda()}\n}}")
    src = tmp_path / "kernels.cpp"
    src.write_text("\n".join(lines))
    done = subprocess.run([_cxx(), "-std=c++14", "-fsyntax-only", "-Wall", "-Werror", str(src)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
