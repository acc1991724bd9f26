"""Linear recurrences h_t = a_t * h_{t-1} + b_t over all T steps without a Python loop per step.

A Hillis-Steele scan: log2(T) vectorised passes of the associative combine
(a1, b1) then (a2, b2) = (a2 a1, a2 b1 + b2). No division anywhere, so nothing is amplified:
a product of many a_t that underflows to 0 is a contribution that is below float64's range
next to b_t, and the result equals the step loop's to rounding (tests: 1e-12). Real or
complex (the LRU's lambda). The backward pass is the same scan run backwards in time with
conj(a): g_t = dh_t + conj(a_{t+1}) g_{t+1}.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def linear_scan(a: np.ndarray, b: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """h_1..h_T (T, ...) of h_t = a_t h_{t-1} + b_t from h0 (...); a broadcasts against b."""
    T = b.shape[0]
    dtype = np.result_type(a, b, h0)
    A = np.array(np.broadcast_to(a, b.shape), dtype=dtype)
    S = np.array(b, dtype=dtype)
    d = 1
    while d < T:
        S[d:] = A[d:] * S[:-d] + S[d:]  # uses A before its own update below
        A[d:] = A[d:] * A[:-d]
        d *= 2
    return A * h0 + S


def reverse_scan(a: np.ndarray, dh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BPTT through h_t = a_t h_{t-1} + b_t: (g (T, ...), dh0) with g_t = dL/dh_t total.

    g_t = dh_t + conj(a_{t+1}) g_{t+1} (g_{T+1} = 0), dh0 = conj(a_1) g_1.
    """
    T = dh.shape[0]
    ac = np.conj(np.broadcast_to(a, dh.shape))
    coef = np.concatenate((ac[1:], np.zeros_like(ac[:1])), axis=0)
    zero = np.zeros(dh.shape[1:], dtype=np.result_type(ac, dh))
    g = linear_scan(coef[::-1], dh[::-1], zero)[::-1]
    return g, ac[0] * g[0] if T else zero


class Scan(NamedTuple):
    """A kind's vectorised passes (see CellKind.scan).

    forward(p, o, xs, xproj, state0) -> (states tuple of (T, B, H), extras dict of (T, B, ...))
    backward(p, o, fwd, loss) -> (totals, dstate0, dgi (T, B, P), dgh or None, other or None)
    with loss a list per state component of (T, B, H) loss gradients or None.
    """

    forward: object
    backward: object
