"""UEA/UCR .ts: the reader, its errors, ChannelNormalizer, batches and the bundled sets."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from minieleatt.data import ts
from minieleatt.data import iterate_batches
from minieleatt.data.ts import ChannelNormalizer, find_uea, load_uea, read_ts
from minieleatt.errors import DataFormatError


def write(path, text, encoding="utf-8", newline="\n"):
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


MULTI = """\
# A made-up multivariate problem
#   two channels, equal length
@PROBLEMNAME Toy Problem
@timestamps FALSE
@Missing false
@univariate False
@DIMENSIONS 2
@equalLength true
@SeriesLength 3
@classlabel True up down
@DATA
1,2,3:0.5,-1e-3,7E2:up
4.25,5,6:1.5,2.5,3.5:down

# a comment among the cases
-1,-2,-3:0,0,0:up
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_multivariate_equal_length_odd_case_bom(tmp_path, newline):
    path = write(tmp_path / "multi.ts", "\ufeff" + MULTI, newline=newline)
    cases, labels, header = read_ts(path)
    assert labels == ["up", "down", "up"]
    assert len(cases) == 3 and all(c.shape == (3, 2) and c.dtype == np.float64 for c in cases)
    np.testing.assert_array_equal(cases[0], [[1, 0.5], [2, -0.001], [3, 700]])  # time-major
    np.testing.assert_array_equal(cases[1][:, 0], [4.25, 5, 6])
    np.testing.assert_array_equal(cases[2], [[-1, 0], [-2, 0], [-3, 0]])
    assert header == {
        "problemname": "Toy Problem", "timestamps": False, "missing": False, "univariate": False,
        "dimensions": 2, "equallength": True, "serieslength": 3, "classlabel": True,
        "classlabels": ["up", "down"],
    }


UNIVARIATE_MISSING = """\
@problemName Uni
@timeStamps false
@missing true
@univariate true
@equalLength false
@classLabel true 1 2 10
@data
1.0,?,3.0,4.0:1
?:10
  5,6 ,? : 2
"""


def test_univariate_unequal_lengths_missing_values(tmp_path):
    cases, labels, header = read_ts(write(tmp_path / "uni.ts", UNIVARIATE_MISSING), dtype=np.float32)
    assert labels == ["1", "10", "2"]
    assert [c.shape for c in cases] == [(4, 1), (1, 1), (3, 1)]
    assert cases[0].dtype == np.float32
    np.testing.assert_array_equal(np.isnan(cases[0][:, 0]), [False, True, False, False])
    np.testing.assert_array_equal(cases[0][[0, 2, 3], 0], [1, 3, 4])
    assert np.isnan(cases[1][0, 0])
    np.testing.assert_array_equal(cases[2][:2, 0], [5, 6])
    assert header["classlabels"] == ["1", "2", "10"] and header["missing"] is True


def test_bom_inside_a_comment_non_ascii_comment_blank_lines(tmp_path):
    text = ("#\ufeff Data set from Schäfer et al. – a dash\n\n"
            "@problemName X\n@univariate true\n@classLabel true a b\n\n@data\n\n1,2:a\n\n3:b\n\n")
    cases, labels, _ = read_ts(write(tmp_path / "bom.ts", text))
    assert [c[:, 0].tolist() for c in cases] == [[1, 2], [3]] and labels == ["a", "b"]


def test_old_mac_line_ends_and_percent_comments(tmp_path):
    text = "% ARFF-style comment\n@problemName X\n@classLabel true a\n@data\n1,2:3,4:a\n"
    cases, labels, header = read_ts(write(tmp_path / "mac.ts", text, newline="\r"))
    assert cases[0].shape == (2, 2) and labels == ["a"] and "dimensions" not in header


def test_no_labels_and_regression_targets(tmp_path):
    cases, labels, header = read_ts(write(tmp_path / "nolabel.ts", "@classLabel false\n@data\n1,2:3,4\n5:6\n"))
    assert labels is None and [c.shape for c in cases] == [(2, 2), (1, 2)] and header["classlabel"] is False
    cases, labels, header = read_ts(write(tmp_path / "reg.ts", "@targetLabel true\n@data\n1,2,3:0.25\n4,5:-3e2\n"))
    assert labels == ["0.25", "-3e2"] and header["targetlabel"] is True
    assert [c.shape for c in cases] == [(3, 1), (2, 1)]


