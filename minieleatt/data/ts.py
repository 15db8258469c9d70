"""UEA/UCR ``.ts`` time-series files: reader, per-channel normalisation, batches, bundled sets.

Format::

    # comment lines (anywhere)
    @problemName BasicMotions          header tags, any case, one per line
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton
    @data
    v,v,v,...:v,v,v,...:...:Standing  one case per line: channels split by ':',
                                      values by ',', the class label last

``?`` is a missing value. Lengths may differ between cases (``@equalLength false``).

The pieces:

* ``read_ts(path)``: cases as time-major ``(T_i, C)`` arrays, labels, parsed header.
* ``ChannelNormalizer``: per-channel mean/std fitted on the training cases only.
* batches: ``minieleatt.data.iterate_batches`` pads them into ``x (T, B, C)``, ``mask (T, B)``, ``y (B,)``.
* ``find_uea`` / ``load_uea``: the small UEA sets bundled inside an installed
  ``aeon`` or ``sktime`` (found without importing those packages).
"""

import importlib.util
import os
from typing import NamedTuple

import numpy as np

from ..errors import DataFormatError

BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")
INTEGER_TAGS = ("dimensions", "serieslength")
KNOWN_TAGS = ("problemname",) + BOOLEAN_TAGS + INTEGER_TAGS + ("classlabel", "data")
_MISSING_TOKENS = ("?", "nan", "NaN", "NAN")
# '#' comments; '%' (ARFF-style) comments open aeon's bundled UnitTest files.
_COMMENT = ("#", "%")


# --------------------------------------------------------------------------- reading


def read_ts(path, dtype=np.float64):
    """Read a ``.ts`` file.

    Returns ``(cases, labels, header)``:

    * ``cases``: list of N arrays ``(T_i, C)`` of ``dtype`` (time-major), NaN where
      the file has ``?`` (``NaN`` in the file is read as missing too).
    * ``labels``: list of N strings exactly as in the file (for ``@targetLabel true``
      the regression targets, as strings), or None when the file declares no label
      (``@classLabel false`` and no ``@targetLabel true``).
    * ``header``: dict of the tags, keys lower-cased: ``'problemname'`` (str),
      ``'timestamps'``, ``'missing'``, ``'univariate'``, ``'equallength'``,
      ``'targetlabel'``, ``'classlabel'`` (bool), ``'dimensions'``,
      ``'serieslength'`` (int), and ``'classlabels'`` (list of str, the declared
      labels in file order) when ``@classLabel true``. Only tags present in the
      file appear, plus ``'classlabels'``.

    Comments (``#``, or ``%`` as in ARFF), blank lines, a UTF-8 byte-order mark, Windows or old Mac
    line ends are accepted; undecodable bytes are tolerated inside comments only.
    Timestamped files (``@timeStamps true``) are not supported.
    Raises ``DataFormatError`` with the file and 1-based line for every format problem.
    """
    ts = read_ts_file(path, dtype)
    return ts.cases, ts.labels, ts.header


class TSFile(NamedTuple):
    """A ``.ts`` file as ``read_ts_file`` returns it: ``read_ts``'s three results, plus ``lines``
    (the 1-based line of every case, for errors found later) and ``path``."""

    cases: list
    labels: object
    header: dict
    lines: list
    path: str


