"""Assignment 2: the source of its student and teacher notebooks (``minieleatt assignment build``).

Percent cell format; the model solutions sit between the BEGIN/END SOLUTION markers.
"""

# %% [markdown]
# # Assignment 2 · The LSTM and the GRU
#
# | problem | you write | points |
# |---|---|---|
# | 1. One LSTM step | `lstm_step_forward(x_t, state_prev, params, attention="sigmoid")`, `lstm_step_backward(dstate, cache)` | 6 |
# | 2. The LSTM over a sequence | `lstm_forward(x, params, state0, attention="sigmoid")`, `lstm_backward(dhs, cache)` | 4 |
# | 3. One GRU step, the paper's form | `gru_step_forward(x_t, h_prev, params, attention="sigmoid", reset_after=False)`, `gru_step_backward(dh, cache)` | 6 |
# | 4. The reset-after GRU | the same two functions with `reset_after=True` | 3 |
#
# The attention gate is given: `gate_step_forward` / `gate_step_backward` from the library (you wrote them in
# assignment 1; paste yours into the setup cell instead if you like). Everything else you write in NumPy; a part
# that calls the library's cells gets no points. How the checks work and the conventions: see assignment 1.
# The gate blocks are in PyTorch's order: LSTM `i f g o`, GRU `r z n`, each $H$ columns wide.
#
# **Honour line.** For marks, your notebook is graded in a process of its own, with a time limit per part and on
# cases `check()` does not show; nothing your code does can change the grader's verdicts. What no grader can tell is
# code pasted from the library's source or from someone else's notebook: hand in only code you wrote.

# %% tags=["setup"]
# (the first lines of every assignment: the FAST switch and the install, from source/_install.py)

import numpy as np

from minieleatt.exercises import check, set_hints, summary
from minieleatt.functional import sigmoid, softmax, tanh                 # given: the activations
from minieleatt.functional import gate_step_backward, gate_step_forward  # given: the attention gate

HINTS = "formula"
set_hints(HINTS)
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Problem 1 · One step of the EleAtt-LSTM
#
# The state is the pair $(h, c)$. With $\tilde x = \text{gate}(x_t, h_{t-1})$ (or $x_t$ when `attention` is None):
#
# $$[\hat i\;\hat f\;\hat g\;\hat o] = \tilde x W_x + h_{t-1} W_h + b, \qquad i, f, o = \sigma(\cdot), \quad g = \tanh(\hat g)$$
#
# $$c_t = f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t)$$
#
# `W_x` $(D, 4H)$, `W_h` $(H, 4H)$, `b` $(4H,)$, blocks `i f g o`. The backward receives the gradients of **both**
# outputs, `dstate = (dh, dc)` (the cell state also feeds the next step), and returns those of both inputs. $c_t$
# reaches the loss directly and through $h_t$, so first $\delta c_{\text{total}} = \delta c + \delta h \odot o \odot (1 - \tanh^2 c_t)$.
# Take $\sigma'$ and $\tanh'$ from the activations' **outputs**: $i(1-i)$, not $\sigma(i)(1 - \sigma(i))$.

