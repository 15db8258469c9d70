"""PyTorch modules that compute minieleatt's equations, for the bridge (``to_torch`` / ``from_torch``).

This file imports torch at the top. ``minieleatt.interop`` loads it only when a
conversion or one of these classes is asked for, so ``import minieleatt`` never
imports torch.

- ``EleAttRNNTorch``, ``EleAttLSTMTorch``, ``EleAttGRUTorch``: one layer, with or
  without the element-wise attention gate, either GRU variant, written step by
  step with torch operations so that autograd gives the gradients. Parameters
  carry our names and shapes (row vectors: ``x_t @ W_x``), so their
  ``state_dict`` keys are ``W_xa, W_ha, b_a, W_x, W_h, b, b_hn``. Same calling
  convention as our layers: time-major ``x (T, B, D)``, ``state`` (B, H) or
  ``(h, c)`` for the LSTM (None: zeros), ``mask (T, B)``;
  ``forward(x, state=None, mask=None) -> (hs, final_state)``.
- ``MaskedRecurrent``: wraps a ``torch.nn.RNN/LSTM/GRU`` and gives it our mask
  semantics (padded steps carry the state over) while keeping torch's own
  calling convention: ``forward(input, hx=None, mask=None) -> (output, h_n)``,
  ``hx``/``h_n`` of shape (num_layers, B, H), ``batch_first`` honoured.
- ``EleAttNetTorch``: the classifier network of ``minieleatt.nn.EleAttNet``:
  the layers, dropout after each (identity in ``eval()``), the readout ('mean'
  over the valid steps, 'last', or 'mean+last' side by side) and a ``torch.nn.Linear``.

Masks: where ``mask[t, b] == 0`` the state is carried over unchanged
(``h_t = h_{t-1}``, ``c_t = c_{t-1}``) and the output at that step is the
carried state, so the last output is the state after each sequence's last
valid step. A bare ``torch.nn.GRU`` knows no mask: wrap it in
``MaskedRecurrent`` before feeding it masked (padded) batches.
"""

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..functional.checks import resolve_attention
from ..functional.checks import param_shapes
from ..nn import READOUTS

LAYER_KIND = "minieleatt.layer"
NETWORK_KIND = "minieleatt.network"


def _valid_steps(mask, T, B, device, time_major=True):
    """The mask as a bool tensor (T, B) (True: a valid step), checked."""
    valid = torch.as_tensor(mask, device=device) != 0
    shape = (T, B) if time_major else (B, T)
    if tuple(valid.shape) != shape:
        what = "(T, B)" if time_major else "(B, T) (batch_first)"
        raise ValueError(f"mask must have shape {what} = {shape}, got {tuple(valid.shape)}")
    return valid if time_major else valid.transpose(0, 1)


def _carry(valid_t, new, old):
    """``new`` where the step is valid, else the carried-over ``old`` (tensors or tuples of tensors)."""
    if isinstance(new, tuple):
        return tuple(_carry(valid_t, n, o) for n, o in zip(new, old))
    return torch.where(valid_t, new, old)


# ----------------------------------------------------------------------------- one layer

