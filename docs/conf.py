"""Sphinx configuration of the minieleatt site.

Build it from the repository root (warnings are errors):

    python -m sphinx -W -b html docs docs/_build/html

The notebooks of ``../tutorials`` and the Markdown tables of ``../benchmarks`` are copied,
at the start of every build, into ``docs/tutorials`` and ``docs/benchmarks``: build-only
copies that git ignores (edit the originals). The notebooks are executed at every build with
``MINIELEATT_FAST=1``, so the pages never show stale outputs, and the notebooks in the
repository stay without outputs.
"""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))               # document this checkout, installed or not
sys.path.insert(0, str(DOCS / "_ext"))

# The notebooks' kernels inherit this environment: small sizes, this checkout first on the path.
os.environ["MINIELEATT_FAST"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
os.environ.pop("MPLBACKEND", None)          # the kernels draw with matplotlib's inline backend

import minieleatt  # noqa: E402


def _copy_tree(src, dst, keep):
    """Replace ``dst`` by the files of ``src`` that ``keep`` accepts (a build-only copy, times kept)."""
    shutil.rmtree(dst, ignore_errors=True)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_file() and keep(rel) and not any(part.startswith(".") or part in ("runs", "__pycache__")
                                                   for part in rel.parts):
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dst / rel)


# every notebook under tutorials/ (and what they read beside them); every table under benchmarks/
_copy_tree(ROOT / "tutorials", DOCS / "tutorials", keep=lambda rel: "solutions" not in rel.parts)  # answers apart
_copy_tree(ROOT / "benchmarks", DOCS / "benchmarks", keep=lambda rel: rel.suffix == ".md")

project = "minieleatt"
author = "the minieleatt developers"
copyright = "the minieleatt developers, MIT licence"
release = version = minieleatt.__version__

extensions = [
    "myst_nb",                      # Markdown pages and the executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",       # MathJax copied into the site: the maths renders without a network
    "sphinx.ext.viewcode",
    "minieleatt_docs",              # the commands' --help, field comments (docs/_ext)
]

exclude_patterns = [
    "_build", "**/.ipynb_checkpoints", "**/__pycache__",
    "tutorials/**.md",              # the folder's README: the tutorials page says what it says
    "results/**",                   # a recorded run of `minieleatt compare`, included by results.md
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# --------------------------------------------------------------------------- notebooks (myst-nb)
nb_execution_mode = "force"         # run every notebook at every build: no stale outputs
nb_execution_timeout = 300          # seconds per cell
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_execution_in_temp = False        # run in the notebook's own folder, as a reader would
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# --------------------------------------------------------------------------- API reference
autodoc_member_order = "bysource"
autodoc_typehints = "none"          # the docstrings say what each argument is, shapes included
autodoc_default_options = {"members": True, "undoc-members": True}
autodoc_inherit_docstrings = False  # an override without a docstring says nothing (not torch's words)
if importlib.util.find_spec("torch") is None:
    autodoc_mock_imports = ["torch"]    # the torch modules are documented without torch (signatures shorter)
napoleon_numpy_docstring = True
napoleon_google_docstring = False
add_module_names = False
python_display_short_literal_types = True

# --------------------------------------------------------------------------- HTML
html_theme = "furo"
html_title = f"minieleatt {release}"
html_static_path = ["_static"]
html_css_files = ["minieleatt.css"]    # a wider text column: code and tables readable at 1280 px
html_show_sourcelink = False
