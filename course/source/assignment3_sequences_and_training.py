"""Assignment 3: the source of its student and teacher notebooks (``minieleatt assignment build``).

Percent cell format; the model solutions sit between the BEGIN/END SOLUTION markers.
"""

# %% [markdown]
# # Assignment 3 · Masks, chunks, the loss and a training run
#
# | problem | you write | points |
# |---|---|---|
# | 1. A padded batch, and two chunks | `masked_rnn_forward(x, params, h0, mask, attention="sigmoid")`, `masked_rnn_backward(dhs, cache, dh_T=None)` | 8 |
# | 2. The classifier's head | `mean_readout_forward(hs, mask)`, `mean_readout_backward(dpooled, cache)`, `softmax_cross_entropy(logits, y)` | 4 |
# | 3. Overfit a tiny batch | `overfit_tiny_batch(x, mask, y, num_classes)` | 3 |
#
# The RNN step is given: `rnn_step_forward` / `rnn_step_backward` from the library (with the attention gate; paste
# your own from assignment 1 into the setup cell if you like). Everything else you write in NumPy; a part that calls
# the library's sequence functions, network or loss gets no points. How the checks work: see assignment 1.
#
# **Honour line.** For marks, your notebook is graded in a process of its own, with a time limit per part and on
# cases `check()` does not show; nothing your code does can change the grader's verdicts. What no grader can tell is
# code pasted from the library's source or from someone else's notebook: hand in only code you wrote.

# %% tags=["setup"]
# (the first lines of every assignment: the FAST switch and the install, from source/_install.py)

import numpy as np

from minieleatt.exercises import check, set_hints, summary
from minieleatt.functional import log_softmax, sigmoid, softmax, tanh        # given: the activations
from minieleatt.functional import rnn_step_backward, rnn_step_forward        # given: one step of the EleAtt-RNN

HINTS = "formula"
set_hints(HINTS)
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Problem 1 · A padded batch, and backpropagation in two chunks
#
# Sequences of different lengths share one array: shorter ones are padded at the end, and `mask` $(T, B)$ holds 1
# on real steps and 0 on padding (a padded step may also sit in the middle, a hole). The library's rule: **a padded
# step keeps the state**,
#
# $$h_t = m_t \odot \text{step}(x_t, h_{t-1}) + (1 - m_t) \odot h_{t-1}, \qquad m_t = \texttt{mask[t][:, None]}\ (B, 1)$$
#
# so `hs[-1]` is each sequence's state after its own last step. Backward, walking $t$ down:
#
# * the step's cell did not run at a padded step: give its backward $m_t \odot \delta h_t$ (then nothing reaches
#   $x_t$ or the weights there),
# * $h_{t-1}$ reaches $h_t$ through the cell **and**, where $m_t = 0$, directly: $\texttt{dh\_next} = \delta h_{\text{prev}} + (1 - m_t) \odot \delta h_t$.
#
# `dh_T` is the gradient on the final state from outside the sequence: a long sequence run in chunks passes it back
# from the next chunk, and then the chunks' gradients add up to the whole sequence's (the check runs your functions
# on `x[:k]` and `x[k:]` and compares). Without it, each chunk is trained alone: **truncated** backpropagation.
# Note `mask[t]` is $(B,)$: to scale the rows of a $(B, H)$ array it must be a column, `mask[t][:, None]`.

# %% tags=["solution"]
def masked_rnn_forward(x, params, h0, mask, attention="sigmoid"):
    """The RNN over a padded batch: padded steps carry the state over.

    x: (T, B, D); params: the RNN's; h0: (B, H); mask: (T, B) of 0.0 / 1.0.
    Returns hs (T, B, H) and a cache for masked_rnn_backward.
    """
    ### BEGIN SOLUTION
    h, hs, steps = h0, [], []
    for t in range(x.shape[0]):
        m = mask[t][:, None]                                # (B, 1): scales the rows
        h_new, step_cache = rnn_step_forward(x[t], h, params, attention)
        h = m * h_new + (1 - m) * h                         # a padded step keeps the state
        hs.append(h)
        steps.append(step_cache)
    return np.stack(hs), (steps, mask)
    ### END SOLUTION


# %% tags=["check"]
check("masked_rnn.forward")

# %% tags=["solution"]
def masked_rnn_backward(dhs, cache, dh_T=None):
    """Backpropagation through time for masked_rnn_forward.

    dhs: (T, B, H), the gradient w.r.t. every h_t; dh_T: (B, H) or None, the gradient w.r.t. the final state.
    Returns dx (T, B, D), dh0 (B, H) and grads (summed over the steps).
    """
    ### BEGIN SOLUTION
    steps, mask = cache
    T = dhs.shape[0]
    dh_next = np.zeros_like(dhs[0]) if dh_T is None else dh_T
    dxs, grads = [None] * T, None
    for t in reversed(range(T)):
        m = mask[t][:, None]
        dh = dhs[t] + dh_next
        dxs[t], dh_prev, step_grads = rnn_step_backward(m * dh, steps[t])   # only a valid step ran the cell
        dh_next = dh_prev + (1 - m) * dh                    # a padded step passes dh straight on
        if grads is None:
            grads = dict(step_grads)
        else:
            grads = {k: grads[k] + step_grads[k] for k in grads}
    return np.stack(dxs), dh_next, grads
    ### END SOLUTION


# %% tags=["check"]
check("masked_rnn.backward")

# %% [markdown]
# Now two chunks: the check runs your forward on `x[:k]`, then on `x[k:]` from the state `hs[-1]` of the first
# chunk, your backward on the second chunk, and your backward on the first with `dh_T` = the `dh0` of the second.
# The sum must be the whole sequence's gradient.

# %% tags=["check"]
check("masked_rnn.chunks")

