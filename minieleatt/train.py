"""The training loop: epochs of mini-batches, validation, the learning-rate schedule,
early stopping, checkpoints that resume exactly, a metrics log and a progress bar
(on a terminal only: with output to a file or a pipe, the epoch lines alone).

    trainer = Trainer(TrainConfig(cell="gru", attention_layers=1), train, val, out_dir="runs/m1")
    result = trainer.fit()                 # fit(resume=True) after an interruption; fit(overwrite=True) to redo
    test_loss, test_acc = trainer.evaluate(test)

Data are any objects with ``sequences`` (a list of time-major ``(T_i, D)`` arrays)
and ``labels`` (integers from 0), and optionally ``skeleton`` (True for frames of
joints x (x, y, z): the augmentation and the mean readout apply). Batches are padded
and masked on the host and move to the device at the batch boundary.

The recipe (``minieleatt.recipe``): settings left at None (batch size, epochs) are
chosen from the size of the training set; sequences longer than ``max_length`` are
averaged over windows. The run watches one number: the validation loss, or without a
validation set the training loss smoothed over epochs. The learning rate is cut when it
stalls for ``lr_patience`` epochs, the run stops when it stalls for ``early_stop`` epochs
(0 turns either off), and the epoch with the best value is the one kept. Neither counts
while the run is on the chance plateau (until the training loss smoothed over epochs falls below 0.9 x
the loss of guessing the class shares, ``recipe.left_chance``). At the end, a
training accuracy near chance is reported with its likely cause.

Runs are never lost or silently changed (``minieleatt.runs``): a folder that holds a run
is refused unless ``resume`` or ``overwrite``; ``resume`` needs a checkpoint and the same
settings (model, data, seed, optimiser, batch size, ...) and accepts more epochs, which
also continue a run that stopped early.

A run folder is a transaction. ``fit`` holds the folder's lock (one writer), and every
write is atomic (``minieleatt.atomic``) and ordered: at the end of an epoch ``best.npz``
(when the epoch improved), then ``last.npz``, then ``metrics.jsonl``. Both checkpoints
hold the whole training state, so a kill at any instant leaves a folder that resumes
exactly: from the newer of the two (``best.npz`` alone after a kill in the first epoch's
writes), with ``metrics.jsonl`` written again from the checkpoint's history, so no
epoch's row is lost. A run whose checkpoint has all its epochs is finished: resuming it
only evaluates it again.

Reproducibility: one ``numpy.random.Generator`` (seeded by ``config.seed``)
drives the shuffling, the augmentation and the dropout masks. Its state is saved
in the checkpoint at the end of every epoch, with the parameters, the
optimiser's moments and the schedule's counters, so a run resumed from a
checkpoint ends with exactly the parameters of an uninterrupted run (on the CPU).
"""

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
from tqdm import tqdm

from . import analysis, recipe
from .backend import to_device, to_host
from .checkpoint import check_architecture, check_settings, load_checkpoint, load_parameters_into, save_checkpoint
from .data.augment import augment_batch
from .data.batching import average_windows, check_dataset, fingerprint, iterate_batches
from .data.sources import Dataset
from .errors import CheckpointError, RunFolderError, TrainingError
from .implementations import IMPLS
from .nn import READOUTS, EleAttNet, softmax_cross_entropy
from .optim import OPTIMIZERS, EarlyStopping, ReduceLROnPlateau, Smoothed, clip_by_global_norm
from .atomic import write_atomic
from .runs import CHECKPOINTS, RunLock, left_by_a_killed_run, prepare_folder, resumable

CELLS = ("rnn", "lstm", "gru")


def option(default, help, group="training", choices=None, flag=None):
    """A ``TrainConfig`` field with what the command line needs to offer it: its help text, its
    group ('model' or 'training'), its choices and, where it differs from the field's name,
    its flag. ``minieleatt.cli`` builds the options of ``train`` and ``compare`` from these."""
    return field(default=default, metadata={"help": help, "group": group, "choices": choices, "flag": flag})


