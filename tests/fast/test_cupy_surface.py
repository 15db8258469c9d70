"""Everything the GPU code paths call on their array module exists in CuPy and takes those arguments.

CuPy imports on a machine without a GPU, so its namespace and signatures can be checked
here. The reference (``minieleatt.functional``), the fused path (``minieleatt.fast``,
``impl="fused"``), the network and the optimisers run every configuration of the CPU
suite on a recording stand-in for NumPy; each call they make on the array module (a
function, a ufunc and its methods such as ``add.at``, the keyword arguments given) is then
looked up in the installed CuPy and bound to its signature. A call CuPy lacks, or a
keyword it does not take, fails the test with the call and the line that made it.

Not recorded: the NumPy fast path (``impl="fast"``, ``numpy_cells``), which refuses CuPy
arrays, and the NumPy evaluation of the fused kernels' bodies (``Kernels._evaluate``),
which on CuPy is a compiled kernel instead (``test_kernels_compile.py``).
"""

import inspect
import pathlib
import re
import sys

import numpy as np
import pytest

import minieleatt
import minieleatt.functional as F
from minieleatt import implementations, nn, optim
from minieleatt.cellcheck import all_configs, analytic_gradients, make_problem, run_cell, split_inputs
from minieleatt.fast import caches, fused_cells, fused_input, kernels

cupy = pytest.importorskip("cupy", reason="needs CuPy installed (no GPU needed): pip install cupy-cuda12x")

PACKAGE = pathlib.Path(minieleatt.__file__).parent
MODULES = (F.activations, F.checks, F.scan, F.gate, F.rnn, F.lstm, F.gru, caches, fused_input, fused_cells,
           implementations, nn, optim)
EMULATION_ONLY = {("kernels.py", "_evaluate")}


def _caller():
    """(file relative to the package, line, function) of the innermost frame inside the package."""
    frame = sys._getframe(2)
    while frame is not None:
        path = pathlib.Path(frame.f_code.co_filename)
        if PACKAGE in path.parents:
            return str(path.relative_to(PACKAGE)), frame.f_lineno, frame.f_code.co_name
        frame = frame.f_back
    return "?", 0, "?"


class Recorder:
    """Stands in for the array module: forwards to NumPy and records every call (name, arguments, caller)."""

    __name__ = "numpy"

    def __init__(self):
        self.calls = []

    def record(self, name, nargs, kwargs):
        where = _caller()
        if (pathlib.Path(where[0]).name, where[2]) not in EMULATION_ONLY:
            self.calls.append((name, nargs, tuple(sorted(kwargs)), where))

    def __getattr__(self, name):
        target = getattr(np, name)
        if isinstance(target, type) or not callable(target):
            self.record(name, None, ())                   # a dtype, a constant: looked up, not called
            return target
        return RecordedCallable(self, name, target)


class RecordedCallable:
    def __init__(self, recorder, name, target):
        self.recorder, self.name, self.target = recorder, name, target

    def __call__(self, *args, **kwargs):
        self.recorder.record(self.name, len(args), kwargs)
        return self.target(*args, **kwargs)

    def __getattr__(self, attr):                          # a ufunc's methods: add.at, add.reduce ...
        sub = getattr(self.target, attr)
        if callable(sub):
            return RecordedCallable(self.recorder, f"{self.name}.{attr}", sub)
        return sub


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder()
    for module in MODULES:
        if hasattr(module, "get_array_module"):
            monkeypatch.setattr(module, "get_array_module", lambda *a, **k: rec)
    monkeypatch.setattr(kernels, "_KERNELS", {})         # the kernels' runner gets the recorder as its module
    return rec


def _ufunc_signature(ufunc):
    """CuPy's ufuncs carry their signature on the first line of their docstring: add(x1, x2, /, out=None, ...)."""
    first = (ufunc.__doc__ or "").strip().splitlines()[0].replace("\\*", "*")
    params = re.fullmatch(r"\w+\((.*)\)", first).group(1)
    namespace = {}
    exec(f"def f({params}): pass", namespace)            # noqa: S102 - CuPy's own docstring, parsed as a signature
    return inspect.signature(namespace["f"])


