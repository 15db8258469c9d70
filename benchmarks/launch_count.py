"""Kernel launches per training step, counted on the CPU by a stand-in for CuPy.

On the GPU a step's time is mostly the number of kernels it launches (each costs a few
microseconds of launch and Python), so the fused kernels are measured by how many
launches they save. Without a GPU the count is made here: ``CountingCupy`` is a module
that the library takes for CuPy (its arrays' type lives in a module named ``cupy``, so
``get_array_module`` returns it, ``kernels_for`` hands it the compiled-kernel path, and
the NumPy-only fast paths stay off, exactly as on a GPU). It runs every operation on
NumPy and counts, as CuPy would launch them:

- one launch for each element-wise operation (a ufunc, an operator, ``where``, ``copyto``),
  each reduction (``sum``, ``max``, ``all`` ...), each matrix product (one cuBLAS call;
  cuBLAS may launch more than one kernel inside it), each copy that writes memory
  (``a[...] = b``, ``copy``, ``astype``, ``ascontiguousarray`` of a strided array,
  ``concatenate``), each fill (``zeros``, ``ones``, ``arange``), and each call of a fused
  ``ElementwiseKernel`` (whose body is evaluated by ``Kernels(numpy, emulate=True)``);
- none for what only makes a view or reserves memory (slicing, ``.T``, ``reshape`` of a
  contiguous array, ``broadcast_to``, ``empty``, ``empty_like``);
- separately, host <-> device copies (``asarray`` of a NumPy array, ``.get()``, and the
  ``bool()`` / ``float()`` of a device array, each of which also waits for the GPU).

Implicit conversion to NumPy raises ``TypeError`` as CuPy's does. An operation of
NumPy's that this module does not model raises ``AttributeError`` naming it, rather
than being counted wrong.

It puts a module named ``cupy`` in ``sys.modules`` and fills the kernel cache with it,
so it runs in a process of its own: ``bench_cells.py`` calls it with ``subprocess``.

    PYTHONPATH=. python benchmarks/launch_count.py [--steps 100] [--batch 2] [--json]

Which path is counted is the layers' ``impl``: "fused" (what ``impl="auto"`` runs on
CuPy) or "reference" (the readable cells, no fused kernels).
"""

import argparse
import collections
import json
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # this checkout's package, before any installed copy

import numpy as np  # noqa: E402
from numpy.lib.mixins import NDArrayOperatorsMixin  # noqa: E402


class Counter:
    """What one stretch of work launched: kernels (fused ones among them) and host <-> device copies."""

    def __init__(self):
        self.launches = 0
        self.fused = 0
        self.transfers = 0
        self.by_op = collections.Counter()

    def launch(self, op, n=1):
        self.launches += n
        self.by_op[op] += n

    def snapshot(self):
        return dict(launches=self.launches, fused=self.fused, transfers=self.transfers)

    def since(self, before):
        now = self.snapshot()
        return {k: now[k] - before[k] for k in now}


def _unwrap(x):
    if isinstance(x, CountingArray):
        return x.a
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


