"""Many runs at once: the tasks of a sweep (models x seeds x data sets) on the local cores with
joblib (loky processes), or on a Dask distributed cluster; a sweep resumes like a run.

    tasks = [Task(f"seed {s}", {"seed": s}, {"seed": s}) for s in (0, 1, 2)]
    outcomes = run_sweep(train_one, tasks, jobs=2, shared={"data": data})
    [o.value for o in outcomes]            # in the order of the tasks, whatever order they finished in

- A task is one call ``fn(**shared, **task.kwargs)`` of a module-level function; ``shared`` holds
  the arguments common to every task (the data), sent once to each Dask worker.
- ``jobs``: worker processes on this machine (``-1``: every core; default ``default_jobs()``, the
  physical cores). ``jobs=1`` runs the tasks here, one after another. ``scheduler``: the address of
  a Dask scheduler (``tcp://host:8786``) or a ``distributed.Client``; the tasks go to its workers
  and their results come back here (``jobs`` is then the cluster's business).
- Every task runs with ``blas_threads`` BLAS threads (threadpoolctl; default 1, None: as the
  process has them), in a worker or here alike, so that a task computes the same numbers whatever
  ``jobs``: the results equal a serial run's for the same seeds.
- A task that raises does not stop the sweep: its outcome carries the error (with the task's
  settings in the log line), the other tasks finish, and the caller decides (``failures``).
- Progress: one line per finished run, "run k/N ... ETA"; on a terminal a bar that rewrites
  itself, plain lines otherwise.
- Resuming: ``load_done(task)`` returns a finished task's stored result (None: not finished), read
  here before anything runs, so finished runs are not sent again; ``save_done(task, value)`` stores
  a result as soon as it arrives, so a sweep killed at any point loses only the runs in flight.
  ``finished_result`` / ``record_result`` are these two for a task that has its own run folder: the
  result is the folder's ``summary.json``, written last and atomically, so a folder with one is a
  finished run and any other folder is a run to resume (the run folder's lock slots in here).
"""

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

from .errors import MinieleattError

SUMMARY = "summary.json"


class SweepError(MinieleattError, RuntimeError):
    """Some tasks of a sweep failed (the others finished); ``failures`` holds their outcomes."""

    def __init__(self, message, failures=()):
        super().__init__(message)
        self.failures = list(failures)


@dataclass(frozen=True)
class Task:
    """One task of a sweep: ``name`` for the progress lines, ``settings`` (a flat dict) to report
    with a failure, ``kwargs`` for the task's function."""

    name: str
    settings: dict = field(default_factory=dict)
    kwargs: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What became of a task: ``value`` (the function's result) or ``error`` (one line) and
    ``traceback``; ``seconds`` it ran; ``skipped`` when its result was stored by an earlier run."""

    task: Task
    value: object = None
    error: str = None
    traceback: str = None
    seconds: float = 0.0
    skipped: bool = False

    @property
    def failed(self):
        return self.error is not None


# ----------------------------------------------------------------------------- how many workers

def default_jobs():
    """The workers a sweep uses when not told: the machine's physical cores (at these sizes a
    second BLAS thread buys nothing, a second training at once doubles the throughput)."""
    from joblib import cpu_count

    return max(1, cpu_count(only_physical_cores=True))


def resolve_jobs(jobs, n_tasks=None, flag="jobs"):
    """The number of worker processes for ``jobs`` (None: ``default_jobs()``; -1: every core),
    at most ``n_tasks``. Anything else than a positive integer or -1 is an error naming ``flag``."""
    from joblib import cpu_count

    if jobs is None:
        n = default_jobs()
    elif isinstance(jobs, bool) or not isinstance(jobs, int) or not (jobs >= 1 or jobs == -1):
        raise ValueError(f"{flag} must be a positive number of workers or -1 (every core), got {jobs!r}")
    else:
        n = cpu_count() if jobs == -1 else jobs
    return max(1, n if n_tasks is None else min(n, n_tasks))


# ----------------------------------------------------------------------------- one task

class _blas_limit:
    """``threadpool_limits(n)`` for the BLAS libraries, or nothing for None."""

    def __init__(self, n):
        self.n, self.limiter = n, None

    def __enter__(self):
        if self.n is not None:
            from threadpoolctl import threadpool_limits

            self.limiter = threadpool_limits(limits=self.n, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self.limiter is not None:
            self.limiter.restore_original_limits()


def _run_task(index, fn, kwargs, shared, blas_threads):
    """Run one task where it lands (here, a loky worker or a Dask worker): (index, value, error,
    traceback, seconds). An exception is returned, not raised, so that the other tasks finish."""
    start = time.perf_counter()
    try:
        with _blas_limit(blas_threads):
            value = fn(**(shared or {}), **kwargs)
        return index, value, None, None, time.perf_counter() - start
    except Exception as exc:                        # noqa: BLE001 - reported with the task's settings
        return (index, None, f"{type(exc).__name__}: {exc}", traceback.format_exc(),
                time.perf_counter() - start)


# ----------------------------------------------------------------------------- progress

def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _settings_text(settings):
    return ", ".join(f"{k}={v}" for k, v in settings.items())


class _Progress:
    """The sweep's progress: "run k/N" and an ETA, as a bar on a terminal, as plain lines otherwise."""

    def __init__(self, total, done, show, log, terminal):
        self.total, self.done, self.first = total, done, done
        self.log, self.show, self.start = log, show, time.perf_counter()
        self.bar = None
        if show and terminal:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc="sweep", unit="run", file=sys.stderr,
                            bar_format="{desc}: run {n_fmt}/{total_fmt} {bar} {elapsed}, ETA {remaining}")

    def eta(self):
        ran = self.done - self.first
        if ran == 0:
            return None
        return (time.perf_counter() - self.start) / ran * (self.total - self.done)

    def finished(self, text, failed=False):
        self.done += 1
        eta = self.eta()
        if not (self.show or failed):
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.write(f"run {self.done}/{self.total} {text}", file=sys.stderr)
        else:
            self.log(f"run {self.done}/{self.total} {text}"
                     + ("" if self.done == self.total or eta is None else f"; ETA {_duration(eta)}"))

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ----------------------------------------------------------------------------- the sweep

