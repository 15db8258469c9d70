"""The PyTorch bridge: weights both ways, the torch modules against our layers, the refusals.

PyTorch is an optional dependency; without it these tests skip.
"""

import subprocess
import sys

import numpy as np
import pytest

from minieleatt import EleAttGRU, EleAttLSTM, EleAttRNN, from_torch, to_torch
from minieleatt.errors import ConversionError
from minieleatt.layers import LAYERS
from minieleatt.nn import EleAttNet

torch = pytest.importorskip("torch")
from minieleatt.interop import (EleAttGRUTorch, EleAttLSTMTorch, EleAttNetTorch, EleAttRNNTorch,  # noqa: E402
                                MaskedRecurrent, gradients_from_torch)

T, B, D, H = 6, 4, 3, 5
CLOSE = dict(rtol=1e-10, atol=1e-12)

# every layer configuration: cell, gate, GRU variant
CONFIGS = [(cell, att, ra) for cell, variants in (("rnn", [False]), ("lstm", [False]), ("gru", [False, True]))
           for ra in variants for att in (None, "sigmoid", "softmax")]
CONFIG_IDS = [f"{c}-{a or 'plain'}{'-after' if c == 'gru' and r else '-before' if c == 'gru' else ''}"
              for c, a, r in CONFIGS]


def make_layer(cell, attention, reset_after, dtype="float64", seed=3, device="cpu"):
    kwargs = {"reset_after": reset_after} if cell == "gru" else {}
    layer = LAYERS[cell](D, H, attention=attention, dtype=dtype, seed=seed, device=device, **kwargs)
    rng = np.random.default_rng(seed)
    for k, p in layer.params.items():            # away from the initialisation, every entry non-zero
        p += layer.xp.asarray((0.4 * rng.standard_normal(p.shape)).astype(layer.dtype))
    return layer


def masks():
    """None, a padded tail (valid steps a prefix: MaskedRecurrent packs it), a hole (it steps)."""
    tail = np.ones((T, B))
    tail[4:, 0] = 0
    tail[1:, 2] = 0
    hole = tail.copy()
    hole[2, 3] = 0
    hole[0, 1] = 0                               # a padded first step: the initial state is carried
    return {"none": None, "tail": tail, "hole": hole}


MASKS = masks()


def run_torch(module, x, state, mask):
    """Forward of what to_torch returned, in our layout: (hs, final_state)."""
    tmask = None if mask is None else torch.tensor(mask)
    if isinstance(module, torch.nn.RNNBase):
        lstm = isinstance(state, tuple)
        hx = None if state is None else tuple(s[None] for s in state) if lstm else state[None]
        hs, h_n = MaskedRecurrent(module)(x, hx, mask=tmask)
        return hs, (tuple(s[0] for s in h_n) if isinstance(h_n, tuple) else h_n[0])
    return module(x, state, mask=tmask)


def torch_param_grads(module, cell):
    """The gradients of a bridged module by our names, written out here (not with gradients_from_torch)."""
    if not isinstance(module, torch.nn.RNNBase):
        return {name: p.grad.numpy() for name, p in module.named_parameters()}
    g = {"W_x": module.weight_ih_l0.grad.numpy().T, "W_h": module.weight_hh_l0.grad.numpy().T,
         "b": module.bias_ih_l0.grad.numpy()}
    if cell == "gru":
        g["b_hn"] = module.bias_hh_l0.grad.numpy()[2 * H:]
        np.testing.assert_allclose(module.bias_hh_l0.grad.numpy()[: 2 * H], g["b"][: 2 * H], **CLOSE)
    else:
        np.testing.assert_allclose(module.bias_hh_l0.grad.numpy(), g["b"], **CLOSE)
    return g


def assert_carried(hs, state0, mask):
    """Where the mask is 0, the output is exactly the previous step's (the initial state at t = 0)."""
    prev = np.concatenate([state0[None], hs[:-1]])
    pad = mask == 0
    assert pad.any()
    np.testing.assert_array_equal(hs[pad], prev[pad])


