"""Vanilla RNN cell: h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

Shapes: x (B, I), h (B, H), weight_ih (H, I), weight_hh (H, H). `step` and `step_back_pre`
sit side by side (CS231n's rnn_step_forward / rnn_step_backward).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

N_GATES = 1
HAS_CELL = False
#: Per-step cache fields besides x and the previous state, stacked (T, B, H) in a Trace.
EXTRAS = ("pre", "dphi")
#: Trace.gates name -> cache field.
GATES = {"pre": "pre", "dphi": "dphi"}


class Cache(NamedTuple):
    x: np.ndarray  # (B, I) input x_t
    h_prev: np.ndarray  # (B, H) h_{t-1}
    pre: np.ndarray  # (B, H) pre-activation
    dphi: np.ndarray  # (B, H) phi'(pre)


def step(p, act, x, state, xproj=None):
    """One forward step. state = (h_prev,); xproj = x @ W_ih^T + b_ih if precomputed.

    Returns ((h,), cache) with h (B, H).
    """
    (h_prev,) = state
    if xproj is None:
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
    pre = xproj + h_prev @ p["weight_hh"].T + p["bias_hh"]
    h, dphi = act(pre)
    return (h,), Cache(x, h_prev, pre, dphi)


def step_back_pre(p, dstate, cache):
    """Backward through one step up to the pre-activations.

    dstate = (dh,), dh = total dL/dh_t (B, H). Returns ((dh_prev,), dgi, dgh, None) where
    dgi = dL/d(W_ih x + b_ih) and dgh = dL/d(W_hh h_prev + b_hh), both (B, H).
    """
    (dh,) = dstate
    dpre = dh * cache.dphi
    dh_prev = dpre @ p["weight_hh"]
    return (dh_prev,), dpre, dpre, None
