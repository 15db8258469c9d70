"""Weights both ways between minieleatt and PyTorch: ``to_torch``, ``from_torch``, ``gradients_from_torch``.

torch is imported inside the functions, never at the import of this file.

The weight map (our row vectors ``x @ W_x`` against torch's ``W_ih @ x``)::

    W_x = weight_ih.T        W_h = weight_hh.T
    RNN, LSTM:  b = bias_ih + bias_hh
    GRU:        b = bias_ih + [bias_hh[:2H], 0]      b_hn = bias_hh[2H:]      (reset_after=True)

Gate blocks are in PyTorch's order on both sides (LSTM ``i f g o``, GRU
``r z n``), so no block is moved. Going to torch, ``bias_ih`` receives ``b``
and ``bias_hh`` zeros (the GRU: ``[0, 0, b_hn]``), which makes the round trip
ours -> torch -> ours exact to the bit. The other way, torch's two bias vectors
are summed, so a torch -> ours -> torch round trip computes the same function
with ``bias_hh`` moved into ``bias_ih`` (and equal bits only where the sum is exact).
"""

from collections.abc import Mapping

import numpy as np

from ..backend import check_device, resolve_dtype, to_device, to_host
from ..errors import ConversionError
from ..layers import LAYERS, EleAttGRU, EleAttLSTM, EleAttRNN
from ..nn import EleAttNet

_TORCH_HELP = ("minieleatt.interop needs PyTorch: pip install torch --index-url https://download.pytorch.org/whl/cpu "
               "(the CPU build; a plain pip install torch brings a CUDA build of several GB on Linux)")


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError(_TORCH_HELP) from exc
    return torch


def _modules():
    _torch()
    from . import modules
    return modules


def _torch_dtype(dtype):
    torch = _torch()
    return {np.dtype("float32"): torch.float32, np.dtype("float64"): torch.float64}[resolve_dtype(dtype)]


def _numpy_dtype(tensor_dtype, what):
    torch = _torch()
    known = {torch.float32: np.dtype("float32"), torch.float64: np.dtype("float64")}
    if tensor_dtype not in known:
        raise ConversionError(f"{what} has parameters of {tensor_dtype}; minieleatt computes in float32 or "
                              f"float64: pass dtype='float32' or dtype='float64' to convert them")
    return known[tensor_dtype]


def _array(tensor, dtype):
    """A torch tensor as a NumPy array of ``dtype`` (on the host)."""
    torch = _torch()
    return tensor.detach().to(device="cpu", dtype=_torch_dtype(dtype)).numpy().copy()


def _uninitialised(module_cls, *args, **kwargs):
    """A module built without drawing its initial weights (they are overwritten at once; torch's
    random generator is left untouched)."""
    return module_cls(*args, device="meta", **kwargs).to_empty(device="cpu")


def _tensor(array, like):
    """A NumPy array as a tensor of the dtype and device of ``like``."""
    torch = _torch()
    return torch.from_numpy(np.ascontiguousarray(array)).to(device=like.device, dtype=like.dtype)


# ----------------------------------------------------------------------------- ours -> torch

def to_torch(obj):
    """A PyTorch module that computes what ``obj`` computes, with its weights (copied).

    obj: an ``EleAttRNN``, ``EleAttLSTM`` or ``EleAttGRU`` layer, or an ``EleAttNet``.

    - A plain layer (``attention=False``) with an exact torch equivalent becomes that
      module, one layer, time-major: ``torch.nn.RNN`` (tanh), ``torch.nn.LSTM``, or
      ``torch.nn.GRU`` for a ``reset_after=True`` GRU. These know no mask: wrap them in
      ``MaskedRecurrent`` to feed them padded batches with a mask.
    - A layer with the gate, and the reset-before GRU, become ``EleAttRNNTorch``,
      ``EleAttLSTMTorch`` or ``EleAttGRUTorch``: our parameter names and shapes, our
      calling convention ``forward(x, state=None, mask=None) -> (hs, final_state)``.
    - A network becomes an ``EleAttNetTorch`` (its plain layers wrapped in
      ``MaskedRecurrent``); call ``.eval()`` on it for inference (dropout off).

    The module has the layer's dtype (float32 or float64) and lives on the CPU (a
    layer on the GPU is copied to the host first); move it with ``.to(device)``.
    """
    if isinstance(obj, EleAttNet):
        return _network_to_torch(obj)
    if isinstance(obj, (EleAttRNN, EleAttLSTM, EleAttGRU)):
        return _layer_to_torch(obj)
    raise TypeError(f"to_torch: obj must be an EleAttRNN, EleAttLSTM, EleAttGRU or EleAttNet, got {type(obj).__name__}")


