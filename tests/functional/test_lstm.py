import numpy as np
import pytest

from minieleatt.functional import lstm_forward, param_shapes

from .equations import lstm_step


@pytest.mark.parametrize("kind", [None, "sigmoid", "softmax"])
def test_forward_follows_the_equations_step_by_step(kind, rng):
    T, B, D, H = 4, 3, 2, 5
    p = {k: rng.standard_normal(s) for k, s in param_shapes("lstm", D, H, kind).items()}
    x, h, c = rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    mask = np.ones((T, B)); mask[3:, 0] = 0; mask[1, 2] = 0
    h0, c0 = h, c
    hs, cache = lstm_forward(x, p, (h, c), mask, kind)
    for t in range(T):
        h_new, c_new = lstm_step(x[t], h, c, p, kind)
        keep = mask[t][:, None] > 0
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        np.testing.assert_allclose(hs[t], h, rtol=1e-12, atol=1e-14)
        _, prefix = lstm_forward(x[: t + 1], p, (h0, c0), mask[: t + 1], kind)    # c_t is the prefix's final c
        np.testing.assert_allclose(prefix.final_state[1], c, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cache.final_state[1], c, rtol=1e-12, atol=1e-14)


def test_forget_bias_shifts_only_the_forget_block():
    from minieleatt import EleAttLSTM

    H = 3
    base = EleAttLSTM(2, H, seed=5).params["b"]
    shifted = EleAttLSTM(2, H, seed=5, forget_bias=1.0).params["b"]
    np.testing.assert_allclose(shifted - base, np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])