# ----------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell,attention,reset_after", CONFIGS, ids=CONFIG_IDS)
def test_ours_to_torch_to_ours_is_exact_to_the_bit(cell, attention, reset_after, dtype):
    layer = make_layer(cell, attention, reset_after, dtype)
    module = to_torch(layer)
    native = attention is None and (cell != "gru" or reset_after)
    expected = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell] if native else \
        {"rnn": EleAttRNNTorch, "lstm": EleAttLSTMTorch, "gru": EleAttGRUTorch}[cell]
    assert type(module) is expected
    assert next(module.parameters()).dtype == getattr(torch, dtype)
    if not native:                                          # our names and shapes in the state dict
        assert [k for k in module.state_dict() if k != "_extra_state"] == list(layer.params)
    for back in (from_torch(module), from_torch(module.state_dict(), cell=cell)):
        assert type(back) is type(layer)
        assert back.attention == layer.attention and back.dtype == layer.dtype
        assert getattr(back, "reset_after", None) == getattr(layer, "reset_after", None)
        assert list(back.params) == list(layer.params)
        for k, p in layer.params.items():
            assert back.params[k].dtype == p.dtype
            assert back.params[k].tobytes() == p.tobytes(), k


def test_a_torch_made_gru_comes_in_as_reset_after_and_goes_back_computing_the_same():
    torch.manual_seed(0)
    gru = torch.nn.GRU(D, H, dtype=torch.float64)
    layer = from_torch(gru)
    assert isinstance(layer, EleAttGRU) and layer.reset_after and layer.attention is None
    b_ih, b_hh = gru.bias_ih_l0.detach().numpy(), gru.bias_hh_l0.detach().numpy()
    np.testing.assert_array_equal(layer.params["b_hn"], b_hh[2 * H:])
    np.testing.assert_array_equal(layer.params["b"], b_ih + np.r_[b_hh[: 2 * H], np.zeros(H)])
    again = to_torch(layer)                                 # bias_hh's r, z blocks moved into bias_ih
    x = torch.randn(T, B, D, dtype=torch.float64)
    np.testing.assert_allclose(again(x)[0].detach().numpy(), gru(x)[0].detach().numpy(), **CLOSE)


# ----------------------------------------------------------------------------- forward and backward

