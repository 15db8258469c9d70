"""Arrays of two devices given to one call: a ``DeviceError`` at every public entry, naming the argument
and both devices. A fake CuPy-like array type stands in for a GPU array, so this runs on any machine."""

import numpy as np
import pytest

import minieleatt.functional as F
from minieleatt import EleAttGRU, EleAttLSTM
from minieleatt.backend import check_same_device
from minieleatt.errors import DeviceError
from minieleatt.gradcheck import check_gradients
from minieleatt.implementations import sequence_backward, sequence_forward
from minieleatt.nn import EleAttNet, softmax_cross_entropy


class FakeCupyArray:
    """Looks like a ``cupy.ndarray`` to the library (its type's module is cupy's), holds NumPy data."""

    __module__ = "cupy._core.core"

    def __init__(self, a):
        self.a = np.asarray(a)
        self.shape, self.dtype, self.ndim, self.size = self.a.shape, self.a.dtype, self.a.ndim, self.a.size

    def __getitem__(self, index):
        return FakeCupyArray(self.a[index])

    def __len__(self):
        return len(self.a)


def gpu(a):
    return FakeCupyArray(a)


GPU = r"GPU \(a CuPy array\)"
CPU = r"CPU \(a NumPy array\)"


def _gru_problem(D=3, H=4, T=5, B=2):
    layer = EleAttGRU(D, H, seed=0)
    x = np.random.default_rng(0).standard_normal((T, B, D))
    return layer, x


def test_the_message_names_both_arguments_and_both_devices():
    with pytest.raises(DeviceError, match=rf"params\['b'\] is on the {GPU} but x is on the {CPU}; move them"):
        check_same_device(x=np.zeros(2), params={"W": np.zeros(2), "b": gpu(np.zeros(2))})
    check_same_device(x=np.zeros(2), mask=None, state=(np.zeros(1), np.zeros(1)))


@pytest.mark.parametrize("impl", ["reference", "fast", "fused"])
def test_sequence_functions(impl):
    layer, x = _gru_problem()
    with pytest.raises(DeviceError, match=rf"params\['W_xa'\] is on the {CPU} but x is on the {GPU}"):
        sequence_forward("gru", gpu(x), layer.params, impl=impl)
    with pytest.raises(DeviceError, match=rf"mask is on the {GPU} but x is on the {CPU}"):
        sequence_forward("gru", x, layer.params, mask=gpu(np.ones((5, 2))), impl=impl)
    with pytest.raises(DeviceError, match=rf"h0 is on the {GPU} but x is on the {CPU}"):
        sequence_forward("gru", x, layer.params, gpu(np.zeros((2, 4))), impl=impl)
    hs, cache = sequence_forward("gru", x, layer.params, impl=impl)
    with pytest.raises(DeviceError, match=rf"dhs is on the {GPU} but the cache .* is on the {CPU}"):
        sequence_backward("gru", gpu(hs), cache)
    with pytest.raises(DeviceError, match=rf"dh_T is on the {GPU} but the cache .* is on the {CPU}"):
        sequence_backward("gru", hs, cache, gpu(np.zeros((2, 4))))


def test_the_lstm_state_pair_names_its_half():
    layer = EleAttLSTM(3, 4)
    x = np.zeros((2, 1, 3))
    with pytest.raises(DeviceError, match=rf"c0 is on the {GPU} but x is on the {CPU}"):
        layer.forward(x, (np.zeros((1, 4)), gpu(np.zeros((1, 4)))))
    with pytest.raises(DeviceError, match=rf"c_prev is on the {GPU} but x_t is on the {CPU}"):
        F.lstm_step_forward(x[0], (np.zeros((1, 4)), gpu(np.zeros((1, 4)))), layer.params)


