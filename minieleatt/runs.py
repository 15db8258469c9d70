"""The output folder of a run: never overwritten by mistake, never resumed from nothing.

    prepare_folder("runs/gru-m3-synthetic-s0", resume=False, overwrite=False, log=print)

- A folder that already holds a run (checkpoints, metrics, a summary or a comparison's
  results) is refused unless ``resume`` (continue it) or ``overwrite`` (start again: the
  old run is moved aside to ``<folder>.old``, ``<folder>.old2``, ..., never deleted).
- ``resume`` where there is no checkpoint is an error naming the folder.
- A path that is a file, or a folder that cannot be written, is an error before any work;
  checking creates nothing: the folder is made when the run takes its lock.
- Temporary files that a killed write left behind are removed.

One writer per folder: ``RunLock(folder)`` (a context manager) takes an ``fcntl.flock`` on
``<folder>/.lock``, which records the holder's process id, host and start time, before
anything is written, and lets it go on exit (the lock file is removed, and so is a folder
the lock created if nothing else was written in it). A second writer is refused at once
with the holder named; a lock file left by a process that died without letting go (the
kernel has released its flock) is taken over, and said so. The lock is re-entrant within
a process: the command line takes it, then ``Trainer.fit`` finds it held.

Errors are ``RunFolderError`` with a ``kind``: 'exists', 'nothing-to-resume', 'not-writable',
'locked' or 'bad-request', so that a caller (the command line) can word them for its own options.
"""

import datetime
import fcntl
import json
import os
import socket
import tempfile
import time

from .atomic import temp_name
from .checkpoint import TEMP_PREFIX, TEMP_SUFFIX, remove_temporaries
from .errors import RunFolderError

RUN_FILES = ("last.npz", "best.npz", "metrics.jsonl", "summary.json", "results.json", "models")
CHECKPOINTS = ("last.npz", "best.npz")         # either one holds the whole training state: a run resumes from it
METRICS_TMP = "metrics.jsonl.tmp"               # the temporary file of earlier versions' metrics writes
LOCK_NAME = ".lock"


def _error(kind, message):
    err = RunFolderError(message)
    err.kind = kind
    return err


def check_writable(folder):
    """Make sure ``folder`` is, or can become, a folder in which files can be written; RunFolderError if not.
    Creates nothing."""
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise _error("not-writable", f"{folder} is a file, not a folder: the run needs a folder of its own")
    if os.path.isdir(folder):
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise _error("not-writable", f"cannot write to the folder {folder} ({exc.strerror or exc})") from None
        return
    parent = os.path.dirname(os.path.abspath(folder))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise _error("not-writable", f"cannot write to the folder {folder} ({parent} is a file, not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _error("not-writable", f"cannot write to the folder {folder} (permission denied in {parent})")


def run_files(folder):
    """The names in ``folder`` that mark a run (see ``RUN_FILES``), in that order."""
    folder = os.fspath(folder)
    return [name for name in RUN_FILES if os.path.exists(os.path.join(folder, name))]


def move_aside(folder):
    """Move what ``folder`` holds (but its lock) into the first free ``<folder>.old``, ``<folder>.old2``, ...;
    returns the new path. The folder itself stays, with its lock."""
    folder = os.fspath(folder).rstrip(os.sep)
    k = 1
    while True:
        target = f"{folder}.old" + ("" if k == 1 else str(k))
        try:
            os.mkdir(target)
            break
        except FileExistsError:
            k += 1
    for name in sorted(os.listdir(folder)):
        if name != LOCK_NAME:
            os.rename(os.path.join(folder, name), os.path.join(target, name))
    return target


def left_by_a_killed_run(folder):
    """True when ``folder`` holds no run files but what a run killed before its first checkpoint leaves:
    a lock file that its holder never removed, or the temporary file of a write."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return False
    entry = _held.get(os.path.realpath(folder))
    if entry is not None:                                    # our own lock now: did we take it over?
        return bool(entry[0].previous) or bool(_temporaries(folder))
    return os.path.exists(os.path.join(folder, LOCK_NAME)) or bool(_temporaries(folder))


def resumable(folder):
    """The checkpoints in ``folder`` that a run can resume from (``CHECKPOINTS``)."""
    return [name for name in CHECKPOINTS if os.path.isfile(os.path.join(os.fspath(folder), name))]


def check_folder(folder, resume=False, overwrite=False):
    """Refuse, before any work, a folder that cannot serve the run as asked (see the module docstring).
    Changes nothing."""
    folder = os.fspath(folder)
    if resume and overwrite:
        raise _error("bad-request", "resume and overwrite exclude each other: continue the run or start again")
    check_writable(folder)
    present = run_files(folder) if os.path.isdir(folder) else []
    if resume and not present and not left_by_a_killed_run(folder):
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
    os.makedirs(folder, exist_ok=True)
    removed = remove_temporaries(folder) + _remove_write_temporaries(folder)
    if removed:
        done.append(f"removed {len(removed)} temporary file(s) left by an interrupted checkpoint write in {folder}: "
                    + ", ".join(removed))
    if present and overwrite:
        old = move_aside(folder)
        done.append(f"moved the previous run in {folder} aside to {old} (delete it when it is no longer needed)")
    for line in done:
        log(line)
    return done


def _temporaries(folder):
    """The temporaries of killed ``write_atomic`` calls to the run's files (and of checkpoint writes)."""
    names = []
    for name in sorted(os.listdir(folder)):
        ours = name == METRICS_TMP or (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)) or any(
            name.startswith(temp_name(f)[0]) and name.endswith(temp_name(f)[1])
            for f in RUN_FILES + ("loss_curve.png",))
        if ours and os.path.isfile(os.path.join(folder, name)):
            names.append(name)
    return names


