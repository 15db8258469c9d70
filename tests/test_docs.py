"""The documentation site builds with zero warnings, and what it promises is on its pages.

One build per session, with the documented command (``python -m sphinx -W -b html docs OUT``) into a
fresh folder, so the tutorials are executed (``MINIELEATT_FAST=1``) as on a reader's clone. Set
``MINIELEATT_DOCS_BUILD`` to a folder that holds a finished build to check it without rebuilding.
Then, by parsing the HTML: every page the site promises exists (every notebook under ``tutorials/``,
every table under ``benchmarks/``); every internal link, anchor and image resolves; the API pages
document every public name, derived from the package (``__all__``, and the public functions and
classes of the modules without one), so the list cannot drift; the commands' page shows every
subcommand the parser has. Skips, saying so, when the docs extra (Sphinx, myst-nb, furo) is missing.
"""

import importlib
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BUILD_TIMEOUT = 900          # seconds; the build executes every tutorial

for _module in ("sphinx", "myst_nb", "furo", "sphinx-mathjax-offline"):     # the last one's name has hyphens
    try:
        importlib.import_module(_module)
    except ImportError:
        pytest.skip(f"the documentation needs the docs extra ({_module} is not installed): "
                    f"pip install '.[docs]'", allow_module_level=True)

pytestmark = pytest.mark.slow

# The packages whose __all__ is their public API, and the modules (without __all__) whose public
# functions and classes all belong on the API pages.
PACKAGES = ["minieleatt", "minieleatt.functional", "minieleatt.data", "minieleatt.interop", "minieleatt.exercises",
            "minieleatt.model"]
MODULES = ["minieleatt.layers", "minieleatt.errors", "minieleatt.backend", "minieleatt.implementations", "minieleatt.nn", "minieleatt.optim", "minieleatt.train",
           "minieleatt.recipe", "minieleatt.runs", "minieleatt.provenance", "minieleatt.analysis",
           "minieleatt.checkpoint", "minieleatt.gradcheck", "minieleatt.cellcheck", "minieleatt.data.sources",
           "minieleatt.experiment", "minieleatt.sweep", "minieleatt.atomic", "minieleatt.viz", "minieleatt.crosscheck", "minieleatt.doctor",
           "minieleatt.functional.gate", "minieleatt.functional.rnn", "minieleatt.functional.lstm",
           "minieleatt.functional.gru", "minieleatt.functional.scan", "minieleatt.functional.activations",
           "minieleatt.model.run", "minieleatt.model.estimator", "minieleatt.model.attention"]
# The modules whose public names are not all API, and why; a new module must join one of these three lists.
NOT_API = {
    "minieleatt.__main__": "runs the command line",
    "minieleatt.cli": "the commands' page documents it, from the parser",
    "minieleatt.fast.": "implementations of the reference's functions, chosen by impl=",
    "minieleatt.functional.checks": "argument checks; its public names are in minieleatt.functional.__all__",
    "minieleatt.data.": "its public names are in minieleatt.data.__all__",
    "minieleatt.interop.": "its public names are in minieleatt.interop.__all__",
    "minieleatt.exercises.": "the course's machinery (problems, grader, handouts, bug zoo): its entry points are "
                             "minieleatt.exercises.__all__ and `minieleatt assignment`",
}