def read_ts_file(path, dtype=np.float64):
    """``read_ts`` that also keeps where each case is: returns a ``TSFile``."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    lines = _decode_lines(raw, path)
    header, data_line = _parse_header(lines, path)
    cases, labels, numbers = _parse_data(lines, data_line, header, path, dtype)
    return TSFile(cases, labels, header, numbers, path)


def check_range(cases, lines, path, limit=float(np.finfo(np.float32).max)):
    """Refuse values beyond ``±limit`` (by default the float32 range, the type training computes in),
    naming the file, the line, the channel and the step.

    ``cases``, ``lines`` and ``path`` as in a ``TSFile``. Below the limit,
    a channel's standardisation cannot overflow (its sums of squares stay far from the float64
    range) and standardised values are at most sqrt(number of values) in size, so they fit
    float32 too; above it, the float32 cast overflows or one huge value flattens the channel.
    """
    for case, number in zip(cases, lines):
        big = np.abs(case) > limit
        if big.any():
            t, c = (int(i) for i in np.argwhere(big)[0])
            raise DataFormatError(f"value {case[t, c]:g} (channel {c + 1}, step {t + 1}) is beyond the float32 "
                                  f"range ±{limit:.3g}; rescale the data", path, number)


def _decode_lines(raw, path):
    """Text lines (no line ends, no BOM); invalid UTF-8 is an error outside comments."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "\n".join(_decode_line(i, line, path)
                         for i, line in enumerate(_split_lines(raw, b"\r\n", b"\r", b"\n"), start=1))
    return [line.replace("\ufeff", "") for line in _split_lines(text, "\r\n", "\r", "\n")]


def _split_lines(text, crlf, cr, lf):
    return text.replace(crlf, lf).replace(cr, lf).split(lf)


def _decode_line(number, line, path):
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        if line.lstrip(b"\xef\xbb\xbf \t").startswith((b"#", b"%")):
            return line.decode("utf-8", "replace")
        raise DataFormatError(f"bytes that are not UTF-8 at column {e.start + 1}: {line[e.start:e.end]!r}",
                              path, number) from None


def _parse_header(lines, path):
    """The header dict and the index of the ``@data`` line."""
    header, where = {}, {}
    for i, line in enumerate(lines):
        text = line.strip()
        if not text or text.startswith(_COMMENT):
            continue
        number = i + 1
        if not text.startswith("@"):
            raise DataFormatError(f"expected a header tag (@...) or @data before the data, got {_clip(text)}",
                                  path, number)
        parts = text.split(None, 1)
        tag = parts[0][1:].lower()
        value = parts[1].strip() if len(parts) > 1 else ""
        if tag not in KNOWN_TAGS:
            raise DataFormatError(f"unknown header tag {parts[0]!r}; known tags are "
                                  + ", ".join("@" + t for t in KNOWN_TAGS), path, number)
        if tag == "data":
            if value:
                raise DataFormatError(f"@data takes no value, got {_clip(value)}", path, number)
            _check_header(header, where, path)
            return header, i
        if tag in where and tag != "problemname":
            raise DataFormatError(f"repeated tag @{tag} (first on line {where[tag]})", path, number)
        if tag == "problemname" and tag in where:
            continue  # some files repeat it (aeon's UnitTest_TEST.ts); the first one counts
        where[tag] = number
        _set_tag(header, tag, value, path, number)
    raise DataFormatError("no @data line: the file ends inside the header (truncated?)",
                          path, _last_line(lines))


def _set_tag(header, tag, value, path, number):
    if tag == "problemname":
        if not value:
            raise DataFormatError("@problemName needs a value", path, number)
        header[tag] = value
    elif tag in BOOLEAN_TAGS:
        header[tag] = _boolean(tag, value, path, number)
        if tag == "timestamps" and header[tag]:
            raise DataFormatError("timestamped data (@timeStamps true) is not supported by read_ts",
                                  path, number)
    elif tag in INTEGER_TAGS:
        if not (value.isascii() and value.isdigit()) or len(value) > 18 or int(value) < 1:
            raise DataFormatError(f"@{tag} needs a positive integer, got {_clip(value) if value else 'nothing'}",
                                  path, number)
        header[tag] = int(value)
    else:  # classlabel
        words = value.split()
        flag = _boolean(tag, words[0] if words else "", path, number)
        header[tag] = flag
        if flag:
            labels = words[1:]
            if not labels:
                raise DataFormatError("@classLabel true needs the list of class labels after it", path, number)
            repeated = sorted({w for w in labels if labels.count(w) > 1})
            if repeated:
                raise DataFormatError(f"@classLabel lists {repeated} more than once", path, number)
            header["classlabels"] = labels
        elif len(words) > 1:
            raise DataFormatError("@classLabel false takes no labels", path, number)