def _remove_write_temporaries(folder):
    """Delete the temporaries of killed ``write_atomic`` calls (the checkpoints' are ``remove_temporaries``')."""
    removed = []
    for name in _temporaries(folder):
        if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
            os.remove(os.path.join(folder, name))
            removed.append(name)
    return removed


# ----------------------------------------------------------------------------- one writer per folder

_held = {}                                    # real path of a locked folder -> [RunLock, depth]


def _describe(holder):
    if not holder:
        return "another process"
    since = f", since {holder['started']}" if holder.get("started") else ""
    return f"process {holder.get('pid')} on {holder.get('host')}{since}"


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):
        return True
    return True


class RunLock:
    """The one-writer lock of a run folder (see the module docstring): ``with RunLock(folder, log): ...``."""

    def __init__(self, folder, log=print):
        self.folder = os.fspath(folder)
        self.path = os.path.join(self.folder, LOCK_NAME)
        self.log = log
        self.fd = None
        self.previous = None                   # the holder a stale lock named, when this one took it over
        self.created = []                      # folders this lock made (removed again if left empty)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def _make_folder(self):
        check_writable(self.folder)
        missing, folder = [], os.path.abspath(self.folder)
        while not os.path.exists(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as exc:
            raise _error("not-writable", f"cannot write to the folder {self.folder} ({exc.strerror or exc})") from None
        self.created.extend(m for m in missing if m not in self.created)

    def acquire(self):
        key = os.path.realpath(self.folder)
        if key in _held:                                     # this process holds it already
            _held[key][1] += 1
            return self
        for _ in range(20):
            self._make_folder()
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise _error("not-writable", f"cannot write to the folder {self.folder} "
                                             f"({exc.strerror or exc})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                for _ in range(50):                  # its holder took it an instant ago and is writing its name
                    if holder:
                        break
                    time.sleep(0.02)
                    holder = _read_holder(fd)
                os.close(fd)
                raise _error("locked", f"{self.folder} is in use by another run ({_describe(holder)}): one run "
                                       "writes into a folder at a time; wait for it to end, or choose another "
                                       "folder") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)                                     # its holder removed it as we opened it: again
        else:
            raise _error("locked", f"{self.folder}: could not take its lock {self.path}")
        self.fd = fd
        previous = self.previous = _read_holder(fd)
        if previous:
            here = previous.get("host") == socket.gethostname()
            gone = "is no longer running" if here and not _alive(previous.get("pid")) else "no longer holds it"
            self.log(f"took over the lock of {self.folder} left by {_describe(previous)}, which {gone} "
                     "(killed or crashed)")
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        os.fsync(fd)
        _held[key] = [self, 1]
        return self

    def release(self):
        key = os.path.realpath(self.folder)
        entry = _held.get(key)
        if entry is None:
            return
        if entry[0] is not self or entry[1] > 1:
            entry[1] -= 1
            return
        del _held[key]
        try:
            os.remove(self.path)                             # still ours: removed before it is let go
        except OSError:
            pass
        for folder in self.created:                          # deepest first: a folder made for nothing
            try:
                os.rmdir(folder)
            except OSError:
                break
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


def _read_holder(fd):
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        return json.loads(text) if text else None
    except (OSError, ValueError):
        return {"pid": "?", "host": "?"}
