"""minieleatt: Element-wise-Attention Gates for RNN, LSTM and GRU, forward and BPTT by hand, on NumPy or CuPy."""

from .backend import get_array_module, gpu_available, to_device, to_host
from .errors import CheckpointError, DataFormatError, DeviceError, MinieleattError
from .gradcheck import check_gradients
from .interop import from_torch, to_torch
from .layers import EleAttGRU, EleAttLSTM, EleAttRNN
from .model import EleAttClassifier, RunModel, load_run
from .nn import EleAttNet

__version__ = "0.1.0"

__all__ = [
    "EleAttRNN", "EleAttLSTM", "EleAttGRU", "EleAttNet",
    "load_run", "RunModel", "EleAttClassifier",
    "get_array_module", "gpu_available", "to_device", "to_host",
    "check_gradients",
    "to_torch", "from_torch",
    "MinieleattError", "DataFormatError", "DeviceError", "CheckpointError",
]
