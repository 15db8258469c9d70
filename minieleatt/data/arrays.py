"""The forms people hold their time series in, brought to the library's one form.

The library's form (the readers' layout): a list of time-major ``(T_i, C)`` arrays.
What users hold, and what ``as_cases`` accepts:

=====================================  ==========================================================
``X``                                  read as
=====================================  ==========================================================
ndarray ``(n_cases, n_channels, T)``   aeon/sktime "numpy3D": channels first, equal lengths
                                       (NaN at the end of a case pads it to the common length)
ndarray ``(n_cases, T)``               univariate, one case per row (scikit-learn's 2-D ``X``)
list of ``(T_i, C)`` arrays            the readers' layout, time-major (``layout="time-major"``)
list of ``(C, T_i)`` arrays            aeon's unequal-length "np-list", channels first
                                       (``layout="channels-first"``)
list of 1-D arrays                     univariate cases of any lengths
=====================================  ==========================================================

A list of 2-D arrays is ambiguous: which axis is time? ``layout=None`` decides only where the
arrays themselves say it: the axis whose size is the same in every case (and equals
``n_channels`` when that is known, e.g. a trained model's) is the channel axis. Equal-length
cases with no known channel count, or cases where both axes could be the channels, are refused
with a message asking for ``layout=``; nothing is guessed.

NaN steps at the end of a case (every channel NaN) are padding and are cut off; a NaN inside
a case is a missing value, kept as NaN (the normaliser fills it).
"""

import numpy as np

LAYOUTS = ("time-major", "channels-first")


def as_cases(X, n_channels=None, layout=None, name="X"):
    """The cases of ``X`` (any form in the module docstring) as a list of ``(T_i, C)`` float64 arrays.

    ``n_channels``: the channel count the cases must have (a trained model's), or None.
    ``layout``: None (decide from the shapes, refusing to guess), ``"time-major"`` or
    ``"channels-first"``: how to read a list of 2-D arrays. ``name`` names the argument in errors.
    Raises ``ValueError`` / ``TypeError`` naming ``name`` and the case.
    """
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"layout must be None, 'time-major' or 'channels-first', got {layout!r}")
    if hasattr(X, "__cuda_array_interface__"):
        raise TypeError(f"{name} is a GPU array; pass a NumPy array (minieleatt.to_host(X)): data stay on the "
                        "host and each batch moves to the model's device")
    if isinstance(X, np.ndarray) and X.dtype != object:
        cases = _from_array(X, n_channels, layout, name)
    else:
        cases = _from_list(X, n_channels, layout, name)
    return [_strip_padding(c, f"{name}[{i}]") for i, c in enumerate(cases)]


def _numeric(a, what):
    a = np.asarray(a)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) and a.dtype != np.bool_):
        raise TypeError(f"{what} must hold numbers, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def _from_array(X, n_channels, layout, name):
    X = _numeric(X, name)
    if X.ndim == 2:
        if n_channels not in (None, 1):
            raise ValueError(f"{name} has shape {X.shape}, read as (n_cases, n_timepoints) of one channel, but the "
                             f"model takes {n_channels} channels: pass (n_cases, n_channels, n_timepoints)")
        return [row[:, None] for row in X]
    if X.ndim != 3:
        raise ValueError(f"{name} must be (n_cases, n_channels, n_timepoints) or (n_cases, n_timepoints), or a "
                         f"list of cases; got an array of shape {X.shape}")
    if layout == "time-major":
        return list(X)
    if n_channels is not None and X.shape[1] != n_channels:
        hint = (" It looks like (n_cases, n_timepoints, n_channels): pass X.transpose(0, 2, 1), or "
                "layout='time-major'." if X.shape[2] == n_channels else "")
        raise ValueError(f"{name} has shape {X.shape}, read as aeon's (n_cases, n_channels, n_timepoints), "
                         f"but the model takes {n_channels} channels.{hint}")
    return [case.T for case in X]


def _from_list(X, n_channels, layout, name):
    try:
        items = list(X)
    except TypeError:
        raise TypeError(f"{name} must be an array or a list of arrays, got {type(X).__name__}") from None
    if not items:
        raise ValueError(f"{name} is empty: no cases")
    arrays = [_numeric(a, f"{name}[{i}]") for i, a in enumerate(items)]
    dims = {a.ndim for a in arrays}
    if dims == {1}:
        if n_channels not in (None, 1):
            raise ValueError(f"{name} holds 1-D (univariate) cases, but the model takes {n_channels} channels")
        return [a[:, None] for a in arrays]
    for i, a in enumerate(arrays):
        if a.ndim != 2:
            raise ValueError(f"{name}[{i}] has shape {a.shape}; the cases of a list must all be 2-D, (T_i, C) or "
                             "(C, T_i), or all 1-D")
    layout = layout or _infer_layout(arrays, n_channels, name)
    cases = arrays if layout == "time-major" else [a.T for a in arrays]
    channels = {c.shape[1] for c in cases}
    if len(channels) > 1:
        first = cases[0].shape[1]
        i = next(k for k, c in enumerate(cases) if c.shape[1] != first)
        raise ValueError(f"{name}[{i}] has {cases[i].shape[1]} channels, {name}[0] has {first} "
                         f"(read as layout={layout!r})")
    if n_channels is not None and cases[0].shape[1] != n_channels:
        raise ValueError(f"{name}: cases of {cases[0].shape[1]} channels (layout={layout!r}), but the model takes "
                         f"{n_channels}")
    return cases


def _infer_layout(arrays, n_channels, name):
    """'time-major' or 'channels-first' where the shapes say it; else a ValueError asking for layout=."""
    fixed = [len({a.shape[k] for a in arrays}) == 1 for k in (0, 1)]
    if n_channels is not None:
        fits = [fixed[k] and arrays[0].shape[k] == n_channels for k in (0, 1)]
        if fits[1] and not fits[0]:
            return "time-major"
        if fits[0] and not fits[1]:
            return "channels-first"
        if not any(fits):
            raise ValueError(f"{name}: no axis of the cases has the model's {n_channels} channels in every case "
                             f"(first case {arrays[0].shape})")
    elif fixed[1] and not fixed[0]:
        return "time-major"
    elif fixed[0] and not fixed[1]:
        return "channels-first"
    raise ValueError(f"{name}: cannot tell the time axis from the channel axis (first case {arrays[0].shape}, "
                     "every case the same shape); pass layout='time-major' for (T_i, C) arrays or "
                     "layout='channels-first' for (C, T_i), or one array (n_cases, n_channels, n_timepoints)")


def _strip_padding(case, what):
    """``case`` without the trailing steps where every channel is NaN; refuses a case that is all padding."""
    if np.isinf(case).any():
        t, c = (int(i) for i in np.argwhere(np.isinf(case))[0])
        raise ValueError(f"{what} holds an infinite value (step {t + 1}, channel {c + 1})")
    nan_rows = np.isnan(case).all(axis=1)
    if not nan_rows.any():
        if case.shape[0] == 0:
            raise ValueError(f"{what} is empty (0 time steps)")
        return case
    valid = np.flatnonzero(~nan_rows)
    if valid.size == 0:
        raise ValueError(f"{what} has no value (every step is NaN or the case is empty)")
    return case[: valid[-1] + 1]
