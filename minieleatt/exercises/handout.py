"""The handouts: student and teacher notebooks, built from one source per assignment.

An assignment's source (``course/source/<name>.py`` in the repository: the model solutions are the
teacher's and are not in the installed package) is a Python file in the "percent" cell format
(Jupytext's): ``# %%`` starts a code cell, ``# %% [markdown]`` a Markdown cell whose lines are
comments, and ``key=json`` pairs after the marker become the cell's metadata (``tags=["check"]``).
The model solutions sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers).

    build(out_dir)     out_dir/student/<name>.ipynb  every solution replaced by a stub:
                                                     ``# YOUR CODE HERE`` and ``raise NotImplementedError``
                       out_dir/teacher/<name>.ipynb  the solutions in place (markers kept)

Cells carry nbgrader's metadata (``nbgrader``: a solution cell, or an autograded test cell with its
``grade_id`` and ``points``), so nbgrader can take the teacher notebook as its source version; mark with
``minieleatt assignment grade`` all the same (nbgrader's autograde only sees whether a cell raises).
The notebooks are written byte for byte the same on every run (fixed cell ids, sorted keys), so a
rebuilt handout is a clean diff. ``hints`` sets the level of the checks' hints in the notebooks
(``HINTS = "..."`` in the setup cell); ``install`` what a hosted notebook service pip-installs.
"""

import json
import os
import re

from .. import __version__
from .assignments import ASSIGNMENTS, find_part
from .report import check_hints

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class NoCourse(FileNotFoundError):
    """The teacher's side (``course/``: the model solutions) is not here: an installed package, not a clone."""


def course_dir():
    """The repository's ``course/`` folder (or ``$MINIELEATT_COURSE``): the sources with the model solutions."""
    path = os.environ.get("MINIELEATT_COURSE") or os.path.join(_ROOT, "course")
    if not os.path.isfile(os.path.join(path, "source", "_install.py")):
        raise NoCourse(f"the teacher's build needs the repository's course/ folder (the model solutions are not in "
                       f"the installed package), and there is none at {path}: run it from a clone of the repository "
                       "(python -m course build OUT_DIR, or minieleatt assignment build OUT_DIR there), or set "
                       "MINIELEATT_COURSE to the course folder")
    return path


def source_dir():
    return os.path.join(course_dir(), "source")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE\nraise NotImplementedError"
# what the notebooks pip-install on a hosted service: the wheel the teacher hands out beside them (minieleatt is
# not on PyPI; `pip wheel --no-deps . -w dist` in the repository writes it), or a git URL given with --install
DEFAULT_INSTALL = f"minieleatt-{__version__}-py3-none-any.whl"
# the line of a source that stands for the first lines every assignment shares (source/_install.py)
INSTALL_LINE = "# (the first lines of every assignment: the FAST switch and the install, from source/_install.py)\n"


def read_source(assignment):
    """The cells of ``assignment``'s source (a key), the shared first lines of ``source/_install.py`` in place."""
    with open(os.path.join(source_dir(), ASSIGNMENTS[assignment].source), encoding="utf-8") as f:
        text = f.read()
    with open(os.path.join(source_dir(), "_install.py"), encoding="utf-8") as f:
        shared = f.read().split('"""\n\n', 1)[1]          # without the file's docstring
    return parse(text.replace(INSTALL_LINE, shared))


class Cell:
    def __init__(self, kind, source, metadata):
        self.kind = kind                  # 'code' or 'markdown'
        self.source = source
        self.metadata = metadata


def parse(text):
    """The cells of a percent-format source."""
    cells, kind, meta, lines = [], None, {}, []

    def flush():
        if kind is not None:
            body = "\n".join(lines).strip("\n")
            cells.append(Cell(kind, body, meta))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            header = line[4:].strip()
            kind = "code"
            if header.startswith("[markdown]"):
                kind = "markdown"
                header = header[len("[markdown]"):].strip()
            meta = _metadata(header)
            lines = []
        elif kind is None:
            continue                      # the file's docstring before the first cell
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        else:
            lines.append(line)
    flush()
    return cells


def _metadata(header):
    meta = {}
    for m in re.finditer(r'(\w+)=(\[[^\]]*\]|"[^"]*"|\S+)', header):
        meta[m.group(1)] = json.loads(m.group(2))
    return meta