@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("cell,attention,reset_after", CONFIGS, ids=CONFIG_IDS)
def test_bridged_module_computes_our_outputs_and_every_gradient(cell, attention, reset_after, mask_kind):
    layer = make_layer(cell, attention, reset_after)
    module = to_torch(layer)
    mask = MASKS[mask_kind]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((T, B, D))
    h0 = 0.5 * rng.standard_normal((B, H))
    c0 = 0.5 * rng.standard_normal((B, H))
    dhs, dh_T, dc_T = rng.standard_normal((T, B, H)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    lstm = cell == "lstm"

    hs, cache = layer.forward(x, (h0, c0) if lstm else h0, mask)
    dx, dstate, grads = layer.backward(dhs, cache, (dh_T, dc_T) if lstm else dh_T)

    tx = torch.tensor(x, requires_grad=True)
    th0, tc0 = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    ths, tfinal = run_torch(module, tx, (th0, tc0) if lstm else th0, mask)
    th_T = tfinal[0] if lstm else tfinal
    loss = (ths * torch.tensor(dhs)).sum() + (th_T * torch.tensor(dh_T)).sum()
    if lstm:
        loss = loss + (tfinal[1] * torch.tensor(dc_T)).sum()
        np.testing.assert_allclose(tfinal[1].detach().numpy(), cache.final_state[1], **CLOSE)
    loss.backward()

    np.testing.assert_allclose(ths.detach().numpy(), hs, **CLOSE)
    np.testing.assert_allclose(th_T.detach().numpy(), cache.final_state[0] if lstm else cache.final_state, **CLOSE)
    np.testing.assert_allclose(tx.grad.numpy(), dx, **CLOSE)
    np.testing.assert_allclose(th0.grad.numpy(), dstate[0] if lstm else dstate, **CLOSE)
    if lstm:
        np.testing.assert_allclose(tc0.grad.numpy(), dstate[1], **CLOSE)
    theirs = torch_param_grads(module, cell)
    assert sorted(theirs) == sorted(grads)
    for k in grads:
        np.testing.assert_allclose(theirs[k], grads[k], err_msg=k, **CLOSE)
    if attention is not None:
        _, _, a = module(tx, (th0, tc0) if lstm else th0, mask=None if mask is None else torch.tensor(mask),
                         return_attention=True)
        np.testing.assert_allclose(a.detach().numpy(), cache.attention, **CLOSE)
    if mask is not None:                                    # padded steps carry the state, in both
        assert_carried(hs, h0, mask)
        assert_carried(ths.detach().numpy(), h0, mask)


@pytest.mark.parametrize("cell,attention,reset_after", [c for c in CONFIGS if c[1] != "softmax"])
def test_gradients_from_torch_maps_back_to_our_names(cell, attention, reset_after):
    layer = make_layer(cell, attention, reset_after)
    module = to_torch(layer)
    x = torch.randn(T, B, D, dtype=torch.float64)
    hs, _ = run_torch(module, x, None, MASKS["hole"])
    (hs ** 2).sum().backward()
    hs_ours, cache = layer.forward(x.numpy(), mask=MASKS["hole"])
    _, _, grads = layer.backward(2 * hs_ours, cache)
    mapped = gradients_from_torch(module)
    assert list(mapped) == list(grads)
    for k in grads:
        np.testing.assert_allclose(mapped[k], grads[k], err_msg=k, **CLOSE)


# ----------------------------------------------------------------------------- torch -> ours

def test_a_trained_two_layer_gru_comes_in_and_matches_torch():
    torch.manual_seed(1)
    gru = torch.nn.GRU(D, H, num_layers=2, batch_first=True, dtype=torch.float64)
    opt = torch.optim.Adam(gru.parameters(), lr=0.05)
    xb = torch.randn(B, T, D, dtype=torch.float64)
    target = torch.randn(B, T, H, dtype=torch.float64)
    for _ in range(5):                                      # a few steps: both bias vectors move off their init
        opt.zero_grad()
        ((gru(xb)[0] - target) ** 2).mean().backward()
        opt.step()
    h0 = torch.randn(2, B, H, dtype=torch.float64)
    with torch.no_grad():
        out, h_n = gru(xb, h0)

    layers = from_torch(gru)
    assert isinstance(layers, list) and len(layers) == 2
    assert [(l.input_size, l.hidden_size, l.reset_after, l.attention) for l in layers] == \
        [(D, H, True, None), (H, H, True, None)]
    h = xb.numpy().transpose(1, 0, 2)                       # ours are time-major
    finals = []
    for k, layer in enumerate(layers):
        h, cache = layer.forward(h, h0[k].numpy())
        finals.append(cache.final_state)
    np.testing.assert_allclose(h.transpose(1, 0, 2), out.numpy(), **CLOSE)
    np.testing.assert_allclose(np.stack(finals), h_n.numpy(), **CLOSE)


def test_bias_free_and_dropout_modules_convert():
    torch.manual_seed(2)
    lstm = torch.nn.LSTM(D, H, num_layers=2, bias=False, dropout=0.3, dtype=torch.float64).eval()
    layers = from_torch(lstm)
    assert all(not l.params["b"].any() for l in layers)
    x = torch.randn(T, B, D, dtype=torch.float64)
    h = x.numpy()
    for layer in layers:
        h, _ = layer.forward(h)
    np.testing.assert_allclose(h, lstm(x)[0].detach().numpy(), **CLOSE)


def test_from_torch_keeps_or_converts_the_dtype():
    rnn = torch.nn.RNN(D, H)                                # float32
    assert from_torch(rnn).dtype == np.float32
    layer = from_torch(rnn, dtype="float64")
    assert layer.dtype == np.float64
    np.testing.assert_array_equal(layer.params["W_x"], rnn.weight_ih_l0.detach().double().numpy().T)


def test_layers_on_any_device_cross_the_bridge(device):
    layer = make_layer("gru", "sigmoid", False, device=device)
    module = to_torch(layer)                                # from the GPU: copied to the host first
    assert next(module.parameters()).device.type == "cpu"
    back = from_torch(module, device=device)
    assert back.device == device
    for k, p in layer.params.items():
        np.testing.assert_array_equal(back.xp.asnumpy(back.params[k]) if device == "gpu" else back.params[k],
                                      p.get() if device == "gpu" else p)


# ----------------------------------------------------------------------------- refusals

@pytest.mark.parametrize("make,feature", [
    (lambda: torch.nn.GRU(D, H, bidirectional=True), "bidirectional=True"),
    (lambda: torch.nn.LSTM(D, H, proj_size=2), "proj_size=2"),
    (lambda: torch.nn.RNN(D, H, nonlinearity="relu"), "nonlinearity='relu'"),
    (lambda: torch.nn.GRU(D, H).half(), "torch.float16"),
    (lambda: torch.nn.GRU(D, H).bfloat16(), "torch.bfloat16"),
], ids=["bidirectional", "proj_size", "relu", "float16", "bfloat16"])
def test_what_has_no_equivalent_is_refused_by_name(make, feature):
    module = make()
    with pytest.raises(ConversionError, match=feature.replace("(", r"\(").replace(".", r"\.")):
        from_torch(module)
    if feature.startswith(("bidirectional", "proj")):       # the same from a state dict
        key = "_reverse" if feature.startswith("bidirectional") else "weight_hr_l"
        with pytest.raises(ConversionError, match=key):
            from_torch(module.state_dict())


def test_half_precision_converts_with_a_dtype():
    gru = torch.nn.GRU(D, H).half()
    assert from_torch(gru, dtype="float32").dtype == np.float32


def test_state_dicts_that_do_not_say_enough_are_refused():
    with pytest.raises(ConversionError, match="pass cell='rnn'"):
        from_torch(torch.nn.RNN(D, H).state_dict())
    with pytest.raises(ConversionError, match="cell='gru'.*'lstm'"):
        from_torch(torch.nn.LSTM(D, H).state_dict(), cell="gru")
    with pytest.raises(ConversionError, match="not recognised"):
        from_torch({"weight": torch.zeros(3, 3)})
    with pytest.raises(ConversionError, match="prefix 'enc.'"):
        from_torch(torch.nn.GRU(D, H).state_dict(), prefix="enc.")
    with pytest.raises(ValueError, match="cell is for state dicts only"):
        from_torch(torch.nn.GRU(D, H), cell="gru")


def test_prefixed_state_dicts_and_batch_first_modules_convert():
    model = torch.nn.Module()
    model.enc = torch.nn.GRU(D, H, batch_first=True)
    layer = from_torch(model.state_dict(), prefix="enc.")
    np.testing.assert_array_equal(layer.params["W_h"], model.enc.weight_hh_l0.detach().numpy().T)


def test_wrong_objects_are_type_errors():
    with pytest.raises(TypeError, match="to_torch: obj must be"):
        to_torch(torch.nn.GRU(D, H))
    with pytest.raises(TypeError, match="from_torch: obj must be"):
        from_torch(EleAttGRU(D, H))
    with pytest.raises(TypeError, match="rnn must be a torch.nn.RNN"):
        MaskedRecurrent(torch.nn.Linear(D, H))
    with pytest.raises(ValueError, match="bidirectional"):
        MaskedRecurrent(torch.nn.GRU(D, H, bidirectional=True))


def test_a_state_dict_of_another_layer_is_refused():
    sd = to_torch(EleAttGRU(D, H, attention="softmax")).state_dict()
    other = EleAttGRUTorch(D, H, attention="sigmoid")
    with pytest.raises(ValueError, match="state dict of another layer"):
        other.load_state_dict(sd)


# ----------------------------------------------------------------------------- masks on torch.nn layers

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_masked_recurrent_packs_or_steps_and_honours_batch_first(cell):
    torch.manual_seed(3)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        D, H, num_layers=2, dtype=torch.float64)
    wrapped = MaskedRecurrent(module)
    x = torch.randn(T, B, D, dtype=torch.float64)
    tail = torch.tensor(MASKS["tail"])
    packed_out, packed_h = wrapped(x, mask=tail)
    stepped_out, stepped_h = wrapped._stepped(x, None, tail != 0)
    np.testing.assert_allclose(packed_out.detach().numpy(), stepped_out.detach().numpy(), **CLOSE)
    for a, b in zip(packed_h if cell == "lstm" else [packed_h], stepped_h if cell == "lstm" else [stepped_h]):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **CLOSE)
    assert_carried(packed_out.detach().numpy(), np.zeros((B, H)), MASKS["tail"])
    # the last output is the state after each sequence's last valid step, which is h_n's top layer
    top = (packed_h[0] if cell == "lstm" else packed_h)[-1]
    np.testing.assert_array_equal(packed_out[-1].detach().numpy(), top.detach().numpy())

    module.batch_first = True
    bf_out, _ = wrapped(x.transpose(0, 1), mask=torch.tensor(MASKS["hole"]).T)
    module.batch_first = False
    out, _ = wrapped(x, mask=torch.tensor(MASKS["hole"]))
    np.testing.assert_allclose(bf_out.transpose(0, 1).detach().numpy(), out.detach().numpy(), **CLOSE)
    with pytest.raises(ValueError, match=r"mask must have shape \(T, B\)"):
        wrapped(x, mask=tail.T)