def _layer_to_torch(layer):
    torch, m = _torch(), _modules()
    cell, reset_after = layer.cell, getattr(layer, "reset_after", False)
    dtype = _torch_dtype(layer.dtype)
    if m.has_native_equivalent(cell, layer.attention, reset_after):
        module = _uninitialised(m.NATIVE[cell], layer.input_size, layer.hidden_size, dtype=dtype)
    else:
        kwargs = {"reset_after": reset_after} if cell == "gru" else {}
        module = _uninitialised(m.TORCH_LAYERS[cell], layer.input_size, layer.hidden_size,
                                          attention=layer.attention, dtype=dtype, **kwargs)
    _load_layer(module, to_host(layer.params))
    return module


def _load_layer(module, params):
    """Copy our parameter dict (NumPy) into a torch layer module (ours, a torch.nn.X, or a MaskedRecurrent)."""
    torch, m = _torch(), _modules()
    if isinstance(module, m.MaskedRecurrent):
        module = module.rnn
    with torch.no_grad():
        if not isinstance(module, torch.nn.RNNBase):
            for name, p in module.named_parameters(recurse=False):
                p.copy_(_tensor(params[name], p))
            return
        H = module.hidden_size
        b_hh = np.zeros_like(params["b"])
        if module.mode == "GRU":
            b_hh[2 * H:] = params["b_hn"]
        module.weight_ih_l0.copy_(_tensor(params["W_x"].T, module.weight_ih_l0))
        module.weight_hh_l0.copy_(_tensor(params["W_h"].T, module.weight_hh_l0))
        module.bias_ih_l0.copy_(_tensor(params["b"], module.bias_ih_l0))
        module.bias_hh_l0.copy_(_tensor(b_hh, module.bias_hh_l0))


def _network_to_torch(net):
    torch, m = _torch(), _modules()
    arch = net.architecture()
    module = _uninitialised(
        m.EleAttNetTorch, arch["input_size"], arch["num_classes"], cell=arch["cell"], hidden_size=arch["hidden_size"],
        num_layers=arch["num_layers"], attention_layers=arch["attention_layers"], attention=arch["attention"],
        dropout=net.dropout, readout=arch["readout"], reset_after=arch["reset_after"],
        dtype=_torch_dtype(net.dtype))
    for layer, torch_layer in zip(net.layers, module.layers):
        _load_layer(torch_layer, to_host(layer.params))
    fc = to_host(net.fc)
    with torch.no_grad():
        module.fc.weight.copy_(_tensor(fc["W"].T, module.fc.weight))
        module.fc.bias.copy_(_tensor(fc["b"], module.fc.bias))
    return module


# ----------------------------------------------------------------------------- torch -> ours