class _EleAttTorchLayer(nn.Module):
    """What the three torch layers share: parameters by our names, the gate, the time loop, the mask."""

    cell = None

    def __init__(self, input_size, hidden_size, attention="sigmoid", reset_after=False, dtype=torch.float64,
                 device=None):
        super().__init__()
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.attention = resolve_attention(attention)             # None, 'sigmoid' or 'softmax'
        self.reset_after = bool(reset_after) and self.cell == "gru"
        shapes = param_shapes(self.cell, self.input_size, self.hidden_size, self.attention, self.reset_after)
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape, dtype=dtype, device=device)))
        self.reset_parameters()

    def reset_parameters(self):
        """Uniform in ±1/√H, as our layers and PyTorch's recurrent layers start."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def config(self):
        """The settings that fix the parameters' names and shapes (kept in the state dict)."""
        return {"kind": LAYER_KIND, "cell": self.cell, "input_size": self.input_size,
                "hidden_size": self.hidden_size, "attention": self.attention, "reset_after": self.reset_after}

    def get_extra_state(self):
        return self.config()

    def set_extra_state(self, state):
        if state != self.config():
            raise ValueError(f"state dict of another layer: it holds {state}, this module is {self.config()}")

    def extra_repr(self):
        extra = f", reset_after={self.reset_after}" if self.cell == "gru" else ""
        return f"{self.input_size}, {self.hidden_size}, attention={self.attention!r}{extra}"

    def zero_state(self, x):
        return x.new_zeros((x.shape[1], self.hidden_size))

    @staticmethod
    def hidden(state):
        """h of a state (the state itself, except for the LSTM's pair)."""
        return state

    def gate(self, x_t, h_prev):
        """The element-wise attention gate: ``a_t = σ(x_t W_xa + h_{t-1} W_ha + b_a)``, ``x̃_t = a_t ⊙ x_t``.

        Returns ``(x̃_t, a_t)``; without the gate, ``(x_t, None)``.
        """
        if self.attention is None:
            return x_t, None
        z = x_t @ self.W_xa + h_prev @ self.W_ha + self.b_a
        a = torch.sigmoid(z) if self.attention == "sigmoid" else torch.softmax(z, dim=-1)
        return a * x_t, a

    def step(self, x_att, state):
        raise NotImplementedError

    def forward(self, x, state=None, mask=None, return_attention=False):
        """x (T, B, D), state (B, H) or (h, c) or None, mask (T, B) or None -> hs (T, B, H), final state.

        ``return_attention=True`` adds the gate responses (T, B, D) (None without the gate).
        """
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"x must have shape (T, B, D) with D = {self.input_size} (time-major), "
                             f"got {tuple(x.shape)}")
        T, B = x.shape[:2]
        valid = None if mask is None else _valid_steps(mask, T, B, x.device)
        if state is None:
            state = self.zero_state(x)
        hs, responses = [], []
        for t in range(T):
            x_att, a = self.gate(x[t], self.hidden(state))
            new = self.step(x_att, state)
            state = new if valid is None else _carry(valid[t, :, None], new, state)
            hs.append(self.hidden(state))
            responses.append(a)
        hs = torch.stack(hs)
        if return_attention:
            return hs, state, (torch.stack(responses) if self.attention else None)
        return hs, state


class EleAttRNNTorch(_EleAttTorchLayer):
    """``h_t = tanh(x̃_t W_x + h_{t-1} W_h + b)``."""

    cell = "rnn"

    def __init__(self, input_size, hidden_size, attention="sigmoid", dtype=torch.float64, device=None):
        super().__init__(input_size, hidden_size, attention, False, dtype, device)

    def step(self, x_att, h_prev):
        return torch.tanh(x_att @ self.W_x + h_prev @ self.W_h + self.b)


