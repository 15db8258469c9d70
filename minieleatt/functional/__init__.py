"""The functional core: pure forward and backward functions of the cells.

One file per cell (``rnn.py``, ``lstm.py``, ``gru.py``); the attention gate in
``attention.py``; what the sequences share (checks, masks, the gated input and
its fused products) in ``sequence.py``. Every function takes its array module
from its arguments: NumPy arrays in, NumPy out; CuPy in, CuPy out.
"""

from .activations import log_softmax, sigmoid, softmax, tanh
from .attention import (attention_gate_backward, attention_gate_forward, gate_backward, gate_forward,
                        resolve_attention)
from .gru import GRUCache, gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .lstm import LSTMCache, lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .rnn import RNNCache, rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from .sequence import GATE_COUNT, param_shapes

CELLS = ("rnn", "lstm", "gru")

__all__ = [
    "CELLS", "GATE_COUNT", "param_shapes", "resolve_attention",
    "sigmoid", "tanh", "softmax", "log_softmax",
    "gate_forward", "gate_backward", "attention_gate_forward", "attention_gate_backward",
    "rnn_forward", "rnn_backward", "rnn_step_forward", "rnn_step_backward", "RNNCache",
    "lstm_forward", "lstm_backward", "lstm_step_forward", "lstm_step_backward", "LSTMCache",
    "gru_forward", "gru_backward", "gru_step_forward", "gru_step_backward", "GRUCache",
]
