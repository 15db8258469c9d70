"""The Gradescope kit: `minieleatt assignment gradescope OUT.zip` writes setup.sh, run_autograder, the wheel, the
course file; its run_autograder, run on a folder laid out like /autograder, writes results.json in Gradescope's
format for a right and for a wrong submission. The course file (TOML) sets points, limits and hidden cases, and
brings a teacher's own problem without an edit of the package."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from minieleatt.cli import main
from minieleatt.exercises import bugzoo
from minieleatt.exercises.course import load

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}

SCALED_TANH = '''

def scaled_tanh(x, s):
    return s * np.tanh(x / s)
'''


def solutions(mistake=None, assignment="assignment1"):
    cells = bugzoo.edited_cells(mistake) if mistake else [(c.source, False) for c in bugzoo._cells(assignment)]
    return "\n\n".join(source for source, _ in cells)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder: the repository's course file with points changed and the example problem added."""
    folder = tmp_path_factory.mktemp("course")
    (folder / "problems").mkdir()
    shutil.copy(ROOT / "course" / "problems" / "example_scaled_tanh.py", folder / "problems")
    text = (ROOT / "course" / "course.toml").read_text()
    text = text.replace('# "gate.backward" = 4', '"gate.backward" = 4').replace(
        'files = []', 'files = ["problems/example_scaled_tanh.py"]')
    (folder / "course.toml").write_text(text)
    return folder / "course.toml"


@pytest.fixture(scope="module")
def kit(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "autograder.zip"
    assert main(["assignment", "gradescope", str(out), "--course", str(course), "--secret", "spring term",
                 "--assignment", "assignment1"]) == 0
    return out


def test_the_course_file_is_read_and_checked(course, tmp_path):
    c = load(str(course))
    assert c.points == {"gate.backward": 4} and c.hints == "location" and c.hidden_visibility == "after_due_date"
    a = c.assignment("assignment1")
    assert [p.key for p in a.problems][-1] == "scaled_tanh" and a.problems[-1].number == 6
    bad = tmp_path / "bad.toml"
    bad.write_text('[grading]\nhints = "all"\n')
    with pytest.raises(ValueError, match="hints must be one of"):
        load(str(bad))
    bad.write_text('[points]\n"gate.nothing" = 2\n')
    with pytest.raises(ValueError, match="'gate.nothing', which is no part"):
        load(str(bad))


def test_the_kit_holds_what_gradescope_runs(kit):
    with zipfile.ZipFile(kit) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "kit.json", "secret.txt", "course/course.toml",
                "course/problems/example_scaled_tanh.py"} <= names
        wheel, = [n for n in names if n.endswith(".whl")]
        for name in ("setup.sh", "run_autograder"):
            assert (z.getinfo(name).external_attr >> 16) & stat.S_IXUSR
        setup = z.read("setup.sh").decode()
        assert f'pip install -q "./{wheel}"' in setup and "python3 -m venv" in setup
        assert json.loads(z.read("kit.json"))["assignment"] == "assignment1"


def run_autograder(kit, tmp_path, submission_name, source):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "results").mkdir()
    with zipfile.ZipFile(kit) as z:
        z.extractall(root / "source")
    (root / "submission" / submission_name).write_text(source)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "MINIELEATT_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    return json.loads((root / "results" / "results.json").read_text())


def check_format(result):
    """Gradescope's results.json: tests with name, score, max_score, status, output, visibility."""
    assert set(result) <= {"score", "max_score", "output", "visibility", "stdout_visibility", "tests",
                           "execution_time", "extra_data"}
    assert result["visibility"] in VISIBILITY and result["stdout_visibility"] in VISIBILITY
    assert isinstance(result["output"], str) and result["tests"]
    for t in result["tests"]:
        assert {"name", "number", "score", "max_score", "status", "output", "visibility"} <= set(t)
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert 0 <= t["score"] <= t["max_score"] and t["status"] in ("passed", "failed")
        assert t["visibility"] in VISIBILITY and isinstance(t["name"], str) and isinstance(t["output"], str)


def test_run_autograder_on_a_right_submission(kit, tmp_path):
    result = run_autograder(kit, tmp_path, "assignment1_gate_and_rnn.py", solutions() + SCALED_TANH)
    check_format(result)
    tests = {t["name"].split(":")[0]: t for t in result["tests"]}
    assert all(t["status"] == "passed" for t in result["tests"])
    assert tests["gate.backward"]["max_score"] == 2 and tests["gate.backward (hidden cases)"]["max_score"] == 2
    assert tests["scaled_tanh.forward"]["score"] == 1 and "scaled_tanh.forward (hidden cases)" in tests
    assert tests["gate.backward (hidden cases)"]["visibility"] == "after_due_date"
    assert sum(t["max_score"] for t in result["tests"]) == 23 - 3 + 4 + 2
    assert "score" not in result                       # Gradescope sums the tests (the hidden ones stay hidden)


def test_run_autograder_on_a_wrong_submission(kit, tmp_path):
    result = run_autograder(kit, tmp_path, "work.py", solutions(bugzoo.get("gate-direct-path")))
    check_format(result)
    tests = {t["name"].split(":")[0]: t for t in result["tests"]}
    assert tests["gate.backward"]["status"] == "failed" and tests["gate.backward"]["score"] == 0
    assert "misses one of its terms" in tests["gate.backward"]["output"]           # the course file's hint level
    assert tests["scaled_tanh.forward"]["status"] == "failed"
    assert "scaled_tanh is not defined" in tests["scaled_tanh.forward"]["output"]
    assert tests["gate.forward"]["status"] == "passed"


def test_run_autograder_without_a_submission_still_writes_a_result(kit, tmp_path):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(kit) as z:
        z.extractall(root / "source")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "MINIELEATT_PYTHON": sys.executable}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True, capture_output=True)
    result = json.loads((root / "results" / "results.json").read_text())
    assert result["score"] == 0 and "holds no notebook" in result["output"]
