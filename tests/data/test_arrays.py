"""The forms users hold their series in, brought to (T_i, C) cases, and the ambiguous ones refused."""

import numpy as np
import pytest

from minieleatt.data.arrays import as_cases


def test_aeon_numpy3d_is_channels_first():
    X = np.arange(2 * 3 * 5, dtype=float).reshape(2, 3, 5)          # (n_cases, n_channels, n_timepoints)
    cases = as_cases(X)
    assert [c.shape for c in cases] == [(5, 3), (5, 3)]
    assert np.array_equal(cases[1], X[1].T)


def test_two_d_array_is_univariate_rows():
    cases = as_cases(np.ones((4, 7)))
    assert [c.shape for c in cases] == [(7, 1)] * 4
    with pytest.raises(ValueError, match="model takes 3 channels"):
        as_cases(np.ones((4, 7)), n_channels=3)


def test_lists_tell_time_from_channels_by_the_axis_that_varies():
    tc = [np.ones((5, 2)), np.ones((8, 2))]
    ct = [np.ones((2, 5)), np.ones((2, 8))]
    assert [c.shape for c in as_cases(tc)] == [(5, 2), (8, 2)]
    assert [c.shape for c in as_cases(ct)] == [(5, 2), (8, 2)]
    assert [c.shape for c in as_cases([np.ones(4), np.ones(6)])] == [(4, 1), (6, 1)]


def test_equal_length_lists_need_a_layout_or_a_known_channel_count():
    same = [np.ones((6, 2)), np.ones((6, 2))]
    with pytest.raises(ValueError, match="layout="):
        as_cases(same)
    assert [c.shape for c in as_cases(same, n_channels=2)] == [(6, 2), (6, 2)]
    assert [c.shape for c in as_cases(same, layout="channels-first")] == [(2, 6), (2, 6)]
    with pytest.raises(ValueError, match="layout="):
        as_cases([np.ones((3, 3))], n_channels=3)            # both axes could be the channels


def test_a_time_major_stack_is_refused_with_the_transpose_to_use():
    X = np.ones((4, 50, 6))                                   # (n, T, C) where aeon's is (n, C, T)
    with pytest.raises(ValueError, match=r"transpose\(0, 2, 1\)"):
        as_cases(X, n_channels=6)
    assert as_cases(X, n_channels=6, layout="time-major")[0].shape == (50, 6)


def test_trailing_nan_is_padding_and_inner_nan_is_missing():
    X = np.array([[[1.0, np.nan, 3.0, np.nan, np.nan]]])
    (case,) = as_cases(X)
    assert case.shape == (3, 1) and np.isnan(case[1, 0])


@pytest.mark.parametrize("X, message", [
    ([], "empty"),
    ([np.full(3, np.nan)], r"X\[0\] has no value"),
    ([np.array([1.0, np.inf])], r"X\[0\] holds an infinite value"),
    ([np.array([["a"]])], r"X\[0\] must hold numbers"),
    (np.ones((2, 2, 2, 2)), "got an array of shape"),
    ([np.ones((3, 2)), np.ones((4, 3))], "cannot tell"),
])
def test_bad_input_names_the_argument_and_the_case(X, message):
    with pytest.raises((ValueError, TypeError), match=message):
        as_cases(X)
