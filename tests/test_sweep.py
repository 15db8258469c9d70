"""The sweep: tasks on the local cores (joblib) or a Dask cluster, the same results whatever the
workers, one BLAS thread each, failures reported while the others finish, finished runs kept."""

import importlib.util
import os
import time

import numpy as np
import pytest

from minieleatt.sweep import (SweepError, Task, default_jobs, finished_result, raise_failures, record_result,
                              resolve_jobs, run_sweep)

HAVE_DISTRIBUTED = importlib.util.find_spec("distributed") is not None


# module-level task functions: a worker process imports them from here
def noisy_sum(seed, size, scale=1.0):
    """A little numerical work whose result depends on the seed; the later tasks finish first."""
    time.sleep(0.05 * (4 - seed) if seed < 4 else 0)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((size, size))
    return {"seed": seed, "value": float((a @ a.T).sum()) * scale, "pid": os.getpid()}


def blas_threads_here():
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def fails_on_two(seed):
    if seed == 2:
        raise ValueError("seed two is cursed")
    return seed * 10


def counted(seed, folder):
    """Records that it ran (a file per call) and returns its seed."""
    with open(os.path.join(folder, f"ran-{seed}-{time.monotonic_ns()}"), "w"):
        pass
    return {"seed": seed}


def tasks_of(seeds, **kwargs):
    return [Task(f"seed {s}", {"seed": s}, {"seed": s, **kwargs}) for s in seeds]


def values(outcomes):
    return [{k: v for k, v in o.value.items() if k != "pid"} for o in outcomes]


def test_the_results_are_the_same_and_in_task_order_whatever_the_workers():
    tasks = tasks_of(range(5), size=30)
    lines = []
    serial = run_sweep(noisy_sum, tasks, jobs=1, log=lines.append)
    parallel = run_sweep(noisy_sum, tasks, jobs=2, log=lines.append)
    assert [o.task for o in parallel] == tasks
    assert values(parallel) == values(serial)
    assert [v["seed"] for v in values(parallel)] == [0, 1, 2, 3, 4]
    assert {o.value["pid"] for o in serial} == {os.getpid()}                 # jobs=1: here, one after another
    assert os.getpid() not in {o.value["pid"] for o in parallel}             # jobs=2: in worker processes
    shared = run_sweep(noisy_sum, tasks_of(range(3)), jobs=2, shared={"size": 30, "scale": 2.0}, progress=False)
    assert [o.value["value"] for o in shared] == [2 * v["value"] for v in values(serial)[:3]]


def test_every_task_runs_with_one_blas_thread_unless_told_otherwise():
    for jobs in (1, 2):
        outcomes = run_sweep(blas_threads_here, [Task("a"), Task("b")], jobs=jobs, progress=False)
        assert all(o.value and set(o.value) == {1} for o in outcomes), [o.value for o in outcomes]
    [free] = run_sweep(blas_threads_here, [Task("a")], jobs=1, blas_threads=None, progress=False)
    assert free.value == blas_threads_here()


def test_a_failure_is_reported_with_its_settings_while_the_others_finish():
    lines = []
    outcomes = run_sweep(fails_on_two, tasks_of(range(4)), jobs=2, log=lines.append)
    assert [o.value for o in outcomes] == [0, 10, None, 30]
    assert outcomes[2].failed and "seed two is cursed" in outcomes[2].error and "Traceback" in outcomes[2].traceback
    assert any("FAILED: seed 2 (seed=2): ValueError: seed two is cursed" in line for line in lines), lines
    with pytest.raises(SweepError) as info:
        raise_failures(outcomes)
    assert "1 of 4 runs failed (3 finished" in str(info.value) and "seed 2 (seed=2)" in str(info.value)
    assert info.value.failures == [outcomes[2]]
    raise_failures([o for o in outcomes if not o.failed])                     # nothing failed: nothing raised


