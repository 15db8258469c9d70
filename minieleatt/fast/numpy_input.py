"""The input side of the cells' NumPy fast path: feature-major, in place, products hoisted and fused.

``numpy_cells.py`` computes what the reference (``minieleatt.functional``) computes,
organised for NumPy on the CPU. Why, measured (see ``benchmarks/``):

1. Feature-major storage. Every per-step array is stored transposed, (features, B), so
   that the column blocks of the row-vector maths (a cell's gates, the attention gate)
   become row blocks, which are contiguous. NumPy runs an element-wise operation on a
   contiguous block about four times faster than on a column block of a wider array.
   The products are the same ones, transposed: ``h_{t-1} W`` is computed as ``W^T h_{t-1}^T``.
   The caches hold the same values as the fused path's, as transposed views: ``cache.h_all``
   is (T+1, B, H) as always, its memory (T+1, H, B); the next layer's fast path reads it
   without a copy.
2. No temporaries in the time loop: every result goes into a buffer allocated once
   (``out=``, in-place operators), straight into the cache where it belongs.
3. Products hoisted and fused: ``x_t W_xa + b_a`` for all steps before the loop, and every
   product with ``h_{t-1}`` of one step (the gate's ``W_ha`` and the cell's ``W_h``) in one
   matrix product with ``[W_ha | W_h]``.
4. Sigmoids as ``0.5 tanh(z/2) + 0.5`` with z/2 straight out of the products, from halved
   copies of their weight rows (scaling by 0.5 is exact), and the bias ``b`` inside the
   product (x̃_t gets a last row of ones, W_x^T a last column b): fewer passes per step.
5. Weight gradients accumulated inside the backward loop, one product per step with
   operands that are still in the cache, instead of one large product after the loop
   over arrays stored for all steps (those are then never stored).

Like everything numerical here, these take their array module from the caller.
"""

from ..backend import get_array_module


def feature_major(xp, a):
    """(T, B, K) -> the same values as (T, K, B), C-contiguous: a view when ``a`` is already stored
    that way (the fast path returns its arrays so), else a copy."""
    return xp.ascontiguousarray(a.transpose(0, 2, 1))


def softmax_(z, axis=-1):
    """Softmax in place along ``axis``, overwriting ``z`` (the same operations as
    ``minieleatt.functional.softmax``, without its temporaries)."""
    xp = get_array_module(z)
    z -= z.max(axis=axis, keepdims=True)
    xp.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def halve_rows(W_T, rows, offset=0, limit=None):
    """Halve the rows ``offset + r`` of ``W_T`` for each slice r in ``rows`` (clipped to ``limit`` rows)."""
    for r in rows:
        stop = r.stop if limit is None else min(r.stop, limit)
        if stop > r.start:
            W_T[offset + r.start: offset + stop] *= 0.5


