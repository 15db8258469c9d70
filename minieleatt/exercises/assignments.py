"""The assignments: which problems each holds, in which order, worth how much, and its notebook.

    assignment 1  the gate and the RNN       numerical_vjp, gate, softmax_gate, rnn_step, rnn_sequence
    assignment 2  the LSTM and the GRU       lstm_step, lstm_sequence, gru_step, gru_reset_after
    assignment 3  sequences and training     masked_rnn, readout_loss, overfit

Each assignment's notebook is written once, with its model solutions, in the repository's
``course/source/<name>.py`` (not in the installed package)
(``handout.py`` builds the student and the teacher notebooks from it). What an assignment hands
out from the library (``given``) may be called in it; anything else of the library's may not.
"""

from typing import NamedTuple

from .problems.gate import gate_problem, softmax_gate_problem
from .problems.gru import gru_reset_after_problem, gru_step_problem
from .problems.lstm import lstm_sequence_problem, lstm_step_problem
from .problems.masked import GIVEN as RNN_STEP_GIVEN
from .problems.masked import masked_rnn_problem
from .problems.numerical import numerical_vjp_problem
from .problems.overfit import overfit_problem
from .problems.readout import readout_loss_problem
from .problems.rnn import rnn_sequence_problem, rnn_step_problem

GATE_GIVEN = frozenset({("functional/gate.py", "gate_step_forward"), ("functional/gate.py", "gate_step_backward")})


class Assignment(NamedTuple):
    key: str             # 'assignment1'
    number: int
    title: str
    problems: list
    source: str          # the file in course/source/ that its notebooks are built from

    def problem(self, key):
        for p in self.problems:
            if p.key == key:
                return p
        raise KeyError(key)

    @property
    def functions(self):
        return tuple(dict.fromkeys(f for p in self.problems for f in p.functions))

    @property
    def max_score(self):
        return sum(part.points for p in self.problems for part in p.parts)


def _assignment(key, number, title, problems, source, given=frozenset()):
    for k, p in enumerate(problems, start=1):
        p.number = k
        p.given = frozenset(p.given | given)
    return Assignment(key, number, title, problems, source)


def _build():
    return {
        "assignment1": _assignment("assignment1", 1, "Assignment 1 · The gate and the RNN, forward and backward",
                                   [numerical_vjp_problem(), gate_problem(), softmax_gate_problem(),
                                    rnn_step_problem(), rnn_sequence_problem()], "assignment1_gate_and_rnn.py"),
        "assignment2": _assignment("assignment2", 2, "Assignment 2 · The LSTM and the GRU",
                                   [lstm_step_problem(), lstm_sequence_problem(), gru_step_problem(),
                                    gru_reset_after_problem()], "assignment2_lstm_and_gru.py", GATE_GIVEN),
        "assignment3": _assignment("assignment3", 3, "Assignment 3 · Masks, chunks, the loss and a training run",
                                   [masked_rnn_problem(), readout_loss_problem(), overfit_problem()],
                                   "assignment3_sequences_and_training.py", RNN_STEP_GIVEN),
    }


ASSIGNMENTS = _build()


def find_part(target):
    """'gate.backward' -> [the part]; 'gate' -> the problem's parts; raises ValueError for an unknown name."""
    key, _, part = target.partition(".")
    for a in ASSIGNMENTS.values():
        for p in a.problems:
            if p.key == key:
                if not part:
                    return a, p.parts
                try:
                    return a, [p.part(part)]
                except KeyError as exc:
                    raise ValueError(str(exc).strip("'\"")) from None
    known = [p.key for a in ASSIGNMENTS.values() for p in a.problems]
    raise ValueError(f"unknown problem {key!r}; the problems are {known}")


def detect(namespace_or_names):
    """The assignment whose functions a submission defines most of (ties: the first)."""
    names = set(namespace_or_names)
    scores = [(sum(f in names for f in a.functions) / len(a.functions), -a.number, a.key)
              for a in ASSIGNMENTS.values()]
    best = max(scores)
    if best[0] == 0:
        raise ValueError("the submission defines none of the assignments' functions "
                         f"({', '.join(ASSIGNMENTS['assignment1'].functions[:3])}, ...)")
    return ASSIGNMENTS[best[2]]
