"""Two commits side by side in one process: the 3-layer EleAtt-GRU training step of each, interleaved.

When a hot path changes (a cell, the scan, a fast path), time the previous commit and
this one in the same session: the machines are shared and change speed within
minutes, so the two are timed round-robin, in one process, on the same inputs, and
compared as the median of the per-round ratios.

    python benchmarks/bench_commits.py --base c0e6796 [--batches 64 256] [--rounds 15]

``--base`` is a git revision (checked out into a temporary worktree) or a folder holding
another checkout. Each checkout's package is copied under a name of its own
(``minieleatt_base``, ``minieleatt_this``) so that both import side by side. The stack is
the paper's: 3 layers, T = 100, D = 75 then 100, H = 100, float32, the gate in every layer,
the reset-before GRU; a training step is the forward pass with the cache and the backward
pass (gradients of the input, the state and every parameter). This checkout is timed with
``impl="auto"`` and ``impl="reference"`` (where its layers take ``impl``).
"""

import argparse
import gc
import importlib
import inspect
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_cells import stack_train as train_step  # noqa: E402  (forward with the cache, then backward)

ROOT = Path(__file__).resolve().parents[1]
T, D_IN, H, LAYERS = 100, 75, 100, 3


def load_package(checkout, name, workdir):
    """Import the ``minieleatt`` package of ``checkout`` as the module ``name``."""
    shutil.copytree(Path(checkout) / "minieleatt", Path(workdir) / name)
    if str(workdir) not in sys.path:
        sys.path.insert(0, str(workdir))
    return importlib.import_module(name)


def checkout_of(base, workdir):
    """A folder with the checkout of ``base`` (a folder as it is, or a git revision in a temporary worktree)."""
    if Path(base).is_dir():
        return Path(base), None
    path = Path(workdir) / "base-checkout"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), base], check=True)
    return path, path


def stack(package, impl=None):
    kwargs = {"impl": impl} if impl and "impl" in inspect.signature(package.EleAttGRU).parameters else {}
    return [package.EleAttGRU(D, H, attention=True, dtype="float32", seed=i, **kwargs)
            for i, D in enumerate([D_IN] + [H] * (LAYERS - 1))]


def run(args):
    workdir = Path(tempfile.mkdtemp(prefix="bench-commits-"))
    base_dir, worktree = checkout_of(args.base, workdir)
    try:
        base = load_package(base_dir, "minieleatt_base", workdir)
        this = load_package(ROOT, "minieleatt_this", workdir)
        revision = subprocess.run(["git", "-C", str(base_dir), "rev-parse", "--short", "HEAD"], capture_output=True,
                                  text=True).stdout.strip() or str(base_dir)
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "minieleatt"], capture_output=True,
                               text=True).stdout.strip()
        print(f"base {revision} vs this checkout {head}{' (with uncommitted changes)' if dirty else ''}; "
              f"3 x EleAtt-GRU(100), T={T}, D={D_IN}/100, float32; {args.rounds} interleaved rounds; "
              f"NumPy {np.__version__}")
        rng = np.random.default_rng(0)
        lines = []
        for B in args.batches:
            x = rng.standard_normal((T, B, D_IN), dtype=np.float32)
            dhs = rng.standard_normal((T, B, H), dtype=np.float32)
            cases = {f"base {revision}": stack(base), "this, impl=auto": stack(this, "auto"),
                     "this, impl=reference": stack(this, "reference")}
            for layers in cases.values():          # warm-up
                train_step(layers, x, dhs)
            times = {name: [] for name in cases}
            for _ in range(args.rounds):
                gc.collect()
                for name, layers in cases.items():
                    time.sleep(args.pause)
                    gc.disable()
                    t0 = time.perf_counter()
                    train_step(layers, x, dhs)
                    times[name].append(time.perf_counter() - t0)
                    gc.enable()
            base_name = f"base {revision}"
            for name, ts in times.items():
                ratio = statistics.median(t / b for t, b in zip(ts, times[base_name]))
                line = (f"B={B:<4} {name:<24} median {1e3 * statistics.median(ts):8.1f} ms  "
                        f"(min {1e3 * min(ts):7.1f}, max {1e3 * max(ts):7.1f})  ratio to base {ratio:.3f}")
                print(line)
                lines.append(line)
        return lines
    finally:
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="a git revision or a folder with another checkout")
    p.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    p.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    p.add_argument("--pause", type=float, default=0.1, help="seconds between timed steps (BLAS threads settle)")
    run(p.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
