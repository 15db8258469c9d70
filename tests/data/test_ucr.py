"""The UCR archive's text format and .npz files: read, refused with the file and the line, fuzzed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minieleatt.data.files import read_labelled_file
from minieleatt.data.ucr import read_ucr_file
from minieleatt.errors import DataFormatError

from .test_fuzz import FUZZ, outcome


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_tabs_commas_and_spaces_with_nan_padding(tmp_path):
    for name, sep in (("a_TRAIN.tsv", "\t"), ("b_TRAIN.csv", ","), ("c_TRAIN.txt", "  ")):
        path = write(tmp_path, name, f"1{sep}0.5{sep}NaN{sep}2\n\n# a comment\n2{sep}1{sep}2{sep}NaN{sep}NaN\n")
        f = read_ucr_file(path)
        assert [c.shape for c in f.cases] == [(3, 1), (2, 1)]
        assert np.isnan(f.cases[0][1, 0])                     # a NaN inside a case is a missing value
        assert f.labels == ["1", "2"] and f.lines == [1, 4]
        assert f.header["problemname"] == name.split("_")[0] and f.header["classlabels"] == ["1", "2"]


def test_float_labels_of_the_old_archive_read_as_integers_in_numeric_order(tmp_path):
    path = write(tmp_path, "x.txt", "  1.0000000e+01  2.0e-01 3\n -1.0000000e+00 1 2\n  2.0000000e+00 4 5\n")
    f = read_ucr_file(path)
    assert f.labels == ["10", "-1", "2"]
    assert f.header["classlabels"] == ["-1", "2", "10"]


@pytest.mark.parametrize("text, line, message", [
    ("1\t0.5\n2\tabc\t1\n", 2, "value 1 is not a number"),
    ("1\t0.5\n2\n", 2, "no values"),
    ("1\t0.5\t\t3\n", 1, "empty"),
    ("1\tinf\n", 1, "infinite"),
    ("NaN\t1\t2\n", 1, "label"),
    ("1\tNaN\tNaN\n", 1, "every value"),
])
def test_malformed_lines_are_refused_naming_the_file_and_the_line(tmp_path, text, line, message):
    path = write(tmp_path, "bad.tsv", text)
    with pytest.raises(DataFormatError, match=message) as err:
        read_ucr_file(path)
    assert err.value.path == str(path) and err.value.line == line
    assert f"{path}, line {line}" in str(err.value)


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(DataFormatError, match="no case"):
        read_ucr_file(write(tmp_path, "e.tsv", "\n# only a comment\n"))


def test_npz_with_aeon_arrays_and_string_labels(tmp_path):
    X = np.random.default_rng(0).standard_normal((5, 2, 7))
    X[1, :, 5:] = np.nan                                       # a shorter case, padded
    np.savez(tmp_path / "d.npz", X=X, y=np.array(["b", "a", "b", "a", "c"]))
    f = read_labelled_file(tmp_path / "d.npz")
    assert [c.shape for c in f.cases] == [(7, 2), (5, 2), (7, 2), (7, 2), (7, 2)]
    assert f.labels == ["b", "a", "b", "a", "c"] and f.header["classlabels"] == ["a", "b", "c"]
    np.savez(tmp_path / "n.npz", X=X[:, :1, :4].reshape(5, 4), y=np.array([1.0, 2.0, 1.0, 2.0, 1.0]))
    assert read_labelled_file(tmp_path / "n.npz").labels == ["1", "2", "1", "2", "1"]


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.ones((2, 3))}, "no array named 'X'"),
    ({"X": np.array([np.ones(2), np.ones(3)], dtype=object)}, "never loaded"),
    ({"X": np.ones((3, 1, 4)), "y": np.ones(2)}, "one label per case"),
    ({"X": np.ones((3, 1, 4)), "y": np.array([0.5, 1, 2])}, "non-integer"),
])
def test_bad_npz_files_are_refused_naming_the_file(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError, match=message) as err:
        read_labelled_file(path)
    assert err.value.path == str(path)


def test_pickles_and_random_bytes_are_refused_without_running_them(tmp_path):
    import pickle

    path = tmp_path / "p.npz"
    path.write_bytes(pickle.dumps({"X": [1, 2]}))
    with pytest.raises(DataFormatError, match="not a readable .npz") as err:
        read_labelled_file(path)
    assert "allow_pickle" not in str(err.value) and "pickle.load" not in str(err.value)
    path.write_bytes(bytes(range(256)) * 3)
    with pytest.raises(DataFormatError, match="not a readable .npz"):
        read_labelled_file(path)
    with pytest.raises(DataFormatError, match="unknown file type"):
        read_labelled_file(write(tmp_path, "x.json", "{}"))


def check_ucr(fuzz_dir, raw):
    f = outcome(read_ucr_file, fuzz_dir / "f.tsv", raw)
    if f is not None:
        assert f.cases and len(f.labels) == len(f.cases) == len(f.lines)
        assert all(c.ndim == 2 and c.shape[1] == 1 and len(c) >= 1 and not np.isnan(c[-1, 0]) for c in f.cases)
        assert all(isinstance(x, str) and x for x in f.labels)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(tmp_path_factory, raw):
    check_ucr(tmp_path_factory.mktemp("ucr"), raw)


@FUZZ
@given(st.text(alphabet="0123456789.-+eE,\t \nNa?#x", max_size=300))
def test_text_over_the_formats_characters(tmp_path_factory, text):
    check_ucr(tmp_path_factory.mktemp("ucr"), text.encode())


@FUZZ
@given(st.lists(st.tuples(st.integers(-3, 3), st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1,
                                                      max_size=8)), min_size=1, max_size=6),
       st.sampled_from(["\t", ",", " "]))
def test_valid_files_read_back_exactly(tmp_path_factory, rows, sep):
    path = tmp_path_factory.mktemp("ucr") / "v.tsv"
    path.write_text("".join(f"{label}{sep}" + sep.join(repr(v) for v in values) + "\n" for label, values in rows))
    f = read_ucr_file(path)
    assert f.labels == [str(label) for label, _ in rows]
    for case, (_, values) in zip(f.cases, rows):
        assert np.array_equal(case[:, 0], values)