class FeatureMajorInput:
    """Forward of a cell's input side on the fast path.

    s: the checked ``Sequence``; x (T, B, D); params: the cell's dict; h_cols: how many
    columns of ``W_h`` join the fused product with h_{t-1}; halved: slices of the cell's
    pre-activation rows that feed a sigmoid (they come out halved); keep: keep the
    responses a_t for backward; store_g: keep every step's ``g`` in ``self.GT`` (the cell
    turns it into its gates in place).

    ``step(t, h_prev)`` returns ``g`` (G·H, B) = x̃_t W_x + b and ``hw`` (h_cols, B) = the
    cell's part of h_{t-1} W_h, both feature-major, halved rows halved.
    """

    def __init__(self, s, x, params, h_cols, halved, keep=True, store_g=True):
        xp, T, B, D, dt, activation = s.xp, s.T, s.B, s.D, s.dtype, s.attention
        GH = params["W_x"].shape[1]
        self.xp, self.activation = xp, activation
        self.lead = lead = D if activation else 0                  # rows of the gate in the fused products
        W_h = params["W_h"][:, :h_cols]
        self.W_hcat = xp.concatenate([params["W_ha"], W_h], axis=1) if activation else W_h
        self.W_hcat_T = self.W_hcat.T.copy()                # a copy: rows get halved
        if activation == "sigmoid":
            self.W_hcat_T[:lead] *= 0.5
        halve_rows(self.W_hcat_T, halved, lead, h_cols)
        self.xT = feature_major(xp, x)                       # (T, D, B)
        self.hw = xp.empty((lead + h_cols, B), dtype=dt)
        self.AT = self.g = None
        if activation:
            # x_t W_xa + b_a for all steps (halved for the sigmoid); the responses a_t replace it in place
            scale = 0.5 if activation == "sigmoid" else 1.0
            self.AT = xp.matmul(params["W_xa"].T * scale, self.xT)
            self.AT += params["b_a"][:, None] * scale
            self.W_xb_T = xp.concatenate([params["W_x"].T, params["b"][:, None]], axis=1)   # (G·H, D + 1)
            halve_rows(self.W_xb_T, halved)
            self.x_att1 = xp.ones((D + 1, B), dtype=dt)      # [x̃_t ; 1]
            self.x_att = self.x_att1[:D]
            self.GT = xp.empty((T, GH, B), dtype=dt) if store_g else None
            self.g = None if store_g else xp.empty((GH, B), dtype=dt)
        else:
            # x_t W_x + b for all steps; the cell turns it into its gates in place
            W_xb_T = xp.concatenate([params["W_x"].T, params["b"][:, None]], axis=1)
            halve_rows(W_xb_T, halved)
            self.GT = xp.matmul(W_xb_T[:, :D], self.xT)
            self.GT += W_xb_T[:, D:]
        self.keep = keep

    def step(self, t, h_prev):
        xp, lead = self.xp, self.lead
        xp.matmul(self.W_hcat_T, h_prev, out=self.hw)        # every product with h_{t-1}
        if not self.activation:
            return self.GT[t], self.hw
        a = self.AT[t]
        a += self.hw[:lead]
        if self.activation == "sigmoid":                           # a holds z/2: a_t = 0.5 tanh(z/2) + 0.5
            xp.tanh(a, out=a)
            a *= 0.5
            a += 0.5
        else:
            softmax_(a, axis=0)                              # over the features
        xp.multiply(a, self.xT[t], out=self.x_att)           # x̃_t = a_t ⊙ x_t
        g = self.g if self.GT is None else self.GT[t]
        xp.matmul(self.W_xb_T, self.x_att1, out=g)           # x̃_t W_x + b
        return g, self.hw[lead:]

    def responses(self):
        """The responses a_t as (T, B, D) (a view), or None."""
        return None if self.AT is None or not self.keep else self.AT.transpose(0, 2, 1)


