"""The choice of implementation (``minieleatt/implementations.py``): explicit, passed down, never global."""

import ast
import pathlib
import types

import numpy as np
import pytest

import minieleatt
from minieleatt import EleAttGRU, EleAttLSTM
from minieleatt.fast.caches import GRUCache
from minieleatt.functional.scan import SequenceCache
from minieleatt.implementations import IMPLS, check_impl, resolve_impl, sequence_backward, sequence_forward
from minieleatt.nn import EleAttNet


def _gru(rng, D=3, H=4):
    layer = EleAttGRU(D, H, seed=1)
    return layer, rng.standard_normal((5, 2, D))


def test_impl_names_are_checked():
    assert IMPLS == ("auto", "reference", "fast", "fused")
    with pytest.raises(ValueError, match="impl must be one of 'auto', 'reference', 'fast', 'fused', got 'quick'"):
        check_impl("quick")
    with pytest.raises(ValueError, match="impl must be one of"):
        EleAttGRU(3, 4, impl="cuda")


def test_auto_picks_the_fast_path_of_the_array_module():
    assert resolve_impl("auto", np) == "fast"
    assert resolve_impl("auto", types.SimpleNamespace(__name__="cupy")) == "fused"
    assert resolve_impl("reference", np) == "reference"


@pytest.mark.parametrize("impl,cache_type", [("auto", GRUCache), ("fast", GRUCache), ("fused", GRUCache),
                                             ("reference", SequenceCache)])
def test_the_layer_runs_the_implementation_it_is_given(impl, cache_type, rng):
    layer, x = _gru(rng)
    layer.impl = impl
    hs, cache = layer.forward(x)
    assert type(cache) is cache_type
    _, ref = layer.forward(x, impl="reference")                   # a per-call choice overrides the layer's
    assert type(ref) is SequenceCache
    dx, _, grads = layer.backward(np.ones_like(hs), cache)       # backward follows the cache
    dx_ref, _, grads_ref = layer.backward(np.ones_like(hs), ref)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-13)


def test_a_cache_goes_back_through_the_implementation_that_made_it(rng):
    layer, x = _gru(rng)
    hs, ref = layer.forward(x, impl="reference")
    with pytest.raises(ValueError, match="impl='fast' cannot backpropagate a cache made by the reference"):
        layer.backward(hs, ref, impl="fast")
    hs, fast = layer.forward(x, impl="fast")
    with pytest.raises(ValueError, match="impl='reference' cannot backpropagate a cache made by a fast implementation"):
        layer.backward(hs, fast, impl="reference")
    layer.backward(hs, fast, impl="fused")                         # the two stacked paths read each other's caches


def test_fast_refuses_arrays_it_cannot_run_and_reset_after_belongs_to_the_gru(rng, monkeypatch):
    layer = EleAttLSTM(3, 4)
    with pytest.raises(ValueError, match="reset_after applies to the GRU only"):
        sequence_forward("lstm", rng.standard_normal((2, 1, 3)), layer.params, reset_after=True)
    with pytest.raises(ValueError, match="cell must be one of"):
        sequence_backward("tcn", None, None)


def test_the_network_and_the_trainer_pass_impl_to_every_layer():
    net = EleAttNet(3, 2, hidden_size=4, num_layers=2, attention_layers=1, impl="reference")
    assert [layer.impl for layer in net.layers] == ["reference", "reference"]
    x, mask = np.random.default_rng(0).standard_normal((4, 2, 3)).astype("float32"), np.ones((4, 2), "float32")
    _, cache = net.forward(x, mask, train=True, rng=np.random.default_rng(0))
    assert all(type(c) is SequenceCache for c in cache.layer_caches)
    logits_auto, _ = EleAttNet(3, 2, hidden_size=4, num_layers=2, attention_layers=1).forward(x, mask)
    logits_ref, _ = net.forward(x, mask)
    np.testing.assert_allclose(logits_auto, logits_ref, rtol=1e-5, atol=1e-6)

    from minieleatt.train import TrainConfig, Trainer
    data = types.SimpleNamespace(sequences=[np.ones((3, 3), "float32")] * 4, labels=np.array([0, 1, 0, 1]))
    trainer = Trainer(TrainConfig(hidden_size=4, num_layers=2, impl="reference", epochs=1), data, progress=False,
                      log=lambda *a: None)
    assert [layer.impl for layer in trainer.net.layers] == ["reference", "reference"]


def test_no_module_holds_a_mutable_implementation_switch():
    """The choice is an argument: no module-level True/False flag anywhere in the package."""
    root = pathlib.Path(minieleatt.__file__).parent
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, bool):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                assert not names, f"{path.relative_to(root)}:{node.lineno} holds a module-level switch {names}"
        for node in ast.walk(tree):
            assert not (isinstance(node, ast.Global)), f"{path.relative_to(root)}:{node.lineno} uses global"
