"""``minieleatt doctor``: what this machine offers the library, and whether its GPU path works.

It prints the versions of Python, NumPy (and the BLAS it uses), CuPy and CUDA, the
NVIDIA driver, each GPU with its memory and compute capability, and where CuPy keeps
its compiled kernels. Where a GPU is present it then runs a few steps, each named, on
device 0: memory, an element-wise kernel (NVRTC), a matrix product (cuBLAS), the
forward and backward pass of an ``EleAttGRU`` on the GPU, its agreement with the same
layer on the CPU in float64, and the time of one training step on both devices.

Exit status: 0 when everything that is installed works, including a machine without
CuPy or without a GPU (the CPU path needs neither: it says so, with the command that
installs CuPy for the driver's CUDA version); 1 when CuPy is installed but the GPU
cannot be used, with the step that failed.
"""

import ctypes
import os
import platform
import time

import numpy as np

from . import __version__
from .backend import to_device, to_host
from .layers import EleAttGRU

INSTALL = {
    12: "pip install cupy-cuda12x (CuPy for CUDA 12; in a clone of minieleatt: pip install '.[gpu]')",
    13: "pip install cupy-cuda13x (CuPy for CUDA 13; in a clone of minieleatt: pip install '.[gpu-cuda13]')",
}
NO_DEVICE = 100            # cudaErrorNoDevice: a driver without a GPU is a machine without a GPU, not a fault
AGREEMENT_TOL = 1e-10      # largest relative difference, GPU against CPU, in float64


class StepFailed(Exception):
    """A step of the GPU check failed: ``step`` says which, ``error`` what was raised."""

    def __init__(self, step, error):
        super().__init__(f"{step}: {type(error).__name__}: {error}")
        self.step, self.error = step, error


def _cuda_version(v):
    """12040 -> '12.4' (CUDA's encoding of versions)."""
    return f"{v // 1000}.{(v % 1000) // 10}"


def cuda_driver_version():
    """The CUDA version the NVIDIA driver supports (e.g. 12040), read from the driver library
    without CuPy; None where no driver can be loaded."""
    names = {"Windows": ["nvcuda.dll"], "Darwin": []}.get(platform.system(), ["libcuda.so.1", "libcuda.so"])
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        version = ctypes.c_int(0)
        if lib.cuDriverGetVersion(ctypes.byref(version)) == 0 and version.value > 0:
            return version.value
    return None


def install_hint(driver_version):
    """The command that installs CuPy for this driver (its CUDA major version)."""
    if driver_version is None:
        return f"on a machine with an NVIDIA GPU, for a CUDA 12 driver {INSTALL[12]}; for a CUDA 13 driver {INSTALL[13]}"
    major = driver_version // 1000
    if major in INSTALL:
        return INSTALL[major]
    if major > max(INSTALL):
        return INSTALL[max(INSTALL)]
    return (f"the driver supports CUDA {_cuda_version(driver_version)} only; CuPy's wheels need a CUDA 12 or 13 "
            f"driver: update the NVIDIA driver, then {INSTALL[12]}")


