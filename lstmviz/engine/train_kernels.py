"""Lean forward + BPTT for training, when the loss scores only the last step.

Same numbers as `unroll.forward` / `unroll.backward` (tests compare them to 1e-10), but
without what the app needs and training does not: no frozen Trace, no per-step caches, no
overflow scans, no per-step weight-gradient norms. Elementwise factors of the backward pass
are computed for all steps at once after the forward loop, so each backward step is a few
NumPy calls. This makes training several times faster than the app's engine path.

`loss_and_grads(params, kind, activation, xs, loss_fn)` is the single entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KernelResult:
    """h_T (B, H); parameter gradients; ||dL/dh_1||, ||dL/dh_T|| (total, over the batch);
    gate: the forget (lstm) / update (gru) gate activations (T, B, H), None for rnn."""

    h_last: np.ndarray
    grads: dict[str, np.ndarray]
    dh_first_norm: float
    dh_last_norm: float
    gate: np.ndarray | None
    extra: object = None


def _tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """tanh(x) = 2 / (1 + e^-2x) - 1 into out (exp is cheaper than np.tanh; +-inf safe)."""
    np.multiply(x, -2.0, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.divide(2.0, out, out=out)
    out -= 1.0
    return out


def _sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) into out."""
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def _param_grads(
    da: np.ndarray, dgh: np.ndarray, xs: np.ndarray, h_prev: np.ndarray
) -> dict[str, np.ndarray]:
    T, B, G = da.shape
    fa = da.reshape(T * B, G)
    fh = dgh.reshape(T * B, G)
    return {
        "weight_ih": fa.T @ xs.reshape(T * B, -1),
        "weight_hh": fh.T @ h_prev.reshape(T * B, -1),
        "bias_ih": fa.sum(axis=0),
        "bias_hh": fh.sum(axis=0),
    }


def _lstm(p, xs, loss_fn):
    T, B, _ = xs.shape
    H = p["weight_hh"].shape[1]
    # One exp over all 4H rows per step (exp is ~2x cheaper than tanh here):
    # sigma(x) = 1 / (1 + e^-x) for i, f, o; tanh(x) = 2 / (1 + e^-2x) - 1 for g.
    # The factors -1 / -2 are folded into the weights, the "2 s - 1" into mult / offset.
    neg = np.full(4 * H, -1.0)
    neg[2 * H:3 * H] = -2.0
    mult = np.ones(4 * H)
    mult[2 * H:3 * H] = 2.0
    offset = np.zeros(4 * H)
    offset[2 * H:3 * H] = -1.0
    W = p["weight_hh"].T * neg  # (H, 4H)
    acts = (xs @ p["weight_ih"].T + (p["bias_ih"] + p["bias_hh"])) * neg  # (T, B, 4H)
    h = np.zeros((T + 1, B, H))
    c = np.zeros((T + 1, B, H))
    tc = np.empty((T, B, H))
    for t in range(T):
        a = acts[t]
        a += h[t] @ W
        np.exp(a, out=a)
        a += 1.0
        np.reciprocal(a, out=a)
        a *= mult
        a += offset
        np.multiply(a[:, H:2 * H], c[t], out=c[t + 1])
        c[t + 1] += a[:, :H] * a[:, 2 * H:3 * H]
        _tanh(c[t + 1], tc[t])
        np.multiply(a[:, 3 * H:], tc[t], out=h[t + 1])
    loss, dh_last, extra = loss_fn(h[T])
    i, f, g, o = (acts[..., k * H : (k + 1) * H] for k in range(4))
    K = np.empty((T, B, 3, H))
    K[:, :, 0] = g * i * (1.0 - i)
    K[:, :, 1] = c[:-1] * f * (1.0 - f)
    K[:, :, 2] = i * (1.0 - g * g)
    d_o = tc * o * (1.0 - o)
    o_dtc = o * (1.0 - tc * tc)
    da = np.empty((T, B, 4, H))
    Whh = p["weight_hh"]
    dht = dh_last
    dc_next = np.zeros((B, H))
    first = last = 0.0
    for t in range(T - 1, -1, -1):
        if t == T - 1:
            last = float(np.linalg.norm(dht))
        dct = dc_next + dht * o_dtc[t]
        np.multiply(dct[:, None, :], K[t], out=da[t, :, :3])
        np.multiply(dht, d_o[t], out=da[t, :, 3])
        dc_next = dct * f[t]
        if t == 0:
            first = float(np.linalg.norm(dht))
            break
        dht = da[t].reshape(B, 4 * H) @ Whh
    da = da.reshape(T, B, 4 * H)
    grads = _param_grads(da, da, xs, h[:-1])
    return loss, KernelResult(h[T], grads, first, last, f, extra)