def test_nan_written_out_is_missing(tmp_path):
    cases, _, _ = read_ts(write(tmp_path / "nan.ts", "@classLabel true a\n@data\n1,NaN,nan:a\n"))
    assert np.isnan(cases[0][1:, 0]).all() and cases[0][0, 0] == 1


HEAD = "@problemName P\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n"

# name: (text, line, words in the message)
BAD_TS = {
    "no @data": ("# c\n@problemName P\n@classLabel true a\n\n", 3, "no @data line"),
    "empty file": ("", 1, "no @data line"),
    "header without data": ("@problemName P\n@classLabel true a\n@data\n\n# nothing\n", 3, "no case after @data"),
    "channels vs @dimensions": (HEAD + "1,2:3,4:a\n1,2:a\n", 8, "1 channel(s), expected 2 as given by @dimensions"),
    "channels vs first line": ("@classLabel true a\n@data\n1:2:a\n1:2:3:a\n", 4,
                               "3 channel(s), expected 2 as given by line 3 (the first case)"),
    "channels vs @univariate": ("@univariate true\n@classLabel true a\n@data\n1,2:3,4:a\n", 4, "@univariate true"),
    "channel lengths differ": (HEAD + "1,2:3,4:a\n1,2,3:4,5:b\n", 8, "channel 2 has 2 values but channel 1 has 3"),
    "non-numeric value": (HEAD + "1,2:3,x4:a\n", 7, "value 2 of channel 2 is not a number: 'x4'"),
    "empty value": (HEAD + "1,,2:3,4,5:a\n", 7, "value 2 of channel 1 is empty"),
    "infinite value": (HEAD + "1,2:3,1e999:a\n", 7, "infinite"),
    "label not declared": (HEAD + "1,2:3,4:a\n1,2:3,4:c\n", 8, "class label 'c' is not among"),
    "line cut short": (HEAD + "1,2:3,4:a\n1,2:3,4\n", 8, "'3,4' is not among the declared @classLabel ['a', 'b'] "
                       "(is the label missing"),
    "no label field": ("@classLabel true a\n@data\n1,2,3\n", 3, "found no ':'"),
    "empty label": (HEAD + "1,2:3,4:\n", 7, "empty class label"),
    "unknown tag": ("@problemName P\n@frequency 12\n@data\n1:a\n", 2, "unknown header tag '@frequency'"),
    "invalid boolean": ("@problemName P\n@univariate maybe\n@data\n1:a\n", 2, "@univariate must be true or false"),
    "boolean without value": ("@missing\n@data\n1\n", 1, "got nothing"),
    "bad dimensions": ("@dimensions two\n@data\n1\n", 1, "@dimensions needs a positive integer"),
    "zero series length": ("@seriesLength 0\n@data\n1\n", 1, "@serieslength needs a positive integer"),
    "huge series length": ("@seriesLength " + "9" * 5000 + "\n@data\n1\n", 1, "needs a positive integer"),
    "repeated tag": ("@missing false\n@classLabel true a\n@MISSING true\n@data\n1:a\n", 3, "repeated tag @missing"),
    "class labels missing": ("@classLabel true\n@data\n1:a\n", 1, "needs the list of class labels"),
    "class labels repeated": ("@classLabel true a b a\n@data\n1:a\n", 1, "lists ['a'] more than once"),
    "class label flag": ("@classLabel yes a b\n@data\n1:a\n", 1, "@classlabel must be true or false"),
    "data tag with value": ("@classLabel true a\n@data 1,2:a\n", 2, "@data takes no value"),
    "data before @data": ("@classLabel true a\n1,2:a\n@data\n1:a\n", 2, "expected a header tag"),
    "timestamps": ("@problemName P\n@timeStamps true\n@data\n(1,2):a\n", 2, "not supported"),
    "univariate vs dimensions": ("@univariate true\n@dimensions 3\n@data\n1\n", 2, "contradicts @dimensions 3"),
    "series length violated": ("@equalLength true\n@seriesLength 3\n@classLabel true a\n@data\n1,2,3:a\n1,2:a\n",
                               6, "length 2, but @equalLength true and the length is 3 as given by @seriesLength"),
    "equal length violated": ("@equalLength true\n@classLabel true a\n@data\n1,2,3:a\n\n1,2:a\n", 6,
                              "as given by line 4 (the first case)"),
    "non-numeric target": ("@targetLabel true\n@data\n1,2:high\n", 3, "target value 'high' is not a number"),
    "class and target label": ("@classLabel true a\n@targetLabel true\n@data\n1:a\n", 2, "cannot both hold"),
}


