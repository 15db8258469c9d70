"""Finite-difference gradient checking.

The function under test maps a dict of named float64 arrays to one output
array (or a tuple of them). Given an upstream gradient ``dout`` of the same
structure, the vector-Jacobian product it should have is the gradient of the
scalar ``L = Σ_k sum(out_k * dout_k)``. ``numerical_vjp`` estimates it by
central differences,

    dL/dθ_i ≈ (L(θ + ε e_i) - L(θ - ε e_i)) / (2ε),

and ``check_gradients`` compares it with an analytic gradient tensor by tensor:

    relative error = max_i |analytic_i - numerical_i| / max(max_i |analytic_i|, max_i |numerical_i|)

(the largest disagreement, measured against the tensor's own scale, so that
entries near zero do not turn rounding noise into a false alarm; along a random
direction v, ``|<g, v> - numerical| / max(|<g, v>|, |numerical|)``). A correct
gradient lands around 1e-8 or below in float64; a real bug far above 1e-4.

Only float64 is accepted: in float32 the rounding error of ``L`` (about 1e-7
of its size) divided by the step ``2ε`` is as large as the gradients
themselves, so a bug could not be told from rounding.
"""

from typing import NamedTuple

import numpy as np

from .backend import check_same_device, get_array_module, to_host

DEFAULT_EPS = 1e-6
DEFAULT_TOL = 1e-6


class GradRow(NamedTuple):
    """The comparison of one tensor."""

    name: str
    shape: tuple
    checked: int          # entries (or directions) compared
    rel_error: float
    index: object         # index of the worst entry (tuple), or 'direction'
    analytic: float       # analytic value at the worst entry (or <g, v>)
    numerical: float      # numerical value at the worst entry (or the directional derivative)
    passed: bool


class GradcheckReport:
    """The rows of a check, with a verdict and a printable table."""

    def __init__(self, rows, tol, title=""):
        self.rows = list(rows)
        self.tol = tol
        self.title = title

    @property
    def passed(self):
        return all(r.passed for r in self.rows)

    @property
    def worst(self):
        """The row with the largest relative error."""
        return max(self.rows, key=lambda r: r.rel_error)

    def failures(self):
        return [r for r in self.rows if not r.passed]

    def describe_worst(self):
        w = self.worst
        where = "along a random direction" if w.index == "direction" else f"at index {w.index}"
        return (f"worst tensor '{w.name}' {where}: analytic {w.analytic:.10g}, numerical {w.numerical:.10g}, "
                f"relative error {w.rel_error:.2e} (tolerance {self.tol:.0e})")

    def table(self):
        lines = []
        if self.title:
            lines.append(self.title)
        lines.append(f"{'tensor':<10} {'shape':<14} {'checked':>7}  {'rel. error':>10}  result")
        for r in self.rows:
            shape = "x".join(str(s) for s in r.shape) or "scalar"
            lines.append(f"{r.name:<10} {shape:<14} {r.checked:>7}  {r.rel_error:>10.2e}  "
                         f"{'pass' if r.passed else 'FAIL'}")
        return "\n".join(lines)

    def __str__(self):
        status = "all gradients agree" if self.passed else "GRADIENT MISMATCH"
        return f"{self.table()}\n{status}; {self.describe_worst()}"

    def assert_ok(self):
        """Raise ``AssertionError`` naming the worst tensor when any row failed."""
        if not self.passed:
            bad = ", ".join(f"{r.name} ({r.rel_error:.2e})" for r in self.failures())
            raise AssertionError(f"gradient check failed for {bad}; {self.describe_worst()}")
        return self


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _require_float64(name, a):
    if not hasattr(a, "dtype") or a.dtype != np.float64:
        got = getattr(a, "dtype", type(a).__name__)
        raise TypeError(
            f"gradient checking needs float64, but '{name}' is {got}. Central differences divide the "
            f"rounding error of the loss (about 1e-7 of it in float32) by the small step 2*eps, which in "
            f"float32 is as large as the gradient itself and hides any bug; cast with .astype('float64')"
        )


def _loss(fn, inputs, douts):
    outs = _as_tuple(fn(inputs))
    if len(outs) != len(douts):
        raise ValueError(f"the function returned {len(outs)} outputs but {len(douts)} upstream gradients were given")
    total = 0.0
    for k, (o, d) in enumerate(zip(outs, douts)):
        if tuple(o.shape) != tuple(d.shape):
            raise ValueError(f"output {k} has shape {tuple(o.shape)} but its upstream gradient has {tuple(d.shape)}")
        total += float((o * d).sum())
    return total


def numerical_vjp(fn, inputs, name, dout, eps=DEFAULT_EPS, indices=None):
    """Central-difference gradient of ``L = Σ sum(fn(inputs)_k * dout_k)`` w.r.t. ``inputs[name]``.

    The entries of ``inputs[name]`` are perturbed in place and restored exactly.
    ``indices``: a list of index tuples to estimate (default: every entry).
    Returns a host (NumPy) array of the tensor's shape, or, with ``indices``, a 1-D array of their values.
    """
    douts = _as_tuple(dout)
    arr = inputs[name]
    for k, d in enumerate(douts):
        _require_float64(f"dout[{k}]", d)
    _require_float64(name, arr)
    all_entries = indices is None
    if all_entries:
        indices = list(np.ndindex(*arr.shape))
    values = np.empty(len(indices))
    for j, idx in enumerate(indices):
        orig = arr[idx].copy()
        arr[idx] = orig + eps
        plus = _loss(fn, inputs, douts)
        arr[idx] = orig - eps
        minus = _loss(fn, inputs, douts)
        arr[idx] = orig
        values[j] = (plus - minus) / (2 * eps)
    return values.reshape(arr.shape) if all_entries else values


