"""Cross-check: our forward and backward passes against PyTorch's autograd, through the bridge, in float64.

Three checks, each a table of the largest relative difference per output and
per gradient (``minieleatt crosscheck`` prints them):

- ``crosscheck_cells``: every cell x gate (None, sigmoid, softmax) x GRU variant
  x mask, our layer with random weights against ``to_torch(layer)`` (a
  ``torch.nn.RNN/LSTM/GRU`` in a ``MaskedRecurrent`` where an exact equivalent
  exists, else our ``EleAtt*Torch`` module);
- ``crosscheck_torch_made``: the other way, a ``torch.nn.RNN/LSTM/GRU`` made by
  torch (its weights and both bias vectors perturbed away from their initial
  values, one or more layers) brought in with ``from_torch``;
- ``crosscheck_checkpoint``: the whole network of a ``minieleatt train``
  checkpoint against ``to_torch(network)`` on random inputs of random lengths
  and random labels: logits, loss, and the gradient of the loss w.r.t. the
  input and every parameter.

The relative difference of two arrays is ``max|ours - torch| / max(max|ours|,
max|torch|)`` (0 when both are zero): one number per tensor, insensitive to
entries near zero. Both sides compute in float64, where a correct bridge lands
near 1e-15; a wrong gate order or bias split lands far above the tolerance.
"""

from typing import NamedTuple

import numpy as np

from .cellcheck import all_configs, example_mask, make_problem, split_inputs
from . import checkpoint
from .layers import LAYERS
from .nn import softmax_cross_entropy

TOLERANCE = 1e-10
ORACLES = ("torch",)


def relative_difference(ours, theirs):
    """``max|ours - theirs| / max(max|ours|, max|theirs|)``; 0 when both are all zeros."""
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        raise ValueError(f"shapes differ: ours {ours.shape}, oracle {theirs.shape}")
    scale = max(np.abs(ours).max(initial=0.0), np.abs(theirs).max(initial=0.0))
    return 0.0 if scale == 0 else float(np.abs(ours - theirs).max() / scale)


class Row(NamedTuple):
    case: str
    tensor: str      # 'hs', 'h_T', 'a' ... outputs; 'dx', 'dW_x' ... gradients
    rel: float
    passed: bool


class Report:
    """The rows of a cross-check and the tolerance they are held to."""

    def __init__(self, tol=TOLERANCE):
        self.tol = float(tol)
        self.rows = []

    def add(self, case, tensor, ours, theirs):
        rel = relative_difference(ours, theirs)
        self.rows.append(Row(case, tensor, rel, bool(rel <= self.tol)))   # NaN fails

    @property
    def passed(self):
        return all(r.passed for r in self.rows)

    @property
    def cases(self):
        return list(dict.fromkeys(r.case for r in self.rows))

    def failed_cases(self):
        return list(dict.fromkeys(r.case for r in self.rows if not r.passed))

    def lines(self):
        if not self.rows:
            return ["no case selected"]
        width = max([len(r.case) for r in self.rows] + [4])
        tw = max([len(r.tensor) for r in self.rows] + [6])
        out = [f"{'case':<{width}}  {'tensor':<{tw}}  {'rel. diff':>9}  result"]
        out += [f"{r.case:<{width}}  {r.tensor:<{tw}}  {r.rel:>9.1e}  {'pass' if r.passed else 'FAIL'}"
                for r in self.rows]
        worst = max(self.rows, key=lambda r: np.inf if np.isnan(r.rel) else r.rel)
        n, bad = len(self.cases), len(self.failed_cases())
        out.append(f"{n - bad}/{n} cases pass at tolerance {self.tol:.0e}; largest relative difference "
                   f"{worst.rel:.1e} ({worst.tensor}, {worst.case})")
        return out


def header(tol=TOLERANCE):
    """Two lines that say what is compared and how."""
    import torch
    return [f"minieleatt (NumPy, float64) against PyTorch {torch.__version__} autograd (float64), "
            f"through minieleatt.interop",
            f"relative difference = max|ours - torch| / max(max|ours|, max|torch|); tolerance {tol:.0e}"]


# ----------------------------------------------------------------------------- helpers

def _tensor(a, grad=False):
    import torch
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _np(t):
    return t.detach().numpy()


def _layer_outputs(layer, x, state, mask, dhs, dstate_T):
    """Our side: outputs (dict) and gradients (dict) of one layer."""
    hs, cache = layer.forward(x, state, mask)
    dx, dstate, grads = layer.backward(dhs, cache, dstate_T)
    outs = {"hs": hs}
    if layer.cell == "lstm":
        outs["h_T"], outs["c_T"] = cache.final_state
        dgrads = {"dx": dx, "dh0": dstate[0], "dc0": dstate[1]}
    else:
        outs["h_T"] = cache.final_state
        dgrads = {"dx": dx, "dh0": dstate}
    if layer.attention is not None:
        outs["a"] = cache.attention
    dgrads.update({f"d{k}": v for k, v in grads.items()})
    return outs, dgrads


