"""Optimisers (SGD with momentum, Adam), clipping by global norm, the learning-rate
schedule (× factor when a monitored loss stalls), early stopping and smoothing.

Optimisers update the parameter arrays in place, so the network sees the new
values without copying. Their state (moments, step count) and the schedule's
state are plain arrays and numbers, saved in checkpoints without pickle.
"""

import math

from .backend import get_array_module


def global_norm(grads):
    """sqrt of the sum of squares of every gradient entry (a Python float)."""
    return math.sqrt(sum(float((g * g).sum()) for g in grads.values()))


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients in place so that their global norm is at most ``max_norm``.

    Returns the norm before clipping. ``max_norm`` None or 0 turns clipping off.
    """
    norm = global_norm(grads)
    if max_norm and norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm


class Optimizer:
    """Base class: holds the parameter dict (updated in place), the learning rate and weight decay.

    weight_decay adds ``weight_decay * p`` to the gradient of every matrix (ndim >= 2;
    biases are not decayed), the classic L2 penalty.
    """

    def __init__(self, params, lr, weight_decay=0.0):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        self.params = params
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.steps = 0

    def _decayed(self, name, g):
        p = self.params[name]
        if self.weight_decay and p.ndim >= 2:
            return g + p.dtype.type(self.weight_decay) * p
        return g

    def step(self, grads):
        missing = [k for k in self.params if k not in grads]
        if missing:
            raise ValueError(f"no gradient for parameters {missing}")
        self.steps += 1
        for name, g in grads.items():
            self._update(name, self.params[name], self._decayed(name, g))

    def _update(self, name, p, g):
        raise NotImplementedError

    # -- state for checkpoints: arrays by flat name, and numbers
    def state_arrays(self):
        return {}

    def state_numbers(self):
        return {"lr": self.lr, "steps": self.steps}

    def load_state(self, arrays, numbers):
        self.lr = float(numbers["lr"])
        self.steps = int(numbers["steps"])
        own = self.state_arrays()
        if set(arrays) != set(own):
            raise ValueError(f"optimiser state has keys {sorted(arrays)[:4]}..., expected {sorted(own)[:4]}...")
        for k, v in arrays.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise ValueError(f"optimiser state '{k}' has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}")
            own[k][...] = get_array_module(own[k]).asarray(v)


class SGD(Optimizer):
    """SGD with (optionally Nesterov) momentum: v = μ v + g;  p -= lr · v (or lr · (g + μ v))."""

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.velocity = {k: get_array_module(p).zeros_like(p) for k, p in params.items()}

    def _update(self, name, p, g):
        lr, mu = p.dtype.type(self.lr), p.dtype.type(self.momentum)
        v = self.velocity[name]
        v *= mu
        v += g
        p -= lr * (g + mu * v if self.nesterov else v)

    def state_arrays(self):
        return {f"velocity.{k}": v for k, v in self.velocity.items()}


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction: m, v the first and second moments."""

    def __init__(self, params, lr=0.005, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2 = (float(b) for b in betas)
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        self.eps = float(eps)
        self.m = {k: get_array_module(p).zeros_like(p) for k, p in params.items()}
        self.v = {k: get_array_module(p).zeros_like(p) for k, p in params.items()}

    def _update(self, name, p, g):
        xp = get_array_module(p)
        t = self.steps
        dt = p.dtype.type
        m, v = self.m[name], self.v[name]
        m *= dt(self.beta1)
        m += dt(1 - self.beta1) * g
        v *= dt(self.beta2)
        v += dt(1 - self.beta2) * (g * g)
        # p -= lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - β1^t), v_hat = v / (1 - β2^t)
        denom = xp.sqrt(v) / dt(math.sqrt(1 - self.beta2 ** t)) + dt(self.eps)
        p -= dt(self.lr / (1 - self.beta1 ** t)) * m / denom

    def state_arrays(self):
        return {**{f"m.{k}": a for k, a in self.m.items()}, **{f"v.{k}": a for k, a in self.v.items()}}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


class Plateau:
    """Tracks a monitored value where lower is better (a loss): its best value, the epoch of
    the best, and how many epochs have passed without an improvement.

    An improvement is a value below ``best - threshold * |best|`` (relative, so that it
    means the same for a loss of 2.3 and of 0.02).
    """

    def __init__(self, threshold=1e-3):
        self.threshold = float(threshold)
        self.best, self.best_epoch, self.bad_epochs = math.inf, -1, 0

    def update(self, value, epoch=None):
        """Record one epoch's value; returns True when it improved on the best."""
        if self.best == math.inf or value < self.best - self.threshold * abs(self.best):
            self.best, self.bad_epochs = float(value), 0
            if epoch is not None:
                self.best_epoch = int(epoch)
            return True
        self.bad_epochs += 1
        return False

    def state(self):
        return {"best": self.best, "bad_epochs": self.bad_epochs, "best_epoch": self.best_epoch}

    def load_state(self, state):
        self.best, self.bad_epochs = float(state["best"]), int(state["bad_epochs"])
        self.best_epoch = int(state.get("best_epoch", -1))


class ReduceLROnPlateau(Plateau):
    """Multiply the optimiser's learning rate by ``factor`` when the monitored value (lower is
    better, e.g. the validation loss) has not improved for ``patience`` epochs.

    ``patience=0`` turns the schedule off: the learning rate never changes.
    """

    def __init__(self, optimizer, factor=0.1, patience=3, min_lr=1e-6, threshold=1e-3):
        super().__init__(threshold)
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor!r}")
        if patience < 0:
            raise ValueError(f"patience must be >= 0 (0: off), got {patience!r}")
        self.optimizer, self.factor, self.patience = optimizer, float(factor), int(patience)
        self.min_lr = float(min_lr)

    def step(self, value):
        """Record one epoch's value; returns True when the learning rate was reduced."""
        if self.update(value) or self.patience == 0:
            return False
        if self.bad_epochs >= self.patience and self.optimizer.lr > self.min_lr:
            self.optimizer.lr = max(self.optimizer.lr * self.factor, self.min_lr)
            self.bad_epochs = 0
            return True
        return False


class EarlyStopping(Plateau):
    """Stop when the monitored value (lower is better) has not improved for ``patience`` epochs.

    ``patience=0`` never stops (the best epoch is still tracked). ``restart()`` gives a
    stopped run a fresh patience, to continue it with more epochs.
    """

    def __init__(self, patience=8, threshold=1e-3):
        super().__init__(threshold)
        if patience < 0:
            raise ValueError(f"patience must be >= 0 (0: never stop), got {patience!r}")
        self.patience = int(patience)

    def step(self, value, epoch):
        """Record one epoch; returns (improved, stop)."""
        improved = self.update(value, epoch)
        return improved, self.patience > 0 and self.bad_epochs >= self.patience

    def restart(self):
        self.bad_epochs = 0


class Smoothed:
    """An exponential moving average: ``s = weight * s + (1 - weight) * value`` (the first value as is).

    Watching a noisy per-epoch signal (the training loss under dropout and augmentation)
    through it keeps a single bad epoch from cutting the learning rate or stopping a run.
    """

    def __init__(self, weight=0.7):
        if not 0 <= weight < 1:
            raise ValueError(f"weight must be in [0, 1), got {weight!r}")
        self.weight, self.value = float(weight), None

    def update(self, value):
        self.value = float(value) if self.value is None else self.weight * self.value + (1 - self.weight) * value
        return self.value

    def state(self):
        return {"value": self.value}

    def load_state(self, state):
        self.value = None if state.get("value") is None else float(state["value"])
