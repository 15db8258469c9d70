"""Isolated grading: the submission runs in a child process, the verdicts are made here. A patch of the grader, an
overwrite of its expected values, a loop that never ends, output on stdout: each gets what it deserves."""

import json
import textwrap

import numpy as np
import pytest

from minieleatt.cli import main
from minieleatt.exercises import bugzoo, check
from minieleatt.exercises.grader import grade_file
from minieleatt.exercises.isolation import Handle, decode, encode
from minieleatt.exercises.problems.common import _instance

from .test_grader import built  # noqa: F401 - the fixture

PATCH = """\
import minieleatt.exercises.report as R
_init = R.PartReport.__init__
def _passed(self, part, status, *args, **kw):
    _init(self, part, "passed")
R.PartReport.__init__ = _passed
"""

OVERWRITE = """\
import numpy as np
import minieleatt.exercises.problems.common as C
_init = C.Instance.__init__
def _mine(self, spec, case):                  # the expected values become what this submission returns
    _init(self, spec, case)
    self.outs = {k: np.zeros_like(v) for k, v in self.outs.items()}
C.Instance.__init__ = _mine
C._instance.cache_clear()

def gate_step_forward(x_t, h_prev, params, activation="sigmoid"):
    return np.zeros_like(x_t), None
"""


def notebook_with(built, version, first_cell="", replace=None, name="sub.ipynb", tmp_path=None):  # noqa: F811
    from minieleatt.exercises.handout import notebook_name
    nb = json.loads((built / version / notebook_name("assignment1")).read_text())
    if first_cell:
        nb["cells"].insert(1, {"cell_type": "code", "id": "patch", "metadata": {}, "execution_count": None,
                               "outputs": [], "source": first_cell})
    for old, new in (replace or {}).items():
        cell = next(c for c in nb["cells"] if old in "".join(c["source"]))
        cell["source"] = "".join(cell["source"]).replace(old, new)
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    return path


def test_the_five_line_patch_of_PartReport_changes_nothing(built, tmp_path, capsys):  # noqa: F811
    import minieleatt.exercises.report as R
    path = notebook_with(built, "student", PATCH, tmp_path=tmp_path)
    assert main(["assignment", "grade", str(path)]) == 1
    text = capsys.readouterr().out
    assert "total: 0 of 23 points" in text and "not implemented yet" in text
    original = R.PartReport.__init__
    try:     # in the grader's own process the same five lines would have given full marks: the attack is real
        assert main(["assignment", "grade", str(path), "--in-process"]) == 0
        assert "total: 23 of 23 points" in capsys.readouterr().out
    finally:
        R.PartReport.__init__ = original


def test_an_overwrite_of_the_expected_values_changes_nothing(tmp_path):
    path = tmp_path / "overwrite.py"
    path.write_text(OVERWRITE)
    try:
        report = grade_file(str(path), assignment="assignment1")
        assert report["gate.forward"].status == "failed" and report["gate.forward"].score == 0
        assert "wrong: x_att" in report["gate.forward"].text()
        # run where the grader runs, the overwrite would have passed the part
        namespace = {"__name__": "__submission__"}
        exec(compile(OVERWRITE, "<overwrite>", "exec"), namespace)
        assert check("gate.forward", namespace).passed
    finally:
        import minieleatt.exercises.problems.common as C
        C.Instance.__init__ = namespace["_init"]
        _instance.cache_clear()


def test_a_loop_that_never_ends_scores_zero_on_its_part_and_the_others_are_graded(built, tmp_path):  # noqa: F811
    path = notebook_with(built, "teacher", replace={"def rnn_backward(dhs, cache):\n":
                                                    "def rnn_backward(dhs, cache):\n    while True:\n        pass\n"},
                         tmp_path=tmp_path)
    report = grade_file(str(path), timeout=8)
    r = report["rnn_sequence.backward"]
    assert r.status == "timed out" and r.score == 0
    assert "timed out after 8 s while running rnn_backward" in r.text()
    assert "[rnn_sequence.backward] " in r.text()
    assert report.score == 19 and report["rnn_sequence.forward"].passed


