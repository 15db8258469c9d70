"""The loader: every ``.skeleton`` file of a folder read and preprocessed in parallel, split by
protocol, with an ``.npz`` cache and a report of the samples it skipped."""

import hashlib
import json
import multiprocessing
import os
import tempfile
import warnings
from functools import partial
from typing import NamedTuple

import numpy as np

from ...errors import DataFormatError
from .format import read_skeleton
from .preprocessing import (FRAME_DIM, MIN_BODY_FRAMES, MIN_VALID_FRAMES, NOISY_FRAME_RATIO, SPREAD_RATIO,
                            preprocess_skeleton, skip_reason)
from .protocols import _check_protocol, ntu_split, parse_ntu_name

_CACHE_FORMAT = "minieleatt-ntu-cache"
_CACHE_VERSION = 1


class SkippedSample(NamedTuple):
    """A sample that ``load_ntu`` left out: ``kind`` is 'no-body', 'too-few-frames' or 'format-error'."""

    name: str
    kind: str
    detail: str


class SkipReport:
    """The samples ``load_ntu`` skipped, with the reason for each.

    Iterates over ``SkippedSample(name, kind, detail)``; ``len()`` is their
    number, ``names`` their names, ``counts()`` the number per kind, ``str()``
    a readable summary.
    """

    def __init__(self, entries=()):
        self.entries = list(entries)

    def __len__(self):
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    @property
    def names(self):
        return [e.name for e in self.entries]

    def counts(self):
        counts = {}
        for e in self.entries:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        return counts

    def __str__(self):
        if not self.entries:
            return "no sample skipped"
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items()))
        lines = [f"{len(self.entries)} sample(s) skipped ({kinds}):"]
        lines += [f"  {e.name}: {e.kind}: {e.detail}" for e in self.entries]
        return "\n".join(lines)

    def __repr__(self):
        return f"SkipReport({len(self.entries)} skipped: {self.counts()})"


class NTUSplit(NamedTuple):
    """One side of a protocol.

    ``sequences``: list of N float32 arrays ``(T_i, 150)`` (see ``preprocess_skeleton``).
    ``labels``: ``(N,)`` int64, the action minus 1 (0..59 for NTU-60).
    ``names``: list of N sample names (``'S001C002P003R002A013'``).
    """

    sequences: list
    labels: np.ndarray
    names: list


class NTUData(NamedTuple):
    """What ``load_ntu`` returns.

    ``train``, ``test``: ``NTUSplit``; ``skipped``: ``SkipReport``;
    ``cache_path``: the cache file used or written (None without a cache);
    ``from_cache``: True when nothing was parsed because the cache was valid.
    """

    train: NTUSplit
    test: NTUSplit
    skipped: SkipReport
    cache_path: object
    from_cache: bool


def load_ntu(data_dir, protocol="cs", *, cache="auto", workers=None, progress=True,
             on_error="raise", on_stale_cache="rebuild", mp_context=None,
             min_valid_frames=MIN_VALID_FRAMES, min_body_frames=MIN_BODY_FRAMES, spread_ratio=SPREAD_RATIO,
             noisy_frame_ratio=NOISY_FRAME_RATIO):
    """Read, preprocess and split every ``*.skeleton`` file directly inside ``data_dir``.

    Each file is read (``read_skeleton``) and preprocessed (``preprocess_skeleton``
    with ``min_body_frames``, ``spread_ratio``, ``noisy_frame_ratio``) on
    ``workers`` processes (default: every core this process may use; 1 works
    in-process; ``mp_context`` names the multiprocessing start method, None for
    the platform default), with a tqdm bar on stderr when ``progress``. Samples with no
    body in any frame or fewer than ``min_valid_frames`` valid frames are skipped
    and listed in the report. A file that breaks the format raises
    ``DataFormatError`` when ``on_error='raise'``; with ``'skip'`` it is reported
    as 'format-error' and left out.

    ``cache``: ``'auto'`` (``$XDG_CACHE_HOME/minieleatt`` or ``~/.cache/minieleatt``,
    one file per data directory), a file path, or None/False for no cache. The
    cache holds every usable sample of both protocols plus the skip report, so
    one cache serves ``'cs'`` and ``'cv'``; it records the preprocessing
    settings and a fingerprint of the files (names, sizes, mtimes). A cache that
    is unreadable, or was built from other files or other settings, is rebuilt
    with a warning (``on_stale_cache='rebuild'``) or refused with an error
    (``'error'``). It is an uncompressed ``.npz`` without pickles, written to a
    temporary file then renamed, so an interrupted run never leaves half a cache.
    A cache that cannot be written only gives a warning.

    ``protocol``: ``'cs'`` or ``'cv'`` (see ``ntu_split``).
    Returns ``NTUData(train, test, skipped, cache_path, from_cache)``; the
    sequences of ``train`` and ``test`` are ``(T_i, 150)`` float32 views of one array.
    """
    protocol = _check_protocol(protocol)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if on_stale_cache not in ("rebuild", "error"):
        raise ValueError(f"on_stale_cache must be 'rebuild' or 'error', got {on_stale_cache!r}")
    data_dir = os.path.abspath(os.fspath(data_dir))
    paths, fingerprint = _list_skeletons(data_dir)
    settings = {
        "min_valid_frames": int(min_valid_frames), "min_body_frames": int(min_body_frames),
        "spread_ratio": float(spread_ratio), "noisy_frame_ratio": float(noisy_frame_ratio),
    }
    meta = {"format": _CACHE_FORMAT, "version": _CACHE_VERSION, "settings": settings,
            "fingerprint": fingerprint, "n_files": len(paths)}
    cache_path = _cache_path(cache, data_dir)

    table = None
    if cache_path is not None and os.path.exists(cache_path):
        table = _read_cache(cache_path, meta, on_stale_cache)
    from_cache = table is not None
    if table is None:
        table = _build_table(paths, settings, workers, progress, on_error, mp_context)
        if cache_path is not None:
            _write_cache(cache_path, table, meta)
    return _split_table(table, protocol, cache_path, from_cache)


