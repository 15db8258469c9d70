"""Did the submission compute the answer itself, or call the library's own implementation?

A part is graded zero when the student's code calls the library for the thing it must implement.
Two checks, both on by default:

- **While the student's code runs** (``LibraryMonitor``), a profile hook (``sys.setprofile``) sees
  every Python function that starts. A function whose code lives in the ``minieleatt`` package and
  is called from code outside it is a library call, unless it is on the part's allow-list (the
  activations, the array-module helpers, and what an assignment hands out). It does not matter how
  the student reached the function: an alias made at import time, ``getattr``, ``importlib``, a
  module reloaded, a copy of the function object: the code that runs is the library's file.
  Turning the hook off (``sys.setprofile``/``sys.settrace``) is itself reported.
- **In the code** (``library_references``): the names the student's functions (and the helpers they
  call) load, resolved with their attribute chains (``F.gru.gru_step_backward``) in the functions'
  globals; a reference to a library function or module off the allow-list is reported even on a
  path the checks did not take.

Not caught: library source text pasted or ``exec``'d under another file name (that is copying, not
calling). A submission that rewrites the monitor or the grader when it is loaded rewrites only the
copy in its own process: ``minieleatt assignment grade`` runs it in a child process and makes every
verdict in its own (``isolation.py``); a notebook's ``check()`` runs in the student's process.
"""

import dis
import os
import sys
import types

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

# (file relative to the package, function name or '*'): always allowed
ALWAYS_ALLOWED = {
    ("functional/activations.py", "sigmoid"), ("functional/activations.py", "tanh"),
    ("functional/activations.py", "softmax"), ("functional/activations.py", "log_softmax"),
    ("backend.py", "*"), ("errors.py", "*"), ("exercises/guard.py", "__exit__"),
}


def library_file(filename):
    """The path of ``filename`` inside the package ('functional/gru.py'), or None outside it."""
    path = os.path.abspath(filename) if filename and not filename.startswith("<") else ""
    if path.startswith(_PACKAGE_DIR):
        return path[len(_PACKAGE_DIR):].replace(os.sep, "/")
    return None


def _allowed(rel, name, allowed):
    return (rel, name) in allowed or (rel, "*") in allowed


class LibraryMonitor:
    """Context manager: records the library functions that code outside the library calls.

    allowed: set of (file relative to the package, function name or '*'); callbacks: functions the
    grader passes to the student's code (the functions ``numerical_vjp`` differentiates), which may run.
    After the block, ``calls`` lists 'module.function' names (first call of each) and
    ``tampered`` is True when the student's code touched the profile hook.
    """

    def __init__(self, allowed=frozenset(), callbacks=()):
        self.allowed = set(ALWAYS_ALLOWED) | set(allowed)
        self.callbacks = {id(getattr(f, "__code__", f)) for f in callbacks}   # functions the grader hands over
        self.calls = []
        self.tampered = False
        self.entry = None                 # the grader's frame that calls the student's code
        self._previous = None

    def _hook(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            rel = library_file(code.co_filename)
            if rel is None:
                return
            caller = frame.f_back
            if caller is not None and caller is not self.entry and library_file(caller.f_code.co_filename) is not None:
                return                               # the library calling itself (inside an allowed function)
            if _allowed(rel, code.co_name, self.allowed) or id(code) in self.callbacks:
                return
            what = f"minieleatt/{rel}: {code.co_name}"
            if what not in self.calls:
                self.calls.append(what)
        elif event == "c_call" and arg in (sys.setprofile, sys.settrace) and \
                library_file(frame.f_code.co_filename) is None:
            self.tampered = True

    def __enter__(self):
        self._previous = sys.getprofile()
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc):
        if sys.getprofile() != self._hook:
            self.tampered = True
        sys.setprofile(self._previous)
        return False

    @property
    def clean(self):
        return not self.calls and not self.tampered

    def message(self):
        if self.tampered:
            return ("the submission switched off the grader's call monitor (sys.setprofile / sys.settrace): "
                    "this part gets no points")
        return ("it calls the library's own implementation (" + "; ".join(self.calls[:4])
                + (" ..." if len(self.calls) > 4 else "")
                + "): this part asks you to write it yourself with NumPy, so it gets no points")


