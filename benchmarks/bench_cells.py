"""Speed and memory of the cells, side by side with PyTorch, in one run.

For a 3-layer stack in the paper's configuration (T = 100 steps, input size 75
for layer 1 then 100, hidden size 100, float32) at each batch size, it times

- the forward pass (inference, ``keep_cache=False``) and the training step
  (forward with the cache, then backward) of each cell (rnn, lstm, gru), with
  and without the element-wise attention gate; the GRU is the paper's
  reset-before form, plus the plain reset-after GRU (PyTorch's form);
- the EleAtt-GRU once more with ``impl="reference"``: the readable reference cells
  (``minieleatt.functional``) that every other row reproduces (the other rows run
  ``impl="auto"``: the NumPy fast path on the CPU, the fused kernels on the GPU);
- with ``--device gpu``, the EleAtt-GRU once more on the CPU (our GPU figure against our
  CPU figure);
- the kernel launches of a training step on the GPU, along the fused (``impl="fused"``)
  and the reference (``impl="reference"``, unfused) path, counted on the CPU by
  ``launch_count.py`` (a stand-in for CuPy, run in a subprocess): the same count with or
  without a GPU;
- when PyTorch is installed, on the same inputs and parameters: the same
  EleAtt-GRU written with torch operations and autograd in a Python loop, and
  the fused ``torch.nn.GRU`` / ``torch.nn.LSTM`` (3 layers, no gate); with
  ``--device gpu``, everything on CuPy and on torch's CUDA device;

and prints milliseconds (median of the repeats, after a warm-up; the cases are
timed round-robin so that every case sees the same machine), GFLOP/s, the ratio
to a large float32 matrix product timed in the same round-robin, the minor page
faults of a training step, its peak memory and the training cache in bytes per
step per layer. Threads: OpenBLAS as it starts (all cores), torch set to the core
count; both are written into the table.

FLOPs are the products only: forward ``2·B·(D·D + H·D + D·G·H + H·G·H)`` per
layer and step with the gate (``2·B·(D·G·H + H·G·H)`` without), G = 1, 4, 3 for
RNN, LSTM, GRU; a training step is three times the forward.

    PYTHONPATH=. python benchmarks/bench_cells.py [--device cpu|gpu] [--batches 16 64 256]
        [--repeats 7] [--steps 100] [--reuse-freed-memory] [--out benchmarks/RESULTS.md]
"""

import argparse
import ctypes
import gc
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # this checkout's package, before any installed copy

import numpy as np  # noqa: E402

from minieleatt.backend import to_device, to_host  # noqa: E402
from minieleatt.functional import GATE_COUNT  # noqa: E402
from minieleatt.layers import EleAttGRU, EleAttLSTM, EleAttRNN  # noqa: E402

T, D_IN, H, LAYERS = 100, 75, 100, 3
SIZES = [D_IN] + [H] * (LAYERS - 1)     # input size of each layer

try:
    import torch
except ImportError:                      # PyTorch is optional
    torch = None


# ----------------------------------------------------------------------------- the machine

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return "/".join(f for f in ("avx2", "fma", "avx512f") if f in flags)
    except OSError:
        pass
    return "?"


