"""Isolated grading: the submission runs in a child process; this process compares and decides.

    with Sandbox("assignment1.ipynb", timeout=60, memory_mb=4096) as box:
        student = box.student(allowed)        # stands for ``parts.Student``: has, check_code, call, probe
        report = part.grade(student)

The child (``python -m minieleatt.exercises.isolation``) loads the submission (its cells run there, one
wall-clock alarm per cell), then answers requests: "call the student's ``name`` on these arrays", "run
the static check on these names", "run this probe". It sends back only **plain data**: numbers,
strings, arrays of numbers (as raw bytes with their dtype, read here with NumPy, never unpickled), and
tuples, lists and dicts of them. Anything else the student's code returns (a cache of its own class)
stays in the child: this side gets a ``Handle`` to hand back. Every reference, every comparison,
every verdict and every score is computed in this process, by code the student's code never ran
next to.

Threat model (what this defends against; docs/course.md says it for teachers):

- the submission patching the grader (``PartReport``, the comparisons, the reference, the expected
  values, the call monitor): it patches the child's copy, which decides nothing;
- a function that never returns, or eats the memory: each part has a wall-clock limit (the child is
  killed, the part scores zero, "timed out after N s", and a fresh child grades the next part) and the
  child an address-space limit (``RLIMIT_AS``, where the platform has it);
- output on stdout or stderr: the replies travel on a descriptor of their own;
- calls of the library's own implementation: the call monitor (``guard.py``) runs in the child; what it
  reports only ever costs the student points.

What it cannot catch: code pasted from the library or from a classmate (the handout's honour line says
so), and a child that returns right answers it computed some other way (that is writing the answer).
The child is not a security sandbox for the machine: it reads and writes files as the grader's user
does; run the grader where that is acceptable (a container, as Gradescope does).
"""

import base64
import json
import os
import select
import signal
import subprocess
import sys
import time

import numpy as np

from .parts import REFERENCE_STEPS, Aborted, Stop, TimedOut
from .report import Finding

DEFAULT_TIMEOUT = 60.0         # seconds of wall-clock time per part
DEFAULT_MEMORY_MB = 4096       # the child's address-space limit
CELL_TIMEOUT = 60.0            # seconds per notebook cell when the submission is loaded
MAX_REPLY = 256 << 20          # bytes of one reply from the child


class Handle:
    """An object of the submission's that stays in the child (a cache of its own class): its id there."""

    def __init__(self, key, kind):
        self.key, self.kind = key, kind

    def __repr__(self):
        return f"<{self.kind} object of the submission>"


def ChildDied(message):
    return Aborted(message, "error")


# ----------------------------------------------------------------------------- the wire: plain data only

_KINDS = "biufc"


def encode(value, table=None):
    """``value`` as JSON-able plain data; what is not plain goes into ``table`` (the child's) as a handle."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Handle):
        return {"__h__": value.key}
    if isinstance(value, (np.ndarray, np.generic)) and np.asarray(value).dtype.kind in _KINDS:
        arr = np.ascontiguousarray(value)
        kind = "__nd__" if isinstance(value, np.ndarray) else "__np__"
        return {kind: [arr.dtype.str, list(arr.shape), base64.b64encode(arr.tobytes()).decode("ascii")]}
    if type(value) is tuple:
        return {"__t__": [encode(v, table) for v in value]}
    if type(value) is list:
        return [encode(v, table) for v in value]
    if type(value) is dict and all(type(k) is str for k in value):
        return {"__d__": {k: encode(v, table) for k, v in value.items()}}
    if table is None:
        raise TypeError(f"cannot send a {type(value).__name__}")
    key = len(table)
    table[key] = value
    return {"__h__": key, "kind": type(value).__name__}


def decode(data, table=None):
    """The inverse of ``encode``: arrays from their bytes (numeric dtypes only), handles from ``table``
    (the child's) or as ``Handle`` (this side)."""
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v, table) for v in data]
    if type(data) is not dict or len(data) not in (1, 2):
        raise ValueError("malformed reply")
    if "__h__" in data:
        if table is not None:
            return table[data["__h__"]]
        return Handle(int(data["__h__"]), str(data.get("kind", "object")))
    (kind, body), = data.items()
    if kind in ("__nd__", "__np__"):
        dtype = np.dtype(str(body[0]))
        if dtype.kind not in _KINDS:
            raise ValueError("malformed reply: an array of objects")
        arr = np.frombuffer(base64.b64decode(body[2]), dtype=dtype).reshape([int(s) for s in body[1]]).copy()
        return arr if kind == "__nd__" else arr[()]
    if kind == "__t__":
        return tuple(decode(v, table) for v in body)
    if kind == "__d__":
        return {str(k): decode(v, table) for k, v in body.items()}
    raise ValueError("malformed reply")