# ----------------------------------------------------------------------------- the static check

def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _chains(code):
    """Name chains the code loads: ['F', 'gru', 'gru_step_backward'] for F.gru.gru_step_backward."""
    chain = None
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLOSURE"):
            if chain:
                yield chain
            chain = [ins.argval]
        elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and chain is not None:
            chain.append(ins.argval)
        else:
            if chain:
                yield chain
            chain = None
    if chain:
        yield chain


def _is_library(obj, allowed):
    """A description when ``obj`` is a library function, class or module off the allow-list, else None."""
    if isinstance(obj, types.ModuleType):
        name = getattr(obj, "__name__", "")
        if name == "minieleatt" or name.startswith("minieleatt."):
            rel = library_file(getattr(obj, "__file__", "") or "")
            if rel is not None and _allowed(rel, "*", set(ALWAYS_ALLOWED) | set(allowed)):
                return None
            return f"the module {name}"
        return None
    code = getattr(obj, "__code__", None) or getattr(getattr(obj, "__func__", None), "__code__", None)
    if isinstance(code, types.CodeType):
        rel = library_file(code.co_filename)
        if rel is not None and not _allowed(rel, code.co_name, set(ALWAYS_ALLOWED) | set(allowed)):
            return f"minieleatt/{rel}: {code.co_name}"
        return None
    if isinstance(obj, type):
        mod = sys.modules.get(obj.__module__)
        rel = library_file(getattr(mod, "__file__", "") or "") if mod else None
        if rel is not None and not _allowed(rel, "*", set(ALWAYS_ALLOWED) | set(allowed)) and \
                not issubclass(obj, tuple):                   # the caches' named tuples are data, not code
            return f"minieleatt/{rel}: {obj.__name__}"
    return None


def library_object(obj, allowed=frozenset()):
    """A description when ``obj`` (or what it wraps: a partial, a bound method) is the library's own code
    off the allow-list, else None."""
    seen = 0
    while seen < 5:
        what = _is_library(obj, allowed)
        if what:
            return what
        inner = getattr(obj, "func", None) or getattr(obj, "__func__", None) or getattr(obj, "__wrapped__", None)
        if inner is None:
            cls = type(obj)
            if not isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)) and \
                    callable(getattr(cls, "__call__", None)):
                return _is_library(cls, allowed)
            return None
        obj, seen = inner, seen + 1
    return None


def _resolve(chain, scope):
    """Follow ``chain`` from ``scope``; yield every object met (stop at the first missing attribute)."""
    if chain[0] not in scope:
        return
    obj = scope[chain[0]]
    yield obj
    for attr in chain[1:]:
        try:
            obj = getattr(obj, attr)
        except Exception:                     # noqa: BLE001 - any failure ends the chain
            return
        yield obj


def library_references(fn, allowed=frozenset(), _seen=None):
    """The library objects (off the allow-list) that ``fn`` and the helpers it calls refer to, in words."""
    seen = set() if _seen is None else _seen
    code = getattr(fn, "__code__", None)
    if code is None or id(code) in seen or library_file(code.co_filename) is not None:
        return []
    seen.add(id(code))
    scope = dict(getattr(fn, "__globals__", {}))
    if getattr(fn, "__closure__", None):
        for name, cell in zip(code.co_freevars, fn.__closure__):
            try:
                scope[name] = cell.cell_contents
            except ValueError:
                pass
    found = []
    for c in _code_objects(code):
        for chain in _chains(c):
            objs = list(_resolve(chain, scope))
            if not objs:
                continue
            obj = objs[-1]                    # judge what the chain reaches: F.sigmoid is fine, F.gru_forward not
            what = _is_library(obj, allowed)
            if what and what not in found:
                found.append(what)
            if isinstance(obj, types.FunctionType) and obj.__globals__ is fn.__globals__:
                for w in library_references(obj, allowed, seen):         # the student's own helpers
                    if w not in found:
                        found.append(w)
    for default in (getattr(fn, "__defaults__", None) or ()):
        what = _is_library(default, allowed)
        if what and what not in found:
            found.append(what)
    return found