def from_torch(obj, cell=None, dtype=None, device="cpu", prefix=""):
    """Our layer(s) or network with the weights of a PyTorch module or state dict.

    obj:
      - ``torch.nn.RNN`` (tanh), ``torch.nn.LSTM``, ``torch.nn.GRU`` (every layer): plain
        layers, the GRU as ``reset_after=True`` (PyTorch's form), with the biases summed
        as the module docstring shows; ``bias=False`` gives zero biases. ``batch_first``
        is converted (the weights do not depend on it; our layers take time-major input).
        Dropout between layers is a training setting, not a weight: it is not carried over.
      - ``MaskedRecurrent``: its wrapped module.
      - ``EleAttRNNTorch``/``EleAttLSTMTorch``/``EleAttGRUTorch`` and ``EleAttNetTorch``
        (what ``to_torch`` makes): the layer or the network back, bit for bit.
      - a state dict of any of these (``module.state_dict()``, or ``torch.load`` of a saved
        one); ``prefix`` selects and strips a prefix of its keys (e.g. ``"encoder.rnn."``).
        The cell of a torch.nn state dict is read from its shapes, except that a
        one-gate state dict (``nn.RNN``) does not record its nonlinearity: pass ``cell='rnn'``
        to say it is tanh.
    cell: only for state dicts of ``torch.nn`` modules, as above (checked against the shapes).
    dtype: None keeps the module's float32 or float64; 'float32' or 'float64' converts.
    device: 'cpu' or 'gpu' for the returned layers (a CUDA module is copied to the host first).

    Returns one layer for a one-layer module, a list of layers (bottom first) for a
    multi-layer ``torch.nn`` module, and an ``EleAttNet`` for an ``EleAttNetTorch``.

    Refused, with a ``ConversionError`` naming the feature: ``bidirectional=True``,
    ``proj_size > 0`` (LSTM projections), ``nonlinearity='relu'``, half-precision
    parameters without a ``dtype``.
    """
    torch, m = _torch(), _modules()
    device = check_device(device)
    if dtype is not None:
        dtype = resolve_dtype(dtype)
    if isinstance(obj, Mapping):
        obj = _module_from_state_dict(obj, cell, prefix)
    elif cell is not None:
        raise ValueError("cell is for state dicts only: a module knows its cell")
    if isinstance(obj, m.EleAttNetTorch):
        return _network_from_torch(obj, dtype, device)
    if isinstance(obj, m._EleAttTorchLayer):
        dt = dtype or _numpy_dtype(obj.W_x.dtype, type(obj).__name__)
        params = {name: _array(p, dt) for name, p in obj.named_parameters(recurse=False)}
        return _make_layer(obj.cell, obj.input_size, obj.hidden_size, obj.attention, obj.reset_after, dt, device,
                           params)
    if isinstance(obj, m.MaskedRecurrent):
        obj = obj.rnn
    if isinstance(obj, torch.nn.RNNBase):
        layers = [_make_layer(cell_, D, H, None, True, dt, device, params)
                  for cell_, D, H, dt, params in _native_layers(obj, dtype)]
        return layers[0] if len(layers) == 1 else layers
    raise TypeError(f"from_torch: obj must be a torch.nn.RNN, LSTM or GRU, a minieleatt torch module or a state "
                    f"dict, got {type(obj).__name__}")


def _check_native(module):
    """Refuse what has no equivalent here, naming the feature. Returns our cell name."""
    name = type(module).__name__
    if module.bidirectional:
        raise ConversionError(f"{name}: bidirectional=True has no equivalent here (minieleatt's layers read "
                              f"the sequence forward in time only); convert a unidirectional module")
    if getattr(module, "proj_size", 0):
        raise ConversionError(f"{name}: proj_size={module.proj_size} (an LSTM with projections, "
                              f"h_t = W_hr (o ⊙ tanh c_t)) has no equivalent here")
    if module.mode == "RNN_RELU":
        raise ConversionError(f"{name}: nonlinearity='relu' has no equivalent here (minieleatt's RNN is tanh)")
    cells = {"RNN_TANH": "rnn", "LSTM": "lstm", "GRU": "gru"}
    if module.mode not in cells:
        raise ConversionError(f"{name}: mode {module.mode!r} has no equivalent here")
    return cells[module.mode]