def _finding_to(f):
    return None if f is None else [str(f.where), str(f.formula)]


def _finding_from(data):
    return None if data is None else Finding(str(data[0]), str(data[1]))


# ----------------------------------------------------------------------------- the child

class _CellTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _CellTimeout("the cell ran past the grader's time limit (a loop that never ends?)")


def child_main():
    from . import grader
    from .parts import PROBES, Student
    from .assignments import ASSIGNMENTS        # noqa: F401 - the problems register their probes
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):                            # the submission's prints go nowhere, its input() gets EOF
        os.dup2(null, fd)
    sys.stdin, sys.stdout = open(os.devnull), open(os.devnull, "w")
    memory = int(os.environ.get("MINIELEATT_GRADER_MEMORY_MB", "0"))
    if memory > 0:
        try:
            import resource
            limit = memory * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    table, namespace = {}, {}
    for line in requests:
        req = json.loads(line)
        op = req["op"]
        try:
            if op == "load":
                if hasattr(signal, "SIGALRM"):
                    signal.signal(signal.SIGALRM, _alarm)
                    grader.CELL_ALARM = float(req.get("cell_timeout", CELL_TIMEOUT))
                namespace, named, notes = grader.load(req["path"])
                names = sorted(k for k, v in namespace.items() if callable(v))
                reply = {"ok": {"__d__": {"names": names, "named": named, "notes": [str(n) for n in notes]}}}
            else:
                student = Student(namespace, {tuple(a) for a in req["allowed"]}, req.get("steps"))
                if op == "check_code":
                    student.check_code(req["names"])
                    reply = {"ok": None}
                elif op == "call":
                    args = decode(req["args"], table)
                    out = student.call(req["name"], *args, sizes=req.get("sizes"),
                                       check_args=req.get("check_args", True))
                    reply = {"ok": encode(out, table)}
                elif op == "probe":
                    args = decode(req["args"], table)
                    reply = {"ok": encode(PROBES[req["kind"]](student, *args), table)}
                else:
                    reply = {"stop": ["error", f"unknown request {op!r}", None]}
        except Stop as stop:
            reply = {"stop": [stop.status, str(stop.message), _finding_to(stop.finding)]}
        except Exception as exc:  # noqa: BLE001 - reported as the part's error
            reply = {"stop": ["error", f"the grader failed on this part: {type(exc).__name__}: {exc}", None]}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


# ----------------------------------------------------------------------------- this side

