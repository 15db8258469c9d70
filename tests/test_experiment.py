"""compare as a sweep: the same table with --jobs 1, --jobs 2 and a Dask LocalCluster; a failed
or killed comparison rerun with --resume trains only what was missing and gives the same results."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from minieleatt import experiment
from minieleatt.cli import main

HAVE_DISTRIBUTED = importlib.util.find_spec("distributed") is not None
TINY = ["compare", "--hidden", "6", "--layers", "1", "--train-per-class", "4", "--test-per-class", "2",
        "--epochs", "2", "--seeds", "0", "1", "--quiet"]                   # 2 models x 2 seeds = 4 runs
TIMES = ("seconds", "seconds_per_epoch")


def table_without_times(printed):
    """The printed results table, without its two time columns."""
    rows = [line.split("|") for line in printed.splitlines() if line.startswith("|")]
    assert len(rows) == 4, printed                                          # header, rule, two models
    return [cells[:7] + cells[9:] for cells in rows]


def results_without_times(out):
    saved = json.loads((out / "results.json").read_text())
    results = [{k: v for k, v in r.items() if k not in TIMES} for r in saved["results"]]
    histories = {label: [{k: v for k, v in row.items() if k != "seconds"} for row in history]
                 for label, history in saved["histories"].items()}
    return results, histories


def compare(out, capsys, *extra):
    assert main([*TINY, "--out", str(out), *extra]) == 0
    return table_without_times(capsys.readouterr().out)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The tiny comparison run one model after another (--jobs 1): what every other way must give."""
    out = tmp_path_factory.mktemp("serial") / "cmp"
    import io
    from contextlib import redirect_stdout

    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main([*TINY, "--out", str(out), "--jobs", "1"]) == 0
    return table_without_times(printed.getvalue()), results_without_times(out)


def test_compare_jobs_2_gives_the_table_of_jobs_1(serial, tmp_path, capsys):
    table, results = serial
    assert compare(tmp_path / "two", capsys, "--jobs", "2") == table
    assert results_without_times(tmp_path / "two") == results
    for seed in (0, 1):
        summary = json.loads((tmp_path / "two" / "models" / f"1_eleatt_gru_seed{seed}" / "summary.json").read_text())
        assert summary["seed"] == seed and summary["config"]["attention_layers"] == 1 and summary["attention"]


@pytest.mark.skipif(not HAVE_DISTRIBUTED, reason="Dask distributed is not installed (pip install 'minieleatt[dask]')")
def test_compare_on_a_dask_local_cluster_gives_the_table_of_jobs_1(serial, tmp_path, capsys):
    from distributed import LocalCluster

    table, results = serial
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        assert compare(tmp_path / "dask", capsys, "--scheduler", cluster.scheduler_address) == table
    assert results_without_times(tmp_path / "dask") == results


def test_a_failed_run_is_reported_and_resume_trains_only_it(serial, tmp_path, capsys, monkeypatch):
    real = experiment.compare_task

    def cursed(spec, config, folder, **kwargs):
        if spec.attention_layers == 1 and config.seed == 0:
            raise RuntimeError("a cosmic ray")
        return real(spec, config, folder, **kwargs)

    out = tmp_path / "cmp"
    monkeypatch.setattr(experiment, "compare_task", cursed)
    assert main([*TINY, "--out", str(out), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "1 of 4 runs failed (3 finished, kept; --resume runs them again)" in err
    assert "1-EleAtt-GRU, seed 0 (model=1-EleAtt-GRU, cell=gru, attention_layers=1, seed=0" in err
    assert "RuntimeError: a cosmic ray" in err
    models = out / "models"
    finished = sorted(p.parent.name for p in models.glob("*/summary.json"))
    assert finished == sorted(["1_gru_seed0", "1_gru_seed1", "1_eleatt_gru_seed1"])
    stamps = {name: (models / name / "summary.json").stat().st_mtime_ns for name in finished}
    monkeypatch.setattr(experiment, "compare_task", real)
    table = compare(out, capsys, "--jobs", "2", "--resume")
    assert {name: (models / name / "summary.json").stat().st_mtime_ns for name in finished} == stamps
    assert (models / "1_eleatt_gru_seed0" / "summary.json").exists()
    assert table == serial[0] and results_without_times(out) == serial[1]


def test_a_killed_comparison_resumes_only_what_was_missing(tmp_path, capsys):
    longer = [*TINY[:TINY.index("--epochs")], "--epochs", "12", "--seeds", "0", "1", "--quiet"]
    whole = tmp_path / "whole"
    assert main([*longer, "--out", str(whole), "--jobs", "1"]) == 0
    capsys.readouterr()
    out = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-m", "minieleatt.cli", *longer, "--out", str(out), "--jobs", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not list(out.glob("models/*/summary.json")) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(child.pid, signal.SIGKILL)                                # the first run just finished
    finally:
        child.wait()
    before = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("models/*/summary.json")}
    assert 1 <= len(before) < 4, before
    assert main([*longer, "--out", str(out), "--jobs", "2", "--resume"]) == 0
    capsys.readouterr()
    assert {name: (out / "models" / name / "summary.json").stat().st_mtime_ns for name in before} == before
    assert len(list(out.glob("models/*/summary.json"))) == 4
    assert results_without_times(out) == results_without_times(whole)
