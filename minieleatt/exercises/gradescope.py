"""The Gradescope autograder kit: ``minieleatt assignment gradescope OUT.zip`` writes it, Gradescope runs it.

The zip (uploaded as the assignment's autograder; Gradescope unpacks it into /autograder/source):

    setup.sh            run once when Gradescope builds the image (Ubuntu): a virtual environment with the
                        package, from the wheel in the zip (or the pip requirement given with --install)
    run_autograder      run for each submission: ``python -m minieleatt.exercises.gradescope``, which grades
                        the notebook (or .py) in /autograder/submission and writes /autograder/results/results.json
    minieleatt-*.whl    the package (unless --install names a git URL or another requirement)
    course/course.toml  the course file (points, hint level, limits, hidden cases), with the teacher's own
                        problems beside it
    secret.txt          the teacher's secret for the hidden cases (only with --secret)
    kit.json            the assignment to grade (or null: the notebook says) and how the kit was made

``AUTOGRADER_ROOT`` (default /autograder) and ``MINIELEATT_PYTHON`` (default the kit's virtual environment,
else python3) let the kit run anywhere, e.g. on a folder laid out like /autograder to try it locally:

    mkdir -p ag/submission ag/results && unzip kit.zip -d ag/source && cp work.ipynb ag/submission/
    AUTOGRADER_ROOT=$PWD/ag MINIELEATT_PYTHON=python bash ag/source/run_autograder && cat ag/results/results.json
"""

import glob
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image: Python 3 and the package.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
if ! python3 -m venv --help >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi
python3 -m venv "$ROOT/venv"
cd "$HERE"
"$ROOT/venv/bin/python" -m pip install -q {install}
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission: grade /autograder/submission, write /autograder/results/results.json.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${MINIELEATT_PYTHON:-$ROOT/venv/bin/python}"
if ! command -v "$PY" >/dev/null 2>&1; then PY=python3; fi
mkdir -p "$ROOT/results"
"$PY" -m minieleatt.exercises.gradescope "$ROOT"
exit 0
"""


def build_wheel(root, out_dir):
    """The package's wheel, built offline from the checkout at ``root`` (a copy of it: the checkout gets no
    build folder). Returns its path."""
    if not os.path.isfile(os.path.join(root, "pyproject.toml")):
        raise FileNotFoundError(f"no pyproject.toml at {root}: give the package as --wheel PATH or --install SPEC")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(os.path.join(root, name), os.path.join(tmp, name))
        shutil.copytree(os.path.join(root, "minieleatt"), os.path.join(tmp, "minieleatt"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                              "-q", ".", "-w", out_dir], cwd=tmp, capture_output=True, text=True)
        if run.returncode != 0:
            raise ValueError(f"building the wheel failed: {run.stderr.strip()[-500:]}")
    wheels = sorted(glob.glob(os.path.join(out_dir, "minieleatt-*.whl")))
    return wheels[-1]


def write_kit(out, course=None, secret=None, assignment=None, wheel=None, install=None, root=None):
    """Write the autograder zip at ``out``; returns its path.

    course: the course file (TOML) to bundle, with the problem files it names; secret: the hidden cases' secret
    (text or ``@FILE``); assignment: the assignment's key (default: the one each notebook names); wheel: the
    package's wheel to bundle (default: built from the checkout ``root``); install: a pip requirement to
    install instead (a git URL), bundling no wheel.
    """
    from .assignments import ASSIGNMENTS
    from .course import _toml, load
    from .grader import read_secret

    if assignment is not None and assignment not in ASSIGNMENTS:
        raise ValueError(f"unknown assignment {assignment!r}; the assignments are {list(ASSIGNMENTS)}")
    if wheel is not None and install is not None:
        raise ValueError("give the package as --wheel or as --install, not both")
    if not out.endswith(".zip"):
        out += ".zip"
    files = {}                                       # name in the zip -> (bytes, executable)
    if install is None:
        if wheel is None:
            tmp = tempfile.mkdtemp()
            wheel = build_wheel(root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                tmp)
        if not os.path.isfile(wheel):
            raise FileNotFoundError(f"no wheel at {wheel}")
        with open(wheel, "rb") as f:
            files[os.path.basename(wheel)] = (f.read(), False)
        install = f'"./{os.path.basename(wheel)}"'
    else:
        install = '"' + install.replace('"', '') + '"'
    files["setup.sh"] = (SETUP_SH.format(install=install).encode(), True)
    files["run_autograder"] = (RUN_AUTOGRADER.encode(), True)
    if course is not None:
        load(course)                              # checked now, not on Gradescope
        folder = os.path.dirname(os.path.abspath(course))
        with open(course, "rb") as f:
            files["course/course.toml"] = (f.read(), False)
        for rel in _toml(course).get("problems", {}).get("files", []):
            with open(os.path.join(folder, rel), "rb") as f:
                files["course/" + os.path.normpath(rel).replace(os.sep, "/")] = (f.read(), False)
    if secret:
        files["secret.txt"] = ((read_secret(secret) + "\n").encode(), False)
    files["kit.json"] = (json.dumps({"assignment": assignment, "course": course is not None,
                                     "hidden_cases": bool(secret)}, indent=1).encode(), False)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, (data, executable) in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = ((0o755 if executable else 0o644) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out


# ----------------------------------------------------------------------------- on Gradescope

def _submission(folder, assignment):
    """The notebook (else the .py) in the submission folder; with several, the one named like the handout."""
    found = [p for pattern in ("*.ipynb", "*/*.ipynb", "*.py", "*/*.py")
             for p in sorted(glob.glob(os.path.join(folder, pattern)))]
    if not found:
        raise FileNotFoundError("the submission holds no notebook (.ipynb) nor .py file")
    if assignment is not None:
        from .handout import notebook_name
        for p in found:
            if os.path.basename(p) == notebook_name(assignment):
                return p
    return found[0]


def run(root):
    """Grade the submission under ``root`` (/autograder) with the kit in ``root/source``; write
    ``root/results/results.json`` (Gradescope's format) whatever happens. Returns the result written."""
    from .course import Course, load
    from .grader import grade_file

    source = os.path.join(root, "source")
    results = os.path.join(root, "results", "results.json")
    os.makedirs(os.path.dirname(results), exist_ok=True)
    try:
        with open(os.path.join(source, "kit.json"), encoding="utf-8") as f:
            kit = json.load(f)
        course_file = os.path.join(source, "course", "course.toml")
        course = load(course_file) if os.path.isfile(course_file) else None
        settings = course or Course()
        secret_file = os.path.join(source, "secret.txt")
        path = _submission(os.path.join(root, "submission"), kit.get("assignment"))
        report = grade_file(path, assignment=kit.get("assignment"), hints=settings.hints, timeout=settings.timeout,
                            memory_mb=settings.memory_mb,
                            secret="@" + secret_file if os.path.isfile(secret_file) else None,
                            hidden_share=settings.hidden_share, hidden_visibility=settings.hidden_visibility,
                            course=course)
        result = report.to_json()
    except Exception as exc:  # noqa: BLE001 - Gradescope shows this to the student; a result is always written
        result = {"score": 0, "output": f"the submission could not be graded: {type(exc).__name__}: {exc}",
                  "visibility": "visible", "stdout_visibility": "hidden", "tests": []}
    tmp = results + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, results)
    return result


if __name__ == "__main__":
    run(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AUTOGRADER_ROOT", "/autograder"))