# %% tags=["solution"]
def lstm_step_forward(x_t, state_prev, params, attention="sigmoid"):
    """One step of the LSTM.

    x_t: (B, D); state_prev: the pair (h_prev, c_prev), each (B, H); params: 'W_x' (D, 4H), 'W_h' (H, 4H),
    'b' (4H,) and, with attention, 'W_xa', 'W_ha', 'b_a'; attention: 'sigmoid', 'softmax' or None.
    Returns the new state (h, c), each (B, H), and a cache for lstm_step_backward.
    """
    ### BEGIN SOLUTION
    h_prev, c_prev = state_prev
    H = h_prev.shape[1]
    if attention:
        x_att, gate = gate_step_forward(x_t, h_prev, params, attention)   # x̃ = a * x_t
    else:
        x_att, gate = x_t, None
    pre = x_att @ params["W_x"] + h_prev @ params["W_h"] + params["b"]    # (B, 4H): blocks i f g o
    i = sigmoid(pre[:, :H])
    f = sigmoid(pre[:, H:2 * H])
    g = tanh(pre[:, 2 * H:3 * H])
    o = sigmoid(pre[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = tanh(c)
    h = o * tanh_c
    cache = (x_att, h_prev, c_prev, i, f, g, o, tanh_c, gate, params)
    return (h, c), cache
    ### END SOLUTION


# %% tags=["check"]
check("lstm_step.forward")

# %% tags=["solution"]
def lstm_step_backward(dstate, cache):
    """Backward of lstm_step_forward.

    dstate: the pair (dh, dc), the gradients w.r.t. h and c, each (B, H).
    Returns dx_t (B, D), the pair (dh_prev, dc_prev), each (B, H), and grads (the keys of params).
    """
    ### BEGIN SOLUTION
    dh, dc = dstate
    x_att, h_prev, c_prev, i, f, g, o, tanh_c, gate, p = cache
    do = dh * tanh_c                                        # undo h = o * tanh(c) (through o)
    dc = dc + dh * o * (1 - tanh_c * tanh_c)                # undo h = o * tanh(c) (through c)
    df = dc * c_prev                                        # undo c = f * c_prev + ...
    dc_prev = dc * f
    di = dc * g                                             # undo c = ... + i * g
    dg = dc * i
    dpre = np.concatenate([di * i * (1 - i),                # undo i = σ(.)
                           df * f * (1 - f),                # undo f = σ(.)
                           dg * (1 - g * g),                # undo g = tanh(.)
                           do * o * (1 - o)],               # undo o = σ(.)
                          axis=1)
    dx_att = dpre @ p["W_x"].T                              # undo pre = x̃ W_x + ...
    dW_x = x_att.T @ dpre
    dh_prev = dpre @ p["W_h"].T                             # undo pre = ... + h_prev W_h + ...
    dW_h = h_prev.T @ dpre
    db = dpre.sum(axis=0)
    grads = {}
    if gate is not None:
        dx_t, dh_gate, grads = gate_step_backward(dx_att, gate)
        dh_prev = dh_prev + dh_gate
    else:
        dx_t = dx_att
    grads.update(W_x=dW_x, W_h=dW_h, b=db)
    return dx_t, (dh_prev, dc_prev), grads
    ### END SOLUTION


# %% tags=["check"]
check("lstm_step.backward")

# %% [markdown]
# ## Problem 2 · The LSTM over a sequence
#
# As the RNN of assignment 1, with a pair for the state: both $h$ and $c$ are carried forward, and both of their
# gradients are carried back. Walking $t$ down: $\delta h_t = \texttt{dhs[t]} + \texttt{dh\_next}$, and the cell state's
# gradient that step $t$ receives is the `dc_prev` that step $t+1$ returned (`dc_next`). The loss reads only the
# $h_t$; there is no `dcs`. Return `(dh0, dc0)` as a pair.

# %% tags=["solution"]
def lstm_forward(x, params, state0, attention="sigmoid"):
    """The LSTM over a sequence. x: (T, B, D); state0: the pair (h0, c0), each (B, H).
    Returns hs (T, B, H), every h_t, and a cache for lstm_backward."""
    ### BEGIN SOLUTION
    state, hs, caches = state0, [], []
    for t in range(x.shape[0]):
        state, step_cache = lstm_step_forward(x[t], state, params, attention)
        hs.append(state[0])
        caches.append(step_cache)
    return np.stack(hs), caches
    ### END SOLUTION


# %% tags=["check"]
check("lstm_sequence.forward")

# %% tags=["solution"]
def lstm_backward(dhs, cache):
    """Backpropagation through time for lstm_forward. dhs: (T, B, H).
    Returns dx (T, B, D), the pair (dh0, dc0), and grads (summed over the steps)."""
    ### BEGIN SOLUTION
    T = dhs.shape[0]
    dxs, grads = [None] * T, None
    dh_next, dc_next = np.zeros_like(dhs[0]), np.zeros_like(dhs[0])
    for t in reversed(range(T)):
        dh = dhs[t] + dh_next
        dxs[t], (dh_next, dc_next), step_grads = lstm_step_backward((dh, dc_next), cache[t])
        if grads is None:
            grads = dict(step_grads)
        else:
            grads = {k: grads[k] + step_grads[k] for k in grads}
    return np.stack(dxs), (dh_next, dc_next), grads
    ### END SOLUTION


# %% tags=["check"]
check("lstm_sequence.backward")

# %% [markdown]
# ## Problem 3 · One step of the EleAtt-GRU, the paper's reset-before form
#
# Blocks `r z n` in `W_x` $(D, 3H)$, `W_h` $(H, 3H)$, `b` $(3H,)$ (Cho et al. 2014, the form the paper uses):
#
# $$r = \sigma(\tilde x W_{xr} + h_{t-1} W_{hr} + b_r), \qquad z = \sigma(\tilde x W_{xz} + h_{t-1} W_{hz} + b_z)$$
#
# $$n = \tanh\big(\tilde x W_{xn} + (r \odot h_{t-1}) W_{hn} + b_n\big), \qquad h_t = (1 - z) \odot n + z \odot h_{t-1}$$
#
# $h_{t-1}$ reaches $h_t$ by four paths: $z \odot h_{t-1}$, the products in $r$ and $z$, $r \odot h_{t-1}$ in the
# candidate, and the attention gate. (Here $z$ is the GRU's update gate; the attention gate's pre-activation is
# $z_a$.) Write the `reset_after` branch now or in problem 4.

# %% tags=["solution"]
def gru_step_forward(x_t, h_prev, params, attention="sigmoid", reset_after=False):
    """One step of the GRU.

    x_t: (B, D); h_prev: (B, H); params: 'W_x' (D, 3H), 'W_h' (H, 3H), 'b' (3H,), with reset_after also
    'b_hn' (H,), and with attention 'W_xa', 'W_ha', 'b_a'; reset_after: the cuDNN/PyTorch form.
    Returns h (B, H) and a cache for gru_step_backward.
    """
    ### BEGIN SOLUTION
    H = h_prev.shape[1]
    W_x, W_h, b = params["W_x"], params["W_h"], params["b"]
    W_hrz, W_hn = W_h[:, :2 * H], W_h[:, 2 * H:]
    if attention:
        x_att, gate = gate_step_forward(x_t, h_prev, params, attention)
    else:
        x_att, gate = x_t, None
    gx = x_att @ W_x + b                                    # (B, 3H): x̃ W_x + b for r, z, n
    rz = sigmoid(gx[:, :2 * H] + h_prev @ W_hrz)            # r and z side by side
    r, z = rz[:, :H], rz[:, H:]
    if reset_after:
        hn = h_prev @ W_hn + params["b_hn"]
        n = tanh(gx[:, 2 * H:] + r * hn)
    else:
        hn = None
        n = tanh(gx[:, 2 * H:] + (r * h_prev) @ W_hn)
    h = (1 - z) * n + z * h_prev
    cache = (x_att, h_prev, r, z, n, hn, gate, params, reset_after)
    return h, cache
    ### END SOLUTION


# %% tags=["check"]
check("gru_step.forward")

# %% tags=["solution"]
def gru_step_backward(dh, cache):
    """Backward of gru_step_forward. dh: (B, H).
    Returns dx_t (B, D), dh_prev (B, H) and grads (the keys and shapes of params)."""
    ### BEGIN SOLUTION
    x_att, h_prev, r, z, n, hn, gate, p, reset_after = cache
    H = h_prev.shape[1]
    W_hrz, W_hn = p["W_h"][:, :2 * H], p["W_h"][:, 2 * H:]
    dn = dh * (1 - z)                                       # undo h = (1 - z) * n + z * h_prev
    dz = dh * (h_prev - n)
    dh_prev = dh * z
    dn_pre = dn * (1 - n * n)                               # undo n = tanh(.)
    if reset_after:
        dhn = dn_pre * r                                    # undo n = tanh(... + r * hn)
        dr = dn_pre * hn
        dh_prev = dh_prev + dhn @ W_hn.T                    # undo hn = h_prev W_hn + b_hn
        dW_hn = h_prev.T @ dhn
        db_hn = dhn.sum(axis=0)
    else:
        drh = dn_pre @ W_hn.T                               # undo n = tanh(... + (r * h_prev) W_hn)
        dW_hn = (r * h_prev).T @ dn_pre
        dr = drh * h_prev                                   # undo r * h_prev
        dh_prev = dh_prev + drh * r
    drz_pre = np.concatenate([dr * r * (1 - r), dz * z * (1 - z)], axis=1)   # undo r, z = σ(.)
    dh_prev = dh_prev + drz_pre @ W_hrz.T
    dW_hrz = h_prev.T @ drz_pre
    dgx = np.concatenate([drz_pre, dn_pre], axis=1)         # (B, 3H)
    dx_att = dgx @ p["W_x"].T                               # undo gx = x̃ W_x + b
    dW_x = x_att.T @ dgx
    db = dgx.sum(axis=0)
    grads = {}
    if gate is not None:
        dx_t, dh_gate, grads = gate_step_backward(dx_att, gate)
        dh_prev = dh_prev + dh_gate
    else:
        dx_t = dx_att
    grads.update(W_x=dW_x, W_h=np.concatenate([dW_hrz, dW_hn], axis=1), b=db)
    if reset_after:
        grads["b_hn"] = db_hn
    return dx_t, dh_prev, grads
    ### END SOLUTION


# %% tags=["check"]
check("gru_step.backward")

# %% [markdown]
# ## Problem 4 · The reset-after GRU (cuDNN, PyTorch)
#
# What `torch.nn.GRU` computes: the reset gate multiplies **after** the product, and there is one more bias,
# `params["b_hn"]` $(H,)$:
#
# $$n = \tanh\big(\tilde x W_{xn} + b_n + r \odot (h_{t-1} W_{hn} + b_{hn})\big)$$
#
# Add the `reset_after=True` branch to your two GRU functions (the grads then include `'b_hn'`), run their cells
# again, and check. A reset-before answer here is recognised and said so.

# %% tags=["check"]
check("gru_reset_after")

# %% [markdown]
# ## Where you stand

# %% tags=["check"]
print(summary("assignment2"))
