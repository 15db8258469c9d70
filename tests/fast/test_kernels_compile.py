"""The fused kernels compiled by NVRTC exactly as CuPy compiles them, on a machine without a GPU.

CuPy imports without a GPU, and so does NVRTC, CUDA's run-time compiler. For every
``Kernel`` in ``minieleatt.fast.kernels`` these tests build the CUDA source that
``cupy.ElementwiseKernel(in_params, out_params, body, name, preamble=PREAMBLE)`` builds
when it is first called, with CuPy's own code generation:

- ``cupy._core._kernel._get_param_info`` parses the typed parameters,
  ``_decide_params_type`` binds the type placeholder ``T`` to the dtype (float32 or
  float64), ``_ArgInfo`` describes each argument as CuPy sees a ``cupy.ndarray`` (and the
  indexer CuPy adds), and ``_get_elementwise_kernel_code`` writes the kernel (the
  ``typedef``, the preamble, the ``CArray`` parameters, the loop, the references to each
  element, the body);
- ``cupy._core.core._cupy_header_list`` gives the headers ``compile_with_cache`` puts in
  front, and ``assemble_cupy_compiler_options`` the options (C++ standard, CuPy's and
  CCCL's include paths, the CUDA headers CuPy finds), to which ``cupy.cuda.compiler``
  adds ``-ftz=true``, the architecture and ``--device-as-default-execution-space``;

then compile it with NVRTC (``cupy_backends.cuda.libs.nvrtc``) for compute capability
8.0 and 9.0 (PTX, ``-arch=compute_XX``; on a device CuPy asks for ``-arch=sm_XX``, the
same front end followed by the assembler). Two layouts of the arguments are compiled, as CuPy
specialises a kernel on them: one-dimensional contiguous arrays (CuPy's reduced view
when every argument is contiguous) and two-dimensional strided ones with 64-bit
indices (a step's column blocks ``gx[:, :H]``, a broadcast bias or mask).

Only the driver (loading and running the code) is left to the tests marked ``gpu``.
Needs ``pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12`` (the ``cuda-compile`` extra);
skips with that message where NVRTC cannot be loaded.
"""

import re

import numpy as np
import pytest

from minieleatt.fast import kernels

pytestmark = pytest.mark.cuda_compile

KERNELS = [v for v in vars(kernels).values() if isinstance(v, kernels.Kernel)]
DTYPES = ["float32", "float64"]
ARCHS = ["compute_80", "compute_90"]
LAYOUTS = {"contiguous": dict(ndim=1, c_contiguous=True, index_32_bits=True),
           "strided": dict(ndim=2, c_contiguous=False, index_32_bits=False)}
INSTALL = "pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12 (or, in a clone of minieleatt: pip install '.[cuda-compile]')"

# CuPy's _ArgKind enumeration (cupy/_core/_kernel.pxd), not exported to Python
ARG_KIND_NDARRAY, ARG_KIND_INDEXER = 1, 2


@pytest.fixture(scope="module")
def cupy_compiler():
    """CuPy's code generation and NVRTC, or a skip that says what to install."""
    try:
        import cupy
        from cupy._core import _carray, _kernel, core
        from cupy_backends.cuda.libs import nvrtc
    except Exception as exc:  # ImportError, or a CuPy that cannot load its own libraries
        pytest.skip(f"CuPy cannot be imported ({exc}); {INSTALL}")
    try:
        version = nvrtc.getVersion()
    except Exception as exc:  # the NVRTC library is not found
        pytest.skip(f"NVRTC cannot be loaded ({exc}); {INSTALL}")
    return CupyCompiler(cupy, _carray, _kernel, core, nvrtc, version)


class CompileError(AssertionError):
    pass


