"""Where a result came from: library versions, the BLAS NumPy calls, the processor and the device.

Single training runs differ across machines and BLAS builds (the order of floating-point
sums differs, and training amplifies it), so every result file records this beside the seed:

    environment("cpu")   # {'minieleatt': '0.1.0', 'python': '3.11.7', 'numpy': '2.1.3',
                         #  'blas': 'scipy-openblas 0.3.31 (...)', 'cpu': 'AMD EPYC', 'cores': 2, ...}
"""

import os
import platform
from importlib import metadata


def _commit():
    """The git commit of the checkout the package runs from (with '+changes' when it has some), or None."""
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return head.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def blas():
    """The BLAS NumPy was built against, as one line (or 'unknown')."""
    import numpy as np

    try:
        deps = np.show_config(mode="dicts").get("Build Dependencies", {})      # NumPy >= 1.26
    except TypeError:
        return "unknown (NumPy < 1.26 does not report it)"
    info = deps.get("blas", {})
    if not info:
        return "unknown"
    config = info.get("openblas configuration")
    return " ".join(str(v) for v in (info.get("name"), info.get("version")) if v) + (f" ({config})" if config else "")


def cpu_name():
    """The processor's model name (from /proc/cpuinfo on Linux), or what ``platform`` says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name():
    """The current CUDA device's name, or None without CuPy or a device."""
    try:
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:            # no CuPy, no driver, no device: there is no GPU to name
        return None


def environment(device="cpu"):
    """A flat, JSON-able dict: versions, BLAS, processor, cores, operating system and the device used."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:       # not Linux
        cores = os.cpu_count()
    from . import __version__

    env = {"minieleatt": __version__, "commit": _commit(),
           "python": platform.python_version(), "numpy": _version("numpy"), "blas": blas(),
           "cpu": cpu_name(), "cores": cores, "os": platform.platform(), "device": device}
    if device == "gpu":
        env["cupy"] = _version("cupy") or _version("cupy-cuda12x") or _version("cupy-cuda11x")
        env["gpu"] = gpu_name()
    return env
