"""Implementations of the cells organised for speed, apart from the reference (``minieleatt.functional``).

Each public function here names the reference function it reproduces, and the tests in
``tests/fast/`` prove it equal to the reference on every configuration. Nothing in
``minieleatt.functional`` imports this package; ``minieleatt.implementations`` chooses
(``impl="fast"``, ``"fused"``, or ``"auto"``: the fastest for the arrays at hand).

- ``numpy_cells.py`` / ``numpy_input.py``: the NumPy (CPU) fast path: feature-major
  storage, in-place updates, hoisted and fused products (``impl="fast"``);
- ``fused_cells.py`` / ``fused_input.py`` / ``kernels.py``: the CuPy (GPU) path, each
  step's element-wise work in one CUDA kernel, written once as text that NVRTC compiles
  and NumPy can evaluate (``impl="fused"``);
- ``caches.py``: the stacked caches both paths make and read.
"""
