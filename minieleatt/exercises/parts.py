"""The frame every problem fills in: problems, their parts, the cases they run, and the safe call.

A **problem** (``Problem``) is one topic of an assignment (the gate, an LSTM step, a masked
sequence ...) with one or more **parts** (``Part``: 'forward', 'backward', 'chunks' ...), each worth
some points. A part runs the student's functions on several **cases** (seeds and sizes, with
B, D, H and T all different, so that a transpose or a broadcasting slip fails instead of running)
and stops at the first case that goes wrong.

The student's functions are looked up by name in a namespace (a notebook's globals, or a
submission's) and called through ``Student.call``, which

- passes copies (the student may write into what it gets),
- turns ``NotImplementedError`` into "not implemented", any other exception into a diagnosis
  with the student's line (``diagnose.explain_exception``),
- watches for calls of the library's own implementations (``guard.LibraryMonitor``),
- silences NumPy's floating-point warnings (an overflow shows up as NaN in the answer and is
  diagnosed there).

``compare`` turns the student's tensors and the right ones into table rows with diagnoses.
"""

import inspect
import math
import os
import sys
import traceback
import warnings
from typing import NamedTuple

import numpy as np

from .diagnose import Diagnosis, dtype_finding, explain, explain_exception, shape_finding, worst_entry
from .guard import LibraryMonitor, library_object, library_references
from ..backend import is_cupy_array, mixed_devices
from ..gradcheck import relative_error
from .report import Finding, PartReport, TensorRow

TOLERANCE = 1e-6          # backward: largest relative error that counts as right
FORWARD_TOLERANCE = 1e-9  # forward: float64 arithmetic in another order agrees to ~1e-15


