"""Atomic file writes, and the test hook that stops a process in the middle of one.

    write_atomic("runs/m1/summary.json", text.encode())

The bytes go to a temporary file in the same folder (``.<name>-XXXX.tmp``), which is
flushed to disk (``fsync``) and then renamed over the target (``os.replace``); the folder
is synced last, so the rename itself survives a power cut. A reader therefore sees the
old file or the new one, never a mixture; a write killed outright leaves only its
temporary file, which the next start removes (``minieleatt.runs.prepare_folder``).

An ``OSError`` on the way (a full disk, a quota, a folder gone) removes the temporary
file, leaves the old file as it was and is raised again as a ``WriteError`` whose message
names the file and the cause in one line.

The test hook (used by the kill tests of ``tests/test_runs.py``): every write passes four
named points, ``<name>:begin`` (temporary file created, nothing written), ``<name>:half``
(half the bytes written), ``<name>:written`` (all written and synced, not yet renamed) and
``<name>:renamed`` (in place, the folder not yet synced). The environment variable
``MINIELEATT_KILL_AT=<point>:<n>`` (e.g. ``last.npz:half:2``) sends SIGKILL to the process
the n-th time it reaches that point; ``MINIELEATT_FAIL_AT=<point>:<n>`` raises
``OSError(ENOSPC)`` there instead, as a full disk would. Unset, they cost one lookup.
"""

import errno
import os
import signal
import tempfile

from .errors import WriteError

KILL_AT, FAIL_AT = "MINIELEATT_KILL_AT", "MINIELEATT_FAIL_AT"
_hits = {}


def reset_hooks():
    """Forget how often each point was reached (tests that reuse one process)."""
    _hits.clear()


def hook(point):
    """The test hook's named point (see the module docstring)."""
    kill, fail = os.environ.get(KILL_AT), os.environ.get(FAIL_AT)
    if not (kill or fail):
        return
    _hits[point] = n = _hits.get(point, 0) + 1
    if kill and kill == f"{point}:{n}":
        os.kill(os.getpid(), signal.SIGKILL)
    if fail and fail == f"{point}:{n}":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def temp_name(name):
    """The prefix and suffix of the temporary files of writes to ``name``."""
    return f".{name}-", ".tmp"


def write_atomic(path, data, prefix=None, suffix=None):
    """Write the bytes ``data`` to ``path`` atomically (see the module docstring)."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    default_prefix, default_suffix = temp_name(name)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix or default_prefix, suffix=suffix or default_suffix, dir=folder)
        with os.fdopen(fd, "wb") as f:
            hook(f"{name}:begin")
            half = len(data) // 2
            f.write(data[:half])
            f.flush()
            hook(f"{name}:half")
            f.write(data[half:])
            f.flush()
            os.fsync(f.fileno())
        hook(f"{name}:written")
        os.replace(tmp, path)
        tmp = None
        hook(f"{name}:renamed")
        _sync_folder(folder)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}", path) from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def _sync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass                                # some file systems cannot sync a folder; the rename is done
    finally:
        os.close(fd)
