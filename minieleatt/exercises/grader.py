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

import hashlib
import json
import linecache
import os
import signal
import traceback

import numpy as np

from .assignments import ASSIGNMENTS, detect
from .isolation import CELL_TIMEOUT, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, Sandbox
from .parts import Aborted, Stop, Student
from .report import Report, check_hints

SKIPPED_TAGS = ("check", "demo")


def _register(filename, source):
    """Let tracebacks show the submission's lines."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _strip_magics(source):
    return "\n".join(("pass  # " + line) if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


CELL_ALARM = None      # seconds per cell, in the grader's child process (isolation.py); None: no limit


def _run(source, filename, namespace, notes):
    _register(filename, source)
    try:
        if CELL_ALARM:
            signal.setitimer(signal.ITIMER_REAL, CELL_ALARM)
        try:
            exec(compile(source, filename, "exec"), namespace)
        finally:
            if CELL_ALARM:
                signal.setitimer(signal.ITIMER_REAL, 0)
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
    """Grade the functions of ``namespace`` against every part of ``assignment`` (a key or an Assignment), in
    this process (a notebook's own check; for marks, ``grade_file`` runs the submission in a child process)."""
    a = ASSIGNMENTS[assignment] if isinstance(assignment, str) else assignment
    parts = [part for p in a.problems if problems is None or p.key in problems for part in p.parts]
    reports = [part.grade(namespace) for part in parts]
    return Report(title or a.title, reports, check_hints(hints), notes)


HIDDEN_SHARE = 0.5                 # of each part's points, for its hidden cases (when there is a secret)
HIDDEN_VISIBILITY = "after_due_date"


def secret_rng(secret, part_id):
    """The generator of a part's hidden cases: from the teacher's secret, never shown to the student."""
    digest = hashlib.sha256(f"{secret}\0{part_id}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def read_secret(secret):
    """A secret given as text, or as ``@FILE`` (its first line)."""
    if secret and secret.startswith("@"):
        with open(secret[1:], encoding="utf-8") as f:
            return f.readline().strip()
    return secret


def _split(report, points, label="", visibility="visible"):
    report.max_score = points
    report.score = points if report.passed else 0
    report.label = label
    report.visibility = visibility
    return report


def grade_file(path, assignment=None, hints=None, isolate=True, timeout=DEFAULT_TIMEOUT, memory_mb=DEFAULT_MEMORY_MB,
               secret=None, hidden_share=HIDDEN_SHARE, hidden_visibility=HIDDEN_VISIBILITY, points=None,
               cell_timeout=CELL_TIMEOUT, course=None):
    """Grade the submission at ``path``; the assignment is taken from the notebook, else from the
    functions the submission defines, unless given.

    isolate: run the submission in a child process (``isolation.py``), each part within ``timeout``
    seconds of wall-clock time (each notebook cell within ``cell_timeout`` when it is loaded), the child within
    ``memory_mb`` of address space; False runs it here
    (for debugging a grader; a submission can then rewrite the grader).
    secret: the teacher's secret (text, or ``@FILE``): every part is also graded on hidden cases drawn from
    it, worth ``hidden_share`` of its points, reported apart with Gradescope's ``hidden_visibility``.
    points: part id -> points, instead of the problems' own.
    course: a ``course.Course`` (the teacher's course file): its own problems join the assignment, its points
    count; the other settings are the caller's to take from it (the command line does).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no submission at {path}")
    if not path.endswith((".ipynb", ".py")):
        raise ValueError(f"a submission must be a notebook (.ipynb) or a Python file (.py), got {path}")
    secret = read_secret(secret)
    if not isolate:
        namespace, named, notes = load(path)
        names = [k for k, v in namespace.items() if callable(v)]
        box = None
    else:
        box = Sandbox(path, timeout=timeout, memory_mb=memory_mb, cell_timeout=cell_timeout)
        try:
            box.load()
        except (Aborted, Stop) as exc:
            box.close()
            raise ValueError(f"{path}: the submission could not be loaded: {exc.message}") from None
        named, notes, names = box.named, box.notes, box.names
    try:
        key = assignment or named
        if key is None:
            key = detect(names).key
        if key not in ASSIGNMENTS:
            raise ValueError(f"unknown assignment {key!r}; the assignments are {list(ASSIGNMENTS)}")
        a = ASSIGNMENTS[key] if course is None else course.assignment(key)
        if course is not None:
            points = {**course.points, **(points or {})}
        reports = []
        for p in a.problems:
            for part in p.parts:
                worth = part.points if points is None else points.get(part.id, part.points)
                runs = [("", part.cases(), "visible")]
                if secret:
                    runs.append(("hidden cases", part.hidden_cases(secret_rng(secret, part.id)), hidden_visibility))
                share = {"": worth * (1 - hidden_share) if secret else worth, "hidden cases": worth * hidden_share}
                for label, case_list, visibility in runs:
                    if box is None:
                        student = Student(namespace, p.given)
                    else:
                        box.start_part()
                        student = box.student(p.given)
                    reports.append(_split(part.grade(student, case_list), share[label], label, visibility))
    finally:
        if box is not None:
            box.close()
    return Report(f"{a.title} — {os.path.basename(path)}", reports, check_hints(hints), notes)
