"""A part whose submission calls the library's own implementation gets zero, with a message saying why, however
the library is reached; the library's activations (given) and the student's own helpers are fine."""

import textwrap

import pytest

from minieleatt.exercises import bugzoo, check
from minieleatt.exercises.guard import LibraryMonitor, library_references


@pytest.fixture(scope="module")
def a1():
    return bugzoo.apply(assignment="assignment1")


@pytest.fixture(scope="module")
def a2():
    return bugzoo.apply(assignment="assignment2")


def submit(base, source):
    namespace = dict(base)
    exec(compile(textwrap.dedent(source), "<submission>", "exec"), namespace)
    return namespace


# The model solution's gate cache holds (x_t, h_prev, a, W_xa, W_ha, activation): the library's GateCache in
# that order, so a cheating backward can hand it to the library as GC(*cache). The forward stays honest.
BYPASSES = {
    "a module alias": """
        from minieleatt.functional import gate as g
        def gate_step_backward(dx_att, cache):
            return g.gate_step_backward(dx_att, GC(*cache))
    """,
    "the package": """
        import minieleatt as m
        def gate_step_backward(dx_att, cache):
            return m.functional.gate_step_backward(dx_att, GC(*cache))
    """,
    "a name bound at import": """
        from minieleatt.functional import gate_step_backward as library_backward
        def gate_step_backward(dx_att, cache):
            return library_backward(dx_att, GC(*cache))
    """,
    "getattr and importlib": """
        import importlib
        def gate_step_backward(dx_att, cache):
            module = importlib.import_module("minieleatt.func" + "tional.gate")
            return getattr(module, "gate_step_" + "backward")(dx_att, GC(*cache))
    """,
    "a copy of the function object": """
        import types
        from minieleatt.functional import gate as g
        COPY = types.FunctionType(g.gate_step_backward.__code__, g.gate_step_backward.__globals__)
        def gate_step_backward(dx_att, cache):
            return COPY(dx_att, GC(*cache))
    """,
    "a reloaded module": """
        import importlib, sys
        def gate_step_backward(dx_att, cache):
            fresh = importlib.reload(sys.modules["minieleatt.functional.gate"])
            return fresh.gate_step_backward(dx_att, fresh.GateCache(*cache))
    """,
    "a helper of the student's that calls the library": """
        from minieleatt.functional import gate_step_backward as library_backward
        def helper(*args):
            return library_backward(*args)
        def gate_step_backward(dx_att, cache):
            return helper(dx_att, GC(*cache))
    """,
    "the library's central differences as a backward": """
        from minieleatt.gradcheck import numerical_vjp as lib_vjp
        def gate_step_backward(dx_att, cache):
            x_t, h_prev, a, W_xa, W_ha, activation = cache
            b_a = np.log(a / (1 - a)) - x_t @ W_xa - h_prev @ W_ha       # z_a recovered from a
            inputs = {"x_t": x_t.copy(), "h_prev": h_prev.copy(), "W_xa": W_xa.copy(), "W_ha": W_ha.copy(),
                      "b_a": b_a.mean(axis=0)}
            f = lambda inp: gate_step_forward(inp["x_t"], inp["h_prev"], inp, activation)[0]
            g = {k: lib_vjp(f, inputs, k, dx_att) for k in inputs}
            return g["x_t"], g["h_prev"], {k: g[k] for k in ("W_xa", "W_ha", "b_a")}
    """,
    "the checker's own reference": """
        from minieleatt.exercises.problems import gate as problem
        def gate_step_backward(dx_att, cache):
            x_t, h_prev, a, W_xa, W_ha, activation = cache
            b_a = (np.log(a / (1 - a)) - x_t @ W_xa - h_prev @ W_ha).mean(axis=0)
            inputs = {"x_t": x_t, "h_prev": h_prev, "W_xa": W_xa, "W_ha": W_ha, "b_a": b_a}
            g = problem.SIGMOID.reference_backward(inputs, (dx_att,))
            return g["dx_t"], g["dh_prev"], {k: g["d" + k] for k in ("W_xa", "W_ha", "b_a")}
    """,
}

# what the check of the code's names alone sees (the rest only the monitor sees, while the code runs)
STATIC_SEES = {"a module alias", "the package", "a name bound at import", "a copy of the function object",
               "a helper of the student's that calls the library", "the library's central differences as a backward",
               "the checker's own reference"}


def cheat(a1, how):
    from minieleatt.functional import GateCache
    return submit(dict(a1, GC=GateCache), BYPASSES[how])


