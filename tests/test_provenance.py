"""Where a result came from: versions, BLAS, processor and device."""

import json

import numpy as np

from minieleatt import __version__
from minieleatt.provenance import environment


def test_environment_names_versions_blas_processor_and_device():
    env = environment("cpu")
    assert env["minieleatt"] == __version__ and env["numpy"] == np.__version__
    assert env["blas"] and env["cpu"] and env["cores"] >= 1 and env["device"] == "cpu"
    assert json.loads(json.dumps(env)) == env                     # JSON-able as it is
    gpu = environment("gpu")
    assert gpu["device"] == "gpu" and "gpu" in gpu and "cupy" in gpu   # None without CuPy or a device
