"""Every tutorial notebook runs top to bottom, headless, on a fresh install.

Each notebook is executed with nbclient in a ``python3`` kernel whose working directory is the notebook's
folder and whose ``PYTHONPATH`` starts with this checkout (so it imports the package under test, installed or
not). ``MINIELEATT_FAST=1`` makes the notebooks pick small sizes in their first code cell; a failing cell fails
the test with the cell's traceback. The assignments run twice: as handed out (tutorials/assignments/, every check
says "not implemented yet") and as the teacher's copy that `minieleatt assignment build` writes (every check passes).
"""

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
ASSIGNMENTS = sorted((TUTORIALS / "assignments").glob("*.ipynb"))
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb")) + ASSIGNMENTS

CELL_TIMEOUT = 120        # seconds for one cell
NOTEBOOK_BUDGET = 90      # seconds for a whole notebook in FAST mode, kernel start included


def _environment(monkeypatch, extra_path=()):
    """The kernel inherits os.environ: small sizes, this checkout first on the path, inline figures."""
    path = [*map(str, extra_path), str(ROOT)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    monkeypatch.setenv("MINIELEATT_FAST", "1")
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)          # let the kernel use its inline backend


def _execute(nb, folder):
    """Run every cell; return the executed notebook and the seconds it took."""
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, startup_timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def _text(nb):
    """Everything the notebook printed or displayed as text."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o["text"])
            elif "data" in o and "text/plain" in o["data"]:
                out.append(o["data"]["text/plain"])
    return "\n".join(out)


def _read(path):
    return nbformat.read(path, as_version=4)


def test_every_tutorial_is_listed():
    names = [p.relative_to(TUTORIALS).as_posix() for p in NOTEBOOKS]
    assert names == ["01_the_gate.ipynb", "02_bptt_by_hand.ipynb", "03_gradient_checking.ipynb",
                     "04_paper_in_miniature.ipynb", "05_real_data.ipynb", "06_on_the_gpu.ipynb",
                     "assignments/assignment1_gate_and_rnn.ipynb", "assignments/assignment2_lstm_and_gru.ipynb",
                     "assignments/assignment3_sequences_and_training.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path):
    """No outputs or execution counts in the repository, and the first code cell reads MINIELEATT_FAST."""
    nb = _read(path)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} was committed with outputs"
    assert "MINIELEATT_FAST" in code[0].source
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, monkeypatch):
    _environment(monkeypatch)
    nb, seconds = _execute(_read(path), path.parent)
    assert seconds < NOTEBOOK_BUDGET, f"{path.name} took {seconds:.0f} s with MINIELEATT_FAST=1"
    if path in ASSIGNMENTS:
        text = _text(nb)
        parts = sum(len(p.parts) for p in _assignment(path).problems)
        assert text.count("not implemented yet, 0 of") == parts and "WRONG" not in text, text


def _assignment(path):
    from minieleatt.exercises import ASSIGNMENTS as ALL
    return ALL[nbformat.read(path, as_version=4).metadata["minieleatt"]["assignment"]]


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=[p.stem for p in ASSIGNMENTS])
def test_the_teachers_copy_runs_with_every_check_passing(path, monkeypatch, tmp_path):
    """The teacher's notebook that `minieleatt assignment build` writes: every check cell reports its part right."""
    from minieleatt.exercises.handout import build
    _environment(monkeypatch)
    build(tmp_path, assignments=[_assignment(path).key])
    teacher = tmp_path / "teacher" / path.name
    nb = _read(teacher)
    nb.cells.append(nbformat.v4.new_code_cell(
        f"from minieleatt.exercises import results\n"
        f"status = results({_assignment(path).key!r})\n"
        f"assert set(status.values()) == {{'passed'}}, status"))
    nb, _ = _execute(nb, teacher.parent)
    text = _text(nb)
    assert "not implemented" not in text and "WRONG" not in text, text


def test_real_data_notebook_without_aeon_or_sktime(monkeypatch, tmp_path):
    """Without the packages that bundle the UEA sets, the notebook says how to get them and skips its training."""
    for package in ("aeon", "sktime"):                  # empty packages that hide the installed ones
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    _environment(monkeypatch, extra_path=[tmp_path])
    path = TUTORIALS / "05_real_data.ipynb"
    nb = _read(path)
    nb.cells.append(nbformat.v4.new_code_cell("assert not HAVE_UEA and 'runs' not in globals()"))
    nb, _ = _execute(nb, path.parent)
    text = _text(nb)
    assert "pip install --no-deps aeon" in text and "skipped: no UEA data" in text, text
