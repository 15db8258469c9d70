"""The whole network's gradients by finite differences (float64): every readout, dropout with a
fixed mask, masks, attention in the first m layers; and the pieces' own contracts."""

import numpy as np
import pytest

from minieleatt.backend import to_host
from minieleatt.gradcheck import check_gradients
from minieleatt.nn import (EleAttNet, dropout_mask, readout_backward, readout_forward, softmax_cross_entropy)

T, B, D, H, C = 4, 3, 4, 3, 3


def make(cell="gru", layers=2, m=1, readout="mean", dropout=0.5, device="cpu", **kw):
    net = EleAttNet(D, C, cell=cell, hidden_size=H, num_layers=layers, attention_layers=m, readout=readout,
                    dropout=dropout, dtype="float64", seed=3, device=device, **kw)
    xp = net.xp
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.standard_normal((T, B, D)))
    mask = np.ones((T, B)); mask[2:, 0] = 0; mask[3, 1] = 0
    y = xp.asarray(np.array([0, 2, 1]))
    drop = [dropout_mask((T, B, H), dropout, rng, np.dtype("float64"), xp) if dropout else None for _ in range(layers)]
    return net, x, xp.asarray(mask), y, drop


CASES = [
    dict(cell="gru", readout="mean", m=1),
    dict(cell="gru", readout="last", m=2),
    dict(cell="gru", readout="mean", m=0, reset_after=True),
    dict(cell="lstm", readout="last", m=1),
    dict(cell="rnn", readout="mean", m=2, attention="softmax"),
    dict(cell="gru", readout="mean", m=2, layers=3, dropout=0.0),
    dict(cell="lstm", readout="mean+last", m=1),
]


