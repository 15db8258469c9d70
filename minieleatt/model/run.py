"""A trained run is a model: load it, predict on new raw data, see what its gate attends to.

    model = load_run("runs/gru-m3-BasicMotions-s0")        # a run folder, or one of its .npz checkpoints
    model.classes_                                         # the class names, in the run's order
    model.predict(X)                                       # labels, one per case
    model.predict_proba(X)                                 # (n_cases, n_classes)
    model.evaluate(X, y)                                   # {'accuracy': ..., 'loss': ..., 'n': ...}
    model.attention(X)                                     # per case, (T_i, D): the first layer's gate

``X`` is raw data, as the files hold it: every form of ``minieleatt.data.arrays.as_cases`` (a list of
time-major ``(T_i, C)`` arrays, aeon's ``(n_cases, n_channels, n_timepoints)``, a list of
``(n_channels, n_timepoints_i)``, or ``(n_cases, n_timepoints)`` for one channel). The model does to
it what the run did to its own data before training, from what the checkpoint stores: the channel
normalisation with the training split's statistics (missing values filled with the channel's mean),
then the length rule (averages over windows of ``window_`` steps). Predictions on the run's own
test file are therefore those the run reported.
"""

import os

import numpy as np

from ..backend import to_host
from ..checkpoint import load_network, save_checkpoint
from ..data.arrays import as_cases
from ..data.batching import average_windows
from ..data.ts import ChannelNormalizer
from ..errors import CheckpointError
from ..functional.activations import log_softmax
from ..train import evaluate_batches, forward_batches, model_info

CHECKPOINTS = ("best.npz", "last.npz")        # a folder's checkpoints, in the order load_run prefers them
NEEDED = {"classes": "the class names", "preprocessing": "the normaliser's statistics",
          "window": "the length rule (window)"}


def _plain(value):
    """A label as JSON keeps it (NumPy scalars as Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


class RunModel:
    """A trained ``EleAttNet`` with what it needs to predict on raw data (see the module docstring).

    Attributes: ``net`` (the ``EleAttNet``), ``classes_`` (the labels, in the order of the network's
    outputs), ``n_channels_``, ``window_`` (steps averaged into one), ``normalizer_`` (a fitted
    ``ChannelNormalizer`` or None), ``skeleton`` (frames of joints x (x, y, z)), ``config`` (the
    training settings, a dict), ``path`` (the checkpoint it came from, or None).
    """

    def __init__(self, net, classes, preprocessing=None, window=1, skeleton=False, config=None, path=None):
        self.net = net
        self.classes_ = np.asarray(list(classes) if classes is not None else range(net.num_classes))
        if len(self.classes_) != net.num_classes:
            raise ValueError(f"{len(self.classes_)} class names for a network of {net.num_classes} outputs")
        self.preprocessing = dict(preprocessing or {})
        norm = self.preprocessing.get("normalizer")
        self.normalizer_ = None if norm is None else ChannelNormalizer.from_state_dict(norm)
        self.window_ = int(window)
        self.skeleton = bool(skeleton)
        self.config = dict(config or {})
        self.path = path
        self.n_channels_ = net.layers[0].input_size

    def __repr__(self):
        a = self.net.architecture()
        return (f"RunModel({a['num_layers']} x {a['cell'].upper()}({a['hidden_size']}), gate in the first "
                f"{a['attention_layers']} layer(s), {self.n_channels_} channels, classes {self.classes_.tolist()}"
                + (f", from {self.path}" if self.path else "") + ")")

    # ------------------------------------------------------------------ the data as the network sees it
    def prepare(self, X, layout=None):
        """The cases of ``X`` as the network sees them: a list of ``(T_i', C)`` arrays of the run's dtype,
        normalised as the run's training data and averaged over its windows (``T_i' = ceil(T_i / window_)``)."""
        cases = as_cases(X, n_channels=self.n_channels_, layout=layout)
        if self.normalizer_ is not None:
            cases = self.normalizer_.transform(cases, fill_missing=self.preprocessing.get("fill_missing", 0.0))
        else:
            for i, c in enumerate(cases):
                if np.isnan(c).any():
                    raise ValueError(f"X[{i}] holds NaN (a missing value), and this run normalised nothing and "
                                     "so has no value to fill it with")
            cases = [c.astype(np.float32) for c in cases]
        return average_windows(cases, self.window_)

    def _logits(self, cases, batch_size):
        c = self.config
        out = np.empty((len(cases), self.net.num_classes))
        for logits, _, _, index in forward_batches(self.net, cases, c.get("dtype", "float32"),
                                                   self.net.device, batch_size):
            out[index] = to_host(logits)
        return out

    # ------------------------------------------------------------------ predictions
    def decision_function(self, X, layout=None, batch_size=256):
        """``(n_cases, n_classes)``: the network's scores (logits) of every class, columns in the order of
        ``classes_``; the predicted class is the largest."""
        return self._logits(self.prepare(X, layout), batch_size)

    @staticmethod
    def probabilities(logits):
        """The softmax of ``decision_function``'s scores, row by row."""
        return np.exp(log_softmax(logits, axis=-1))

    def predict_proba(self, X, layout=None, batch_size=256):
        """``(n_cases, n_classes)``: the probability of each class (columns in the order of ``classes_``)."""
        return self.probabilities(self.decision_function(X, layout, batch_size))

    def predict(self, X, layout=None, batch_size=256):
        """The predicted label of every case (from ``classes_``)."""
        return self.classes_[self.decision_function(X, layout, batch_size).argmax(axis=1)]

    def label_indices(self, y, name="y"):
        """``y`` (labels from ``classes_``, or their text) as class indices; unknown labels are an error."""
        index = {_plain(c): k for k, c in enumerate(self.classes_)}
        text = {str(_plain(c)): k for k, c in enumerate(self.classes_)}
        out, unknown = [], []
        for v in np.asarray(y).tolist() if isinstance(y, np.ndarray) else list(y):
            k = index.get(v, text.get(str(v)))
            (unknown.append(v) if k is None else out.append(k))
        if unknown:
            raise ValueError(f"{name}: labels {sorted(set(map(str, unknown)))} are not among the model's classes "
                             f"{[str(_plain(c)) for c in self.classes_]}")
        return np.asarray(out, dtype=np.int64)

    def evaluate(self, X, y, layout=None, batch_size=256):
        """``{'accuracy', 'loss', 'n'}`` on labelled raw data (the same numbers the run reports for its test set)."""
        cases = self.prepare(X, layout)
        labels = self.label_indices(y)
        if len(labels) != len(cases):
            raise ValueError(f"y has {len(labels)} labels for {len(cases)} cases")
        loss, acc = evaluate_batches(self.net, cases, labels, self.config.get("dtype", "float32"), self.net.device,
                                     batch_size)
        return {"accuracy": acc, "loss": loss, "n": len(labels)}

    def score(self, X, y, layout=None):
        """The accuracy on ``(X, y)`` (scikit-learn's ``score``)."""
        return self.evaluate(X, y, layout)["accuracy"]

    def attention(self, X, layout=None, batch_size=256):
        """The first layer's gate responses ``a_t`` per case: a list of ``(T_i', D)`` arrays, on the time axis
        the network sees (after the run's windows, ``prepare``) and the input elements (channels, or joints'
        coordinates). Needs the gate in the first layer."""
        if self.net.attention_layers < 1:
            raise ValueError("this model's first layer has no attention gate (attention_layers = 0): nothing to show")
        cases = self.prepare(X, layout)
        out = [None] * len(cases)
        for _, att, mask, index in forward_batches(self.net, cases, self.config.get("dtype", "float32"),
                                                   self.net.device, batch_size, keep_attention=True):
            lengths = mask.sum(axis=0).astype(int)
            for b, i in enumerate(index):
                out[i] = att[: lengths[b], b].astype(np.float64)
        return out

    # ------------------------------------------------------------------ files
    def info(self):
        """What a checkpoint stores about the model beside the weights (``minieleatt.train.model_info``)."""
        return model_info(self.net, [_plain(c) for c in self.classes_], self.preprocessing, self.window_,
                          self.skeleton)

    def save(self, path):
        """Write the model to a checkpoint (atomically, without pickle) that ``load_run`` reads back."""
        arrays = {f"param.{k}": v for k, v in self.net.parameters().items()}
        save_checkpoint(path, arrays, {"model": self.info(), "config": self.config,
                                       "architecture": self.net.architecture()})