class FeatureMajorInputGrad:
    """Backward of ``FeatureMajorInput``.

    xp: the array module; cache: the cell's stacked cache (``caches.py``); GH: rows of the
    pre-activation (G·H); h_cols: columns of ``W_h`` in the fused product; shared: True
    when the gradient of the h-part equals the first h_cols rows of the x-part's (RNN,
    LSTM, reset-before GRU), which then share one buffer.

    Per step the cell writes ``dgx`` (G·H, B), the gradient of x̃_t W_x + b, and (when not
    shared) ``dgh`` (h_cols, B), the gradient of the h-part, then calls ``step(t, dh_prev)``,
    which adds to ``dh_prev`` (H, B) what flows back through the products (``add=False``:
    writes it) and accumulates the weight gradients. ``finish()`` returns dx (T, B, D), the
    gradients ('W_x', 'b', 'W_h' for the fused columns, the gate's three) and the sum of dgh
    over steps and batch (for a bias inside the h-part, the GRU's b_hn).
    """

    def __init__(self, xp, cache, GH, h_cols, shared):
        self.xp, p, activation = xp, cache.params, cache.activation
        self.xT, self.hT = feature_major(xp, cache.x), feature_major(xp, cache.h_all)
        self.AT = feature_major(xp, cache.responses) if activation else None
        T, D, B = self.xT.shape
        H, dt = self.hT.shape[1], self.xT.dtype
        self.activation, self.W_hcat, self.W_x, self.W_xa = activation, cache.W_hcat, p["W_x"], p.get("W_xa")
        self.lead = lead = D if activation else 0
        self.shared = shared
        if shared:   # [dz_a | dgx]: the h-part's gradient is a prefix of dgx
            self.d = xp.empty((lead + GH, B), dtype=dt)
            self.dgx, self.dhc = self.d[lead:], self.d[: lead + h_cols]
            self.sums = [(xp.zeros((lead + GH, B), dtype=dt), self.d)]
        else:
            self.dgx, self.dhc = xp.empty((GH, B), dtype=dt), xp.empty((lead + h_cols, B), dtype=dt)
            self.sums = [(xp.zeros((GH, B), dtype=dt), self.dgx), (xp.zeros((lead + h_cols, B), dtype=dt), self.dhc)]
        self.dgh, self.dza = self.dhc[lead:], self.dhc[:lead]
        self.dxT = xp.empty((T, D, B), dtype=dt)
        self.dW_hcat, self.dW_x = xp.zeros((H, lead + h_cols), dtype=dt), xp.zeros((D, GH), dtype=dt)
        self.dW_hcat_t, self.dW_x_t = xp.empty_like(self.dW_hcat), xp.empty_like(self.dW_x)
        self.tH = xp.empty((H, B), dtype=dt)
        if activation:
            self.dW_xa, self.dW_xa_t = xp.zeros((D, D), dtype=dt), xp.empty((D, D), dtype=dt)
            self.dx_att, self.x_att, self.tD = (xp.empty((D, B), dtype=dt) for _ in range(3))

    def step(self, t, dh_prev, add=True):
        xp, dgx, dza = self.xp, self.dgx, self.dza
        x_t = self.xT[t]
        if self.activation:
            a, tD = self.AT[t], self.tD
            xp.matmul(self.W_x, dgx, out=self.dx_att)        # undo x̃ W_x
            xp.multiply(self.dx_att, a, out=self.dxT[t])     # undo x̃ = a ⊙ x (through x)
            xp.multiply(self.dx_att, x_t, out=dza)           # ... (through a)
            if self.activation == "sigmoid":
                dza *= a
                xp.subtract(1, a, out=tD)
                dza *= tD                                    # undo a = σ(.)
            else:
                xp.multiply(dza, a, out=tD)
                dza -= tD.sum(axis=0, keepdims=True)
                dza *= a                                     # undo a = softmax(.) over the features
            xp.multiply(a, x_t, out=self.x_att)
            xp.matmul(self.x_att, dgx.T, out=self.dW_x_t)
            xp.matmul(x_t, dza.T, out=self.dW_xa_t)
            self.dW_xa += self.dW_xa_t
            xp.matmul(self.W_xa, dza, out=tD)                # undo x W_xa
            self.dxT[t] += tD
        else:
            xp.matmul(self.W_x, dgx, out=self.dxT[t])        # undo x W_x
            xp.matmul(x_t, dgx.T, out=self.dW_x_t)
        self.dW_x += self.dW_x_t
        if add:
            xp.matmul(self.W_hcat, self.dhc, out=self.tH)    # undo h_prev [W_ha | W_h]
            dh_prev += self.tH
        else:
            xp.matmul(self.W_hcat, self.dhc, out=dh_prev)
        xp.matmul(self.hT[t], self.dhc.T, out=self.dW_hcat_t)
        self.dW_hcat += self.dW_hcat_t
        for total, part in self.sums:
            total += part

    def finish(self):
        lead, D = self.lead, self.xT.shape[1]
        sums = [total.sum(axis=1) for total, _ in self.sums]
        if self.shared:
            b, hc_sum = sums[0][lead:], sums[0][: self.dhc.shape[0]]
        else:
            b, hc_sum = sums[0], sums[1]
        grads = {"W_x": self.dW_x, "b": b, "W_h": self.dW_hcat[:, lead:]}
        if self.activation:
            grads.update(W_xa=self.dW_xa, W_ha=self.dW_hcat[:, :D], b_a=hc_sum[:D])
        return self.dxT.transpose(0, 2, 1), grads, hc_sum[lead:]