def strip_solutions(source):
    """Replace every BEGIN/END SOLUTION block by the stub, at the block's indentation."""
    out, inside, indent = [], False, ""
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.extend(indent + s for s in STUB.splitlines())
        elif stripped == END:
            if not inside:
                raise ValueError(f"{END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END}")
    return "\n".join(out)


def _lines(text):
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def notebook(assignment, version, hints="formula", install=DEFAULT_INSTALL):
    """The notebook of ``assignment`` (a key) as a dict: version 'student' or 'teacher'."""
    if version not in ("student", "teacher"):
        raise ValueError(f"version must be 'student' or 'teacher', got {version!r}")
    check_hints(hints)
    a = ASSIGNMENTS[assignment]
    cells = read_source(assignment)
    out, used = [], set()
    for k, cell in enumerate(cells):
        source = cell.source
        if cell.kind == "code":
            if version == "student":
                source = strip_solutions(source)
            source = re.sub(r'^HINTS = "[^"]*"', f'HINTS = "{hints}"', source, flags=re.M)
            source = re.sub(r'^INSTALL = "[^"]*"', f'INSTALL = "{install}"', source, flags=re.M)
        meta = dict(cell.metadata)
        grading = nbgrader_metadata(cell, f"{a.key}-{k:03d}", used)
        if grading:
            meta["nbgrader"] = grading
        entry = {"cell_type": cell.kind, "id": f"{a.key}-{k:03d}", "metadata": meta, "source": _lines(source)}
        if cell.kind == "code":
            entry.update(execution_count=None, outputs=[])
        out.append(entry)
    return {"cells": out, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "minieleatt": {"assignment": a.key, "version": version}},
        "nbformat": 4, "nbformat_minor": 5}


def nbgrader_metadata(cell, cell_id, used):
    """nbgrader's cell metadata: a solution cell (the student writes it), or an autograded test cell (a
    ``check("...")`` cell: its grade_id is the target, its points those of the parts it checks); else None."""
    if cell.kind != "code":
        return None
    if BEGIN in cell.source:
        return {"grade": False, "grade_id": cell_id, "locked": False, "schema_version": 3, "solution": True,
                "task": False}
    if "check" in cell.metadata.get("tags", []):
        targets = re.findall(r"""check\(\s*["']([\w.]+)["']""", cell.source)
        if not targets:
            return None
        points = 0
        for target in targets:
            _, parts = find_part(target)
            points += sum(p.points for p in parts)
        grade_id = "+".join(targets)
        while grade_id in used:
            grade_id += "-again"
        used.add(grade_id)
        return {"grade": True, "grade_id": grade_id, "locked": True, "points": points, "schema_version": 3,
                "solution": False, "task": False}
    return None


def dumps(nb):
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def notebook_name(assignment):
    return os.path.splitext(ASSIGNMENTS[assignment].source)[0] + ".ipynb"


README = """# {title}

Built by `minieleatt assignment build` (or `python -m course build`) from the sources in the repository's
`course/source/`.

- `student/`: the notebooks to hand out. Every function to write ends in `raise NotImplementedError`;
  each check cell grades its part on the student's functions (`check("gate.backward")`), with
  hints at the level `{hints}`.
- `teacher/`: the same notebooks with the model solutions (between `### BEGIN SOLUTION` and
  `### END SOLUTION`). Keep them from the students.

Grade a returned notebook (or a .py with the same functions):

    minieleatt assignment grade assignment1_gate_and_rnn.ipynb --hints location --json results.json

The exit status is 0 only on full marks; `results.json` has Gradescope's shape.
"""


def build(out_dir, hints="formula", install=DEFAULT_INSTALL, assignments=None):
    """Write the student and teacher notebooks of every assignment (or of ``assignments``) under
    ``out_dir``; returns the paths written."""
    check_hints(hints)
    keys = list(ASSIGNMENTS) if assignments is None else list(assignments)
    for key in keys:
        if key not in ASSIGNMENTS:
            raise ValueError(f"unknown assignment {key!r}; the assignments are {list(ASSIGNMENTS)}")
    written = []
    for version in ("student", "teacher"):
        folder = os.path.join(out_dir, version)
        os.makedirs(folder, exist_ok=True)
        for key in keys:
            path = os.path.join(folder, notebook_name(key))
            _write(path, dumps(notebook(key, version, hints, install)))
            written.append(path)
    path = os.path.join(out_dir, "README.md")
    _write(path, README.format(title="The minieleatt assignments", hints=hints))
    written.append(path)
    return written


def _write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)
