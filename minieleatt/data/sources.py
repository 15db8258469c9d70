"""Train / validation / test splits from each data source, in one form for the training loop.

    splits = load_splits("synthetic")                                   # no download
    splits = load_splits("ts", name="BasicMotions")                     # bundled with aeon/sktime
    splits = load_splits("ts", train_file="X_TRAIN.ts", test_file="X_TEST.ts")
    splits = load_splits("ntu", data_dir="nturgbd_skeletons/", protocol="cs")

Every split is a ``Dataset(sequences, labels, class_names)``: a list of
time-major ``(T_i, D)`` float32 arrays and ``(N,)`` int64 labels. Validation is
held out of the training split, per class (5 % as in the paper for the skeletons,
10 % for UEA/UCR sets), but only when that gives at least ``min_val`` (30) sequences:
a smaller validation set means nothing, so then all of them train and ``notes`` says so
(the trainer then watches its smoothed training loss instead).
"""

import os
from typing import NamedTuple

import numpy as np

from .batching import validation_holdout
from .synthetic import synthetic_splits
from .files import read_labelled_file
from .ts import ChannelNormalizer, check_range, load_uea

SOURCES = ("synthetic", "ntu", "ts")


class Dataset(NamedTuple):
    sequences: list
    labels: np.ndarray
    class_names: tuple
    skeleton: bool = False    # frames are joints x (x, y, z): rotation augmentation applies, mean readout


class Splits(NamedTuple):
    train: Dataset
    val: Dataset
    test: Dataset
    class_names: tuple
    relevant_joints: object   # per class, the joints that matter (synthetic skeletons), else None
    skeleton: bool            # frames are joints x (x, y, z): rotation augmentation applies
    description: str
    settings: dict = {}       # what defines the data (source, name or files, seed, ...), flat, JSON-able
    notes: tuple = ()         # sentences about the split worth telling the user (e.g. no validation set)
    preprocessing: dict = {}  # what was done to the raw cases, to do again on new data: {'normalizer': {'mean',
                              # 'std'} (per channel, fitted on the training split), 'fill_missing': 0.0}; {} for none


def _dataset(sequences, labels, class_names, skeleton=False, dtype="float32"):
    return Dataset([np.asarray(s, dtype=dtype) for s in sequences], np.asarray(labels, dtype=np.int64),
                   tuple(class_names), skeleton)


def _split_off_validation(sequences, labels, class_names, fraction, seed, min_val, skeleton):
    """(train, val, note): see ``validation_holdout``."""
    held, note = validation_holdout(labels, fraction, np.random.default_rng(seed), min_val)
    keep = np.flatnonzero(~held)
    val = np.flatnonzero(held)
    return (_dataset([sequences[i] for i in keep], np.asarray(labels)[keep], class_names, skeleton),
            _dataset([sequences[i] for i in val], np.asarray(labels)[val], class_names, skeleton), note)


# The default experiment's data: 200 training and 60 test sequences per class, the class motion at half
# its full strength and twice the default distractor sway, so that the plain GRU stack does not solve
# the task outright in a few epochs (at full motion it reaches ~99 % by epoch 8) and the attention has
# irrelevant motion to ignore.
EXPERIMENT_DATA = {"n_train_per_class": 200, "n_test_per_class": 60, "motion": 0.5, "distractor": 2.0}


def load_synthetic(seed=0, min_val=30, **generator_kwargs):
    """The built-in synthetic skeleton actions (see ``minieleatt.data.synthetic``), with the
    settings of ``EXPERIMENT_DATA`` unless given. A validation set (5 % of the training
    subjects' sequences) smaller than ``min_val`` goes back into the training set."""
    settings = {**EXPERIMENT_DATA, **generator_kwargs}
    parts = synthetic_splits(seed=seed, **settings)
    names = parts["train"].class_names
    train, val, test = (_dataset(parts[k].sequences, parts[k].labels, names, True) for k in ("train", "val", "test"))
    notes = ()
    if len(val.labels) < min_val:
        notes = (f"no validation set: {len(val.labels)} held-out sequences would be too few to mean anything "
                 f"(fewer than {min_val}); all {len(train.labels) + len(val.labels)} train",)
        train = Dataset(train.sequences + val.sequences, np.concatenate([train.labels, val.labels]), names, True)
        val = Dataset([], np.zeros(0, np.int64), names, True)
    return Splits(train, val, test, names, parts["train"].relevant_joints, True,
                  f"synthetic skeleton actions ({len(names)} classes, 25 joints, cross-subject split)",
                  {"source": "synthetic", "seed": seed, **{k: _plain(v) for k, v in settings.items()}}, notes)


def _plain(value):
    """A setting as JSON keeps it (tuples as lists), so that it compares equal after a round trip."""
    return list(value) if isinstance(value, tuple) else value


