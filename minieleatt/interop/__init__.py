"""The bridge to PyTorch: weights both ways, and torch modules that compute our equations.

    from minieleatt import EleAttGRU
    from minieleatt.interop import to_torch, from_torch

    layer = EleAttGRU(75, 100, attention=True)        # the paper's EleAtt-GRU (reset before)
    module = to_torch(layer)                          # an EleAttGRUTorch: same names, same equations
    back = from_torch(module)                         # an EleAttGRU again, bit for bit
    layers = from_torch(torch.nn.GRU(75, 100, num_layers=2))   # two plain reset-after EleAttGRU

torch stays optional (``pip install torch --index-url https://download.pytorch.org/whl/cpu`` for the CPU
build): this package imports it only when a function is called or a module class is asked for, so
``import minieleatt`` and ``import minieleatt.interop`` never import torch.

The gate-order trap, made impossible here: our blocks are in PyTorch's order
(LSTM ``i f g o``, GRU ``r z n``), and PyTorch's GRU resets *after* the product
(``r ⊙ (h W_hn + b_hn)``, our ``reset_after=True``); the EleAtt paper (Cho et
al.'s GRU) resets *before* it (``(r ⊙ h) W_hn``), and Deep Learning from
Scratch 2 orders its GRU blocks ``z r h``. A torch ``nn.GRU`` therefore comes in
as a ``reset_after=True`` GRU, and a reset-before GRU goes out as an
``EleAttGRUTorch``, never as an ``nn.GRU``.
"""

from ..errors import ConversionError
from .convert import from_torch, gradients_from_torch, to_torch

_MODULE_CLASSES = ("EleAttRNNTorch", "EleAttLSTMTorch", "EleAttGRUTorch", "MaskedRecurrent", "EleAttNetTorch")

__all__ = ["to_torch", "from_torch", "gradients_from_torch", "ConversionError", *_MODULE_CLASSES]


def __getattr__(name):
    """The torch module classes, loaded (and torch imported) on first use."""
    if name in _MODULE_CLASSES:
        from . import modules
        return getattr(modules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
