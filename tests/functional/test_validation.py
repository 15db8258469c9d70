"""Bad input gets a clear error that names the argument, the expected and the given shape."""

import warnings

import numpy as np
import pytest

from minieleatt.functional import (gru_backward, gru_forward, log_softmax, lstm_backward, lstm_forward,
                                   param_shapes, rnn_forward, sigmoid, softmax, tanh)

T, B, D, H = 4, 2, 3, 5


def params(cell="gru", kind="sigmoid", reset_after=False, dtype="float64"):
    rng = np.random.default_rng(0)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in param_shapes(cell, D, H, kind, reset_after).items()}


X = np.zeros((T, B, D))


@pytest.mark.parametrize("x, message", [
    (np.zeros((T, D)), r"x must have shape \(T, B, D\).*got 2 dimensions \(4, 3\)"),
    (np.zeros((T, B, D, 1)), r"x must have shape \(T, B, D\).*got 4 dimensions"),
    (np.zeros((T, B, D + 1)), r"x must have shape \(T, B, D\) with D = 3 .*got \(4, 2, 4\)"),
    (np.zeros((0, B, D)), r"at least one step.*\(0, 2, 3\)"),
    (np.zeros((T, 0, D)), r"at least one step.*\(4, 0, 3\)"),
])
def test_wrong_shapes_of_x(x, message):
    with pytest.raises(ValueError, match=message):
        gru_forward(x, params())


@pytest.mark.parametrize("dtype, message", [
    ("float16", "float16 is too coarse"),
    ("int64", "x must have dtype float32 or float64, got int64"),
    ("complex128", "got complex128"),
])
def test_non_float_dtypes_are_refused(dtype, message):
    with pytest.raises(TypeError, match=message):
        gru_forward(X.astype(dtype), params())


def test_mixed_dtypes_are_refused():
    with pytest.raises(TypeError, match=r"params\['W_xa'\] has dtype float64 but the computation is in float32"):
        gru_forward(X.astype("float32"), params())


def test_a_list_is_not_an_array():
    with pytest.raises(TypeError, match="x must be a NumPy or CuPy array, got list"):
        gru_forward(X.tolist(), params())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_refused(bad):
    x = X.copy(); x[1, 0, 2] = bad
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        gru_forward(x, params())
    h0 = np.zeros((B, H)); h0[0, 0] = bad
    with pytest.raises(ValueError, match="h0 contains NaN or inf"):
        gru_forward(X, params(), h0)


def test_wrong_state_shape_names_both_shapes():
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 5\), got \(5, 2\)"):
        gru_forward(X, params(), np.zeros((H, B)))
    with pytest.raises(ValueError, match=r"c0 must have shape \(B, H\) = \(2, 5\), got \(2, 4\)"):
        lstm_forward(X, params("lstm"), (np.zeros((B, H)), np.zeros((B, 4))))
    with pytest.raises(TypeError, match=r"pair \(h, c\)"):
        lstm_forward(X, params("lstm"), np.zeros((B, H)))


@pytest.mark.parametrize("mask, error, message", [
    (np.ones((T, B + 1)), ValueError, r"mask must have shape \(T, B\) = \(4, 2\), got \(4, 3\)"),
    (np.ones(T), ValueError, r"mask must have shape \(T, B\) = \(4, 2\), got \(4\)"),
    (np.full((T, B), 0.5), ValueError, "only 0 and 1"),
    (np.full((T, B), 2), ValueError, "only 0 and 1"),
    (np.full((T, B), np.nan), ValueError, "only 0 and 1"),
    (np.array([["a"] * B] * T), TypeError, "bool or numbers"),
    ([[1, 1]] * T, TypeError, "mask must be an array"),
])
def test_bad_masks(mask, error, message):
    with pytest.raises(error, match=message):
        gru_forward(X, params(), mask=mask)


