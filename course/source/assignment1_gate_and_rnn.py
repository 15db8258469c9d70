"""Assignment 1: the source of its student and teacher notebooks (``minieleatt assignment build``).

Percent cell format; the model solutions sit between the BEGIN/END SOLUTION markers.
"""

# %% [markdown]
# # Assignment 1 · The gate and the RNN, forward and backward
#
# You will write, in NumPy, the pieces of an EleAtt-RNN (Zhang et al., ECCV 2018) and the tool that checks them:
#
# | problem | you write | points |
# |---|---|---|
# | 1. The checker | `numerical_vjp(f, x, dout, eps=1e-6)` | 4 |
# | 2. The attention gate | `gate_step_forward(x_t, h_prev, params, activation="sigmoid")`, `gate_step_backward(dx_att, cache)` | 5 |
# | 3. The softmax gate | the same two functions, `activation="softmax"` | 3 |
# | 4. One RNN step | `rnn_step_forward(x_t, h_prev, params, attention="sigmoid")`, `rnn_step_backward(dh, cache)` | 5 |
# | 5. The RNN over a sequence | `rnn_forward(x, params, h0, attention="sigmoid")`, `rnn_backward(dhs, cache)` | 6 |
#
# The signatures are those of the library's reference (`minieleatt.functional`): when you are done, you have
# rewritten it. You may **not** call it (nor the layers, the fast paths or the checker's internals): a part that
# does gets no points. The activations `sigmoid`, `tanh` and `softmax` are given.
#
# **How it works.** Write the body of each function where it says `# YOUR CODE HERE` (replace the `raise`), run
# the cell, then the check cell under it. `check("gate.backward")` runs your functions on several random
# problems (different seeds and sizes, with B, D, H and T all different) and compares every output with the
# library's reference and every gradient with central differences, in float64. Its report says which tensors are
# right and, for a wrong one, where the error is and what to check (`set_hints("none" | "location" | "formula")`
# chooses how much it tells). Until you write a function, its check says "not implemented yet".
#
# **Conventions.** Row vectors: a layer computes `x @ W`, so for `y = x @ W`: `dx = dy @ W.T`, `dW = x.T @ dy`, and
# a bias added to every row gets `dy.sum(axis=0)`. From their outputs, `σ′ = a * (1 - a)` and `tanh′ = 1 - t**2`.
# A variable used in two places receives the **sum** of both gradients. Notebook 2 of the tutorials derives all of
# it; the bug zoo (notebook 8) shows what the checker says about common mistakes.
#
# **Honour line.** For marks, your notebook is graded in a process of its own, with a time limit per part and on
# cases `check()` does not show; nothing your code does can change the grader's verdicts. What no grader can tell is
# code pasted from the library's source or from someone else's notebook: hand in only code you wrote.

# %% tags=["setup"]
# (the first lines of every assignment: the FAST switch and the install, from source/_install.py)

import numpy as np

from minieleatt.exercises import check, set_hints, summary
from minieleatt.functional import sigmoid, softmax, tanh      # given: the activations

HINTS = "formula"
set_hints(HINTS)
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Problem 1 · The checker: central differences
#
# Every backward pass in this course is judged against **central differences**. Write them yourself first.
# For a function `f` of an array `x` and an upstream gradient `dout` shaped like `f(x)`, the scalar
# $L(x) = \sum f(x) \odot \text{dout}$ has the gradient a backward pass returns when it is given `dout`.
# Estimate it one entry at a time:
#
# $$\frac{\partial L}{\partial x_i} \approx \frac{L(x + \varepsilon e_i) - L(x - \varepsilon e_i)}{2\varepsilon}$$
#
# Nudge `x[i]` in place, evaluate, and put it back **exactly** (keep the old value; `x[i] + ε − ε` is not always
# `x[i]` in floating point). The central difference's error shrinks like $\varepsilon^2$, a one-sided one's only like
# $\varepsilon$. Stay in float64: in float32 the rounding of $L$ divided by $2\varepsilon$ is as large as the gradient
# (tutorial 3 draws the "V" of truncation against rounding).