# %% [markdown]
# ## Problem 2 · The classifier's head: the mean over the valid steps, and the loss
#
# The network reads a sequence out as the **mean of its states over its valid steps**, then a linear layer gives
# the class scores (logits) $(B, C)$:
#
# $$\text{pooled}_b = \frac{\sum_t m_{tb}\, h_{tb}}{\sum_t m_{tb}}$$
#
# The loss is the mean over the batch of the softmax cross-entropy, computed stably with the log-sum-exp trick
# (the check also uses logits in the thousands):
#
# $$L = -\frac1B \sum_b \log \text{softmax}(\text{logits}_b)[y_b], \qquad \delta\text{logits} = \frac{\text{softmax}(\text{logits}) - \text{onehot}(y)}{B}$$

# %% tags=["solution"]
def mean_readout_forward(hs, mask):
    """The mean of every sequence's states over its valid steps.
    hs: (T, B, H); mask: (T, B). Returns pooled (B, H) and a cache."""
    ### BEGIN SOLUTION
    m = mask[:, :, None]
    count = m.sum(axis=0)                                   # (B, 1): valid steps per sequence
    return (hs * m).sum(axis=0) / count, (m, count)
    ### END SOLUTION


def mean_readout_backward(dpooled, cache):
    """Backward of mean_readout_forward. dpooled: (B, H). Returns dhs (T, B, H)."""
    ### BEGIN SOLUTION
    m, count = cache
    return m * (dpooled / count)                            # padded steps were not in the mean
    ### END SOLUTION


def softmax_cross_entropy(logits, y):
    """The mean over the batch of -log softmax(logits)[y], and its gradient.
    logits: (B, C); y: (B,) integer labels. Returns loss (a float) and dlogits (B, C)."""
    ### BEGIN SOLUTION
    B = logits.shape[0]
    logp = log_softmax(logits, axis=1)                      # z - max - log Σ exp(z - max): never overflows
    loss = -float(logp[np.arange(B), y].mean())
    dlogits = np.exp(logp)
    dlogits[np.arange(B), y] -= 1
    return loss, dlogits / B
    ### END SOLUTION


# %% tags=["check"]
check("readout_loss")

# %% [markdown]
# ## Problem 3 · Overfit a tiny batch
#
# Before training on a data set, make sure the whole network can **memorise** five sequences: a masked EleAtt-RNN
# (your problem 1), the mean readout, a linear layer `W_out` $(H, C)$, `b_out` $(C,)$ and the loss (your problem 2),
# trained by plain gradient descent. If the loss does not go to nearly zero, something is wrong, and on five
# sequences you find out in a second. The first loss should be near $\ln C$ (a network that guesses): if it is far
# above, the initial weights are too large.
#
# Initialise every weight uniformly in $\pm 1/\sqrt{H}$ (as PyTorch does; the shapes are in the docstring), `b_out`
# at 0, and `h0` at zeros. Return the trained parameters and the loss of every step; the check evaluates your
# parameters with the library's reference and wants a loss below 0.1 with every sequence right.

# %% tags=["solution"]
def overfit_tiny_batch(x, mask, y, num_classes, hidden_size=16, steps=200, lr=0.5, seed=0):
    """Train your masked EleAtt-RNN + mean readout + linear layer on one batch until it fits it.

    x: (T, B, D); mask: (T, B); y: (B,) labels in 0 .. num_classes-1.
    Returns params, a dict with the RNN's 'W_xa' (D, D), 'W_ha' (H, D), 'b_a' (D,), 'W_x' (D, H), 'W_h' (H, H),
    'b' (H,) and the output layer's 'W_out' (H, C), 'b_out' (C,), and losses, the loss of every step.
    """
    ### BEGIN SOLUTION
    T, B, D = x.shape
    H, C = hidden_size, num_classes
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    shapes = {"W_xa": (D, D), "W_ha": (H, D), "b_a": (D,), "W_x": (D, H), "W_h": (H, H), "b": (H,), "W_out": (H, C)}
    params = {name: rng.uniform(-k, k, shape) for name, shape in shapes.items()}
    params["b_out"] = np.zeros(C)
    h0 = np.zeros((B, H))
    losses = []
    for _ in range(steps):
        rnn = {name: params[name] for name in ("W_xa", "W_ha", "b_a", "W_x", "W_h", "b")}
        hs, cache = masked_rnn_forward(x, rnn, h0, mask)
        pooled, readout_cache = mean_readout_forward(hs, mask)
        logits = pooled @ params["W_out"] + params["b_out"]
        loss, dlogits = softmax_cross_entropy(logits, y)
        losses.append(loss)
        grads = {"W_out": pooled.T @ dlogits, "b_out": dlogits.sum(axis=0)}
        dhs = mean_readout_backward(dlogits @ params["W_out"].T, readout_cache)
        _, _, rnn_grads = masked_rnn_backward(dhs, cache)
        grads.update(rnn_grads)
        for name in params:
            params[name] -= lr * grads[name]                # one step of gradient descent
    return params, losses
    ### END SOLUTION


# %% tags=["check"]
check("overfit")

# %% [markdown]
# The loss curve of your run (once it is written):

# %% tags=["demo"]
try:
    import matplotlib.pyplot as plt
    from minieleatt.exercises.problems.overfit import tiny_batch
    x, mask, y = tiny_batch()
    _, losses = overfit_tiny_batch(x, mask, y, 3)
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.semilogy(losses)
    ax.axhline(np.log(3), color="gray", ls=":", label="ln C: guessing")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title("Overfitting five sequences")
    ax.legend()
    plt.show()
except NotImplementedError:
    print("(write problems 1 to 3 first)")

# %% [markdown]
# ## Where you stand

# %% tags=["check"]
print(summary("assignment3"))