def load_ts_splits(name=None, train_file=None, test_file=None, data_dir=None, val_fraction=0.1, seed=0,
                   min_val=30):
    """A UEA/UCR problem, by name (bundled or under ``data_dir``) or from a train and a test file
    (``.ts``, the UCR archive's text format ``.tsv``/``.txt``/``.csv``, or ``.npz`` with ``X`` and ``y``:
    see ``minieleatt.data.files``).

    Channels are standardised with statistics of the training split only; missing values
    become the channel's training mean (0 after standardisation). A value beyond the float32
    range (which would overflow the standardisation, or float32 after it) is a
    ``DataFormatError`` naming the file and the line.
    """
    if name is not None:
        tr, te = load_uea(name, data_dir=data_dir)
        train = (tr.cases, tr.labels, tr.path, tr.lines)
        test = (te.cases, te.labels, te.path, te.lines)
        classes, title = tr.classes, name
        settings = {"source": "ts", "name": name}
    else:
        if train_file is None or test_file is None:
            raise ValueError("--data ts needs a problem name (--ts-name) or both --train-file and --test-file")
        tr, te = read_labelled_file(train_file), read_labelled_file(test_file)
        for f in (tr, te):
            if f.labels is None:
                raise ValueError(f"{f.path}: no class labels; only classification problems can be trained")
        c_train, c_test = tr.cases[0].shape[1], te.cases[0].shape[1]
        if c_train != c_test:
            raise ValueError(f"the training file {tr.path} has {c_train} channel(s) but the test file {te.path} "
                             f"has {c_test}: they must be two splits of one data set")
        classes = tuple(tr.header.get("classlabels") or sorted(set(tr.labels)))
        index = {c: k for k, c in enumerate(classes)}
        unknown = sorted(set(te.labels) - set(index))
        if unknown:
            raise ValueError(f"{test_file}: labels {unknown} are not among the training classes {list(classes)}")
        train = (tr.cases, np.array([index[c] for c in tr.labels], dtype=np.int64), tr.path, tr.lines)
        test = (te.cases, np.array([index[c] for c in te.labels], dtype=np.int64), te.path, te.lines)
        title = tr.header.get("problemname") or train_file
        settings = {"source": "ts", "train_file": os.path.abspath(tr.path), "test_file": os.path.abspath(te.path)}
    for cases, _, path, lines in (train, test):
        check_range(cases, lines, path)
    norm = ChannelNormalizer().fit(train[0])           # within the float32 range, standardised values are finite
    train_cases = norm.transform(train[0], fill_missing=0.0)
    test_cases = norm.transform(test[0], fill_missing=0.0)
    train_set, val, note = _split_off_validation(train_cases, train[1], classes, val_fraction, seed, min_val, False)
    test_set = _dataset(test_cases, test[1], classes)
    return Splits(train_set, val, test_set, tuple(classes), None, False,
                  f"UEA/UCR {title} ({len(classes)} classes, {train_cases[0].shape[1]} channels)",
                  {**settings, "seed": seed, "val_fraction": val_fraction, "min_val": min_val},
                  () if note is None else (note,),
                  {"normalizer": {k: v.tolist() for k, v in norm.state_dict().items()}, "fill_missing": 0.0})


def load_ntu_splits(data_dir, protocol="cs", val_fraction=0.05, seed=0, min_val=30, **ntu_kwargs):
    """NTU RGB+D skeletons: the protocol's train/test split, 5 % of train held out for validation."""
    from .ntu import load_ntu

    data = load_ntu(data_dir, protocol, **ntu_kwargs)
    names = tuple(f"A{a:03d}" for a in range(1, 1 + max(int(data.train.labels.max()), int(data.test.labels.max())) + 1))
    train, val, note = _split_off_validation(data.train.sequences, data.train.labels, names, val_fraction, seed,
                                             min_val, True)
    test = _dataset(data.test.sequences, data.test.labels, names, True)
    skipped = len(list(data.skipped))
    return Splits(train, val, test, names, None, True,
                  f"NTU RGB+D {protocol.upper()} ({len(train.labels)}+{len(val.labels)} train/val, "
                  f"{len(test.labels)} test, {skipped} files skipped)",
                  {"source": "ntu", "data_dir": os.path.abspath(os.fspath(data_dir)), "protocol": protocol,
                   "seed": seed, "val_fraction": val_fraction, "min_val": min_val}, () if note is None else (note,))


def load_splits(source="synthetic", **options):
    """Splits of ``source`` ('synthetic', 'ts' or 'ntu'); ``options`` go to its loader."""
    if source == "synthetic":
        return load_synthetic(**options)
    if source == "ts":
        return load_ts_splits(**options)
    if source == "ntu":
        return load_ntu_splits(**options)
    raise ValueError(f"data source must be one of {SOURCES}, got {source!r}")
