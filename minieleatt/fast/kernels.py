"""Fused element-wise kernels for the GPU (CuPy): one kernel per step and direction.

On the GPU a step's element-wise arithmetic is a dozen operations on arrays of a few
thousand numbers; each is a kernel launch (and a Python call) that costs far more than
its arithmetic. Here the element-wise arithmetic of one step of each cell, forward and
backward, is one ``ElementwiseKernel`` (the reset-before GRU needs two each way, as its
candidate multiplies ``r ⊙ h_{t-1}`` by ``W_hn`` in the middle), and so is the sigmoid
attention gate. The products stay cuBLAS calls. ``fused_cells.py`` runs the cells with
these kernels; the bodies below are the element-wise lines of the reference's step
functions (``minieleatt.functional``), element by element.

Nothing here imports CuPy: the kernels are built through the array module (``xp`` is
CuPy), on first use. A body is a list of assignments written in the part of the syntax
that C++ and Python share, so the same body also runs on NumPy arrays
(``kernels_for(numpy)`` evaluates them with NumPy): the CPU tests run every cell through
these bodies and check them against the reference and by finite differences, and compile
their CUDA source with NVRTC. What only a GPU can test (the compiled kernels running) is
covered by the tests marked ``gpu``.

A body's helpers: ``sigm(x)`` the sigmoid (as ``activations.sigmoid``, ``0.5 tanh(x/2) + 0.5``),
``keep(m, x)`` x where the step is valid and 0 where it is padded, ``choose(m, a, b)`` a or b.
Names ``i``, ``n`` and names that start with ``_`` are CuPy's own, so the gates are ``ig``, ``ng`` ...
"""

from ..functional.activations import sigmoid

PREAMBLE = r"""
template <typename F> __device__ F sigm(F x) { return (F)0.5 * tanh((F)0.5 * x) + (F)0.5; }
template <typename F> __device__ F keep(bool m, F x) { return m ? x : (F)0; }
template <typename F> __device__ F choose(bool m, F a, F b) { return m ? a : b; }
"""


class Kernel:
    """One fused kernel: typed inputs, typed outputs, and a body of assignments ``(name, expression)``.

    An assignment to an output writes the output; any other name is a local (``T name = ...;``).
    """

    def __init__(self, name, inputs, outputs, body):
        self.name = name
        self.inputs = [p.split() for p in inputs.split(",")]       # [(type, name), ...]
        self.outputs = [p.split() for p in outputs.split(",")]
        self.body = body

    def cuda(self):
        outs = {name for _, name in self.outputs}
        return "\n".join(f"{target} = {expr};" if target in outs else f"T {target} = {expr};"
                         for target, expr in self.body)

    def params(self, which):
        return ", ".join(f"{t} {name}" for t, name in which)


# ----------------------------------------------------------------------------- the bodies

GATE_FORWARD = Kernel(  # a = σ(x W_xa + b_a + h_prev W_ha), x̃ = a ⊙ x
    "eleatt_gate_forward", "T xw, T hw, T x", "T a, T xa",
    [("a", "sigm(xw + hw)"), ("xa", "a * x")])

GATE_BACKWARD = Kernel(  # from dx̃: dz of the pre-activation, dx through x̃ = a ⊙ x
    "eleatt_gate_backward", "T dxa, T x, T a", "T dz, T dx",
    [("dx", "dxa * a"), ("dz", "(dxa * x) * (a * (1 - a))")])

RNN_FORWARD = Kernel(
    "eleatt_rnn_forward", "T gx, T gh, T h_prev, bool m", "T h",
    [("h", "choose(m, tanh(gx + gh), h_prev)")])

RNN_BACKWARD = Kernel(
    "eleatt_rnn_backward", "T dh_out, T dh_next, T h, bool m", "T dpre, T carry",
    [("d", "dh_out + dh_next"), ("dh", "keep(m, d)"),
     ("dpre", "dh * (1 - h * h)"), ("carry", "d - dh")])

