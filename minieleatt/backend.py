"""Array-module dispatch: one code path for NumPy (CPU) and CuPy (GPU).

The numerical code never names NumPy. It asks ``get_array_module(*arrays)`` for
the module that owns its arguments and calls that (``xp.tanh``, ``xp.empty`` ...),
so the same function runs on the CPU with NumPy arrays and on the GPU with
CuPy arrays. CuPy is optional: it is imported only when a CuPy array is seen
or the GPU is asked for.

This module imports nothing else from the package.
"""

import numpy as np

from .errors import DeviceError

DEVICES = ("cpu", "gpu")
FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))

_GPU_HELP = (
    "install CuPy for your CUDA version (pip install cupy-cuda12x, or cupy-cuda13x for CUDA 13; in a clone "
    "of minieleatt: pip install '.[gpu]') on a machine with an NVIDIA GPU, or use device='cpu'"
)


def is_cupy_array(a):
    """True for a ``cupy.ndarray`` (checked by type, without importing CuPy)."""
    return type(a).__module__.split(".", 1)[0] == "cupy"


def _iter_arrays(args):
    for a in args:
        if a is None:
            continue
        if isinstance(a, dict):
            yield from _iter_arrays(a.values())
        elif isinstance(a, (tuple, list)):
            yield from _iter_arrays(a)
        else:
            yield a


def get_array_module(*args):
    """Return ``numpy`` or ``cupy``, whichever owns the array arguments.

    Arguments may be arrays, ``None``, or tuples, lists and dicts of them (walked
    recursively). Python scalars are ignored. Mixing NumPy and CuPy arrays is a
    ``DeviceError`` that names the two kinds.
    """
    saw_numpy = saw_cupy = False
    for a in _iter_arrays(args):
        if isinstance(a, np.ndarray):
            saw_numpy = True
        elif is_cupy_array(a):
            saw_cupy = True
    if saw_cupy and saw_numpy:
        raise DeviceError(
            "NumPy (CPU) and CuPy (GPU) arrays were mixed in one call; move them to one "
            "device first with minieleatt.backend.to_device(array, 'cpu' or 'gpu')"
        )
    if saw_cupy:
        import cupy

        return cupy
    return np


def _device_words(device):
    return "GPU (a CuPy array)" if device == "gpu" else "CPU (a NumPy array)"


def _named_arrays(name, value):
    """(name, array) for every NumPy or CuPy array in ``value``, named as a caller would write it:
    ``params['W_x']``, ``state[1]``."""
    if value is None:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _named_arrays(f"{name}[{k!r}]", v)
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _named_arrays(f"{name}[{i}]", v)
    elif isinstance(value, np.ndarray) or is_cupy_array(value):
        yield name, value


def mixed_devices(name, device, other, other_device):
    """The ``DeviceError`` for ``name`` on ``device`` where ``other`` is on ``other_device``."""
    return DeviceError(
        f"{name} is on the {_device_words(device)} but {other} is on the {_device_words(other_device)}; "
        f"move them to one device first: minieleatt.to_device(array, 'cpu' or 'gpu'), or layer.to(device) "
        f"for a layer's parameters")


def check_same_device(**named):
    """Every array among the named arguments on one device, else a ``DeviceError`` that names two of them
    and their devices. Arguments may be arrays, None, or dicts, tuples and lists of them.

        check_same_device(x=x, params=params, mask=mask)
    """
    first = None
    for name, value in named.items():
        for path, a in _named_arrays(name, value):
            device = device_of(a)
            if first is None:
                first = (path, device)
            elif device != first[1]:
                raise mixed_devices(path, device, *first)


def module_device(xp):
    """'gpu' for CuPy, 'cpu' for NumPy."""
    return "gpu" if getattr(xp, "__name__", "") == "cupy" else "cpu"


def gpu_available():
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, CUDARuntimeError, missing driver ...
        return False


def _require_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise DeviceError(f"device='gpu' needs CuPy, which is not installed: {_GPU_HELP}") from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        raise DeviceError(f"device='gpu': CuPy is installed but no CUDA device answers ({exc}); {_GPU_HELP}") from exc
    if count < 1:
        raise DeviceError(f"device='gpu': CuPy sees no CUDA device; {_GPU_HELP}")
    return cupy


def check_device(device):
    """Validate a device name ('cpu' or 'gpu'); return it lower-cased."""
    if not isinstance(device, str) or device.lower() not in DEVICES:
        raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")
    return device.lower()


def array_module(device):
    """The array module of a device name: ``numpy`` for 'cpu', ``cupy`` for 'gpu'."""
    if check_device(device) == "gpu":
        return _require_cupy()
    return np


def device_of(a):
    """'gpu' for a CuPy array, 'cpu' otherwise."""
    return "gpu" if is_cupy_array(a) else "cpu"


def to_device(a, device):
    """Move an array (or a dict/tuple/list of arrays) to 'cpu' or 'gpu'. ``None`` passes through."""
    device = check_device(device)
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: to_device(v, device) for k, v in a.items()}
    if isinstance(a, (tuple, list)):
        return type(a)(to_device(v, device) for v in a)
    if device == "gpu":
        return _require_cupy().asarray(a)
    return to_host(a)


def to_host(a):
    """Return a NumPy copy of a CuPy array (a NumPy array is returned as it is)."""
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: to_host(v) for k, v in a.items()}
    if isinstance(a, (tuple, list)):
        return type(a)(to_host(v) for v in a)
    if is_cupy_array(a):
        return a.get()
    return np.asarray(a)


def resolve_dtype(dtype):
    """Normalise a dtype name or object to ``float32`` or ``float64``.

    float16 and non-float dtypes are refused with a ``TypeError``: float16 has
    too few bits for the sums of BPTT.
    """
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        hint = " (float16 is too coarse for backpropagation through time)" if dt == np.float16 else ""
        raise TypeError(f"dtype must be float32 or float64, got {dt}{hint}")
    return dt


def check_float_array(name, a, dtype=None):
    """Check that ``a`` is a NumPy/CuPy array of float32 or float64 (and of ``dtype`` if given)."""
    if not (isinstance(a, np.ndarray) or is_cupy_array(a)):
        raise TypeError(f"{name} must be a NumPy or CuPy array, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        hint = " (float16 is too coarse for backpropagation through time)" if a.dtype == np.float16 else ""
        raise TypeError(f"{name} must have dtype float32 or float64, got {a.dtype}{hint}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype} but the computation is in {dtype}; cast it with .astype('{dtype}')")
    return a
