"""EleAttClassifier under scikit-learn's conventions: clone, get/set_params, cross_val_score, string labels."""

import numpy as np
import pytest

from minieleatt import EleAttClassifier, load_run
from minieleatt.data.ts import find_uea, load_uea

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402

SMALL = dict(hidden_size=8, num_layers=1, epochs=3, batch_size=8, seed=0)


@pytest.fixture(scope="module")
def basic_motions():
    """BasicMotions (bundled with aeon) as aeon's numpy3D (n, 6, 100), labels as the strings of the file."""
    try:
        find_uea("BasicMotions")
    except FileNotFoundError:
        pytest.skip("aeon/sktime not installed: no bundled UEA set")
    train, _ = load_uea("BasicMotions")
    X = np.stack([c.T for c in train.cases])
    y = np.array([train.classes[k] for k in train.labels])
    return X, y


def test_clone_round_trips_every_parameter():
    clf = EleAttClassifier(cell="lstm", hidden_size=16, attention="softmax", lr=0.003, layout="channels-first")
    params = clf.get_params()
    copy = clone(clf)
    assert copy is not clf and copy.get_params() == params
    assert params["cell"] == "lstm" and params["epochs"] is None and params["normalize"] is True
    assert clf.set_params(hidden_size=4) is clf and clf.hidden_size == 4
    with pytest.raises(ValueError, match="invalid parameter 'hidden'"):
        clf.set_params(hidden=4)
    with pytest.raises(TypeError, match="unexpected keyword"):
        EleAttClassifier(hidden=4)
    assert "hidden_size" in str(__import__("inspect").signature(EleAttClassifier))


def test_cross_val_score_on_a_bundled_uea_set_with_string_labels(basic_motions):
    X, y = basic_motions
    scores = cross_val_score(EleAttClassifier(**SMALL), X, y, cv=3)
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()


def test_fit_predict_keeps_the_labels_and_saves_a_run_that_loads(basic_motions, tmp_path):
    X, y = basic_motions
    clf = EleAttClassifier(**SMALL).fit(X, y)
    assert clf.classes_.tolist() == sorted(set(y)) and clf.n_features_in_ == 6
    pred = clf.predict(X)
    assert set(pred) <= set(y) and pred.dtype.kind == "U"
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 4) and np.allclose(proba.sum(axis=1), 1)
    assert clf.score(X, y) == np.mean(pred == y)
    assert clf.model_.window_ == 2 and clf.model_.attention(X[:2])[0].shape == (50, 6)    # 100 steps, windows of 2
    clf.save(tmp_path / "m.npz")
    loaded = load_run(tmp_path / "m.npz")
    assert loaded.predict(X).tolist() == pred.tolist() and loaded.classes_.tolist() == clf.classes_.tolist()


def test_integer_labels_stay_integers_and_the_fit_is_seeded(basic_motions):
    X, y = basic_motions
    codes = np.unique(y, return_inverse=True)[1] * 10 + 1
    a = EleAttClassifier(**SMALL).fit(X, codes)
    b = EleAttClassifier(**SMALL).fit(X, codes)
    assert a.classes_.tolist() == [1, 11, 21, 31]
    assert a.predict(X).tolist() == b.predict(X).tolist()
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


def test_bad_calls_are_named():
    with pytest.raises(RuntimeError, match="not fitted"):
        EleAttClassifier().predict(np.ones((2, 1, 5)))
    with pytest.raises(ValueError, match="one label per case"):
        EleAttClassifier(**SMALL).fit(np.ones((4, 1, 5)), [0, 1])
    with pytest.raises(ValueError, match="one class only"):
        EleAttClassifier(**SMALL).fit(np.ones((4, 1, 5)), ["a"] * 4)
