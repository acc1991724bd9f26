"""GRU cell (PyTorch layout, gate order r, z, n in the stacked 3H rows).

    r = sigma(W_ir x + b_ir + W_hr h + b_hr),  z = sigma(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}

Shapes: x (B, I), h (B, H), weight_ih (3H, I), weight_hh (3H, H).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .activations import sigmoid

N_GATES = 3
HAS_CELL = False
EXTRAS = ("r", "z", "n", "ghn")
GATES = {"reset": "r", "update": "z", "new": "n"}


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    r: np.ndarray  # (B, H) reset gate
    z: np.ndarray  # (B, H) update gate
    n: np.ndarray  # (B, H) new (candidate) state
    ghn: np.ndarray  # (B, H) W_hn h_prev + b_hn


def step(p, act, x, state, xproj=None):
    """One forward step. state = (h_prev,). Returns ((h,), cache)."""
    (h_prev,) = state
    H = h_prev.shape[1]
    if xproj is None:
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
    gh = h_prev @ p["weight_hh"].T + p["bias_hh"]  # (B, 3H)
    rz = sigmoid(xproj[:, : 2 * H] + gh[:, : 2 * H])
    r = rz[:, :H]
    z = rz[:, H:]
    ghn = gh[:, 2 * H :]
    n = np.tanh(xproj[:, 2 * H :] + r * ghn)
    h = n + z * (h_prev - n)
    return (h,), Cache(x, h_prev, r, z, n, ghn)


def step_back_pre(p, dstate, cache):
    """Backward through one step. dstate = (dh,) total dL/dh_t (B, H).

    Returns ((dh_prev,), dgi, dgh, None): dgi = dL/d(W_ih x + b_ih), dgh = dL/d(W_hh h + b_hh),
    both (B, 3H); they differ in the n rows, where the recurrent part is scaled by r.
    """
    (dh,) = dstate
    r, z, n = cache.r, cache.z, cache.n
    dn = dh * (1.0 - z) * (1.0 - n * n)
    dr = dn * cache.ghn * r * (1.0 - r)
    dz = dh * (cache.h_prev - n) * z * (1.0 - z)
    dgi = np.concatenate((dr, dz, dn), axis=1)
    dgh = np.concatenate((dr, dz, dn * r), axis=1)
    dh_prev = dgh @ p["weight_hh"] + dh * z
    return (dh_prev,), dgi, dgh, None
