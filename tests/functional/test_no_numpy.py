"""The numerical core never names NumPy: every array it makes comes from the array module of its inputs.

Checked for the reference (``minieleatt/functional``) and the fast implementations
(``minieleatt/fast``) two ways: no module imports or names NumPy/CuPy, and a forward and
backward pass run on a recording stand-in for the array module while NumPy's own array
creators are made to raise.
"""

import ast
import pathlib

import numpy as np
import pytest

import minieleatt.fast as fast_pkg
import minieleatt.functional as F
from minieleatt import implementations
from minieleatt.cellcheck import all_configs, analytic_gradients, make_problem
from minieleatt.fast import caches, fused_cells, fused_input, kernels, numpy_cells, numpy_input

CORE = sorted(pathlib.Path(F.__file__).parent.glob("*.py")) + sorted(pathlib.Path(fast_pkg.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", CORE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_core_modules_do_not_import_numpy(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] in ("numpy", "cupy") for a in node.names), f"{path.name}:{node.lineno}"
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in ("numpy", "cupy"), f"{path.name}:{node.lineno}"
        if isinstance(node, ast.Name):
            assert node.id not in ("np", "numpy", "cupy"), f"{path.name}:{node.lineno} uses {node.id}"


CREATORS = ["array", "asarray", "asanyarray", "ascontiguousarray", "zeros", "zeros_like", "empty", "empty_like",
            "ones", "ones_like", "full", "full_like", "arange", "linspace", "concatenate", "stack", "eye"]
MODULES = (F.activations, F.checks, F.scan, F.rnn, F.lstm, F.gru, caches, numpy_input, numpy_cells, fused_input,
           fused_cells, implementations)


class RecordingModule:
    """Stands in for the array module: forwards to NumPy's saved functions and records what was called."""

    __name__ = "numpy"

    def __init__(self):
        self.saved = {name: getattr(np, name) for name in CREATORS}
        self.calls = set()

    def __getattr__(self, name):
        self.calls.add(name)
        return self.saved.get(name) or getattr(np, name)


def _forbidden(name):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the numerical core called numpy.{name} directly")
    return refuse


@pytest.mark.parametrize("impl", ["reference", "fast", "fused"])
@pytest.mark.parametrize("cfg", all_configs()[1::2], ids=lambda c: c.label)
def test_forward_and_backward_create_arrays_only_through_the_array_module(cfg, impl, monkeypatch):
    inputs, douts, mask = make_problem(cfg, T=3, B=2, D=3, H=4, seed=0)
    recorder = RecordingModule()
    for mod in MODULES:
        if hasattr(mod, "get_array_module"):
            monkeypatch.setattr(mod, "get_array_module", lambda *a, **k: recorder)
    monkeypatch.setattr(kernels, "_KERNELS", {})          # the emulated kernels are built on the recorder
    for name in CREATORS:
        monkeypatch.setattr(np, name, _forbidden(name))
    grads = analytic_gradients(cfg, inputs, douts, mask, impl=impl)
    monkeypatch.undo()
    assert {"empty", "zeros", "stack", "concatenate"} & recorder.calls      # the core did ask the array module
    assert all(isinstance(g, np.ndarray) for g in grads.values())
