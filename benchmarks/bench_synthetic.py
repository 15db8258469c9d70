"""Time the synthetic skeleton generator: sequences per second.

    python benchmarks/bench_synthetic.py [N ...]

N is the total number of sequences (10 classes, N // 10 per class); default 3000 and 10000.
Each size is timed a few times and the best run is reported (the machine may be busy).
"""

import sys
import time

import numpy as np

from minieleatt.data import generate_skeletons, iterate_batches


def best_time(fn, repeats):
    """The shortest wall time of ``repeats`` calls of ``fn()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(sizes):
    generate_skeletons(10, seed=0)                                      # warm-up: imports, caches
    print(f"{'sequences':>10} {'seconds':>8} {'seq/s':>8}   frames/s")
    for n in sizes:
        per_class = max(1, n // 10)
        data = generate_skeletons(per_class, seed=0)
        frames = sum(len(s) for s in data.sequences)
        seconds = best_time(lambda: generate_skeletons(per_class, seed=0), repeats=3 if n <= 5000 else 2)
        print(f"{10 * per_class:>10} {seconds:>8.2f} {10 * per_class / seconds:>8.0f}   {frames / seconds:,.0f}")
    data = generate_skeletons(300, seed=0)
    seconds = best_time(lambda: [None for _ in iterate_batches(data.sequences, data.labels, 256,
                                                               rng=np.random.default_rng(0))], repeats=3)
    print(f"iterate_batches: one epoch of {len(data.labels)} sequences in batches of 256: {seconds * 1e3:.0f} ms")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [3000, 10000])
