"""A sweep on one core and on two, side by side: the same small `minieleatt compare` with --jobs 1
and --jobs 2, alternately, in one sitting; prints each wall time and the ratio jobs 2 / jobs 1.

    python benchmarks/bench_sweep.py                      # 3 alternations of the small comparison
    python benchmarks/bench_sweep.py --rounds 2 --epochs 2

Each run is a fresh process (``python -m minieleatt.cli compare ... --quiet``) writing to a
temporary folder, timed from start to exit (data generation, the worker processes' start and the
report included): what a user waits for. The comparison is the main job's (four 3 x 100 GRU stacks
with the gate in 0..3 layers, synthetic skeleton actions) on less data and fewer epochs. The two
settings alternate (1, 2, 1, 2, ...) so that a change in the machine's load falls on both; the
ratio is the median of the jobs-2 times over the median of the jobs-1 times. On a machine with
two free cores the target is 0.6 or less. ``--out FILE`` also writes the result as Markdown.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT = ["--train-per-class", "40", "--test-per-class", "10"]


def run_once(jobs, epochs, out):
    """Seconds of one `minieleatt compare --jobs JOBS` from start to exit."""
    command = [sys.executable, "-m", "minieleatt.cli", "compare", *DEFAULT, "--epochs", str(epochs),
               "--jobs", str(jobs), "--quiet", "--out", out]
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="alternations of --jobs 1 and --jobs 2 (default 3)")
    p.add_argument("--epochs", type=int, default=3, help="epochs of every model (default 3)")
    p.add_argument("--jobs", type=int, default=2, help="the parallel side (default 2)")
    p.add_argument("--out", default=None, help="also write the result to this Markdown file")
    args = p.parse_args(argv)
    times = {1: [], args.jobs: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for jobs in (1, args.jobs):
                seconds = run_once(jobs, args.epochs, os.path.join(tmp, f"r{r}-j{jobs}"))
                times[jobs].append(seconds)
                print(f"round {r + 1}: --jobs {jobs}: {seconds:6.1f} s", flush=True)
    one, many = statistics.median(times[1]), statistics.median(times[args.jobs])
    ratio = many / one
    lines = [f"minieleatt compare {' '.join(DEFAULT)} --epochs {args.epochs} (4 models), {args.rounds} rounds, "
             f"{os.cpu_count()} logical cores, {platform.processor() or platform.machine()}",
             f"--jobs 1: {', '.join(f'{t:.1f}' for t in times[1])} s (median {one:.1f} s)",
             f"--jobs {args.jobs}: {', '.join(f'{t:.1f}' for t in times[args.jobs])} s (median {many:.1f} s)",
             f"ratio jobs {args.jobs} / jobs 1: {ratio:.2f} (target <= 0.6 on two free cores)"]
    print("\n".join(lines[1:]))
    if args.out:
        with open(args.out, "w") as f:
            f.write("# A sweep on one core and on two\n\n`python benchmarks/bench_sweep.py`\n\n"
                    + "\n".join(f"- {line}" for line in lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