@pytest.mark.parametrize("case", sorted(BAD_TS))
def test_errors_name_file_and_line(tmp_path, case):
    text, line, words = BAD_TS[case]
    path = write(tmp_path / "bad.ts", text)
    with pytest.raises(DataFormatError) as info:
        read_ts(path)
    assert info.value.path == str(path)
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"{path}, line {line}: ")


def test_lines_are_counted_with_windows_line_ends_and_bom(tmp_path):
    path = write(tmp_path / "crlf.ts", "\ufeff# c\n\n" + HEAD + "1,2:3,4:a\n1,2:3,y:a\n", newline="\r\n")
    with pytest.raises(DataFormatError) as info:
        read_ts(path)
    assert info.value.line == 10


def test_invalid_utf8_is_an_error_outside_comments_only(tmp_path):
    ok = tmp_path / "latin1_comment.ts"
    ok.write_bytes(b"# Sch\xe4fer\n@classLabel true a\n@data\n1,2:a\n")
    cases, labels, _ = read_ts(ok)
    assert labels == ["a"] and cases[0].shape == (2, 1)
    bad = tmp_path / "latin1_data.ts"
    bad.write_bytes(b"@classLabel true a\n@data\n1,2:a\n1,\xff2:a\n")
    with pytest.raises(DataFormatError) as info:
        read_ts(bad)
    assert info.value.line == 4 and info.value.path == str(bad) and "not UTF-8" in str(info.value)


def test_repeated_problem_name_keeps_the_first(tmp_path):
    _, _, header = read_ts(write(tmp_path / "p.ts", "@problemName A\n@problemName B\n@data\n1\n"))
    assert header["problemname"] == "A"


# --------------------------------------------------------------------------- normalisation


def _cases_with_nan():
    a = np.array([[1.0, 10.0], [2.0, np.nan], [3.0, 30.0]])
    b = np.array([[np.nan, 20.0], [5.0, 40.0]])
    return [a, b]


def test_normalizer_ignores_nan_and_fills_with_the_mean():
    train = _cases_with_nan()
    norm = ChannelNormalizer().fit(train)
    flat = np.concatenate(train)
    np.testing.assert_allclose(norm.mean_, np.nanmean(flat, axis=0))
    np.testing.assert_allclose(norm.std_, np.nanstd(flat, axis=0))
    out = norm.transform(train)
    assert [o.shape for o in out] == [(3, 2), (2, 2)] and out[0].dtype == np.float32
    assert out[0][1, 1] == 0.0 and out[1][0, 0] == 0.0  # missing -> 0 = the channel mean
    np.testing.assert_allclose(out[0][:, 0], (np.array([1, 2, 3]) - 2.75) / np.nanstd(flat[:, 0]), rtol=1e-6)
    observed = np.concatenate([o[~np.isnan(t)] for o, t in zip(out, train)])
    assert abs(observed.mean()) < 1e-6
    kept = norm.transform(train, fill_missing=None)
    assert np.isnan(kept[0][1, 1]) and not np.isnan(kept[0][0, 1])