def _list_skeletons(data_dir):
    """Sorted ``*.skeleton`` paths in ``data_dir`` and a fingerprint of (name, size, mtime)."""
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"NTU data directory {data_dir!r} does not exist or is not a directory")
    entries = sorted((e for e in os.scandir(data_dir)
                      if e.name.endswith(".skeleton") and e.is_file()), key=lambda e: e.name)
    if not entries:
        raise FileNotFoundError(
            f"no *.skeleton file in {data_dir!r} (the NTU RGB+D skeleton archive unpacks to a folder "
            "nturgb+d_skeletons/ holding S001C001P001R001A001.skeleton ...; pass that folder)")
    digest = hashlib.sha256()
    for e in entries:
        st = e.stat()
        digest.update(f"{e.name}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    for e in entries:
        parse_ntu_name(e.name)  # fail early on a stray file name
    return [e.path for e in entries], digest.hexdigest()


def _process_file(path, settings):
    """Worker: ``(name, sequence or None, kind, detail, error)`` for one file.

    ``error`` is the ``DataFormatError`` of a malformed file (it pickles with its path and line).
    """
    name = os.path.basename(path)[: -len(".skeleton")]
    try:
        frames = read_skeleton(path)
    except DataFormatError as e:
        return name, None, "format-error", str(e), e
    seq = preprocess_skeleton(frames, min_body_frames=settings["min_body_frames"],
                              spread_ratio=settings["spread_ratio"],
                              noisy_frame_ratio=settings["noisy_frame_ratio"])
    reason = skip_reason(frames, seq, settings["min_valid_frames"])
    if reason is not None:
        return name, None, reason[0], reason[1], None
    return name, seq, None, None, None


def _default_workers():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _build_table(paths, settings, workers, progress, on_error, mp_context=None):
    """Parse and preprocess all files; the usable samples concatenated, plus the skips."""
    from tqdm.auto import tqdm

    workers = _default_workers() if workers is None else int(workers)
    workers = max(1, min(workers, len(paths)))
    job = partial(_process_file, settings=settings)
    seqs, names, skipped = [], [], []
    bar = tqdm(total=len(paths), desc="NTU skeletons", unit="file", disable=not progress)
    pool = None
    try:
        if workers == 1:
            results = map(job, paths)
        else:
            pool = multiprocessing.get_context(mp_context).Pool(workers)
            chunk = max(1, min(64, len(paths) // (workers * 16)))
            results = pool.imap(job, paths, chunksize=chunk)
        for name, seq, kind, detail, error in results:
            bar.update(1)
            if error is not None and on_error == "raise":
                raise error
            if seq is None:
                skipped.append(SkippedSample(name, kind, detail))
            else:
                seqs.append(seq)
                names.append(name)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = np.concatenate(seqs) if seqs else np.zeros((0, FRAME_DIM), np.float32)
    labels = np.array([parse_ntu_name(n).action - 1 for n in names], dtype=np.int64)
    return {"data": data, "offsets": offsets, "names": names, "labels": labels, "skipped": skipped}


def _split_table(table, protocol, cache_path, from_cache):
    data, offsets, names, labels = table["data"], table["offsets"], table["names"], table["labels"]
    seqs = [data[offsets[i]:offsets[i + 1]] for i in range(len(names))]
    train_idx, test_idx = ntu_split(names, protocol)

    def side(idx):
        return NTUSplit([seqs[i] for i in idx], labels[idx], [names[i] for i in idx])

    return NTUData(side(train_idx), side(test_idx), SkipReport(table["skipped"]),
                   cache_path, from_cache)


# --------------------------------------------------------------------------- cache


def _cache_path(cache, data_dir):
    if cache is None or cache is False:
        return None
    if isinstance(cache, str) and cache == "auto":
        root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        key = hashlib.sha256(data_dir.encode()).hexdigest()[:16]
        return os.path.join(root, "minieleatt", f"ntu-{key}.npz")
    return os.path.abspath(os.fspath(cache))


def _unicode(items):
    return np.array(list(items), dtype=np.str_) if len(items) else np.zeros(0, dtype="<U1")


def _write_cache(path, table, meta):
    """Write the cache atomically: a temporary file in the same folder, then ``os.replace``."""
    skipped = table["skipped"]
    arrays = {
        "meta": np.array(json.dumps(meta, sort_keys=True)),
        "data": table["data"],
        "offsets": table["offsets"],
        "names": _unicode(table["names"]),
        "labels": table["labels"],
        "skipped_names": _unicode([s.name for s in skipped]),
        "skipped_kinds": _unicode([s.kind for s in skipped]),
        "skipped_details": _unicode([s.detail for s in skipped]),
    }
    tmp = None
    try:
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        warnings.warn(f"could not write the NTU cache {path!r} ({e}); the data was loaded "
                      "but the next run will parse the files again", UserWarning, stacklevel=3)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _read_cache(path, meta, on_stale_cache):
    """The cached table, or None when it must be rebuilt (after a warning)."""
    try:
        table, cached_meta = _load_cache_arrays(path)
    except Exception as e:  # a damaged zip or npy raises many types
        return _stale(path, f"it is unreadable or damaged ({type(e).__name__}: {e})", on_stale_cache)
    why = _meta_mismatch(cached_meta, meta)
    if why is not None:
        return _stale(path, why, on_stale_cache)
    return table


def _stale(path, why, on_stale_cache):
    message = f"NTU cache {path!r} cannot be used: {why}"
    if on_stale_cache == "error":
        raise DataFormatError(message + "; delete it or pass on_stale_cache='rebuild'", path)
    warnings.warn(message + "; rebuilding it", UserWarning, stacklevel=4)
    return None


def _load_cache_arrays(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in ("meta", "data", "offsets", "names", "labels",
                                    "skipped_names", "skipped_kinds", "skipped_details")}
    meta = json.loads(str(arrays["meta"][()]))
    data, offsets, labels = arrays["data"], arrays["offsets"], arrays["labels"]
    names = [str(n) for n in arrays["names"]]
    n = len(names)
    checks = (
        data.ndim == 2 and data.shape[1] == FRAME_DIM and data.dtype == np.float32,
        offsets.shape == (n + 1,) and offsets.dtype.kind == "i",
        labels.shape == (n,) and labels.dtype.kind == "i",
        n == 0 or (offsets[0] == 0 and offsets[-1] == len(data) and np.all(np.diff(offsets) > 0)),
        n > 0 or len(data) == 0,
        len(arrays["skipped_names"]) == len(arrays["skipped_kinds"]) == len(arrays["skipped_details"]),
    )
    if not all(checks):
        raise ValueError("the arrays are inconsistent (shapes, dtypes or offsets)")
    skipped = [SkippedSample(str(a), str(b), str(c)) for a, b, c in
               zip(arrays["skipped_names"], arrays["skipped_kinds"], arrays["skipped_details"])]
    table = {"data": data, "offsets": offsets, "names": names, "labels": labels, "skipped": skipped}
    return table, meta


def _meta_mismatch(cached, wanted):
    """A sentence saying why the cache does not match, or None."""
    if not isinstance(cached, dict) or cached.get("format") != _CACHE_FORMAT:
        return "it is not an NTU cache of minieleatt"
    if cached.get("version") != wanted["version"]:
        return f"it has cache format version {cached.get('version')}, expected {wanted['version']}"
    if cached.get("settings") != wanted["settings"]:
        diff = {k: (cached.get("settings", {}).get(k), v) for k, v in wanted["settings"].items()
                if cached.get("settings", {}).get(k) != v}
        shown = ", ".join(f"{k}: cached {a!r}, asked {b!r}" for k, (a, b) in diff.items())
        return f"it was built with other preprocessing settings ({shown})"
    if cached.get("fingerprint") != wanted["fingerprint"]:
        return (f"the .skeleton files changed since it was built (it saw {cached.get('n_files')} files, "
                f"the folder now holds {wanted['n_files']}, or sizes/mtimes differ)")
    return None