def _torch_layer_outputs(module, x, state, mask, dhs, dstate_T):
    """The oracle's side of ``_layer_outputs``: ``module`` is what ``to_torch(layer)`` returned."""
    import torch
    from .interop import MaskedRecurrent, gradients_from_torch

    lstm = isinstance(state, tuple)
    tx = _tensor(x, grad=True)
    tstate = tuple(_tensor(s, grad=True) for s in state) if lstm else _tensor(state, grad=True)
    tmask = None if mask is None else _tensor(mask)
    outs = {}
    if isinstance(module, torch.nn.RNNBase):                        # torch's own layout: (layers, B, H)
        hx = tuple(s[None] for s in tstate) if lstm else tstate[None]
        hs, h_n = MaskedRecurrent(module)(tx, hx, mask=tmask)
        final = tuple(s[0] for s in h_n) if lstm else h_n[0]
    else:
        hs, final, a = module(tx, tstate, mask=tmask, return_attention=True)
        if a is not None:
            outs["a"] = _np(a)
    loss = (hs * _tensor(dhs)).sum()
    finals = final if lstm else (final,)
    upstream = dstate_T if lstm else (dstate_T,)
    for f, d in zip(finals, upstream):
        loss = loss + (f * _tensor(d)).sum()
    loss.backward()
    outs = {"hs": _np(hs), "h_T": _np(finals[0]), **({"c_T": _np(finals[1])} if lstm else {}), **outs}
    dgrads = {"dx": tx.grad.numpy()}
    if lstm:
        dgrads["dh0"], dgrads["dc0"] = tstate[0].grad.numpy(), tstate[1].grad.numpy()
    else:
        dgrads["dh0"] = tstate.grad.numpy()
    dgrads.update({f"d{k}": v for k, v in gradients_from_torch(module).items()})
    return outs, dgrads


def _compare(report, case, ours, theirs):
    for name in ours:
        report.add(case, name, ours[name], theirs[name])


# ----------------------------------------------------------------------------- the checks

def crosscheck_cells(cells=("rnn", "lstm", "gru"), attentions=(None, "sigmoid", "softmax"),
                     variants=(False, True), masks=(False, True), T=12, B=4, D=4, H=5, seed=0, tol=TOLERANCE,
                     report=None, impl="auto"):
    """Our layers against ``to_torch(layer)``: every output and every gradient, in float64.

    variants: the GRU's ``reset_after`` values; masks: without and with a mask (a padded
    tail and a hole, ``cellcheck.example_mask``); impl: our implementation checked
    (``minieleatt.implementations``). Returns a ``Report``.
    """
    from .interop import to_torch

    report = Report(tol) if report is None else report
    for cfg in all_configs(attentions):
        if cfg.cell not in cells or cfg.masked not in masks or (cfg.cell == "gru" and cfg.reset_after not in variants):
            continue
        inputs, douts, mask = make_problem(cfg, T, B, D, H, seed=seed)
        x, state, params = split_inputs(cfg, inputs)
        kwargs = {"reset_after": cfg.reset_after} if cfg.cell == "gru" else {}
        layer = LAYERS[cfg.cell](D, H, attention=cfg.attention, dtype="float64", impl=impl, **kwargs)
        layer.params = params
        dstate_T = (douts[1], douts[2]) if cfg.cell == "lstm" else douts[1]
        ours = _layer_outputs(layer, x, state, mask, douts[0], dstate_T)
        theirs = _torch_layer_outputs(to_torch(layer), x, state, mask, douts[0], dstate_T)
        for o, t in zip(ours, theirs):
            _compare(report, cfg.label, o, t)
    return report