class CountingArray(NDArrayOperatorsMixin):
    """A 'device' array: a NumPy array (or view) and the module that counts what is done to it."""

    __module__ = "cupy"                  # minieleatt.backend.is_cupy_array reads the type's module

    def __init__(self, a, xp):
        self.a, self.xp = a, xp

    # -- what costs nothing on the device
    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    size = property(lambda self: self.a.size)
    nbytes = property(lambda self: self.a.nbytes)
    strides = property(lambda self: self.a.strides)
    flags = property(lambda self: self.a.flags)
    T = property(lambda self: self._view(self.a.T))
    base = property(lambda self: None if self.a.base is None else self._view(self.a.base))

    def __len__(self):
        return len(self.a)

    def _view(self, v):
        return CountingArray(v, self.xp)

    def transpose(self, *axes):
        return self._view(self.a.transpose(*axes))

    def swapaxes(self, a1, a2):
        return self._view(self.a.swapaxes(a1, a2))

    def reshape(self, *shape, **kw):
        r = self.a.reshape(*shape, **kw)
        if not np.shares_memory(r, self.a):
            self.xp.counter.launch("reshape (copy)")
        return self._view(r)

    def ravel(self):
        return self.reshape(-1)

    def __getitem__(self, key):
        key = _unwrap(key)
        r = self.a[key]
        if not isinstance(r, np.ndarray):          # a scalar index: CuPy returns a 0-d array, a view
            return self._view(self.a[key, ...] if not isinstance(key, tuple) else self.a[key + (Ellipsis,)])
        if not np.shares_memory(r, self.a):
            self.xp.counter.launch("take (advanced indexing)")
        return self._view(r)

    # -- what launches a kernel
    def __setitem__(self, key, value):
        self.xp.counter.launch("setitem (copy or fill)")
        self.a[_unwrap(key)] = _unwrap(value)

    def copy(self):
        self.xp.counter.launch("copy")
        return self._view(self.a.copy())

    def astype(self, dtype, copy=True):
        if not copy and np.dtype(dtype) == self.a.dtype:
            return self
        self.xp.counter.launch("astype")
        return self._view(self.a.astype(dtype))

    def fill(self, value):
        self.xp.counter.launch("fill")
        self.a.fill(value)

    def _reduce(self, name, *args, **kw):
        self.xp.counter.launch(name)
        kw = {k: _unwrap(v) for k, v in kw.items()}
        return self._view(np.asarray(getattr(self.a, name)(*args, **kw)))

    def sum(self, *a, **k):
        return self._reduce("sum", *a, **k)

    def mean(self, *a, **k):
        return self._reduce("mean", *a, **k)

    def max(self, *a, **k):
        return self._reduce("max", *a, **k)

    def min(self, *a, **k):
        return self._reduce("min", *a, **k)

    def all(self, *a, **k):
        return self._reduce("all", *a, **k)

    def any(self, *a, **k):
        return self._reduce("any", *a, **k)

    def argmax(self, *a, **k):
        return self._reduce("argmax", *a, **k)

    def dot(self, other):
        return self.xp.matmul(self, other)

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        self.xp.counter.launch(f"{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"))
        out = kw.get("out")
        if out is not None:
            kw["out"] = tuple(_unwrap(o) for o in out)
        result = getattr(ufunc, method)(*(_unwrap(i) for i in inputs), **kw)
        if out is not None:
            return out[0] if len(out) == 1 else out
        if isinstance(result, tuple):
            return tuple(self._view(np.asarray(r)) for r in result)
        return self._view(np.asarray(result))

    # -- what copies to the host (and waits for the device)
    def get(self):
        self.xp.counter.transfers += 1
        return self.a.copy()

    def item(self):
        self.xp.counter.transfers += 1
        return self.a.item()

    def __bool__(self):
        self.xp.counter.transfers += 1
        return bool(self.a)

    def __float__(self):
        self.xp.counter.transfers += 1
        return float(self.a)

    def __int__(self):
        self.xp.counter.transfers += 1
        return int(self.a)

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed (as in CuPy): use .get()")

    def __repr__(self):
        return f"CountingArray({self.a!r})"


# NumPy functions the stand-in offers, by what they cost on the device
NO_LAUNCH = {"empty", "empty_like", "broadcast_to", "broadcast_shapes", "result_type", "shape", "ndim"}
FILLS = {"zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange", "eye", "identity"}
ONE_LAUNCH = {"concatenate", "stack", "copyto", "where", "matmul", "dot", "clip", "sum", "mean", "max", "min",
              "maximum", "minimum", "abs", "square", "outer", "tensordot", "einsum", "diag", "take", "argmax"}
PASS_THROUGH = {"dtype", "float16", "float32", "float64", "bool_", "int8", "int32", "int64", "intp", "uint8",
                "newaxis", "pi", "inf", "nan", "finfo", "iinfo", "ndim"}


class CountingCupy(types.ModuleType):
    """The stand-in for the ``cupy`` module; ``counter`` is the ``Counter`` every operation reports to."""

    def __init__(self, counter):
        super().__init__("cupy")
        self.__version__ = "0+launch-count"
        self.counter = counter
        self.ndarray = CountingArray
        runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, runtimeGetVersion=lambda: 12090,
                                        driverGetVersion=lambda: 12090,
                                        getDeviceProperties=lambda i: {"name": "launch-count stand-in (NumPy)",
                                                                       "totalGlobalMem": 0, "major": 0, "minor": 0})
        self.cuda = types.SimpleNamespace(runtime=runtime,
                                          Device=lambda i=0: types.SimpleNamespace(synchronize=lambda: None))

    def _wrap(self, r):
        return CountingArray(r, self) if isinstance(r, np.ndarray) else r

    def asarray(self, a, dtype=None):
        if isinstance(a, CountingArray):
            return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
        self.counter.transfers += 1                            # host -> device
        return self._wrap(np.array(a, dtype=dtype))

    def get_default_memory_pool(self):
        """No device memory to measure: a pool that reports none (for bench_cells' peak column)."""
        return types.SimpleNamespace(free_all_blocks=lambda: None, total_bytes=lambda: 0)

    def asnumpy(self, a):
        return a.get() if isinstance(a, CountingArray) else np.asarray(a)

    def ascontiguousarray(self, a, dtype=None):
        r = np.ascontiguousarray(_unwrap(a), dtype=dtype)
        if not np.shares_memory(r, _unwrap(a)):
            self.counter.launch("ascontiguousarray (copy)")
        return self._wrap(r)

    def ElementwiseKernel(self, in_params, out_params, operation, name="kernel", preamble="", **kw):
        return _EmulatedKernel(self, name)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(np, name, None)
        if value is None:
            raise AttributeError(f"cupy.{name} is not modelled by the launch counter")
        if name in PASS_THROUGH or isinstance(value, type):
            return value
        if isinstance(value, np.ufunc) or name in ONE_LAUNCH or name in FILLS or name in NO_LAUNCH:
            cost = 0 if name in NO_LAUNCH else 1

            def call(*args, **kw):
                if cost:
                    self.counter.launch(name)
                args = [_unwrap(a) for a in args]
                kw = {k: _unwrap(v) for k, v in kw.items()}
                out = kw.get("out")
                r = value(*args, **kw)
                if out is not None:
                    return CountingArray(out, self)
                return self._wrap(np.asarray(r)) if name not in ("broadcast_shapes", "result_type") else r
            return call
        raise AttributeError(f"cupy.{name} is not modelled by the launch counter (benchmarks/launch_count.py)")


