"""One reader for every labelled file a user may hold, chosen by the file's extension.

=================================  ==============================================================
extension                          format
=================================  ==============================================================
``.ts``                            UEA/UCR ``.ts`` (``minieleatt.data.ts``), any number of channels
``.tsv``, ``.txt``, ``.csv``       the UCR archive's text format (``minieleatt.data.ucr``), univariate
``.npz``                           NumPy arrays ``X`` (any form of ``minieleatt.data.arrays``) and,
                                   optionally, ``y`` (the labels); read without pickle
=================================  ==============================================================

``read_labelled_file(path)`` returns a ``TSFile``: the cases as time-major ``(T_i, C)`` float64
arrays (NaN for missing values), the labels as strings (None when the file has none), a header
(``problemname``, ``classlabels``), the line (or, for ``.npz``, the case number) of every case, and
the path. Errors are ``DataFormatError`` naming the file and the line.
"""

import os
import zipfile

import numpy as np

from ..errors import DataFormatError
from .arrays import as_cases
from .ts import TSFile, read_ts_file
from .ucr import read_ucr_file, sort_labels

TEXT_SUFFIXES = (".tsv", ".txt", ".csv")
SUFFIXES = (".ts",) + TEXT_SUFFIXES + (".npz",)


def read_labelled_file(path, dtype=np.float64):
    """Read ``path`` by its extension (see the module docstring); a ``TSFile``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".ts":
        return read_ts_file(path, dtype)
    if suffix == ".npz":
        return read_npz_file(path, dtype)
    if suffix in TEXT_SUFFIXES:
        return read_ucr_file(path, dtype)
    raise DataFormatError(f"unknown file type {suffix or '(no extension)'!r}: expected one of "
                          f"{', '.join(SUFFIXES)}", path)


def read_npz_file(path, dtype=np.float64):
    """An ``.npz`` with ``X`` and optionally ``y``, read with ``allow_pickle=False``."""
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise DataFormatError("not a readable .npz file (an .npz is a zip of arrays, written by "
                                  "np.savez(path, X=X, y=y))", path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "X" not in data.files:
                raise DataFormatError(f"no array named 'X' (found {sorted(data.files) or 'none'}); save the cases "
                                      "with np.savez(path, X=X, y=y)", path)
            X = data["X"]
            y = data["y"] if "y" in data.files else None
    except DataFormatError:
        raise
    except ValueError:                 # a pickle, or an object array inside: pickles are never loaded here
        raise DataFormatError("holds pickled data (a pickle file, or an object array), which is never loaded: "
                              "store X as a numeric array (pad unequal lengths with NaN) and y as numbers or "
                              "strings, with np.savez(path, X=X, y=y)", path) from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise DataFormatError(f"not a readable .npz file ({type(exc).__name__}: {exc})", path) from None
    try:
        cases = [c.astype(dtype, copy=False) for c in as_cases(X, name="X")]
    except (TypeError, ValueError) as exc:
        raise DataFormatError(str(exc), path) from None
    labels = None
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(cases):
            raise DataFormatError(f"y has shape {y.shape}, expected ({len(cases)},): one label per case of X", path)
        if y.dtype.kind == "f":
            if not np.isfinite(y).all() or (y != np.round(y)).any():
                raise DataFormatError("y holds non-integer or non-finite numbers; class labels must be integers "
                                      "or strings", path)
            y = y.astype(np.int64)
        labels = [str(v) for v in y.tolist()]
    header = {"problemname": os.path.splitext(os.path.basename(path))[0]}
    if labels is not None:
        header.update(classlabel=True, classlabels=sort_labels(labels))
    return TSFile(cases, labels, header, list(range(1, len(cases) + 1)), path)
