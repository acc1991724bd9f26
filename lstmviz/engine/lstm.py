"""LSTM cell (PyTorch layout, gate order i, f, g, o in the stacked 4H rows).

    i, f, g, o = sigma, sigma, tanh, sigma of (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

Shapes: x (B, I), h and c (B, H), weight_ih (4H, I), weight_hh (4H, H).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .activations import sigmoid

N_GATES = 4
HAS_CELL = True
EXTRAS = ("i", "f", "g", "o", "tc")
GATES = {"input": "i", "forget": "f", "cell": "g", "output": "o"}


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    c_prev: np.ndarray  # (B, H)
    i: np.ndarray  # (B, H) input gate
    f: np.ndarray  # (B, H) forget gate
    g: np.ndarray  # (B, H) candidate cell
    o: np.ndarray  # (B, H) output gate
    tc: np.ndarray  # (B, H) tanh(c_t)


def step(p, act, x, state, xproj=None):
    """One forward step. state = (h_prev, c_prev). Returns ((h, c), cache)."""
    h_prev, c_prev = state
    H = h_prev.shape[1]
    if xproj is None:
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
    a = xproj + h_prev @ p["weight_hh"].T + p["bias_hh"]  # (B, 4H)
    s = sigmoid(a)  # sigma of all rows; the g rows are replaced by tanh below
    i = s[:, :H]
    f = s[:, H : 2 * H]
    o = s[:, 3 * H :]
    g = np.tanh(a[:, 2 * H : 3 * H])
    c = f * c_prev + i * g
    tc = np.tanh(c)
    h = o * tc
    return (h, c), Cache(x, h_prev, c_prev, i, f, g, o, tc)


def step_back_pre(p, dstate, cache):
    """Backward through one step. dstate = (dh, dc): dL/dh_t total and dL/dc_t from t+1.

    Returns ((dh_prev, dc_prev), da, da, dc_total) with da = dL/d(pre-activations) (B, 4H)
    and dc_total = dL/dc_t including the path through h_t (B, H).
    """
    dh, dc = dstate
    i, f, g, o, tc = cache.i, cache.f, cache.g, cache.o, cache.tc
    dct = dc + dh * o * (1.0 - tc * tc)
    da = np.concatenate(
        (
            dct * g * i * (1.0 - i),
            dct * cache.c_prev * f * (1.0 - f),
            dct * i * (1.0 - g * g),
            dh * tc * o * (1.0 - o),
        ),
        axis=1,
    )
    dh_prev = da @ p["weight_hh"]
    return (dh_prev, dct * f), da, da, dct
