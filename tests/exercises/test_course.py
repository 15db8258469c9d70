"""The teacher's side lives in the repository's course/ folder: the wheel a student installs holds no solution, the
teacher's build runs from the checkout (``python -m course build``) and says clearly when it has no course/."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from minieleatt.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_wheel_holds_no_solution_and_no_teacher_notebook(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("minieleatt", "course"):                      # course/ beside the package, as in the checkout
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          ".", "-w", str(tmp_path / "dist"), "-q"], cwd=src, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    wheel, = (tmp_path / "dist").glob("minieleatt-*.whl")
    solutions = [line.strip() for path in (ROOT / "course" / "source").glob("assignment*.py")
                 for line in path.read_text(encoding="utf-8").splitlines()]
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert any(n.endswith("exercises/grader.py") for n in names)
        assert not any(n.startswith("course/") or "/source/" in n or n.endswith(".ipynb") for n in names), names
        for n in names:
            text = z.read(n).decode("utf-8", "replace")
            lines = {line.strip() for line in text.splitlines()}
            assert "### BEGIN SOLUTION" not in lines, f"{n} holds a solution region"
            assert "def numerical_vjp(f, x, dout, eps=1e-6):" not in lines, f"{n} holds a model solution"
            assert "teacher" not in n
    assert "### BEGIN SOLUTION" in solutions            # the check above looks for what the sources do hold


def test_the_teachers_build_runs_from_the_checkout(tmp_path):
    run = subprocess.run([sys.executable, "-m", "course", "build", str(tmp_path / "out"), "--assignment",
                          "assignment1"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "teacher" / "assignment1_gate_and_rnn.ipynb").exists()
    assert "### BEGIN SOLUTION" in (tmp_path / "out" / "teacher" / "assignment1_gate_and_rnn.ipynb").read_text()


def test_without_the_course_folder_the_build_says_where_it_must_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIELEATT_COURSE", str(tmp_path / "nowhere"))
    assert main(["assignment", "build", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "needs the repository's course/ folder" in err and "python -m course build" in err
