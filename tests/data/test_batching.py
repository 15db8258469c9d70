"""Mini-batches of padded sequences: shapes, masks, shuffling, epochs, bad input."""

import numpy as np
import pytest

from minieleatt.data import check_dataset, iterate_batches


def make_set(n=23, channels=6, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 12, n)
    sequences = [rng.standard_normal((t, channels)).astype(np.float32) + 1.0 for t in lengths]
    labels = rng.integers(0, 4, n)
    return sequences, labels, lengths


def test_batches_are_padded_time_major_with_matching_masks():
    sequences, labels, lengths = make_set()
    for x, mask, y, index in iterate_batches(sequences, labels, 5):
        T, B, C = x.shape
        assert x.dtype == np.float32 and mask.dtype == np.float32 and y.dtype == np.int64
        assert mask.shape == (T, B) and y.shape == index.shape == (B,) and C == 6
        assert T == lengths[index].max()
        np.testing.assert_array_equal(mask.sum(axis=0), lengths[index])
        np.testing.assert_array_equal(y, labels[index])
        for b, i in enumerate(index):
            np.testing.assert_array_equal(x[: lengths[i], b], sequences[i])
            assert np.all(mask[: lengths[i], b] == 1) and not x[lengths[i]:, b].any()


def test_every_case_appears_once_per_epoch():
    sequences, labels, _ = make_set(n=23)
    batches = list(iterate_batches(sequences, labels, 5, rng=np.random.default_rng(0)))
    assert [len(b[3]) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.sort(np.concatenate([b[3] for b in batches])), np.arange(23))
    dropped = list(iterate_batches(sequences, labels, 5, rng=np.random.default_rng(0), drop_last=True))
    assert [len(b[3]) for b in dropped] == [5, 5, 5, 5]
    assert len(set(np.concatenate([b[3] for b in dropped]).tolist())) == 20


def test_shuffling_is_deterministic_given_the_generator():
    sequences, labels, _ = make_set(n=40)
    order = lambda rng: np.concatenate([b[3] for b in iterate_batches(sequences, labels, 8, rng=rng)])  # noqa: E731
    np.testing.assert_array_equal(order(None), np.arange(40))
    a, b = order(np.random.default_rng(7)), order(np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.arange(40))
    rng = np.random.default_rng(7)
    assert not np.array_equal(order(rng), order(rng))           # the next epoch is another order


def test_check_dataset_returns_int64_labels():
    sequences, labels, _ = make_set()
    checked = check_dataset(sequences, labels.astype(np.int32), 4)
    assert checked.dtype == np.int64
    np.testing.assert_array_equal(checked, labels)


@pytest.mark.parametrize("mutate, error, words", [
    (lambda s, l: ([], []), ValueError, "empty"),
    (lambda s, l: (s[:-1], l), ValueError, "labels"),
    (lambda s, l: (s[:3] + [s[3][:, 0]] + s[4:], l), ValueError, "sequence 3"),
    (lambda s, l: (s[:3] + [s[3][None]] + s[4:], l), ValueError, "sequence 3"),
    (lambda s, l: (s[:2] + [s[2][:, :5]] + s[3:], l), ValueError, "channels"),
    (lambda s, l: (s[:2] + [s[2][:0]] + s[3:], l), ValueError, "empty"),
    (lambda s, l: (s, np.where(np.arange(len(l)) == 4, 4, l)), ValueError, "label 4 of sequence 4 is outside 0..3"),
    (lambda s, l: (s, np.where(np.arange(len(l)) == 4, -1, l)), ValueError, "label -1 of sequence 4 is outside 0..3"),
    (lambda s, l: (s, l.astype(np.float64)), TypeError, "integers.*astype"),
    (lambda s, l: (s, np.where(np.arange(len(l)) == 2, 1.5, l)), TypeError, "label 1.5 of sequence 2 is not an integer"),
    (lambda s, l: (s, l[:, None]), ValueError, "1-D"),
    (lambda s, l: (np.zeros((len(l), 5, 6)), l), TypeError, "list"),
])
def test_bad_datasets_are_named(mutate, error, words):
    sequences, labels = mutate(*make_set()[:2])
    with pytest.raises(error, match=words):
        check_dataset(sequences, labels, 4)


@pytest.mark.parametrize("batch_size, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError)])
def test_bad_batch_size_fails_at_the_call(batch_size, error):
    sequences, labels, _ = make_set()
    with pytest.raises(error, match="batch_size"):
        iterate_batches(sequences, labels, batch_size)


def test_bad_rng_and_mismatched_lengths_fail_at_the_call():
    sequences, labels, _ = make_set()
    with pytest.raises(TypeError, match="Generator"):
        iterate_batches(sequences, labels, 4, rng=0)
    with pytest.raises(ValueError, match="labels"):
        iterate_batches(sequences, labels[:-2], 4)
    with pytest.raises(ValueError, match="empty"):
        iterate_batches([], [], 4)
