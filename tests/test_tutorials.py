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
                     "07_gradient_flow.ipynb", "08_bug_zoo.ipynb", "09_your_own_data.ipynb", "assignments/assignment1_gate_and_rnn.ipynb", "assignments/assignment2_lstm_and_gru.ipynb",
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
    for line in HOSTED_INSTALL:                       # the same install on a hosted service in every notebook
        assert line in code[0].source, (path.name, line)


HOSTED_INSTALL = [
    'INSTALL = "minieleatt-0.1.0-py3-none-any.whl"',   # the wheel built from a clone (not on PyPI), or a git URL
    'if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ or "KAGGLE_KERNEL_RUN_TYPE" in os.environ:',
    'subprocess.run([sys.executable, "-m", "pip", "install", "-q", os.environ.get("MINIELEATT_SOURCE", INSTALL)],',
]

# runs a notebook's first cell as on Colab: google.colab is there and minieleatt is not installed until pip "runs"
AS_ON_COLAB = """
import importlib.abc, json, subprocess, sys, types
sys.modules["google"] = types.ModuleType("google")
sys.modules["google.colab"] = types.ModuleType("google.colab")
calls = []

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "minieleatt" and not calls:
            raise ImportError("No module named 'minieleatt'")
        return None

sys.meta_path.insert(0, NotInstalled())
subprocess.run = lambda cmd, check: calls.append(cmd[1:])
exec(open(sys.argv[1]).read())
print(json.dumps({"pip": calls, "package": minieleatt.__file__}))
"""

# runs a notebook's first cell as in a clone without `pip install .`: the first import of minieleatt fails
AS_IN_A_CLONE = """
import importlib.abc, sys
failed = []

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "minieleatt" and not failed:
            failed.append(name)
            raise ImportError("No module named 'minieleatt'")
        return None

sys.meta_path.insert(0, NotInstalled())
exec(open(sys.argv[1]).read())
print(minieleatt.__file__)
"""


def _first_cell(path, tmp_path):
    source = next(c for c in _read(path).cells if c.cell_type == "code").source
    cell = tmp_path / "first_cell.py"
    cell.write_text(source)
    return cell


@pytest.mark.parametrize("path", [TUTORIALS / "05_real_data.ipynb", ASSIGNMENTS[0]], ids=["05_real_data", "assignment1"])
def test_the_first_cell_installs_on_a_hosted_service_and_uses_the_checkout_locally(path, tmp_path, monkeypatch):
    import json
    import subprocess
    import sys
    cell = _first_cell(path, tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MINIELEATT_SOURCE")}
    colab = tmp_path / "as_on_colab.py"
    colab.write_text(AS_ON_COLAB)
    run = subprocess.run([sys.executable, str(colab), str(cell)], cwd=path.parent, capture_output=True, text=True,
                         env={**env, "PYTHONPATH": str(ROOT), "MINIELEATT_SOURCE": "git+https://example.org/copy"})
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    wanted = [["-m", "pip", "install", "-q", "git+https://example.org/copy"]]
    if path.name.startswith("05"):
        wanted.append(["-m", "pip", "install", "-q", "--no-deps", "aeon"])      # the bundled UEA files
    assert sorted(result["pip"]) == sorted(wanted)
    # locally, not installed (CI installs the package, so its import is made to fail once as in a plain clone):
    # the cell finds the checkout the notebook sits in
    local = tmp_path / "as_in_a_clone.py"
    local.write_text(AS_IN_A_CLONE)
    run = subprocess.run([sys.executable, str(local), str(cell)], cwd=path.parent, capture_output=True, text=True,
                         env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == str(ROOT / "minieleatt" / "__init__.py")


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