class CupyCompiler:
    """What ``cupy.ElementwiseKernel.__call__`` does up to the driver, without a device."""

    def __init__(self, cupy, carray, kernel_mod, core, nvrtc, version):
        self.cupy, self.carray, self.k, self.core, self.nvrtc, self.version = cupy, carray, kernel_mod, core, nvrtc, version
        try:
            self.options = tuple(core.assemble_cupy_compiler_options(()))
        except RuntimeError:
            # CuPy raises here when it finds no CUDA root (no toolkit, no header wheel); its own
            # headers and CCCL are all the element-wise kernels need, as CuPy passes them anyway
            self.options = tuple(core._get_cccl_include_options()) + (
                "--std=c++17", f"-I{core._get_header_dir_path()}")

    def source(self, kernel, dtype, layout):
        """The complete translation unit CuPy hands NVRTC for ``kernel`` on arrays of ``dtype``."""
        k, dtype = self.k, np.dtype(dtype)
        ins = k._get_param_info(kernel.params(kernel.inputs), True)
        outs = k._get_param_info(kernel.params(kernel.outputs), False)
        params = ins + outs + k._get_param_info("CIndexer _ind", False)
        in_dtypes = tuple(dtype if p.dtype is None else p.dtype for p in ins)
        out_dtypes = tuple(dtype if p.dtype is None else p.dtype for p in outs)
        _, _, type_map = k._decide_params_type(ins, outs, in_dtypes, out_dtypes)
        shape = LAYOUTS[layout]
        arginfos = tuple(k._ArgInfo(ARG_KIND_NDARRAY, self.cupy.ndarray, dt, shape["ndim"], shape["c_contiguous"],
                                    shape["index_32_bits"]) for dt in in_dtypes + out_dtypes)
        arginfos += (k._ArgInfo(ARG_KIND_INDEXER, self.carray.Indexer, None, shape["ndim"], True,
                                shape["index_32_bits"]),)
        code = k._get_elementwise_kernel_code(arginfos, type_map, params, kernel.cuda(), kernel.name,
                                              kernels.PREAMBLE)
        return "".join(f"#include <{h}>\n" for h in self.core._cupy_header_list) + code

    def compile(self, src, name, arch):
        """NVRTC with CuPy's options; returns the PTX or cubin, raises ``CompileError`` with the log."""
        nvrtc = self.nvrtc
        options = self.options + ("-ftz=true", f"-arch={arch}", "--device-as-default-execution-space")
        prog = nvrtc.createProgram(src, f"{name}.cu", (), ())
        try:
            try:
                nvrtc.compileProgram(prog, list(options))
            except nvrtc.NVRTCError:
                raise CompileError(_explain(nvrtc.getProgramLog(prog), src)) from None
            return nvrtc.getCUBIN(prog) if arch.startswith("sm_") else nvrtc.getPTX(prog)
        finally:
            nvrtc.destroyProgram(prog)


def _explain(log, src):
    """NVRTC's log, each error followed by the source line it names."""
    lines = src.splitlines()
    out = []
    for line in log.strip().splitlines():
        out.append(line)
        m = re.match(r".*\.cu\((\d+)\): (error|warning)", line)
        if m and 0 < int(m.group(1)) <= len(lines):
            cited = lines[int(m.group(1)) - 1].strip()
            if cited not in log:                           # NVRTC 12 quotes the line itself, older ones do not
                out.append(f"    line {m.group(1)}: {cited}")
    return "\n".join(out)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: k.name)
def test_kernel_compiles_with_nvrtc_as_cupy_builds_it(cupy_compiler, kernel, dtype, arch):
    for layout in LAYOUTS:
        src = cupy_compiler.source(kernel, dtype, layout)
        try:
            binary, error = cupy_compiler.compile(src, kernel.name, arch), None
        except CompileError as exc:
            error = str(exc)
        if error is not None:
            pytest.fail(f"{kernel.name} ({dtype}, {layout} arrays) does not compile for {arch} with NVRTC "
                        f"{cupy_compiler.version[0]}.{cupy_compiler.version[1]}:\n{error}", pytrace=False)
        text = binary.decode("latin-1")
        assert kernel.name in text                         # the entry point CuPy looks up by name


def test_the_generated_source_is_the_kernel_as_cupy_sees_it(cupy_compiler):
    """One float64 source read back: T bound to double, each argument an element reference, the body."""
    src = cupy_compiler.source(kernels.GRU_AFTER_FORWARD, "float64", "strided")
    assert "typedef double T;" in src and kernels.PREAMBLE.strip() in src
    assert 'extern "C" __global__ void eleatt_gru_after_forward(' in src
    assert "const CArray<double, 2, 0, 0> _raw_xr" in src and "const CArray<bool, 2, 0, 0> _raw_m" in src
    assert "const T &xr = _raw_xr[_ind.get()];" in src and "T &h = _raw_h[_ind.get()];" in src
    assert kernels.GRU_AFTER_FORWARD.cuda() in src
    assert src.startswith("#include <cupy/complex.cuh>\n#include <cupy/carray.cuh>")


def test_a_broken_body_fails_to_compile_and_names_its_line(cupy_compiler):
    """The check itself: a body with an undeclared name and one with a syntax error are refused."""
    undeclared = kernels.Kernel("eleatt_broken_a", "T x", "T y", [("y", "sigm(x) + missing_name")])
    syntax = kernels.Kernel("eleatt_broken_b", "T x", "T y", [("t", "x * (x + 1"), ("y", "t")])
    cases = [(undeclared, 'identifier "missing_name" is undefined', "y = sigm(x) + missing_name;"),
             (syntax, "error", "T t = x * (x + 1;")]
    for kernel, message, line in cases:
        src = cupy_compiler.source(kernel, "float32", "contiguous")
        with pytest.raises(CompileError) as info:
            cupy_compiler.compile(src, kernel.name, "compute_80")
        assert message in str(info.value) and f"{kernel.name}.cu(" in str(info.value)
        assert line in str(info.value)                     # the offending source line is quoted