def _boolean(tag, value, path, number):
    word = value.lower()
    if word not in ("true", "false"):
        raise DataFormatError(f"@{tag} must be true or false, got {_clip(value) if value else 'nothing'}",
                              path, number)
    return word == "true"


def _check_header(header, where, path):
    dims = header.get("dimensions")
    if header.get("univariate") and dims not in (None, 1):
        raise DataFormatError(f"@univariate true contradicts @dimensions {dims}", path, where["dimensions"])
    if header.get("classlabel") and header.get("targetlabel"):
        raise DataFormatError("@classLabel true and @targetLabel true cannot both hold",
                              path, max(where["classlabel"], where["targetlabel"]))


def _expected_channels(header):
    if "dimensions" in header:
        return header["dimensions"], "@dimensions"
    if header.get("univariate"):
        return 1, "@univariate true"
    return None, None


def _parse_data(lines, data_line, header, path, dtype):
    has_label = bool(header.get("classlabel") or header.get("targetlabel"))
    classes = set(header.get("classlabels", ()))
    channels, channels_from = _expected_channels(header)
    length = header.get("serieslength") if header.get("equallength") else None
    length_from = "@seriesLength" if length is not None else None
    cases, labels, numbers = [], [], []
    for i in range(data_line + 1, len(lines)):
        text = lines[i].strip()
        if not text or text.startswith(_COMMENT):
            continue
        number = i + 1
        fields = text.split(":")
        if has_label:
            if len(fields) < 2:
                raise DataFormatError("expected channel values then ':' and the class label, found no ':'",
                                      path, number)
            label = fields.pop().strip()
            if not label:
                raise DataFormatError("empty class label at the end of the line", path, number)
            if header.get("classlabel") and label not in classes:
                hint = " (is the label missing or the line cut short?)" if "," in label else ""
                raise DataFormatError(f"class label {_clip(label)} is not among the declared @classLabel "
                                      f"{header['classlabels']}{hint}", path, number)
            if header.get("targetlabel"):
                _target_value(label, path, number)
            labels.append(label)
        if channels is None:
            channels, channels_from = len(fields), f"line {number} (the first case)"
        if len(fields) != channels:
            raise DataFormatError(f"{len(fields)} channel(s), expected {channels} as given by {channels_from}"
                                  + (" (the last ':' field is the label)" if has_label else ""),
                                  path, number)
        case = _parse_case(fields, path, number, dtype)
        if header.get("equallength"):
            if length is None:
                length, length_from = len(case), f"line {number} (the first case)"
            if len(case) != length:
                raise DataFormatError(f"series of length {len(case)}, but @equalLength true and the length "
                                      f"is {length} as given by {length_from}", path, number)
        cases.append(case)
        numbers.append(number)
    if not cases:
        raise DataFormatError("no case after @data (truncated file?)", path, data_line + 1)
    return cases, (labels if has_label else None), numbers


def _target_value(label, path, number):
    try:
        float(label)
    except ValueError:
        raise DataFormatError(f"target value {_clip(label)} is not a number", path, number) from None


def _parse_case(fields, path, number, dtype):
    """``(T, C)`` array from the channel fields of one line."""
    columns = []
    for c, field in enumerate(fields):
        tokens = field.split(",")
        values = _parse_values(tokens, path, number, c)
        if columns and len(values) != len(columns[0]):
            raise DataFormatError(f"channel {c + 1} has {len(values)} values but channel 1 has "
                                  f"{len(columns[0])}; the channels of one case must have equal lengths",
                                  path, number)
        columns.append(values)
    return np.stack(columns, axis=1).astype(dtype, copy=False)


