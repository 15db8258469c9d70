"""The data panel runs end to end (one small set, a tiny network) and writes its table; --resume keeps runs."""

import functools
import importlib.util
import json
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ts.py"
HAVE_UEA = any(importlib.util.find_spec(p) is not None for p in ("aeon", "sktime"))


@pytest.fixture
def bench(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_ts", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tiny = functools.partial(module.TrainConfig, hidden_size=4, num_layers=1, epochs=2)
    monkeypatch.setattr(module, "TrainConfig", tiny)          # the recipe's other choices stay
    return module


@pytest.mark.skipif(not HAVE_UEA, reason="neither aeon nor sktime (which bundle the UEA files) is installed")
def test_bench_ts_writes_the_panel_with_the_yardstick(bench, tmp_path, capsys):
    out = tmp_path / "panel"
    assert bench.main(["--sets", "UnitTest", "GunPoint", "--seeds", "0", "1", "--out", str(out)]) == 0
    text = (tmp_path / "panel.md").read_text()
    assert "| GunPoint | 50/150 | 150 | 1 | 2 |" in text and "| 90.7 % |" in text            # the published 1-NN DTW
    assert "| UnitTest | 20/22 | 24 | 1 | 2 |" in text and "UnitTest: aeon's" in text
    assert "Dau et al." in text and "DataSummary.csv" in text
    assert "| 90.7 % | 100.0 % | batch 8, window 3, mean+last, 2 epochs |" in text    # InceptionTime, the recipe
    assert "× IT" in text and "InceptionTime" in text
    saved = json.loads((tmp_path / "panel.json").read_text())
    assert set(saved["results"]["GunPoint"]["runs"]) == {"GRU/0", "GRU/1", "EleAtt-GRU/0", "EleAtt-GRU/1"}
    run = saved["results"]["GunPoint"]["runs"]["GRU/0"]
    assert (run["batch_size"], run["epochs"], run["window"], run["readout"]) == (8, 2, 3, "mean+last")
    assert saved["environment"]["blas"]
    capsys.readouterr()
    assert bench.main(["--sets", "UnitTest", "GunPoint", "--seeds", "0", "1", "--out", str(out), "--resume"]) == 0
    assert "seed" not in capsys.readouterr().out.split("\n| set")[0]           # nothing trained again