# %% tags=["solution"]
def numerical_vjp(f, x, dout, eps=1e-6):
    """The gradient of L(x) = sum(f(x) * dout) with respect to x, by central differences.

    f: a function of one array; x: a float64 array of any shape (nudged in place, restored exactly);
    dout: an array shaped like f(x); eps: the step.
    Returns dx, shaped like x.
    """
    ### BEGIN SOLUTION
    dx = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + eps
        plus = (f(x) * dout).sum()
        x[i] = old - eps
        minus = (f(x) * dout).sum()
        x[i] = old                                  # exactly as it was
        dx[i] = (plus - minus) / (2 * eps)
    return dx
    ### END SOLUTION


# %% tags=["check"]
check("numerical_vjp")

# %% [markdown]
# ## Problem 2 · The attention gate
#
# One gate per layer, shared by its $H$ neurons. From the step's input $x_t$ $(B, D)$ and the layer's previous
# state $h_{t-1}$ $(B, H)$:
#
# $$z_a = x_t W_{xa} + h_{t-1} W_{ha} + b_a, \qquad a = \sigma(z_a), \qquad \tilde x = a \odot x_t$$
#
# with `params["W_xa"]` $(D, D)$, `params["W_ha"]` $(H, D)$, `params["b_a"]` $(D,)$. (`params` may hold a cell's other
# parameters too: use only these three.) The forward returns $\tilde x$ and a **cache**, anything you like that the
# backward needs. The backward gets $\delta\tilde x$ and returns $\delta x_t$, $\delta h_{t-1}$ and the gradients of the
# three parameters in a dict. Careful: $x_t$ reaches $\tilde x$ by two paths, directly and through $z_a$.
#
# Write the `activation="softmax"` branch now too, or come back for it in problem 3.

# %% tags=["solution"]
def gate_step_forward(x_t, h_prev, params, activation="sigmoid"):
    """One step of the element-wise attention gate.

    x_t: (B, D); h_prev: (B, H); params: dict with 'W_xa' (D, D), 'W_ha' (H, D), 'b_a' (D,);
    activation: 'sigmoid' (each element on its own) or 'softmax' (over the D elements of each row).
    Returns x_att (B, D), the gated input a * x_t, and a cache for gate_step_backward.
    """
    ### BEGIN SOLUTION
    W_xa, W_ha, b_a = params["W_xa"], params["W_ha"], params["b_a"]
    z_a = x_t @ W_xa + h_prev @ W_ha + b_a                  # the gate's pre-activation
    if activation == "sigmoid":
        a = sigmoid(z_a)                                    # each element on its own
    else:
        a = softmax(z_a, axis=-1)                           # the elements compete: a sums to 1
    x_att = a * x_t
    cache = (x_t, h_prev, a, W_xa, W_ha, activation)
    return x_att, cache
    ### END SOLUTION


# %% tags=["check"]
check("gate.forward")

# %% tags=["solution"]
def gate_step_backward(dx_att, cache):
    """Backward of gate_step_forward.

    dx_att: (B, D), the gradient of the loss w.r.t. x_att.
    Returns dx_t (B, D), dh_prev (B, H) (the part of h_prev's gradient that flows through the gate),
    and grads: {'W_xa': (D, D), 'W_ha': (H, D), 'b_a': (D,)}.
    """
    ### BEGIN SOLUTION
    x_t, h_prev, a, W_xa, W_ha, activation = cache
    da = dx_att * x_t                                       # undo x_att = a * x_t (through a)
    dx_t = dx_att * a                                       # undo x_att = a * x_t (through x_t)
    if activation == "sigmoid":
        dz_a = da * a * (1 - a)                             # undo a = σ(z_a)
    else:
        dz_a = a * (da - (da * a).sum(axis=1, keepdims=True))   # undo a = softmax(z_a)
    dx_t = dx_t + dz_a @ W_xa.T                             # undo z_a = x_t W_xa + ...
    dh_prev = dz_a @ W_ha.T                                 # undo z_a = ... + h_prev W_ha + ...
    grads = {"W_xa": x_t.T @ dz_a, "W_ha": h_prev.T @ dz_a, "b_a": dz_a.sum(axis=0)}
    return dx_t, dh_prev, grads
    ### END SOLUTION


