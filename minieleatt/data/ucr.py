"""The UCR archive's own text format (``X_TRAIN.tsv``, ``X_TRAIN.txt``): one case a line.

    1	-0.64	-0.64	-0.65	...        the class label first, then the values of the (one) channel

Values are separated by tabs (the 2018 archive's ``.tsv``), commas, or runs of spaces (the
older ``.txt``, whose labels are written as floats, ``1.0000000e+00``, and are read as ``1``).
Unequal lengths are padded with ``NaN`` at the end of the line; a ``NaN`` inside the values is a
missing value. Blank lines and ``#`` comment lines are skipped. Every format problem is a
``DataFormatError`` naming the file and the line.
"""

import os
import re

import numpy as np

from ..errors import DataFormatError
from .ts import TSFile, _clip, _decode_lines

_SEPARATORS = re.compile(r"[\t,]|\s+")
_MISSING = ("nan", "NaN", "NAN", "?")


def read_ucr_file(path, dtype=np.float64):
    """Read a UCR text file: a ``TSFile`` with univariate ``(T_i, 1)`` cases (trailing NaN padding cut
    off, inner NaN kept as missing), the labels as strings, and a header with ``problemname`` (from
    the file name), ``univariate`` and ``classlabels`` (the labels in sorted order: numbers by value)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        lines = _decode_lines(f.read(), path)
    cases, labels, numbers = [], [], []
    for i, line in enumerate(lines):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        number = i + 1
        tokens = _SEPARATORS.split(text) if "\t" not in text and "," not in text else re.split(r"[\t,]", text)
        tokens = [t.strip() for t in tokens]
        label = _label(tokens[0], path, number)
        values = _values(tokens[1:], path, number)
        cases.append(values[:, None].astype(dtype, copy=False))
        labels.append(label)
        numbers.append(number)
    if not cases:
        raise DataFormatError("no case in the file (empty?)", path, None)
    stem = os.path.basename(path)
    for suffix in (".tsv", ".txt", ".csv"):
        stem = stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem
    for suffix in ("_TRAIN", "_TEST"):
        stem = stem[: -len(suffix)] if stem.upper().endswith(suffix) else stem
    header = {"problemname": stem, "univariate": True, "classlabel": True, "classlabels": sort_labels(labels)}
    return TSFile(cases, labels, header, numbers, path)


def sort_labels(labels):
    """The distinct labels, in numeric order where they are all numbers, else in text order."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return sorted(distinct)


def _label(token, path, number):
    if not token:
        raise DataFormatError("the line starts with an empty class label", path, number)
    if token in _MISSING:
        raise DataFormatError(f"the class label (the first field) is missing: {_clip(token)}", path, number)
    try:
        value = float(token)
    except ValueError:
        return token                             # a label written as text
    if not np.isfinite(value):
        raise DataFormatError(f"the class label (the first field) is not finite: {_clip(token)}", path, number)
    return str(int(value)) if value == int(value) else token


def _values(tokens, path, number):
    if not tokens:
        raise DataFormatError("a class label with no values after it (one case a line: the label, then the "
                              "values)", path, number)
    values = np.empty(len(tokens))
    for k, tok in enumerate(tokens):
        if not tok:
            raise DataFormatError(f"value {k + 1} is empty (two separators in a row?)", path, number)
        if tok in _MISSING:
            values[k] = np.nan
            continue
        try:
            values[k] = float(tok)
        except ValueError:
            raise DataFormatError(f"value {k + 1} is not a number: {_clip(tok)}", path, number) from None
        if np.isinf(values[k]):
            raise DataFormatError(f"value {k + 1} is infinite: {_clip(tok)}", path, number)
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size == 0:
        raise DataFormatError("every value of the case is NaN (an empty case)", path, number)
    return values[: valid[-1] + 1]