def blas_description():
    """The BLAS NumPy calls: threadpoolctl's view where it is installed, else NumPy's build configuration."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        found = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if found:
            return "; ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture') or '?'}, "
                             f"{p.get('num_threads')} threads)" for p in found)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (NumPy's build configuration)"
    except Exception:              # an old NumPy without mode="dicts"
        return "unknown (NumPy does not say; numpy.show_config() prints what it was built with)"


def kernel_cache_dir():
    """Where CuPy stores compiled kernels: $CUPY_CACHE_DIR, or its default ~/.cupy/kernel_cache."""
    return os.environ.get("CUPY_CACHE_DIR", os.path.expanduser(os.path.join("~", ".cupy", "kernel_cache")))


def _cache_line():
    path = kernel_cache_dir()
    if not os.path.isdir(path):
        return f"{path} (not created yet)"
    files = [os.path.join(path, f) for f in os.listdir(path)]
    size = sum(os.path.getsize(f) for f in files if os.path.isfile(f))
    return f"{path} ({len(files)} files, {size / 2**20:.1f} MiB)"


def _step(name, fn):
    try:
        return fn()
    except Exception as exc:       # any failure of CuPy or CUDA is the finding
        raise StepFailed(name, exc) from exc


def _cupy_package():
    """The distribution that installed CuPy (cupy-cuda12x, cupy-cuda13x, cupy ...), or None."""
    from importlib import metadata
    for name in ("cupy-cuda12x", "cupy-cuda13x", "cupy-cuda11x", "cupy"):
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return None


# ----------------------------------------------------------------------------- the GPU check

def _problem(xp, seed=0):
    """A small masked EleAttGRU problem in float64 on the host: x, mask, dhs."""
    rng = np.random.default_rng(seed)
    T, B, D, H = 6, 4, 5, 7
    x = rng.standard_normal((T, B, D))
    lengths = np.array([T, T - 1, 3, T])
    mask = np.arange(T)[:, None] < lengths[None, :]
    dhs = rng.standard_normal((T, B, H))
    return x, mask, dhs, (D, H)


def _forward_backward(device, x, mask, dhs, D, H):
    layer = EleAttGRU(D, H, attention=True, dtype="float64", seed=0, device=device)
    x, mask, dhs = (to_device(a, device) for a in (x, mask, dhs))
    hs, cache = layer.forward(x, mask=mask)
    dx, dstate, grads = layer.backward(dhs, cache)
    return {"hs": hs, "attention": cache.attention, "dx": dx, "dstate": dstate,
            **{f"d{k}": v for k, v in grads.items()}}


def _largest_relative_difference(gpu, cpu):
    worst = ("", 0.0)
    for name, c in cpu.items():
        g = to_host(gpu[name])
        rel = float(np.max(np.abs(g - c)) / max(np.max(np.abs(c)), 1e-300))
        if rel >= worst[1]:
            worst = (name, rel)
    return worst


TIMED = dict(T=100, B=64, D=75, H=100)    # the timed training step: the paper's layer size, float32


def _train_step_ms(device, sync, repeats=3):
    """Median milliseconds of one forward+backward of the ``TIMED`` EleAttGRU in float32."""
    T, B, D, H = TIMED["T"], TIMED["B"], TIMED["D"], TIMED["H"]
    rng = np.random.default_rng(1)
    layer = EleAttGRU(D, H, attention=True, dtype="float32", seed=0, device=device)
    x = to_device(rng.standard_normal((T, B, D), dtype=np.float32), device)
    dhs = to_device(rng.standard_normal((T, B, H), dtype=np.float32), device)

    def step():
        hs, cache = layer.forward(x)
        layer.backward(dhs, cache)
        sync()

    step()                                   # warm-up: on the GPU this compiles the kernels
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[len(times) // 2]


def gpu_check(cupy, say):
    """The named steps on device 0; raises ``StepFailed`` at the first that fails."""
    a_host = np.linspace(-2.0, 2.0, 12).reshape(3, 4)
    a = _step("allocate memory on the GPU and copy to it and back", lambda: cupy.asarray(a_host))
    back = _step("allocate memory on the GPU and copy to it and back", lambda: to_host(a))
    if not np.array_equal(back, a_host):
        raise StepFailed("allocate memory on the GPU and copy to it and back",
                         ValueError("the copy back differs from what was sent"))
    t = _step("compile and run an element-wise kernel (NVRTC)", lambda: to_host(cupy.tanh(a) * 2.0 + 1.0))
    if not np.allclose(t, np.tanh(a_host) * 2.0 + 1.0, rtol=1e-12, atol=1e-12):
        raise StepFailed("compile and run an element-wise kernel (NVRTC)", ValueError("wrong result"))
    p = _step("matrix product (cuBLAS)", lambda: to_host(a @ a.T))
    if not np.allclose(p, a_host @ a_host.T, rtol=1e-12, atol=1e-12):
        raise StepFailed("matrix product (cuBLAS)", ValueError("wrong result"))
    say("GPU check", "memory, element-wise kernel (NVRTC) and matrix product (cuBLAS) work")

    x, mask, dhs, (D, H) = _problem(np)
    gpu = _step("forward and backward of an EleAttGRU on the GPU (the fused kernels)",
                lambda: _forward_backward("gpu", x, mask, dhs, D, H))
    cpu = _forward_backward("cpu", x, mask, dhs, D, H)
    name, rel = _largest_relative_difference(gpu, cpu)
    if not rel <= AGREEMENT_TOL:
        raise StepFailed("the GPU agrees with the CPU (float64)",
                         ValueError(f"largest relative difference {rel:.1e} in {name}, more than {AGREEMENT_TOL:.0e}"))
    say("GPU vs CPU", f"EleAttGRU(5, 7) forward+backward, masked, float64: largest relative difference "
                      f"{rel:.1e} (in {name}); agree")

    def sync():
        cupy.cuda.Device().synchronize()
    gpu_ms = _step("time a training step on the GPU", lambda: _train_step_ms("gpu", sync))
    cpu_ms = _train_step_ms("cpu", lambda: None)
    say("timing", f"one training step of an EleAttGRU({TIMED['D']}, {TIMED['H']}), T={TIMED['T']}, "
                  f"B={TIMED['B']}, float32: GPU {gpu_ms:.1f} ms, CPU {cpu_ms:.1f} ms (GPU {cpu_ms / gpu_ms:.1f} x faster)")


# ----------------------------------------------------------------------------- the report

def run(check=True, out=print):
    """Print the report; return the exit status (0 fine, 1 CuPy installed but the GPU unusable)."""
    def say(label, text):
        out(f"{label + ':':<14}{text}")

    say("minieleatt", f"{__version__} ({os.path.dirname(os.path.abspath(__file__))})")
    say("Python", f"{platform.python_version()} ({platform.python_implementation()}) on {platform.system()} "
                  f"{platform.machine()}")
    say("NumPy", np.__version__)
    say("BLAS", blas_description())

    try:
        import cupy
    except ImportError:
        driver = cuda_driver_version()
        say("CUDA driver", "none found (no NVIDIA driver)" if driver is None
            else f"supports CUDA {_cuda_version(driver)}")
        say("CuPy", f"not installed: the GPU path is off, the CPU path needs nothing more. To install it: "
                    f"{install_hint(driver)}")
        return 0
    except Exception as exc:       # CuPy is there but cannot load its own libraries
        say("CuPy", f"FAILED at step 'import cupy': {type(exc).__name__}: {exc}")
        return 1

    say("CuPy", f"{cupy.__version__} ({_cupy_package() or 'package name unknown'})")
    say("kernel cache", _cache_line())
    runtime = cupy.cuda.runtime
    try:
        say("CUDA", f"runtime {_cuda_version(runtime.runtimeGetVersion())} (CuPy's); run-time compiler NVRTC "
                    + _nvrtc_version(cupy))
        driver = runtime.driverGetVersion()
    except Exception as exc:
        say("CUDA", f"FAILED at step 'read the CUDA versions': {type(exc).__name__}: {exc}")
        return 1
    if not driver:
        say("CUDA driver", "none found (no NVIDIA driver)")
        say("GPU", "none: CuPy is installed but there is no GPU to run on; the CPU path works as usual")
        return 0
    say("CUDA driver", f"supports CUDA {_cuda_version(driver)}")

    try:
        count = _step("count the CUDA devices", runtime.getDeviceCount)
    except StepFailed as failed:
        if getattr(failed.error, "status", None) == NO_DEVICE:
            count = 0
        else:
            return _broken(say, failed, driver)
    if count == 0:
        say("GPU", "none: the driver sees no CUDA device; the CPU path works as usual")
        return 0
    try:
        for i in range(count):
            props = _step(f"read the properties of device {i}", lambda i=i: runtime.getDeviceProperties(i))
            name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
            say(f"GPU {i}", f"{name}, {props['totalGlobalMem'] / 2**30:.1f} GiB, compute capability "
                            f"{props['major']}.{props['minor']}")
        if check:
            gpu_check(cupy, say)
    except StepFailed as failed:
        return _broken(say, failed, driver)
    return 0


def _nvrtc_version(cupy):
    try:
        major, minor = cupy.cuda.nvrtc.getVersion()
        return f"{major}.{minor}"
    except Exception as exc:       # the runtime compiler is a separate library and may be missing
        return f"not loadable ({type(exc).__name__}: {exc})"


def _broken(say, failed, driver):
    say("GPU", f"FAILED at step '{failed.step}': {type(failed.error).__name__}: {failed.error}")
    say("hint", "CuPy is installed but cannot use the GPU. Check that the CuPy package matches the driver's "
                f"CUDA version: {install_hint(driver)}")
    return 1
