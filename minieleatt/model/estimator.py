"""``EleAttClassifier``: the training stack behind scikit-learn's conventions (and aeon's data layout).

    from minieleatt import EleAttClassifier
    clf = EleAttClassifier(cell="gru", hidden_size=64, seed=0)     # TrainConfig's fields, as keywords
    clf.fit(X_train, y_train)                                      # X: aeon's (n_cases, n_channels, n_timepoints),
    clf.predict(X_test), clf.predict_proba(X_test), clf.score(X_test, y_test)   # or any form of as_cases
    cross_val_score(EleAttClassifier(epochs=30), X, y, cv=3)        # sklearn.base.clone works on it

scikit-learn is not needed to use it (nor imported by it): the class follows the conventions by hand.
The constructor only stores its arguments; ``get_params`` / ``set_params`` return and set them; ``fit``
learns ``classes_`` (any hashable labels, strings included; sorted as NumPy sorts them), fits the
channel normaliser on the training cases (``normalize=True``), holds out a validation set by the
recipe's rule (10 % of each class when that gives at least 30 cases) and trains with the recipe
(``minieleatt.recipe``) for every setting left at None. The fitted model is ``model_``, a
``RunModel``: ``save(path)`` writes it, and ``minieleatt.load_run(path)`` reads it back.
"""

import inspect
from dataclasses import MISSING, asdict, fields

import numpy as np

from ..data.arrays import LAYOUTS, as_cases
from ..data.batching import validation_holdout
from ..data.sources import Dataset
from ..data.ts import ChannelNormalizer
from ..train import TrainConfig, Trainer
from .run import RunModel

CONFIG_FIELDS = tuple(f.name for f in fields(TrainConfig))
# beside TrainConfig's fields: how the data are read and prepared, and what the fit prints
EXTRA_PARAMS = {"normalize": True, "val_fraction": 0.1, "layout": None, "verbose": False}


class EleAttClassifier:
    """A stack of recurrent layers with the element-wise attention gate, as a scikit-learn classifier.

    Keyword arguments: every field of ``minieleatt.train.TrainConfig`` (``cell``, ``hidden_size``,
    ``num_layers``, ``attention_layers``, ``epochs``, ``lr``, ``seed``, ...; None: chosen from the data
    by the recipe), and ``normalize`` (standardise each channel with the training cases' statistics),
    ``val_fraction`` (the validation share, used when it gives at least 30 cases; 0: none),
    ``layout`` (how a list of 2-D cases is read: see ``minieleatt.data.arrays``), ``verbose``
    (print the recipe and one line per epoch).

    ``X`` in ``fit`` / ``predict`` / ``predict_proba`` / ``score``: aeon's ``(n_cases, n_channels,
    n_timepoints)``, ``(n_cases, n_timepoints)`` for one channel, or a list of cases (``(T_i, C)`` or
    ``(C, T_i)``: see ``layout``). After ``fit``: ``classes_``, ``n_features_in_`` (channels),
    ``model_`` (a ``RunModel``: ``clf.model_.attention(X)`` gives the gate's responses per case; the
    name ``attention`` on the estimator is the gate's activation, a parameter), ``history_`` (the
    per-epoch rows), ``fit_result_``.
    """

    _estimator_type = "classifier"          # scikit-learn < 1.6 reads this; newer ones __sklearn_tags__

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self._param_defaults()))
        if unknown:
            raise TypeError(f"EleAttClassifier got unexpected keyword argument(s) {unknown}; the parameters are "
                            f"TrainConfig's fields and {sorted(EXTRA_PARAMS)}")
        for name, default in self._param_defaults().items():
            setattr(self, name, params.get(name, default))

    @classmethod
    def _param_defaults(cls):
        defaults = {f.name: (f.default if f.default is not MISSING else f.default_factory())
                    for f in fields(TrainConfig)}
        return {**defaults, **EXTRA_PARAMS}

    # ------------------------------------------------------------------ scikit-learn's parameter protocol
    def get_params(self, deep=True):
        """The constructor's arguments, by name (``deep`` is accepted for scikit-learn; nothing nests)."""
        return {name: getattr(self, name) for name in self._param_defaults()}

    def set_params(self, **params):
        """Set constructor arguments by name; an unknown name is an error. Returns the estimator."""
        defaults = self._param_defaults()
        for name, value in params.items():
            if name not in defaults:
                raise ValueError(f"invalid parameter {name!r} for EleAttClassifier; valid parameters: "
                                 f"{sorted(defaults)}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        changed = {k: v for k, v in self.get_params().items() if v != self._param_defaults()[k]}
        return "EleAttClassifier(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=_input_tags())

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    # ------------------------------------------------------------------ fit and predict
    def fit(self, X, y):
        """Train on ``X`` (see the class docstring) with labels ``y`` (any hashable values). Returns self."""
        if self.layout is not None and self.layout not in LAYOUTS:
            raise ValueError(f"layout must be None, 'time-major' or 'channels-first', got {self.layout!r}")
        cases = as_cases(X, layout=self.layout)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(cases):
            raise ValueError(f"y must have one label per case: shape ({len(cases)},), got {y.shape}")
        classes, labels = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y holds one class only ({classes[0]!r}); a classifier needs at least two")
        preprocessing = {}
        if self.normalize:
            norm = ChannelNormalizer().fit(cases)
            cases = norm.transform(cases, fill_missing=0.0)
            preprocessing = {"normalizer": {k: v.tolist() for k, v in norm.state_dict().items()},
                             "fill_missing": 0.0}
        else:
            cases = [c.astype(np.float32) for c in cases]
        config = TrainConfig(**{k: getattr(self, k) for k in CONFIG_FIELDS})
        names = tuple(str(c) for c in classes)
        held, _ = validation_holdout(labels, self.val_fraction, np.random.default_rng(config.seed))
        train = Dataset([cases[i] for i in np.flatnonzero(~held)], labels[~held], names)
        val = Dataset([cases[i] for i in np.flatnonzero(held)], labels[held], names) if held.any() else None
        log = print if self.verbose else (lambda *a, **k: None)
        trainer = Trainer(config, train, val, progress=False, log=log, preprocessing=preprocessing)
        self.fit_result_ = trainer.fit()
        self.history_ = self.fit_result_["history"]
        self.model_ = RunModel(trainer.net, classes, preprocessing, trainer.window, False, asdict(trainer.config))
        self.classes_ = classes
        self.n_features_in_ = self.model_.n_channels_
        return self

    def _fitted(self):
        if not hasattr(self, "model_"):
            raise RuntimeError("this EleAttClassifier is not fitted yet: call fit(X, y) first")
        return self.model_

    def predict(self, X):
        """The predicted label of every case of ``X``."""
        return self._fitted().predict(X, layout=self.layout)

    def predict_proba(self, X):
        """``(n_cases, n_classes)``, columns in the order of ``classes_``."""
        return self._fitted().predict_proba(X, layout=self.layout)

    def score(self, X, y):
        """The accuracy on ``(X, y)``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def save(self, path):
        """Write the fitted model to a checkpoint that ``minieleatt.load_run(path)`` reads back."""
        self._fitted().save(path)


def _input_tags():
    from sklearn.utils import InputTags

    return InputTags(three_d_array=True, allow_nan=True)


# a signature that lists every parameter, for help(), IDEs and scikit-learn's introspection
EleAttClassifier.__init__.__signature__ = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
       for name, default in EleAttClassifier._param_defaults().items()])