def test_normalizer_fits_on_train_only_and_round_trips_its_state():
    train = [np.array([[0.0], [2.0]])]
    test = [np.array([[4.0], [np.nan]])]
    norm = ChannelNormalizer().fit(train)
    np.testing.assert_allclose(norm.transform(test)[0][:, 0], [3.0, 0.0])
    again = ChannelNormalizer.from_state_dict(norm.state_dict())
    np.testing.assert_array_equal(again.transform(test)[0], norm.transform(test)[0])


def test_normalizer_on_padded_batch_ignores_padding():
    from minieleatt.data import pad_sequences

    train = _cases_with_nan()
    x, mask = pad_sequences(train, dtype="float64")
    x[2, 1] = 1e6  # garbage in the padding must not matter
    by_mask = ChannelNormalizer().fit(x, mask)
    by_list = ChannelNormalizer().fit(train)
    np.testing.assert_allclose(by_mask.mean_, by_list.mean_)
    np.testing.assert_allclose(by_mask.std_, by_list.std_)
    out = by_mask.transform(x, mask)
    assert out.shape == x.shape and out[2, 1].tolist() == [0.0, 0.0]  # padding stays 0


def test_normalizer_constant_and_empty_channels_without_warnings():
    cases = [np.array([[1.0, np.nan], [1.0, np.nan]])]
    norm = ChannelNormalizer().fit(cases)  # RuntimeWarnings are errors in this test suite
    np.testing.assert_array_equal(norm.mean_, [1.0, 0.0])
    np.testing.assert_array_equal(norm.std_, [1.0, 1.0])
    np.testing.assert_array_equal(norm.transform(cases)[0], [[0, 0], [0, 0]])


def test_normalizer_misuse():
    with pytest.raises(RuntimeError, match="fit"):
        ChannelNormalizer().transform([np.zeros((2, 1))])
    norm = ChannelNormalizer().fit([np.zeros((2, 3))])
    with pytest.raises(ValueError, match="3 channels"):
        norm.transform([np.zeros((2, 2))])


# --------------------------------------------------------------------------- batches


def test_cases_batch_with_padding_masks_and_every_case():
    cases = [np.full((t, 2), t, dtype=np.float64) for t in (3, 1, 4, 2, 5)]
    labels = [0, 1, 2, 1, 0]
    batches = list(iterate_batches(cases, labels, batch_size=2))
    assert [b[0].shape for b in batches] == [(3, 2, 2), (4, 2, 2), (5, 1, 2)]
    x, mask, y, index = batches[1]
    assert x.dtype == np.float32 and mask.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(index, [2, 3])
    np.testing.assert_array_equal(y, [2, 1])
    np.testing.assert_array_equal(mask[:, 1], [1, 1, 0, 0])
    np.testing.assert_array_equal(x[:, 1, 0], [2, 2, 0, 0])
    shuffled = list(iterate_batches(cases, labels, batch_size=2, rng=np.random.default_rng(0), drop_last=True))
    assert len(shuffled) == 2
    seen = np.concatenate([b[3] for b in shuffled])
    assert len(set(seen.tolist())) == 4
    for x, mask, y, index in shuffled:
        np.testing.assert_array_equal(y, np.asarray(labels)[index])
        np.testing.assert_array_equal(mask.sum(axis=0), [len(cases[i]) for i in index])


def test_batches_refuse_missing_values():
    with pytest.raises(ValueError, match="sequence 1 holds NaN or inf"):
        iterate_batches([np.zeros((2, 1)), np.array([[np.nan]])], [0, 1], batch_size=2)


# --------------------------------------------------------------------------- bundled UEA sets

HAVE_BUNDLE = any(importlib.util.find_spec(p) is not None for p in ("aeon", "sktime"))
needs_bundle = pytest.mark.skipif(not HAVE_BUNDLE, reason="neither aeon nor sktime is installed")


@needs_bundle
def test_basic_motions():
    train, test = load_uea("BasicMotions")
    assert (len(train.cases), len(test.cases)) == (40, 40)
    assert all(c.shape == (100, 6) for c in train.cases + test.cases)
    assert train.classes == test.classes == ("Standing", "Running", "Walking", "Badminton")
    assert train.labels.dtype == np.int64 and set(train.labels) == set(test.labels) == {0, 1, 2, 3}
    assert train.header["dimensions"] == 6 and train.path.endswith("BasicMotions_TRAIN.ts")


