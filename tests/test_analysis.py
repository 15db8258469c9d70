"""The attention numbers: per sequence, per class, per joint, ratio and selectivity."""

import numpy as np
import pytest

from minieleatt.analysis import (attention_ratio, attention_selectivity, case_mean, class_attention,
                                 class_mean_over_time, joint_attention, relative_to_classes, sequence_attention,
                                 wilson_interval)


def test_attention_ratio_and_selectivity():
    w = np.ones((2, 25))
    w[0, [1, 2]] = 3.0                      # class 0 attends its joints 1, 2
    w[1, [1, 2]] = 3.0                      # ... and so does class 1 (a static preference)
    rel = [(1, 2), (3,)]
    np.testing.assert_allclose(attention_ratio(w, rel), [3.0, 24 / 28])   # class 1: 1 over (22·1 + 2·3)/24
    np.testing.assert_allclose(attention_selectivity(w, rel), [1.0, 1.0])
    w[1, [1, 2]] = 1.0                      # now only class 0 opens them
    assert attention_selectivity(w, rel)[0] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="proper subset"):
        attention_ratio(w, [(), (1,)])


def test_joint_attention_sums_xyz():
    a = np.arange(6.0).reshape(1, 6)
    np.testing.assert_array_equal(joint_attention(a), [[3.0, 12.0]])
    with pytest.raises(ValueError, match="multiple of 3"):
        joint_attention(np.ones((1, 5)))


def test_sequence_attention_averages_over_the_valid_steps_only():
    a = np.zeros((3, 2, 2))
    a[:, 0] = [[1, 2], [3, 4], [100, 100]]            # the last step of sequence 0 is padding
    a[:, 1] = [[1, 1], [2, 2], [3, 3]]
    mask = np.array([[1, 1], [1, 1], [0, 1]])
    np.testing.assert_allclose(sequence_attention(a, mask), [[2, 3], [2, 2]])
    np.testing.assert_allclose(sequence_attention(a), a.mean(axis=0))
    mask[:, 1] = 0
    with pytest.raises(ValueError, match="sequence 1 of the batch has no valid step"):
        sequence_attention(a, mask)


def test_class_attention_is_the_mean_per_class():
    per_seq = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    att = class_attention(per_seq, np.array([0, 0, 2]), 3)
    np.testing.assert_allclose(att, [[2, 1], [0, 0], [5, 5]])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        class_attention(per_seq, np.array([0, 0, 2]), 2)


def test_wilson_interval():
    low, high = wilson_interval(0.0, 10)                 # 0 of 10: [0, z²/(n + z²)], not the point 0
    assert low == 0.0 and high == pytest.approx(1.96 ** 2 / (10 + 1.96 ** 2))
    low, high = wilson_interval(0.9, 600)                # the issue's ± 2.4 points on 600 test sequences
    assert (low, high) == (pytest.approx(0.87339, abs=1e-5), pytest.approx(0.92152, abs=1e-5))
    low, high = wilson_interval(np.array([0.5, 1.0]), np.array([4, 50]))
    assert high[1] == 1.0 and low[0] < 0.5 < high[0] and low[1] < 1.0
    with pytest.raises(ValueError, match=r"accuracy must be in \[0, 1\]"):
        wilson_interval(90.0, 600)
    with pytest.raises(ValueError, match="number of test cases"):
        wilson_interval(0.5, 0)


def test_case_mean_and_class_mean_over_time_with_unequal_lengths():
    cases = [np.array([[1.0], [3.0]]), np.array([[5.0], [7.0], [9.0]]), np.array([[2.0]])]
    np.testing.assert_allclose(case_mean(cases), [[2.0], [7.0], [2.0]])
    m = class_mean_over_time(cases, [0, 0, 2], 3)
    assert m.shape == (3, 3, 1)
    np.testing.assert_allclose(m[0, :, 0], [3.0, 5.0, 9.0])               # step 3: only the longer case
    assert np.isnan(m[1]).all()                                            # a class without cases
    np.testing.assert_allclose(m[2, 0], [2.0])
    assert np.isnan(m[2, 1:]).all()                                        # steps its case does not reach
    with pytest.raises(ValueError, match=r"sequences\[1\] has 2 input elements"):
        case_mean([np.ones((2, 1)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="one label per case"):
        class_mean_over_time(cases, [0, 1], 3)


def test_relative_to_classes():
    v = np.array([[1.0, 2.0], [3.0, 2.0]])
    np.testing.assert_allclose(relative_to_classes(v), [[0.5, 1.0], [1.5, 1.0]])
    np.testing.assert_allclose(relative_to_classes(v, reference=[1.0, 4.0]), [[1.0, 0.5], [3.0, 0.5]])
    with pytest.raises(ValueError, match=r"reference must have shape \(2,\)"):
        relative_to_classes(v, reference=[1.0])
