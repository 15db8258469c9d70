"""Problem: the checker itself, ``numerical_vjp(f, x, dout, eps=1e-6) -> dx``.

    L(x) = Σ f(x) ⊙ dout;    dx_i ≈ (L(x + ε e_i) − L(x − ε e_i)) / (2ε)

one entry at a time, in float64, with ``x`` left exactly as it was found. The parts: the values
(on functions whose gradients are known in closed form, one of them at a large ε where a forward
difference shows its error), and the manners (x restored, f only ever given float64 arrays).
"""

import sys

import numpy as np

from ..diagnose import Diagnosis, explain_exception
from ..guard import LibraryMonitor
from ..parts import PROBES, Case, CaseResult, Malformed, Part, Problem, Stop, cases, compare, draw
from ..report import Finding, TensorRow


class Recorder:
    """f, recording the dtypes and shapes of what it is called with."""

    def __init__(self, f):
        self.f = f
        self.dtypes = set()
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        self.dtypes.add(str(getattr(x, "dtype", type(x).__name__)))
        return self.f(np.asarray(x))


def _functions(rng, s):
    """(name, f, x, dout, the analytic gradient, eps) for the case's function; x at ``s['scale']`` (default 1)."""
    kind = s["f"]
    scale = s.get("scale", 1)
    if kind == "tanh(x W)":
        W = draw(rng, s["D"], s["K"])
        x = draw(rng, s["B"], s["D"], scale=0.5 * scale)
        dout = draw(rng, s["B"], s["K"])
        y = np.tanh(x @ W)
        return (lambda v: np.tanh(v @ W)), x, dout, ((1 - y * y) * dout) @ W.T, 1e-6
    if kind == "x³ (a vector)":
        x = draw(rng, s["D"], scale=scale)
        dout = draw(rng, s["D"])
        return (lambda v: v ** 3), x, dout, 3 * x ** 2 * dout, 1e-6
    if kind == "2 sin(x) summed over rows":
        x = draw(rng, s["B"], s["D"])
        dout = draw(rng, s["D"])
        return (lambda v: 2 * np.sin(v).sum(axis=0)), x, dout, 2 * np.cos(x) * dout[None], 1e-6
    # exp(2x) ⊙ c at a large step: a forward difference is off by about ε f''/(2 f') = ε, central by ε²
    x = draw(rng, s["B"], s["D"], scale=0.5)
    c = draw(rng, s["B"], s["D"])
    dout = draw(rng, s["B"], s["D"])
    return (lambda v: np.exp(2 * v) * c), x, dout, 2 * np.exp(2 * x) * c * dout, 1e-4


CASES = (cases([0, 1], [dict(f="tanh(x W)", B=3, D=4, K=2)]) + cases([0], [dict(f="x³ (a vector)", D=5)])
         + cases([0], [dict(f="2 sin(x) summed over rows", B=2, D=3)])
         + cases([0], [dict(f="exp(2x) ⊙ c, at eps=1e-4", B=2, D=3)]))


def hidden(rng, visible):
    """The hidden cases: new seeds for the visible ones, and x at very different scales: far below ε (where
    x[i] + ε − ε is not x[i]: only x[i] = old restores it) and in the hundreds."""
    def seed():
        return int(rng.integers(10_000, 1_000_000))
    out = [Case(seed(), dict(c.sizes), c.variant) for c in visible]
    out.append(Case(seed(), dict(f="tanh(x W)", B=int(rng.integers(2, 4)), D=int(rng.integers(4, 7)), K=1,
                                 scale=float(f"{rng.uniform(1e-9, 1e-8):.3g}"))))
    out.append(Case(seed(), dict(f="x³ (a vector)", D=int(rng.integers(5, 9)), scale=float(f"{rng.uniform(200, 900):.3g}"))))
    return out


def _instance(case):
    rng = np.random.default_rng(3000 + case.seed)
    return _functions(rng, case.sizes)


def probe_numerical_vjp(student, seed, sizes, variant, check_args):
    """The student's numerical_vjp on the case's function (the grader's, built here): the estimate, the dtypes
    f was called with, and x after the call (``check_args``: a call that changes x fails, as any other)."""
    case = Case(seed, dict(sizes), variant)
    f, x, dout, right, eps = _instance(case)
    rec = Recorder(f)
    args = (rec, x, dout) if eps == 1e-6 else (rec, x, dout, eps)
    if check_args:                       # x is the inputs part's: here, dout must come back unchanged
        before = dout.copy()
        dx = student.call("numerical_vjp", *args, callbacks=(Recorder.__call__,), sizes=case.sizes, check_args=False)
        if not np.array_equal(dout, before):
            raise Stop("failed", "numerical_vjp writes into its argument dout in place: the caller's dout is changed "
                                 "by the call (arguments are read-only)")
        return {"dx": dx, "dtypes": sorted(rec.dtypes)}
    fn = student.function("numerical_vjp")
    monitor = LibraryMonitor(student.allowed, (Recorder.__call__,))
    caught = None
    with np.errstate(all="ignore"), monitor:
        monitor.entry = sys._getframe()
        try:
            fn(rec, x, dout)                 # on the grader's own x, to see what happens to it
        except Exception as exc:  # noqa: BLE001 - the values part reports other exceptions
            caught = exc
    if not monitor.clean:
        raise Stop("library", "numerical_vjp: " + monitor.message())
    if isinstance(caught, NotImplementedError):
        raise Stop("not implemented", "numerical_vjp is not implemented yet: write its body where it says "
                                      "YOUR CODE HERE (replace the raise), run the cell, then check again")
    if caught is not None:
        text, finding = explain_exception(caught, case.sizes)
        raise Stop("error", f"numerical_vjp raised {text}", finding)
    return {"x": x, "dtypes": sorted(rec.dtypes)}


