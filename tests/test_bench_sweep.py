"""The sweep benchmark runs end to end (a tiny comparison, one round) and prints the ratio."""

import importlib.util
import pathlib
import re

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sweep.py"


@pytest.fixture
def bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_sweep", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "DEFAULT", ["--train-per-class", "4", "--test-per-class", "2", "--hidden", "6",
                                            "--layers", "1"])
    return module


def test_bench_sweep_times_jobs_1_and_2_alternately_and_prints_the_ratio(bench, tmp_path, capsys):
    out = tmp_path / "SWEEP.md"
    assert bench.main(["--rounds", "1", "--epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.findall(r"round 1: --jobs (\d)", printed) == ["1", "2"]
    one, two, ratio = (float(x) for x in re.search(r"--jobs 1: [\d.]+ s \(median ([\d.]+) s\)\n--jobs 2: [\d.]+ s "
                                                   r"\(median ([\d.]+) s\)\nratio jobs 2 / jobs 1: ([\d.]+)",
                                                   printed).groups())
    assert ratio == pytest.approx(two / one, rel=0.06, abs=0.02)               # times printed to 0.1 s
    assert "ratio jobs 2 / jobs 1" in out.read_text()


def test_bench_sweep_names_a_failed_run(bench, monkeypatch):
    monkeypatch.setattr(bench, "DEFAULT", ["--train-per-class", "0"])
    with pytest.raises(RuntimeError, match="--jobs 1 --quiet .* failed"):
        bench.main(["--rounds", "1", "--epochs", "1"])
