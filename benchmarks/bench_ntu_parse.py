"""Parsing speed of the NTU RGB+D ``.skeleton`` reader, single process.

Writes realistic synthetic files to a temporary folder (Kinect-like values
printed with 7 significant digits as in the real files, ~100 frames, 1 or 2
bodies, a few empty frames), then times ``read_skeleton`` alone and
``read_skeleton`` + ``preprocess_skeleton``, and prints files per second;
then times ``load_ntu`` (all cores, building its cache) and a second,
cached ``load_ntu``.
The target is 100 files/s per core.

    PYTHONPATH=. python benchmarks/bench_ntu_parse.py [--files 300] [--frames 100] [--workers N] [--profile]
"""

import argparse
import cProfile
import os
import pstats
import tempfile
import time

import numpy as np

from minieleatt.data.joints import REST_POSE, SPINE_MID
from minieleatt.data.ntu import Body, load_ntu, preprocess_skeleton, read_skeleton

# The package's standing pose (metres), SpineMid at the origin.
_POSE = REST_POSE - REST_POSE[SPINE_MID]


def synthetic_frames(rng, n_frames=100, n_bodies=1, n_empty=2):
    """Frames like ``read_skeleton`` returns: moving bodies, Kinect-like values in all 12 fields."""
    frames = [[] for _ in range(n_frames)]
    t = np.arange(n_frames)[:, None, None]
    for b in range(n_bodies):
        offset = np.array([0.6 * b - 0.3, 0.1, 3.2 + 0.3 * b])
        wave = 0.05 * np.sin(t * 0.1 + rng.uniform(0, 6, size=(1, 25, 3)))
        xyz = _POSE + offset + wave + rng.normal(0, 0.004, size=(n_frames, 25, 3))
        depth = np.stack([256 + 365 * xyz[..., 0] / xyz[..., 2], 212 - 365 * xyz[..., 1] / xyz[..., 2]], -1)
        color = np.stack([960 + 1060 * xyz[..., 0] / xyz[..., 2], 540 - 1060 * xyz[..., 1] / xyz[..., 2]], -1)
        quat = rng.normal(size=(n_frames, 25, 4))
        quat /= np.linalg.norm(quat, axis=-1, keepdims=True)
        quat[:, [15, 19, 21, 22, 23, 24]] = 0.0  # Kinect leaves end joints without orientation
        state = np.where(rng.random((n_frames, 25, 1)) < 0.95, 2.0, 1.0)
        joints = np.concatenate([xyz, depth, color, quat, state], axis=-1)
        body_id = 72057594037931101 + 7 * b
        for f in range(n_frames):
            info = np.array([0, 1, 1, 1, 1, 0, rng.normal(0, 0.05), rng.normal(0, 0.05), 2.0])
            frames[f].append(Body(body_id, info, joints[f]))
    for f in rng.choice(n_frames, size=min(n_empty, n_frames), replace=False):
        frames[f] = []
    return frames


def write_kinect_text(path, frames):
    """The ``.skeleton`` text with C#-like number printing (7 digits, ``E-05`` exponents)."""
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for body in bodies:
            out.append(f"{body.body_id} " + " ".join("%.7g" % v for v in body.info).replace("e", "E"))
            out.append(str(len(body.joints)))
            out.extend(" ".join("%.7g" % v for v in row).replace("e", "E") for row in body.joints)
    with open(path, "w", newline="\r\n") as f:  # the NTU files have Windows line ends
        f.write("\n".join(out) + "\n")


def make_files(folder, n_files, n_frames, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n_files):
        setup, camera, subject = i // 7200 + 1, i // 2400 % 3 + 1, i // 60 % 40 + 1
        name = f"S{setup:03d}C{camera:03d}P{subject:03d}R001A{i % 60 + 1:03d}.skeleton"
        path = os.path.join(folder, name)
        write_kinect_text(path, synthetic_frames(rng, n_frames, n_bodies=1 + i % 2))
        paths.append(path)
    return paths


def time_it(fn, paths, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        best = min(best, time.perf_counter() - t0)
    return len(paths) / best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--workers", type=int, default=None,
                    help="also time load_ntu on this many processes (default: all cores)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the parse")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = make_files(folder, args.files, args.frames)
        size = sum(os.path.getsize(p) for p in paths) / len(paths) / 1024
        print(f"{len(paths)} synthetic files, {args.frames} frames, 1-2 bodies, {size:.0f} KiB each")
        parse = time_it(read_skeleton, paths)
        full = time_it(lambda p: preprocess_skeleton(read_skeleton(p)), paths)
        print(f"read_skeleton:                       {parse:7.0f} files/s (one core)")
        print(f"read_skeleton + preprocess_skeleton: {full:7.0f} files/s (one core)")
        print("target: 100 files/s per core")
        workers = args.workers or len(os.sched_getaffinity(0))
        cache = os.path.join(folder, "cache", "ntu.npz")
        t0 = time.perf_counter()
        data = load_ntu(folder, "cs", cache=cache, workers=workers, progress=False)
        t1 = time.perf_counter()
        again = load_ntu(folder, "cs", cache=cache, workers=workers, progress=False)
        t2 = time.perf_counter()
        assert again.from_cache and len(data.skipped) == 0
        print(f"load_ntu, {workers} worker(s), building the cache: {len(paths) / (t1 - t0):7.0f} files/s "
              f"({t1 - t0:.2f} s)")
        print(f"load_ntu from the cache:                 {t2 - t1:7.2f} s")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for p in paths:
                preprocess_skeleton(read_skeleton(p))
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()