LSTM_FORWARD = Kernel(
    "eleatt_lstm_forward",
    "T xi, T xf, T xg, T xo, T hi, T hf, T hg, T ho, T c_prev, T h_prev, bool m",
    "T ig, T fg, T gg, T og, T c, T h",
    [("ig", "sigm(xi + hi)"), ("fg", "sigm(xf + hf)"), ("gg", "tanh(xg + hg)"), ("og", "sigm(xo + ho)"),
     ("cn", "fg * c_prev + ig * gg"),
     ("c", "choose(m, cn, c_prev)"), ("h", "choose(m, og * tanh(cn), h_prev)")])

LSTM_BACKWARD = Kernel(
    "eleatt_lstm_backward",
    "T dh_out, T dh_next, T dc_next, T ig, T fg, T gg, T og, T tc, T c_prev, bool m",
    "T dpi, T dpf, T dpg, T dpo, T dc_prev, T dh_carry",
    [("d", "dh_out + dh_next"), ("dh", "keep(m, d)"), ("dh_carry", "d - dh"),
     ("dcm", "keep(m, dc_next)"),
     ("dc", "dcm + dh * og * (1 - tc * tc)"),
     ("dpo", "dh * tc * (og * (1 - og))"),
     ("dpi", "dc * gg * (ig * (1 - ig))"),
     ("dpf", "dc * c_prev * (fg * (1 - fg))"),
     ("dpg", "dc * ig * (1 - gg * gg)"),
     ("dc_prev", "dc * fg + (dc_next - dcm)")])

GRU_AFTER_FORWARD = Kernel(  # reset_after=True: everything of the step in one kernel
    "eleatt_gru_after_forward",
    "T xr, T xz, T xn, T hr, T hz, T hnw, T b_hn, T h_prev, bool m", "T rg, T zg, T ng, T hn, T h",
    [("rg", "sigm(xr + hr)"), ("zg", "sigm(xz + hz)"), ("hn", "hnw + b_hn"),
     ("ng", "tanh(xn + rg * hn)"), ("h", "choose(m, ng + zg * (h_prev - ng), h_prev)")])

GRU_AFTER_BACKWARD = Kernel(
    "eleatt_gru_after_backward",
    "T dh_out, T dh_next, T rg, T zg, T ng, T hn, T h_prev, bool m",
    "T dxr, T dxz, T dxn, T dhr, T dhz, T dhn, T dh_prev",
    [("d", "dh_out + dh_next"), ("dh", "keep(m, d)"),
     ("dxn", "dh * (1 - zg) * (1 - ng * ng)"), ("dhn", "dxn * rg"),
     ("dxr", "dxn * hn * (rg * (1 - rg))"), ("dxz", "dh * (h_prev - ng) * (zg * (1 - zg))"),
     ("dhr", "dxr"), ("dhz", "dxz"),
     ("dh_prev", "dh * zg + (d - dh)")])

GRU_BEFORE_FORWARD_RZ = Kernel(  # reset_after=False, before the product (r ⊙ h_{t-1}) W_hn
    "eleatt_gru_before_forward_rz", "T xr, T xz, T hr, T hz, T h_prev", "T rg, T zg, T rh",
    [("rg", "sigm(xr + hr)"), ("zg", "sigm(xz + hz)"), ("rh", "rg * h_prev")])

GRU_BEFORE_FORWARD_H = Kernel(  # ... and after it (p = (r ⊙ h_{t-1}) W_hn)
    "eleatt_gru_before_forward_h", "T xn, T p, T zg, T h_prev, bool m", "T ng, T h",
    [("ng", "tanh(xn + p)"), ("h", "choose(m, ng + zg * (h_prev - ng), h_prev)")])

