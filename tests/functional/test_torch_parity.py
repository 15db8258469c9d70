"""The plain cells against PyTorch's torch.nn.RNN / LSTM / GRU in float64: outputs and every gradient,
for the reference and for the implementation that runs by default (``impl="auto"``).

PyTorch is an optional test dependency; without it these tests skip.
"""

import numpy as np
import pytest

from minieleatt.implementations import sequence_backward, sequence_forward

torch = pytest.importorskip("torch")

T, B, D, H = 5, 3, 4, 6


def _torch_module(cell):
    torch.manual_seed(0)
    mod = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H)
    return mod.double()


def _our_params(cell, mod):
    w_ih = mod.weight_ih_l0.detach().numpy()
    w_hh = mod.weight_hh_l0.detach().numpy()
    b_ih = mod.bias_ih_l0.detach().numpy()
    b_hh = mod.bias_hh_l0.detach().numpy()
    params = {"W_x": w_ih.T.copy(), "W_h": w_hh.T.copy()}
    if cell == "gru":
        params["b"] = b_ih + np.concatenate([b_hh[: 2 * H], np.zeros(H)])
        params["b_hn"] = b_hh[2 * H:].copy()
    else:
        params["b"] = b_ih + b_hh
    return params


@pytest.mark.parametrize("impl", ["reference", "auto"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_plain_cell_matches_torch(cell, impl):
    rng = np.random.default_rng(0)
    mod = _torch_module(cell)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    c0 = rng.standard_normal((B, H))
    dhs = rng.standard_normal((T, B, H))
    dh_T = rng.standard_normal((B, H))
    dc_T = rng.standard_normal((B, H))

    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0[None], requires_grad=True)
    tc0 = torch.tensor(c0[None], requires_grad=True)
    if cell == "lstm":
        out, (thT, tcT) = mod(tx, (th0, tc0))
        loss = (out * torch.tensor(dhs)).sum() + (thT[0] * torch.tensor(dh_T)).sum() + (tcT[0] * torch.tensor(dc_T)).sum()
    else:
        out, thT = mod(tx, th0)
        loss = (out * torch.tensor(dhs)).sum() + (thT[0] * torch.tensor(dh_T)).sum()
    loss.backward()

    params = _our_params(cell, mod)
    if cell == "lstm":
        hs, cache = sequence_forward("lstm", x, params, (h0, c0), attention=None, impl=impl)
        dx, (dh0, dc0), grads = sequence_backward("lstm", dhs, cache, (dh_T, dc_T), impl=impl)
        np.testing.assert_allclose(cache.final_state[1], tcT[0].detach().numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(dc0, tc0.grad[0].numpy(), rtol=1e-11, atol=1e-12)
    else:
        hs, cache = sequence_forward(cell, x, params, h0, attention=None, reset_after=cell == "gru", impl=impl)
        dx, dh0, grads = sequence_backward(cell, dhs, cache, dh_T, impl=impl)

    close = dict(rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(hs, out.detach().numpy(), **close)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **close)
    np.testing.assert_allclose(dh0, th0.grad[0].numpy(), **close)
    np.testing.assert_allclose(grads["W_x"], mod.weight_ih_l0.grad.numpy().T, **close)
    np.testing.assert_allclose(grads["W_h"], mod.weight_hh_l0.grad.numpy().T, **close)
    np.testing.assert_allclose(grads["b"], mod.bias_ih_l0.grad.numpy(), **close)
    if cell == "gru":
        np.testing.assert_allclose(grads["b_hn"], mod.bias_hh_l0.grad.numpy()[2 * H:], **close)
        np.testing.assert_allclose(grads["b"][: 2 * H], mod.bias_hh_l0.grad.numpy()[: 2 * H], **close)
    else:
        np.testing.assert_allclose(grads["b"], mod.bias_hh_l0.grad.numpy(), **close)