@dataclass
class TrainConfig:
    """Everything that defines a training run. The defaults are the paper's where they fit;
    None means "chosen from the data" (see ``minieleatt.recipe``)."""

    cell: str = option("gru", "the recurrent cell", "model", choices=CELLS)
    hidden_size: int = option(100, "neurons per layer", "model", flag="--hidden")
    num_layers: int = option(3, "recurrent layers", "model", flag="--layers")
    attention_layers: int = option(None, "the first M layers carry the attention gate (default: all)", "model")
    attention: str = option("sigmoid", "the gate's activation (sigmoid: the paper's; softmax: its ablation)",
                            "model", choices=("sigmoid", "softmax"))
    reset_after: bool = option(False, "GRU: the cuDNN/PyTorch variant", "model")
    dropout: float = option(0.5, "dropout after every recurrent layer", "model")
    readout: str = option(None, "how the states of a sequence become one vector: their mean over the valid "
                                "steps, the last valid step, or both side by side (default: mean for skeleton "
                                "data, as in the authors' code; mean+last for other data, whose series are "
                                "often normalised one by one, so that a mean over time alone starts with no "
                                "class signal)", "model", choices=READOUTS)
    optimizer: str = option("adam", "the optimiser", choices=tuple(OPTIMIZERS))
    lr: float = option(None, "learning rate (default: the paper's 0.005 at batch 64 or more, times sqrt(batch "
                             "size / 64) below: 0.0018 at batch 8)")
    momentum: float = option(0.9, "SGD momentum")
    weight_decay: float = option(0.0, "L2 penalty on the weight matrices")
    clip: float = option(1.0, "clip the gradients' global norm (0: off)")
    batch_size: int = option(None, "sequences per update (default: the power of two nearest N/30 for N "
                                   "training sequences, at least 8 and at most 64)")
    epochs: int = option(None, "passes over the training set (default: enough for about 1,000 updates, at "
                               "least 30 and at most 200)")
    lr_patience: int = option(None, "epochs without a better watched loss (the validation loss, or the smoothed "
                                    "training loss without a validation set) before the learning rate is "
                                    "multiplied by lr_factor (default: a fifth of the epochs, at least 5; 0: off); "
                                    "no epoch counts before the training loss has left the chance plateau "
                                    "(below 0.9 x the loss of guessing the class shares)")
    lr_factor: float = option(0.1, "the schedule's factor")
    min_lr: float = option(1e-5, "the schedule's floor")
    early_stop: int = option(None, "epochs without a better watched loss before the run stops (default: a third "
                                   "of the epochs, at least 10; 0: off; not before the training loss has left the "
                                   "chance plateau, as for lr_patience)")
    max_length: int = option(64, "sequences longer than this many steps are averaged over windows of "
                                  "ceil(longest / max_length) steps, to bound the work (0: off)")
    augment: bool = option(True, "random rotation of ± rotation rad per axis and Gaussian noise (skeleton data "
                                 "only)")
    rotation: float = option(0.3, "augmentation: largest rotation angle (rad)")
    noise: float = option(0.01, "augmentation: standard deviation of the noise")
    seed: int = option(0, "seed of the initialisation, batch order, augmentation and dropout (and of "
                          "the synthetic data)")
    device: str = option("cpu", "where to compute", choices=("cpu", "gpu"))
    dtype: str = option("float32", "floating-point type of the computation", choices=("float32", "float64"))
    impl: str = option("auto", "which implementation of the cells runs: auto (the NumPy fast path on the CPU, "
                               "the fused kernels on the GPU), reference (the readable minieleatt.functional), "
                               "fast or fused", choices=IMPLS)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}")
        return cls(**d)

    def check(self):
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                      or value < 1):
                raise ValueError(f"{name} must be a positive integer or None (chosen from the data), got {value!r}")
        for name in ("lr_patience", "early_stop", "max_length"):
            value = getattr(self, name)
            if value is None and name != "max_length":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0 (0: off), got {value!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be positive or None (chosen from the batch size), got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        return self


# settings that may change when a run is resumed: more epochs, another device
RESUMABLE_CHANGES = ("epochs", "device")


def _shortened(data, window):
    if window == 1:
        return data
    return Dataset(average_windows(data.sequences, window), np.asarray(data.labels),
                   tuple(getattr(data, "class_names", ()) or ()), bool(getattr(data, "skeleton", False)))


def forward_batches(net, sequences, dtype, device, batch_size=256, keep_attention=False):
    """The network's outputs on ``sequences`` (host ``(T_i, D)`` arrays, already prepared), in their order,
    batch by batch: an iterator of ``(logits, attention, mask, index)`` with ``logits`` (B, C) on the
    device, ``attention`` the first layer's gate responses (T, B, D) on the host (None unless
    ``keep_attention``), ``mask`` (T, B) and ``index`` (B,) on the host. One code path for evaluation
    during training and for prediction with a loaded run, so that both give the same numbers."""
    labels = np.zeros(len(sequences), dtype=np.int64)
    for x, mask, _, index in iterate_batches(sequences, labels, batch_size):
        xd = to_device(x.astype(dtype, copy=False), device)
        md = to_device(mask.astype(dtype, copy=False), device)
        logits, cache = net.forward(xd, md, keep_attention=keep_attention)
        yield logits, (to_host(cache.attention) if keep_attention else None), mask, index


def evaluate_batches(net, sequences, labels, dtype, device, batch_size=256):
    """(mean loss, accuracy) of ``net`` on prepared ``sequences`` with integer ``labels``."""
    labels = np.asarray(labels)
    total_loss, correct = 0.0, 0
    for logits, _, _, index in forward_batches(net, sequences, dtype, device, batch_size):
        y = to_device(labels[index], device)
        loss, _ = softmax_cross_entropy(logits, y)
        total_loss += loss * len(index)
        correct += int((logits.argmax(axis=1) == y).sum())
    return total_loss / len(labels), correct / len(labels)


def _epoch_of(meta, path):
    """The number of epochs a checkpoint's header says were trained; CheckpointError naming the file if not one."""
    epoch = meta.get("epoch", 0)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise CheckpointError(f"{path}: its header gives epoch {epoch!r}, not a number of epochs; the file is "
                              "damaged or not written by minieleatt")
    return epoch


def model_info(net, classes, preprocessing, window, skeleton):
    """The header block a checkpoint needs, beside the weights and the architecture, to predict on new raw
    data: the class names in order (None: class indices), the preprocessing of the raw cases, the window
    of the length rule, the readout and dtype, whether the data are skeletons, and the library's version."""
    from . import __version__

    return {"classes": None if classes is None else list(classes), "num_classes": net.num_classes,
            "preprocessing": dict(preprocessing or {}), "window": int(window), "readout": net.readout,
            "dtype": str(net.dtype), "skeleton": bool(skeleton), "input_size": net.layers[0].input_size,
            "library_version": __version__}


class Trainer:
    """Trains an ``EleAttNet`` on padded, masked mini-batches (see the module docstring).

    ``data_info``: a flat dict of the settings that produced the data (source, name, seed, ...),
    stored in the checkpoints with a fingerprint of the training and validation sets, so that
    a resumed run can refuse other data. ``preprocessing``: what was done to the raw cases before
    they came here (``Splits.preprocessing``: the normaliser's statistics), stored in the
    checkpoints with the class names and the window so that ``minieleatt.load_run`` can do the
    same to new data.
    """

    def __init__(self, config, train_data, val_data=None, out_dir=None, progress=True, log=print, data_info=None,
                 preprocessing=None):
        self.requested = config.check()
        if val_data is not None and len(val_data.labels) == 0:
            val_data = None                 # no validation set: the run watches the smoothed training loss
        names = getattr(train_data, "class_names", None)
        labels = check_dataset(train_data.sequences, train_data.labels, len(names) if names else None, "train_data")
        self.num_classes = len(names) if names else int(labels.max()) + 1
        if val_data is not None:
            check_dataset(val_data.sequences, val_data.labels, self.num_classes, "val_data")
        c = config
        self.window = recipe.length_window(max(len(s) for s in train_data.sequences), c.max_length)
        self.train_data = _shortened(train_data, self.window)
        self.val_data = None if val_data is None else _shortened(val_data, self.window)
        c = self.config = recipe.resolve(c, len(labels), bool(getattr(train_data, "skeleton", False)))
        input_size = int(np.asarray(train_data.sequences[0]).shape[1])
        self.net = EleAttNet(input_size, self.num_classes, cell=c.cell, hidden_size=c.hidden_size,
                             num_layers=c.num_layers, attention_layers=c.attention_layers, attention=c.attention,
                             dropout=c.dropout, readout=c.readout, reset_after=c.reset_after, dtype=c.dtype,
                             seed=c.seed, device=c.device, impl=c.impl)
        params = self.net.parameters()
        if c.optimizer == "sgd":
            self.optimizer = OPTIMIZERS["sgd"](params, c.lr, c.momentum, c.weight_decay)
        else:
            self.optimizer = OPTIMIZERS["adam"](params, c.lr, weight_decay=c.weight_decay)
        self.scheduler = ReduceLROnPlateau(self.optimizer, c.lr_factor, c.lr_patience, c.min_lr)
        self.stopper = EarlyStopping(c.early_stop)
        self.smoothed = Smoothed()
        self.rng = np.random.default_rng(c.seed)
        self.epoch = 0                      # epochs completed
        self.history = []                   # one dict per epoch
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.progress, self.log = progress, log
        self.stopped_early = False
        self.best_params = None             # host copy of the parameters at the best watched value
        self.class_names = tuple(str(n) for n in names) if names else None
        self.skeleton = bool(getattr(train_data, "skeleton", False))
        self.preprocessing = dict(preprocessing or {})
        self.data_info = {**(data_info or {}), "window": self.window,
                          "train": fingerprint(self.train_data.sequences, self.train_data.labels),
                          "val": None if self.val_data is None else fingerprint(self.val_data.sequences,
                                                                                 self.val_data.labels)}

    @property
    def watched(self):
        """The name of the number the run watches."""
        return "validation loss" if self.val_data is not None else "training loss (smoothed)"

    def describe_recipe(self):
        """One line: the settings chosen for this run and what it watches."""
        c, r, n = self.config, self.requested, len(self.train_data.labels)
        said = [f"batch size {c.batch_size}" + (f" (from {n} training sequences)" if r.batch_size is None else ""),
                f"{c.epochs} epochs" + (" (about 1,000 updates)" if r.epochs is None else ""),
                f"learning rate {c.lr:.2g}" + (" (0.005 x sqrt(batch size / 64))" if r.lr is None else "")]
        if self.window > 1:
            said.append(f"sequences averaged over windows of {self.window} steps (longer than {c.max_length})")
        said.append(f"watching the {self.watched}: learning rate x {c.lr_factor:g} after "
                    + (f"{c.lr_patience} stalled epochs" if c.lr_patience else "no stalled epochs (schedule off)")
                    + (f", stop after {c.early_stop}" if c.early_stop else ", no early stopping")
                    + (f", counting once the training loss is below {recipe.PLATEAU_LEVEL:g} x "
                       f"{recipe.chance_loss(self.train_data.labels):.3f} (the chance plateau)"
                       if c.lr_patience or c.early_stop else ""))
        return "recipe: " + "; ".join(said)

    # ------------------------------------------------------------------ paths
    def _path(self, name):
        return None if self.out_dir is None else os.path.join(self.out_dir, name)

    @property
    def last_checkpoint(self):
        return self._path("last.npz")

    @property
    def best_checkpoint(self):
        return self._path("best.npz")

    # ------------------------------------------------------------------ one epoch
    def _device_batch(self, x, mask, y):
        """A padded host batch cast to the run's dtype and moved to its device."""
        c = self.config
        return (to_device(x.astype(c.dtype, copy=False), c.device),
                to_device(mask.astype(c.dtype, copy=False), c.device), to_device(y, c.device))

    def train_epoch(self):
        """One pass over the training data; returns (mean loss, accuracy)."""
        c, data = self.config, self.train_data
        n_batches = math.ceil(len(data.labels) / c.batch_size)
        bar = tqdm(total=n_batches, desc=f"epoch {self.epoch + 1}/{c.epochs}", leave=False,
                   disable=not (self.progress and sys.stderr.isatty()),
                   unit="batch")
        with bar:                           # closed (its line cleared) however the epoch ends, Ctrl-C included
            return self._train_batches(bar, n_batches)

    def _train_batches(self, bar, n_batches):
        c, data = self.config, self.train_data
        total_loss, correct, seen = 0.0, 0, 0
        for b, (x, mask, y, _) in enumerate(iterate_batches(data.sequences, data.labels, c.batch_size, rng=self.rng)):
            if c.augment:
                x = augment_batch(x, mask, self.rng, max_angle=c.rotation, noise_std=c.noise)
            x, mask, y = self._device_batch(x, mask, y)
            with np.errstate(over="ignore", invalid="ignore"):   # a diverging run is reported just below
                loss, n_correct, grads = self.net.loss_and_grads(x, y, mask, rng=self.rng)
            if not math.isfinite(loss):
                raise TrainingError(
                    f"the training loss became {loss} at epoch {self.epoch + 1}, batch {b + 1} "
                    f"(learning rate {self.optimizer.lr:g}); try a smaller lr, a tighter clip, or check the data")
            clip_by_global_norm(grads, c.clip)
            self.optimizer.step(grads)
            total_loss += loss * len(y)
            correct += n_correct
            seen += len(y)
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        return total_loss / seen, correct / seen

    def _prepared(self, data):
        """``data`` checked against this model's classes and shortened like the training set."""
        check_dataset(data.sequences, data.labels, self.num_classes, "data")
        return _shortened(data, self.window)

    def evaluate(self, data, batch_size=256):
        """Mean loss and accuracy on ``data`` (no dropout, no augmentation, no cache)."""
        return self._evaluate(self._prepared(data), batch_size)

    def _evaluate(self, data, batch_size=256):
        """``evaluate`` on data already checked and shortened."""
        return evaluate_batches(self.net, data.sequences, data.labels, self.config.dtype, self.config.device,
                                batch_size)

    def predict(self, data, batch_size=256):
        """Predicted class of every sequence of ``data`` (a NumPy int array)."""
        data = self._prepared(data)
        return np.concatenate([to_host(logits.argmax(axis=1)) for logits, *_ in
                               forward_batches(self.net, data.sequences, self.config.dtype, self.config.device,
                                               batch_size)])

    def class_attention(self, data, batch_size=256):
        """The first layer's mean gate response per class: (C, D), averaged over valid steps, then sequences
        (see ``minieleatt.analysis``). Needs a first layer with the gate (``attention_layers >= 1``)."""
        if self.net.attention_layers < 1:
            raise ValueError("the first layer has no attention gate (attention_layers = 0)")
        data = self._prepared(data)
        per_sequence = [analysis.sequence_attention(attention, mask) for _, attention, mask, _ in
                        forward_batches(self.net, data.sequences, self.config.dtype, self.config.device, batch_size,
                                        keep_attention=True)]
        return analysis.class_attention(np.concatenate(per_sequence), np.asarray(data.labels), self.num_classes)

    # ------------------------------------------------------------------ checkpoints
    def model_info(self):
        """What a checkpoint needs, beside the weights and the architecture, to predict on new raw data
        (``minieleatt.load_run``): see ``model_info``."""
        return model_info(self.net, self.class_names, self.preprocessing, self.window, self.skeleton)

    def state(self):
        """(arrays, meta) of the whole training state."""
        arrays = {f"param.{k}": v for k, v in self.net.parameters().items()}
        arrays.update({f"optim.{k}": v for k, v in self.optimizer.state_arrays().items()})
        meta = {"model": self.model_info(),
                "config": asdict(self.config), "data": self.data_info, "architecture": self.net.architecture(),
                "epoch": self.epoch, "history": self.history, "rng": self.rng.bit_generator.state,
                "optimizer": self.optimizer.state_numbers(), "scheduler": self.scheduler.state(),
                "stopper": self.stopper.state(), "smoothed": self.smoothed.state(),
                "stopped_early": self.stopped_early}
        return arrays, meta

    def save(self, path):
        arrays, meta = self.state()
        save_checkpoint(path, arrays, meta)

    def load(self, path, weights_only=False):
        """Restore a checkpoint written by ``save``: the parameters, and unless ``weights_only``
        everything else (optimiser, schedule, RNG, epoch, history). The architecture must match."""
        arrays, meta = load_checkpoint(path)
        check_architecture(meta, self.net.architecture(), path)
        load_parameters_into(arrays, self.net.parameters(), path)
        if weights_only:
            return meta
        try:
            self.optimizer.load_state({k[6:]: v for k, v in arrays.items() if k.startswith("optim.")},
                                      meta["optimizer"])
            self.scheduler.load_state(meta["scheduler"])
            self.stopper.load_state(meta["stopper"])
            self.smoothed.load_state(meta.get("smoothed", {}))
            self.rng.bit_generator.state = meta["rng"]
            self.epoch, self.history = _epoch_of(meta, path), list(meta["history"])
            self.stopped_early = bool(meta.get("stopped_early", False))
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: incomplete training state ({exc})") from exc
        return meta

    def _resume_checkpoint(self):
        """The checkpoint to resume from: the newer of ``last.npz`` and ``best.npz`` (both hold the whole
        state; ``best.npz`` is written first, so after a kill between the two it is the newer), with its meta."""
        found = []
        for name in CHECKPOINTS:
            path = self._path(name)
            if os.path.exists(path):
                meta = load_checkpoint(path)[1]
                found.append((_epoch_of(meta, path), -len(found), path, meta))
        if not found:
            raise RunFolderError(f"nothing to resume in {self.out_dir}: no checkpoint last.npz there")
        _, _, path, meta = max(found)
        return path, meta

    def _resume(self):
        """Continue from the newest checkpoint after checking that it is the same run (see the module docstring)."""
        path, meta = self._resume_checkpoint()
        saved = dict(meta.get("config", {}))
        chosen = {k: saved[k] for k, v in asdict(self.requested).items() if v is None and k in saved}
        self.config = replace(self.config, **chosen)          # "chosen from the data": as the run chose them
        mine = asdict(self.config)
        check_settings({k: v for k, v in saved.items() if k not in RESUMABLE_CHANGES},
                       {k: v for k, v in mine.items() if k not in RESUMABLE_CHANGES}, path, what="settings")
        check_settings(meta.get("data", {}), self.data_info, path, what="data")
        done = _epoch_of(meta, path)
        if self.config.epochs < done:
            raise CheckpointError(f"{path}: the run has trained {done} epochs already; epochs={self.config.epochs} "
                                  "is fewer (give at least as many to continue it)")
        self.load(path)
        if path != self.last_checkpoint:                      # killed between best.npz and last.npz: complete it
            self.save(self.last_checkpoint)
        self._write_metrics()                                 # every epoch's row, whatever a kill left there
        self.log(f"resumed from {path} after epoch {self.epoch}")
        if self.stopped_early:
            if self.config.epochs > int(saved.get("epochs", done)):
                self.stopped_early = False
                self.stopper.restart()
                self.log(f"the run had stopped early after epoch {done}; continuing it up to epoch {self.config.epochs}")
            else:
                self.log(f"the run stopped early after epoch {done}; give more epochs than its {saved.get('epochs')} "
                         "to continue it")

    def restore_best(self):
        """Put the parameters of the best epoch (best watched value) back into the network."""
        if self.best_params is not None:
            for k, p in self.net.parameters().items():
                p[...] = to_device(self.best_params[k], self.config.device)
        elif self.best_checkpoint is not None and os.path.exists(self.best_checkpoint):
            self.load(self.best_checkpoint, weights_only=True)

    def _write_metrics(self):
        """metrics.jsonl, one row per epoch, rewritten whole and atomically (it is the checkpoint's history)."""
        write_atomic(self._path("metrics.jsonl"), "".join(json.dumps(row) + "\n" for row in self.history).encode())

    # ------------------------------------------------------------------ the loop
    def fit(self, resume=False, overwrite=False):
        """Train until ``config.epochs`` or early stopping; keep the best epoch's parameters and restore them.

        With ``out_dir``: ``resume=True`` continues the run in it from ``last.npz``; ``overwrite=True``
        moves a run already there aside and starts again; without either, a folder holding a run
        is refused (``RunFolderError``). Returns a dict: history, best_epoch, best_val_acc,
        best_val_loss (None without a validation set), epochs, seconds, stopped_early, watched,
        train_acc (of the kept parameters, without dropout), warning (a sentence, or None).
        The folder's lock is held throughout (``minieleatt.runs.RunLock``).
        """
        if self.out_dir is None:
            return self._fit(resume, overwrite)
        with RunLock(self.out_dir, log=self.log):
            return self._fit(resume, overwrite)

    def _fit(self, resume, overwrite):
        if self.out_dir is not None:
            if resume and not resumable(self.out_dir) and left_by_a_killed_run(self.out_dir):
                self.log(f"no checkpoint in {self.out_dir} yet (the run was stopped before its first one): "
                         "starting it from the beginning")
                resume = False
            prepare_folder(self.out_dir, resume=resume, overwrite=overwrite, log=self.log)
        elif resume:
            raise ValueError("resume=True needs an out_dir with a checkpoint")
        if resume:
            self._resume()
        else:
            self.log(self.describe_recipe())
        c = self.config
        start, first = time.perf_counter(), self.epoch
        while self.epoch < c.epochs and not self.stopped_early:
            t0 = time.perf_counter()
            train_loss, train_acc = self.train_epoch()
            val_loss, val_acc = self._evaluate(self.val_data) if self.val_data is not None else (None, None)
            watched = val_loss if self.val_data is not None else self.smoothed.update(train_loss)
            lr = self.optimizer.lr
            self.epoch += 1
            row = {"epoch": self.epoch, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                   "val_acc": val_acc, "watched": watched, "lr": lr, "seconds": time.perf_counter() - t0}
            self.history.append(row)
            improved, stop = self.stopper.step(watched, self.epoch)
            if recipe.left_chance(self.history, self.train_data.labels):
                self.scheduler.step(watched)
            else:                           # on the chance plateau: nothing counts as stalled yet
                self.stopper.bad_epochs, stop = 0, False
            self.stopped_early = stop
            if improved:
                self.best_params = {k: to_host(p).copy() for k, p in self.net.parameters().items()}
            if self.out_dir is not None:              # this order: see the module docstring
                if improved:
                    self.save(self.best_checkpoint)
                self.save(self.last_checkpoint)
                self._write_metrics()
            val = "" if val_loss is None else f"val loss {val_loss:.4f} acc {val_acc:.3f}  "
            self.log(f"epoch {self.epoch:3d}  train loss {train_loss:.4f} acc {train_acc:.3f}  {val}"
                     f"lr {lr:g}{'  *' if improved else ''}")
        if self.stopped_early and self.epoch > first:
            self.log(f"early stop: no better {self.watched} for {c.early_stop} epochs")
        self.restore_best()
        best = next((row for row in self.history if row["epoch"] == self.stopper.best_epoch), None)
        _, final_train_acc = self._evaluate(self.train_data)
        warning = recipe.chance_warning(final_train_acc, self.train_data.labels, self.history, c.min_lr)
        if warning:
            self.log("warning: " + warning)
        return {"history": self.history, "best_epoch": self.stopper.best_epoch,
                "best_val_acc": None if best is None else best["val_acc"],
                "best_val_loss": None if best is None else best["val_loss"], "epochs": self.epoch,
                "seconds": time.perf_counter() - start, "stopped_early": self.stopped_early,
                "watched": self.watched, "train_acc": final_train_acc, "warning": warning}
