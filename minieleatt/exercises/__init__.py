"""The course's assignments: problems, the checker that explains a wrong answer, the grader, the handouts.

Three assignments (``assignments.py``), each a notebook of problems whose parts the student
writes, in NumPy, with the library's own signatures:

    assignment 1  numerical_vjp · gate_step_forward/backward (sigmoid, softmax) ·
                  rnn_step_forward/backward · rnn_forward/backward
    assignment 2  lstm_step_forward/backward · lstm_forward/backward ·
                  gru_step_forward/backward (reset-before, then reset-after)
    assignment 3  masked_rnn_forward/backward (and two chunks with dh_T) ·
                  mean_readout_forward/backward · softmax_cross_entropy · overfit_tiny_batch

In a notebook, ``check("gate.backward")`` grades that part on the functions of the notebook (its
globals) and prints a report: which tensors are right, their relative errors, and as much of a
hint as ``set_hints`` allows ('none', 'location': the tensor, gate block, time step, or
'formula': also the cause and the formula). ``check("gate")`` checks every part of a problem.

For teachers (the model solutions and the course file are in the repository's ``course/``, not in
this package): ``python -m course build OUT_DIR`` writes the student and the teacher notebooks
(``handout.py``); ``minieleatt assignment grade SUBMISSION`` grades a completed notebook or a .py
(``grader.py``) in a child process with time and memory limits, deciding every verdict in its own
(``isolation.py``), with hidden cases drawn from ``--secret``; ``minieleatt assignment gradescope
OUT.zip`` writes a Gradescope autograder (``gradescope.py``); ``course.py`` reads the course file.
A part that calls the library's own implementation gets no points (``guard.py``). The catalogue of
real mistakes the checker recognises is ``bugzoo.MISTAKES``.

Layout: ``report.py`` (what a report says), ``diagnose.py`` (generic diagnoses), ``bisect.py`` (the
time bisector of sequence problems), ``guard.py`` (library calls), ``parts.py`` (the frame of a part
and the safe call), ``problems/`` (one module per topic), ``assignments.py``, ``grader.py``,
``isolation.py``, ``course.py``, ``gradescope.py``, ``handout.py``, ``bugzoo.py``.
"""

import sys

from .assignments import ASSIGNMENTS, find_part
from .report import HINT_LEVELS, Report, check_hints, set_hints

__all__ = ["ASSIGNMENTS", "HINT_LEVELS", "check", "set_hints", "results", "summary"]

_LATEST = {}


def check(target, namespace=None, hints=None):
    """Check a part ('gate.backward') or every part of a problem ('gate') on the functions in ``namespace``
    (default: the caller's globals, i.e. the notebook's). Returns a report; it shows as text in a notebook.

    hints: 'none', 'location' or 'formula' (default: the session's, see ``set_hints``).
    """
    if namespace is None:
        namespace = sys._getframe(1).f_globals
    check_hints(hints)
    _, parts = find_part(target)
    reports = []
    for part in parts:
        r = part.grade(namespace)
        r.hints = hints
        _LATEST[part.id] = r.status
        reports.append(r)
    if len(reports) == 1:
        return reports[0]
    return Report("", reports, hints)


def results(assignment=None):
    """The latest status of every part checked in this session: part id -> status."""
    keys = [a for a in ASSIGNMENTS if assignment in (None, a)]
    return {part.id: _LATEST.get(part.id, "not checked") for a in keys for p in ASSIGNMENTS[a].problems
            for part in p.parts}


def summary(assignment=None):
    """A table of the latest status of every part (print it)."""
    rows = results(assignment)
    width = max(len(k) for k in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows.items())