def find_checkpoint(path):
    """The checkpoint ``load_run`` reads for ``path``: the file itself, or a run folder's ``best.npz`` (the
    parameters the run kept and tested), else its ``last.npz``."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such run folder or checkpoint")
    for name in CHECKPOINTS:
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    models = os.path.join(path, "models")
    if os.path.isdir(models):
        runs = sorted(n for n in os.listdir(models) if os.path.isdir(os.path.join(models, n)))
        raise FileNotFoundError(f"{path} is a comparison of several models, not one run: load one of "
                                + ", ".join(os.path.join(models, n) for n in runs))
    raise FileNotFoundError(f"{path}: no checkpoint (best.npz or last.npz) in this folder: not a run folder, or "
                            "the run has not finished an epoch")


def load_run(path, device="cpu", impl="auto", allow_incomplete=False):
    """The trained model in a run folder (its ``best.npz``) or a checkpoint file, as a ``RunModel``.

    Checkpoints written before the run format held the class names, the normaliser's statistics and
    the window cannot reproduce their predictions on raw data: they are refused with a message
    naming what is missing, unless ``allow_incomplete=True``, which loads them with class indices as
    labels, no normalisation and the window the run recorded (or 1), so that only inputs prepared as
    in training give the run's predictions.
    """
    ckpt = find_checkpoint(path)
    net, meta = load_network(ckpt, impl=impl, device=device)
    info = meta.get("model")
    if not isinstance(info, dict):
        info = {}
        window = (meta.get("data") or {}).get("window")
        if window is not None:
            info["window"] = window
        missing = [what for key, what in NEEDED.items() if key not in info]
        if not allow_incomplete:
            raise CheckpointError(
                f"{ckpt}: written by an older minieleatt, this checkpoint lacks {', '.join(missing)}, which are "
                "needed to predict on raw data as the run did; retrain the run with this version, or pass "
                "allow_incomplete=True to load it anyway (labels are then class indices, inputs are not "
                "normalised: give them prepared as in training)")
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    try:
        return RunModel(net, info.get("classes"), info.get("preprocessing"), info.get("window", 1),
                        info.get("skeleton", False), config, ckpt)
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{ckpt}: the model's description is not valid ({exc})") from exc
