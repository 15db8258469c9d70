"""Grading a submission: a completed notebook (.ipynb) or a .py with the same functions.

    report = grade_file("assignment1.ipynb")          # the assignment is read from the notebook
    print(report.text("location"))                     # the teacher chooses the hint level
    json.dump(report.to_json(), open("results.json", "w"))   # Gradescope's results.json

A notebook's code cells run in order in a fresh namespace, except the cells the handout marks as
checks or demonstrations (metadata tag ``check`` or ``demo``): what is graded is what the student's
cells define. IPython lines (``%...``, ``!...``) are skipped. A cell that raises is noted in the
report and the next cells still run, so one broken cell costs only the parts that need it.
A .py runs as a module; an exception stops it, and what it defined before counts.
"""

import json
import linecache
import os
import traceback

from .assignments import ASSIGNMENTS, detect
from .report import Report, check_hints

SKIPPED_TAGS = ("check", "demo")


def _register(filename, source):
    """Let tracebacks show the submission's lines."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _strip_magics(source):
    return "\n".join(("pass  # " + line) if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _run(source, filename, namespace, notes):
    _register(filename, source)
    try:
        exec(compile(source, filename, "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001 - a submission may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        last = traceback.extract_tb(exc.__traceback__)[-1]
        notes.append(f"note: {filename} raised {type(exc).__name__}: {exc} (line {last.lineno}); "
                     "the cells after it still ran")


def load_notebook(path):
    """(namespace, assignment key or None, notes) of a notebook's code cells."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    namespace = {"__name__": "__submission__"}
    notes = []
    name = os.path.basename(path)
    for k, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if set(cell.get("metadata", {}).get("tags", [])) & set(SKIPPED_TAGS):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        _run(_strip_magics(source), f"<{name}, cell {k}>", namespace, notes)
    key = nb.get("metadata", {}).get("minieleatt", {}).get("assignment")
    return namespace, key, notes


def load_python(path):
    namespace = {"__name__": "__submission__", "__file__": os.path.abspath(path)}
    notes = []
    with open(path, encoding="utf-8") as f:
        source = f.read()
    _run(source, os.path.abspath(path), namespace, notes)
    return namespace, None, notes


def load(path):
    """A submission's namespace, the assignment it names (or None) and notes about running it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no submission at {path}")
    if path.endswith(".ipynb"):
        return load_notebook(path)
    if path.endswith(".py"):
        return load_python(path)
    raise ValueError(f"a submission must be a notebook (.ipynb) or a Python file (.py), got {path}")


def grade(namespace, assignment, hints=None, notes=(), title=None, problems=None):
    """Grade the functions of ``namespace`` against every part of ``assignment`` (a key or an Assignment)."""
    a = ASSIGNMENTS[assignment] if isinstance(assignment, str) else assignment
    parts = [part for p in a.problems if problems is None or p.key in problems for part in p.parts]
    reports = [part.grade(namespace) for part in parts]
    return Report(title or a.title, reports, check_hints(hints), notes)


def grade_file(path, assignment=None, hints=None):
    """Grade the submission at ``path``; the assignment is taken from the notebook, else from the
    functions the submission defines, unless given."""
    namespace, named, notes = load(path)
    key = assignment or named
    if key is None:
        key = detect(k for k, v in namespace.items() if callable(v)).key
    if key not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {key!r}; the assignments are {list(ASSIGNMENTS)}")
    a = ASSIGNMENTS[key]
    return grade(namespace, a, hints, notes, title=f"{a.title} — {os.path.basename(path)}")
