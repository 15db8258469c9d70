"""Explaining a wrong tensor: the generic diagnoses every problem shares.

A problem knows its own likely slips (a term left out, the wrong input in a product, a reset
variant mixed up ...): it passes them as *suspects*, arrays paired with a ``Finding``, and a
tensor equal to a suspect gets that finding. What no problem needs to spell out is here:

- the shape of a wrong-shaped answer: transposed, not summed over the batch, summed over the
  wrong axis, an axis too many or too few;
- the relation of a wrong answer to the right one: all zeros, the wrong sign, the transpose,
  a factor (1/B: a mean where a sum belongs; B; 2; 1/T ...);
- per gate block of a (.., G*H) tensor: which blocks are wrong, blocks swapped, a block of the
  wrong sign;
- an exception: the student's line that raised it, and what a shape or broadcasting error means.

``Diagnosis`` holds one problem's suspects, its dependencies (a tensor computed from another is
reported as following from it) and its fallback findings; ``explain`` applies them in order.
"""

import os
import re
import traceback
from typing import NamedTuple

import numpy as np

from ..gradcheck import relative_error
from .report import RECHECK, Finding

MATCH = 1e-6          # two analytic arrays "are the same" below this relative error


def same(a, b, tol=MATCH):
    """Are two arrays equal up to rounding (same shape, relative error below ``tol``)?"""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and relative_error(a, b) < tol


