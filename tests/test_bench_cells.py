"""The cell benchmark runs end to end (a few steps, a tiny batch) and writes its Markdown table."""

import importlib.util
import pathlib

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_cells.py"


@pytest.fixture
def bench():
    spec = importlib.util.spec_from_file_location("bench_cells", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.MM_N, module.PAUSE = 128, 0.0                   # a quick run: small reference product, no pauses
    return module


def test_bench_cells_runs_and_writes_the_table(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "torch", None)             # the torch cases are checked below, on their own
    out = tmp_path / "RESULTS.md"
    assert bench.main(["--batches", "2", "--repeats", "1", "--steps", "3", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| gru + gate |" in text and "| gru + gate, reference |" in text and "GFLOP/s" in text
    assert "cores" in text and "NumPy" in text and "PyTorch not installed" in text


def test_the_torch_eleatt_gru_computes_what_ours_does(bench):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                               # tiny tensors: no thread pool to wake
    try:
        _agreement(bench)
    finally:
        torch.set_num_threads(threads)


def _agreement(bench):
    bench.T = 4
    layers = bench.build_stack("gru", True, False, "cpu")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, bench.D_IN), dtype=np.float32)
    dhs = rng.standard_normal((4, 3, bench.H), dtype=np.float32)
    d_hs, d_dx = bench.torch_agreement(layers, x, dhs)
    assert d_hs < 1e-5 and d_dx < 1e-5