def numerical_directional(fn, inputs, name, direction, dout, eps=DEFAULT_EPS):
    """Central-difference derivative of ``L`` along ``direction`` (an array shaped like ``inputs[name]``)."""
    douts = _as_tuple(dout)
    arr = inputs[name]
    _require_float64(name, arr)
    orig = arr.copy()
    arr += eps * direction
    plus = _loss(fn, inputs, douts)
    arr[...] = orig - eps * direction
    minus = _loss(fn, inputs, douts)
    arr[...] = orig
    return (plus - minus) / (2 * eps)


def relative_error(analytic, numerical):
    """``max |a - n| / max(max |a|, max |n|)``; 0 when both are exactly zero."""
    a, n = np.asarray(analytic, dtype=float), np.asarray(numerical, dtype=float)
    scale = max(np.abs(a).max(initial=0.0), np.abs(n).max(initial=0.0))
    diff = np.abs(a - n).max(initial=0.0)
    return 0.0 if scale == 0.0 else float(diff / scale)


def check_gradients(fn, inputs, analytic, dout, *, mode="auto", max_entries=2000, samples=200,
                    eps=DEFAULT_EPS, tol=DEFAULT_TOL, seed=0, title=""):
    """Compare analytic gradients with central differences, tensor by tensor.

    fn:       function of the dict ``inputs`` returning an array or a tuple of arrays
    inputs:   dict name -> float64 array (perturbed in place, restored)
    analytic: dict name -> analytic gradient, with the same keys and shapes as ``inputs``
    dout:     upstream gradient(s), structured like the output of ``fn``
    mode:     'full' (every entry), 'sample' (``samples`` random entries per tensor),
              'direction' (one random direction per tensor), or 'auto' (full up to
              ``max_entries`` entries, sampled beyond)
    Returns a ``GradcheckReport``. An input with no entries is refused: it would pass unchecked.
    """
    if mode not in ("auto", "full", "sample", "direction"):
        raise ValueError(f"mode must be 'auto', 'full', 'sample' or 'direction', got {mode!r}")
    missing = [k for k in inputs if k not in analytic]
    extra = [k for k in analytic if k not in inputs]
    if missing or extra:
        raise ValueError(f"analytic gradients must have the keys of inputs: missing {missing}, unexpected {extra}")
    check_same_device(inputs=inputs, analytic=analytic, dout=dout)     # refuses a mix of NumPy and CuPy, by name
    if not inputs:
        raise ValueError("no inputs to check: an empty check checks nothing")
    for name, arr in inputs.items():
        _require_float64(name, arr)
        if arr.size == 0:
            raise ValueError(f"input '{name}' has no entries (shape {tuple(arr.shape)}): an empty check checks "
                             "nothing; give every size at least 1")
    for k, d in enumerate(_as_tuple(dout)):
        _require_float64(f"dout[{k}]", d)
    rng = np.random.default_rng(seed)
    rows = []
    for name, arr in inputs.items():
        g = analytic[name]
        if tuple(g.shape) != tuple(arr.shape):
            raise ValueError(f"analytic gradient '{name}' has shape {tuple(g.shape)}, the input has {tuple(arr.shape)}")
        g_host = np.asarray(to_host(g), dtype=np.float64)
        tensor_mode = mode
        if mode == "auto":
            tensor_mode = "full" if arr.size <= max_entries else "sample"
        if tensor_mode == "direction":
            xp = get_array_module(arr)
            v = rng.standard_normal(arr.shape)
            v /= np.linalg.norm(v) or 1.0
            num = numerical_directional(fn, inputs, name, xp.asarray(v), dout, eps)
            ana = float((g_host * v).sum())
            err = relative_error(ana, num)
            rows.append(GradRow(name, tuple(arr.shape), 1, err, "direction", ana, num, err <= tol))
            continue
        if tensor_mode == "full":
            idx = list(np.ndindex(*arr.shape))
        else:
            flat_idx = rng.choice(arr.size, size=min(samples, arr.size), replace=False)
            idx = [np.unravel_index(int(i), arr.shape) for i in flat_idx]
        num = numerical_vjp(fn, inputs, name, dout, eps, indices=idx)
        ana = np.array([g_host[i] for i in idx]) if idx else np.zeros(0)
        diff = np.abs(ana - num)
        scale = max(np.abs(g_host).max(initial=0.0), np.abs(num).max(initial=0.0))
        err = 0.0 if scale == 0.0 else float(diff.max(initial=0.0) / scale)
        j = int(diff.argmax()) if diff.size else 0
        worst_idx = tuple(int(i) for i in idx[j]) if idx else ()
        rows.append(GradRow(name, tuple(arr.shape), len(idx), err, worst_idx,
                            float(ana[j]) if idx else 0.0, float(num[j]) if idx else 0.0, err <= tol))
    return GradcheckReport(rows, tol, title)
