"""A teacher's own problem, added as a file of the course folder (no edit of the package).

To grade it, name it in course.toml (``[problems] files = ["problems/example_scaled_tanh.py"]``) and give the
students a cell that defines ``scaled_tanh``. ``ASSIGNMENT`` is the assignment it joins; ``problem()`` returns
the problem with its parts. A part says which student functions it calls (``needs``: the grader checks them for
library calls), its points, its cases (seeds and sizes; the hidden cases are drawn around them), and how one case
is run: ``student.call(name, *args)`` runs the student's function (in the grader's child process, on copies,
with the arguments checked unchanged), ``compare`` makes the table rows against the right answer.
"""

import numpy as np

from minieleatt.exercises.parts import CaseResult, Part, Problem, cases, compare

ASSIGNMENT = "assignment1"


class ScaledTanhPart(Part):
    def __init__(self):
        super().__init__("forward", "s · tanh(x / s), a tanh that saturates at ±s", ("scaled_tanh",), 2,
                         "scaled_tanh(x, s) -> y")

    def cases(self):
        return cases([0, 1], [dict(B=3, D=4), dict(B=5, D=2)])

    def run_case(self, student, case):
        rng = np.random.default_rng(7000 + case.seed)
        x = 3 * rng.standard_normal((case.sizes["B"], case.sizes["D"]))
        s = float(rng.uniform(0.5, 4))
        right = s * np.tanh(x / s)
        y = student.call("scaled_tanh", x, s, sizes=case.sizes)
        return CaseResult(compare({"y": y}, {"y": right}, {"y": right}, case.sizes))


def problem():
    return Problem("scaled_tanh", "A scaled tanh (the teacher's own problem)", [ScaledTanhPart()])
