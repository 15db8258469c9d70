"""Train / validation / test splits from each data source, in one form for the training loop.

    splits = load_splits("synthetic")                                   # no download
    splits = load_splits("ts", name="BasicMotions")                     # bundled with aeon/sktime
    splits = load_splits("ts", train_file="X_TRAIN.ts", test_file="X_TEST.ts")
    splits = load_splits("ntu", data_dir="nturgbd_skeletons/", protocol="cs")

Every split is a ``Dataset(sequences, labels, class_names)``: a list of
time-major ``(T_i, D)`` float32 arrays and ``(N,)`` int64 labels. Validation is
held out of the training split, per class (5 % as in the paper, unless the
source has its own).
"""

from typing import NamedTuple

import numpy as np

from .batching import stratified_holdout
from .synthetic import synthetic_splits
from .ts import ChannelNormalizer, load_uea, read_ts

SOURCES = ("synthetic", "ntu", "ts")


class Dataset(NamedTuple):
    sequences: list
    labels: np.ndarray
    class_names: tuple


class Splits(NamedTuple):
    train: Dataset
    val: Dataset
    test: Dataset
    class_names: tuple
    relevant_joints: object   # per class, the joints that matter (synthetic skeletons), else None
    skeleton: bool            # frames are joints x (x, y, z): rotation augmentation applies
    description: str


def _dataset(sequences, labels, class_names, dtype="float32"):
    return Dataset([np.asarray(s, dtype=dtype) for s in sequences], np.asarray(labels, dtype=np.int64),
                   tuple(class_names))


def _split_off_validation(sequences, labels, class_names, fraction, seed):
    held = stratified_holdout(labels, fraction, np.random.default_rng(seed))
    keep = np.flatnonzero(~held)
    val = np.flatnonzero(held)
    return (_dataset([sequences[i] for i in keep], np.asarray(labels)[keep], class_names),
            _dataset([sequences[i] for i in val], np.asarray(labels)[val], class_names))


# The default experiment's data: 200 training and 60 test sequences per class, the class motion at half
# its full strength and twice the default distractor sway, so that the plain GRU stack does not solve
# the task outright in a few epochs (at full motion it reaches ~99 % by epoch 8) and the attention has
# irrelevant motion to ignore.
EXPERIMENT_DATA = {"n_train_per_class": 200, "n_test_per_class": 60, "motion": 0.5, "distractor": 2.0}


def load_synthetic(seed=0, **generator_kwargs):
    """The built-in synthetic skeleton actions (see ``minieleatt.data.synthetic``), with the
    settings of ``EXPERIMENT_DATA`` unless given."""
    parts = synthetic_splits(seed=seed, **{**EXPERIMENT_DATA, **generator_kwargs})
    names = parts["train"].class_names
    train, val, test = (_dataset(parts[k].sequences, parts[k].labels, names) for k in ("train", "val", "test"))
    return Splits(train, val, test, names, parts["train"].relevant_joints, True,
                  f"synthetic skeleton actions ({len(names)} classes, 25 joints, cross-subject split)")


def load_ts_splits(name=None, train_file=None, test_file=None, data_dir=None, val_fraction=0.1, seed=0):
    """A UEA/UCR problem, by name (bundled or under ``data_dir``) or from a train and a test file.

    Channels are standardised with statistics of the training split only; missing values
    become the channel's training mean (0 after standardisation).
    """
    if name is not None:
        tr, te = load_uea(name, data_dir=data_dir)
        train_cases, train_y, test_cases, test_y, classes = tr.cases, tr.labels, te.cases, te.labels, tr.classes
        title = name
    else:
        if train_file is None or test_file is None:
            raise ValueError("--data ts needs a problem name (--ts-name) or both --train-file and --test-file")
        train_cases, train_labels, header = read_ts(train_file)
        test_cases, test_labels, _ = read_ts(test_file)
        if train_labels is None or test_labels is None:
            raise ValueError(f"{train_file}: no class labels; only classification problems can be trained")
        classes = tuple(header.get("classlabels") or sorted(set(train_labels)))
        index = {c: k for k, c in enumerate(classes)}
        unknown = sorted(set(test_labels) - set(index))
        if unknown:
            raise ValueError(f"{test_file}: labels {unknown} are not among the training classes {list(classes)}")
        train_y = np.array([index[c] for c in train_labels], dtype=np.int64)
        test_y = np.array([index[c] for c in test_labels], dtype=np.int64)
        title = header.get("problemname") or train_file
    norm = ChannelNormalizer().fit(train_cases)
    train_cases = norm.transform(train_cases, fill_missing=0.0)
    test_cases = norm.transform(test_cases, fill_missing=0.0)
    train, val = _split_off_validation(train_cases, train_y, classes, val_fraction, seed)
    test = _dataset(test_cases, test_y, classes)
    return Splits(train, val, test, tuple(classes), None, False,
                  f"UEA/UCR {title} ({len(classes)} classes, {train_cases[0].shape[1]} channels)")


def load_ntu_splits(data_dir, protocol="cs", val_fraction=0.05, seed=0, **ntu_kwargs):
    """NTU RGB+D skeletons: the protocol's train/test split, 5 % of train held out for validation."""
    from .ntu import load_ntu

    data = load_ntu(data_dir, protocol, **ntu_kwargs)
    names = tuple(f"A{a:03d}" for a in range(1, 1 + max(int(data.train.labels.max()), int(data.test.labels.max())) + 1))
    train, val = _split_off_validation(data.train.sequences, data.train.labels, names, val_fraction, seed)
    test = _dataset(data.test.sequences, data.test.labels, names)
    skipped = len(list(data.skipped))
    return Splits(train, val, test, names, None, True,
                  f"NTU RGB+D {protocol.upper()} ({len(train.labels)}+{len(val.labels)} train/val, "
                  f"{len(test.labels)} test, {skipped} files skipped)")


def load_splits(source="synthetic", **options):
    """Splits of ``source`` ('synthetic', 'ts' or 'ntu'); ``options`` go to its loader."""
    if source == "synthetic":
        return load_synthetic(**options)
    if source == "ts":
        return load_ts_splits(**options)
    if source == "ntu":
        return load_ntu_splits(**options)
    raise ValueError(f"data source must be one of {SOURCES}, got {source!r}")
