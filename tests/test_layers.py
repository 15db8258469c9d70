import numpy as np
import pytest

from minieleatt import EleAttGRU, EleAttLSTM, EleAttRNN
from minieleatt.backend import to_host
from minieleatt.errors import DeviceError

LAYERS = [EleAttRNN, EleAttLSTM, EleAttGRU]


@pytest.mark.parametrize("cls", LAYERS)
def test_contract_api(cls, device):
    layer = cls(5, 4, attention=True, dtype="float64", seed=0, device=device)
    assert layer.device == device
    xp = layer.xp
    x = xp.asarray(np.random.default_rng(0).standard_normal((3, 2, 5)))
    hs, cache = layer.forward(x)
    assert hs.shape == (3, 2, 4)
    assert cache.attention.shape == (3, 2, 5)
    dx, dstate, grads = layer.backward(xp.ones_like(hs), cache)
    assert dx.shape == x.shape
    assert list(grads) == list(layer.params)
    assert all(grads[k].shape == layer.params[k].shape for k in grads)
    if cls is EleAttLSTM:
        assert isinstance(dstate, tuple) and dstate[0].shape == (2, 4) and dstate[1].shape == (2, 4)
    else:
        assert dstate.shape == (2, 4)


def test_parameter_names_follow_the_contract():
    assert list(EleAttGRU(3, 4).params) == ["W_xa", "W_ha", "b_a", "W_x", "W_h", "b"]
    assert list(EleAttGRU(3, 4, reset_after=True, attention=False).params) == ["W_x", "W_h", "b", "b_hn"]
    shapes = {k: v.shape for k, v in EleAttLSTM(3, 4).params.items()}
    assert shapes == {"W_xa": (3, 3), "W_ha": (4, 3), "b_a": (3,), "W_x": (3, 16), "W_h": (4, 16), "b": (16,)}


@pytest.mark.parametrize("cls", LAYERS)
def test_initialisation_is_uniform_in_one_over_sqrt_h_and_seeded(cls):
    H = 16
    a, b, c = cls(7, H, seed=3), cls(7, H, seed=3), cls(7, H, seed=4)
    bound = 1 / np.sqrt(H)
    for k in a.params:
        assert np.abs(a.params[k]).max() <= bound
        np.testing.assert_array_equal(a.params[k], b.params[k])
        assert not np.array_equal(a.params[k], c.params[k])
    w = a.params["W_h"]
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)      # the std of U(-k, k)


def test_dtype_device_options():
    layer = EleAttGRU(3, 4, dtype="float32")
    assert all(p.dtype == np.float32 for p in layer.params.values())
    hs, _ = layer.forward(np.zeros((2, 1, 3), np.float32))
    assert hs.dtype == np.float32
    with pytest.raises(TypeError, match="float16"):
        EleAttGRU(3, 4, dtype="float16")
    with pytest.raises(ValueError, match="input_size must be a positive integer"):
        EleAttGRU(0, 4)
    with pytest.raises(ValueError, match="device must be 'cpu' or 'gpu'"):
        EleAttGRU(3, 4, device="cuda:0")
    assert "attention='softmax'" in repr(EleAttRNN(3, 4, attention="softmax"))
    assert EleAttGRU(3, 4, attention=False).attention is None
    assert EleAttGRU(3, 4).num_params == 3 * 3 + 4 * 3 + 3 + 3 * 12 + 4 * 12 + 12


def test_gpu_layer_without_a_gpu_is_a_clear_error(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(DeviceError, match="pip install"):
        EleAttGRU(3, 4, device="gpu")


@pytest.mark.gpu
@pytest.mark.parametrize("cls", LAYERS)
def test_cpu_and_gpu_agree_to_1e10(cls):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 5))
    mask = np.ones((6, 3)); mask[4:, 0] = 0
    dhs = rng.standard_normal((6, 3, 4))
    results = []
    for device in ("cpu", "gpu"):
        layer = cls(5, 4, seed=1, device=device)
        xp = layer.xp
        hs, cache = layer.forward(xp.asarray(x), mask=xp.asarray(mask))
        dx, _, grads = layer.backward(xp.asarray(dhs), cache)
        results.append((to_host(hs), to_host(dx), to_host(grads), to_host(cache.attention)))
    (h1, d1, g1, a1), (h2, d2, g2, a2) = results
    np.testing.assert_allclose(h1, h2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(d1, d2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(a1, a2, rtol=0, atol=1e-10)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- state_dict

STATE_CASES = [(EleAttRNN, {}), (EleAttLSTM, {}), (EleAttGRU, {}), (EleAttGRU, {"reset_after": True})]


@pytest.mark.parametrize("attention", [False, "sigmoid", "softmax"])
@pytest.mark.parametrize("cls, extra", STATE_CASES)
def test_state_dict_round_trips_bit_exactly(cls, extra, attention, device):
    a = cls(3, 4, attention=attention, dtype="float32", seed=0, device=device, **extra)
    b = cls(3, 4, attention=attention, dtype="float32", seed=1, device=device, **extra)
    state = a.state_dict()
    assert sorted(state) == sorted(a.params)
    assert all(state[k] is not a.params[k] for k in state)            # copies, not the layer's own arrays
    b.load_state_dict(state)
    for k in a.params:
        assert to_host(b.params[k]).tobytes() == to_host(a.params[k]).tobytes()
    state["W_x"][...] = 0                                             # the copy is not the layer's
    assert to_host(a.params["W_x"]).any()


def test_load_state_dict_refuses_other_keys_and_shapes():
    layer = EleAttGRU(3, 4, attention=True)
    state = layer.state_dict()
    with pytest.raises(ValueError, match=r"missing keys \['W_xa'\]"):
        layer.load_state_dict({k: v for k, v in state.items() if k != "W_xa"})
    with pytest.raises(ValueError, match=r"unexpected keys \['b_hn'\]"):
        layer.load_state_dict({**state, "b_hn": np.zeros(4)})
    with pytest.raises(ValueError, match=r"W_x: \(3, 6\), expected \(3, 12\)"):
        layer.load_state_dict({**state, "W_x": np.zeros((3, 6))})


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_network_state_dict_round_trips_bit_exactly(cell):
    from minieleatt import EleAttNet

    a = EleAttNet(3, 5, cell=cell, hidden_size=4, num_layers=2, attention_layers=1, readout="mean+last", seed=0)
    b = EleAttNet(3, 5, cell=cell, hidden_size=4, num_layers=2, attention_layers=1, readout="mean+last", seed=9)
    b.load_state_dict(a.state_dict())
    assert sorted(a.state_dict()) == sorted(a.parameters())
    for k, v in a.parameters().items():
        assert b.parameters()[k].tobytes() == v.tobytes()
    with pytest.raises(ValueError, match="EleAttNet.load_state_dict: missing keys"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "fc.b"})