def run_sweep(fn, tasks, jobs=None, scheduler=None, blas_threads=1, shared=None, load_done=None, save_done=None,
              describe=None, progress=True, log=print):
    """Run ``fn(**shared, **task.kwargs)`` for every task (see the module docstring); returns one
    ``Outcome`` per task, in the order of ``tasks``.

    ``describe(value)``: a few words on a finished run for its progress line (e.g. its accuracy).
    ``progress``: the "run k/N, ETA" lines (a bar when standard error is a terminal); a failure
    is logged even without them.
    """
    tasks = list(tasks)
    outcomes = [None] * len(tasks)
    for i, task in enumerate(tasks):
        value = None if load_done is None else load_done(task)
        if value is not None:
            outcomes[i] = Outcome(task, value, skipped=True)
    todo = [i for i, o in enumerate(outcomes) if o is None]
    skipped = len(tasks) - len(todo)
    show = (lambda *a, **k: None) if not progress else log
    if skipped:
        show(f"sweep: {skipped} of {len(tasks)} runs finished before, kept; {len(todo)} to run")
    bar = _Progress(len(tasks), skipped, progress, log, terminal=sys.stderr.isatty())

    def arrived(index, value, error, trace, seconds):
        task = tasks[index]
        outcomes[index] = Outcome(task, value, error, trace, seconds)
        if error is None:
            if save_done is not None:
                save_done(task, value)
            said = "" if describe is None or value is None else f", {describe(value)}"
            bar.finished(f"done: {task.name} ({_duration(seconds)}{said})")
        else:
            bar.finished(f"FAILED: {task.name} ({_settings_text(task.settings)}): {error}", failed=True)

    try:
        if scheduler is not None:
            _on_dask(scheduler, fn, tasks, todo, shared, blas_threads, arrived)
        elif resolve_jobs(jobs, len(todo) or 1) == 1:
            for i in todo:
                arrived(*_run_task(i, fn, tasks[i].kwargs, shared, blas_threads))
        else:
            _on_joblib(resolve_jobs(jobs, len(todo)), fn, tasks, todo, shared, blas_threads, arrived)
    finally:
        bar.close()
    return outcomes


def _on_joblib(n_jobs, fn, tasks, todo, shared, blas_threads, arrived):
    from joblib import Parallel, delayed, parallel_config

    inner = None if blas_threads is None else blas_threads
    with parallel_config(backend="loky", inner_max_num_threads=inner):
        run = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for result in run(delayed(_run_task)(i, fn, tasks[i].kwargs, shared, blas_threads) for i in todo):
            arrived(*result)


def _client(scheduler):
    """A ``distributed.Client`` for ``scheduler`` (an address, or a client already made), and
    whether this function made it (and so closes it)."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError("a sweep on a Dask cluster (--scheduler) needs Dask distributed: "
                          "pip install 'minieleatt[dask]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    try:
        return Client(scheduler), True
    except (OSError, TimeoutError) as exc:
        raise OSError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with `dask scheduler` "
                      "and its workers with `dask worker ADDRESS`") from None


def _on_dask(scheduler, fn, tasks, todo, shared, blas_threads, arrived):
    from distributed import as_completed

    client, mine = _client(scheduler)
    futures = []
    try:
        [data] = client.scatter([shared or {}], broadcast=True, hash=False)   # the common arguments, once
        futures = [client.submit(_run_task, i, fn, tasks[i].kwargs, data, blas_threads, pure=False) for i in todo]
        for future in as_completed(futures):
            arrived(*future.result())
    finally:
        if futures:
            client.cancel(futures)
        if mine:
            client.close()


def failures(outcomes):
    """The outcomes that failed."""
    return [o for o in outcomes if o.failed]


def raise_failures(outcomes, rerun="rerun the sweep with resume to run them again"):
    """``SweepError`` naming every failed task with its settings and error (the finished runs
    stay recorded); nothing when all finished."""
    failed = failures(outcomes)
    if not failed:
        return
    lines = [f"{len(failed)} of {len(outcomes)} runs failed ({len(outcomes) - len(failed)} finished, "
             f"kept; {rerun}):"]
    lines += [f"  {o.task.name} ({_settings_text(o.task.settings)}): {o.error}" for o in failed]
    raise SweepError("\n".join(lines), failed)


# ----------------------------------------------------------------------------- finished runs

def finished_result(folder):
    """The stored result of the run in ``folder`` if it finished (its ``summary.json``), else None:
    a folder without one (a checkpoint, or nothing) is a run to resume or to start."""
    path = os.path.join(os.fspath(folder), SUMMARY)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def record_result(folder, summary):
    """Write ``summary`` (a JSON-able dict) as the folder's ``summary.json``, atomically: the mark
    of a finished run, so a rerun of the sweep keeps it (see ``finished_result``)."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, SUMMARY)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1, allow_nan=True)
    os.replace(tmp, path)
    return path
