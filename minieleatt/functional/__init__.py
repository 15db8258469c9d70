"""The functional core: the reference implementation of the cells, written to be read.

One file per cell (``rnn.py``, ``lstm.py``, ``gru.py``), each with its step forward and
step backward (every product, every element-wise line, every weight gradient) and its
sequence functions; the attention gate's step pair in ``gate.py``, which all three cells
call; the one time loop in ``scan.py`` (masks, state carry, summing the steps' gradients).
The argument checks are in ``checks.py``, the activations in ``activations.py``.

Every function takes its array module from its arguments: NumPy arrays in, NumPy out;
CuPy in, CuPy out. Implementations organised for speed live in ``minieleatt.fast`` (which
this package never imports); ``minieleatt.implementations`` chooses between them.
"""

from .activations import log_softmax, sigmoid, softmax, tanh
from .checks import ACTIVATIONS, GATE_COUNT, param_shapes, resolve_attention
from .gate import GateCache, gate_step_backward, gate_step_forward
from .gru import GRUStepCache, gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .lstm import LSTMStepCache, lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .rnn import RNNStepCache, rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from .scan import SequenceCache, scan_backward, scan_forward

CELLS = ("rnn", "lstm", "gru")

__all__ = [
    "CELLS", "GATE_COUNT", "ACTIVATIONS", "param_shapes", "resolve_attention",
    "sigmoid", "tanh", "softmax", "log_softmax",
    "gate_step_forward", "gate_step_backward", "GateCache",
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward", "RNNStepCache",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward", "LSTMStepCache",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward", "GRUStepCache",
    "scan_forward", "scan_backward", "SequenceCache",
]