def test_masks_of_bool_int_and_float_agree():
    m = np.ones((T, B), dtype=bool); m[2:, 1] = False
    outs = [gru_forward(X + 1, params(), mask=mm)[0] for mm in (m, m.astype(int), m.astype("float32"))]
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_parameter_dicts_with_missing_or_extra_keys():
    p = params()
    with pytest.raises(ValueError, match=r"missing \['b_a'\]"):
        gru_forward(X, {k: v for k, v in p.items() if k != "b_a"})
    with pytest.raises(ValueError, match=r"unexpected \['b_hn'\]"):
        gru_forward(X, {**p, "b_hn": np.zeros(H)})
    with pytest.raises(ValueError, match=r"missing \['b_hn'\]"):
        gru_forward(X, p, reset_after=True)
    with pytest.raises(ValueError, match=r"unexpected \['W_xa', 'W_ha', 'b_a'\]"):
        gru_forward(X, p, attention=False)
    with pytest.raises(ValueError, match=r"params\['W_h'\] must have shape \(5, 15\), got \(5, 12\)"):
        gru_forward(X, {**p, "W_h": np.zeros((H, 4 * H))[:, :12]})
    with pytest.raises(ValueError, match="params must be a dict"):
        gru_forward(X, [1, 2])


def test_unknown_attention_option():
    with pytest.raises(ValueError, match="attention must be True, False, None, 'sigmoid' or 'softmax', got 'relu'"):
        rnn_forward(X, params("rnn"), attention="relu")


def test_backward_checks_its_gradients():
    hs, cache = gru_forward(X, params())
    with pytest.raises(ValueError, match=r"dhs must have shape \(4, 2, 5\), got \(4, 2, 3\)"):
        gru_backward(np.zeros((T, B, D)), cache)
    with pytest.raises(TypeError, match="dhs has dtype float32 but the computation is in float64"):
        gru_backward(np.zeros((T, B, H), "float32"), cache)
    with pytest.raises(ValueError, match=r"dh_T must have shape \(2, 5\), got \(5\)"):
        gru_backward(None, cache, np.zeros(H))
    with pytest.raises(TypeError, match="cache must be the cache returned by gru_forward, got str"):
        gru_backward(np.zeros((T, B, H)), "cache")
    _, lcache = lstm_forward(X, params("lstm"))
    with pytest.raises(TypeError, match="cache must come from gru_forward, but its steps are LSTMStepCache"):
        gru_backward(np.zeros((T, B, H)), lcache)
    with pytest.raises(TypeError, match=r"pair \(h, c\)"):
        lstm_backward(None, lcache, np.zeros((B, H)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activations_are_finite_and_accurate_at_any_magnitude(dtype):
    z = np.array([-1e4, -800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s, t = sigmoid(z), tanh(z)
        sm = softmax(np.stack([z, -z]))
        ls = log_softmax(np.stack([z, -z]))
    for out in (s, t, sm, ls):
        assert out.dtype == np.dtype(dtype)
        assert np.isfinite(out).all()
    exact = np.array([1 / (1 + np.exp(np.float64(-v))) if v > -700 else 0.0 for v in z.astype(np.float64)])
    tol = 1e-15 if dtype == "float64" else 1e-7
    np.testing.assert_allclose(s, exact, rtol=0, atol=tol)
    assert s[0] == 0 and s[-1] == 1 and s[4] == 0.5
    np.testing.assert_allclose(sm.sum(axis=-1), 1, rtol=1e-6)
    np.testing.assert_allclose(np.exp(ls), sm, atol=tol)
    assert sm[0, 0] == 0 and sm[0, -1] == 1


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_functions_name_the_wrong_argument(cell):
    from minieleatt import functional as F
    step = getattr(F, f"{cell}_step_forward")
    p = {k: np.zeros(s) for k, s in F.param_shapes(cell, 3, 4, "sigmoid").items()}

    def state(B=2, H=4):
        return (np.zeros((B, H)), np.zeros((B, H))) if cell == "lstm" else np.zeros((B, H))
    with pytest.raises(ValueError, match=r"h_prev must have shape \(B, H\) = \(2, 4\).*got \(2, 5\)"):
        step(np.zeros((2, 3)), state(H=5), p)
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, D\) with D = 3"):
        step(np.zeros((2, 4)), state(), p)
    with pytest.raises(ValueError, match=r"x_t must have shape \(B, D\), got \(3\)"):
        step(np.zeros(3), state(), p)
    with pytest.raises(TypeError, match="h_prev has dtype float32 but the computation is in float64"):
        step(np.zeros((2, 3)), tuple(s.astype("float32") for s in state()) if cell == "lstm"
             else state().astype("float32"), p)
    with pytest.raises(ValueError, match=r"params has the wrong keys: missing \['W_xa'"):
        step(np.zeros((2, 3)), state(), {k: v for k, v in p.items() if k != "W_xa"})
