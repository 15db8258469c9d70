import numpy as np
import pytest

from minieleatt.functional import gru_forward, param_shapes

from .equations import gru_step


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("kind", [None, "sigmoid", "softmax"])
def test_forward_follows_the_equations_step_by_step(kind, reset_after, rng):
    T, B, D, H = 4, 3, 5, 3
    p = {k: rng.standard_normal(s) for k, s in param_shapes("gru", D, H, kind, reset_after).items()}
    x, h = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    mask = np.ones((T, B), dtype=bool); mask[1:, 2] = False
    hs, _ = gru_forward(x, p, h, mask, kind, reset_after)
    for t in range(T):
        h = np.where(mask[t][:, None], gru_step(x[t], h, p, kind, reset_after), h)
        np.testing.assert_allclose(hs[t], h, rtol=1e-12, atol=1e-14)


def test_the_two_reset_variants_differ():
    rng = np.random.default_rng(0)
    p = {k: rng.standard_normal(s) for k, s in param_shapes("gru", 3, 4, "sigmoid", True).items()}
    p["b_hn"][:] = 0          # with b_hn = 0 the variants still differ: r multiplies before or after W_hn
    x, h = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 4))
    before, _ = gru_forward(x, {k: v for k, v in p.items() if k != "b_hn"}, h, reset_after=False)
    after, _ = gru_forward(x, p, h, reset_after=True)
    assert np.abs(before - after).max() > 1e-3
