"""Parts shared by the problems: the forward and the backward of a function with a cache.

A ``Spec`` describes one function pair (the gate's step, an RNN step, an LSTM sequence ...):
how to draw its inputs, the library's reference forward and backward, how to call the student's
pair, the structure of what they return, and the problem's own suspects for the diagnosis.
``ForwardPart`` checks the student's forward against the reference; ``BackwardPart`` runs the
student's forward, then their backward on their own cache, and compares every gradient with
central differences of the reference forward (the verdict) and with the reference's analytic
gradient (for the diagnosis).

Instances (inputs, reference, numerical gradients) are computed once per case and kept.
"""

from functools import lru_cache

import numpy as np

from ...gradcheck import numerical_vjp
from ..diagnose import Diagnosis
from ..parts import FORWARD_TOLERANCE, Case, CaseResult, Malformed, Part, Stop, compare, copy, unpack
from ..report import Finding


class Spec:
    """One function pair. Subclasses fill in the attributes and methods below."""

    forward_name = ""            # the student's forward function
    backward_name = ""           # the student's backward function
    forward_signature = ""
    backward_signature = ""
    forward_returns = ""         # in words
    backward_returns = ""
    out_names = ()               # the forward's outputs, e.g. ('h',) or ('h', 'c')
    backward_layout = ()         # e.g. ('dx_t', 'dh_prev', 'grads')
    blocks = ()                  # gate block names of W_x / W_h / b, e.g. ('i', 'f', 'g', 'o')

    def inputs(self, rng, sizes):
        """dict of float64 arrays: the inputs first, then the parameters."""
        raise NotImplementedError

    def param_names(self, inputs):
        return [k for k in inputs if k[0] in "Wb"]

    def reference_forward(self, inputs):
        """dict out name -> array."""
        raise NotImplementedError

    def reference_backward(self, inputs, douts):
        """dict row name ('d' + input name) -> array."""
        raise NotImplementedError

    def douts(self, rng, inputs, outs):
        return tuple(rng.standard_normal(o.shape) for o in outs.values())

    def forward_args(self, inst):
        """The arguments of the student's forward for the instance ``inst``."""
        raise NotImplementedError

    def backward_args(self, inst, cache):
        """The arguments of the student's backward, given the cache their forward returned."""
        raise NotImplementedError

    def forward_outputs(self, raw):
        """The student's forward output -> dict out name -> value (raises Malformed)."""
        if len(self.out_names) == 1:
            return {self.out_names[0]: raw}
        return unpack(raw, tuple(self.out_names), f"({', '.join(self.out_names)})")

    def forward_diagnosis(self, inst):
        return Diagnosis()

    def backward_diagnosis(self, inst):
        return Diagnosis()

    def backward_findings(self, student, inst, cache, got, rows):
        """Part-level findings for a wrong backward (the time bisector's, for a sequence)."""
        return []

    def skipped_steps(self, student, inst):
        """For a sequence: a finding when the student's loop skips a time step, else None."""
        return None


class Instance:
    """One case of a spec: inputs, upstream gradients, the reference's outputs and gradients."""

    def __init__(self, spec, case):
        self.spec = spec
        self.case = case
        self.sizes = case.sizes
        rng = np.random.default_rng(1000 + case.seed)
        self.inputs = spec.inputs(rng, case.sizes)
        self.outs = spec.reference_forward(copy(self.inputs))
        self.douts = spec.douts(rng, self.inputs, self.outs)
        self.grads = spec.reference_backward(copy(self.inputs), copy(self.douts))
        self._numerical = None
        self._forward_diagnosis = self._backward_diagnosis = None

    @property
    def numerical(self):
        """Central differences of the reference forward, row name -> array."""
        if self._numerical is None:
            inputs = copy(self.inputs)
            fn = lambda inp: tuple(self.spec.reference_forward(inp).values())   # noqa: E731
            self._numerical = {"d" + k: numerical_vjp(fn, inputs, k, self.douts) for k in self.inputs
                               if "d" + k in self.grads}
            self._numerical = {k: self._numerical[k] for k in self.grads}
        return self._numerical

    @property
    def forward_diagnosis(self):
        if self._forward_diagnosis is None:
            self._forward_diagnosis = self.spec.forward_diagnosis(self)
        return self._forward_diagnosis

    @property
    def backward_diagnosis(self):
        if self._backward_diagnosis is None:
            self._backward_diagnosis = self.spec.backward_diagnosis(self)
        return self._backward_diagnosis


@lru_cache(maxsize=None)
def _instance(spec, seed, sizes):
    return Instance(spec, Case(seed, dict(sizes)))