GRU_BEFORE_BACKWARD_ZN = Kernel(  # reset_after=False, before the product dn W_hn^T
    "eleatt_gru_before_backward_zn",
    "T dh_out, T dh_next, T zg, T ng, T h_prev, bool m", "T dxz, T dhz, T dxn, T dh_part",
    [("d", "dh_out + dh_next"), ("dh", "keep(m, d)"),
     ("dxz", "dh * (h_prev - ng) * (zg * (1 - zg))"), ("dhz", "dxz"),
     ("dxn", "dh * (1 - zg) * (1 - ng * ng)"),
     ("dh_part", "dh * zg + (d - dh)")])

GRU_BEFORE_BACKWARD_R = Kernel(  # ... and after it (drh = dn W_hn^T)
    "eleatt_gru_before_backward_r", "T drh, T h_prev, T rg, T dh_part", "T dxr, T dhr, T dh_prev",
    [("dxr", "drh * h_prev * (rg * (1 - rg))"), ("dhr", "dxr"), ("dh_prev", "dh_part + drh * rg")])


# ----------------------------------------------------------------------------- running them

class Kernels:
    """The kernels bound to an array module: compiled on CuPy, or evaluated by NumPy (``emulate``)."""

    def __init__(self, xp, emulate=False):
        self.xp, self.emulate = xp, emulate
        self._compiled = {}
        self._all_true = {}

    def run(self, kernel, *arrays):
        """Run ``kernel`` on its inputs, then its outputs (written in place; views are fine)."""
        if self.emulate:
            return self._evaluate(kernel, arrays)
        compiled = self._compiled.get(kernel.name)
        if compiled is None:
            compiled = self.xp.ElementwiseKernel(kernel.params(kernel.inputs), kernel.params(kernel.outputs),
                                                 kernel.cuda(), kernel.name, preamble=PREAMBLE)
            self._compiled[kernel.name] = compiled
        compiled(*arrays)

    def _evaluate(self, kernel, arrays):
        xp = self.xp
        n_in = len(kernel.inputs)
        names = {"sigm": sigmoid, "tanh": xp.tanh, "keep": lambda m, v: xp.where(m, v, 0), "choose": xp.where}
        for (_, name), a in zip(kernel.inputs, arrays[:n_in]):
            names[name] = a
        shape = xp.broadcast(*arrays[:n_in]).shape
        outs = {}
        for (_, name), a in zip(kernel.outputs, arrays[n_in:]):
            if tuple(a.shape) != tuple(shape):                     # CuPy would refuse it too
                raise ValueError(f"{kernel.name}: output {name} has shape {a.shape}, the inputs broadcast to {shape}")
            outs[name] = a
        for target, expr in kernel.body:
            value = eval(expr, {"__builtins__": {}}, names)       # the body is this module's constant text
            if target in outs:
                outs[target][...] = value
                value = outs[target]
            names[target] = value

    def mask(self, m, B):
        """The step's mask (B, 1), or an all-true one when there is none."""
        if m is not None:
            return m
        if B not in self._all_true:
            self._all_true[B] = self.xp.ones((B, 1), dtype=bool)
        return self._all_true[B]

    # -- the calls the cells make (the slicing of their fused blocks lives here)

    def gate_step(self, xw, hw, x, a, xa):
        self.run(GATE_FORWARD, xw, hw, x, a, xa)

    def gate_step_backward(self, dxa, x, a, dz, dx):
        self.run(GATE_BACKWARD, dxa, x, a, dz, dx)

    def rnn_step(self, gx, gh, h_prev, m, h):
        self.run(RNN_FORWARD, gx, gh, h_prev, self.mask(m, h.shape[0]), h)

    def rnn_step_backward(self, dh_out, dh_next, h, m, dpre, carry):
        self.run(RNN_BACKWARD, dh_out, dh_next, h, self.mask(m, h.shape[0]), dpre, carry)

    def lstm_step(self, gx, gh, c_prev, h_prev, m, act, c, h):
        H = h.shape[1]
        blocks = lambda a: [a[:, k * H:(k + 1) * H] for k in range(4)]   # noqa: E731  i f g o
        self.run(LSTM_FORWARD, *blocks(gx), *blocks(gh), c_prev, h_prev, self.mask(m, h.shape[0]),
                 *blocks(act), c, h)

    def lstm_step_backward(self, dh_out, dh_next, dc_next, act, tc, c_prev, m, dpre, dc_prev, dh_carry):
        H = dc_prev.shape[1]
        blocks = lambda a: [a[:, k * H:(k + 1) * H] for k in range(4)]   # noqa: E731
        self.run(LSTM_BACKWARD, dh_out, dh_next, dc_next, *blocks(act), tc, c_prev,
                 self.mask(m, dc_prev.shape[0]), *blocks(dpre), dc_prev, dh_carry)

    def gru_step(self, gx, gh, h_prev, m, b_hn, W_hn, gates, hn, h):
        """One GRU step: [r z n] into ``gates`` (B, 3H), h_{t-1} W_hn + b_hn into ``hn`` (reset-after), h_t into ``h``."""
        H = h.shape[1]
        m = self.mask(m, h.shape[0])
        r, z, n = gates[:, :H], gates[:, H: 2 * H], gates[:, 2 * H:]
        if hn is not None:
            self.run(GRU_AFTER_FORWARD, gx[:, :H], gx[:, H: 2 * H], gx[:, 2 * H:], gh[:, :H], gh[:, H: 2 * H],
                     gh[:, 2 * H:], b_hn, h_prev, m, r, z, n, hn, h)
        else:
            rh = self.xp.empty_like(h_prev)
            self.run(GRU_BEFORE_FORWARD_RZ, gx[:, :H], gx[:, H: 2 * H], gh[:, :H], gh[:, H: 2 * H], h_prev, r, z, rh)
            self.run(GRU_BEFORE_FORWARD_H, gx[:, 2 * H:], rh @ W_hn, z, h_prev, m, n, h)

    def gru_step_backward(self, dh_out, dh_next, gates, hn, h_prev, m, dgx, dgh, W_hn):
        """One GRU step back: writes ``dgx`` (B, 3H) and ``dgh`` (B, 2H or 3H); returns the part of
        dh_{t-1} that does not go through the products (the carry of a padded step included)."""
        H = h_prev.shape[1]
        m = self.mask(m, h_prev.shape[0])
        r, z, n = gates[:, :H], gates[:, H: 2 * H], gates[:, 2 * H:]
        dh_prev = self.xp.empty_like(h_prev)
        if hn is not None:
            self.run(GRU_AFTER_BACKWARD, dh_out, dh_next, r, z, n, hn, h_prev, m,
                     dgx[:, :H], dgx[:, H: 2 * H], dgx[:, 2 * H:], dgh[:, :H], dgh[:, H: 2 * H], dgh[:, 2 * H:],
                     dh_prev)
        else:
            dh_part = self.xp.empty_like(h_prev)
            self.run(GRU_BEFORE_BACKWARD_ZN, dh_out, dh_next, z, n, h_prev, m,
                     dgx[:, H: 2 * H], dgh[:, H: 2 * H], dgx[:, 2 * H:], dh_part)
            drh = dgx[:, 2 * H:] @ W_hn.T
            self.run(GRU_BEFORE_BACKWARD_R, drh, h_prev, r, dh_part, dgx[:, :H], dgh[:, :H], dh_prev)
        return dh_prev


_KERNELS = {}       # one Kernels per array module, so that CuPy compiles each kernel once per process


def kernels_for(xp):
    """The fused kernels for arrays of ``xp``: compiled by CuPy, or evaluated by NumPy (the CPU's emulation)."""
    name = getattr(xp, "__name__", "")
    if name not in _KERNELS:
        if name not in ("numpy", "cupy"):
            raise ValueError(f"the fused kernels run on NumPy (emulated) or CuPy arrays, not {name!r}")
        _KERNELS[name] = Kernels(xp, emulate=(name == "numpy"))
    return _KERNELS[name]
