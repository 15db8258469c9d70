"""What the checker says about a part: the verdict, the table of tensors, the diagnosis and the hints.

A report is made of plain records, so that the same result prints as text in a notebook, in a
terminal (``minieleatt assignment grade``) and as JSON (``results.json``, Gradescope's shape).

How much a report reveals is the teacher's choice, the *hint level*:

    'none'      the verdict, the table (which tensor is right, its relative error) and the diagnosis
                (which tensors are wrong, what failed to run)
    'location'  also where the error is: the tensor it starts in, the gate block, the time step, and
                the kind of slip (a missing term, a transpose, a factor 1/B, ...)
    'formula'   also the cause and the formula to check

A ``Finding`` holds one explanation at the last two levels: ``where`` and ``formula``.
"""

import math
from typing import NamedTuple

HINT_LEVELS = ("none", "location", "formula")

STATUSES = ("passed", "failed", "not implemented", "error", "missing", "library", "timed out")


_DEFAULT = {"hints": "formula"}


def check_hints(hints):
    """Validate a hint level (None: the session's default, ``set_hints``); return it."""
    if hints is None:
        return _DEFAULT["hints"]
    if hints not in HINT_LEVELS:
        raise ValueError(f"hints must be one of {', '.join(repr(h) for h in HINT_LEVELS)}, got {hints!r}")
    return hints


def set_hints(hints):
    """The hint level that reports use unless told otherwise ('none', 'location' or 'formula')."""
    _DEFAULT["hints"] = check_hints(hints)
    return hints


class Finding(NamedTuple):
    """One explanation: ``where`` (the location level) and ``formula`` (the formula level)."""

    where: str
    formula: str = ""


RECHECK = Finding("derived wrongly: recheck it term by term", "")     # when nothing more specific is known


class TensorRow(NamedTuple):
    """One compared tensor of one case."""

    name: str             # 'dx_t', 'dW_x' (grads['W_x']), 'h', 'loss' ...
    shape: tuple          # the shape it must have
    rel_error: float      # against the truth (nan when it could not be compared)
    passed: bool
    problem: str = ""     # why it could not be compared (missing, wrong shape, NaN ...), always shown
    finding: Finding = None   # the diagnosis of a wrong tensor (hint levels)
    after: str = ""       # wrong only because this other tensor is (it is computed from it)
    worst: str = ""       # the largest error: 'at [1, 2]: yours 0.31, right 0.12'


def fmt_shape(shape):
    return "x".join(str(s) for s in shape) or "scalar"


class PartReport:
    """The verdict on one part of a problem (a function, or a use of several)."""

    def __init__(self, part, status, rows=(), message="", findings=(), case="", cases_checked=0, score=None,
                 hints=None):
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self.part = part
        self.status = status
        self.rows = list(rows)
        self.message = message            # always shown: an error, a missing function, a library call ...
        self.findings = list(findings)    # part-level explanations (the time bisector's, ...)
        self.case = case                  # the case that failed, in words
        self.cases_checked = cases_checked
        self.score = (part.points if status == "passed" else 0) if score is None else score
        self.hints = hints                # None: the session's default
        self.substituted = False          # graded on the library's step in place of the student's
        self.visibility = "visible"       # Gradescope's: 'visible', or the hidden cases' ('after_due_date' ...)
        self.label = ""                   # '' or 'hidden cases'
        self.max_score = part.points

    @property
    def passed(self):
        return self.status == "passed"

    @property
    def id(self):
        return self.part.id

    def __getitem__(self, name):
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def failures(self):
        return [r for r in self.rows if not r.passed]

    def roots(self):
        """The wrong tensors that are not wrong merely because another one is."""
        return [r for r in self.failures() if not r.after]

    def diagnosis(self):
        """The always-shown summary of what is wrong (no hint)."""
        if self.status in ("not implemented", "error", "missing", "library", "timed out"):
            return self.message
        if self.passed:
            return self.message
        wrong = self.failures()
        right = [r.name for r in self.rows if r.passed]
        parts = [f"{r.name} ({r.problem})" if r.problem else r.name for r in wrong]
        text = ("wrong: " + ", ".join(parts)) if parts else ""
        first = next((r for r in wrong if r.worst and not r.after), None)
        if first is not None:
            text += f" (the largest error of {first.name} is {first.worst})"
        if right:
            text += ("; " if text else "") + "right: " + ", ".join(right)
        if self.message:
            text = (self.message + " " + text).strip()
        return text + ("." if text and not text.endswith(".") else "")

    def hint_lines(self, hints=None):
        """The lines of the hints at level ``hints`` (none at 'none')."""
        hints = check_hints(hints if hints is not None else self.hints)
        if hints == "none" or self.passed:
            return []
        lines = []
        findings = list(self.findings)
        groups = {}
        for r in self.roots():
            if r.finding is not None and not (findings and r.finding == RECHECK):
                groups.setdefault(r.finding, []).append(r.name)
        for finding, names in groups.items():
            if not any(finding == f for f in findings):
                findings.append(finding._replace(where=f"{', '.join(names)}: {finding.where}"))
        for f in findings:
            lines.append(f"where: {f.where}")
            if hints == "formula" and f.formula:
                lines.append(f"formula: {f.formula}")
        followers = [r for r in self.failures() if r.after]
        if followers:
            causes = ", ".join(dict.fromkeys(r.after for r in followers))
            lines.append(f"also wrong, only because they are computed from {causes}: "
                         f"{', '.join(r.name for r in followers)}; fix {causes} first")
        return lines

    def text(self, hints=None):
        hints = check_hints(hints if hints is not None else self.hints)
        p = self.part
        head = f"[{p.id}{', ' + self.label if self.label else ''}] {p.title}: {p.signature}"
        verdict = {"passed": "right", "failed": "WRONG", "not implemented": "not implemented yet",
                   "error": "did not run to the end", "missing": "missing", "library": "calls the library",
                   "timed out": "timed out"}
        lines = [f"{head}\n  {verdict[self.status]}, {_points(self.score)} of {_points(self.max_score)} points"
                 + (f" ({self.cases_checked} cases)" if self.passed and self.cases_checked else "")]
        if self.case and not self.passed:
            lines.append(f"  case: {self.case}")
        if self.rows and not self.passed:
            lines.append(f"    {'tensor':<10} {'shape':<10} {'rel. error':>10}  result")
            for r in self.rows:
                err = "–" if math.isnan(r.rel_error) else f"{r.rel_error:.1e}"
                lines.append(f"    {r.name:<10} {fmt_shape(r.shape):<10} {err:>10}  {'right' if r.passed else 'WRONG'}")
        diagnosis = self.diagnosis()
        if diagnosis:
            lines.append("  diagnosis: " + diagnosis.replace("\n", "\n    "))
        lines.extend("  " + line for line in self.hint_lines(hints))
        return "\n".join(lines)

    def __str__(self):
        return self.text()

    def __repr__(self):
        return self.text()

    def assert_ok(self):
        if not self.passed:
            raise AssertionError(self.text())
        return self

    def to_json(self, hints=None):
        """One Gradescope test: name, number, score, max_score, status, output."""
        p = self.part
        label = f" ({self.label})" if self.label else ""
        return {"name": f"{p.id}{label}: {p.title}", "number": p.number + (".h" if self.label else ""),
                "score": self.score, "max_score": self.max_score,
                "status": "passed" if self.passed else "failed", "output": self.text(hints),
                "visibility": self.visibility}


