"""The classifier network: stacked recurrent layers, dropout, a readout, a linear layer, the loss.

    x (T, B, D) ─► layer 1 ─► dropout ─► layer 2 ─► dropout ─► ... ─► readout ─► linear ─► logits (B, C)

The first ``attention_layers`` layers carry the element-wise attention gate and
the rest do not: the paper's "m-EleAtt-GRU + n-GRU". Forward and backward are
written by hand like the cells, as pairs of functions with named-tuple caches,
and the whole network's gradient is checked by finite differences in the tests.
Like the cells, everything takes its array module from its arguments.
"""

from typing import NamedTuple

import numpy as np

from .backend import array_module, check_device, check_same_device, get_array_module, resolve_dtype, to_device
from .functional.activations import log_softmax
from .functional.checks import resolve_attention
from .implementations import check_impl
from .layers import LAYERS, _load_arrays_into

READOUTS = ("mean", "last", "mean+last")


# ----------------------------------------------------------------------------- dropout

def dropout_mask(shape, p, rng, dtype, xp):
    """An inverted-dropout mask: 0 with probability ``p``, else ``1/(1-p)`` (drawn on the host from ``rng``)."""
    keep = 1.0 - p
    m = (rng.random(shape) < keep).astype(dtype) / dtype.type(keep)
    return xp.asarray(m)


def dropout_forward(h, mask):
    """Inverted dropout with a given mask (None: identity)."""
    return h if mask is None else h * mask


def dropout_backward(dout, mask):
    return dout if mask is None else dout * mask


# ----------------------------------------------------------------------------- readout

def readout_forward(hs, mask, kind="mean"):
    """Summarise a sequence of states (T, B, H) into one vector per sequence: (B, H), or (B, 2H) for 'mean+last'.

    'mean': the average over each sequence's valid steps (with a linear layer after
    it, this equals averaging the per-step scores, as the authors' code does);
    'last': the state after the last valid step, which is ``hs[-1]`` because
    padded steps carry the state over;
    'mean+last': the two side by side, [mean | last].
    """
    if kind == "mean+last":
        xp = get_array_module(hs)
        return xp.concatenate([readout_forward(hs, mask, "mean"), hs[-1]], axis=1)
    if kind == "last":
        return hs[-1]
    if mask is None:
        return hs.mean(axis=0)
    m = mask[:, :, None]
    return (hs * m).sum(axis=0) / m.sum(axis=0)


def readout_backward(dpooled, hs_shape, mask, kind="mean"):
    """Gradient w.r.t. every state (T, B, H) from the gradient of the readout (B, H), or (B, 2H) for 'mean+last'."""
    xp = get_array_module(dpooled)
    T, H = hs_shape[0], hs_shape[2]
    if kind == "mean+last":
        dhs = readout_backward(dpooled[:, :H], hs_shape, mask, "mean")     # undo the mean half
        dhs[-1] += dpooled[:, H:]                                            # undo the last half
        return dhs
    if kind == "last":
        dhs = xp.zeros(hs_shape, dtype=dpooled.dtype)
        dhs[-1] = dpooled
        return dhs
    if mask is None:
        return xp.broadcast_to(dpooled / T, hs_shape).copy()
    m = mask[:, :, None]
    return m * (dpooled / m.sum(axis=0))


# ----------------------------------------------------------------------------- linear and loss

def linear_forward(h, W, b):
    """h (B, H) @ W (H, C) + b (C,) -> (B, C)."""
    return h @ W + b


def linear_backward(dout, h, W):
    """Returns dh (B, H), dW (H, C), db (C,)."""
    return dout @ W.T, h.T @ dout, dout.sum(axis=0)