@pytest.mark.parametrize("masked", [True, False], ids=["mask", "nomask"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_network_gradients_by_finite_differences(case, masked, device):
    net, x, mask, y, drop = make(device=device, **case)
    mask = mask if masked else None
    inputs = {"x": x, **net.parameters()}

    def loss(inp):                       # the parameters in ``inp`` are the network's own arrays
        logits, _ = net.forward(inp["x"], mask, train=True, drop_masks=drop)
        value, _ = softmax_cross_entropy(logits, y)
        return net.xp.asarray(value)

    logits, cache = net.forward(x, mask, train=True, drop_masks=drop)
    _, dlogits = softmax_cross_entropy(logits, y)
    dx, grads = net.backward(dlogits, cache)
    assert list(grads) == list(net.parameters())
    # eps 1e-4: deep in the stack the gradients are ~1e-5 of the loss, so at eps 1e-6 the loss's rounding
    # error divided by 2 eps (~1e-10) would be 1e-5 of their scale; at 1e-4 the truncation error (~eps²)
    # is still below 1e-7 and the rounding error 100 times smaller
    report = check_gradients(loss, inputs, {"x": dx, **grads}, net.xp.asarray(1.0), mode="auto", max_entries=200,
                             samples=40, seed=1, eps=1e-4)
    report.assert_ok()
    assert report.worst.rel_error < 1e-6


def test_attention_only_in_the_first_m_layers():
    net = EleAttNet(5, 4, cell="lstm", hidden_size=6, num_layers=3, attention_layers=2, dtype="float64")
    assert [layer.attention for layer in net.layers] == ["sigmoid", "sigmoid", None]
    assert "layers.1.W_xa" in net.parameters() and "layers.2.W_xa" not in net.parameters()
    assert net.layers[0].input_size == 5 and net.layers[1].input_size == 6
    with pytest.raises(ValueError, match="attention_layers must be an integer from 0 to num_layers=3, got 4"):
        EleAttNet(5, 4, num_layers=3, attention_layers=4)
    with pytest.raises(ValueError, match="readout must be one of"):
        EleAttNet(5, 4, readout="max")
    with pytest.raises(ValueError, match="cell must be one of"):
        EleAttNet(5, 4, cell="transformer")
    with pytest.raises(ValueError, match="dropout must be in"):
        EleAttNet(5, 4, dropout=1.0)


def test_dropout_mask_is_inverted_and_seeded():
    rng = np.random.default_rng(0)
    m = dropout_mask((200, 50, 10), 0.5, rng, np.dtype("float32"), np)
    assert m.dtype == np.float32
    assert set(np.unique(m)) == {0.0, 2.0}
    assert abs(m.mean() - 1.0) < 0.02
    np.testing.assert_array_equal(m, dropout_mask((200, 50, 10), 0.5, np.random.default_rng(0), np.dtype("float32"), np))


def test_readouts_use_only_valid_steps():
    hs = np.arange(2 * 4 * 1, dtype=float).reshape(4, 2, 1)
    mask = np.array([[1, 1], [1, 1], [1, 0], [0, 0]], dtype=float)
    np.testing.assert_allclose(readout_forward(hs, mask, "mean")[:, 0], [(0 + 2 + 4) / 3, (1 + 3) / 2])
    np.testing.assert_array_equal(readout_forward(hs, mask, "last"), hs[-1])
    d = readout_backward(np.ones((2, 1)), hs.shape, mask, "mean")
    np.testing.assert_allclose(d[:, :, 0], mask / mask.sum(axis=0))
    both = readout_forward(hs, mask, "mean+last")
    np.testing.assert_allclose(both, np.concatenate([readout_forward(hs, mask, "mean"), hs[-1]], axis=1))
    d = readout_backward(np.array([[1.0, 10.0], [1.0, 10.0]]), hs.shape, mask, "mean+last")
    np.testing.assert_allclose(d[:, :, 0], mask / mask.sum(axis=0) + 10 * (np.arange(4) == 3)[:, None])


def test_cross_entropy_is_stable_and_correct():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    loss, d = softmax_cross_entropy(logits, np.array([0, 2]))
    assert np.isfinite(loss) and loss == pytest.approx(np.log(3) / 2)
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-15)
    loss_bad, _ = softmax_cross_entropy(logits, np.array([2, 2]))
    assert loss_bad == pytest.approx((2000 + np.log(3)) / 2)


def test_inference_forward_keeps_no_cache_but_can_keep_attention():
    net, x, mask, y, _ = make(m=1, dropout=0.5)
    logits, cache = net.forward(x, mask)
    assert cache is None
    logits2, cache2 = net.forward(x, mask, keep_attention=True)
    np.testing.assert_array_equal(to_host(logits), to_host(logits2))
    assert cache2.attention.shape == (T, B, D)
    with pytest.raises(ValueError, match="needs rng"):
        net.forward(x, mask, train=True)


def test_a_sequence_with_no_valid_step_is_an_error_naming_it(device):
    for readout in ("mean", "last"):
        net, x, mask, y, _ = make(readout=readout, device=device)
        mask[:, 2] = 0                                            # sequence 2 is all padding
        with pytest.raises(ValueError, match="mask: sequence 2 of the batch has no valid step"):
            net.forward(x, mask)
        with pytest.raises(ValueError, match="mask: sequence 2 of the batch has no valid step"):
            net.loss_and_grads(x, y, mask, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"mask must have shape \(T, B\) = \(4, 3\)"):
        net.forward(x, mask[:, :2])


def test_labels_outside_the_classes_or_not_integers_are_errors_naming_them(device):
    net, x, mask, y, _ = make(device=device)
    xp = net.xp
    logits, _ = net.forward(x, mask)
    with pytest.raises(ValueError, match=r"label -1 of sequence 1 of the batch is outside 0..2 \(3 classes\)"):
        softmax_cross_entropy(logits, xp.asarray(np.array([0, -1, 1])))          # not the last class in disguise
    with pytest.raises(ValueError, match="label 3 of sequence 0 of the batch is outside 0..2"):
        net.loss_and_grads(x, xp.asarray(np.array([3, 0, 1])), mask, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="labels y must be integers"):
        softmax_cross_entropy(logits, xp.asarray(np.array([0.0, 1.0, 1.0])))
    with pytest.raises(ValueError, match=r"labels y must have shape \(B,\) = \(3,\)"):
        softmax_cross_entropy(logits, xp.asarray(np.array([0, 1])))