def test_the_progress_lines_count_the_runs_and_give_an_eta():
    lines = []
    run_sweep(noisy_sum, tasks_of(range(3), size=5), jobs=1, log=lines.append, describe=lambda v: f"v={v['seed']}")
    runs = [line for line in lines if line.startswith("run ")]
    assert [line.split(" done")[0] for line in runs] == ["run 1/3", "run 2/3", "run 3/3"]
    assert "seed 0 (" in runs[0] and "v=0)" in runs[0]
    assert "; ETA " in runs[0] and "ETA" not in runs[2]
    quiet = []
    run_sweep(noisy_sum, tasks_of(range(2), size=5), jobs=1, log=quiet.append, progress=False)
    assert quiet == []


def test_finished_runs_are_kept_and_only_the_others_run(tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    tasks = [Task(f"seed {s}", {"seed": s}, {"seed": s, "folder": str(calls)}) for s in range(4)]

    def load_done(task):
        return finished_result(tmp_path / f"run{task.settings['seed']}")

    def save_done(task, value):
        record_result(tmp_path / f"run{task.settings['seed']}", value)

    record_result(tmp_path / "run1", {"seed": 1})                              # finished before
    (tmp_path / "run2").mkdir()                                                # started, not finished
    lines = []
    outcomes = run_sweep(counted, tasks, jobs=2, load_done=load_done, save_done=save_done, log=lines.append)
    assert [o.value for o in outcomes] == [{"seed": s} for s in range(4)]
    assert [o.skipped for o in outcomes] == [False, True, False, False]
    assert sorted(p.name.split("-")[1] for p in calls.iterdir()) == ["0", "2", "3"]
    assert "sweep: 1 of 4 runs finished before, kept; 3 to run" in lines
    assert finished_result(tmp_path / "run3") == {"seed": 3} and finished_result(tmp_path / "run9") is None
    again = run_sweep(counted, tasks, jobs=2, load_done=load_done, save_done=save_done, log=lines.append)
    assert all(o.skipped for o in again) and len(list(calls.iterdir())) == 3


def test_jobs_are_checked_and_default_to_the_physical_cores():
    from joblib import cpu_count

    assert default_jobs() == cpu_count(only_physical_cores=True)
    assert resolve_jobs(None) == default_jobs() and resolve_jobs(-1) == cpu_count()
    assert resolve_jobs(8, n_tasks=3) == 3 and resolve_jobs(1, n_tasks=3) == 1
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="--jobs must be a positive number of workers or -1"):
            resolve_jobs(bad, flag="--jobs")


@pytest.fixture(scope="module")
def cluster():
    if not HAVE_DISTRIBUTED:
        pytest.skip("Dask distributed is not installed (pip install 'minieleatt[dask]')")
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_a_dask_cluster_gives_the_same_results(cluster):
    tasks = tasks_of(range(5), size=30)
    serial = run_sweep(noisy_sum, tasks, jobs=1, progress=False)
    lines = []
    remote = run_sweep(noisy_sum, tasks, scheduler=cluster.scheduler_address, log=lines.append)
    assert values(remote) == values(serial)
    assert os.getpid() not in {o.value["pid"] for o in remote}
    assert sum(line.startswith("run ") for line in lines) == 5
    failed = run_sweep(fails_on_two, tasks_of(range(4)), scheduler=cluster.scheduler_address, progress=False)
    assert [o.value for o in failed] == [0, 10, None, 30] and "cursed" in failed[2].error
    threads = run_sweep(blas_threads_here, [Task("a")], scheduler=cluster.scheduler_address, progress=False)
    assert set(threads[0].value) == {1}


def test_a_missing_scheduler_is_a_clear_error():
    if not HAVE_DISTRIBUTED:
        with pytest.raises(ImportError, match=r"pip install 'minieleatt\[dask\]'"):
            run_sweep(noisy_sum, tasks_of([0], size=2), scheduler="tcp://127.0.0.1:1", progress=False)
        return
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(OSError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1.*dask scheduler"):
            run_sweep(noisy_sum, tasks_of([0], size=2), scheduler="tcp://127.0.0.1:1", progress=False)
