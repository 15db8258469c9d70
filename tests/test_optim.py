import math

import numpy as np
import pytest

from minieleatt.optim import SGD, Adam, EarlyStopping, ReduceLROnPlateau, Smoothed, clip_by_global_norm, global_norm


def params():
    return {"W": np.array([[1.0, -2.0], [0.5, 0.0]]), "b": np.array([0.1, -0.1])}


def test_sgd_with_momentum_by_hand():
    p = params()
    opt = SGD(p, lr=0.1, momentum=0.9)
    g = {"W": np.ones((2, 2)), "b": np.array([1.0, 2.0])}
    opt.step(g)
    opt.step(g)
    # v1 = g, v2 = 0.9 g + g = 1.9 g; p = p0 - 0.1 (g + 1.9 g)
    np.testing.assert_allclose(p["W"], params()["W"] - 0.29 * g["W"])
    np.testing.assert_allclose(p["b"], params()["b"] - 0.29 * g["b"])


def test_adam_by_hand_and_weight_decay_on_matrices_only():
    p = params()
    opt = Adam(p, lr=0.01, weight_decay=0.5)
    g = {"W": np.full((2, 2), 0.2), "b": np.array([0.3, -0.3])}
    opt.step(g)
    # first step of Adam moves every entry by lr * sign(g) (bias-corrected m / sqrt(v) = g/|g|)
    gw = g["W"] + 0.5 * params()["W"]
    np.testing.assert_allclose(p["W"], params()["W"] - 0.01 * gw / (np.abs(gw) + 1e-8), rtol=1e-6)
    np.testing.assert_allclose(p["b"], params()["b"] - 0.01 * np.sign(g["b"]), rtol=1e-6)


def test_adam_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    p = {"W": rng.standard_normal((3, 2))}
    t = torch.tensor(p["W"].copy(), requires_grad=True)
    ours = Adam(p, lr=0.05)
    theirs = torch.optim.Adam([t], lr=0.05)
    for _ in range(5):
        g = rng.standard_normal((3, 2))
        ours.step({"W": g})
        t.grad = torch.tensor(g)
        theirs.step()
    np.testing.assert_allclose(p["W"], t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_float32_parameters_stay_float32():
    p = {"W": np.ones((2, 2), np.float32)}
    for opt in (SGD(p, lr=0.1), Adam(p, lr=0.1, weight_decay=0.1)):
        opt.step({"W": np.ones((2, 2), np.float32)})
        assert p["W"].dtype == np.float32


def test_clipping_by_global_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert global_norm(g) == 5.0
    assert clip_by_global_norm(g, 1.0) == 5.0
    assert global_norm(g) == pytest.approx(1.0)
    np.testing.assert_allclose(g["a"], [0.6, 0.0])
    small = {"a": np.array([0.3])}
    clip_by_global_norm(small, 1.0)
    np.testing.assert_array_equal(small["a"], [0.3])


def test_bad_settings():
    with pytest.raises(ValueError, match="learning rate must be positive"):
        Adam(params(), lr=0)
    with pytest.raises(ValueError, match="momentum"):
        SGD(params(), momentum=1.0)
    with pytest.raises(ValueError, match=r"no gradient for parameters \['b'\]"):
        SGD(params()).step({"W": np.ones((2, 2))})


def test_learning_rate_drops_when_the_monitored_loss_stalls():
    opt = SGD(params(), lr=0.5)
    sched = ReduceLROnPlateau(opt, factor=0.1, patience=2, min_lr=1e-3)
    losses = [1.0, 0.9, 0.9, 0.9995, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    reduced = [sched.step(v) for v in losses]
    # 0.9995 is not below 0.9 - 0.1 %: stalled; a cut after 2 stalled epochs, then a fresh count
    assert reduced == [False, False, False, True, False, False, False, True, False, True, False, False]
    assert opt.lr == pytest.approx(1e-3)         # 0.5 -> 0.05 -> 0.005 -> floor


def test_patience_0_turns_the_schedule_and_early_stopping_off():
    opt = SGD(params(), lr=0.5)
    sched = ReduceLROnPlateau(opt, patience=0)
    stop = EarlyStopping(patience=0)
    for epoch in range(1, 50):
        assert not sched.step(1.0)
        assert stop.step(1.0, epoch)[1] is False
    assert opt.lr == 0.5 and stop.best_epoch == 1


def test_early_stopping_restart_and_state_round_trip():
    stop = EarlyStopping(patience=2)
    assert stop.step(0.5, 1) == (True, False)
    assert stop.step(0.6, 2) == (False, False)
    assert stop.step(0.5, 3) == (False, True)        # a tie is no improvement
    assert stop.best_epoch == 1
    stop.restart()
    assert stop.step(0.55, 4) == (False, False)      # a fresh patience
    assert stop.step(0.4, 5) == (True, False) and stop.best_epoch == 5
    again = EarlyStopping(patience=2)
    again.load_state(stop.state())
    assert again.state() == stop.state()
    s = Smoothed(0.5)
    assert [s.update(v) for v in (4.0, 2.0, 2.0)] == [4.0, 3.0, 2.5]
    s2 = Smoothed(0.5)
    s2.load_state(s.state())
    assert s2.update(0.5) == 1.5
    opt = Adam(params(), lr=0.1)
    opt.step({"W": np.ones((2, 2)), "b": np.ones(2)})
    other = Adam(params(), lr=0.3)
    other.load_state({k: v.copy() for k, v in opt.state_arrays().items()}, opt.state_numbers())
    assert other.lr == 0.1 and other.steps == 1
    for k, v in opt.state_arrays().items():
        np.testing.assert_array_equal(other.state_arrays()[k], v)
    assert math.isinf(EarlyStopping().best)