def _parse_values(tokens, path, number, channel):
    tokens = [t.strip() for t in tokens]
    cleaned = ["nan" if t in _MISSING_TOKENS else t for t in tokens]
    try:
        values = np.array(cleaned, dtype=np.float64)
        if values.shape == (len(cleaned),) and not np.isinf(values).any():
            return values
    except (ValueError, TypeError, OverflowError):
        pass
    for k, tok in enumerate(cleaned):
        where = f"value {k + 1} of channel {channel + 1}"
        if tok == "":
            raise DataFormatError(f"{where} is empty (two commas in a row, or a trailing comma?)", path, number)
        try:
            v = float(tok)
        except (ValueError, OverflowError):
            raise DataFormatError(f"{where} is not a number: {_clip(tok)}", path, number) from None
        if np.isinf(v):
            raise DataFormatError(f"{where} is infinite: {_clip(tok)}", path, number)
    raise DataFormatError(f"channel {channel + 1} could not be read as numbers", path, number)  # pragma: no cover


def _clip(text, n=40):
    return repr(text if len(text) <= n else text[: n - 3] + "...")


def _last_line(lines):
    n = len(lines)
    while n > 1 and not lines[n - 1].strip():
        n -= 1
    return max(1, n)


# --------------------------------------------------------------------------- normalisation


class ChannelNormalizer:
    """Per-channel standardisation ``(x - mean) / std``, fitted on the training split only.

    ``fit`` ignores NaN (missing values) and, for a padded batch, the steps where
    ``mask`` is 0. A channel with no observed value gets mean 0, std 1; a
    constant channel gets std 1. After ``fit``, ``mean_`` and ``std_`` are ``(C,)`` float64.

    Missing values: ``transform`` replaces NaN by ``fill_missing`` after
    normalisation, 0.0 by default, i.e. the training mean of the channel; pass
    ``fill_missing=None`` to keep them as NaN.
    """

    def __init__(self, eps=1e-8):
        self.eps = float(eps)
        self.mean_ = None
        self.std_ = None

    def fit(self, cases, mask=None):
        """Fit on ``cases``: a list of ``(T_i, C)`` arrays, or one ``(T, N, C)`` array with ``mask (T, N)``."""
        values = _valid_rows(cases, mask)
        observed = ~np.isnan(values)
        count = observed.sum(axis=0)
        with np.errstate(over="ignore", invalid="ignore"):        # overflow is refused just below
            total = np.where(observed, values, 0.0).sum(axis=0)
            mean = np.divide(total, count, out=np.zeros(values.shape[1]), where=count > 0)
            sq = np.where(observed, (values - mean) ** 2, 0.0).sum(axis=0)
            var = np.divide(sq, count, out=np.zeros(values.shape[1]), where=count > 0)
            std = np.sqrt(var)
        bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))
        if bad.size:
            raise ValueError(f"ChannelNormalizer.fit: channel {int(bad[0])} has values too large to standardise "
                             f"(its mean or standard deviation overflows float64)")
        self.mean_ = mean
        self.std_ = np.where(std > self.eps, std, 1.0)
        return self

    def transform(self, cases, mask=None, fill_missing=0.0, dtype=np.float32):
        """Normalised copy of ``cases``, in the same form (list, or padded array with padding left 0).

        ``fill_missing``: value for NaN after normalisation (0.0 = channel mean), or None to keep NaN.
        """
        if self.mean_ is None:
            raise RuntimeError("ChannelNormalizer: call fit() on the training cases before transform()")

        def one(a):
            a = np.asarray(a, dtype=np.float64)
            if a.shape[-1] != len(self.mean_):
                raise ValueError(f"ChannelNormalizer was fitted on {len(self.mean_)} channels, got shape {a.shape}")
            out = (a - self.mean_) / self.std_
            if fill_missing is not None:
                out = np.where(np.isnan(out), fill_missing, out)
            return out.astype(dtype)

        if isinstance(cases, np.ndarray) and cases.ndim == 3:
            out = one(cases)
            if mask is not None:
                out *= np.asarray(mask, dtype=dtype)[:, :, None]
            return out
        return [one(a) for a in cases]

    def fit_transform(self, cases, mask=None, fill_missing=0.0, dtype=np.float32):
        return self.fit(cases, mask).transform(cases, mask, fill_missing, dtype)

    def state_dict(self):
        """``{'mean': (C,), 'std': (C,)}`` to store with a checkpoint."""
        return {"mean": np.array(self.mean_), "std": np.array(self.std_)}

    @classmethod
    def from_state_dict(cls, state):
        norm = cls()
        norm.mean_ = np.asarray(state["mean"], dtype=np.float64)
        norm.std_ = np.asarray(state["std"], dtype=np.float64)
        return norm