def _native_layers(module, dtype):
    """(cell, D, H, dtype, params) of every layer of a torch.nn.RNN/LSTM/GRU."""
    cell = _check_native(module)
    dt = dtype or _numpy_dtype(module.weight_hh_l0.dtype, type(module).__name__)
    H = module.hidden_size
    out = []
    for k in range(module.num_layers):
        W_ih = _array(getattr(module, f"weight_ih_l{k}"), dt)
        W_hh = _array(getattr(module, f"weight_hh_l{k}"), dt)
        if module.bias:
            b_ih = _array(getattr(module, f"bias_ih_l{k}"), dt)
            b_hh = _array(getattr(module, f"bias_hh_l{k}"), dt)
        else:
            b_ih = b_hh = np.zeros(W_hh.shape[0], dtype=dt)
        params = {"W_x": W_ih.T.copy(), "W_h": W_hh.T.copy()}
        if cell == "gru":
            params["b"] = b_ih + np.concatenate([b_hh[: 2 * H], np.zeros(H, dtype=dt)])
            params["b_hn"] = b_hh[2 * H:].copy()
        else:
            params["b"] = b_ih + b_hh
        out.append((cell, W_ih.shape[1], H, dt, params))
    return out


def _make_layer(cell, input_size, hidden_size, attention, reset_after, dtype, device, params):
    kwargs = {"reset_after": reset_after} if cell == "gru" else {}
    layer = LAYERS[cell](input_size, hidden_size, attention=attention, dtype=dtype, **kwargs)
    shapes = layer.param_shapes()
    if set(params) != set(shapes) or any(params[k].shape != s for k, s in shapes.items()):
        got = {k: v.shape for k, v in params.items()}
        raise ConversionError(f"parameters {got} do not fit {layer!r}, which needs {shapes}")
    layer.params = to_device({k: params[k].astype(dtype, copy=False) for k in shapes}, device)
    return layer


def _network_from_torch(module, dtype, device):
    arch = module.architecture
    dt = dtype or _numpy_dtype(module.fc.weight.dtype, "EleAttNetTorch")
    net = EleAttNet(arch["input_size"], arch["num_classes"], cell=arch["cell"], hidden_size=arch["hidden_size"],
                    num_layers=arch["num_layers"], attention_layers=arch["attention_layers"],
                    attention=arch["attention"], dropout=module.dropout.p, readout=arch["readout"],
                    reset_after=arch["reset_after"], dtype=dt, device=device)
    for ours, theirs in zip(net.layers, module.layers):
        ours.params = from_torch(theirs, dtype=dt, device=device).params
    net.fc = to_device({"W": _array(module.fc.weight, dt).T.copy(), "b": _array(module.fc.bias, dt)}, device)
    return net


def _module_from_state_dict(state_dict, cell, prefix):
    """Rebuild the torch module that a state dict belongs to, and load it."""
    torch, m = _torch(), _modules()
    sd = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not sd:
        raise ConversionError(f"state dict has no key that starts with prefix {prefix!r}")
    extra = sd.get("_extra_state")
    tensors = [v for v in sd.values() if isinstance(v, torch.Tensor) and v.is_floating_point()]
    dtype = tensors[0].dtype if tensors else torch.float64
    if isinstance(extra, Mapping) and extra.get("kind") in (m.LAYER_KIND, m.NETWORK_KIND):
        if cell is not None and cell != extra["cell"]:
            raise ConversionError(f"cell={cell!r}, but the state dict is of a {extra['cell']!r} module")
        args = {k: v for k, v in extra.items() if k != "kind"}
        if extra["kind"] == m.NETWORK_KIND:
            module = _uninitialised(m.EleAttNetTorch, dtype=dtype, **args)
        else:
            kind = args.pop("cell")
            if kind != "gru":
                args.pop("reset_after")
            module = _uninitialised(m.TORCH_LAYERS[kind], dtype=dtype, **args)
        module.load_state_dict(sd)
        return module
    if "weight_ih_l0" not in sd:
        raise ConversionError("state dict not recognised: expected the keys of a torch.nn.RNN/LSTM/GRU "
                              "(weight_ih_l0, weight_hh_l0, ...) or the state dict of a minieleatt torch module "
                              "(with its _extra_state); pass prefix= if its keys carry one")
    if any(k.endswith("_reverse") for k in sd):
        raise ConversionError("state dict: bidirectional=True (keys ending in _reverse) has no equivalent here "
                              "(minieleatt's layers read the sequence forward in time only)")
    if any(k.startswith("weight_hr_l") for k in sd):
        raise ConversionError("state dict: proj_size > 0 (keys weight_hr_l*, an LSTM with projections) has no "
                              "equivalent here")
    W_hh = sd["weight_hh_l0"]
    H = W_hh.shape[1]
    gates = W_hh.shape[0] // H
    inferred = {1: "rnn", 3: "gru", 4: "lstm"}.get(gates)
    if inferred is None or W_hh.shape[0] != gates * H:
        raise ConversionError(f"state dict: weight_hh_l0 of shape {tuple(W_hh.shape)} is not (G*H, H) with G = 1, 3, 4")
    if cell is not None and cell != inferred:
        raise ConversionError(f"cell={cell!r}, but weight_hh_l0 {tuple(W_hh.shape)} has {gates} gate block(s): "
                              f"a {inferred!r} state dict")
    if inferred == "rnn" and cell is None:
        raise ConversionError("state dict of a torch.nn.RNN: it does not record the nonlinearity; pass "
                              "cell='rnn' if it was tanh (nonlinearity='relu' has no equivalent here)")
    num_layers = sum(1 for k in sd if k.startswith("weight_ih_l"))
    module = _uninitialised(m.NATIVE[inferred], sd["weight_ih_l0"].shape[1], H, num_layers=num_layers,
                                      bias="bias_ih_l0" in sd, dtype=dtype)
    module.load_state_dict(sd)
    return module


