"""Shared fixtures: the device parameter that runs one test body on NumPy and on CuPy."""

import numpy as np
import pytest

from minieleatt.backend import gpu_available

GPU = gpu_available()

# One test body, two backends (Chainer's style): the 'gpu' case skips cleanly without CuPy and a device.
DEVICES = ["cpu", pytest.param("gpu", marks=pytest.mark.gpu)]


def pytest_collection_modifyitems(config, items):
    if GPU:
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture
def xp(device):
    if device == "gpu":
        import cupy
        return cupy
    return np


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
