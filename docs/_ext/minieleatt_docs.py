"""Sphinx helpers for the minieleatt site: generated, never copied.

- ``.. minieleatt-commands::`` runs the command line's parser (``minieleatt.cli.build_parser``) and
  prints the ``--help`` of the program and of every subcommand it has, one section each, so the
  page follows the parser as it changes (a new subcommand appears without editing the docs).
- ``.. autoconstants:: package`` documents the constants of a package's ``__all__``.
- Notebooks are read, and so executed, at every build, not only when they changed.
- Field comments: the package documents the fields of its named tuples and dataclasses with a
  trailing comment (``x_t: object  # (B, D) the step's input``), which autodoc cannot see. For an
  attribute without a docstring (or with a named tuple's "Alias for field number N"), the comment
  on its line in the class's source becomes its description, shapes included.
"""

import argparse
import importlib
import inspect
import io
import os
import re
import sys
from contextlib import redirect_stdout

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

HELP_WIDTH = 100          # columns argparse wraps the help text to


def _subcommands(parser):
    """The ``{name: subparser}`` of the parser's subcommands, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(parser):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(HELP_WIDTH)
    try:
        out = io.StringIO()
        with redirect_stdout(out):
            parser.print_help()
        return out.getvalue().rstrip()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


class CommandsDirective(Directive):
    """``minieleatt --help``, then a section per subcommand with its ``--help``."""

    has_content = False

    def _section(self, title, ident, text):
        section = nodes.section(ids=[ident], names=[nodes.fully_normalize_name(title)])
        section += nodes.title(title, "", nodes.literal(title, title))
        section += nodes.literal_block(text, text, language="none")
        self.state.document.note_implicit_target(section)
        return section

    def run(self):
        from minieleatt.cli import build_parser

        env = self.state.document.settings.env
        env.note_dependency(os.path.abspath(inspect.getsourcefile(build_parser)))
        parser = build_parser()
        out = [nodes.literal_block(_help(parser), _help(parser), language="none")]
        for name, sub in _subcommands(parser).items():
            out.append(self._section(f"minieleatt {name}", f"command-{name}", _help(sub)))
        return out


class ConstantsDirective(Directive):
    """``.. autoconstants:: package``: an ``autodata`` for every constant in the package's ``__all__``.

    autodoc documents a module's constants only when they carry a ``#:`` comment in that very module,
    so the constants that a package re-exports would be left out silently. Their description is the
    comment beside or above their assignment (see the field comments below); a long value (an array)
    is not printed.
    """

    required_arguments = 1
    has_content = False
    MAX_VALUE_CHARS = 120

    def run(self):
        module = importlib.import_module(self.arguments[0])
        lines = []
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if callable(obj) or inspect.ismodule(obj):
                continue
            lines += [f".. autodata:: {module.__name__}.{name}"]
            if len(repr(obj)) > self.MAX_VALUE_CHARS:
                lines += ["   :no-value:"]
            lines += [""]
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source=f"autoconstants of {module.__name__}"), self.content_offset,
                                node)
        return node.children


# ----------------------------------------------------------------------------- docstrings
#
# The package's docstrings are plain text written to be read in the source (CS231n style): equations
# and examples as indented blocks, arguments as "name: description" lines. Two rules make reST of them
# without touching the source: an indented block after a plain paragraph is a literal block (as if the
# paragraph ended with "::"), and a paragraph that starts with "name:" and has another such line keeps
# its line breaks (a line block). Paragraphs that are already reST (directives, fields, lists, doctests, "::") are left alone.

_ARGUMENT_LINE = re.compile(r"^[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*:\s")
_RST_START = re.compile(r"^(\.\. |:|>>>|[-*+] |\d+[.)] |#\. |\|)")


def _indent(line):
    return len(line) - len(line.lstrip())


def _runs(para):
    """Split a paragraph's lines into runs of unindented and indented lines."""
    runs = []
    for line in para:
        indented = _indent(line) > 0
        if runs and runs[-1][0] == indented:
            runs[-1][1].append(line)
        else:
            runs.append((indented, [line]))
    return runs