def check_labels(y, num_classes):
    """Refuse labels that are not integers in ``0..num_classes-1``, naming the first bad one and its
    position in the batch (a label of -1 would otherwise index the last class)."""
    xp = get_array_module(y)
    if y.ndim != 1:
        raise ValueError(f"labels y must have shape (B,), got {tuple(y.shape)}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"labels y must be integers (class indices), got dtype {y.dtype}")
    bad = xp.flatnonzero((y < 0) | (y >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"label {int(y[i])} of sequence {i} of the batch is outside 0..{num_classes - 1} "
                         f"({num_classes} classes)")


def check_mask(mask, T, B):
    """Refuse a mask that is not (T, B) or holds a sequence with no valid step (an all-zero column),
    naming that sequence: its readout would be 0 / 0."""
    xp = get_array_module(mask)
    if tuple(mask.shape) != (T, B):
        raise ValueError(f"mask must have shape (T, B) = {(T, B)}, got {tuple(mask.shape)}")
    empty = xp.flatnonzero((mask != 0).sum(axis=0) == 0)
    if empty.size:
        raise ValueError(f"mask: sequence {int(empty[0])} of the batch has no valid step (its column is all "
                         "zeros); every sequence needs at least one step")


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of logits (B, C) against integer labels y (B,), and its gradient.

    Uses log-softmax (log-sum-exp), so it stays finite for logits of any size.
    Labels outside ``0..C-1`` or not integers are an error (see ``check_labels``).
    Returns ``loss`` (a Python float) and ``dlogits`` (B, C).
    """
    check_same_device(logits=logits, y=y)
    xp = get_array_module(logits, y)
    B = logits.shape[0]
    if tuple(y.shape) != (B,):
        raise ValueError(f"labels y must have shape (B,) = ({B},) to match the logits, got {tuple(y.shape)}")
    check_labels(y, logits.shape[1])
    logp = log_softmax(logits, axis=-1)
    rows = xp.arange(B)
    loss = -float(logp[rows, y].mean())
    dlogits = xp.exp(logp)                    # softmax
    dlogits[rows, y] -= 1
    dlogits /= B
    return loss, dlogits


# ----------------------------------------------------------------------------- the network

class NetCache(NamedTuple):
    """What ``EleAttNet.backward`` needs."""

    layer_caches: list   # the cell caches, one per layer
    drop_masks: list     # dropout masks after each layer (None where no dropout)
    hs_last: object      # (T, B, H) the last layer's output after dropout
    pooled: object       # (B, H) the readout
    mask: object         # (T, B) float, or None
    attention: object    # (T, B, D) first layer's gate responses, or None


class EleAttNet:
    """A stack of recurrent layers of one cell and a linear classifier.

    input_size D, num_classes C; cell 'rnn' | 'lstm' | 'gru'; num_layers of hidden_size;
    attention_layers m: the first m layers carry the gate (default: all);
    attention: the gate's activation ('sigmoid' or 'softmax'); dropout p after every
    recurrent layer; readout 'mean' | 'last'; impl: the cells' implementation
    ('auto', 'reference', 'fast', 'fused'; see ``minieleatt.implementations``).
    """

    def __init__(self, input_size, num_classes, cell="gru", hidden_size=100, num_layers=3, attention_layers=None,
                 attention="sigmoid", dropout=0.5, readout="mean", reset_after=False, dtype="float32", seed=0,
                 device="cpu", impl="auto"):
        if cell not in LAYERS:
            raise ValueError(f"cell must be one of {sorted(LAYERS)}, got {cell!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        for name, v in (("input_size", input_size), ("num_classes", num_classes), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        m = num_layers if attention_layers is None else attention_layers
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 0 <= m <= num_layers:
            raise ValueError(f"attention_layers must be an integer from 0 to num_layers={num_layers}, got {m!r}")
        activation = resolve_attention(attention) or "sigmoid"
        device = check_device(device)
        self.cell, self.num_classes, self.readout = cell, int(num_classes), readout
        self.attention_layers, self.attention, self.dropout = int(m), activation, float(dropout)
        self.impl = check_impl(impl)
        self.dtype = resolve_dtype(dtype)
        self.layers = []
        for i in range(num_layers):
            kwargs = {"reset_after": reset_after} if cell == "gru" else {}
            self.layers.append(LAYERS[cell](input_size if i == 0 else hidden_size, hidden_size,
                                            attention=activation if i < m else False, dtype=self.dtype,
                                            seed=seed * 1000 + i, device=device, impl=impl, **kwargs))
        k = 1.0 / np.sqrt(hidden_size)
        rng = np.random.default_rng(seed * 1000 + num_layers)
        width = 2 * hidden_size if readout == "mean+last" else hidden_size         # the readout's size
        self.fc = to_device({"W": rng.uniform(-k, k, (width, num_classes)).astype(self.dtype),
                             "b": np.zeros(num_classes, dtype=self.dtype)}, device)

    # -- bookkeeping
    @property
    def device(self):
        return self.layers[0].device

    @property
    def xp(self):
        return array_module(self.device)

    def architecture(self):
        """The settings that fix the parameters' names and shapes (stored in checkpoints)."""
        first = self.layers[0]
        return {"cell": self.cell, "input_size": first.input_size, "hidden_size": first.hidden_size,
                "num_layers": len(self.layers), "attention_layers": self.attention_layers,
                "attention": self.attention, "num_classes": self.num_classes, "readout": self.readout,
                "reset_after": bool(getattr(first, "reset_after", False))}

    def parameters(self):
        """Every parameter by a flat name ('layers.0.W_x', 'fc.W', ...); the arrays are the network's own."""
        params = {}
        for i, layer in enumerate(self.layers):
            for k, v in layer.params.items():
                params[f"layers.{i}.{k}"] = v
        params["fc.W"], params["fc.b"] = self.fc["W"], self.fc["b"]
        return params

    @property
    def num_params(self):
        return int(sum(p.size for p in self.parameters().values()))

    def state_dict(self):
        """A copy of every parameter by its flat name (``layers.0.W_x``, ..., ``fc.W``, ``fc.b``): each
        layer's keys are its ``state_dict``'s (the PyTorch bridge's), the classifier's are ours
        (``fc.W`` is (H, C); the bridge's ``EleAttNetTorch`` stores torch's ``fc.weight`` (C, H))."""
        return {k: v.copy() for k, v in self.parameters().items()}

    def load_state_dict(self, state_dict):
        """Copy ``state_dict`` into the parameters in place (names and shapes must match); returns the network."""
        _load_arrays_into(state_dict, self.parameters(), "EleAttNet")
        return self

    def to(self, device):
        for layer in self.layers:
            layer.to(device)
        self.fc = to_device(self.fc, device)
        return self

    # -- forward and backward
    def forward(self, x, mask=None, train=False, rng=None, drop_masks=None, keep_attention=False):
        """Logits (B, C) of a padded batch x (T, B, D) with mask (T, B) (every sequence at least one step).

        train=True keeps the caches for ``backward`` and applies dropout, with masks
        drawn from ``rng`` (a ``numpy.random.Generator``) or given in ``drop_masks``
        (a list, one per layer, None for no dropout). keep_attention=True also keeps
        the first layer's gate responses at inference.
        Returns ``logits`` and a ``NetCache`` (None at inference unless keep_attention).
        """
        check_same_device(x=x, mask=mask, parameters=self.parameters())
        xp = get_array_module(x, mask)
        if mask is not None:
            check_mask(mask, x.shape[0], x.shape[1])
        if train and drop_masks is None:
            drop_masks = [None] * len(self.layers)
            if self.dropout > 0:
                if rng is None:
                    raise ValueError("training with dropout needs rng, a numpy.random.Generator")
                T, B = x.shape[:2]
                drop_masks = [dropout_mask((T, B, layer.hidden_size), self.dropout, rng, self.dtype, xp)
                              for layer in self.layers]
        elif not train:
            drop_masks = [None] * len(self.layers)
        h, caches = x, []
        for i, layer in enumerate(self.layers):
            keep = train or (keep_attention and i == 0)
            h, cache = layer.forward(h, mask=mask, keep_cache=keep)
            caches.append(cache)
            h = dropout_forward(h, drop_masks[i])
        pooled = readout_forward(h, mask, self.readout)
        logits = linear_forward(pooled, self.fc["W"], self.fc["b"])
        if not (train or keep_attention):
            return logits, None
        return logits, NetCache(layer_caches=caches, drop_masks=drop_masks, hs_last=h, pooled=pooled, mask=mask,
                                attention=caches[0].attention)

    def backward(self, dlogits, cache):
        """Backward from dL/dlogits (B, C): returns ``dx`` (T, B, D) and the gradients of every
        parameter, by flat name in the order of ``parameters()``."""
        check_same_device(dlogits=dlogits, parameters=self.parameters())
        dpooled, dW, db = linear_backward(dlogits, cache.pooled, self.fc["W"])   # undo logits = pooled W + b
        dh = readout_backward(dpooled, cache.hs_last.shape, cache.mask, self.readout)
        layer_grads = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            dh = dropout_backward(dh, cache.drop_masks[i])                         # undo the dropout
            dh, _, layer_grads[i] = self.layers[i].backward(dh, cache.layer_caches[i])   # undo layer i
        grads = {f"layers.{i}.{k}": v for i, g in enumerate(layer_grads) for k, v in g.items()}
        grads["fc.W"], grads["fc.b"] = dW, db
        return dh, grads

    def loss_and_grads(self, x, y, mask=None, rng=None, drop_masks=None):
        """One training step's maths: (loss, number correct, grads)."""
        logits, cache = self.forward(x, mask, train=True, rng=rng, drop_masks=drop_masks)
        loss, dlogits = softmax_cross_entropy(logits, y)
        correct = int((logits.argmax(axis=1) == y).sum())
        _, grads = self.backward(dlogits, cache)
        return loss, correct, grads