class Stop(Exception):
    """The part cannot be graded further: status 'not implemented', 'error', 'missing' or 'library'
    (with a ``Finding`` for the hint levels, or None)."""

    def __init__(self, status, message, finding=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.finding = finding


class Case(NamedTuple):
    """One random instance of a part: a seed, the sizes and a variant ('' or e.g. 'attention=None')."""

    seed: int
    sizes: dict
    variant: str = ""

    def text(self):
        return (f"{self.variant}, " if self.variant else "") + f"seed {self.seed}, " + \
            " ".join(f"{k}={v}" for k, v in self.sizes.items())


def cases(seeds, shapes, variant=""):
    """Every seed with every shape (a dict of sizes)."""
    return [Case(seed, dict(shape), variant) for shape in shapes for seed in seeds]


def draw(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def copy(value):
    """A deep copy of arrays, dicts, tuples and lists of them (other values as they are)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: copy(v) for k, v in value.items()}
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(copy(v) for v in value)
    if isinstance(value, list):
        return [copy(v) for v in value]
    return value


class Aborted(BaseException):
    """The part's run was cut short (isolated grading: a wall-clock limit, a child process that died): not an
    ``Exception``, so no diagnosis swallows it. ``status``: 'timed out' or 'error'."""

    def __init__(self, message, status="timed out"):
        super().__init__(message)
        self.message = message
        self.status = status


TimedOut = Aborted


# the library's own steps, put in place of the student's when a sequence part is graded a second time
# (``Part.grade``: partial credit without a cascade from a wrong step)
REFERENCE_STEPS = {
    "rnn": {("functional/rnn.py", "rnn_step_forward"), ("functional/rnn.py", "rnn_step_backward")},
    "lstm": {("functional/lstm.py", "lstm_step_forward"), ("functional/lstm.py", "lstm_step_backward")},
}


def reference_steps(cell):
    """name -> the library's step function, for ``cell`` ('rnn' or 'lstm')."""
    from .. import functional
    return {name: getattr(functional, name) for _, name in REFERENCE_STEPS[cell]}


class Student:
    """The student's functions (by name, in ``namespace``) and the rules for calling them.

    This one runs them in this process (a notebook's ``check``); ``isolation.RemoteStudent`` has the
    same methods and runs them in a child process (the grader).
    """

    def __init__(self, namespace, allowed=frozenset(), steps=None):
        self.namespace = namespace
        self.allowed = set(allowed)
        self.steps = steps                # None, or 'rnn' / 'lstm': the library's steps replace the student's
        if steps is not None:
            self.allowed |= REFERENCE_STEPS[steps]

    def with_steps(self, cell):
        """The same functions, with the library's ``cell`` steps in place of the student's."""
        return Student(self.namespace, self.allowed, cell)

    def has(self, name):
        """Does the submission define a function ``name``?"""
        return callable(self.namespace.get(name))

    def function(self, name):
        fn = self.namespace.get(name)
        if fn is None:
            raise Stop("missing", f"{name} is not defined: write it in the cell made for it and run that cell")
        if not callable(fn):
            raise Stop("missing", f"{name} is a {type(fn).__name__}, not a function")
        what = library_object(fn, self.allowed)
        if what:
            raise Stop("library", f"{name} is the library's own ({what}), imported rather than written: this part "
                                  "asks you to write it yourself with NumPy, so it gets no points")
        return fn

    def check_code(self, names):
        """The static check: no function of ``names`` (nor a helper it calls) refers to the library."""
        found = []
        for name in names:
            for what in library_references(self.function(name), self.allowed):
                if what not in found:
                    found.append(what)
        if found:
            raise Stop("library", f"the code refers to the library's own implementation ({'; '.join(found[:4])}"
                                  f"{' ...' if len(found) > 4 else ''}): this part asks you to write it yourself "
                                  "with NumPy, so it gets no points")

    def probe(self, kind, *args):
        """Run the grader's probe ``kind`` (``PROBES``: a call that needs more than arguments, e.g. a function
        of the grader's to hand over) on plain arguments; plain data back."""
        return PROBES[kind](self, *args)

    def call(self, name, *args, callbacks=(), sizes=None, check_args=True):
        """``name(*args)`` with copies of the arguments; raises ``Stop`` as described in the module docstring,
        and (``check_args``) when the function changed one of its arguments."""
        fn = self.function(name)
        args = copy(args)
        pristine = copy(args) if check_args else None
        caught = None
        with warnings.catch_warnings(), np.errstate(all="ignore"), _substituted(self.namespace, self.steps):
            warnings.simplefilter("ignore")
            monitor = LibraryMonitor(self.allowed, callbacks)
            with monitor:
                monitor.entry = sys._getframe()      # library code called from here is called by the student
                try:
                    out = fn(*args)
                except Exception as exc:  # noqa: BLE001 - the student's code may raise anything
                    caught = exc
        if not monitor.clean:                        # first: a library call explains any failure after it
            raise Stop("library", f"{name}: " + monitor.message())
        if isinstance(caught, Stop):
            raise caught
        if isinstance(caught, NotImplementedError):
            raise Stop("not implemented", f"{_raised_in(caught, name)} is not implemented yet: write its body where "
                                          "it says YOUR CODE HERE (replace the raise), run the cell, then check again")
        if isinstance(caught, RecursionError):
            raise Stop("error", f"RecursionError: {caught} (does {name} call itself?)")
        if caught is not None:
            text, finding = explain_exception(caught, sizes)
            raise Stop("error", f"{name} raised {text}", finding)
        if check_args:
            changed = changed_argument(fn, args, pristine)
            if changed:
                raise Stop("failed", f"{name} writes into its argument {changed} in place: the caller's {changed} "
                                     "is changed by the call (arguments are read-only)",
                           Finding(f"{name} changes {changed}: an in-place operation (+=, *=, [...] =, out=) on an "
                                   "array it was given, or on a name bound to it (y = x; y *= a changes x)",
                                   "make a new array (y = x * a, not y *= a), or copy first (y = x.copy()); a cache "
                                   "that holds an argument then keeps its value"))
        return out


class _substituted:
    """Context manager: the library's ``cell`` steps in ``namespace`` (the student's globals), then the
    student's own back."""

    def __init__(self, namespace, cell):
        self.namespace, self.cell, self.saved = namespace, cell, {}

    def __enter__(self):
        if self.cell is not None:
            for name, fn in reference_steps(self.cell).items():
                self.saved[name] = self.namespace.get(name, _ABSENT)
                self.namespace[name] = fn
        return self

    def __exit__(self, *exc):
        for name, fn in self.saved.items():
            if fn is _ABSENT:
                self.namespace.pop(name, None)
            else:
                self.namespace[name] = fn
        return False


_ABSENT = object()


def changed_argument(fn, after, before):
    """The name of the first argument (``x_t``, ``params['W_x']``, ``cache[2]``) that differs between
    ``after`` and ``before`` (copies of the arguments), or None."""
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    names += [f"argument {k}" for k in range(len(names), len(after))]
    for name, a, b in zip(names, after, before):
        where = _first_difference(a, b, name)
        if where:
            return where
    return None


def _first_difference(a, b, path):
    if isinstance(b, np.ndarray):
        if not isinstance(a, np.ndarray) or a.shape != b.shape or a.dtype != b.dtype:
            return path
        if b.dtype.kind in "biufc":
            return None if np.array_equal(a, b, equal_nan=True) else path
        return None
    if isinstance(b, dict) and isinstance(a, dict):
        if set(a) != set(b):
            return path
        for k in b:
            found = _first_difference(a[k], b[k], f"{path}[{k!r}]")
            if found:
                return found
        return None
    if isinstance(b, (tuple, list)) and isinstance(a, (tuple, list)):
        if len(a) != len(b):
            return path
        for k, (u, v) in enumerate(zip(a, b)):
            found = _first_difference(u, v, f"{path}[{k}]")
            if found:
                return found
    return None


PROBES = {}     # kind -> function(student, *plain args) -> plain data (filled in by the problems)


def _raised_in(exc, default):
    """The student's function that raised ``exc`` (the innermost frame outside the package)."""
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not os.path.abspath(f.filename).startswith(pkg)]
    return frames[-1].name if frames else default


# ----------------------------------------------------------------------------- the structure of an answer

class Malformed(Exception):
    """The student's return value does not have the structure the part asks for."""


def unpack(out, layout, returns, param_names=()):
    """The student's return value -> {name: value}, following ``layout``.

    layout: a tuple whose items are a name (one array), a tuple of names (a pair, e.g. the LSTM's
    (dh_prev, dc_prev)), or 'grads' (a dict of parameter gradients, keys ``param_names``; their rows
    are named 'd' + key). A layout that is a single name means the value itself.
    returns: the structure in words, for the messages.
    """
    if isinstance(layout, str):
        return {layout: out}
    if not isinstance(out, (tuple, list)) or len(out) != len(layout):
        got = f"a {type(out).__name__}" + (f" of {len(out)} items" if isinstance(out, (tuple, list)) else "")
        raise Malformed(f"it must return {returns}, but it returned {got}")
    values = {}
    for k, (item, spec) in enumerate(zip(out, layout)):
        if spec == "grads":
            if not isinstance(item, dict):
                raise Malformed(f"the last item of {returns} must be a dict of parameter gradients, "
                                f"got a {type(item).__name__}")
            extra = sorted(set(item) - set(param_names))
            if extra:
                raise Malformed(f"grads has unexpected keys {extra}; the parameters are {list(param_names)}")
            for key in param_names:
                values["d" + key] = item.get(key)
        elif isinstance(spec, tuple):
            if not isinstance(item, (tuple, list)) or len(item) != len(spec):
                raise Malformed(f"item {k} of {returns} must be the pair ({', '.join(spec)})")
            values.update(zip(spec, item))
        else:
            values[spec] = item
    return values


def compare(got, truth, right, sizes, diagnosis=None, tol=TOLERANCE, dtype=np.float64):
    """Table rows for the student's tensors ``got`` against ``truth`` (the verdict) and ``right`` (the
    exact reference, for the diagnosis); both dicts name -> array, in the order of the rows."""
    diagnosis = diagnosis or Diagnosis()
    rows, arrays = {}, {}
    for name, want in truth.items():
        shape = tuple(np.shape(want))
        g = got.get(name)
        if g is None:
            rows[name] = TensorRow(name, shape, math.nan, False, "missing: returned None"
                                   if name in got else "missing")
            continue
        if is_cupy_array(g):                     # the checks run on the CPU: a GPU array cannot be compared
            rows[name] = TensorRow(name, shape, math.nan, False, "on the GPU",
                                   Finding(str(mixed_devices(name, "gpu", "the checker's reference", "cpu")),
                                           "the exercises run on NumPy: compute with the arrays you are given "
                                           "(np, not cupy), or return minieleatt.to_host(...)"))
            continue
        try:
            arr = np.asarray(g)
            if arr.dtype == object or arr.dtype.kind not in "fiub":
                raise TypeError
        except (TypeError, ValueError):
            kind = g.kind if type(g).__name__ == "Handle" else type(g).__name__     # an object left in the child
            rows[name] = TensorRow(name, shape, math.nan, False, f"not an array of numbers (a {kind})")
            continue
        if arr.shape != shape:
            f = shape_finding(name, arr.shape, shape, sizes)
            rows[name] = TensorRow(name, shape, math.nan, False, f"shape {arr.shape}, must be {shape}", f)
            continue
        if not np.isfinite(arr).all():
            rows[name] = TensorRow(name, shape, math.nan, False, "holds NaN or inf",
                                   Finding("holds NaN or inf: an overflow (exp of a large number?) or a 0/0",
                                           "softmax: subtract each row's max before exp; sigmoid: the library's "
                                           "0.5 * tanh(z / 2) + 0.5 never overflows"))
            continue
        if arr.dtype != dtype and arr.dtype.kind == "f":
            err = relative_error(arr.astype(np.float64), want)
            rows[name] = TensorRow(name, shape, err, False, f"dtype {arr.dtype}, must be {np.dtype(dtype).name}",
                                   dtype_finding(name, arr))
            continue
        arr = arr.astype(np.float64)
        arrays[name] = arr
        err = relative_error(arr, want)
        rows[name] = TensorRow(name, shape, err, err <= tol)
    wrong = {n for n, r in rows.items() if not r.passed}
    for name, arr in arrays.items():
        if not rows[name].passed:
            finding, after = explain(name, arr, right[name], diagnosis, wrong, sizes)
            rows[name] = rows[name]._replace(finding=finding, after=after, worst=worst_entry(arr, right[name]))
    for name, row in rows.items():               # follow chains: dW_xa follows db_a, which follows db
        after, seen = row.after, {name}
        while after and rows[after].after and after not in seen:
            seen.add(after)
            after = rows[after].after
        rows[name] = row._replace(after=after)
    return [rows[n] for n in truth]


# ----------------------------------------------------------------------------- parts and problems

class CaseResult(NamedTuple):
    rows: list
    findings: list = []
    message: str = ""

    @property
    def passed(self):
        return all(r.passed for r in self.rows) and not self.message


class Part:
    """One graded part. Subclasses define ``cases`` and ``run_case(student, case) -> CaseResult``."""

    def __init__(self, key, title, needs, points, signature):
        self.key = key
        self.title = title
        self.needs = tuple(needs)        # the student's functions this part calls (checked for library use)
        self.points = points
        self.signature = signature
        self.problem = None

    @property
    def id(self):
        return f"{self.problem.key}.{self.key}"

    @property
    def number(self):
        return f"{self.problem.number}.{self.problem.parts.index(self) + 1}"

    def cases(self):
        raise NotImplementedError

    def run_case(self, student, case):
        raise NotImplementedError

    def hidden_cases(self, rng):
        """Cases the notebook's ``check`` never runs, drawn from ``rng`` (the teacher's secret): new seeds and
        sizes for each visible case (``hidden_case``)."""
        return [self.hidden_case(rng, case) for case in self.cases()]

    def hidden_case(self, rng, case):
        seed = int(rng.integers(10_000, 1_000_000))
        return Case(seed, other_sizes(rng, case.sizes), case.variant)

    step_cell = None     # 'rnn' / 'lstm': a sequence part on the student's step, graded again on the library's

    def grade(self, student, case_list=None):
        """Run the part on every case of it (or of ``case_list``); a ``PartReport``. ``student``: a ``Student``
        (or what stands for one), or a namespace. A sequence part (``step_cell``) that fails is graded again
        with the library's step in place of the student's: a right loop gets its points, and the report says so."""
        if not hasattr(student, "call"):
            student = Student(student, self.problem.given)
        case_list = self.cases() if case_list is None else list(case_list)
        report = self._grade(student, case_list)
        if self.step_cell is not None and not report.passed and report.status in ("failed", "error"):
            again = self._grade(student.with_steps(self.step_cell), case_list)
            if again.passed:
                again.message = (f"right when run on the library's {self.step_cell} step in place of yours: your loop "
                                 f"is right, but your step is not (its own part, [{self.step_cell}_step], costs its "
                                 f"points). On your own step: {report.diagnosis()}")
                again.substituted = True
                return again
        return report

    def _grade(self, student, case_list):
        done, case = 0, None
        try:
            student.check_code(self.needs)
            for case in case_list:
                try:
                    result = self.run_case(student, case)
                except Malformed as exc:
                    return PartReport(self, "failed", message=f"{self.signature}: {exc}.", case=case.text())
                done += 1
                if not result.passed:
                    return PartReport(self, "failed", result.rows, result.message, result.findings, case.text(), done)
            return PartReport(self, "passed", cases_checked=done)
        except Stop as stop:
            return PartReport(self, stop.status, message=stop.message,
                              findings=[stop.finding] if stop.finding is not None else [],
                              case=case.text() if case is not None and stop.status in ("failed", "error") else "")
        except Aborted as stop:
            return PartReport(self, stop.status, message=stop.message,
                              case=case.text() if case is not None else "")


def other_sizes(rng, sizes):
    """``sizes`` moved by a few: the matrix sizes (B, D, H, K, C) stay different from each other, T stays >= 2."""
    out = dict(sizes)
    dims = [k for k, v in sizes.items() if k in ("B", "D", "H", "K") and isinstance(v, int)]
    for _ in range(100):
        for k in dims:
            out[k] = int(max(2, sizes[k] + rng.integers(-1, 4)))
        if len({out[k] for k in dims}) == len(dims):
            break
    else:
        out = dict(sizes)
    if isinstance(sizes.get("T"), int):
        out["T"] = int(sizes["T"] + rng.integers(0, 4))
    return out


class Problem:
    """A topic of an assignment with its parts. ``given``: library functions the student may call here
    (beyond the always-allowed activations and array helpers), as (file in the package, name) pairs."""

    def __init__(self, key, title, parts, given=(), intro=""):
        self.key = key
        self.title = title
        self.parts = list(parts)
        self.given = frozenset(given)
        self.intro = intro
        self.number = 0                  # set by the assignment
        for p in self.parts:
            p.problem = self

    def part(self, key):
        for p in self.parts:
            if p.key == key:
                return p
        raise KeyError(f"{self.key} has no part {key!r}; its parts are {[p.key for p in self.parts]}")

    @property
    def functions(self):
        return tuple(dict.fromkeys(name for p in self.parts for name in p.needs))