def crosscheck_torch_made(cells=("rnn", "lstm", "gru"), num_layers=1, masks=(False, True), T=12, B=4, D=4, H=5,
                          seed=0, tol=TOLERANCE, report=None, impl="auto"):
    """``torch.nn.RNN/LSTM/GRU`` made by torch, brought in with ``from_torch``, against themselves.

    The modules' weights and both bias vectors are perturbed away from torch's
    initialisation (as a trained model's are). The upstream gradients reach every
    output step and every layer's final state. Returns a ``Report``.
    """
    import torch
    from .interop import MaskedRecurrent, from_torch, gradients_from_torch

    report = Report(tol) if report is None else report
    rng = np.random.default_rng(seed)
    for cell in cells:
        for masked in masks:
            torch.manual_seed(seed)
            module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
                D, H, num_layers=num_layers, dtype=torch.float64)
            with torch.no_grad():
                for p in module.parameters():
                    p.add_(0.3 * torch.randn_like(p))
            layers = from_torch(module)
            layers = layers if isinstance(layers, list) else [layers]
            for layer in layers:
                layer.impl = impl
            x = rng.standard_normal((T, B, D))
            mask = example_mask(T, B) if masked else None
            h0 = 0.5 * rng.standard_normal((num_layers, B, H))
            c0 = 0.5 * rng.standard_normal((num_layers, B, H))
            dhs = rng.standard_normal((T, B, H))
            dh_n = rng.standard_normal((num_layers, B, H))
            dc_n = rng.standard_normal((num_layers, B, H))
            lstm = cell == "lstm"
            case = f"torch.nn.{type(module).__name__}(layers={num_layers}) mask={'on' if masked else 'off'}"

            # ours: the stack, bottom up, then back down
            h, caches, ours = x, [], {}
            for k, layer in enumerate(layers):
                h, cache = layer.forward(h, (h0[k], c0[k]) if lstm else h0[k], mask)
                caches.append(cache)
            ours["hs"] = h
            ours["h_n"] = np.stack([c.final_state[0] if lstm else c.final_state for c in caches])
            if lstm:
                ours["c_n"] = np.stack([c.final_state[1] for c in caches])
            dh, per_layer = dhs, [None] * num_layers
            for k in reversed(range(num_layers)):
                dh, dstate, grads = layers[k].backward(dh, caches[k], (dh_n[k], dc_n[k]) if lstm else dh_n[k])
                per_layer[k] = {f"dh0[{k}]": dstate[0] if lstm else dstate,
                                **({f"dc0[{k}]": dstate[1]} if lstm else {}),
                                **{f"d{name}[{k}]": g for name, g in grads.items()}}
            dgrads = {"dx": dh}
            for g in per_layer:
                dgrads.update(g)

            # torch
            tx, th0, tc0 = _tensor(x, True), _tensor(h0, True), _tensor(c0, True)
            out, h_n = MaskedRecurrent(module)(tx, (th0, tc0) if lstm else th0,
                                               mask=None if mask is None else _tensor(mask))
            theirs = {"hs": _np(out), "h_n": _np(h_n[0] if lstm else h_n)}
            loss = (out * _tensor(dhs)).sum() + ((h_n[0] if lstm else h_n) * _tensor(dh_n)).sum()
            if lstm:
                theirs["c_n"] = _np(h_n[1])
                loss = loss + (h_n[1] * _tensor(dc_n)).sum()
            loss.backward()
            tgrads = gradients_from_torch(module)
            tgrads = tgrads if isinstance(tgrads, list) else [tgrads]
            theirs_g = {"dx": tx.grad.numpy()}
            for k in range(num_layers):
                theirs_g[f"dh0[{k}]"] = th0.grad.numpy()[k]
                if lstm:
                    theirs_g[f"dc0[{k}]"] = tc0.grad.numpy()[k]
                theirs_g.update({f"d{name}[{k}]": g for name, g in tgrads[k].items()})
            _compare(report, case, ours, theirs)
            _compare(report, case, dgrads, theirs_g)
    return report


def load_network(path, dtype="float64", impl="auto"):
    """The ``EleAttNet`` of a checkpoint written by ``minieleatt train`` (weights only), in ``dtype``, run by ``impl``."""
    return checkpoint.load_network(path, dtype=dtype, impl=impl)


def crosscheck_network(net, T=12, B=4, seed=0, tol=TOLERANCE, case="network", report=None):
    """A float64 ``EleAttNet`` against ``to_torch(net)`` in eval mode (no dropout).

    Random inputs (T, B, D), random lengths from 1 to T (the first sequence full, the
    padding at the end as in a training batch) and random labels; compares the logits,
    the mean cross-entropy and the gradients of that loss w.r.t. the input and every
    parameter. Returns a ``Report``.
    """
    import torch
    from .interop import gradients_from_torch, to_torch

    report = Report(tol) if report is None else report
    rng = np.random.default_rng(seed)
    D, C = net.layers[0].input_size, net.num_classes
    x = rng.standard_normal((T, B, D))
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    mask = (np.arange(T)[:, None] < lengths[None, :]).astype(np.float64)
    y = rng.integers(0, C, size=B)

    logits, cache = net.forward(x, mask, train=True, drop_masks=[None] * len(net.layers))
    loss, dlogits = softmax_cross_entropy(logits, y)
    dx, grads = net.backward(dlogits, cache)

    module = to_torch(net).eval()
    tx = _tensor(x, True)
    tlogits = module(tx, _tensor(mask))
    tloss = torch.nn.functional.cross_entropy(tlogits, torch.as_tensor(y))
    tloss.backward()
    tgrads = gradients_from_torch(module)

    report.add(case, "logits", logits, _np(tlogits))
    report.add(case, "loss", loss, tloss.item())
    report.add(case, "dx", dx, tx.grad.numpy())
    for name, g in grads.items():
        report.add(case, f"d{name}", g, tgrads[name])
    return report


def crosscheck_checkpoint(path, T=12, B=4, seed=0, tol=TOLERANCE, impl="auto"):
    """``crosscheck_network`` on the network of a checkpoint (its weights cast to float64, exactly), run by ``impl``."""
    net, meta = load_network(path, impl=impl)
    arch = net.architecture()
    att = f"gate in the first {arch['attention_layers']} ({arch['attention']})"
    variant = f", reset_after={arch['reset_after']}" if arch["cell"] == "gru" else ""
    case = (f"{arch['num_layers']} x {arch['cell'].upper()}({arch['hidden_size']}), {att}{variant}, "
            f"readout {arch['readout']}, epoch {meta.get('epoch', '?')}")
    return crosscheck_network(net, T=T, B=B, seed=seed, tol=tol, case=case)