def index_text(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def worst_entry(L, R):
    """Where ``L`` is farthest from ``R``, in words."""
    if L.ndim == 0:
        return f"yours {float(L):.6g}, right {float(R):.6g}"
    j = np.unravel_index(int(np.abs(L - R).argmax()), L.shape)
    return f"at {index_text(j)}: yours {L[j]:.6g}, right {R[j]:.6g}"


# ----------------------------------------------------------------------------- shapes and dtypes

def shape_finding(name, got, want, sizes):
    """Why a tensor has the wrong shape, when that can be read from the shapes alone."""
    got, want = tuple(got), tuple(want)
    said = f"shape {got}, but it must be {want}"
    B, T = sizes.get("B"), sizes.get("T")
    axis_names = _axis_names(want, sizes)
    if got == want[::-1] and len(want) == 2:
        return Finding(f"{said}: transposed", "for y = x W with row vectors, dx = dy Wᵀ and dW = xᵀ dy")
    if len(got) == len(want) + 1 and got[1:] == want and got[0] in (B, T):
        axis = "the batch" if got[0] == B else "time"
        return Finding(f"{said}: not summed over {axis} (axis 0)",
                       f"a parameter used by every row{' and step' if T else ''} gets the sum of their gradients: "
                       f".sum(axis=0)")
    if len(got) == len(want) + 2 and got[2:] == want and T and B and got[:2] == (T, B):
        return Finding(f"{said}: not summed over time and the batch",
                       "a weight shared by every step and row gets the sum of all their gradients: .sum(axis=(0, 1))")
    if len(want) == 1 and len(got) == 1 and B is not None and got == (B,) and want != (B,):
        return Finding(f"{said}: summed over axis 1 (the {axis_names[0] if axis_names else 'feature'} axis), "
                       "not over the batch",
                       "a bias's gradient keeps one entry per feature and sums over the rows: .sum(axis=0)")
    if got == () and want != ():
        return Finding(f"{said}: summed over every axis", "sum over the batch only: .sum(axis=0)")
    if len(got) == len(want) and sorted(got) == sorted(want):
        return Finding(f"{said}: the axes are in the wrong order", "check which axis is which (time-major: (T, B, ·))")
    return Finding(said, "")


def _axis_names(shape, sizes):
    names = {v: k for k, v in sizes.items() if isinstance(v, int)}
    return [names.get(s, str(s)) for s in shape]


def dtype_finding(name, arr):
    """A float32 (or other non-float64) answer to a float64 problem."""
    return Finding(f"{name} is {arr.dtype}, but the inputs are float64: somewhere your code makes "
                   f"{arr.dtype} arrays (np.zeros(..., dtype=np.float32)? .astype?)",
                   "make new arrays with the inputs' dtype (np.zeros_like(x), dtype=x.dtype); a check in float32 "
                   "cannot tell a bug from rounding (notebook 3)")


# ----------------------------------------------------------------------------- relations to the right answer

SCALES = [
    ("1/B", lambda s: 1 / s["B"], "divided by B = {B}: a mean over the batch where a sum belongs",
     "the loss's gradient already carries the 1/B of the mean; sum the rows (.sum(axis=0)), do not average them"),
    ("B", lambda s: s["B"], "B = {B} times too large: the batch counted twice, or a sum where a mean belongs",
     "divide by the batch size exactly once"),
    ("1/T", lambda s: 1 / s["T"], "divided by T = {T}: a mean over time where a sum belongs",
     "a weight shared by every step gets the sum of the steps' gradients"),
    ("T", lambda s: s["T"], "T = {T} times too large", "add each step's gradient once"),
    ("2", lambda s: 2.0, "twice the right answer: a term added twice", "add each path once"),
    ("1/2", lambda s: 0.5, "half the right answer", "central differences divide by 2ε, a single term by 1"),
    ("1/D", lambda s: 1 / s["D"], "divided by D = {D}", "do not average over the features"),
    ("1/H", lambda s: 1 / s["H"], "divided by H = {H}", "do not average over the hidden units"),
]


def scale_finding(L, R, sizes):
    """``L`` equal to ``c * R`` for a constant c: name c when it is a known slip."""
    rr = float((R * R).sum())
    if rr == 0:
        return None
    c = float((L * R).sum()) / rr
    if abs(c - 1) < 1e-3 or not same(L, c * R):
        return None
    for _, factor, where, formula in SCALES:
        try:
            f = factor(sizes)
        except KeyError:
            continue
        if abs(c - f) <= 1e-6 * max(1.0, abs(f)):
            return Finding(where.format(**sizes), formula)
    return Finding(f"the right answer times {c:.4g}: a factor too many or too few", "")


def generic_finding(L, R, sizes):
    """Zeros, sign, transpose or a factor: what ``L`` is, measured against the right ``R``."""
    if not np.any(L) and np.any(R):
        return Finding("all zeros: never computed, or never added to", "")
    if same(L, -R):
        return Finding("the right size but the wrong sign", "a minus sign somewhere (1 - z, h_prev - n, a subtraction "
                       "in the wrong order ...)")
    if L.ndim == 2 and L.shape[0] == L.shape[1] and same(L, R.T):
        return Finding("the transpose of the right answer (the matrix is square, so the shapes did not object)",
                       "for y = x W with row vectors, dx = dy Wᵀ and dW = xᵀ dy")
    return scale_finding(L, R, sizes)


def block_finding(L, R, names, block_formulas=None):
    """For a tensor whose last axis holds gate blocks ``names`` (each H wide): which blocks are wrong,
    swapped, or of the wrong sign. None when every block is wrong or none is."""
    G = len(names)
    if L.shape != R.shape or L.shape[-1] % G:
        return None
    H = L.shape[-1] // G
    blocks_L = [L[..., k * H:(k + 1) * H] for k in range(G)]
    blocks_R = [R[..., k * H:(k + 1) * H] for k in range(G)]
    bad = [k for k in range(G) if not same(blocks_L[k], blocks_R[k])]
    if not bad:
        return None
    order = " ".join(names)
    swapped = {k: j for k in bad for j in bad if j != k and same(blocks_L[k], blocks_R[j])}
    if swapped and set(swapped) == set(bad):
        pairs = sorted({tuple(sorted((names[k], names[j]))) for k, j in swapped.items()})
        text = "; ".join(f"{a} and {b}" for a, b in pairs)
        return Finding(f"the columns of the gate blocks {text} are swapped", f"the blocks are in the order {order}, "
                       f"each H = {H} columns wide: {_block_slices(names, H)}")
    if len(bad) == G:
        return None
    flipped = [names[k] for k in bad if same(blocks_L[k], -blocks_R[k])]
    where = f"wrong only in the columns of the gate block{'s' if len(bad) > 1 else ''} {', '.join(names[k] for k in bad)} " \
            f"(right in {', '.join(names[k] for k in range(G) if k not in bad)})"
    if flipped:
        where += f"; in {', '.join(flipped)} only the sign is wrong"
    formulas = [block_formulas[names[k]] for k in bad if block_formulas and names[k] in block_formulas]
    return Finding(where, " ".join(formulas))


def _block_slices(names, H):
    return ", ".join(f"{n} = [:, {k * H}:{(k + 1) * H}]" for k, n in enumerate(names))


# ----------------------------------------------------------------------------- one problem's knowledge

class Diagnosis(NamedTuple):
    """How to explain one part's wrong tensors.

    suspects:  name -> [(array, Finding)]: a tensor equal to the array gets the finding.
    deps:      name -> names it is computed from: when one of those is wrong, this one follows it.
    fallback:  name -> Finding when nothing more specific is found (its own derivation is at fault).
    blocks:    name -> gate block names of its last axis (e.g. ('i', 'f', 'g', 'o')).
    block_formulas: gate block name -> what to check in that block.
    """

    suspects: dict = {}
    deps: dict = {}
    fallback: dict = {}
    blocks: dict = {}
    block_formulas: dict = {}


def explain(name, L, R, diagnosis, wrong, sizes):
    """Explain the wrong ``L`` (named ``name``) against the right ``R``.

    Returns (Finding or None, the name of the tensor it follows from or '').
    """
    for cand, finding in diagnosis.suspects.get(name, ()):
        if cand is not None and same(L, cand):
            return finding, ""
    for up in diagnosis.deps.get(name, ()):
        if up in wrong:
            return None, up
    blocks = diagnosis.blocks.get(name)
    if blocks:
        f = block_finding(L, R, blocks, diagnosis.block_formulas)
        if f is not None:
            return f, ""
    f = generic_finding(L, R, sizes)
    if f is not None:
        return f, ""
    return diagnosis.fallback.get(name) or RECHECK, ""


# ----------------------------------------------------------------------------- exceptions

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def explain_exception(exc, sizes=None):
    """The exception of the student's code and the student's line that raised it (always shown), and a
    ``Finding`` on what it likely means (a hint), or None."""
    frames = traceback.extract_tb(exc.__traceback__)
    theirs = [f for f in frames if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)] or frames
    last = theirs[-1] if theirs else None
    where = ""
    if last is not None:
        where = f"\n  in {last.name}, line {last.lineno}" + (f": {last.line.strip()}" if last.line else "")
    text = f"{type(exc).__name__}: {exc}{where}"
    msg = str(exc)
    finding = None
    if isinstance(exc, ValueError) and "matmul" in msg:
        finding = Finding("a matrix product with mismatched shapes: one side needs a transpose",
                          "row vectors: for y = x W, dx = dy Wᵀ and dW = xᵀ dy")
    elif isinstance(exc, ValueError) and "broadcast" in msg:
        finding = _broadcast_hint(msg, sizes or {})
    elif isinstance(exc, (AttributeError, KeyError, TypeError)) and ("cache" in msg or isinstance(exc, KeyError)):
        finding = Finding("a name your code looks up is not there",
                          "look at what your cache holds (its fields or keys) and at the parameter names (params.keys())")
    return text, finding


def _broadcast_hint(msg, sizes):
    shapes = [tuple(int(v) for v in s.split(",") if v.strip()) for s in re.findall(r"\(([\d,\s]*)\)", msg)]
    B = sizes.get("B")
    if len(shapes) >= 2 and B is not None:
        vec = [s for s in shapes if s == (B,)]
        mat = [s for s in shapes if len(s) == 2 and s[0] == B and s[1] != B]
        if vec and mat:
            return Finding(f"a (B,) = {vec[0]} array met a (B, ·) = {mat[0]} one element-wise: a number per sequence "
                           "(such as mask[t]) must scale the rows",
                           "make it a column: mask[t][:, None], shape (B, 1). (Without it NumPy lines (B,) up with the "
                           "last axis, which runs, wrongly, when B happens to equal H.)")
    return Finding("two arrays of different shapes met element-wise", "print the shapes of both sides")