# %% tags=["check"]
check("gate.backward")

# %% [markdown]
# Before the grader judges your backward, judge it yourself with your own checker (run it once both are written):

# %% tags=["demo"]
try:
    rng = np.random.default_rng(0)
    B, D, H = 3, 4, 5
    x, h = rng.standard_normal((B, D)), rng.standard_normal((B, H))
    p = {"W_xa": rng.standard_normal((D, D)), "W_ha": rng.standard_normal((H, D)), "b_a": rng.standard_normal(D)}
    dout = rng.standard_normal((B, D))
    _, gate_cache = gate_step_forward(x, h, p)
    dx, dh, grads = gate_step_backward(dout, gate_cache)
    numerical = numerical_vjp(lambda v: gate_step_forward(v, h, p)[0], x, dout)
    print("largest |dx - numerical dx|:", np.abs(dx - numerical).max())
except NotImplementedError:
    print("(write numerical_vjp, gate_step_forward and gate_step_backward first)")

# %% [markdown]
# ## Problem 3 · The softmax gate (the paper's ablation)
#
# With `activation="softmax"`, $a = \text{softmax}(z_a)$ over the $D$ elements of each row: the responses compete
# and sum to 1. Two things change.
#
# * **Forward**: compute it without overflow. `exp(z)` of a large `z` is `inf`; subtract each row's maximum first,
#   which changes nothing mathematically. (The check also runs with $z_a$ in the hundreds.)
# * **Backward**: the softmax's Jacobian is not diagonal, $\partial a_k / \partial z_j = a_k(\delta_{kj} - a_j)$, so
#
# $$\delta z_a = a \odot \big(\delta a - \textstyle\sum_k \delta a_k\, a_k\big) \qquad \text{(the sum over the D elements of each row)}$$
#
# Add the branch to your two gate functions above, run their cells again, then check:

# %% tags=["check"]
check("softmax_gate")

# %% [markdown]
# ## Problem 4 · One step of the EleAtt-RNN
#
# $$\tilde x = \text{gate}(x_t, h_{t-1}), \qquad h_t = \tanh(\tilde x W_x + h_{t-1} W_h + b)$$
#
# with `W_x` $(D, H)$, `W_h` $(H, H)$, `b` $(H,)$, and the gate's parameters in the same dict. Use your gate
# (`attention` is its activation, or `None` for the plain RNN: then $\tilde x = x_t$ and `params` has no gate keys).
# Backward: undo the tanh, the two products, then the gate. $h_{t-1}$ reaches $h_t$ by two paths, the cell's
# $W_h$ and the gate's $W_{ha}$, so $\delta h_{t-1}$ has two terms; and $\delta W_x = \tilde x^\top \delta\text{pre}$, with the
# **gated** input.

# %% tags=["solution"]
def rnn_step_forward(x_t, h_prev, params, attention="sigmoid"):
    """One step of the RNN: h = tanh(x̃ W_x + h_prev W_h + b), x̃ = the gated x_t (or x_t when attention is None).

    x_t: (B, D); h_prev: (B, H); params: 'W_x' (D, H), 'W_h' (H, H), 'b' (H,) and, with attention,
    'W_xa', 'W_ha', 'b_a'; attention: 'sigmoid', 'softmax' or None.
    Returns h (B, H) and a cache for rnn_step_backward.
    """
    ### BEGIN SOLUTION
    if attention:
        x_att, gate = gate_step_forward(x_t, h_prev, params, attention)   # x̃ = a * x_t
    else:
        x_att, gate = x_t, None
    pre = x_att @ params["W_x"] + h_prev @ params["W_h"] + params["b"]
    h = tanh(pre)
    cache = (x_att, h_prev, h, gate, params)
    return h, cache
    ### END SOLUTION


# %% tags=["check"]
check("rnn_step.forward")