def test_step_functions():
    layer, x = _gru_problem()
    with pytest.raises(DeviceError, match=rf"h_prev is on the {GPU} but x_t is on the {CPU}"):
        F.gru_step_forward(x[0], gpu(np.zeros((2, 4))), layer.params)
    with pytest.raises(DeviceError, match=rf"h_prev is on the {CPU} but x_t is on the {GPU}"):
        F.gru_step_forward(gpu(x[0]), np.zeros((2, 4)), layer.params)
    with pytest.raises(DeviceError, match=rf"params\['W_xa'\] is on the {CPU} but x_t is on the {GPU}"):
        F.gate_step_forward(gpu(x[0]), gpu(np.zeros((2, 4))), layer.params)


def test_a_layer_whose_parameters_are_on_the_other_device():
    layer, x = _gru_problem()
    layer.params = {k: gpu(v) for k, v in layer.params.items()}          # as if layer.to('gpu')
    with pytest.raises(DeviceError, match=rf"params\['W_xa'\] is on the {GPU} but x is on the {CPU}"):
        layer.forward(x)


def test_the_network_and_its_loss():
    net = EleAttNet(3, 2, hidden_size=4, num_layers=2, dtype="float64")
    x, mask = np.zeros((4, 2, 3)), np.ones((4, 2))
    with pytest.raises(DeviceError, match=rf"mask is on the {CPU} but x is on the {GPU}"):
        net.forward(gpu(x), mask)
    with pytest.raises(DeviceError, match=rf"parameters\['layers.0.W_xa'\] is on the {CPU} but x is on the {GPU}"):
        net.forward(gpu(x))
    with pytest.raises(DeviceError, match=rf"mask is on the {GPU} but x is on the {CPU}"):
        net.forward(x, gpu(mask))
    logits, cache = net.forward(x, mask, train=True, rng=np.random.default_rng(0))
    with pytest.raises(DeviceError, match=rf"y is on the {GPU} but logits is on the {CPU}"):
        softmax_cross_entropy(logits, gpu(np.array([0, 1])))
    with pytest.raises(DeviceError, match=rf"parameters\['layers.0.W_xa'\] is on the {CPU} but dlogits is on the {GPU}"):
        net.backward(gpu(np.zeros((2, 2))), cache)


def test_the_gradient_checker():
    inputs = {"W": np.ones(3)}
    with pytest.raises(DeviceError, match=rf"analytic\['W'\] is on the {GPU} but inputs\['W'\] is on the {CPU}"):
        check_gradients(lambda inp: inp["W"], inputs, {"W": gpu(np.ones(3))}, np.ones(3))
    with pytest.raises(DeviceError, match=rf"dout is on the {GPU}"):
        check_gradients(lambda inp: inp["W"], inputs, {"W": np.ones(3)}, gpu(np.ones(3)))


def test_the_trainer_names_the_sequence_or_labels_on_the_gpu():
    from minieleatt.data.sources import Dataset
    from minieleatt.train import Trainer, TrainConfig

    rng = np.random.default_rng(0)
    seqs, labels = [rng.standard_normal((5, 3)) for _ in range(6)], np.array([0, 1] * 3)
    config = TrainConfig(hidden_size=4, num_layers=1, epochs=1, batch_size=2)
    with pytest.raises(DeviceError, match=rf"train_data.sequences\[2\] is on the {GPU} but data sets are kept on the CPU"):
        Trainer(config, Dataset(seqs[:2] + [gpu(seqs[2])] + seqs[3:], labels, ("a", "b")), progress=False,
                log=lambda *a: None)
    with pytest.raises(DeviceError, match=rf"val_data.labels is on the {GPU}"):
        Trainer(config, Dataset(seqs, labels, ("a", "b")), Dataset(seqs, gpu(labels), ("a", "b")), progress=False,
                log=lambda *a: None)
    trainer = Trainer(config, Dataset(seqs, labels, ("a", "b")), progress=False, log=lambda *a: None)
    with pytest.raises(DeviceError, match=rf"data.sequences\[0\] is on the {GPU}.*to_host"):
        trainer.evaluate(Dataset([gpu(s) for s in seqs], labels, ("a", "b")))