def _points(x):
    return f"{x:g}"


class Report:
    """The reports of several parts (a problem, or a whole assignment)."""

    def __init__(self, title, parts, hints=None, notes=()):
        self.title = title
        self.parts = list(parts)
        self.hints = None if hints is None else check_hints(hints)
        self.notes = list(notes)

    @property
    def score(self):
        return sum(r.score for r in self.parts)

    @property
    def max_score(self):
        return sum(r.max_score for r in self.parts)

    @property
    def passed(self):
        return all(r.passed for r in self.parts)

    def __getitem__(self, part_id):
        for r in self.parts:
            if r.id == part_id:
                return r
        raise KeyError(part_id)

    def text(self, hints=None):
        hints = check_hints(hints if hints is not None else self.hints)
        lines = [self.title] if self.title else []
        lines.extend(self.notes)
        for r in self.parts:
            lines.append(r.text(hints))
        lines.append(self.total())
        return "\n".join(lines)

    def split(self):
        """(score, max) of the visible cases and of the hidden ones, or None without hidden cases."""
        hidden = [r for r in self.parts if r.label]
        if not hidden:
            return None
        shown = [r for r in self.parts if not r.label]
        return ((sum(r.score for r in shown), sum(r.max_score for r in shown)),
                (sum(r.score for r in hidden), sum(r.max_score for r in hidden)))

    def total(self, public=False):
        """The total line; ``public``: for the student before the due date (the visible cases' score only)."""
        split = self.split()
        if public and split:
            (vs, vm), _ = split
            return f"visible cases: {_points(vs)} of {_points(vm)} points (the hidden cases are scored apart)"
        text = f"total: {_points(self.score)} of {_points(self.max_score)} points" + (" — full marks" if self.passed
                                                                                       else "")
        if split:
            (vs, vm), (hs, hm) = split
            text += (f" (visible cases: {_points(vs)} of {_points(vm)}; hidden cases: {_points(hs)} of "
                     f"{_points(hm)})")
        return text

    def __str__(self):
        return self.text()

    def __repr__(self):
        return self.text()

    def to_json(self, hints=None):
        """Gradescope's ``results.json``: score, max_score, output, tests (one per part)."""
        hints = check_hints(hints if hints is not None else self.hints)
        result = {"score": self.score, "max_score": self.max_score,
                "output": "\n".join([self.title, *self.notes]).strip() + "\n" + self.total(public=True),
                "visibility": "visible", "stdout_visibility": "hidden",
                  "tests": [r.to_json(hints) for r in self.parts]}
        if self.split():          # Gradescope sums the tests, and keeps the hidden ones' share hidden until they show
            del result["score"]
        return result
