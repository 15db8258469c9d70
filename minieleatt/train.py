"""The training loop: epochs of mini-batches, validation, the learning-rate schedule,
early stopping, checkpoints that resume exactly, a metrics log and a progress bar.

    trainer = Trainer(TrainConfig(cell="gru", attention_layers=1), train, val, out_dir="runs/m1")
    result = trainer.fit()                 # or fit(resume=True) after an interruption
    test_loss, test_acc = trainer.evaluate(test)

Data are any objects with ``sequences`` (a list of time-major ``(T_i, D)`` arrays)
and ``labels`` (integers from 0). Batches are padded and masked on the host and
move to the device at the batch boundary.

Reproducibility: one ``numpy.random.Generator`` (seeded by ``config.seed``)
drives the shuffling, the augmentation and the dropout masks. Its state is saved
in the checkpoint at the end of every epoch, with the parameters, the
optimiser's moments and the schedule's counters, so a run resumed from a
checkpoint ends with exactly the parameters of an uninterrupted run (on the CPU).
"""

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
from tqdm import tqdm

from .backend import to_device, to_host
from .checkpoint import load_checkpoint, save_checkpoint
from .data.augment import augment_batch
from .data.batching import check_dataset, iterate_batches
from .errors import CheckpointError, TrainingError
from .nn import EleAttNet, softmax_cross_entropy
from .optim import OPTIMIZERS, EarlyStopping, ReduceLROnPlateau, clip_by_global_norm


@dataclass
class TrainConfig:
    """Everything that defines a training run. The defaults are the paper's where they fit."""

    cell: str = "gru"                # 'rnn' | 'lstm' | 'gru'
    hidden_size: int = 100
    num_layers: int = 3
    attention_layers: int = None     # the first m layers carry the gate (None: all of them)
    attention: str = "sigmoid"       # the gate's activation: 'sigmoid' | 'softmax'
    reset_after: bool = False        # GRU variant
    dropout: float = 0.5             # after every recurrent layer
    readout: str = "mean"            # 'mean' over valid steps | 'last' valid step
    optimizer: str = "adam"          # 'adam' | 'sgd'
    lr: float = 0.005
    momentum: float = 0.9            # SGD only
    weight_decay: float = 0.0
    clip: float = 1.0                # global-norm clipping (0: off)
    batch_size: int = 64
    epochs: int = 30
    lr_patience: int = 6             # epochs without a better validation accuracy before lr × lr_factor
    lr_factor: float = 0.1
    min_lr: float = 1e-5
    early_stop: int = 10             # epochs without improvement before stopping (0: never)
    augment: bool = True             # random rotation ± rotation rad per axis + Gaussian noise
    rotation: float = 0.3
    noise: float = 0.01
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    impl: str = "auto"               # the cells' implementation: 'auto' | 'reference' | 'fast' | 'fused'

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}")
        return cls(**d)

    def check(self):
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {self.optimizer!r}")
        return self


