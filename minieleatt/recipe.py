"""The default training recipe: the rules that choose the settings left open from the data,
and the end-of-run check that says when a run learnt nothing.

The rules (stated in ``minieleatt train --help`` and the README too):

- batch size: the power of two nearest N/30 for N training sequences, at least 8 and at
  most 64 (40 sequences: 8; 2,000: 64), so that an epoch holds about 30 updates and a small
  set still gets several per epoch;
- learning rate: the paper's 0.005 at batch 64, times sqrt(batch size / 64) below it
  (0.0018 at batch 8): with Adam, small noisy batches at 0.005 often leave a deep stack
  stuck at chance on small sets;
- epochs: enough for about 1,000 updates (``ceil(1000 / batches per epoch)``), at least 30
  and at most 200 (40 sequences in batches of 8: 200 epochs; 1,900 in batches of 64: 34);
- patience: the learning rate is cut after a fifth of the epochs (at least 5) without a
  better watched loss, the run stops after a third (at least 10);
- the chance plateau: small sets often sit for tens of epochs at the loss of guessing the
  class shares (log C for C balanced classes) before the loss starts to fall. Neither the
  schedule nor early stopping counts a stalled epoch until the training loss, smoothed over
  epochs, has fallen below ``PLATEAU_LEVEL`` (0.9) x that loss (``chance_loss``): a run is never cut or
  stopped inside the plateau, it runs its epochs out there (the best epoch is still kept).
  This applies to every run, whatever the settings; ``lr_patience=0`` / ``early_stop=0``
  still turn the schedule / the stopping off;
- long sequences: when the longest training sequence has more than ``max_length`` (64)
  steps, every sequence is averaged over windows of ``ceil(longest / max_length)`` steps,
  which bounds the work of a step of training on a long set (ACSF1: 1,460 steps -> 64, windows of 23);
- readout: the mean over the valid steps for skeleton data (the authors' practice); for
  other data the mean and the last valid state side by side ('mean+last'): UEA/UCR series
  are often normalised one by one, so that their means over time carry no class signal to
  start learning from (in our trials the mean alone left GunPoint and ArrowHead at chance),
  while on raw sensor data (BasicMotions) the last state alone left one seed of three at chance.

On univariate input (one channel) the gate scales the single input number of a step by a
factor in (0, 1): it can weigh time steps (damp or pass a step as a whole) but it cannot
choose between channels, which is what it is for on multichannel data (skeleton joints,
sensors); its mean response per class then says which steps, not which inputs, matter.

These only apply where the ``TrainConfig`` leaves the setting at None (batch size,
epochs, patience); an explicit value always wins, and a resumed run keeps what it chose.
"""

import math
from dataclasses import replace

import numpy as np

UPDATES = 1000         # the number of parameter updates a run aims for
BASE_LR, BASE_BATCH = 0.005, 64
MIN_EPOCHS, MAX_EPOCHS = 30, 200
MIN_BATCH, MAX_BATCH = 8, 64
BATCHES_PER_EPOCH = 30
PLATEAU_LEVEL = 0.9     # the schedule counts once the smoothed training loss is below this x chance_loss


def resolve(config, n_train, skeleton):
    """``config`` (a ``TrainConfig``) with every setting left at None chosen by the rules above, for a
    training set of ``n_train`` sequences (``skeleton``: frames of joints x (x, y, z)); the gate goes
    in every layer when ``attention_layers`` is None, and augmentation applies to skeletons only."""
    c = config
    batch_size = c.batch_size or default_batch_size(n_train)
    epochs = c.epochs or default_epochs(n_train, batch_size)
    lr_patience, early_stop = default_patience(epochs)
    return replace(c, batch_size=batch_size, epochs=epochs, lr=c.lr or default_lr(batch_size),
                   lr_patience=lr_patience if c.lr_patience is None else c.lr_patience,
                   early_stop=early_stop if c.early_stop is None else c.early_stop,
                   attention_layers=c.num_layers if c.attention_layers is None else c.attention_layers,
                   readout=c.readout or ("mean" if skeleton else "mean+last"), augment=c.augment and skeleton)