# --------------------------------------------------------------------------- the build

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The folder of a finished HTML build."""
    given = os.environ.get("MINIELEATT_DOCS_BUILD")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("docs") / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-T", "-b", "html", "-q", str(DOCS), str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, f"the docs build failed ({seconds:.0f} s):\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
    print(f"docs built in {seconds:.0f} s")
    return out


class _Page(HTMLParser):
    """The ids, links, images, classes and text of one HTML page."""

    def __init__(self):
        super().__init__()
        self.ids, self.links, self.images, self.classes, self.text = set(), [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if attrs.get("class"):
            self.classes.extend(attrs["class"].split())
        if tag in ("a", "link") and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("img", "script") and attrs.get("src"):
            (self.images if tag == "img" else self.links).append(attrs["src"])

    def handle_data(self, data):
        self.text.append(data)


_PAGES = {}


def page(path):
    path = Path(path)
    if path not in _PAGES:
        parser = _Page()
        parser.feed(path.read_text(encoding="utf-8"))
        parser.text = "".join(parser.text)
        _PAGES[path] = parser
    return _PAGES[path]


def html_pages(site):
    return sorted(p for p in site.rglob("*.html") if "_sources" not in p.parts)


def _notebooks():
    return sorted(p.relative_to(ROOT / "tutorials").with_suffix("")
                  for p in (ROOT / "tutorials").rglob("*.ipynb")
                  if "solutions" not in p.parts and ".ipynb_checkpoints" not in p.parts)


# --------------------------------------------------------------------------- the pages

def test_the_promised_pages_exist(site):
    expected = ["index", "maths", "tutorials", "commands", "benchmarks", "results", "api/index", "api/layers",
                "api/functional", "api/gradcheck", "api/data", "api/interop"]
    expected += [f"tutorials/{nb.as_posix()}" for nb in _notebooks()]
    expected += [f"benchmarks/{p.stem}" for p in sorted((ROOT / "benchmarks").glob("*.md"))]
    missing = [name for name in expected if not (site / f"{name}.html").is_file()]
    assert not missing, f"pages missing from the build: {missing}"


def test_the_landing_page_has_the_readme_commands_and_example(site):
    text = page(site / "index.html").text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in first_block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2 and commands[0].startswith("python3 -m venv")     # the main job, then the tests
    for line in commands + ["from minieleatt import EleAttGRU", "layer.backward(np.ones_like(hs), cache)"]:
        assert line in text, f"the landing page lacks {line!r}"


def test_internal_links_anchors_and_images_resolve(site):
    broken = []
    for path in html_pages(site):
        p = page(path)
        for url in p.links + p.images:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:")):
                continue
            target = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{path.relative_to(site)}: {url} (no such file)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in page(target).ids:
                broken.append(f"{path.relative_to(site)}: {url} (no such anchor)")
    assert not broken, "broken links or images:\n" + "\n".join(broken[:50])


def test_the_tutorials_are_rendered_with_their_outputs_and_figures(site):
    have_uea = any(importlib.util.find_spec(m) for m in ("aeon", "sktime"))
    for nb in _notebooks():
        p = page(site / "tutorials" / f"{nb.as_posix()}.html")
        assert "cell_output" in p.classes, f"tutorials/{nb} shows no output: was it executed?"
        source = (ROOT / "tutorials" / f"{nb.as_posix()}.ipynb").read_text(encoding="utf-8")
        cells = [c["source"] for c in json.loads(source)["cells"] if c["cell_type"] == "code"]
        cells = ["".join(c) if isinstance(c, list) else c for c in cells]
        # a cell that draws unconditionally (a handout's cell that draws once the student's code runs is
        # guarded by `except NotImplementedError`), in a notebook that does not need the optional UEA files
        draws = any(("plt.show()" in c or "plt.subplots" in c) and "except" not in c for c in cells)
        needs_uea = "find_uea" in source          # without the UEA files such a notebook skips its training
        if draws and (have_uea or not needs_uea):
            assert p.images, f"tutorials/{nb} draws figures but its page shows none"


def test_the_maths_page_shows_the_equations_and_every_step_backward(site):
    p = page(site / "maths.html")
    assert p.classes.count("math") >= 10, "the maths page has too few equations"
    F = importlib.import_module("minieleatt.functional")
    backwards = [name for name in F.__all__ if name.endswith("step_backward")]
    assert len(backwards) == 4
    for name in backwards:
        assert f"def {name}(" in p.text, f"the maths page does not show the code of {name}"
    # MathJax comes with the site (sphinx-mathjax-offline): the equations render without a network
    mathjax = [src for src in p.links if "mathjax" in src.lower()]
    assert mathjax, "the maths page loads no MathJax"
    for src in mathjax:
        assert urlsplit(src).scheme == "" and not src.startswith("//"), f"MathJax from the network: {src}"
        assert (site / urlsplit(src).path).is_file(), f"MathJax missing from the site: {src}"


def _public_names():
    """(package or module, name) for every public name of the package."""
    names = []
    for package in PACKAGES:
        names += [(package, name) for name in importlib.import_module(package).__all__]
    for modname in MODULES:
        module = importlib.import_module(modname)
        for name, obj in vars(module).items():
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)) \
                    and obj.__module__ == modname:
                names.append((modname, name))
    return names


def _documented(where, name, ids):
    """Whether an API page documents ``where.name``: under that path, or under any other import path
    that gives the same object (a name re-exported by a package may be documented where it is defined)."""
    if f"{where}.{name}" in ids or any(i.startswith(where + ".") and i.endswith("." + name) for i in ids):
        return True
    obj = getattr(importlib.import_module(where), name)
    for i in ids:
        if i.endswith("." + name) and i.startswith("minieleatt"):
            try:
                if getattr(importlib.import_module(i[: -len(name) - 1]), name, None) is obj:
                    return True
            except ImportError:
                continue
    return False


def test_every_module_is_documented_or_said_not_to_be_api():
    import pkgutil

    import minieleatt

    listed = set(PACKAGES) | set(MODULES)
    unlisted = [m.name for m in pkgutil.walk_packages(minieleatt.__path__, "minieleatt.")
                if m.name not in listed and not any(m.name == k.rstrip(".") or (k.endswith(".") and m.name.startswith(k))
                                                    for k in NOT_API)]
    assert not unlisted, (f"modules neither in the API lists of tests/test_docs.py nor in NOT_API: {unlisted}; "
                          f"document them on a page of docs/api/ and list them in MODULES, or say why not in NOT_API")


def test_the_api_pages_document_every_public_name(site):
    ids = set().union(*(page(p).ids for p in (site / "api").glob("*.html")))
    missing = [f"{where}.{name}" for where, name in _public_names() if not _documented(where, name, ids)]
    assert not missing, f"public names missing from the API pages: {missing}"


def test_the_api_pages_show_shapes(site):
    text = page(site / "api" / "functional.html").text
    for shape in ("(T, B, D)", "(B, H)", "(D, D)"):
        assert shape in text


def test_the_commands_page_has_every_subcommand_and_option(site):
    from minieleatt.cli import build_parser

    p = page(site / "commands.html")
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    for name, sub in subparsers.items():
        assert f"command-{name}" in p.ids, f"the commands page has no section for `minieleatt {name}`"
        for action in sub._actions:
            for option in action.option_strings:
                assert option in p.text, f"`minieleatt {name} {option}` is missing from the commands page"


def test_the_results_page_shows_the_recorded_comparison(site):
    p = page(site / "results.html")
    assert "3-GRU" in p.text and "test acc." in p.text
    names = [Path(urlsplit(src).path).name for src in p.images]
    for figure in ("loss_curves", "accuracy", "attention_skeleton"):
        assert any(n.startswith(figure) for n in names), f"the results page lacks the figure {figure}.png"
