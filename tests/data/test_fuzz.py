"""Fuzzing both readers: any input either parses or raises DataFormatError, quickly.

Random bytes (often not UTF-8), random text, text over the formats' own
characters, and valid files mutated (cut, tokens dropped or repeated, bytes
inserted or replaced). A SIGALRM guard turns a hang into a failure. Plus two
round-trip properties: whatever valid file is written reads back exactly.
"""

import contextlib
import signal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minieleatt.data.ntu import Body, preprocess_skeleton, read_skeleton, write_skeleton
from minieleatt.data.ts import read_ts
from minieleatt.errors import DataFormatError

from ._files import BIG_ID, frames_from_tracks, joints12, moving_body, skeleton_text

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@contextlib.contextmanager
def time_limit(seconds):
    def hang(signum, frame):
        raise TimeoutError(f"the reader ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(reader, path, raw):
    """Run ``reader`` on ``raw`` written to ``path``: its result, or None after a proper DataFormatError."""
    path.write_bytes(raw)
    with time_limit(10):
        try:
            return reader(path)
        except DataFormatError as e:
            assert e.path == str(path)
            n_lines = raw.count(b"\n") + raw.count(b"\r") + 1
            assert e.line is None or 1 <= e.line <= n_lines, (e.line, n_lines)
            return None


def check_skeleton(fuzz_dir, raw):
    frames = outcome(read_skeleton, fuzz_dir / "f.skeleton", raw)
    if frames is not None:
        for bodies in frames:
            for body in bodies:
                assert body.joints.shape == (25, 12) and body.info.shape == (9,)
                assert isinstance(body.body_id, int)
        seq = preprocess_skeleton(frames)
        assert seq.ndim == 2 and seq.shape[1] == 150 and np.isfinite(seq).all()


def check_ts(fuzz_dir, raw):
    result = outcome(read_ts, fuzz_dir / "f.ts", raw)
    if result is not None:
        cases, labels, header = result
        assert cases and len({c.shape[1] for c in cases}) == 1
        assert all(c.ndim == 2 and len(c) >= 1 for c in cases)
        assert labels is None or (len(labels) == len(cases) and all(isinstance(x, str) for x in labels))
        assert isinstance(header, dict)


# --------------------------------------------------------------------------- random input


@FUZZ
@given(raw=st.binary(max_size=600))
def test_random_bytes(fuzz_dir, raw):
    check_skeleton(fuzz_dir, raw)
    check_ts(fuzz_dir, raw)


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text(fuzz_dir, text):
    raw = text.encode("utf-8", "surrogatepass")
    check_skeleton(fuzz_dir, raw)
    check_ts(fuzz_dir, raw)


TS_WORDS = st.sampled_from(["@problemName x", "@univariate true", "@univariate false", "@dimensions 2",
                            "@equalLength true", "@seriesLength 2", "@classLabel true a b", "@classLabel false",
                            "@targetLabel true", "@missing true", "@data", "# c", "", "1,2:3,4:a", "1,?:b",
                            "1:2:3", "1,2", "nan,1:a", "\ufeff@data", ":a", "1e5,-2:b"])


@FUZZ
@given(lines=st.lists(TS_WORDS, max_size=12), newline=st.sampled_from(["\n", "\r\n", "\r"]))
def test_ts_lines_in_random_order(fuzz_dir, lines, newline):
    check_ts(fuzz_dir, newline.join(lines).encode())


@FUZZ
@given(text=st.text(alphabet="0123456789 .-\n\r", max_size=400))
def test_skeleton_digits_and_spaces(fuzz_dir, text):
    check_skeleton(fuzz_dir, text.encode())


# --------------------------------------------------------------------------- mutated valid files


def _valid_skeleton():
    a = joints12(moving_body(3, seed=1), seed=1)
    b = joints12(moving_body(2, center=(0.8, 0.2, 3.0), seed=2), seed=2)
    frames = frames_from_tracks(4, [(BIG_ID, 0, a), (BIG_ID + 1, 1, b)])
    frames.insert(2, [])
    return skeleton_text(frames, newline="\r\n").encode()


VALID = {
    "skeleton": _valid_skeleton(),
    "ts": ("\ufeff# c\r\n@problemName P\r\n@univariate false\r\n@dimensions 2\r\n@equalLength false\r\n"
           "@classLabel true a b\r\n@data\r\n1,2,3:4,?,6:a\r\n\r\n7,8:9,10:b\r\n-1.5e2:2:a\r\n").encode(),
}


@st.composite
def mutated(draw, raw):
    """``raw`` after 1 to 3 random edits: cut, drop / repeat a token, insert / replace bytes."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cut", "drop", "repeat", "insert", "replace"]))
        if kind in ("drop", "repeat"):
            tokens = raw.split(b" ")
            if len(tokens) < 2:
                continue
            k = draw(st.integers(0, len(tokens) - 1))
            tokens[k:k + 1] = [] if kind == "drop" else [tokens[k], tokens[k]]
            raw = b" ".join(tokens)
            continue
        pos = draw(st.integers(0, len(raw)))
        if kind == "cut":
            raw = raw[:pos]
        elif kind == "insert":
            raw = raw[:pos] + draw(st.binary(min_size=1, max_size=4)) + raw[pos:]
        else:
            raw = raw[:pos] + draw(st.binary(min_size=1, max_size=1)) + raw[pos + 1:]
    return raw


@settings(FUZZ, max_examples=100)
@given(raw=mutated(VALID["skeleton"]))
def test_mutated_skeleton(fuzz_dir, raw):
    check_skeleton(fuzz_dir, raw)


@settings(FUZZ, max_examples=100)
@given(raw=mutated(VALID["ts"]))
def test_mutated_ts(fuzz_dir, raw):
    check_ts(fuzz_dir, raw)


def test_the_unmutated_files_are_valid(fuzz_dir):
    assert len(outcome(read_skeleton, fuzz_dir / "v.skeleton", VALID["skeleton"])) == 5
    cases, labels, _ = outcome(read_ts, fuzz_dir / "v.ts", VALID["ts"])
    assert [c.shape for c in cases] == [(3, 2), (2, 2), (1, 2)] and labels == ["a", "b", "a"]


# --------------------------------------------------------------------------- round trips

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def ts_problem(draw):
    n_channels = draw(st.integers(1, 3))
    classes = draw(st.lists(st.text("abcXYZ019_-.", min_size=1, max_size=4), min_size=1, max_size=3, unique=True))
    cases, labels = [], []
    for _ in range(draw(st.integers(1, 4))):
        length = draw(st.integers(1, 5))
        values = draw(st.lists(st.one_of(FINITE, st.just(np.nan)), min_size=length * n_channels,
                               max_size=length * n_channels))
        cases.append(np.array(values, dtype=np.float64).reshape(n_channels, length).T)
        labels.append(draw(st.sampled_from(classes)))
    return cases, labels, classes


@settings(FUZZ, max_examples=60)
@given(problem=ts_problem(), upper=st.booleans(), newline=st.sampled_from(["\n", "\r\n"]), bom=st.booleans())
def test_ts_round_trip(fuzz_dir, problem, upper, newline, bom):
    cases, labels, classes = problem

    def tag(name):
        return ("@" + name.upper()) if upper else ("@" + name)

    lines = [tag("problemName") + " Fuzz", tag("missing") + " true", tag("dimensions") + f" {cases[0].shape[1]}",
             tag("equalLength") + " false", tag("classLabel") + " true " + " ".join(classes), tag("data")]
    for case, label in zip(cases, labels):
        channels = [",".join("?" if np.isnan(v) else repr(float(v)) for v in case[:, c]) for c in range(case.shape[1])]
        lines.append(":".join(channels) + ":" + label)
    raw = (("\ufeff" if bom else "") + newline.join(lines) + newline).encode()
    got_cases, got_labels, header = outcome(read_ts, fuzz_dir / "rt.ts", raw)
    assert got_labels == labels and header["classlabels"] == classes
    for a, b in zip(got_cases, cases):
        np.testing.assert_array_equal(a, b)  # NaN where '?', exact values elsewhere


@settings(FUZZ, max_examples=25)
@given(layout=st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=3), max_size=4), seed=st.integers(0, 99))
def test_skeleton_round_trip(fuzz_dir, layout, seed):
    rng = np.random.default_rng(seed)
    frames = [[Body(bid, np.round(rng.normal(size=9), 3), np.round(rng.normal(size=(25, 12)), 4))
               for bid in ids] for ids in layout]
    path = fuzz_dir / "rt.skeleton"
    write_skeleton(path, frames)
    again = read_skeleton(path)
    assert [[b.body_id for b in f] for f in again] == layout
    for fa, fb in zip(frames, again):
        for a, b in zip(fa, fb):
            np.testing.assert_allclose(b.joints, a.joints, rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(b.info, a.info, rtol=1e-6, atol=1e-12)