def test_a_cell_that_never_ends_is_cut_and_the_next_cells_still_run(built, tmp_path):  # noqa: F811
    path = notebook_with(built, "teacher", "while True:\n    pass\n", tmp_path=tmp_path)
    report = grade_file(str(path), cell_timeout=3)
    assert report.score == 23
    assert any("ran past the grader's time limit" in n for n in report.notes)


def test_prints_and_exits_of_the_submission_do_not_break_the_grader(tmp_path):
    source = "\n\n".join(c.source for c in bugzoo._cells("assignment1"))
    source = source.replace("def numerical_vjp(f, x, dout, eps=1e-6):\n",
                            "def numerical_vjp(f, x, dout, eps=1e-6):\n    print('{\"ok\": 1}')\n"
                            "    import os; os._exit(3)\n")
    path = tmp_path / "noisy.py"
    path.write_text("print('hello')\n" + source)
    report = grade_file(str(path), assignment="assignment1")
    assert report["numerical_vjp.gradient"].status == "error"
    assert "process ended while running numerical_vjp" in report["numerical_vjp.gradient"].text()
    assert report["gate.backward"].passed and report.score == 23 - 4


def test_a_function_that_writes_into_its_argument_is_named():
    """dpre = dh; dpre *= ... changes the caller's dh: the part fails and says which argument."""
    namespace = bugzoo.apply(assignment="assignment1")
    exec(compile(textwrap.dedent('''
        SOLUTION = rnn_step_backward
        def rnn_step_backward(dh, cache):
            out = SOLUTION(dh, cache)
            dh *= 2
            return out
    '''), "<s>", "exec"), namespace)
    r = check("rnn_step.backward", namespace)
    assert r.status == "failed" and "rnn_step_backward writes into its argument dh in place" in r.text()


def test_the_wire_carries_plain_data_only():
    class Mine:
        pass
    table = {}
    value = (np.arange(3.0), {"a": [1, 2.5, None, "s"], "b": np.float64(2)}, Mine())
    back = decode(json.loads(json.dumps(encode(value, table))))
    assert isinstance(back, tuple) and np.array_equal(back[0], value[0]) and back[1]["a"] == [1, 2.5, None, "s"]
    assert isinstance(back[2], Handle) and table[back[2].key] is value[2]
    assert decode(encode([back[2]]), table)[0] is value[2]           # a handle goes back to its object
    with pytest.raises(ValueError):
        decode({"__nd__": ["|O", [1], ""]})
    with pytest.raises(TypeError):
        encode(Mine())


def test_the_submissions_process_has_a_memory_limit(tmp_path):
    """np.empty of 3.2 GB only reserves address space: it runs without a limit and fails under a 2 GB one."""
    source = solutions_of("assignment1").replace(
        "def numerical_vjp(f, x, dout, eps=1e-6):\n",
        "def numerical_vjp(f, x, dout, eps=1e-6):\n    big = np.empty(400_000_000)\n")
    path = tmp_path / "memory.py"
    path.write_text(source)
    report = grade_file(str(path), assignment="assignment1", memory_mb=2048)
    for part in ("numerical_vjp.gradient", "numerical_vjp.inputs"):
        assert report[part].status == "error" and "MemoryError" in report[part].text()
    assert report.score == 23 - 4
    assert grade_file(str(path), assignment="assignment1", memory_mb=0).score == 23      # 0: no limit


def test_partial_credit_in_the_isolated_grader(tmp_path):
    path = tmp_path / "lstm.py"
    path.write_text("\n\n".join(s for s, _ in bugzoo.edited_cells(bugzoo.get("lstm-f-missing"))))
    report = grade_file(str(path))
    assert report["lstm_step.backward"].score == 0
    r = report["lstm_sequence.backward"]
    assert r.passed and r.substituted and "library's lstm step in place of yours" in r.text()
    assert report.score == 19 - 4


def solutions_of(assignment):
    return "\n\n".join(c.source for c in bugzoo._cells(assignment))