@pytest.mark.parametrize("how", list(BYPASSES))
def test_calling_the_library_gets_zero_however_it_is_reached(how, a1):
    report = check("gate.backward", cheat(a1, how))
    assert report.status == "library" and report.score == 0, report.text()
    text = report.text("none")
    assert "library's own" in text and "no points" in text, text


@pytest.mark.parametrize("how", list(BYPASSES))
def test_the_monitor_alone_catches_every_way(how, a1, monkeypatch):
    from minieleatt.exercises.parts import Student
    monkeypatch.setattr(Student, "check_code", lambda self, names: None)
    report = check("gate.backward", cheat(a1, how))
    assert report.status == "library", report.text()
    assert "it calls the library's own implementation" in report.text()


@pytest.mark.parametrize("how", list(BYPASSES))
def test_the_check_of_the_names_alone_sees_the_visible_ways(how, a1, monkeypatch):
    monkeypatch.setattr(LibraryMonitor, "clean", property(lambda self: True))
    report = check("gate.backward", cheat(a1, how))
    assert (report.status == "library") == (how in STATIC_SEES), report.text()


def test_a_name_bound_to_the_library_function_itself_is_refused(a1):
    namespace = submit(a1, "from minieleatt.functional import gate_step_backward\n")
    report = check("gate.backward", namespace)
    assert report.status == "library" and "imported rather than written" in report.text()


def test_a_library_call_on_a_path_the_checks_do_not_take_is_still_found(a1):
    namespace = submit(a1, """
        from minieleatt import functional as F
        SOLUTION = gate_step_backward
        def gate_step_backward(dx_att, cache):
            if dx_att.shape[0] == 12345:                 # never true in the checks
                return F.gate_step_backward(dx_att, cache)
            return SOLUTION(dx_att, cache)
    """)
    report = check("gate.backward", namespace)
    assert report.status == "library" and "functional/gate.py: gate_step_backward" in report.text()


def test_switching_the_monitor_off_is_reported(a1):
    namespace = submit(a1, """
        import sys
        SOLUTION = gate_step_backward
        def gate_step_backward(dx_att, cache):
            sys.setprofile(None)
            return SOLUTION(dx_att, cache)
    """)
    report = check("gate.backward", namespace)
    assert report.status == "library" and "switched off the grader's call monitor" in report.text()


def test_the_sequence_may_not_use_the_librarys_loop_or_layers(a1):
    scan = submit(a1, """
        from minieleatt.functional.scan import scan_forward, scan_backward
        def rnn_forward(x, params, h0, attention="sigmoid"):
            return scan_forward(lambda x_t, h: rnn_step_forward(x_t, h, params, attention), x, h0)
    """)
    assert check("rnn_sequence.forward", scan).status == "library"
    layer = submit(a1, """
        from minieleatt import EleAttRNN
        def rnn_forward(x, params, h0, attention="sigmoid"):
            layer = EleAttRNN(x.shape[2], h0.shape[1], attention=attention, dtype="float64", impl="reference")
            layer.params = params
            return layer.forward(x, state=h0)
    """)
    report = check("rnn_sequence.forward", layer)
    assert report.status == "library" and "EleAttRNN" in report.text()


def test_what_an_assignment_hands_out_may_be_called_and_nothing_else(a2):
    assert check("lstm_step.backward", a2).passed          # the model solution calls the given library gate
    cheat = submit(a2, """
        from minieleatt.functional import lstm_step_forward, lstm_step_backward
    """)
    assert check("lstm_step.backward", cheat).status == "library"


def test_the_activations_and_the_students_own_helpers_are_fine(a1):
    namespace = submit(a1, """
        from minieleatt.functional.activations import sigmoid as library_sigmoid
        def my_sigmoid(z):
            return library_sigmoid(z)
        def gate_step_forward(x_t, h_prev, params, activation="sigmoid"):
            z_a = x_t @ params["W_xa"] + h_prev @ params["W_ha"] + params["b_a"]
            a = my_sigmoid(z_a) if activation == "sigmoid" else softmax(z_a, axis=-1)
            return a * x_t, (x_t, h_prev, a, params["W_xa"], params["W_ha"], activation)
    """)
    assert check("gate.forward", namespace).passed
    assert library_references(namespace["gate_step_forward"]) == []


def test_the_monitor_sees_a_call_only_while_it_runs():
    from minieleatt.functional import softmax, sigmoid
    from minieleatt.functional.activations import softmax_backward
    import numpy as np
    z = np.zeros((2, 3))
    softmax_backward(z, z)                         # outside: not seen
    with LibraryMonitor() as monitor:
        sigmoid(z)
        softmax(z)
    assert monitor.clean
    with LibraryMonitor() as monitor:
        softmax_backward(z, z)
    assert monitor.calls == ["minieleatt/functional/activations.py: softmax_backward"]
