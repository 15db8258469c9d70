"""Gradient checks of every cell configuration, for the tests and ``minieleatt gradcheck``.

A configuration is a cell ('rnn', 'lstm', 'gru'), an attention option (None,
'sigmoid', 'softmax'), the GRU's reset variant and whether a mask pads some
steps. Each check draws a random input, a non-zero initial state, random
parameters, a random upstream gradient on every ``h_t`` and one on the final
state, runs the analytic backward pass and compares it with central
differences in float64 for every input, state and parameter.
"""

from typing import NamedTuple

import numpy as np

from .backend import array_module
from .functional import param_shapes
from .gradcheck import check_gradients
from .implementations import sequence_backward, sequence_forward


class CellConfig(NamedTuple):
    cell: str
    attention: object = "sigmoid"
    reset_after: bool = False
    masked: bool = False

    @property
    def label(self):
        att = self.attention or "plain"
        variant = ("/reset-after" if self.reset_after else "/reset-before") if self.cell == "gru" else ""
        return f"{self.cell}{variant} attention={att} mask={'on' if self.masked else 'off'}"


def all_configs(attentions=(None, "sigmoid", "softmax")):
    """Every cell x attention option x GRU variant x mask on/off."""
    configs = []
    for cell, variants in (("rnn", (False,)), ("lstm", (False,)), ("gru", (False, True))):
        for reset_after in variants:
            for attention in attentions:
                for masked in (False, True):
                    configs.append(CellConfig(cell, attention, reset_after, masked))
    return configs


def example_mask(T, B):
    """A (T, B) float mask with a padded tail and a padded hole (a step in the middle)."""
    mask = np.ones((T, B))
    if T > 1:
        mask[T - 1:, 0] = 0            # the first sequence ends one step early
    if T > 2 and B > 1:
        mask[1, B - 1] = 0             # a hole inside the last sequence
    return mask


def run_cell(cfg, x, params, state, mask, keep_cache=True, impl="reference"):
    """Forward pass of a configuration by ``impl``; ``state`` is h0, or (h0, c0) for the LSTM."""
    return sequence_forward(cfg.cell, x, params, state, mask, cfg.attention, cfg.reset_after, keep_cache, impl)


def backward_cell(cfg, dhs, cache, dstate_T=None, impl="auto"):
    """Backward pass of a configuration (by default through the implementation that made ``cache``)."""
    return sequence_backward(cfg.cell, dhs, cache, dstate_T, impl)


def make_problem(cfg, T=3, B=2, D=3, H=4, device="cpu", seed=0, dtype="float64"):
    """Random inputs of a configuration: (inputs dict, upstream gradients tuple, mask).

    ``inputs`` holds 'x', 'h0' ('c0' for the LSTM) and every parameter.
    The upstream gradients are (dhs, dh_T) or, for the LSTM, (dhs, dh_T, dc_T).
    """
    xp = array_module(device)
    rng = np.random.default_rng(seed)

    def draw(*shape, scale=1.0):
        return xp.asarray((scale * rng.standard_normal(shape)).astype(dtype))

    inputs = {"x": draw(T, B, D), "h0": draw(B, H, scale=0.5)}
    if cfg.cell == "lstm":
        inputs["c0"] = draw(B, H, scale=0.5)
    for name, shape in param_shapes(cfg.cell, D, H, cfg.attention, cfg.reset_after).items():
        inputs[name] = draw(*shape, scale=0.5)
    douts = (draw(T, B, H), draw(B, H))
    if cfg.cell == "lstm":
        douts += (draw(B, H),)
    mask = xp.asarray(example_mask(T, B).astype(dtype)) if cfg.masked else None
    return inputs, douts, mask


def split_inputs(cfg, inputs):
    """inputs dict -> (x, state, params)."""
    params = {k: v for k, v in inputs.items() if k not in ("x", "h0", "c0")}
    state = (inputs["h0"], inputs["c0"]) if cfg.cell == "lstm" else inputs["h0"]
    return inputs["x"], state, params


def cell_outputs(cfg, inputs, mask, impl="reference"):
    """The outputs whose upstream gradients are checked: (hs, h_T) or (hs, h_T, c_T)."""
    x, state, params = split_inputs(cfg, inputs)
    hs, cache = run_cell(cfg, x, params, state, mask, keep_cache=False, impl=impl)
    if cfg.cell == "lstm":
        return hs, cache.final_state[0], cache.final_state[1]
    return hs, cache.final_state


def analytic_gradients(cfg, inputs, douts, mask, impl="reference"):
    """Run forward and backward by ``impl``; return the gradients as a dict with the keys of ``inputs``."""
    x, state, params = split_inputs(cfg, inputs)
    _, cache = run_cell(cfg, x, params, state, mask, impl=impl)
    if cfg.cell == "lstm":
        dx, (dh0, dc0), grads = backward_cell(cfg, douts[0], cache, (douts[1], douts[2]), impl)
        return {"x": dx, "h0": dh0, "c0": dc0, **grads}
    dx, dh0, grads = backward_cell(cfg, douts[0], cache, douts[1], impl)
    return {"x": dx, "h0": dh0, **grads}


def check_cell(cfg, T=3, B=2, D=3, H=4, device="cpu", seed=0, mode="full", tol=1e-6, eps=1e-6, impl="reference"):
    """Gradient check of one configuration run by ``impl`` (forward and backward); returns a ``GradcheckReport``."""
    inputs, douts, mask = make_problem(cfg, T, B, D, H, device, seed)
    analytic = analytic_gradients(cfg, inputs, douts, mask, impl)
    return check_gradients(lambda inp: cell_outputs(cfg, inp, mask, impl), inputs, analytic, douts,
                           mode=mode, tol=tol, eps=eps, seed=seed, title=cfg.label)