def cupy_problem(name, nargs, kwargs):
    """Why CuPy cannot make this call, or None."""
    obj = cupy
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return f"CuPy has no {name}"
    if nargs is None:
        return None
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        if type(obj).__name__ != "ufunc":
            return None                                   # a Cython callable without a signature: exists
        signature = _ufunc_signature(obj)
    try:
        signature.bind(*([None] * nargs), **{k: None for k in kwargs})
    except TypeError as exc:
        return f"cupy.{name} does not take {nargs} positional argument(s) and {list(kwargs)}: {exc}"
    return None


def _assert_cupy_has_everything(calls):
    problems = {}
    for name, nargs, kwargs, where in calls:
        problem = cupy_problem(name, nargs, kwargs)
        if problem:
            problems.setdefault(problem, set()).add(f"{where[0]}:{where[1]} ({where[2]})")
    assert not problems, "\n".join(f"{p} -- called at {', '.join(sorted(w))}" for p, w in problems.items())


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_every_call_of_the_cells_exists_in_cupy(impl, recorder):
    for cfg in all_configs():
        inputs, douts, mask = make_problem(cfg, T=3, B=2, D=3, H=4, seed=0)
        analytic_gradients(cfg, inputs, douts, mask, impl=impl)
        x, state, params = split_inputs(cfg, inputs)
        run_cell(cfg, x, params, state, mask, keep_cache=False, impl=impl)
    names = {c[0] for c in recorder.calls}
    assert {"empty", "tanh"} <= names                   # the recording saw the cells' calls
    _assert_cupy_has_everything(recorder.calls)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_every_call_of_a_training_step_exists_in_cupy(optimizer, recorder):
    net = nn.EleAttNet(3, 4, hidden_size=5, num_layers=2, attention_layers=1, dtype="float64", impl="fused")
    rng = np.random.default_rng(0)
    x, mask = rng.standard_normal((6, 3, 3)), np.ones((6, 3))
    mask[4:, 0] = 0
    params = net.parameters()
    opt = optim.OPTIMIZERS[optimizer](params, 0.01)
    loss, _, grads = net.loss_and_grads(x, np.array([0, 1, 3]), mask, rng=rng)
    optim.clip_by_global_norm(grads, 0.5)
    opt.step(grads)
    net.forward(x, mask, keep_attention=True)
    assert recorder.calls
    _assert_cupy_has_everything(recorder.calls)


def test_the_check_names_a_missing_call_and_a_wrong_keyword():
    assert cupy_problem("add.at", 3, ()) is None
    assert cupy_problem("copyto", 2, ("where",)) is None
    assert "CuPy has no trapz_nonexistent" in cupy_problem("trapz_nonexistent", 1, ())
    assert "does not take" in cupy_problem("tanh", 1, ("where",))          # CuPy's ufuncs take no where=
    assert "does not take" in cupy_problem("ascontiguousarray", 1, ("like",))
    rec = Recorder()
    rec.tanh(np.zeros(2), out=np.zeros(2))
    assert rec.calls[0][:3] == ("tanh", 1, ("out",))


def test_the_fused_kernels_are_built_the_way_cupy_builds_an_elementwise_kernel():
    """``Kernels.run`` on CuPy calls ``cupy.ElementwiseKernel(in_params, out_params, body, name, preamble=...)``:
    CuPy accepts that construction (it compiles on the first call, which needs a device)."""
    k = kernels.GATE_FORWARD
    compiled = cupy.ElementwiseKernel(k.params(k.inputs), k.params(k.outputs), k.cuda(), k.name,
                                      preamble=kernels.PREAMBLE)
    assert compiled.name == k.name