def default_batch_size(n_train):
    """The power of two nearest ``n_train / 30``, clipped to [8, 64]."""
    if n_train < 1:
        raise ValueError(f"n_train must be >= 1, got {n_train}")
    power = 2 ** round(math.log2(n_train / BATCHES_PER_EPOCH)) if n_train >= BATCHES_PER_EPOCH else 1
    return int(min(MAX_BATCH, max(MIN_BATCH, power)))


def default_lr(batch_size):
    """The paper's 0.005 at batch 64 or more, times ``sqrt(batch_size / 64)`` below (the square-root rule for
    Adam: a smaller batch gives noisier gradients, and Adam's steps do not shrink with them)."""
    return BASE_LR * min(1.0, math.sqrt(batch_size / BASE_BATCH))


def default_epochs(n_train, batch_size):
    """Enough epochs for about 1,000 updates, clipped to [30, 200]."""
    batches = math.ceil(n_train / batch_size)
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(UPDATES / batches))))


def default_patience(epochs):
    """(lr_patience, early_stop): a fifth of the epochs (at least 5) and a third (at least 10)."""
    return max(5, epochs // 5), max(10, epochs // 3)


def length_window(longest, max_length):
    """The number of steps averaged into one: ``ceil(longest / max_length)`` (1: sequences kept as they are;
    ``max_length`` 0 or None: off)."""
    if not max_length or longest <= max_length:
        return 1
    return int(math.ceil(longest / max_length))


def chance_loss(labels):
    """The cross-entropy of always predicting the training set's class shares (log C for C balanced classes):
    the loss a run starts at and sits at while on the chance plateau."""
    counts = np.bincount(np.asarray(labels))
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log(shares)).sum())


def smoothed_losses(history, weight=0.7):
    """The training losses of ``history`` smoothed over epochs (``s = weight * s + (1 - weight) * loss``, the first
    as is): on a small set one lucky epoch of a few dropout-noisy batches must not count as leaving the plateau."""
    out, s = [], None
    for row in history:
        s = row["train_loss"] if s is None else weight * s + (1 - weight) * row["train_loss"]
        out.append(s)
    return out


def left_chance(history, labels):
    """Whether the run has left the chance plateau: its smoothed training loss (``smoothed_losses``) below
    ``PLATEAU_LEVEL x chance_loss(labels)`` at some epoch. Until then the schedule and early stopping do not count."""
    level = PLATEAU_LEVEL * chance_loss(labels)
    return any(s < level for s in smoothed_losses(history))


def chance_warning(train_acc, labels, history, min_lr):
    """A sentence when the final training accuracy is near chance, saying the likely cause; else None.

    Near chance: at most the share of the largest class plus a tenth of the rest. ``history``
    is the run's list of per-epoch rows (``train_loss``, ``lr``), ``labels`` the training labels.
    """
    counts = np.bincount(np.asarray(labels))
    shares = counts[counts > 0] / counts.sum()
    majority = float(shares.max())
    if train_acc > majority + 0.1 * (1 - majority):
        return None
    guess_loss = float(-(shares * np.log(shares)).sum())        # the loss of always predicting the class shares
    losses = smoothed_losses(history)
    said = (f"the training accuracy at the end is {100 * train_acc:.1f} %, near chance (the largest class is "
            f"{100 * majority:.1f} % of the training set): the model has learnt next to nothing. ")
    floor = next((row["epoch"] for row in history if row["lr"] <= min_lr * (1 + 1e-9)), None)
    if floor is not None and floor <= len(history) // 2:
        return said + (f"Likely cause: the schedule cut the learning rate to its floor {min_lr:g} by epoch {floor} "
                       f"of {len(history)}; turn it off (lr_patience=0) or raise its patience.")
    if min(losses) > PLATEAU_LEVEL * guess_loss:
        return said + (f"The training loss never went below {PLATEAU_LEVEL:g} x {guess_loss:.3f}, the loss of "
                       f"guessing the class shares, so the run stayed on the chance plateau for all its "
                       f"{len(history)} epochs (the schedule and early stopping wait for it to leave): likely too "
                       "few updates for this data (give more epochs), a learning rate "
                       "that is too small or too large, or inputs without the class signal (check the data and "
                       "its labels).")
    return said + ("The training loss fell but the accuracy did not follow: likely too strong a regularisation "
                   "(dropout, augmentation) for this data, or labels that do not match the sequences.")