def get_instance(spec, case):
    """The instance of ``spec`` for ``case`` (computed once)."""
    return _instance(spec, case.seed, tuple(case.sizes.items()))


def check_forward(spec, student, inst):
    """Run the student's forward; (cache, rows of its outputs against the reference)."""
    out = student.call(spec.forward_name, *spec.forward_args(inst), sizes=inst.sizes)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__}" + (f" of {len(out)} items" if isinstance(out, (tuple, list)) else "")
        raise Malformed(f"it must return {spec.forward_returns}, but it returned {got}")
    raw, cache = out
    outs = spec.forward_outputs(raw)
    rows = compare(outs, inst.outs, inst.outs, inst.sizes, inst.forward_diagnosis, tol=FORWARD_TOLERANCE)
    return cache, rows


class SpecPart(Part):
    """A part run by one ``Spec``, or by several: ``specs`` maps a case's variant to its spec."""

    def __init__(self, specs, key, title, needs, points, signature, case_list):
        super().__init__(key, title, needs, points, signature)
        self.specs = specs if isinstance(specs, dict) else {"": specs}
        self._cases = list(case_list)

    def cases(self):
        return self._cases

    def spec_for(self, case):
        return self.specs[case.variant]


class ForwardPart(SpecPart):
    """The student's forward against the reference."""

    def __init__(self, specs, key, title, points, case_list):
        main = specs if not isinstance(specs, dict) else specs[""]
        super().__init__(specs, key, title, (main.forward_name,), points, main.forward_signature, case_list)

    def run_case(self, student, case):
        spec = self.spec_for(case)
        inst = get_instance(spec, case)
        _, rows = check_forward(spec, student, inst)
        return CaseResult(rows)


class BackwardPart(SpecPart):
    """The student's backward, on the cache of their forward, against central differences."""

    def __init__(self, specs, key, title, points, case_list, forward_part=None):
        main = specs if not isinstance(specs, dict) else specs[""]
        super().__init__(specs, key, title, (main.forward_name, main.backward_name), points, main.backward_signature,
                         case_list)
        self.forward_part = forward_part

    def run_case(self, student, case):
        spec = self.spec_for(case)
        inst = get_instance(spec, case)
        cache, rows = check_forward(spec, student, inst)
        if not all(r.passed for r in rows):
            fwd = f" [{self.forward_part.id}]" if self.forward_part is not None else ""
            return CaseResult([], message=f"your {spec.forward_name} is wrong on this case{fwd}: the backward pass "
                                          f"runs on your forward's cache, so fix the forward first.")
        try:
            raw = student.call(spec.backward_name, *spec.backward_args(inst, cache), sizes=inst.sizes)
            got = unpack(raw, spec.backward_layout, spec.backward_returns, spec.param_names(inst.inputs))
        except (Stop, Malformed) as exc:          # it did not run, or returned the wrong structure: a skipped step?
            if isinstance(exc, Stop) and exc.status not in ("error", "failed"):
                raise
            skipped = spec.skipped_steps(student, inst)
            if skipped is None:
                raise
            if isinstance(exc, Malformed):
                raise Stop("failed", f"{spec.backward_signature}: {exc}.", skipped) from None
            raise Stop(exc.status, exc.message, skipped) from None
        rows = compare(got, inst.numerical, inst.grads, inst.sizes, inst.backward_diagnosis)
        findings = []
        if not all(r.passed for r in rows):
            findings = spec.backward_findings(student, inst, cache, got, rows)
        return CaseResult(rows, findings)


# ----------------------------------------------------------------------------- helpers for suspects

def missing_terms(total, terms):
    """Suspects for a gradient that is a sum of ``terms`` [(array, what it is, formula)]: one left out or doubled."""
    out = []
    for term, what, formula in terms:
        out.append((total - term, Finding(f"misses one of its terms: {what}", formula)))
        out.append((total + term, Finding(f"counts one of its terms twice: {what}", formula)))
    return out


def per_sample(B, backward_of_sample):
    """Stack ``backward_of_sample(b)`` (a dict of gradients of sample b alone) over the batch.

    A bias's gradient summed over a batch of one is that sample's pre-activation gradient: this
    gives the per-sample intermediate gradients from the library's public backward pass.
    """
    rows = [backward_of_sample(b) for b in range(B)]
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def sigmoid_prime_of_output_again(s):
    """σ′ applied once too often: σ(s)(1 − σ(s)) where s is already σ(.)."""
    t = 1 / (1 + np.exp(-s))
    return t * (1 - t)