# ----------------------------------------------------------------------------- gradients

def gradients_from_torch(module):
    """The gradients that autograd left on ``module``'s parameters, by our names and shapes.

    The structure follows ``from_torch``: a dict for one layer, a list of dicts for a
    multi-layer ``torch.nn`` module, a flat dict by ``EleAttNet.parameters()`` names
    ('layers.0.W_x', ..., 'fc.W', 'fc.b') for an ``EleAttNetTorch``. The map is the
    chain rule through the weight map: ``dW_x = weight_ih.grad.T``, ``db = bias_ih.grad``
    (our ``b`` enters where ``bias_ih`` does), ``db_hn = bias_hh.grad[2H:]``. A module
    without biases (``bias=False``) gives no 'b' or 'b_hn'. Returns float64 NumPy arrays.
    """
    torch, m = _torch(), _modules()

    def grad(p, what):
        if p.grad is None:
            raise ValueError(f"{what} has no gradient: run backward() on a loss of the module's output first")
        return _array(p.grad, "float64")

    if isinstance(module, m.EleAttNetTorch):
        grads = {}
        for i, layer in enumerate(module.layers):
            for k, v in gradients_from_torch(layer).items():
                grads[f"layers.{i}.{k}"] = v
        grads["fc.W"] = grad(module.fc.weight, "fc.weight").T.copy()
        grads["fc.b"] = grad(module.fc.bias, "fc.bias")
        return grads
    if isinstance(module, m._EleAttTorchLayer):
        return {name: grad(p, name) for name, p in module.named_parameters(recurse=False)}
    if isinstance(module, m.MaskedRecurrent):
        module = module.rnn
    if not isinstance(module, torch.nn.RNNBase):
        raise TypeError(f"gradients_from_torch: module must be a torch module of the bridge, got "
                        f"{type(module).__name__}")
    cell = _check_native(module)
    H = module.hidden_size
    layers = []
    for k in range(module.num_layers):
        g = {"W_x": grad(getattr(module, f"weight_ih_l{k}"), f"weight_ih_l{k}").T.copy(),
             "W_h": grad(getattr(module, f"weight_hh_l{k}"), f"weight_hh_l{k}").T.copy()}
        if module.bias:
            g["b"] = grad(getattr(module, f"bias_ih_l{k}"), f"bias_ih_l{k}")
            if cell == "gru":
                g["b_hn"] = grad(getattr(module, f"bias_hh_l{k}"), f"bias_hh_l{k}")[2 * H:]
        layers.append(g)
    return layers[0] if len(layers) == 1 else layers