@needs_bundle
def test_japanese_vowels():
    train = load_uea("JapaneseVowels", split="train")
    test = load_uea("japanesevowels", split="test")  # the name is matched ignoring case
    assert (len(train.cases), len(test.cases)) == (270, 370)
    lengths = [len(c) for c in train.cases + test.cases]
    assert min(lengths) == 7 and max(lengths) == 29
    assert {c.shape[1] for c in train.cases + test.cases} == {12}
    assert len(train.classes) == 9 and set(test.labels) == set(range(9))
    norm = ChannelNormalizer().fit(train.cases)
    batch = next(iterate_batches(norm.transform(test.cases), test.labels, batch_size=32))
    assert batch[0].shape[1:] == (32, 12) and batch[1].shape == batch[0].shape[:2]


@needs_bundle
def test_every_bundled_ts_file_reads_or_is_refused_clearly():
    for package in ("aeon", "sktime"):
        spec = importlib.util.find_spec(package)
        if spec is None:
            continue
        root = os.path.join(spec.submodule_search_locations[0], "datasets", "data")
        for folder, _, files in os.walk(root):
            for name in files:
                if name.endswith(".ts"):
                    path = os.path.join(folder, name)
                    try:
                        cases, _, _ = read_ts(path)
                    except DataFormatError as e:
                        assert "not supported" in str(e), path  # only timestamped files are refused
                    else:
                        assert cases and all(c.ndim == 2 for c in cases)


@needs_bundle
def test_load_uea_does_not_import_aeon_or_sktime():
    code = ("import sys; from minieleatt.data import load_uea; load_uea('BasicMotions', split='train'); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('aeon', 'sktime')]; "
            "assert not bad, bad")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


@needs_bundle
def test_unknown_name_lists_the_bundled_ones():
    with pytest.raises(FileNotFoundError, match="'NoSuchProblem' not found.*BasicMotions.*JapaneseVowels"):
        find_uea("NoSuchProblem")


def test_find_uea_in_a_data_dir_and_clear_error_without_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(ts, "_bundled_roots", lambda: [])
    with pytest.raises(FileNotFoundError, match="pip install --no-deps aeon"):
        find_uea("BasicMotions")
    (tmp_path / "Toy").mkdir()
    write(tmp_path / "Toy" / "Toy_TRAIN.ts", MULTI)
    write(tmp_path / "Toy" / "Toy_TEST.ts", MULTI.replace("@classlabel True up down", "@classLabel true down up"))
    assert find_uea("toy", data_dir=tmp_path) == (str(tmp_path / "Toy" / "Toy_TRAIN.ts"),
                                                  str(tmp_path / "Toy" / "Toy_TEST.ts"))
    train, test = load_uea("Toy", data_dir=tmp_path)
    assert train.classes == test.classes == ("up", "down")  # the training file's order
    np.testing.assert_array_equal(test.labels, [0, 1, 0])
    with pytest.raises(FileNotFoundError, match="Available there: Toy"):
        find_uea("Other", data_dir=tmp_path)
    with pytest.raises(ValueError, match="split must be"):
        load_uea("Toy", split="valid", data_dir=tmp_path)


def test_load_uea_refuses_regression_and_unknown_test_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(ts, "_bundled_roots", lambda: [])
    write(tmp_path / "Reg_TRAIN.ts", "@targetLabel true\n@data\n1,2:0.5\n")
    write(tmp_path / "Reg_TEST.ts", "@targetLabel true\n@data\n1,2:0.5\n")
    with pytest.raises(ValueError, match="not a classification problem"):
        load_uea("Reg", data_dir=tmp_path)
    write(tmp_path / "Odd_TRAIN.ts", "@classLabel true a\n@data\n1:a\n")
    write(tmp_path / "Odd_TEST.ts", "@classLabel true a b\n@data\n1:b\n")
    with pytest.raises(ValueError, match="labels \\['b'\\] are not among the training classes"):
        load_uea("Odd", data_dir=tmp_path)