# %% tags=["solution"]
def rnn_step_backward(dh, cache):
    """Backward of rnn_step_forward.

    dh: (B, H), the gradient of the loss w.r.t. h.
    Returns dx_t (B, D), dh_prev (B, H) and grads, a dict with the keys and shapes of params.
    """
    ### BEGIN SOLUTION
    x_att, h_prev, h, gate, p = cache
    dpre = dh * (1 - h * h)                                 # undo h = tanh(pre)
    dx_att = dpre @ p["W_x"].T                              # undo pre = x̃ W_x + ...
    dW_x = x_att.T @ dpre
    dh_prev = dpre @ p["W_h"].T                             # undo pre = ... + h_prev W_h + ...
    dW_h = h_prev.T @ dpre
    db = dpre.sum(axis=0)                                   # undo pre = ... + b
    grads = {}
    if gate is not None:
        dx_t, dh_gate, grads = gate_step_backward(dx_att, gate)    # undo x̃ = a * x_t
        dh_prev = dh_prev + dh_gate                                # h_prev's second path
    else:
        dx_t = dx_att
    grads.update(W_x=dW_x, W_h=dW_h, b=db)
    return dx_t, dh_prev, grads
    ### END SOLUTION


# %% tags=["check"]
check("rnn_step.backward")

# %% [markdown]
# ## Problem 5 · The RNN over a sequence
#
# Run your step over $t = 0 \dots T-1$: $h_t = \text{step}(x_t, h_{t-1})$, time-major `x` $(T, B, D)$, every $h_t$
# returned in `hs` $(T, B, H)$. The cache is yours to design (the steps' caches, in order, will do).
#
# Backward: the loss depends on every $h_t$ (you get `dhs[t]`), and $h_t$ also feeds step $t+1$. Walking $t$ from
# $T-1$ down to 0,
#
# $$\delta h_t = \texttt{dhs[t]} + \underbrace{\delta h_{\text{prev}} \text{ returned by step } t+1}_{\texttt{dh\_next}}$$
#
# and the weights' gradients are the **sum** over the steps (the same weights serve every step). `dh0` is what step
# 0 sends back. If this check fails while your step's passes, its report says at which sequence length the error
# starts and which carried term is wrong.

# %% tags=["solution"]
def rnn_forward(x, params, h0, attention="sigmoid"):
    """The RNN over a sequence.

    x: (T, B, D); params: as for rnn_step_forward; h0: (B, H); attention: 'sigmoid', 'softmax' or None.
    Returns hs (T, B, H), every h_t, and a cache for rnn_backward.
    """
    ### BEGIN SOLUTION
    h, hs, caches = h0, [], []
    for t in range(x.shape[0]):
        h, step_cache = rnn_step_forward(x[t], h, params, attention)
        hs.append(h)
        caches.append(step_cache)
    return np.stack(hs), caches
    ### END SOLUTION


# %% tags=["check"]
check("rnn_sequence.forward")

# %% tags=["solution"]
def rnn_backward(dhs, cache):
    """Backpropagation through time for rnn_forward.

    dhs: (T, B, H), the gradient of the loss w.r.t. every h_t.
    Returns dx (T, B, D), dh0 (B, H) and grads (the keys and shapes of params, summed over the steps).
    """
    ### BEGIN SOLUTION
    T = dhs.shape[0]
    dxs, grads = [None] * T, None
    dh_next = np.zeros_like(dhs[0])
    for t in reversed(range(T)):
        dh = dhs[t] + dh_next                               # h_t is an output and the next step's h_prev
        dxs[t], dh_next, step_grads = rnn_step_backward(dh, cache[t])
        if grads is None:
            grads = dict(step_grads)
        else:
            grads = {k: grads[k] + step_grads[k] for k in grads}   # the weights are shared by every step
    return np.stack(dxs), dh_next, grads
    ### END SOLUTION


# %% tags=["check"]
check("rnn_sequence.backward")

# %% [markdown]
# ## Where you stand
#
# The latest result of every part you checked in this session (`minieleatt assignment grade` gives your teacher
# the same verdicts, with points).

# %% tags=["check"]
print(summary("assignment1"))