class _EmulatedKernel:
    """A fused kernel 'compiled' by the stand-in: one launch, the body evaluated by NumPy."""

    def __init__(self, xp, name):
        from minieleatt.fast import kernels
        found = [k for k in vars(kernels).values() if isinstance(k, kernels.Kernel) and k.name == name]
        if len(found) != 1:
            raise ValueError(f"no Kernel named {name!r} in minieleatt.fast.kernels")
        self.xp, self.kernel = xp, found[0]
        self.numpy_kernels = kernels.Kernels(np, emulate=True)

    def __call__(self, *arrays):
        self.xp.counter.launch(f"fused {self.kernel.name}")
        self.xp.counter.fused += 1
        self.numpy_kernels.run(self.kernel, *(_unwrap(a) for a in arrays))


# ----------------------------------------------------------------------------- counting a training step

def install():
    """Put the stand-in in ``sys.modules['cupy']`` (once: the library caches the kernels it builds on it);
    return its counter. For this process only: never beside the real CuPy."""
    current = sys.modules.get("cupy")
    if isinstance(current, CountingCupy):
        return current.counter
    counter = Counter()
    sys.modules["cupy"] = CountingCupy(counter)
    return counter


def count_training_step(build, sizes, H, T, B, counter, path):
    """Launches of one training step of the stack ``build('gpu', impl=path)`` on the stand-in, after a
    first step (which also makes what the kernels keep between steps, e.g. an all-true mask)."""
    from bench_cells import stack_train  # the benchmark's training step (beside this file)
    from minieleatt.backend import to_device
    rng = np.random.default_rng(0)
    layers = build("gpu", path)
    x = to_device(rng.standard_normal((T, B, sizes[0]), dtype=np.float32), "gpu")
    dhs = to_device(rng.standard_normal((T, B, H), dtype=np.float32), "gpu")
    stack_train(layers, x, dhs)
    before = counter.snapshot()
    stack_train(layers, x, dhs)
    return counter.since(before)


def count_configs(configs, build_stack, sizes, H, T, B=2):
    """{label: {"fused": {...}, "reference": {...}}} for bench_cells' configurations."""
    counter = install()
    out = {}
    for label, cell, att, ra in configs:
        def build(device, impl, cell=cell, att=att, ra=ra):
            return build_stack(cell, att, ra, device, impl=impl)
        out[label] = {path: count_training_step(build, sizes, H, T, B, counter, path)
                      for path in ("fused", "reference")}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100, help="sequence length T (default 100)")
    p.add_argument("--batch", type=int, default=2, help="batch size (the count does not depend on it)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = p.parse_args(argv)
    sys.modules.setdefault("torch", None)  # bench_cells' torch cases are not counted: skip its import
    import bench_cells                    # the benchmark's stacks and configurations (beside this file)
    bench_cells.T = args.steps
    counts = count_configs(bench_cells.CONFIGS, bench_cells.build_stack, bench_cells.SIZES, bench_cells.H,
                           args.steps, args.batch)
    if args.json:
        print(json.dumps({"T": args.steps, "layers": len(bench_cells.SIZES), "counts": counts}))
    else:
        print(f"kernel launches per training step (3 layers, T = {args.steps}), counted on the CPU")
        print(f"{'cell':<18} {'fused':>8} {'(fused kernels)':>16} {'reference':>10} {'host<->device':>14}")
        for label, c in counts.items():
            print(f"{label:<18} {c['fused']['launches']:>8} {c['fused']['fused']:>16} "
                  f"{c['reference']['launches']:>10} {c['fused']['transfers']:>14}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
