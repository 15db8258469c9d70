"""``minieleatt doctor`` in its three situations, on a machine without a GPU.

Without CuPy and without a device it says so in one line each and exits 0; with a GPU
it lists the devices, checks the GPU against the CPU and times a step; with a broken
install (CuPy importable, the device unusable) it names the failing step and exits 1.
The GPU is a fake CuPy module backed by NumPy (put in ``sys.modules``): the doctor's
logic is what is tested here, the real device is the ``gpu`` tests' and gpu_check.sh's.
"""

import builtins
import sys
import types

import numpy as np
import pytest

from minieleatt import doctor
from minieleatt.cli import main


class FakeCudaError(RuntimeError):
    """Like cupy_backends' CUDARuntimeError: a message and the CUDA status code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def fake_cupy(driver=12040, devices=1, count_error=None, allocation_error=None):
    """A CuPy module whose 'device' is NumPy: versions, devices, memory, kernels and products all answer."""
    cupy = types.ModuleType("cupy")
    cupy.__version__ = "99.1.0"

    def get_device_count():
        if count_error is not None:
            raise count_error
        return devices

    def asarray(a, dtype=None):
        if allocation_error is not None:
            raise allocation_error
        return np.asarray(a, dtype=dtype)

    runtime = types.SimpleNamespace(
        runtimeGetVersion=lambda: 12090, driverGetVersion=lambda: driver, getDeviceCount=get_device_count,
        getDeviceProperties=lambda i: {"name": b"NVIDIA Fake H200", "totalGlobalMem": 150 * 2**30,
                                       "major": 9, "minor": 0})
    cupy.cuda = types.SimpleNamespace(runtime=runtime, nvrtc=types.SimpleNamespace(getVersion=lambda: (12, 9)),
                                      Device=lambda i=0: types.SimpleNamespace(synchronize=lambda: None))
    cupy.asarray, cupy.tanh = asarray, np.tanh
    return cupy


def _doctor(check=True):
    lines = []
    status = doctor.run(check=check, out=lines.append)
    return status, lines


def _line(lines, label):
    found = [line for line in lines if line.startswith(label + ":")]
    assert len(found) == 1, (label, lines)
    return found[0]


# ----------------------------------------------------------------------------- no CuPy, no device: exit 0

@pytest.mark.parametrize("driver, package", [(None, "cupy-cuda12x"), (12040, "cupy-cuda12x"),
                                             (13020, "cupy-cuda13x"), (14000, "cupy-cuda13x")])
def test_without_cupy_says_so_in_one_line_with_the_install_command_for_the_driver(monkeypatch, driver, package):
    monkeypatch.setitem(sys.modules, "cupy", None)                  # import cupy -> ImportError
    monkeypatch.setattr(doctor, "cuda_driver_version", lambda: driver)
    status, lines = _doctor()
    assert status == 0
    cupy_line = _line(lines, "CuPy")
    assert "not installed" in cupy_line and "pip install cupy-cuda1" in cupy_line and package in cupy_line
    if driver is not None:
        assert "cupy-cuda13x" not in cupy_line if package == "cupy-cuda12x" else "cupy-cuda12x" not in cupy_line
        assert f"supports CUDA {driver // 1000}." in _line(lines, "CUDA driver")
    else:
        assert "none found" in _line(lines, "CUDA driver")
    for label in ("Python", "NumPy", "BLAS"):
        assert _line(lines, label)
    assert not any(line.startswith("GPU") for line in lines)


def test_an_old_driver_is_told_to_update():
    assert "update the NVIDIA driver" in doctor.install_hint(11080)
    assert "CUDA 11.8" in doctor.install_hint(11080)


@pytest.mark.parametrize("cupy", [fake_cupy(driver=0),
                                  fake_cupy(count_error=FakeCudaError(100, "cudaErrorNoDevice: no CUDA-capable device")),
                                  fake_cupy(devices=0)], ids=["no driver", "no device", "zero devices"])
def test_cupy_without_a_device_says_so_and_exits_0(monkeypatch, cupy):
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    status, lines = _doctor()
    assert status == 0
    assert _line(lines, "GPU").startswith("GPU:") and "none" in _line(lines, "GPU")
    assert "99.1.0" in _line(lines, "CuPy") and "12.9" in _line(lines, "CUDA")
    assert _line(lines, "kernel cache")


# ----------------------------------------------------------------------------- a GPU: devices, agreement, timing

def test_with_a_gpu_lists_it_checks_it_against_the_cpu_and_times_a_step(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(devices=2))
    monkeypatch.setitem(doctor.TIMED, "T", 5)                       # a small timed step
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    (tmp_path / "a.cubin").write_bytes(b"x" * 1024)
    status, lines = _doctor()
    assert status == 0, lines
    assert _line(lines, "GPU 0") == "GPU 0:        NVIDIA Fake H200, 150.0 GiB, compute capability 9.0"
    assert _line(lines, "GPU 1")
    assert _line(lines, "kernel cache") == f"kernel cache: {tmp_path} (1 files, 0.0 MiB)"
    assert "supports CUDA 12.4" in _line(lines, "CUDA driver")
    assert "NVRTC" in _line(lines, "GPU check") and "cuBLAS" in _line(lines, "GPU check")
    agreement = _line(lines, "GPU vs CPU")
    assert "float64" in agreement and agreement.endswith("agree")
    timing = _line(lines, "timing")
    assert "EleAttGRU(75, 100), T=5, B=64, float32: GPU " in timing and " ms, CPU " in timing


def test_no_check_lists_the_gpu_and_runs_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(allocation_error=AssertionError("ran something")))
    status, lines = _doctor(check=False)
    assert status == 0 and _line(lines, "GPU 0")
    assert not any(line.startswith(("GPU check", "timing")) for line in lines)


# ----------------------------------------------------------------------------- a broken install: the step, exit 1

def test_a_device_that_cannot_allocate_names_the_step_and_exits_1(monkeypatch):
    error = FakeCudaError(35, "cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(allocation_error=error))
    status, lines = _doctor()
    assert status == 1
    gpu = _line(lines, "GPU")
    assert "FAILED at step 'allocate memory on the GPU and copy to it and back'" in gpu
    assert "cudaErrorInsufficientDriver" in gpu
    assert "cupy-cuda12x" in _line(lines, "hint") and ".[gpu]" in _line(lines, "hint")


def test_a_driver_that_cannot_count_its_devices_names_the_step_and_exits_1(monkeypatch):
    error = FakeCudaError(35, "cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(driver=13000, count_error=error))
    status, lines = _doctor()
    assert status == 1
    assert "FAILED at step 'count the CUDA devices'" in _line(lines, "GPU")
    assert "cupy-cuda13x" in _line(lines, "hint")


def test_a_gpu_that_disagrees_with_the_cpu_is_a_failure(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy())
    honest = doctor._forward_backward

    def off_by_a_little(device, *args):
        out = honest(device, *args)
        if device == "gpu":
            out["dW_xa"] = out["dW_xa"] * (1 + 1e-7)
        return out

    monkeypatch.setattr(doctor, "_forward_backward", off_by_a_little)
    status, lines = _doctor()
    assert status == 1
    gpu = _line(lines, "GPU")
    assert "FAILED at step 'the GPU agrees with the CPU (float64)'" in gpu and "dW_xa" in gpu


def test_cupy_that_fails_to_import_is_a_broken_install(monkeypatch):
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "cupy":
            raise OSError("libcudart.so.12: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing_import)
    status, lines = _doctor()
    assert status == 1
    assert "FAILED at step 'import cupy'" in _line(lines, "CuPy") and "libcudart" in _line(lines, "CuPy")


# ----------------------------------------------------------------------------- the command

def test_the_command_runs_and_returns_the_doctors_status(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(doctor, "cuda_driver_version", lambda: None)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "NumPy:" in out and "CuPy:" in out and "not installed" in out
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy(count_error=FakeCudaError(999, "cudaErrorUnknown")))
    assert main(["doctor", "--no-check"]) == 1
