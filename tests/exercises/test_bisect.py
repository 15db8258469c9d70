"""The time bisector: for a sequence that is wrong while the step is right, the first length that goes wrong and
the carried term at fault."""

import textwrap

import pytest

from minieleatt.exercises import bugzoo, check


@pytest.fixture
def a1():
    return "assignment1"


def submit(assignment, source):
    """The model solutions with ``source`` run after them, in one namespace (as in a notebook: functions defined
    earlier call the ones redefined later)."""
    namespace = bugzoo.apply(assignment=assignment)
    exec(compile(textwrap.dedent(source), "<submission>", "exec"), namespace)
    return namespace


def where(report):
    return "\n".join(line for line in report.text("location").splitlines() if "where:" in line)


def test_a_step_inlined_in_the_loop_without_the_gates_share(a1):
    namespace = submit(a1, """
        def rnn_backward(dhs, cache):
            T = dhs.shape[0]
            dxs, grads, dh_next = [None] * T, None, np.zeros_like(dhs[0])
            for t in reversed(range(T)):
                x_att, h_prev, h, gate, p = cache[t]
                dpre = (dhs[t] + dh_next) * (1 - h * h)
                dxs[t], dh_gate, g = gate_step_backward(dpre @ p["W_x"].T, gate)
                dh_next = dpre @ p["W_h"].T                  # the gate's share dh_gate is not added
                g.update(W_x=x_att.T @ dpre, W_h=h_prev.T @ dpre, b=dpre.sum(0))
                grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
            return np.stack(dxs), dh_next, grads
    """)
    text = where(check("rnn_sequence.backward", namespace))
    assert "already a sequence of one step is wrong (dh0)" in text
    assert "your dh0 misses the gate's share of dh_prev" in text


def test_a_right_loop_on_a_wrong_step_gets_its_points_on_the_librarys_step(a1):
    """Partial credit without a cascade: the sequence part is graded again with the library's step in place of the
    student's, and the report says so."""
    namespace = submit(a1, """
        SOLUTION = rnn_step_backward
        def rnn_step_backward(dh, cache):
            dx_t, dh_prev, grads = SOLUTION(dh, cache)
            return dx_t, 0.5 * dh_prev, grads
    """)
    r = check("rnn_sequence.backward", namespace)
    assert r.passed and r.substituted and r.score == 4
    assert "right when run on the library's rnn step in place of yours" in r.text()
    assert "[rnn_step]" in r.text() and "On your own step: wrong: dx, dh0" in r.text()
    assert not check("rnn_step.backward", namespace).passed
    assert namespace["rnn_step_backward"].__name__ == "rnn_step_backward" and "SOLUTION" in namespace


def test_the_step_is_checked_before_the_loop(a1):
    namespace = submit(a1, """
        SOLUTION = rnn_step_backward
        def rnn_step_backward(dh, cache):
            dx_t, dh_prev, grads = SOLUTION(dh, cache)
            return dx_t, 0.5 * dh_prev, grads

        def rnn_backward(dhs, cache):                   # and the loop forgets to carry dh_next
            T = dhs.shape[0]
            dxs, grads = [None] * T, None
            for t in reversed(range(T)):
                dxs[t], dh0, g = rnn_step_backward(dhs[t], cache[t])
                grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
            return np.stack(dxs), dh0, grads
    """)
    r = check("rnn_sequence.backward", namespace)
    assert not r.passed and not r.substituted
    text = where(r)
    assert "your step (rnn_step_forward / rnn_step_backward) is not right" in text
    assert "from length" not in text


def test_a_carry_passed_on_unchanged(a1):
    namespace = submit(a1, """
        def rnn_backward(dhs, cache):
            T = dhs.shape[0]
            dxs, grads, dh_next = [None] * T, None, np.zeros_like(dhs[0])
            for t in reversed(range(T)):
                dh = dhs[t] + dh_next
                dxs[t], dh_prev, g = rnn_step_backward(dh, cache[t])
                dh_next = dh if t > 0 else dh_prev              # passes dh on, except at the first step
                grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
            return np.stack(dxs), dh_next, grads
    """)
    text = where(check("rnn_sequence.backward", namespace))
    assert "a sequence of one step is right; from length 2 on" in text
    assert "dh_next is the dh that step 1 received, passed on unchanged" in text


def test_weights_averaged_over_the_steps(a1):
    namespace = submit(a1, """
        SOLUTION = rnn_backward
        def rnn_backward(dhs, cache):
            dx, dh0, grads = SOLUTION(dhs, cache)
            return dx, dh0, {k: v / len(cache) for k, v in grads.items()}
    """)
    text = where(check("rnn_sequence.backward", namespace))
    assert "only the weights' gradients" in text and "averaged over the steps, not summed" in text


def test_the_lstm_names_dc_next_and_says_dh_next_is_right():
    text = where(bugzoo.report(bugzoo.get("dc-not-carried")))
    assert "dc_next is not carried at all" in text and "dh_next is right" in text
