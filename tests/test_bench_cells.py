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
    # the GPU launch columns, counted on the CPU (benchmarks/launch_count.py in a subprocess)
    assert "| GPU launches/train fused | GPU launches/train reference |" in text
    row = next(line for line in text.splitlines() if line.startswith("| gru + gate |"))
    fused, reference = (int(c) for c in row.strip("| ").split(" | ")[-2:])
    assert 0 < fused < reference


def test_the_gpu_run_works_end_to_end_on_the_launch_counters_stand_in(tmp_path):
    """--device gpu with CuPy replaced by launch_count's stand-in (in a subprocess: it takes the name
    'cupy'): the reference (unfused) and on-the-CPU rows, the GPU-against-CPU table and the launch columns."""
    import subprocess
    import sys

    out = tmp_path / "gpu.md"
    code = ("import sys; sys.modules['torch'] = None; "              # no torch cases (and no 2 s import)
            "import launch_count; launch_count.install(); import bench_cells; "
            "bench_cells.MM_N, bench_cells.PAUSE = 64, 0.0; "
            f"bench_cells.main(['--device', 'gpu', '--batches', '2', '--repeats', '1', '--steps', '2', "
            f"'--out', {str(out)!r}])")
    root = BENCH.parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{root}:{BENCH.parent}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("# Cell benchmark (gpu)") and "launch-count stand-in" in text
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    unfused = rows["gru + gate, reference"].strip("| ").split(" | ")
    assert unfused[-2] == "" and int(unfused[-1]) > int(rows["gru + gate"].strip("| ").split(" | ")[-2])
    assert "gru + gate, on the CPU" in rows
    assert "## GPU against CPU (EleAtt-GRU training step, same run)" in text


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


def test_bench_commits_times_two_checkouts_side_by_side(capsys, monkeypatch):
    """benchmarks/bench_commits.py: this checkout against itself (a folder as --base), one short round."""
    import sys
    monkeypatch.syspath_prepend(str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("bench_commits", BENCH.parent / "bench_commits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "T", 3)
    assert module.main(["--base", str(BENCH.parents[1]), "--batches", "2", "--rounds", "1", "--pause", "0"]) == 0
    out = capsys.readouterr().out
    assert "this, impl=auto" in out and "this, impl=reference" in out and "ratio to base 1.000" in out
    assert "minieleatt_base" in sys.modules and "minieleatt_this" in sys.modules
