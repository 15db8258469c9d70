"""The launch counter of the cell benchmark (benchmarks/launch_count.py): a stand-in for CuPy on NumPy.

The stand-in replaces ``cupy`` in ``sys.modules`` and fills the fused-kernel cache, so
everything that runs library code through it runs in a subprocess; its counting rules
are checked here directly on its arrays.
"""

import importlib.util
import json
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
ROOT = BENCH.parent


@pytest.fixture(scope="module")
def lc():
    spec = importlib.util.spec_from_file_location("launch_count", BENCH / "launch_count.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _python(code):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{ROOT}:{BENCH}", "PATH": "/usr/bin:/bin"}, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- the counting rules

def test_views_cost_nothing_and_writes_cost_one_launch_each(lc):
    counter = lc.Counter()
    xp = lc.CountingCupy(counter)
    a = xp.asarray(np.arange(12.0).reshape(3, 4))
    assert counter.transfers == 1 and counter.launches == 0
    v = a[1:, :2].T                                     # views
    b = xp.empty_like(a)
    assert counter.launches == 0
    b[...] = a                                          # a copy kernel
    c = a * 2 + 1                                       # two element-wise kernels
    xp.tanh(a, out=b)                                   # one, written in place
    s = c.sum(axis=0)                                   # one reduction
    m = xp.matmul(a, a.T)                               # one product
    z = xp.zeros((2, 2))                                # one fill
    w = xp.ascontiguousarray(v)                         # a strided view copied: one
    xp.ascontiguousarray(a)                             # already contiguous: none
    assert counter.launches == 8, counter.by_op
    assert isinstance(s, lc.CountingArray) and s.shape == (4,) and isinstance(w, lc.CountingArray)
    np.testing.assert_array_equal(b.get(), np.tanh(np.arange(12.0).reshape(3, 4)))
    assert counter.transfers == 2
    assert bool((m == m).all()) and counter.transfers == 3   # bool() of a device array waits for it
    assert z.get().sum() == 0


def test_implicit_conversion_and_unmodelled_functions_are_refused(lc):
    xp = lc.CountingCupy(lc.Counter())
    a = xp.asarray(np.ones(3))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(AttributeError, match="not modelled"):
        xp.fft


# ----------------------------------------------------------------------------- a training step, counted

def test_counts_follow_the_kernels_design_and_grow_by_a_constant_per_step():
    counts = {int(T): c for T, c in _python("""
        import json, sys
        sys.modules["torch"] = None                       # bench_cells without its torch cases
        import bench_cells, launch_count
        print(json.dumps({T: launch_count.count_configs(bench_cells.CONFIGS, bench_cells.build_stack,
                                                        bench_cells.SIZES, bench_cells.H, T) for T in (2, 3, 4)}))
    """).items()}
    # fused kernels per layer and step, forward + backward: the cell's one each way (the reset-before GRU
    # two each way), the sigmoid gate one more each way
    per_step = {"rnn": 2, "rnn + gate": 4, "lstm": 2, "lstm + gate": 4, "gru": 4, "gru + gate": 6,
                "gru reset-after": 2}
    for label, per in per_step.items():
        for T in (2, 3, 4):
            c = counts[T][label]
            assert c["fused"]["fused"] == per * T * 3, (label, T)         # 3 layers
            assert c["reference"]["fused"] == 0
            assert c["fused"]["launches"] < c["reference"]["launches"], label
        for path in ("fused", "reference"):
            L = [counts[T][label][path]["launches"] for T in (2, 3, 4)]
            assert L[2] - L[1] == L[1] - L[0] > 0, (label, path, L)      # the same work every step


def test_the_stand_in_computes_what_numpy_computes_on_both_paths():
    """The counted runs are the library's CuPy path: every cell configuration, forward and backward,
    fused and reference, gives the CPU's numbers."""
    worst = _python("""
        import json
        import numpy as np
        import launch_count
        from minieleatt.backend import to_host
        from minieleatt.cellcheck import all_configs, analytic_gradients, make_problem, run_cell, split_inputs

        def results(cfg, device, impl):
            inputs, douts, mask = make_problem(cfg, T=4, B=3, D=4, H=5, device=device, seed=3)
            x, state, params = split_inputs(cfg, inputs)
            hs, cache = run_cell(cfg, x, params, state, mask, impl=impl)
            out = {"hs": hs, **analytic_gradients(cfg, inputs, douts, mask, impl=impl)}
            return {k: to_host(v) for k, v in out.items()}

        counter = launch_count.install()
        worst = {}
        for cfg in all_configs():
            cpu = results(cfg, "cpu", "reference")
            for path in ("fused", "reference"):
                before = counter.snapshot()
                gpu = results(cfg, "gpu", path)
                assert counter.since(before)["launches"] > 0
                assert (counter.since(before)["fused"] > 0) == (path == "fused")   # every cell has its kernels
                diff = max(float(np.max(np.abs(gpu[k] - cpu[k]))) for k in cpu)
                worst[f"{cfg.label} {path}"] = diff
        print(json.dumps(worst))
    """)
    assert len(worst) == 2 * 24
    assert max(worst.values()) < 1e-12, max(worst.items(), key=lambda kv: kv[1])
