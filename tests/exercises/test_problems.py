"""Every problem of every assignment: the model solutions get full marks, the untouched stubs get zero with
"not implemented", the reference the checker trusts agrees with central differences, and every case has
B, D, H and T all different (so that a transpose or a broadcasting slip fails instead of running)."""

import numpy as np
import pytest

from minieleatt.exercises import ASSIGNMENTS, bugzoo, check, set_hints
from minieleatt.exercises.grader import grade
from minieleatt.exercises.handout import STUB, strip_solutions
from minieleatt.exercises.problems.common import SpecPart, get_instance
from minieleatt.gradcheck import numerical_vjp, relative_error

PARTS = [(a, part) for a in ASSIGNMENTS for p in ASSIGNMENTS[a].problems for part in p.parts]


@pytest.fixture(scope="module")
def solutions():
    return {a: bugzoo.apply(assignment=a) for a in ASSIGNMENTS}


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_the_model_solutions_get_full_marks(assignment, solutions):
    report = grade(solutions[assignment], assignment)
    assert report.passed, report.text()
    assert report.score == report.max_score == ASSIGNMENTS[assignment].max_score > 0
    assert all(r.cases_checked >= 1 for r in report.parts)
    assert "full marks" in report.text()


def _stubs(assignment):
    """The namespace of the student's handout: every solution replaced by the stub."""
    from minieleatt.exercises.bugzoo import _cells
    namespace = {"__name__": "__submission__"}
    for cell in _cells(assignment):
        exec(compile(strip_solutions(cell.source), "<stub>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("assignment", list(ASSIGNMENTS))
def test_the_untouched_stubs_get_zero_and_say_not_implemented(assignment):
    report = grade(_stubs(assignment), assignment)
    assert report.score == 0
    assert {r.status for r in report.parts} == {"not implemented"}
    assert all("not implemented yet" in r.text() and "YOUR CODE HERE" in r.text() for r in report.parts)


def test_a_stub_is_the_raise_at_the_blocks_indentation():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    assert strip_solutions(source) == "def f(x):\n    '''doc'''\n" + "\n".join("    " + s for s in STUB.splitlines())
    with pytest.raises(ValueError, match="without"):
        strip_solutions("    ### BEGIN SOLUTION\n    x = 1\n")


@pytest.mark.parametrize("assignment,part", [(a, p) for a, p in PARTS if isinstance(p, SpecPart)],
                         ids=[p.id for a, p in PARTS if isinstance(p, SpecPart)])
def test_the_truth_of_every_case_agrees_with_central_differences(assignment, part):
    """The reference gradients the diagnoses compare with are the central differences the verdict uses."""
    for case in part.cases()[:2]:
        inst = get_instance(part.spec_for(case), case)
        assert set(inst.grads) == set(inst.numerical)
        for name, g in inst.grads.items():
            assert relative_error(g, inst.numerical[name]) < 1e-7, (part.id, case, name)
        fn = lambda inp: tuple(part.spec_for(case).reference_forward(inp).values())   # noqa: E731
        name = next(iter(inst.grads))[1:]
        inputs = {k: v.copy() for k, v in inst.inputs.items()}
        assert relative_error(inst.grads["d" + name], numerical_vjp(fn, inputs, name, inst.douts)) < 1e-7


@pytest.mark.parametrize("assignment,part", PARTS, ids=[p.id for _, p in PARTS])
def test_every_case_has_all_sizes_different(assignment, part):
    for case in part.cases():
        sizes = [v for k, v in case.sizes.items() if k in ("T", "B", "D", "H", "C", "K")]
        assert len(sizes) == len(set(sizes)), (part.id, case)
    assert len(part.cases()) >= 2 or part.id == "overfit.overfit"
    assert len({c.seed for c in part.cases()}) >= 1


def test_check_in_a_notebook_reads_the_callers_functions_and_obeys_the_hint_level(solutions):
    namespace = dict(solutions["assignment1"])
    exec(compile("def gate_step_backward(dx_att, cache):\n"
                 "    x_t, h_prev, a, W_xa, W_ha, act = cache\n"
                 "    dz_a = dx_att * x_t * a * (1 - a)\n"
                 "    return dz_a @ W_xa.T, dz_a @ W_ha.T, {'W_xa': x_t.T @ dz_a, 'W_ha': h_prev.T @ dz_a, "
                 "'b_a': dz_a.sum(0)}\n", "<cell>", "exec"), namespace)
    exec("report = check('gate.backward')", namespace)          # the caller's globals are the notebook's
    report = namespace["report"]
    assert report.status == "failed" and not report["dx_t"].passed and report["dh_prev"].passed
    formula = report.text("formula")
    assert "where: dx_t: misses one of its terms" in formula and "formula: x_t reaches" in formula
    location = report.text("location")
    assert "where: dx_t: misses one of its terms" in location and "formula:" not in location
    none = report.text("none")
    assert "where:" not in none and "formula:" not in none and "wrong: dx_t" in none
    set_hints("none")
    try:
        assert "where:" not in str(check("gate.backward", namespace))
    finally:
        set_hints("formula")
    assert "where:" in str(check("gate.backward", namespace))


def test_check_names_unknown_problems_and_parts():
    with pytest.raises(ValueError, match="unknown problem 'nope'"):
        check("nope", {})
    with pytest.raises(ValueError, match="gate has no part 'sideways'"):
        check("gate.sideways", {})


def test_a_missing_function_and_a_malformed_return_are_reported(solutions):
    report = check("gate.forward", {})
    assert report.status == "missing" and "gate_step_forward is not defined" in report.text()
    namespace = dict(solutions["assignment1"])
    exec("def gate_step_forward(x_t, h_prev, params, activation='sigmoid'):\n    return x_t\n", namespace)
    report = check("gate.forward", namespace)
    assert report.status == "failed" and "it must return (x_att, cache), but it returned a ndarray" in report.text()


def test_a_student_writing_into_its_arguments_cannot_spoil_later_checks(solutions):
    namespace = dict(solutions["assignment1"])
    exec("def gate_step_forward(x_t, h_prev, params, activation='sigmoid'):\n"
         "    x_t[...] = 0; h_prev[...] = 0; params['W_xa'][...] = 0\n    raise NotImplementedError\n", namespace)
    assert check("gate.forward", namespace).status == "not implemented"
    assert check("gate.forward", solutions["assignment1"]).passed


def test_the_instances_are_float64_and_fixed_by_the_seed():
    part = ASSIGNMENTS["assignment1"].problem("gate").part("backward")
    case = part.cases()[0]
    inst = get_instance(part.spec_for(case), case)
    assert all(v.dtype == np.float64 for v in inst.inputs.values())
    from minieleatt.exercises.problems.common import Instance
    again = Instance(part.spec_for(case), case)
    assert all(np.array_equal(inst.inputs[k], again.inputs[k]) for k in inst.inputs)


def test_a_gpu_array_in_an_answer_is_named_with_both_devices(solutions):
    class FakeCupyArray:                        # looks like a cupy.ndarray to the library
        __module__ = "cupy._core.core"

    namespace = dict(solutions["assignment1"])
    namespace["FakeCupyArray"] = FakeCupyArray
    exec("_right = gate_step_backward\n"
         "def gate_step_backward(dx_att, cache):\n"
         "    dx, dh_prev, grads = _right(dx_att, cache)\n"
         "    return FakeCupyArray(), dh_prev, grads\n", namespace)
    text = check("gate.backward", namespace).text()
    assert "dx_t is on the GPU (a CuPy array) but the checker's reference is on the CPU (a NumPy array)" in text