def _valid_rows(cases, mask):
    """All observed time steps as one ``(S, C)`` float64 array (padding left out)."""
    if isinstance(cases, np.ndarray) and cases.ndim == 3:
        x = np.asarray(cases, dtype=np.float64)
        if mask is None:
            return x.reshape(-1, x.shape[-1])
        return x[np.asarray(mask) > 0]
    arrays = [np.asarray(a, dtype=np.float64) for a in cases]
    if not arrays:
        raise ValueError("ChannelNormalizer.fit: no cases")
    if any(a.ndim != 2 for a in arrays) or len({a.shape[1] for a in arrays}) != 1:
        raise ValueError("ChannelNormalizer.fit: expected (T_i, C) arrays with one channel count")
    return np.concatenate(arrays, axis=0)


# --------------------------------------------------------------------------- batches


# --------------------------------------------------------------------------- bundled UEA sets

_PACKAGES = ("aeon", "sktime")


class UEASplit(NamedTuple):
    """One split of a UEA problem.

    ``cases``: list of N float64 arrays ``(T_i, C)``, NaN for missing values.
    ``labels``: ``(N,)`` int64, positions in ``classes``.
    ``classes``: tuple of the class names, in the order of the training file's ``@classLabel``.
    ``header``: the parsed header of the file (see ``read_ts``). ``path``: the file.
    ``lines``: the 1-based line of every case in the file.
    """

    cases: list
    labels: np.ndarray
    classes: tuple
    header: dict
    path: str
    lines: list = []


def _bundled_roots():
    """``(package, datasets/data folder)`` of the installed aeon / sktime, without importing them."""
    roots = []
    for package in _PACKAGES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            folder = os.path.join(location, "datasets", "data")
            if os.path.isdir(folder):
                roots.append((package, folder))
    return roots


def _problems_in(folder):
    """Names ``N`` with ``N/N_TRAIN.ts`` and ``N/N_TEST.ts`` (or flat ``N_TRAIN.ts``) in ``folder``."""
    names = set()
    for entry in os.scandir(folder):
        if entry.is_dir():
            if all(os.path.isfile(os.path.join(entry.path, f"{entry.name}_{s}.ts")) for s in ("TRAIN", "TEST")):
                names.add(entry.name)
        elif entry.name.endswith("_TRAIN.ts"):
            stem = entry.name[: -len("_TRAIN.ts")]
            if os.path.isfile(os.path.join(folder, f"{stem}_TEST.ts")):
                names.add(stem)
    return names


def _paths_in(folder, name):
    for base in (os.path.join(folder, name), folder):
        train, test = (os.path.join(base, f"{name}_{s}.ts") for s in ("TRAIN", "TEST"))
        if os.path.isfile(train) and os.path.isfile(test):
            return train, test
    return None


def bundled_problems(classification=True):
    """Names of the UEA/UCR problems bundled with the installed aeon / sktime (sorted, each once).

    ``classification=True`` keeps those whose training file declares class labels
    (``@classLabel true``), leaving out regression and forecasting sets.
    """
    names = set()
    for _, folder in _bundled_roots():
        for name in _problems_in(folder):
            if not classification:
                names.add(name)
                continue
            train, _ = _paths_in(folder, name)
            if _declares_classes(train):
                names.add(name)
    return sorted(names)