class Sandbox:
    """A child process that holds the submission at ``path``; restarted after a part that timed out."""

    def __init__(self, path, timeout=DEFAULT_TIMEOUT, memory_mb=DEFAULT_MEMORY_MB, cell_timeout=CELL_TIMEOUT):
        self.path = os.path.abspath(path)
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.cell_timeout = float(cell_timeout)
        self.proc = None
        self.names, self.named, self.notes = [], None, []
        self.deadline = None
        self._buffer = b""
        self._loaded = False

    def __enter__(self):
        self.load()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _start(self):
        if sys.platform == "win32":
            raise ValueError("isolated grading needs Linux or macOS (a process group, select on a pipe); on Windows "
                             "grade with --in-process, or in WSL or a container")
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["MINIELEATT_GRADER_MEMORY_MB"] = str(self.memory_mb)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
        self.proc = subprocess.Popen([sys.executable, "-m", "minieleatt.exercises.isolation"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     cwd=os.path.dirname(self.path), env=env, start_new_session=True)
        self._buffer = b""
        load_deadline = time.monotonic() + max(self.timeout, 30.0) + 100 * self.cell_timeout
        out = self._request({"op": "load", "path": self.path, "cell_timeout": self.cell_timeout},
                            deadline=load_deadline, what="loading the submission")
        self.names, self.named, self.notes = list(out["names"]), out["named"], list(out["notes"])

    def load(self):
        if self.proc is None:
            self._start()
        return self

    def close(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, OSError):
                pass
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                f.close()
            self.proc = None

    def start_part(self, timeout=None):
        """The wall-clock limit of the next part starts now."""
        self.load()
        self.part_timeout = self.timeout if timeout is None else float(timeout)
        self.deadline = time.monotonic() + self.part_timeout

    def student(self, allowed, steps=None):
        return RemoteStudent(self, allowed, steps)

    def _request(self, req, deadline=None, what="the part"):
        if self.proc is None:
            self._start()
        deadline = self.deadline if deadline is None else deadline
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died(what)
        line = self._readline(deadline, what)
        try:
            reply = json.loads(line)
            if "stop" in reply:
                status, message, finding = reply["stop"]
                if status not in ("failed", "not implemented", "error", "missing", "library"):
                    status = "error"
                raise Stop(str(status), str(message), _finding_from(finding))
            return decode(reply["ok"])
        except Stop:
            raise
        except Exception:  # noqa: BLE001 - anything not in the protocol's shape
            raise Stop("error", f"the grader's child process sent back something it cannot read while running "
                                f"{what} (does the submission write to the grader's descriptors?)") from None

    def _readline(self, deadline, what):
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic() if deadline is not None else None
            if left is not None and left <= 0:
                self.close()
                limit = getattr(self, "part_timeout", self.timeout)
                raise TimedOut(f"timed out after {limit:g} s while running {what}: a loop that never ends, or far "
                               "too much work (this part scores zero; the other parts are still graded)")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self._died(what)
            self._buffer += chunk
            if len(self._buffer) > MAX_REPLY:
                self.close()
                raise Stop("error", f"the submission's process sent back more than {MAX_REPLY >> 20} MB while "
                                    f"running {what}: no answer of this course is that large")
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode("utf-8")

    def _died(self, what):
        code = self.proc.poll() if self.proc is not None else None
        if code is None and self.proc is not None:
            try:
                code = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        self.close()
        why = " (killed: out of memory?)" if code is not None and code < 0 else ""
        raise ChildDied(f"the submission's process ended while running {what}, exit status {code}{why}: it exits, "
                        f"or runs past the memory limit of {self.memory_mb} MB; this part scores zero")


class RemoteStudent:
    """``parts.Student``'s methods, answered by the child."""

    def __init__(self, box, allowed, steps=None):
        self.box = box
        self.allowed = set(allowed)
        self.steps = steps
        if steps is not None:
            self.allowed |= REFERENCE_STEPS[steps]

    def with_steps(self, cell):
        return RemoteStudent(self.box, self.allowed, cell)

    def _req(self, op, what, **fields):
        req = {"op": op, "allowed": sorted(list(a) for a in self.allowed), "steps": self.steps, **fields}
        return self.box._request(req, what=what)

    def has(self, name):
        return name in self.box.names

    def function(self, name):
        if name not in self.box.names:
            raise Stop("missing", f"{name} is not defined: write it in the cell made for it and run that cell")
        return name

    def check_code(self, names):
        self._req("check_code", "the check of the code", names=list(names))

    def call(self, name, *args, callbacks=(), sizes=None, check_args=True):
        if callbacks:
            raise ValueError("a call with callbacks runs as a probe")
        return self._req("call", name, name=name, args=encode(list(args)),
                         sizes={k: v for k, v in (sizes or {}).items() if type(v) in (int, float, str)},
                         check_args=check_args)

    def probe(self, kind, *args):
        return self._req("probe", kind, kind=kind, args=encode(list(args)))


if __name__ == "__main__":
    child_main()
