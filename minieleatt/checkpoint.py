"""Checkpoints: one ``.npz`` file of named arrays plus a JSON header, no pickle.

Written atomically (``minieleatt.atomic``): the arrays go to a temporary file in the same
folder, which is flushed to disk and then renamed over the old checkpoint (``os.replace``),
so an interrupted write leaves the previous checkpoint intact; a write killed
outright (SIGKILL, power loss) leaves only its temporary file, which
``remove_temporaries`` deletes on the next start in that folder. Loaded with
``allow_pickle=False`` after checking that the file is a zip archive at all; a truncated,
corrupt or foreign file is a ``CheckpointError`` that names it (never NumPy's advice to
load a pickle); a full disk while writing is a ``WriteError`` naming the file, with the
previous checkpoint intact.

The checks that a checkpoint fits the model and the run that load it live here too:
``check_architecture``, ``load_parameters_into`` and ``check_settings``; ``load_network``
rebuilds the network a checkpoint holds.
"""

import io
import json
import os
import zipfile

import numpy as np

from .atomic import write_atomic
from .backend import get_array_module, to_host
from .errors import CheckpointError

FORMAT = "minieleatt-checkpoint"
VERSION = 1
TEMP_PREFIX, TEMP_SUFFIX = ".ckpt-", ".npz.tmp"     # the temporary file of a write in progress


def save_checkpoint(path, arrays, meta):
    """Write ``arrays`` (name -> NumPy or CuPy array) and ``meta`` (JSON-able dict) to ``path`` atomically."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    header = json.dumps({"format": FORMAT, "version": VERSION, **meta})
    payload = {f"a/{k}": to_host(v) for k, v in arrays.items()}
    payload["meta"] = np.array(header)
    buffer = io.BytesIO()
    np.savez(buffer, **payload)
    write_atomic(path, buffer.getvalue(), prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)


def load_checkpoint(path):
    """Read a checkpoint: returns (arrays dict of NumPy arrays, meta dict)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({exc.strerror or exc})") from None
    if magic != b"PK\x03\x04":            # np.load would take anything else for a pickle and say so
        raise CheckpointError(f"{path}: not a minieleatt checkpoint (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise CheckpointError(f"{path}: not a minieleatt checkpoint (no header)")
            meta = json.loads(str(data["meta"]))
            arrays = {k[2:]: data[k] for k in data.files if k.startswith("a/")}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError, json.JSONDecodeError,
            UnicodeDecodeError, NotImplementedError) as exc:
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({_reason(exc)})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: not a minieleatt checkpoint (its header is not a JSON object)")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a minieleatt checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')}, this library reads {VERSION}")
    return arrays, meta


def _reason(exc):
    """What went wrong reading an archive, in a few words, without NumPy's advice on loading pickles."""
    text = str(exc)
    if "pickle" in text.lower() or "object arrays" in text.lower():
        return "it holds Python objects, which a checkpoint never does; refused without loading them"
    if isinstance(exc, json.JSONDecodeError):
        return f"its header is not valid JSON: {exc.msg}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def remove_temporaries(folder):
    """Delete the temporary files that killed writes of ``save_checkpoint`` left in ``folder``.

    Returns the names removed. Only files named like those writes' temporaries are touched.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    removed = []
    for name in sorted(os.listdir(folder)):
        if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
            os.remove(os.path.join(folder, name))
            removed.append(name)
    return removed


# ----------------------------------------------------------------------------- does it fit?

def check_architecture(meta, architecture, path):
    """Refuse a checkpoint whose architecture (the dict stored under ``meta['architecture']``)
    differs from ``architecture``, naming every difference."""
    theirs = meta.get("architecture", {})
    diff = [f"{k}: checkpoint {theirs.get(k)!r}, this model {v!r}" for k, v in architecture.items()
            if theirs.get(k) != v]
    if diff:
        raise CheckpointError(f"{path}: checkpoint from a different architecture ({'; '.join(diff)})")


def load_parameters_into(arrays, params, path, prefix="param."):
    """Copy the checkpoint's ``prefix + name`` arrays into the parameter arrays ``params`` (in place,
    on their own device and dtype), after checking that the names and the shapes agree."""
    expected = {prefix + k for k in params}
    have = {k for k in arrays if k.startswith(prefix)}
    if have != expected:
        raise CheckpointError(f"{path}: parameters differ: missing {sorted(expected - have)}, "
                              f"unexpected {sorted(have - expected)}")
    for k, p in params.items():
        a = arrays[prefix + k]
        if a.shape != p.shape:
            raise CheckpointError(f"{path}: parameter {k} has shape {a.shape}, this model {p.shape}")
    for k, p in params.items():
        p[...] = get_array_module(p).asarray(arrays[prefix + k].astype(p.dtype))


def load_network(path, dtype=None, impl="auto", device="cpu"):
    """``(net, meta)``: the ``EleAttNet`` of a checkpoint written by ``minieleatt train`` with its weights,
    in ``dtype`` (default: the run's), run by ``impl`` on ``device``, and the checkpoint's header."""
    from .nn import EleAttNet

    arrays, meta = load_checkpoint(path)
    arch = meta.get("architecture")
    if not isinstance(arch, dict):
        raise CheckpointError(f"{path}: the checkpoint has no architecture (not written by minieleatt train?)")
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    try:
        net = EleAttNet(arch["input_size"], arch["num_classes"], cell=arch["cell"], hidden_size=arch["hidden_size"],
                        num_layers=arch["num_layers"], attention_layers=arch["attention_layers"],
                        attention=arch["attention"], readout=arch["readout"], reset_after=arch["reset_after"],
                        dropout=config.get("dropout", 0.0), dtype=dtype or config.get("dtype", "float32"),
                        impl=impl, device=device)
    except KeyError as exc:
        raise CheckpointError(f"{path}: the checkpoint's architecture lacks {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's architecture is not valid ({exc})") from exc
    load_parameters_into(arrays, net.parameters(), path)
    return net, meta


def check_settings(saved, current, path, what="settings"):
    """Refuse when two flat dicts of settings disagree, naming each difference
    ("seed: checkpoint 0, now 1"); keys missing on one side count as differences."""
    keys = sorted(set(saved) | set(current))
    diff = [f"{k}: checkpoint {saved.get(k)!r}, now {current.get(k)!r}" for k in keys
            if saved.get(k) != current.get(k)]
    if diff:
        raise CheckpointError(f"{path}: the run was trained with other {what}: " + "; ".join(diff))