def core_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _openblas():
    """NumPy's bundled OpenBLAS through ctypes (config string, threads, kernel), or None."""
    libdir = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(glob.glob(str(libdir / "*openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "openblas_", "scipy_"):
            for suffix in ("64_", ""):
                try:
                    get_config = getattr(lib, f"{prefix}get_config{suffix}")
                    get_threads = getattr(lib, f"{prefix}get_num_threads{suffix}")
                    get_core = getattr(lib, f"{prefix}get_corename{suffix}")
                except AttributeError:
                    continue
                get_config.restype = get_core.restype = ctypes.c_char_p
                return get_config().decode(), get_threads(), get_core().decode()
    return None


def blas_description():
    info = _openblas()
    if info is not None:
        config, threads, core = info
        return f"{config.strip()}; kernel {core}; {threads} threads"
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{deps.get('name')} {deps.get('version')}"
    except Exception:
        return "unknown"


ALLOCATOR = ("the allocator's defaults (glibc malloc hands large freed blocks back to the kernel, so each "
             "training step's caches are fresh pages: 'faults' counts them)")


def machine_lines(device, xp):
    lines = [
        f"- CPU: {cpu_model()} ({cpu_flags()}), {core_count()} cores; Python {platform.python_version()}",
        f"- NumPy {np.__version__}, BLAS: {blas_description()} "
        f"(OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})",
    ]
    if torch is not None:
        lines.append(f"- PyTorch {torch.__version__}, torch.set_num_threads({torch.get_num_threads()}) "
                     f"(= the core count); intra-op threads as set")
    else:
        lines.append("- PyTorch not installed: the torch comparisons are left out")
    lines.append(f"- Memory: {ALLOCATOR}")
    if device == "gpu":
        props = xp.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        lines.append(f"- GPU: {name}; CuPy {xp.__version__}, CUDA runtime {xp.cuda.runtime.runtimeGetVersion()}")
    return lines


# ----------------------------------------------------------------------------- timing

def make_sync(device):
    if device != "gpu":
        return lambda: None
    import cupy

    def sync():
        cupy.cuda.Device().synchronize()
        if torch is not None and torch.cuda.is_available():
            torch.cuda.synchronize()
    return sync


PAUSE = 0.25      # seconds between timed cases: longer than OpenBLAS (or OpenMP) threads spin after a call


SAMPLES = {}      # every timed sample of the last ``time_cases`` call: name -> [seconds, ...]
FAULTS = {}       # the median number of minor page faults of each case in the last ``time_cases`` call


def minor_faults():
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    except (ImportError, AttributeError):     # not on Linux/macOS
        return 0


def reuse_freed_memory():
    """Ask glibc's malloc to keep freed memory (no mmap for large blocks, no trimming of the heap).

    By default glibc hands large freed blocks back to the kernel, so every training step
    touches its ~100 MB of fresh caches for the first time: one minor page fault per 4 KiB
    page (or 2 MiB huge page), each zeroed by the kernel. Returns a line for the table, or
    None where it cannot be done (not glibc)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
        ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
    except (OSError, AttributeError):
        ok = False
    return ("glibc malloc told to keep freed memory (`mallopt`: no mmap, no heap trimming; "
            "`--reuse-freed-memory`)") if ok else None


def time_cases(cases, repeats, sync, warmup=2, pause=None):
    """Median seconds of each case; the cases are timed round-robin, ``repeats`` rounds after a warm-up."""
    pause = PAUSE if pause is None else pause
    times = {name: [] for name in cases}
    faults = {name: [] for name in cases}
    for fn in cases.values():
        for _ in range(warmup):
            fn()
        sync()
    for _ in range(repeats):
        gc.collect()
        for name, fn in cases.items():
            time.sleep(pause)                # let the other library's spinning threads settle
            sync()
            gc.disable()                     # as timeit does: no collection inside a timed call
            try:
                f0 = minor_faults()
                t0 = time.perf_counter()
                fn()
                sync()
                times[name].append(time.perf_counter() - t0)
                faults[name].append(minor_faults() - f0)
            finally:
                gc.enable()
    SAMPLES.clear()
    SAMPLES.update(times)
    FAULTS.clear()
    FAULTS.update({name: statistics.median(f) for name, f in faults.items()})
    return {name: statistics.median(ts) for name, ts in times.items()}


MM_N = 2048


def matmul_case(xp):
    """An n x n float32 matrix product (n = 2048): the machine's large-product rate, timed with the cases."""
    rng = np.random.default_rng(0)
    a = xp.asarray(rng.standard_normal((MM_N, MM_N), dtype=np.float32))
    b = xp.asarray(rng.standard_normal((MM_N, MM_N), dtype=np.float32))
    out = xp.empty((MM_N, MM_N), dtype=xp.float32)
    return lambda: xp.matmul(a, b, out=out)


def mm_rate(seconds):
    return 2 * MM_N ** 3 / seconds / 1e9


def launch_counts(steps):
    """{label: {"fused": {...}, "reference": {...}}} from launch_count.py in a subprocess, or None."""
    script = Path(__file__).resolve().parent / "launch_count.py"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(script.parent)]))
    done = subprocess.run([sys.executable, str(script), "--steps", str(steps), "--json"], capture_output=True,
                          text=True, env=env)
    if done.returncode != 0:
        print(f"launch count failed, the launch columns are left empty:\n{done.stderr}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["counts"]


# ----------------------------------------------------------------------------- our stacks

def forward_flops(cell, attention, B):
    G = GATE_COUNT[cell]
    per_step = sum(D * G * H + H * G * H + ((D * D + H * D) if attention else 0) for D in SIZES)
    return 2 * B * per_step * T


REFERENCE = "gru + gate, reference"   # the same stack run by the readable reference (impl="reference")
ON_CPU = "gru + gate, on the CPU"      # with --device gpu: the same stack on NumPy, for GPU vs CPU
CONFIGS = [  # (label, cell, attention, reset_after)
    ("rnn", "rnn", False, False), ("rnn + gate", "rnn", True, False),
    ("lstm", "lstm", False, False), ("lstm + gate", "lstm", True, False),
    ("gru", "gru", False, False), ("gru + gate", "gru", True, False),
    ("gru reset-after", "gru", False, True),
]


def build_stack(cell, attention, reset_after, device, seed=0, impl="auto"):
    layers = []
    for i, D in enumerate(SIZES):
        kw = dict(attention=attention, dtype="float32", seed=seed + i, device=device, impl=impl)
        if cell == "gru":
            layers.append(EleAttGRU(D, H, reset_after=reset_after, **kw))
        else:
            layers.append({"rnn": EleAttRNN, "lstm": EleAttLSTM}[cell](D, H, **kw))
    return layers


def stack_forward(layers, x):
    h = x
    for layer in layers:
        h, _ = layer.forward(h, keep_cache=False)
    return h


def stack_train(layers, x, dhs):
    caches, h = [], x
    for layer in layers:
        h, cache = layer.forward(h)
        caches.append(cache)
    d, all_grads = dhs, []
    for layer, cache in zip(reversed(layers), reversed(caches)):
        d, _, grads = layer.backward(d, cache)
        all_grads.append(grads)
    return h, d, all_grads[::-1]


def _owner(a):
    while getattr(a, "base", None) is not None:
        a = a.base
    return a


def _arrays(value):
    """Every array in a cache field: arrays, tuples and lists of them, and named tuples (step caches)."""
    if hasattr(value, "nbytes"):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _arrays(v)


def cache_bytes(layers, x):
    """Bytes of memory each layer's training cache holds, per step (its own arrays; not x, params)."""
    caches, inputs, h = [], [], x
    for layer in layers:
        inputs.append(h)
        h, cache = layer.forward(h)
        caches.append(cache)
    per_layer, seen = [], set()
    for layer, cache, inp in zip(layers, caches, inputs):
        # the layer's input is not its cache's memory (but a copy of it that the cache keeps is)
        exclude = {id(_owner(inp))} | {id(_owner(p)) for p in layer.params.values()}
        total = 0
        for name in cache._fields:
            if name in ("params", "final_state"):
                continue
            for a in _arrays(getattr(cache, name)):
                o = _owner(a)
                if name != "steps" and (o.ndim != 3 or o.shape[0] not in (T, T + 1) and o.shape[1] not in (T, T + 1)):
                    continue           # not per step: W_hcat (the fused weights)
                if id(o) not in seen and id(o) not in exclude and not any(o is _owner(p) for p in layer.params.values()):
                    seen.add(id(o))
                    total += o.nbytes
        per_layer.append(total / T)
    light_kept = []
    for layer in layers[:1]:
        _, light = layer.forward(x, keep_cache=False)
        light_kept = [f for f in light._fields if f not in ("activation", "reset_after", "final_state")
                      and getattr(light, f) is not None]
    return per_layer, light_kept


def peak_memory(fn, device):
    """Peak bytes allocated while ``fn`` runs (tracemalloc on the CPU, the CuPy memory pool on the GPU)."""
    if device == "gpu":
        import cupy
        pool = cupy.get_default_memory_pool()
        cupy.cuda.Device().synchronize()
        pool.free_all_blocks()
        before = pool.total_bytes()
        fn()
        cupy.cuda.Device().synchronize()
        return pool.total_bytes() - before
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


# ----------------------------------------------------------------------------- PyTorch

def torch_eleatt_gru_stack(x, params_list):
    """The EleAtt-GRU (reset-before, sigmoid gate) with torch operations; autograd does the backward.

    Written as a PyTorch user would, with the same two obvious savings as ours: the
    input half of the gate ``x W_xa + b_a`` for all steps in one product, and the
    products with ``h_{t-1}`` of one step in one matmul with ``[W_ha | W_hr W_hz]``.
    """
    h_in = x
    for p in params_list:
        Tn, Bn, Dn = h_in.shape
        Hn = p["W_h"].shape[0]
        W_hcat = torch.cat([p["W_ha"], p["W_h"][:, : 2 * Hn]], dim=1)
        W_hn = p["W_h"][:, 2 * Hn:]
        xa = (h_in.reshape(Tn * Bn, Dn) @ p["W_xa"] + p["b_a"]).reshape(Tn, Bn, Dn)
        h = torch.zeros(Bn, Hn, dtype=x.dtype, device=x.device)
        outs = []
        for t in range(Tn):
            hW = h @ W_hcat
            a = torch.sigmoid(xa[t] + hW[:, :Dn])
            gx = (a * h_in[t]) @ p["W_x"] + p["b"]
            rz = torch.sigmoid(gx[:, : 2 * Hn] + hW[:, Dn:])
            r, z = rz[:, :Hn], rz[:, Hn:]
            n = torch.tanh(gx[:, 2 * Hn:] + (r * h) @ W_hn)
            h = n + z * (h - n)
            outs.append(h)
        h_in = torch.stack(outs)
    return h_in


def torch_cases(layers_gate, x_np, dhs_np, device, B):
    """Callables for the torch cases, on the same inputs and (for the EleAtt-GRU) the same parameters."""
    dev = "cuda" if device == "gpu" else "cpu"
    if device == "gpu" and not torch.cuda.is_available():
        return {}, None
    from minieleatt.backend import to_host
    tx = torch.tensor(np.asarray(to_host(x_np)), device=dev)
    tg = torch.tensor(np.asarray(to_host(dhs_np)), device=dev)
    tparams = [{k: torch.tensor(to_host(v), device=dev, requires_grad=True) for k, v in layer.params.items()}
               for layer in layers_gate]
    txg = tx.clone().requires_grad_(True)

    def eleatt_train():
        hs = torch_eleatt_gru_stack(txg, tparams)
        hs.backward(tg)
        for p in tparams:
            for v in p.values():
                v.grad = None
        txg.grad = None
        return hs

    def eleatt_forward():
        with torch.no_grad():
            return torch_eleatt_gru_stack(tx, tparams)

    torch.manual_seed(0)
    gru = torch.nn.GRU(D_IN, H, num_layers=LAYERS).to(dev)
    lstm = torch.nn.LSTM(D_IN, H, num_layers=LAYERS).to(dev)

    def fused(mod):
        def train():
            hs, _ = mod(txg)
            hs.backward(tg)
            mod.zero_grad(set_to_none=True)
            txg.grad = None

        def forward():
            with torch.no_grad():
                return mod(tx)
        return forward, train

    cases = {"torch EleAtt-GRU (autograd)": (eleatt_forward, eleatt_train),
             "torch.nn.GRU (fused, no gate)": fused(gru),
             "torch.nn.LSTM (fused, no gate)": fused(lstm)}
    return cases, eleatt_train


def torch_agreement(layers_gate, x, dhs):
    """Largest |difference| between our EleAtt-GRU stack and the torch one (hs and dx), float32."""
    from minieleatt.backend import to_host
    hs, dx, _ = stack_train(layers_gate, x, dhs)
    dev = "cuda" if "cupy" in type(x).__module__ else "cpu"
    tx = torch.tensor(to_host(x), device=dev, requires_grad=True)
    tparams = [{k: torch.tensor(to_host(v), device=dev) for k, v in layer.params.items()} for layer in layers_gate]
    ths = torch_eleatt_gru_stack(tx, tparams)
    ths.backward(torch.tensor(to_host(dhs), device=dev))
    return (float(np.abs(to_host(hs) - ths.detach().cpu().numpy()).max()),
            float(np.abs(to_host(dx) - tx.grad.cpu().numpy()).max()))


# ----------------------------------------------------------------------------- the run

def run(args):
    device = args.device
    if device == "gpu":
        from minieleatt.backend import array_module
        xp = array_module("gpu")
    else:
        xp = np
    global ALLOCATOR
    if args.reuse_freed_memory:
        ALLOCATOR = reuse_freed_memory() or ALLOCATOR + "; `--reuse-freed-memory` could not be applied here"
    ncores = core_count()
    if torch is not None:
        torch.set_num_threads(ncores)
    sync = make_sync(device)

    print("\n".join(machine_lines(device, xp)))
    launches = launch_counts(T)
    mm_fn = matmul_case(xp)
    mm = mm_rate(time_cases({"mm": mm_fn}, args.repeats, sync, pause=0)["mm"])
    print(f"float32 {MM_N}x{MM_N} matrix product: {mm:.0f} GFLOP/s (before the cells; each batch times it again)")
    mm_by_batch, mm_spread = {}, {}

    rng = np.random.default_rng(0)
    results = []        # (B, label, fwd s, train s, peak bytes, cache per layer)
    torch_results = []  # (B, label, fwd s, train s)
    agreement = {}
    summary = {}
    gpu_vs_cpu = {}
    for B in args.batches:
        x = to_device(rng.standard_normal((T, B, D_IN), dtype=np.float32), device)
        dhs = to_device(rng.standard_normal((T, B, H), dtype=np.float32), device)
        stacks = {label: build_stack(cell, att, ra, device) for label, cell, att, ra in CONFIGS}
        stacks[REFERENCE] = build_stack("gru", True, False, device, impl="reference")
        cases = {("mm", "mm"): mm_fn}
        for label, _, _, _ in CONFIGS:
            layers = stacks[label]
            cases[(label, "fwd")] = (lambda L=layers: stack_forward(L, x))
            cases[(label, "train")] = (lambda L=layers: stack_train(L, x, dhs))
        cases[(REFERENCE, "fwd")] = (lambda L=stacks[REFERENCE]: stack_forward(L, x))
        cases[(REFERENCE, "train")] = (lambda L=stacks[REFERENCE]: stack_train(L, x, dhs))
        if device == "gpu":
            x_cpu, dhs_cpu = to_host(x), to_host(dhs)
            stacks[ON_CPU] = cpu_layers = build_stack("gru", True, False, "cpu")
            cases[(ON_CPU, "fwd")] = lambda: stack_forward(cpu_layers, x_cpu)
            cases[(ON_CPU, "train")] = lambda: stack_train(cpu_layers, x_cpu, dhs_cpu)
        if torch is not None:
            tcases, _ = torch_cases(stacks["gru + gate"], x, dhs, device, B)
            for label, (f, tr) in tcases.items():
                cases[(label, "fwd")] = f
                cases[(label, "train")] = tr
            if tcases:
                agreement[B] = torch_agreement(stacks["gru + gate"], x, dhs)
        times = time_cases(cases, args.repeats, sync)
        faults = dict(FAULTS)
        mm = mm_by_batch[B] = mm_rate(times[("mm", "mm")])
        mm_spread[B] = (mm_rate(max(SAMPLES[("mm", "mm")])), mm_rate(min(SAMPLES[("mm", "mm")])))
        print(f"B={B:<4} float32 {MM_N}x{MM_N} matrix product, timed with the cases: {mm:.0f} GFLOP/s "
              f"(rounds: {mm_spread[B][0]:.0f} to {mm_spread[B][1]:.0f})")
        extra = [(REFERENCE, "gru", True, False)] + ([(ON_CPU, "gru", True, False)] if device == "gpu" else [])
        for label, cell, att, ra in list(CONFIGS) + extra:
            layers = stacks[label]
            on = "cpu" if label == ON_CPU else device
            xs, ds = (x_cpu, dhs_cpu) if label == ON_CPU else (x, dhs)
            peak = peak_memory(lambda: stack_train(layers, xs, ds), on)
            per_layer, light_kept = cache_bytes(layers, xs)
            assert light_kept == [], f"keep_cache=False kept {light_kept}"
            fl = forward_flops(cell, att, B)
            row = dict(B=B, label=label, fwd=times[(label, "fwd")], train=times[(label, "train")],
                       fwd_gf=fl / times[(label, "fwd")] / 1e9, train_gf=3 * fl / times[(label, "train")] / 1e9,
                       peak=peak, cache=per_layer, faults=faults[(label, "train")],
                       launches=launch_cells(launches, label))
            results.append(row)
            print(f"B={B:<4} {label:<16} fwd {row['fwd'] * 1e3:8.1f} ms {row['fwd_gf']:6.1f} GF/s "
                  f"({100 * row['fwd_gf'] / mm:4.1f}%)  train {row['train'] * 1e3:8.1f} ms "
                  f"{row['train_gf']:6.1f} GF/s ({100 * row['train_gf'] / mm:4.1f}%)  peak {peak / 2**20:7.1f} MiB  "
                  f"cache/step/layer {' '.join(f'{c / 1024:.0f}' for c in per_layer)} KiB")
        if torch is not None:
            for label in ("torch EleAtt-GRU (autograd)", "torch.nn.GRU (fused, no gate)",
                          "torch.nn.LSTM (fused, no gate)"):
                if (label, "fwd") in times:
                    torch_results.append(dict(B=B, label=label, fwd=times[(label, "fwd")],
                                              train=times[(label, "train")], faults=faults[(label, "train")]))
                    print(f"B={B:<4} {label:<31} fwd {times[(label, 'fwd')] * 1e3:8.1f} ms  "
                          f"train {times[(label, 'train')] * 1e3:8.1f} ms")
            if ("torch EleAtt-GRU (autograd)", "train") in times:
                ours = times[("gru + gate", "train")]
                summary[B] = dict(
                    vs_autograd=ours / times[("torch EleAtt-GRU (autograd)", "train")],
                    vs_nn_gru=ours / times[("torch.nn.GRU (fused, no gate)", "train")],
                    plain_vs_nn_gru=times[("gru reset-after", "train")] / times[("torch.nn.GRU (fused, no gate)", "train")],
                    plain_lstm_vs_nn_lstm=times[("lstm", "train")] / times[("torch.nn.LSTM (fused, no gate)", "train")],
                    pct_mm=100 * 3 * forward_flops("gru", True, B) / ours / 1e9 / mm)
                s = summary[B]
                print(f"B={B:<4} EleAtt-GRU training step: {s['vs_autograd']:.2f} x torch autograd, "
                      f"{s['vs_nn_gru']:.2f} x torch.nn.GRU, {s['pct_mm']:.0f}% of the matmul rate")
        if device == "gpu":
            gpu_vs_cpu[B] = dict(gpu=times[("gru + gate", "train")], unfused=times[(REFERENCE, "train")],
                                 cpu=times[(ON_CPU, "train")])
            g = gpu_vs_cpu[B]
            print(f"B={B:<4} EleAtt-GRU training step: GPU {g['gpu'] * 1e3:.1f} ms (reference, unfused "
                  f"{g['unfused'] * 1e3:.1f} ms), CPU {g['cpu'] * 1e3:.1f} ms: GPU {g['cpu'] / g['gpu']:.1f} x faster")
        del stacks, cases
        gc.collect()

    md = markdown(args, device, xp, mm_by_batch, mm_spread, results, torch_results, summary, agreement,
                  gpu_vs_cpu, launches is not None)
    if args.out:
        Path(args.out).write_text(md)
        print(f"wrote {args.out}")
    return 0


def launch_cells(launches, label):
    """(fused, reference) launches per training step of a row, or None (no count, or a CPU-only row)."""
    if launches is None or label == ON_CPU:
        return None
    counts = launches["gru + gate" if label == REFERENCE else label]
    if label == REFERENCE:
        return (None, counts["reference"]["launches"])
    return (counts["fused"]["launches"], counts["reference"]["launches"])


def _launch_md(launches):
    if launches is None:
        return " | "
    fused, reference = launches
    return f"{'' if fused is None else fused} | {reference}"


def markdown(args, device, xp, mm_by_batch, mm_spread, results, torch_results, summary, agreement,
             gpu_vs_cpu=None, counted=False):
    out = [f"# Cell benchmark ({device})", "",
           f"`python benchmarks/bench_cells.py --device {device} --batches {' '.join(map(str, args.batches))}"
           f" --repeats {args.repeats}" + (f" --steps {T}" if T != 100 else "")
           + (" --reuse-freed-memory" if args.reuse_freed_memory else "")
           + f"`, run {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    out += machine_lines(device, xp)
    out += [f"- float32 {MM_N}x{MM_N} matrix product (`xp.matmul` with `out=`), timed in each batch's round-robin "
            "with the cells, the reference for '% mm': "
            + ", ".join(f"**{mm_by_batch[B]:.0f} GFLOP/s** at batch {B} (rounds {mm_spread[B][0]:.0f} to "
                        f"{mm_spread[B][1]:.0f})" for B in args.batches)
            + ". The spread says how steady the machine was while the batch ran: a shared virtual machine "
            "can change speed within minutes, so compare the rows of one batch (timed round-robin) with each other.",
            "",
            f"3 layers, T = {T}, D = {D_IN} then {H}, H = {H}, float32. 'fwd' is inference (`keep_cache=False`), "
            "'train' is forward with the cache plus backward (gradients of x, state and all parameters). "
            "Milliseconds are the median of "
            f"{args.repeats} round-robin repeats after a warm-up. GFLOP/s count the products only "
            "(forward 2·B·(D·D + H·D + D·G·H + H·G·H) per layer and step with the gate, without D·D + H·D "
            "for the plain cells; training = 3 x forward). The GRU is the paper's reset-before form unless "
            "it says reset-after. Every row runs `impl=\"auto\"` (the NumPy fast path on the CPU, the fused kernels "
            "on the GPU) except 'reference', the same EleAtt-GRU stack run by the readable reference cells "
            "(`impl=\"reference\"`, `minieleatt.functional`). 'peak' is the largest memory allocated during one training step "
            "(tracemalloc, NumPy's allocations; on the GPU the CuPy pool), "
            "'cache' the training cache per step per layer (layer 1 / 2 / 3; the per-step arrays the forward pass "
            "made and backward needs: each array counted once, the layer's input and the parameters not counted "
            "(nor the fused weights `W_hcat` the cache also holds, H x (D + G·H) numbers per layer, not per step), "
            "but a copy of the input that the cache keeps is: the fast path keeps layer 1's x feature-major). `keep_cache=False` keeps no "
            "arrays (checked in the run). 'faults/train' is the median number of minor page faults "
            "(first touches of fresh memory) during one timed training step. 'GPU launches/train' are the "
            "kernel launches of one training step on the GPU along the fused path (`impl=\"fused\"`, what "
            "`auto` runs on CuPy) and the reference path (`impl=\"reference\"`, no fused kernels), counted on the CPU by "
            "`benchmarks/launch_count.py`, a stand-in for CuPy that counts one launch per element-wise operation, "
            "reduction, matrix product, memory-writing copy or fill and fused-kernel call (cuBLAS may launch more "
            "than one kernel per product); the count does not depend on the batch"
            + ("" if counted else " (the count failed in this run: the columns are empty)")
            + (f". On the GPU, 'reference' is the EleAtt-GRU without the fused kernels (the unfused GPU path), 'on the "
               f"CPU' the same stack on NumPy (fast path), timed in the same round-robin; torch.nn.GRU/LSTM "
               f"run cuDNN there." if device == "gpu" else "."), ""]
    for B in args.batches:
        mm = mm_by_batch[B]
        out += [f"## Batch {B}", "",
                "| cell | fwd ms | fwd GFLOP/s | fwd % mm | train ms | train GFLOP/s | train % mm | faults/train "
                "| peak MiB | cache KiB/step/layer | cache bytes/step/layer/sequence | GPU launches/train fused "
                "| GPU launches/train reference |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in results:
            if r["B"] != B:
                continue
            out.append(f"| {r['label']} | {r['fwd'] * 1e3:.1f} | {r['fwd_gf']:.1f} | {100 * r['fwd_gf'] / mm:.0f}% | "
                       f"{r['train'] * 1e3:.1f} | {r['train_gf']:.1f} | {100 * r['train_gf'] / mm:.0f}% | "
                       f"{r['faults']:.0f} | {r['peak'] / 2**20:.1f} | {' / '.join(f'{c / 1024:.1f}' for c in r['cache'])} | "
                       f"{' / '.join(f'{c / B:.0f}' for c in r['cache'])} | {_launch_md(r['launches'])} |")
        for r in torch_results:
            if r["B"] == B:
                out.append(f"| {r['label']} | {r['fwd'] * 1e3:.1f} | | | {r['train'] * 1e3:.1f} | | | "
                           f"{r['faults']:.0f} | | | | | |")
        if B in agreement:
            out += ["", f"Our EleAtt-GRU and the torch one on the same inputs (float32): largest |difference| "
                        f"{agreement[B][0]:.1e} in hs, {agreement[B][1]:.1e} in dx."]
        out.append("")
    if gpu_vs_cpu:
        out += ["## GPU against CPU (EleAtt-GRU training step, same run)", "",
                "| batch | GPU fused ms | GPU reference (unfused) ms | CPU ms | CPU / GPU fused | unfused / fused |",
                "|---:|---:|---:|---:|---:|---:|"]
        for B, g in gpu_vs_cpu.items():
            out.append(f"| {B} | {g['gpu'] * 1e3:.1f} | {g['unfused'] * 1e3:.1f} | {g['cpu'] * 1e3:.1f} | "
                       f"{g['cpu'] / g['gpu']:.1f} | {g['unfused'] / g['gpu']:.2f} |")
        out.append("")
    if summary:
        out += ["## Ratios (training step, same run)", "",
                "| batch | EleAtt-GRU / torch autograd EleAtt-GRU | EleAtt-GRU / torch.nn.GRU | "
                "plain reset-after GRU / torch.nn.GRU | plain LSTM / torch.nn.LSTM | EleAtt-GRU % of matmul rate |",
                "|---:|---:|---:|---:|---:|---:|"]
        for B, s in summary.items():
            out.append(f"| {B} | {s['vs_autograd']:.2f} | {s['vs_nn_gru']:.2f} | {s['plain_vs_nn_gru']:.2f} | "
                       f"{s['plain_lstm_vs_nn_lstm']:.2f} | {s['pct_mm']:.0f}% |")
        out.append("")
    return "\n".join(out) + "\n"


def main(argv=None):
    global T
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256])
    p.add_argument("--repeats", type=int, default=7, help="timed rounds per case (median); default 7")
    p.add_argument("--out", default=None, help="write the Markdown table here (e.g. benchmarks/RESULTS.md)")
    p.add_argument("--steps", type=int, default=T, help=f"sequence length T (default {T}, the paper's)")
    p.add_argument("--reuse-freed-memory", action="store_true",
                   help="tell glibc malloc to keep freed memory (no fresh pages, no page faults per step)")
    args = p.parse_args(argv)
    T = args.steps
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