PROBES["numerical_vjp"] = probe_numerical_vjp


def _estimates(f, x, dout, eps):
    """Candidates for the diagnosis: a forward difference, a half one, dout ignored, perturbations kept."""
    def L(v):
        return float((f(v) * dout).sum())

    fwd, half, ignored, kept = (np.zeros_like(x) for _ in range(4))
    xk = x.copy()
    for i in np.ndindex(*x.shape):
        v = x.copy()
        v[i] += eps
        lp = L(v)
        v[i] -= 2 * eps
        lm = L(v)
        fwd[i] = (lp - L(x)) / eps
        half[i] = (lp - L(x)) / (2 * eps)
        ignored[i] = (f(x + eps * _unit(x, i)).sum() - f(x - eps * _unit(x, i)).sum()) / (2 * eps)
        old = xk[i]
        xk[i] = old + eps
        lp = L(xk)
        xk[i] = old - eps
        lm = L(xk)                                   # never restored: later entries see this one shifted
        kept[i] = (lp - lm) / (2 * eps)
    return fwd, half, ignored, kept


def _unit(x, i):
    e = np.zeros_like(x)
    e[i] = 1.0
    return e


class ValuesPart(Part):
    def __init__(self, points):
        super().__init__("gradient", "the central-difference gradient", ("numerical_vjp",), points,
                         "numerical_vjp(f, x, dout, eps=1e-6) -> dx")

    def cases(self):
        return CASES

    def hidden_cases(self, rng):
        return hidden(rng, self.cases())

    def run_case(self, student, case):
        f, x, dout, right, eps = _instance(case)
        got = student.probe("numerical_vjp", case.seed, case.sizes, case.variant, True)
        dx, dtypes = got["dx"], set(got["dtypes"])
        if dx is None:
            raise Malformed("it must return dx, an array shaped like x; it returned None")
        fwd, half, ignored, kept = _estimates(f, x, dout, eps)
        s = {"dx": [(fwd, Finding("a forward difference, (L(x + ε) − L(x)) / ε: its error grows with ε",
                                  "central differences: (L(x + ε e_i) − L(x − ε e_i)) / (2ε), error ∝ ε²")),
                    (half, Finding("(L(x + ε) − L(x)) / (2ε): after x[i] += ε, x[i] -= ε brings x back to x, not to "
                                   "x − ε", "subtract 2ε, or set x[i] = old − ε")),
                    (2 * right, Finding("twice the right answer: the difference is divided by ε, not by 2ε",
                                        "dx_i = (L(x + ε e_i) − L(x − ε e_i)) / (2ε)")),
                    (ignored, Finding("dout is ignored: the gradient of Σ f(x), not of Σ f(x) ⊙ dout",
                                      "L(x) = (f(x) * dout).sum()")),
                    (kept, Finding("the perturbations are not undone: each entry is estimated with the earlier entries "
                                   "still shifted", "old = x[i]; x[i] = old + ε; ...; x[i] = old − ε; ...; x[i] = old"))]}
        rows = compare({"dx": dx}, {"dx": right}, {"dx": right}, case.sizes, Diagnosis(suspects=s))
        if dtypes - {"float64"}:
            rows = [r._replace(passed=False, finding=_float32_finding(dtypes)) for r in rows]
        return CaseResult(rows)


def _float32_finding(dtypes):
    kinds = ", ".join(sorted(set(dtypes) - {"float64"}))
    return Finding(f"f was called with {kinds} arrays: in float32 the rounding of f (about 1e-7 of its size) divided by "
                   "2ε is as large as the gradient itself, so the estimate is noise",
                   "keep x in float64: perturb x itself (or x.copy()), never x.astype(np.float32)")


class InputsPart(Part):
    def __init__(self, points):
        super().__init__("inputs", "x restored exactly, f given float64 only", ("numerical_vjp",), points,
                         "numerical_vjp(f, x, dout) leaves x as it found it")

    def cases(self):
        return CASES[:1] + CASES[2:3]

    def hidden_cases(self, rng):
        return hidden(rng, self.cases())

    def run_case(self, student, case):
        f, x, dout, right, eps = _instance(case)
        before = x
        got = student.probe("numerical_vjp", case.seed, case.sizes, case.variant, False)
        x = np.asarray(got["x"], dtype=float) if isinstance(got.get("x"), np.ndarray) else np.full_like(before, np.nan)
        if x.shape != before.shape:
            x = np.full_like(before, np.nan)
        dtypes = set(got["dtypes"])
        rows = []
        changed = not np.array_equal(x, before)
        rows.append(TensorRow("x after", x.shape, float(np.nanmax(np.abs(x - before), initial=0)) if changed else 0.0,
                              not changed,
                              "changed by the call" if changed else "",
                              Finding("x is not left as it was: a perturbation is not undone, or undone by "
                                      "arithmetic (x[i] + ε − ε is not always x[i] in floating point)",
                                      "keep old = x[i] and end with x[i] = old") if changed else None))
        bad = dtypes - {"float64"}
        rows.append(TensorRow("f's input", x.shape, float("nan"), not bad,
                              f"called with {', '.join(sorted(bad))}" if bad else "",
                              _float32_finding(bad) if bad else None))
        return CaseResult(rows)


def numerical_vjp_problem():
    return Problem("numerical_vjp", "The checker: central differences", [ValuesPart(3), InputsPart(1)])
