import sys

import numpy as np
import pytest

from minieleatt import backend
from minieleatt.errors import DeviceError


def test_array_module_follows_the_arrays():
    assert backend.get_array_module(np.zeros(2), None, 3.0, {"a": np.ones(1)}, (np.ones(1),)) is np
    assert backend.get_array_module() is np


@pytest.mark.gpu
def test_mixing_numpy_and_cupy_is_a_clear_error():
    import cupy

    with pytest.raises(DeviceError, match="NumPy \\(CPU\\) and CuPy \\(GPU\\) arrays were mixed"):
        backend.get_array_module(np.zeros(2), {"w": cupy.zeros(2)})
    from minieleatt import EleAttGRU

    layer = EleAttGRU(3, 4, device="gpu")
    with pytest.raises(DeviceError, match="mixed"):
        layer.forward(np.zeros((2, 1, 3)))


def test_gpu_without_cupy_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)          # import cupy -> ImportError
    assert backend.gpu_available() is False
    with pytest.raises(DeviceError, match=r"needs CuPy, which is not installed.*pip install cupy-cuda12x"):
        backend.array_module("gpu")
    with pytest.raises(DeviceError, match="needs CuPy"):
        backend.to_device(np.zeros(2), "gpu")


def test_unknown_device_name():
    with pytest.raises(ValueError, match="device must be 'cpu' or 'gpu', got 'tpu'"):
        backend.array_module("tpu")


def test_dtype_resolution():
    assert backend.resolve_dtype("float32") == np.float32
    assert backend.resolve_dtype(np.float64) == np.float64
    with pytest.raises(TypeError, match="float16 is too coarse"):
        backend.resolve_dtype("float16")
    with pytest.raises(TypeError, match="got int32"):
        backend.resolve_dtype("int32")
    with pytest.raises(TypeError, match="dtype must be"):
        backend.resolve_dtype("not-a-dtype")


def test_to_device_and_back_on_the_cpu():
    tree = {"a": np.arange(3.0), "b": (np.ones(2), None)}
    moved = backend.to_device(tree, "cpu")
    np.testing.assert_array_equal(moved["a"], tree["a"])
    assert moved["b"][1] is None
    assert backend.to_host(None) is None
    assert backend.device_of(np.zeros(1)) == "cpu"


def test_cpu_gpu_round_trip(device):
    x = np.arange(6.0).reshape(2, 3)
    y = backend.to_device(x, device)
    assert backend.device_of(y) == device
    np.testing.assert_array_equal(backend.to_host(y), x)
