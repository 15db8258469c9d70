"""Every entry of the bug zoo: the part it names fails, with the diagnosis it names; the parts of the same
problem that the mistake does not touch still pass (the diagnosis points at the right part)."""

import pytest

from minieleatt.exercises import bugzoo
from minieleatt.exercises.assignments import find_part
from minieleatt.exercises.report import HINT_LEVELS

KEYS = [m.key for m in bugzoo.MISTAKES]


def test_the_catalogue_holds_the_issues_mistakes_and_the_classic_ones():
    wanted = {"mask-on-outputs", "dh0-is-dh", "mask-not-a-column", "dh-not-carried", "forget-derivative",
              "gate-transposed", "float32-check", "sigma-prime-of-output", "lstm-swapped-blocks",
              "reset-before-for-after", "bias-wrong-axis", "bias-mean", "dc-not-carried"}
    assert wanted <= set(KEYS)
    assert len(KEYS) == len(set(KEYS)) >= 30
    assert {m.assignment for m in bugzoo.MISTAKES} == {"assignment1", "assignment2", "assignment3"}


@pytest.mark.parametrize("key", KEYS)
def test_the_named_part_fails_with_the_named_diagnosis(key):
    mistake = bugzoo.get(key)
    report = bugzoo.report(mistake)
    assert report.id == mistake.part
    assert report.status in ("failed", "error") and report.score == 0
    assert mistake.signature in report.text("formula"), report.text("formula")
    none = report.text("none")
    assert "where:" not in none and "formula:" not in none


@pytest.mark.parametrize("key", ["dh-not-carried", "lstm-f-missing", "gate-direct-path", "mask-on-outputs",
                                 "b_hn-without-r", "not-restored"])
def test_the_other_parts_of_the_problem_still_pass(key):
    mistake = bugzoo.get(key)
    namespace = bugzoo.apply(mistake)
    problem = mistake.part.split(".")[0]
    _, parts = find_part(problem)
    earlier = parts[:[p.id for p in parts].index(mistake.part)]
    assert earlier, key
    for part in earlier:
        assert part.grade(namespace).passed, part.id


def test_an_edit_that_does_not_match_the_solution_exactly_once_is_refused():
    mistake = bugzoo.get("dh-not-carried")._replace(edits=(("this line is nowhere", "x"),))
    with pytest.raises(ValueError, match="must occur exactly once"):
        bugzoo.apply(mistake)


def test_the_diff_shows_the_edit():
    text = bugzoo.diff(bugzoo.get("dh-not-carried"))
    assert "-" in text and "+" in text and "dh = dhs[t]" in text


def test_the_three_diagnoses_the_old_checker_got_wrong():
    """Masking the step's outputs was blamed on summing; returning dh as dh0 on the loop; mask[t] without [:, None]
    (which ran only because B = H) was told 'the error is not in the masking'."""
    outputs = bugzoo.report(bugzoo.get("mask-on-outputs")).text()
    assert "include the padded steps" in outputs and "summed" not in outputs
    dh0 = bugzoo.report(bugzoo.get("dh0-is-dh"))
    assert [r.name for r in dh0.failures()] == ["dh0"]
    assert "dh0 is the gradient that step 0 received" in dh0.text()
    column = bugzoo.report(bugzoo.get("mask-not-a-column"))
    assert column.status == "error" and "not in the masking" not in column.text()
    assert "mask[t][:, None]" in column.text("formula") and "mask[t][:, None]" not in column.text("none")
    assert all(level in HINT_LEVELS for level in ("none", "location", "formula"))


ISSUE_18 = ["dh-in-place", "arithmetic-restore", "gate-in-place", "dx-reversed", "step-0-skipped",
            "carry-doubled-from-the-end"]


def test_the_six_mistakes_the_checker_missed_or_misdiagnosed_are_in_the_catalogue():
    assert set(ISSUE_18) <= set(KEYS)


def test_the_misdiagnoses_are_gone():
    """In-place gating was blamed on the backward; reversed dx on the carry; a skipped step 0 was never said; a carry
    doubled at T-2 was put at step 1 -> 0."""
    gate = bugzoo.report(bugzoo.get("gate-in-place"))
    assert gate.id == "gate.forward" and "dz_a" not in gate.text()
    namespace = bugzoo.apply(bugzoo.get("gate-in-place"))
    assert "writes into its argument x_t" in bugzoo.report(bugzoo.get("gate-in-place")).text()
    _, (backward,) = find_part("gate.backward")
    assert "writes into its argument x_t" in backward.grade(namespace).text("formula")
    reversed_dx = bugzoo.report(bugzoo.get("dx-reversed"))
    assert [r.name for r in reversed_dx.failures()] == ["dx"] and "dh_next" not in reversed_dx.text()
    skipped = bugzoo.report(bugzoo.get("step-0-skipped"))
    assert "never reaches step 0" in skipped.text("location") and "T=5" in skipped.text()
    doubled = bugzoo.report(bugzoo.get("carry-doubled-from-the-end")).text("location")
    assert "steps 3 → 2 of this T = 5" in doubled and "step 1 sends back to step 0" not in doubled


def test_the_arithmetic_restore_passes_the_visible_cases_and_fails_a_hidden_one():
    mistake = bugzoo.get("arithmetic-restore")
    _, (part,) = find_part(mistake.part)
    namespace = bugzoo.apply(mistake)
    assert part.grade(namespace).passed                           # what check() shows the student
    hidden = bugzoo.report(mistake)
    assert not hidden.passed and "scale=" in hidden.case
    assert part.grade(bugzoo.apply(assignment="assignment1"), part.hidden_cases(
        __import__("minieleatt.exercises.grader", fromlist=["x"]).secret_rng(mistake.secret, part.id))).passed
