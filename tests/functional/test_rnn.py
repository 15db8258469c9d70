import numpy as np
import pytest

from minieleatt.functional import param_shapes, rnn_forward

from .equations import rnn_step


@pytest.mark.parametrize("kind", [None, "sigmoid", "softmax"])
def test_forward_follows_the_equations_step_by_step(kind, rng):
    T, B, D, H = 4, 3, 5, 2
    p = {k: rng.standard_normal(s) for k, s in param_shapes("rnn", D, H, kind).items()}
    x, h = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    mask = np.ones((T, B)); mask[2:, 1] = 0
    hs, _ = rnn_forward(x, p, h, mask, kind)
    for t in range(T):
        h_new = rnn_step(x[t], h, p, kind)
        h = np.where(mask[t][:, None] > 0, h_new, h)
        np.testing.assert_allclose(hs[t], h, rtol=1e-12, atol=1e-14)
