"""Linear recurrences h_t = a_t * h_{t-1} + b_t over all T steps without a Python loop per step.

A blocked (two-level) scan: the T steps are cut into blocks of L ~ sqrt(T) steps; (1) every
block runs its own recurrence from a zero carry, all blocks at once (L vectorised steps),
keeping the running products of a inside the block; (2) the carries into the blocks follow
from one pass over the T / L block ends; (3) h = local + (product of a so far) * carry, one
vectorised update. About 2 sqrt(T) NumPy calls instead of T, a few passes over memory, and
no division anywhere, so nothing is amplified: a product of a_t that underflows to 0 is a
contribution below float64's range next to b_t, and the result equals the step loop's to
rounding (tests: 1e-12). Real or complex (the LRU's lambda). The backward pass is the same
scan backwards in time with conj(a): g_t = dh_t + conj(a_{t+1}) g_{t+1}.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

#: Per-step slices at least this large (elements of B x H) run the tight two-call loop
#: instead: there each step's NumPy call is long enough that the loop overhead is small, and
#: any scan's extra passes over memory cost more (measured in scripts/bench_cells.py).
LOOP_ABOVE = 256


def linear_scan(a: np.ndarray, b: np.ndarray, h0: np.ndarray, *,
                blocked: bool | None = None) -> np.ndarray:
    """h_1..h_T (T, ...) of h_t = a_t h_{t-1} + b_t from h0 (...).

    a is (T, ...) or, for a coefficient constant in time (the LRU's lambda), broadcastable
    to one step (...). blocked: force the blocked scan (True) or the loop (False); None picks
    by the per-step size (LOOP_ABOVE).
    """
    T = b.shape[0]
    rest = b.shape[1:]
    dtype = np.result_type(a, b, h0)
    const = np.ndim(a) < b.ndim
    size = int(np.prod(rest, dtype=np.int64))
    if blocked is None:
        blocked = size < LOOP_ABOVE
    out = np.empty((T, *rest), dtype=dtype)
    if not blocked or T < 4:
        return _loop(a, b, np.asarray(h0, dtype=dtype), out, const)
    L = math.isqrt(T)
    nb = T // L
    n = nb * L  # the prefix that splits into nb blocks of L steps (views, no copies)
    Bv = b[:n].reshape(nb, L, *rest)
    loc = out[:n].reshape(nb, L, *rest)  # each block's recurrence from a zero carry
    loc[:, 0] = Bv[:, 0]
    if const:
        a1 = np.broadcast_to(a, rest).astype(dtype)
        P = np.empty((L, *rest), dtype=dtype)  # a^(j+1), the same for every block
        P[0] = a1
        for j in range(1, L):
            np.multiply(a1, loc[:, j - 1], out=loc[:, j])
            loc[:, j] += Bv[:, j]
            np.multiply(a1, P[j - 1], out=P[j])
        ends = np.broadcast_to(P[-1], (nb, *rest))
    else:
        Av = a[:n].reshape(nb, L, *rest)
        P = np.empty((nb, L, *rest), dtype=dtype)  # running products of a inside each block
        P[:, 0] = Av[:, 0]
        for j in range(1, L):
            np.multiply(Av[:, j], loc[:, j - 1], out=loc[:, j])
            loc[:, j] += Bv[:, j]
            np.multiply(Av[:, j], P[:, j - 1], out=P[:, j])
        ends = P[:, -1]
    carry = np.empty((nb, *rest), dtype=dtype)
    c = np.asarray(h0, dtype=dtype)
    for k in range(nb):  # the carry into each block from the previous block's end
        carry[k] = c
        c = ends[k] * c + loc[k, -1]
    if const:
        loc += P[None] * carry[:, None]
    else:
        np.multiply(P, carry[:, None], out=P)
        loc += P
    if n < T:  # the tail of fewer than L steps
        _loop(a if const else a[n:], b[n:], c, out[n:], const)
    return out


def _loop(a, b, h, out, const):
    for t in range(b.shape[0]):
        np.multiply(a if const else a[t], h, out=out[t])
        out[t] += b[t]
        h = out[t]
    return out


def reverse_scan(a: np.ndarray, dh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BPTT through h_t = a_t h_{t-1} + b_t: (g (T, ...), dh0) with g_t = dL/dh_t total.

    a as in linear_scan ((T, ...) or constant in time).

    g_t = dh_t + conj(a_{t+1}) g_{t+1} (g_{T+1} = 0), dh0 = conj(a_1) g_1.
    """
    ac = np.conj(a)
    zero = np.zeros(dh.shape[1:], dtype=np.result_type(ac, dh))
    if np.ndim(a) < dh.ndim:  # constant in time: g_t = dh_t + conj(a) g_{t+1}
        g = linear_scan(ac, dh[::-1], zero)[::-1]
        return g, ac * g[0]
    coef = np.concatenate((ac[1:], np.zeros_like(ac[:1])), axis=0)
    g = linear_scan(coef[::-1], dh[::-1], zero)[::-1]
    return g, ac[0] * g[0]


class Scan(NamedTuple):
    """A kind's vectorised passes (see CellKind.scan).

    forward(p, o, xs, xproj, state0) -> (states tuple of (T, B, H), extras dict of (T, B, ...))
    backward(p, o, fwd, loss) -> (totals, dstate0, dgi (T, B, P), dgh or None, other or None)
    with loss a list per state component of (T, B, H) loss gradients or None.
    """

    forward: object
    backward: object
