"""The course file: one TOML file a teacher edits (``course/course.toml`` in the repository).

    [grading]
    hints = "location"              # what a graded report reveals: none | location | formula
    timeout = 60                    # seconds of wall-clock time per part
    memory_mb = 4096                # the submission's process
    hidden_share = 0.5              # of each part's points, for its hidden cases (with a secret)
    hidden_visibility = "after_due_date"   # Gradescope: hidden | after_due_date | after_published | visible

    [points]                        # part id = points, instead of the problem's own
    "gate.backward" = 4

    [problems]                      # a teacher's own problems: files beside the course file
    files = ["problems/scaled_tanh.py"]

A problem file defines ``ASSIGNMENT`` (the key of the assignment it joins, e.g. "assignment1") and
``problem()``, which returns a ``parts.Problem`` (see ``course/problems/example_scaled_tanh.py``).
``load(path)`` reads the file (``tomllib``, or ``tomli`` before Python 3.11), checks every key, and
returns a ``Course``; ``course.assignment(key)`` is the assignment with the course's own problems added.
"""

import importlib.util
import os
from typing import NamedTuple

from .assignments import ASSIGNMENTS, Assignment
from .report import HINT_LEVELS

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
GRADING = {"hints": str, "timeout": (int, float), "memory_mb": int, "hidden_share": (int, float),
           "hidden_visibility": str}


class Course(NamedTuple):
    path: str = ""
    hints: str = "location"
    timeout: float = 60.0
    memory_mb: int = 4096
    hidden_share: float = 0.5
    hidden_visibility: str = "after_due_date"
    points: dict = {}
    problems: tuple = ()          # (assignment key, Problem)

    def assignment(self, key):
        """The assignment ``key`` with the course's own problems appended."""
        a = ASSIGNMENTS[key]
        extra = [p for k, p in self.problems if k == key]
        if not extra:
            return a
        for k, p in enumerate(extra, start=len(a.problems) + 1):
            p.number = k
        return Assignment(a.key, a.number, a.title, list(a.problems) + extra, a.source)


def _toml(path):
    try:
        import tomllib
    except ImportError:                       # Python < 3.11
        try:
            import tomli as tomllib
        except ImportError:
            raise ValueError(f"reading the course file {path} needs Python 3.11 (tomllib) or the tomli package: "
                               "pip install tomli") from None
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None


def load(path):
    """The ``Course`` of the TOML file at ``path`` (errors name the file and the key)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no course file at {path}")
    data = _toml(path)
    unknown = sorted(set(data) - {"grading", "points", "problems"})
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {unknown}; the sections are [grading], [points], [problems]")
    grading = data.get("grading", {})
    for key, value in grading.items():
        if key not in GRADING:
            raise ValueError(f"{path}: [grading] has no key {key!r}; the keys are {sorted(GRADING)}")
        if not isinstance(value, GRADING[key]) or isinstance(value, bool):
            raise ValueError(f"{path}: [grading] {key} = {value!r} is not a {GRADING[key]}")
    if grading.get("hints", "location") not in HINT_LEVELS:
        raise ValueError(f"{path}: [grading] hints must be one of {HINT_LEVELS}, got {grading['hints']!r}")
    if grading.get("hidden_visibility", "after_due_date") not in VISIBILITIES:
        raise ValueError(f"{path}: [grading] hidden_visibility must be one of {VISIBILITIES}, "
                         f"got {grading['hidden_visibility']!r}")
    if not 0 <= grading.get("hidden_share", 0.5) <= 1:
        raise ValueError(f"{path}: [grading] hidden_share must be between 0 and 1, got {grading['hidden_share']}")
    problems = []
    folder = os.path.dirname(os.path.abspath(path))
    for rel in data.get("problems", {}).get("files", []):
        problems.append(_problem(os.path.join(folder, rel), path))
    known = {part.id for key, a in ASSIGNMENTS.items() for p in a.problems for part in p.parts}
    known |= {part.id for _, p in problems for part in p.parts}
    points = {}
    for part_id, value in data.get("points", {}).items():
        if part_id not in known:
            raise ValueError(f"{path}: [points] names {part_id!r}, which is no part; the parts are e.g. "
                             f"{sorted(known)[:4]}")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{path}: [points] {part_id} = {value!r} is not a number of points")
        points[part_id] = value
    for key, p in problems:                   # a course problem's points are its own unless [points] says
        for part in p.parts:
            if part.id in points:
                part.points = points[part.id]
    return Course(path=os.path.abspath(path), points=points, problems=tuple(problems),
                  **{k: (float(v) if k in ("timeout", "hidden_share") else v) for k, v in grading.items()})


def _problem(file, course_path):
    if not os.path.isfile(file):
        raise FileNotFoundError(f"{course_path}: [problems] names {file}, which does not exist")
    name = "minieleatt_course_" + os.path.splitext(os.path.basename(file))[0]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    key = getattr(module, "ASSIGNMENT", None)
    if key not in ASSIGNMENTS:
        raise ValueError(f"{file}: ASSIGNMENT must name one of {list(ASSIGNMENTS)}, got {key!r}")
    if not callable(getattr(module, "problem", None)):
        raise ValueError(f"{file}: it must define problem(), returning a minieleatt.exercises.parts.Problem")
    return key, module.problem()
