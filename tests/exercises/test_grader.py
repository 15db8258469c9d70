"""`minieleatt assignment build` and `minieleatt assignment grade`: the handouts from one source, the same bytes
on every run, the committed handouts current; grades of notebooks and .py files, text and JSON, exit status."""

import json
from pathlib import Path

import pytest

from minieleatt.cli import main
from minieleatt.exercises import ASSIGNMENTS, bugzoo
from minieleatt.exercises.handout import build, notebook, notebook_name, read_source

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "tutorials" / "assignments"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("handouts")
    assert main(["assignment", "build", str(out)]) == 0
    return out


def test_build_writes_student_and_teacher_notebooks_byte_identical_on_a_rerun(built, tmp_path):
    names = sorted(notebook_name(a) for a in ASSIGNMENTS)
    for version in ("student", "teacher"):
        assert sorted(p.name for p in (built / version).glob("*.ipynb")) == names
    build(tmp_path)
    for path in built.rglob("*"):
        if path.is_file():
            assert (tmp_path / path.relative_to(built)).read_bytes() == path.read_bytes(), path


def test_the_student_notebooks_hold_no_solution_and_the_teacher_ones_all(built):
    for a in ASSIGNMENTS:
        student = json.loads((built / "student" / notebook_name(a)).read_text())
        teacher = json.loads((built / "teacher" / notebook_name(a)).read_text())
        s_code = "".join("".join(c["source"]) for c in student["cells"] if c["cell_type"] == "code")
        t_code = "".join("".join(c["source"]) for c in teacher["cells"] if c["cell_type"] == "code")
        assert "### BEGIN SOLUTION" not in s_code and "raise NotImplementedError" in s_code
        assert s_code.count("# YOUR CODE HERE") == t_code.count("### BEGIN SOLUTION") > 0
        assert student["metadata"]["minieleatt"] == {"assignment": a, "version": "student"}
        assert [c["id"] for c in student["cells"]] == [c["id"] for c in teacher["cells"]]
        for cell in student["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None


def test_the_committed_handouts_are_the_build():
    """tutorials/assignments/ holds the student notebooks exactly as `assignment build` writes them."""
    for a in ASSIGNMENTS:
        from minieleatt.exercises.handout import dumps
        assert (COMMITTED / notebook_name(a)).read_text(encoding="utf-8") == dumps(notebook(a, "student")), \
            f"run: python -m minieleatt assignment build /tmp/x && cp /tmp/x/student/*.ipynb {COMMITTED}"


def test_build_options_set_the_hint_level_and_the_install_source(tmp_path):
    assert main(["assignment", "build", str(tmp_path), "--hints", "none", "--install", "git+https://example.org/x",
                 "--assignment", "assignment2"]) == 0
    text = (tmp_path / "student" / notebook_name("assignment2")).read_text()
    assert 'HINTS = \\"none\\"' in text and 'INSTALL = \\"git+https://example.org/x\\"' in text
    assert not (tmp_path / "student" / notebook_name("assignment1")).exists()


def test_grading_the_teacher_notebook_gives_full_marks_and_exit_0(built, tmp_path, capsys):
    path = built / "teacher" / notebook_name("assignment1")
    out = tmp_path / "results.json"
    assert main(["assignment", "grade", str(path), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "total: 23 of 23 points — full marks" in text
    result = json.loads(out.read_text())
    assert result["score"] == result["max_score"] == 23
    assert len(result["tests"]) == sum(len(p.parts) for p in ASSIGNMENTS["assignment1"].problems)
    assert {t["status"] for t in result["tests"]} == {"passed"}
    assert all(t["score"] == t["max_score"] > 0 for t in result["tests"])
    assert set(result["tests"][0]) >= {"name", "number", "score", "max_score", "status", "output", "visibility"}


def test_grading_the_untouched_handout_gives_zero_and_exit_1(built, tmp_path, capsys):
    path = built / "student" / notebook_name("assignment3")
    out = tmp_path / "results.json"
    assert main(["assignment", "grade", str(path), "--json", str(out)]) == 1
    assert "total: 0 of 15 points" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["score"] == 0 and all("not implemented yet" in t["output"] for t in result["tests"])
    assert all(t["score"] == 0 and t["status"] == "failed" and t["max_score"] > 0 for t in result["tests"])


def test_a_python_file_is_graded_by_the_functions_it_defines(tmp_path, capsys):
    """A .py with the functions of assignment 2 (and one library call): its assignment is found by its names."""
    cells = [c.source for c in read_source("assignment2") if c.kind == "code" and "check" not in c.metadata.get("tags", [])]
    source = "\n\n".join(cells) + "\n\nfrom minieleatt.functional import gru_step_backward\n"
    path = tmp_path / "submission.py"
    path.write_text(source)
    assert main(["assignment", "grade", str(path), "--hints", "none"]) == 1
    text = capsys.readouterr().out
    assert text.startswith("Assignment 2")
    assert "[gru_step.backward]" in text and "calls the library, 0 of 4 points" in text
    assert "imported rather than written" in text
    assert "[lstm_step.backward]" in text and "total: 13 of 19 points" in text


def test_a_cell_that_raises_costs_only_what_it_defines(built, tmp_path, capsys):
    nb = json.loads((built / "teacher" / notebook_name("assignment1")).read_text())
    cell = next(c for c in nb["cells"] if "def rnn_forward" in "".join(c["source"]))
    cell["source"] = ["1 / 0\n"] + cell["source"]
    path = tmp_path / "broken.ipynb"
    path.write_text(json.dumps(nb))
    assert main(["assignment", "grade", str(path)]) == 1
    text = capsys.readouterr().out
    assert "raised ZeroDivisionError" in text and "the cells after it still ran" in text
    assert "[rnn_sequence.forward]" in text and "rnn_forward is not defined" in text
    assert "total: 17 of 23 points" in text


def test_a_bug_zoo_entry_graded_through_the_command(built, tmp_path, capsys):
    mistake = bugzoo.get("dh-not-carried")
    nb = json.loads((built / "teacher" / notebook_name("assignment1")).read_text())
    for old, new in mistake.edits:
        cell = next(c for c in nb["cells"] if old in "".join(c["source"]))
        cell["source"] = ["".join(cell["source"]).replace(old, new)]
    path = tmp_path / "zoo.ipynb"
    path.write_text(json.dumps(nb))
    assert main(["assignment", "grade", str(path), "--hints", "location"]) == 1
    text = capsys.readouterr().out
    assert "dh_next is not carried at all" in text and "formula:" not in text
    assert "total: 19 of 23 points" in text


def test_grade_refuses_what_it_cannot_grade(tmp_path, capsys):
    assert main(["assignment", "grade", str(tmp_path / "nothing.ipynb")]) == 2
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    assert main(["assignment", "grade", str(path)]) == 2
    assert "defines none of the assignments' functions" in capsys.readouterr().err
    other = tmp_path / "a.txt"
    other.write_text("")
    assert main(["assignment", "grade", str(other)]) == 2


def test_hidden_cases_from_a_secret_are_scored_and_reported_apart(tmp_path, capsys):
    """x[i] += eps ... x[i] -= eps passes every case check() shows and fails a hidden one (x far below eps)."""
    namespace_cells = bugzoo.edited_cells(bugzoo.get("arithmetic-restore"))
    path = tmp_path / "restore.py"
    path.write_text("\n\n".join(source for source, _ in namespace_cells))
    assert main(["assignment", "grade", str(path), "--assignment", "assignment1"]) == 0     # no secret: full marks
    capsys.readouterr()
    out = tmp_path / "results.json"
    assert main(["assignment", "grade", str(path), "--assignment", "assignment1", "--secret", "spring term",
                 "--json", str(out)]) == 1
    text = capsys.readouterr().out
    assert "[numerical_vjp.inputs, hidden cases]" in text and "scale=" in text
    assert "total: 22.5 of 23 points (visible cases: 11.5 of 11.5; hidden cases: 11 of 11.5)" in text
    result = json.loads(out.read_text())
    tests = {t["name"].split(":")[0]: t for t in result["tests"]}
    assert tests["numerical_vjp.inputs"]["visibility"] == "visible" and tests["numerical_vjp.inputs"]["score"] == 0.5
    hidden = tests["numerical_vjp.inputs (hidden cases)"]
    assert hidden["visibility"] == "after_due_date" and hidden["score"] == 0 and hidden["max_score"] == 0.5
    assert sum(t["score"] for t in result["tests"]) == 22.5 and "hidden cases: 11" not in result["output"]
    assert "score" not in result               # Gradescope sums the tests; the hidden ones' share stays hidden
    # the same secret draws the same cases; another draws others; none is a case check() runs
    from minieleatt.exercises.assignments import find_part
    from minieleatt.exercises.grader import secret_rng
    _, (part,) = find_part("rnn_sequence.backward")
    a = part.hidden_cases(secret_rng("spring term", part.id))
    assert a == part.hidden_cases(secret_rng("spring term", part.id)) != part.hidden_cases(secret_rng("x", part.id))
    assert not set(c.seed for c in a) & set(c.seed for c in part.cases())


def test_the_notebooks_carry_nbgrader_metadata(built):
    """Solution cells and autograded test cells, with grade_id and points that add up to the assignment's."""
    for a in ASSIGNMENTS:
        for version in ("student", "teacher"):
            nb = json.loads((built / version / notebook_name(a)).read_text())
            graded = [c["metadata"]["nbgrader"] for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
            solutions = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
            assert sum(g["points"] for g in graded) == ASSIGNMENTS[a].max_score
            assert len({g["grade_id"] for g in graded}) == len(graded) and all(g["locked"] for g in graded)
            assert all(c["metadata"]["nbgrader"]["schema_version"] == 3 for c in solutions) and solutions
            if version == "teacher":
                assert all("### BEGIN SOLUTION" in "".join(c["source"]) for c in solutions)


def test_the_default_install_line_is_the_wheel_not_a_package_on_pypi(built):
    text = (built / "student" / notebook_name("assignment1")).read_text()
    assert 'INSTALL = \\"minieleatt-0.1.0-py3-none-any.whl\\"' in text and "uploaded beside this notebook" in text
