"""The output folder of a run: never overwritten by mistake, never resumed from nothing.

    prepare_folder("runs/gru-m3-synthetic-s0", resume=False, overwrite=False, log=print)

- A folder that already holds a run (checkpoints, metrics, a summary or a comparison's
  results) is refused unless ``resume`` (continue it) or ``overwrite`` (start again: the
  old run is moved aside to ``<folder>.old``, ``<folder>.old2``, ..., never deleted).
- ``resume`` where there is no checkpoint is an error naming the folder.
- A path that is a file, or a folder that cannot be written, is an error before any work.
- Temporary files that a killed checkpoint write left behind are removed.

Errors are ``RunFolderError`` with a ``kind``: 'exists', 'nothing-to-resume', 'not-writable'
or 'bad-request', so that a caller (the command line) can word them for its own options.
"""

import os
import tempfile

from .checkpoint import remove_temporaries
from .errors import RunFolderError

RUN_FILES = ("last.npz", "best.npz", "metrics.jsonl", "summary.json", "results.json", "models")
METRICS_TMP = "metrics.jsonl.tmp"


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` so that a reader (or a kill) sees the old file or the new one, never a part:
    a temporary file in the same folder, flushed to disk, then renamed over ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".write-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _error(kind, message):
    err = RunFolderError(message)
    err.kind = kind
    return err


def check_writable(folder):
    """Create ``folder`` if needed and make sure a file can be written in it; RunFolderError if not."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise _error("not-writable", f"{folder} is a file, not a folder: the run needs a folder of its own")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise _error("not-writable", f"cannot write to the folder {folder} ({exc.strerror or exc})") from None


def run_files(folder):
    """The names in ``folder`` that mark a run (see ``RUN_FILES``), in that order."""
    folder = os.fspath(folder)
    return [name for name in RUN_FILES if os.path.exists(os.path.join(folder, name))]


def move_aside(folder):
    """Rename ``folder`` to the first free ``<folder>.old``, ``<folder>.old2``, ...; returns the new path."""
    folder = os.fspath(folder).rstrip(os.sep)
    k = 1
    while True:
        target = f"{folder}.old" + ("" if k == 1 else str(k))
        if not os.path.exists(target):
            os.rename(folder, target)
            return target
        k += 1


def check_folder(folder, resume=False, overwrite=False):
    """Refuse, before any work, a folder that cannot serve the run as asked (see the module docstring).
    Creates the folder when needed; changes nothing else."""
    folder = os.fspath(folder)
    if resume and overwrite:
        raise _error("bad-request", "resume and overwrite exclude each other: continue the run or start again")
    check_writable(folder)
    present = run_files(folder)
    if resume and not present:
        raise _error("nothing-to-resume", f"nothing to resume in {folder}: the folder holds no run "
                                          "(no checkpoint last.npz)")
    if present and not (resume or overwrite):
        raise _error("exists", f"{folder} already holds a run ({', '.join(present)}); continue it with "
                               "resume=True, or start again with overwrite=True (the old run is moved aside)")
    return present


def prepare_folder(folder, resume=False, overwrite=False, log=print):
    """``check_folder``, then remove the temporaries of killed checkpoint writes and, with ``overwrite``,
    move a run already there aside. Returns the list of what was done (each also sent to ``log``)."""
    folder = os.fspath(folder)
    present = check_folder(folder, resume, overwrite)
    done = []
    removed = remove_temporaries(folder)
    metrics_tmp = os.path.join(folder, METRICS_TMP)          # the trainer's metrics log, mid-write
    if os.path.isfile(metrics_tmp):
        os.remove(metrics_tmp)
        removed.append(METRICS_TMP)
    if removed:
        done.append(f"removed {len(removed)} temporary file(s) left by an interrupted checkpoint write in {folder}: "
                    + ", ".join(removed))
    if present and overwrite:
        old = move_aside(folder)
        os.makedirs(folder)
        done.append(f"moved the previous run in {folder} aside to {old} (delete it when it is no longer needed)")
    for line in done:
        log(line)
    return done