# ----------------------------------------------------------------------------- the network

@pytest.mark.parametrize("cell,reset_after,readout", [("gru", False, "mean"), ("gru", True, "last"),
                                                      ("lstm", False, "mean"), ("rnn", False, "last"),
                                                      ("gru", False, "mean+last"), ("lstm", False, "mean+last")])
def test_a_network_goes_to_torch_and_back(cell, reset_after, readout):
    net = EleAttNet(D, 4, cell=cell, hidden_size=H, num_layers=3, attention_layers=1, attention="softmax",
                    dropout=0.5, readout=readout, reset_after=reset_after, dtype="float64", seed=5)
    rng = np.random.default_rng(5)
    for p in net.parameters().values():
        p += 0.3 * rng.standard_normal(p.shape)
    module = to_torch(net)
    assert isinstance(module, EleAttNetTorch)
    native = reset_after or cell != "gru"
    assert [type(l) for l in module.layers][1:] == [MaskedRecurrent if native else EleAttGRUTorch] * 2
    x, mask = rng.standard_normal((T, B, D)), MASKS["hole"]
    logits, _ = net.forward(x, mask)
    tx = torch.tensor(x)
    np.testing.assert_allclose(module.eval()(tx, torch.tensor(mask)).detach().numpy(), logits, **CLOSE)
    torch.manual_seed(0)
    assert not np.allclose(module.train()(tx, torch.tensor(mask)).detach().numpy(), logits)   # dropout acts
    for back in (from_torch(module), from_torch(module.state_dict())):
        assert isinstance(back, EleAttNet)
        assert back.architecture() == net.architecture() and back.dropout == net.dropout
        ours, theirs = net.parameters(), back.parameters()
        assert list(ours) == list(theirs)
        for k in ours:
            assert theirs[k].tobytes() == ours[k].tobytes(), k


# ----------------------------------------------------------------------------- torch stays optional

def test_importing_minieleatt_does_not_import_torch():
    code = ("import sys, minieleatt, minieleatt.interop, minieleatt.crosscheck, minieleatt.cli; "
            "minieleatt.cli.build_parser(); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]")
    subprocess.run([sys.executable, "-c", code], check=True)