class EleAttLSTMTorch(_EleAttTorchLayer):
    """LSTM, gate blocks ``i f g o``; the state is the pair ``(h, c)``."""

    cell = "lstm"

    def __init__(self, input_size, hidden_size, attention="sigmoid", dtype=torch.float64, device=None):
        super().__init__(input_size, hidden_size, attention, False, dtype, device)

    def zero_state(self, x):
        return super().zero_state(x), super().zero_state(x)

    @staticmethod
    def hidden(state):
        return state[0]

    def step(self, x_att, state):
        h_prev, c_prev = state
        i, f, g, o = (x_att @ self.W_x + h_prev @ self.W_h + self.b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class EleAttGRUTorch(_EleAttTorchLayer):
    """GRU, gate blocks ``r z n``; ``reset_after=False`` is the paper's form, ``True`` PyTorch's (with ``b_hn``)."""

    cell = "gru"

    def step(self, x_att, h_prev):
        H = self.hidden_size
        W_xr, W_xz, W_xn = self.W_x.split(H, dim=1)
        W_hr, W_hz, W_hn = self.W_h.split(H, dim=1)
        b_r, b_z, b_n = self.b.split(H)
        r = torch.sigmoid(x_att @ W_xr + h_prev @ W_hr + b_r)
        z = torch.sigmoid(x_att @ W_xz + h_prev @ W_hz + b_z)
        if self.reset_after:
            n = torch.tanh(x_att @ W_xn + b_n + r * (h_prev @ W_hn + self.b_hn))
        else:
            n = torch.tanh(x_att @ W_xn + (r * h_prev) @ W_hn + b_n)
        return (1 - z) * n + z * h_prev


TORCH_LAYERS = {"rnn": EleAttRNNTorch, "lstm": EleAttLSTMTorch, "gru": EleAttGRUTorch}
NATIVE = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def has_native_equivalent(cell, attention, reset_after):
    """True when ``torch.nn.RNN/LSTM/GRU`` computes exactly this layer: no gate, and for the GRU reset-after."""
    return resolve_attention(attention) is None and (cell != "gru" or bool(reset_after))


# ----------------------------------------------------------------------------- torch.nn layers with a mask

class MaskedRecurrent(nn.Module):
    """A ``torch.nn.RNN/LSTM/GRU`` that honours a mask the way minieleatt does.

    ``forward(input, hx=None, mask=None)`` returns what ``rnn(input, hx)`` returns,
    ``(output, h_n)`` (``h_n = (h, c)`` for the LSTM), in torch's layouts; ``mask``
    is (T, B), or (B, T) when the module is ``batch_first``. Where the mask is 0
    every layer's state is carried over and the output is the carried state.
    Without a mask it is the wrapped module's own call. A mask whose valid steps
    are a prefix of each sequence (padding at the end, at least one valid step)
    runs as one packed sequence; any other mask runs one step at a time.
    """

    def __init__(self, rnn):
        super().__init__()
        if not isinstance(rnn, nn.RNNBase):
            raise TypeError(f"rnn must be a torch.nn.RNN, LSTM or GRU, got {type(rnn).__name__}")
        if rnn.bidirectional:
            raise ValueError("rnn: bidirectional=True has no carry-over semantics here (the reverse direction "
                             "reads the padded steps first)")
        self.rnn = rnn

    def forward(self, input, hx=None, mask=None):
        if mask is None:
            return self.rnn(input, hx)
        first = self.rnn.batch_first
        x = input.transpose(0, 1) if first else input                  # time-major inside
        T, B = x.shape[:2]
        valid = _valid_steps(mask, T, B, x.device, time_major=not first)
        lengths = valid.sum(dim=0)
        prefix = torch.arange(T, device=x.device)[:, None] < lengths[None, :]
        if bool((lengths > 0).all()) and bool((valid == prefix).all()):
            output, h_n = self._packed(x, hx, valid, lengths)
        else:
            output, h_n = self._stepped(x, hx, valid)
        return (output.transpose(0, 1) if first else output), h_n

    def _packed(self, x, hx, valid, lengths):
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        output, h_n = self.rnn(packed, hx)
        output, _ = pad_packed_sequence(output, total_length=x.shape[0])     # zeros after each sequence's end
        top = (h_n[0] if isinstance(h_n, tuple) else h_n)[-1]                # the state after the last valid step
        return torch.where(valid[:, :, None], output, top[None]), h_n

    def _stepped(self, x, hx, valid):
        rnn = self.rnn
        if hx is None:
            B = x.shape[1]
            h_size = getattr(rnn, "proj_size", 0) or rnn.hidden_size
            h0 = x.new_zeros((rnn.num_layers, B, h_size))
            hx = (h0, x.new_zeros((rnn.num_layers, B, rnn.hidden_size))) if isinstance(rnn, nn.LSTM) else h0
        outputs = []
        for t in range(x.shape[0]):
            x_t = x[t][:, None] if rnn.batch_first else x[t][None]
            _, new = rnn(x_t, hx)
            hx = _carry(valid[t][None, :, None], new, hx)
            outputs.append((hx[0] if isinstance(hx, tuple) else hx)[-1])
        return torch.stack(outputs), hx


def torch_layer(cell, input_size, hidden_size, attention, reset_after=False, dtype=torch.float64, device=None):
    """The torch module of one of our layers: ``MaskedRecurrent(torch.nn.X)`` when an exact equivalent
    exists, else our ``EleAtt*Torch`` module."""
    if has_native_equivalent(cell, attention, reset_after):
        return MaskedRecurrent(NATIVE[cell](input_size, hidden_size, dtype=dtype, device=device))
    kwargs = {"reset_after": reset_after} if cell == "gru" else {}
    return TORCH_LAYERS[cell](input_size, hidden_size, attention=attention, dtype=dtype, device=device, **kwargs)


# ----------------------------------------------------------------------------- the network

class EleAttNetTorch(nn.Module):
    """The classifier network of ``minieleatt.nn.EleAttNet``, in torch.

    Same arguments as ``EleAttNet`` (less ``seed``): the first ``attention_layers``
    layers carry the gate; plain layers with an exact torch equivalent are
    ``MaskedRecurrent(torch.nn.X)``. ``forward(x, mask=None)`` takes a time-major
    batch (T, B, D) and returns the logits (B, C). Dropout acts after every
    layer in ``train()`` mode and is the identity in ``eval()`` mode.
    """

    def __init__(self, input_size, num_classes, cell="gru", hidden_size=100, num_layers=3, attention_layers=None,
                 attention="sigmoid", dropout=0.5, readout="mean", reset_after=False, dtype=torch.float32,
                 device=None):
        super().__init__()
        if cell not in TORCH_LAYERS:
            raise ValueError(f"cell must be one of {sorted(TORCH_LAYERS)}, got {cell!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        m = num_layers if attention_layers is None else int(attention_layers)
        if not 0 <= m <= num_layers:
            raise ValueError(f"attention_layers must be an integer from 0 to num_layers={num_layers}, got {m!r}")
        kind = resolve_attention(attention) or "sigmoid"
        self.architecture = {"cell": cell, "input_size": int(input_size), "hidden_size": int(hidden_size),
                             "num_layers": int(num_layers), "attention_layers": m, "attention": kind,
                             "num_classes": int(num_classes), "readout": readout,
                             "reset_after": bool(reset_after) and cell == "gru"}
        self.layers = nn.ModuleList(
            torch_layer(cell, input_size if i == 0 else hidden_size, hidden_size, kind if i < m else None,
                        reset_after, dtype, device)
            for i in range(num_layers))
        self.dropout = nn.Dropout(float(dropout))
        width = 2 * hidden_size if readout == "mean+last" else hidden_size         # the readout's size
        self.fc = nn.Linear(width, num_classes, dtype=dtype, device=device)

    def config(self):
        return {"kind": NETWORK_KIND, **self.architecture, "dropout": self.dropout.p}

    def get_extra_state(self):
        return self.config()

    def set_extra_state(self, state):
        if state != self.config():
            raise ValueError(f"state dict of another network: it holds {state}, this module is {self.config()}")

    def readout(self, hs, mask):
        """(T, B, H) -> (B, H): the mean over each sequence's valid steps, or the last state;
        (B, 2H) for 'mean+last': the two side by side, [mean | last]."""
        kind = self.architecture["readout"]
        if kind == "last":
            return hs[-1]
        if kind == "mean+last":
            return torch.cat([self._mean(hs, mask), hs[-1]], dim=1)
        return self._mean(hs, mask)

    @staticmethod
    def _mean(hs, mask):
        if mask is None:
            return hs.mean(dim=0)
        m = (torch.as_tensor(mask, device=hs.device) != 0).to(hs.dtype)[:, :, None]
        return (hs * m).sum(dim=0) / m.sum(dim=0)

    def forward(self, x, mask=None):
        h = x
        for layer in self.layers:
            h, _ = layer(h, mask=mask)
            h = self.dropout(h)
        return self.fc(self.readout(h, mask))
