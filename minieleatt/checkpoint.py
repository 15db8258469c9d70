"""Checkpoints: one ``.npz`` file of named arrays plus a JSON header, no pickle.

Written atomically: the arrays go to a temporary file in the same folder, which
is flushed to disk and then renamed over the old checkpoint (``os.replace``),
so an interrupted write leaves the previous checkpoint intact. Loaded with
``allow_pickle=False``; a truncated or corrupt file is a ``CheckpointError``
that names it.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

from .backend import to_host
from .errors import CheckpointError

FORMAT = "minieleatt-checkpoint"
VERSION = 1


def save_checkpoint(path, arrays, meta):
    """Write ``arrays`` (name -> NumPy or CuPy array) and ``meta`` (JSON-able dict) to ``path`` atomically."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    header = json.dumps({"format": FORMAT, "version": VERSION, **meta})
    payload = {f"a/{k}": to_host(v) for k, v in arrays.items()}
    payload["meta"] = np.array(header)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".npz.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path):
    """Read a checkpoint: returns (arrays dict of NumPy arrays, meta dict)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise CheckpointError(f"{path}: not a minieleatt checkpoint (no header)")
            meta = json.loads(str(data["meta"]))
            arrays = {k[2:]: data[k] for k in data.files if k.startswith("a/")}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({type(exc).__name__}: {exc})") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a minieleatt checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')}, this library reads {VERSION}")
    return arrays, meta
