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


def pytest_terminal_summary(terminalreporter):
    """Say what went untested: the skipped tests grouped by their reason, with a count each, so that a
    run without the GPU, PyTorch, the docs extra or NVRTC says which parts of the suite it left out."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    counts = {}
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        counts[reason] = counts.get(reason, 0) + 1
    terminalreporter.write_sep("-", f"{len(skipped)} tests skipped, by reason (install what they name to run them)")
    for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{n:5d}  {reason}")