def _declares_classes(path):
    """True when the header of the ``.ts`` file at ``path`` says ``@classLabel true``."""
    with open(path, "rb") as f:
        for raw in f:
            words = raw.decode("utf-8", "replace").strip().split()
            if words and words[0].lower() == "@classlabel":
                return len(words) > 1 and words[1].lower() == "true"
            if words and words[0].lower() == "@data":
                return False
    return False


def find_uea(name, data_dir=None):
    """``(train_path, test_path)`` of the UEA/UCR problem ``name``.

    Looks in ``data_dir`` first when given (``<data_dir>/<Name>/<Name>_TRAIN.ts``
    or ``<data_dir>/<Name>_TRAIN.ts``, e.g. the full archive unpacked), then in the
    sets bundled with an installed ``aeon`` or ``sktime`` (``<package>/datasets/data/``),
    located with ``importlib.util.find_spec`` so neither package is imported.
    The name is matched exactly, then ignoring case. Raises ``FileNotFoundError``
    saying what is available and how to get it.
    """
    folders = ([("data_dir", os.fspath(data_dir))] if data_dir is not None else []) + _bundled_roots()
    for _, folder in folders:
        if not os.path.isdir(folder):
            continue
        found = _paths_in(folder, name)
        if found is None:
            matches = [n for n in _problems_in(folder) if n.lower() == name.lower()]
            found = _paths_in(folder, matches[0]) if matches else None
        if found is not None:
            return found
    available = sorted(set().union(*(_problems_in(f) for _, f in folders if os.path.isdir(f))))
    if not _bundled_roots() and data_dir is None:
        raise FileNotFoundError(
            f"UEA problem {name!r} not found: neither aeon nor sktime is installed. Their wheels bundle "
            "small UEA sets (BasicMotions, JapaneseVowels, ...); install one without its dependencies, "
            "e.g. `pip install --no-deps aeon`, or download the archive from "
            "https://timeseriesclassification.com and pass data_dir=")
    looked = ", ".join(folder for _, folder in folders)
    raise FileNotFoundError(
        f"UEA problem {name!r} not found in {looked}. Available there: {', '.join(available) or 'none'}. "
        "Other problems: download them from https://timeseriesclassification.com and pass data_dir=")


def load_uea(name, split="both", *, data_dir=None, dtype=np.float64):
    """Load a UEA/UCR classification problem by name (see ``find_uea`` for where it looks).

    ``split``: ``'train'`` or ``'test'`` returns one ``UEASplit``; ``'both'``
    (default) returns ``(train, test)``. Labels are integers indexing ``classes``,
    the class names declared by the training file's ``@classLabel`` (the test file
    must use the same names). Cases are raw (``(T_i, C)`` with NaN for missing);
    normalise with ``ChannelNormalizer`` fitted on the training cases.
    Raises ``ValueError`` for a problem without class labels (a regression set).
    """
    if split not in ("train", "test", "both"):
        raise ValueError(f"split must be 'train', 'test' or 'both', got {split!r}")
    train_path, test_path = find_uea(name, data_dir)
    train = _read_split(train_path, None, dtype)
    if split == "train":
        return train
    test = _read_split(test_path, train.classes, dtype)
    return test if split == "test" else (train, test)


def _read_split(path, classes, dtype):
    cases, labels, header, lines, _ = read_ts_file(path, dtype=dtype)
    if not header.get("classlabel"):
        raise ValueError(f"{path}: not a classification problem (no @classLabel true); use read_ts for it")
    if classes is None:
        classes = tuple(header["classlabels"])
    index = {c: k for k, c in enumerate(classes)}
    unknown = sorted({lab for lab in labels if lab not in index})
    if unknown:
        raise ValueError(f"{path}: labels {unknown} are not among the training classes {list(classes)}")
    y = np.array([index[lab] for lab in labels], dtype=np.int64)
    return UEASplit(cases, y, classes, header, path, lines)
