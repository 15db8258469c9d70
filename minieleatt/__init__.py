"""minieleatt: Element-wise-Attention Gates for RNN, LSTM and GRU, forward and BPTT by hand, on NumPy or CuPy."""

__version__ = "0.1.0"