def _rnn(p, xs, loss_fn, activation):
    T, B, _ = xs.shape
    H = p["weight_hh"].shape[1]
    W = p["weight_hh"].T
    pre = xs @ p["weight_ih"].T + (p["bias_ih"] + p["bias_hh"])  # (T, B, H)
    h = np.zeros((T + 1, B, H))
    for t in range(T):
        a = pre[t]
        a += h[t] @ W
        if activation == "tanh":
            _tanh(a, h[t + 1])
        elif activation == "relu":
            np.maximum(a, 0.0, out=h[t + 1])
        else:
            _sigmoid(a, h[t + 1])
    loss, dh_last, extra = loss_fn(h[T])
    hs = h[1:]
    if activation == "tanh":
        dphi = 1.0 - hs * hs
    elif activation == "relu":
        dphi = (pre > 0).astype(np.float64)
    else:
        dphi = hs * (1.0 - hs)
    dpre = np.empty((T, B, H))
    Whh = p["weight_hh"]
    dht = dh_last
    last = float(np.linalg.norm(dht))
    for t in range(T - 1, 0, -1):
        np.multiply(dht, dphi[t], out=dpre[t])
        dht = dpre[t] @ Whh
    first = float(np.linalg.norm(dht))
    np.multiply(dht, dphi[0], out=dpre[0])
    grads = _param_grads(dpre, dpre, xs, h[:-1])
    return loss, KernelResult(h[T], grads, first, last, None, extra)


def _gru(p, xs, loss_fn):
    T, B, _ = xs.shape
    H = p["weight_hh"].shape[1]
    W = p["weight_hh"].T  # (H, 3H)
    bhh = p["bias_hh"]
    xproj = xs @ p["weight_ih"].T + p["bias_ih"]  # (T, B, 3H)
    h = np.zeros((T + 1, B, H))
    rz = np.empty((T, B, 2 * H))
    n = np.empty((T, B, H))
    ghn = np.empty((T, B, H))
    for t in range(T):
        gh = h[t] @ W
        gh += bhh
        r_z = rz[t]
        np.add(xproj[t, :, : 2 * H], gh[:, : 2 * H], out=r_z)
        _sigmoid(r_z, r_z)
        ghn[t] = gh[:, 2 * H :]
        nt = n[t]
        np.multiply(r_z[:, :H], gh[:, 2 * H :], out=nt)
        nt += xproj[t, :, 2 * H :]
        _tanh(nt, nt)
        # h = n + z * (h_prev - n)
        np.subtract(h[t], nt, out=h[t + 1])
        h[t + 1] *= r_z[:, H:]
        h[t + 1] += nt
    loss, dh_last, extra = loss_fn(h[T])
    r, z = rz[..., :H], rz[..., H:]
    A = (1.0 - z) * (1.0 - n * n)
    Rf = ghn * r * (1.0 - r)
    Zf = (h[:-1] - n) * z * (1.0 - z)
    dgh = np.empty((T, B, 3, H))
    dn_all = np.empty((T, B, H))
    Whh = p["weight_hh"]
    dht = dh_last
    last = float(np.linalg.norm(dht))
    first = 0.0
    for t in range(T - 1, -1, -1):
        dn = np.multiply(dht, A[t], out=dn_all[t])
        np.multiply(dn, Rf[t], out=dgh[t, :, 0])
        np.multiply(dht, Zf[t], out=dgh[t, :, 1])
        np.multiply(dn, r[t], out=dgh[t, :, 2])
        if t == 0:
            first = float(np.linalg.norm(dht))
            break
        zt = dht * z[t]
        dht = dgh[t].reshape(B, 3 * H) @ Whh
        dht += zt
    dgi = dgh.copy()
    dgi[:, :, 2] = dn_all
    grads = _param_grads(dgi.reshape(T, B, 3 * H), dgh.reshape(T, B, 3 * H), xs, h[:-1])
    return loss, KernelResult(h[T], grads, first, last, z, extra)


LossFn = Callable[[np.ndarray], tuple[float, np.ndarray, object]]


def loss_and_grads(
    params: dict[str, np.ndarray], kind: str, activation: str, xs: np.ndarray, loss_fn: LossFn
) -> tuple[float, KernelResult]:
    """Forward over xs (T, B, I), loss_fn(h_T) -> (loss, dL/dh_T (B, H), extra), then BPTT.

    Overflow propagates as inf/NaN without warnings; the caller checks the gradient norm.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if kind == "lstm":
            return _lstm(params, xs, loss_fn)
        if kind == "gru":
            return _gru(params, xs, loss_fn)
        return _rnn(params, xs, loss_fn, activation)