def plain_docstring_to_rst(lines):
    """The docstring's lines (dedented, as autodoc gives them) with the two rules above applied."""
    out, i, n = [], 0, len(lines)
    previous = None                                    # the last top-level paragraph written
    while i < n:
        if not lines[i].strip():
            out.append(lines[i])
            i += 1
            continue
        if _indent(lines[i]) > 0:                      # an indented block after a blank line
            j = i
            while j < n and (not lines[j].strip() or _indent(lines[j]) > 0):
                j += 1
            if previous is not None and not previous[-1].rstrip().endswith("::") \
                    and not _RST_START.match(previous[0]):
                out += ["::", ""]
            out += lines[i:j]
            i = j
            continue
        j = i
        while j < n and lines[j].strip():
            j += 1
        para, i = lines[i:j], j
        previous = para
        if _RST_START.match(para[0]) or para[-1].rstrip().endswith("::"):
            out += para
        elif _ARGUMENT_LINE.match(para[0]) and sum(bool(_ARGUMENT_LINE.match(line)) for line in para) >= 2:
            out += [("   " + line.strip()) if _indent(line) else ("| " + line) for line in para]
        else:                                          # indented lines inside a paragraph: literal too
            runs = _runs(para)
            for k, (indented, run) in enumerate(runs):
                if k:
                    out.append("")
                if indented:
                    if not runs[k - 1][1][-1].rstrip().endswith("::"):
                        out += ["::", ""]
                    previous = ["::"]
                out += run
    return out


def _plain_docstrings(app, what, name, obj, options, lines):
    lines[:] = plain_docstring_to_rst(lines)


# ----------------------------------------------------------------------------- field comments

_FIELD = re.compile(r"^\s*(?P<name>[A-Za-z_]\w*)\s*(?::[^#=]*)?(?:=[^#]*)?#\s*(?P<comment>.+?)\s*$")
_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*(?::[^=]*)?=")
_ALIAS = re.compile(r"^Alias for field number \d+$")
_RST_SPECIAL = re.compile(r"([*`|\\])")


def _escape(text):
    """Plain text as reST: no markup characters, no trailing-underscore references."""
    return re.sub(r"(\w)_(?=\W|$)", r"\1\\_", _RST_SPECIAL.sub(r"\\\1", text))


def _parent_class(fullname):
    """The class that holds the attribute ``fullname`` (module.Class.attr), or None."""
    parts = fullname.split(".")
    for i in range(len(parts) - 2, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:-1]:
            obj = getattr(obj, attr, None)
        return obj if inspect.isclass(obj) else None
    return None


def field_comment(cls, name):
    """The trailing comment on the line that declares ``name`` in ``cls``'s body, or None."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return None
    for line in lines[1:]:
        m = _FIELD.match(line)
        if m and m.group("name") == name:
            return m.group("comment")
    return None


def constant_comment(module, name):
    """The comment of a module-level ``name = ...``: on its line, or the comment lines just above it."""
    try:
        lines = inspect.getsource(module).splitlines()
    except (OSError, TypeError):
        return None
    for k, line in enumerate(lines):
        m = _ASSIGN.match(line)
        if not m or m.group("name") != name:
            continue
        trailing = _FIELD.match(line)
        if trailing and trailing.group("name") == name:
            return trailing.group("comment").lstrip(":").strip()
        above = []
        while k > 0 and lines[k - 1].startswith("#"):
            k -= 1
            above.insert(0, lines[k].lstrip("#").lstrip(":").strip())
        return " ".join(above) or None
    return None


def _assigns(module, name):
    """Whether ``module``'s source assigns ``name`` at its top level."""
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return False
    return any((m := _ASSIGN.match(line)) and m.group("name") == name for line in source.splitlines())


def _defining_module(fullname, obj):
    """The module of the package that assigns ``obj`` to its name (a constant re-exported elsewhere)."""
    package, name = fullname.rsplit(".", 1)
    root = package.split(".")[0]
    for modname, module in sorted(sys.modules.items()):
        if (modname == root or modname.startswith(root + ".")) and getattr(module, name, None) is obj \
                and _assigns(module, name):
            return module
    return None


def _use_source_comments(app, what, name, obj, options, lines):
    text = [line.strip() for line in lines if line.strip()]
    if what == "attribute":
        if text and not (len(text) == 1 and _ALIAS.match(text[0])):
            return
        cls = _parent_class(name)
        comment = None if cls is None else field_comment(cls, name.rsplit(".", 1)[-1])
    elif what == "data":          # a constant has no docstring of its own (autodoc shows its type's)
        module = _defining_module(name, obj)
        comment = None if module is None else constant_comment(module, name.rsplit(".", 1)[-1])
    else:
        return
    lines[:] = [_escape(comment)] if comment else []


def _reread_notebooks(app, env, added, changed, removed):
    """Read (so execute) every notebook at every build, even when the notebook itself did not change:
    its outputs depend on the library, which may have."""
    if app.config.nb_execution_mode == "off":
        return []
    return [d for d in env.found_docs if str(env.doc2path(d)).endswith(".ipynb") and d not in added | changed]


def setup(app):
    app.add_directive("minieleatt-commands", CommandsDirective)
    app.add_directive("autoconstants", ConstantsDirective)
    app.connect("env-get-outdated", _reread_notebooks)
    app.connect("autodoc-process-docstring", _use_source_comments)
    app.connect("autodoc-process-docstring", _plain_docstrings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