class Trainer:
    """Trains an ``EleAttNet`` on padded, masked mini-batches (see the module docstring)."""

    def __init__(self, config, train_data, val_data=None, out_dir=None, progress=True, log=print):
        self.config = config.check()
        if val_data is not None and len(val_data.labels) == 0:
            val_data = None                 # too little data to hold any out: select on the training accuracy
        self.train_data, self.val_data = train_data, val_data
        labels = check_dataset(train_data.sequences, train_data.labels, None)
        names = getattr(train_data, "class_names", None)
        self.num_classes = len(names) if names else int(labels.max()) + 1
        check_dataset(train_data.sequences, labels, self.num_classes)
        if val_data is not None:
            check_dataset(val_data.sequences, val_data.labels, self.num_classes)
        input_size = int(np.asarray(train_data.sequences[0]).shape[1])
        c = config
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
        self.rng = np.random.default_rng(c.seed)
        self.epoch = 0                      # epochs completed
        self.history = []                   # one dict per epoch
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.progress, self.log = progress, log
        self.stopped_early = False
        self.best_params = None             # host copy of the parameters at the best validation accuracy

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
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(total=n_batches, desc=f"epoch {self.epoch + 1}/{c.epochs}", leave=False, disable=not self.progress,
                   unit="batch")
        for b, (x, mask, y, _) in enumerate(iterate_batches(data.sequences, data.labels, c.batch_size, rng=self.rng)):
            if c.augment:
                x = augment_batch(x, mask, self.rng, max_angle=c.rotation, noise_std=c.noise)
            x, mask, y = self._device_batch(x, mask, y)
            with np.errstate(over="ignore", invalid="ignore"):   # a diverging run is reported just below
                loss, n_correct, grads = self.net.loss_and_grads(x, y, mask, rng=self.rng)
            if not math.isfinite(loss):
                bar.close()
                raise TrainingError(
                    f"the training loss became {loss} at epoch {self.epoch + 1}, batch {b + 1} "
                    f"(learning rate {self.optimizer.lr:g}); try a smaller --lr, a tighter --clip, or check the data")
            clip_by_global_norm(grads, c.clip)
            self.optimizer.step(grads)
            total_loss += loss * len(y)
            correct += n_correct
            seen += len(y)
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        return total_loss / seen, correct / seen

    def evaluate(self, data, batch_size=256):
        """Mean loss and accuracy on ``data`` (no dropout, no augmentation, no cache)."""
        check_dataset(data.sequences, data.labels, self.num_classes)
        total_loss, correct, n = 0.0, 0, 0
        for x, mask, y, _ in iterate_batches(data.sequences, data.labels, batch_size):
            x, mask, y = self._device_batch(x, mask, y)
            logits, _ = self.net.forward(x, mask)
            loss, _ = softmax_cross_entropy(logits, y)
            total_loss += loss * len(y)
            correct += int((logits.argmax(axis=1) == y).sum())
            n += len(y)
        return total_loss / n, correct / n

    def predict(self, data, batch_size=256):
        """Predicted class of every sequence of ``data`` (a NumPy int array)."""
        preds = []
        for x, mask, y, _ in iterate_batches(data.sequences, data.labels, batch_size):
            x, mask, _ = self._device_batch(x, mask, y)
            logits, _ = self.net.forward(x, mask)
            preds.append(to_host(logits.argmax(axis=1)))
        return np.concatenate(preds)

    def class_attention(self, data, batch_size=256):
        """The first layer's mean gate response per class: (C, D), averaged over valid steps, then sequences.

        Needs a first layer with the gate (``attention_layers >= 1``).
        """
        if self.net.attention_layers < 1:
            raise ValueError("the first layer has no attention gate (attention_layers = 0)")
        D = self.net.layers[0].input_size
        sums = np.zeros((self.num_classes, D))
        counts = np.zeros(self.num_classes)
        for x, mask, y, _ in iterate_batches(data.sequences, data.labels, batch_size):
            xd, md, _ = self._device_batch(x, mask, y)
            _, cache = self.net.forward(xd, md, keep_attention=True)
            a = to_host(cache.attention).astype(np.float64)                 # (T, B, D)
            per_seq = (a * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]
            np.add.at(sums, y, per_seq)
            np.add.at(counts, y, 1)
        return sums / np.maximum(counts, 1)[:, None]

    # ------------------------------------------------------------------ checkpoints
    def state(self):
        """(arrays, meta) of the whole training state."""
        arrays = {f"param.{k}": v for k, v in self.net.parameters().items()}
        arrays.update({f"optim.{k}": v for k, v in self.optimizer.state_arrays().items()})
        meta = {"config": asdict(self.config), "architecture": self.net.architecture(), "epoch": self.epoch,
                "history": self.history, "rng": self.rng.bit_generator.state,
                "optimizer": self.optimizer.state_numbers(), "scheduler": self.scheduler.state(),
                "stopper": self.stopper.state(), "stopped_early": self.stopped_early}
        return arrays, meta

    def save(self, path):
        arrays, meta = self.state()
        save_checkpoint(path, arrays, meta)

    def load(self, path, weights_only=False):
        """Restore a checkpoint written by ``save``: the parameters, and unless ``weights_only``
        everything else (optimiser, schedule, RNG, epoch, history)."""
        arrays, meta = load_checkpoint(path)
        mine = self.net.architecture()
        theirs = meta.get("architecture", {})
        diff = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
        if diff:
            said = ", ".join(f"{k}: checkpoint {a!r}, this model {b!r}" for k, (a, b) in diff.items())
            raise CheckpointError(f"{path}: checkpoint from a different architecture ({said})")
        params = self.net.parameters()
        expected = {f"param.{k}" for k in params}
        have = {k for k in arrays if k.startswith("param.")}
        if have != expected:
            raise CheckpointError(f"{path}: parameters differ: missing {sorted(expected - have)}, "
                                  f"unexpected {sorted(have - expected)}")
        for k, p in params.items():
            a = arrays[f"param.{k}"]
            if a.shape != p.shape:
                raise CheckpointError(f"{path}: parameter {k} has shape {a.shape}, this model {p.shape}")
            p[...] = to_device(a.astype(p.dtype), self.config.device)
        if weights_only:
            return meta
        try:
            self.optimizer.load_state({k[6:]: v for k, v in arrays.items() if k.startswith("optim.")},
                                      meta["optimizer"])
            self.scheduler.load_state(meta["scheduler"])
            self.stopper.load_state(meta["stopper"])
            self.rng.bit_generator.state = meta["rng"]
            self.epoch, self.history = int(meta["epoch"]), list(meta["history"])
            self.stopped_early = bool(meta.get("stopped_early", False))
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path}: incomplete training state ({exc})") from exc
        return meta

    def restore_best(self):
        """Put the parameters of the best validation epoch back into the network."""
        if self.best_params is not None:
            for k, p in self.net.parameters().items():
                p[...] = to_device(self.best_params[k], self.config.device)
        elif self.best_checkpoint is not None and os.path.exists(self.best_checkpoint):
            self.load(self.best_checkpoint, weights_only=True)

    def _write_metrics(self):
        path = self._path("metrics.jsonl")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            for row in self.history:
                f.write(json.dumps(row) + "\n")
        os.replace(tmp, path)

    # ------------------------------------------------------------------ the loop
    def fit(self, resume=False):
        """Train until ``config.epochs`` or early stopping; keep the best checkpoint and restore it.

        resume=True continues from ``out_dir/last.npz`` when it exists.
        Returns a dict: history, best_epoch, best_val_acc, epochs, seconds, stopped_early.
        """
        c = self.config
        if self.out_dir is not None:
            os.makedirs(self.out_dir, exist_ok=True)
        if resume:
            if self.out_dir is None:
                raise ValueError("resume=True needs an out_dir with a checkpoint")
            if os.path.exists(self.last_checkpoint):
                self.load(self.last_checkpoint)
                self.log(f"resumed from {self.last_checkpoint} after epoch {self.epoch}")
        start = time.perf_counter()
        while self.epoch < c.epochs and not self.stopped_early:
            t0 = time.perf_counter()
            train_loss, train_acc = self.train_epoch()
            val_loss, val_acc = self.evaluate(self.val_data) if self.val_data is not None else (train_loss, train_acc)
            lr = self.optimizer.lr
            self.epoch += 1
            improved, stop = self.stopper.step(val_acc, self.epoch, val_loss)
            self.scheduler.step(val_acc)
            row = {"epoch": self.epoch, "train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                   "val_acc": val_acc, "lr": lr, "seconds": time.perf_counter() - t0}
            self.history.append(row)
            self.stopped_early = stop
            if improved:
                self.best_params = {k: to_host(p).copy() for k, p in self.net.parameters().items()}
            if self.out_dir is not None:
                if improved:
                    self.save(self.best_checkpoint)
                self.save(self.last_checkpoint)
                self._write_metrics()
            self.log(f"epoch {self.epoch:3d}  train loss {train_loss:.4f} acc {train_acc:.3f}  "
                     f"val loss {val_loss:.4f} acc {val_acc:.3f}  lr {lr:g}{'  *' if improved else ''}")
        if self.stopped_early:
            self.log(f"early stop: no better validation accuracy for {c.early_stop} epochs")
        self.restore_best()
        return {"history": self.history, "best_epoch": self.stopper.best_epoch, "best_val_acc": self.stopper.best,
                "epochs": self.epoch, "seconds": time.perf_counter() - start, "stopped_early": self.stopped_early}
