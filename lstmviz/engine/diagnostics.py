"""What the app plots about gradient flow, from one forward Trace and its backward Grads.

All per-step series have length T, index t-1 for step t, and use batch element 0 for the
Jacobians. Jacobian conventions (state Jacobians of one step, 0-based index k = step k+1):

- rnn: dh_t/dh_{t-1} = diag(phi'(pre_t)) W_hh.
- gru: dh_t/dh_{t-1} through z, r and n: diag(z) + diag((1-z)(1-n^2)) [diag(r) W_hn +
  diag(ghn r(1-r)) W_hr] + diag((h_{t-1} - n) z(1-z)) W_hz.
- lstm: the state is (h, c); its one-step Jacobian is [[A_t, diag(o tanh'(c) f)],
  [C_t, diag(f)]] with A_t = dh_t/dh_{t-1} (c_{t-1} held fixed, through all gates and c_t) and
  C_t = dc_t/dh_{t-1}. jac_step_norm is ||A_t||_2; jac_prod_norm is ||dh_T/dh_t||_2 = the h->h
  block of the product of full state Jacobians (so paths through the cell are included).
- cell_direct = ||diag(f_t)||_2 = max_j f_t[j];
  cell_indirect = ||C_t diag(o_{t-1} tanh'(c_{t-1}))||_2, the part of the total dc_t/dc_{t-1}
  that goes through h_{t-1} and the gates. At t = 1 it is 0
  because h_0 is an independent initial state.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from .activations import GAMMA
from .errors import EngineError
from .linalg import (
    log10_frobenius_per_step,
    pow10,
    product_norms,
    spectral_norm,
    spectral_norms,
)
from .model import Model
from .unroll import Grads, Trace

#: Jacobian stacks are built this many matrix entries at a time (bounds memory at big H, T).
_CHUNK_ENTRIES = 1 << 21


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """Per-step gradient-flow series (each (T,), index t-1 for step t) and model scalars."""

    grad_h_norm: np.ndarray
    grad_c_norm: np.ndarray | None
    jac_step_norm: np.ndarray
    jac_prod_norm: np.ndarray
    whh_contrib: np.ndarray
    cell_direct: np.ndarray | None
    cell_indirect: np.ndarray | None
    rnn_bound: float | None
    sigma_max: float
    overflow_step: int | None
    jacobians_ready: bool = True
    #: log10 of the norms above, (T,) each: the values the plots and every printed figure use
    #: (DESIGN.md, "Magnitudes"), exact from 10^-10000 to 10^10000 (the float fields above are
    #: the float64 values: 0 where they underflow, inf where they overflow). -inf only for an
    #: exact zero, NaN where the run is not finite (and for the Jacobians until they are ready).
    log10_grad_h: np.ndarray | None = None
    log10_grad_c: np.ndarray | None = None
    log10_whh: np.ndarray | None = None
    log10_jac_step: np.ndarray | None = None
    log10_jac_prod: np.ndarray | None = None
    #: (T,) log10 of the vanilla RNN's bound line ||dL/dh_T|| (sigma_max gamma)^(T - t) (valid
    #: for a loss at the last step only); None for the other kinds.
    log10_bound_line: np.ndarray | None = None
    #: (T,) log10 ||h_t||_F of the forward states over the batch (the status bar's figure).
    log10_h_norm: np.ndarray | None = None


def sigma_max(model: Model) -> float:
    """sigma_max of W_hh (rnn) or the largest over its H x H gate blocks (lstm, gru)."""
    H = model.hidden_size
    w = model.params["weight_hh"]
    return float(np.max(spectral_norms(w.reshape(model.n_gates, H, H))))


def rnn_bound(model: Model) -> float | None:
    """sigma_max(W_hh) * sup|phi'| for a vanilla RNN (below 1: vanishing guaranteed), else None."""
    if model.kind != "rnn":
        return None
    return sigma_max(model) * GAMMA[model.activation]


def _chunks(T: int, per_step: int) -> Iterator[slice]:
    n = max(1, _CHUNK_ENTRIES // max(per_step, 1))
    for lo in range(0, T, n):
        yield slice(lo, min(T, lo + n))


def _blocks(model: Model) -> list[np.ndarray]:
    H = model.hidden_size
    w = model.params["weight_hh"]
    return [w[k * H : (k + 1) * H] for k in range(model.n_gates)]


def _rnn_jac(model: Model, trace: Trace, sl: slice) -> np.ndarray:
    d = trace.gates["dphi"][sl, 0]  # (n, H)
    return d[:, :, None] * model.params["weight_hh"][None]


def _gru_jac(model: Model, trace: Trace, sl: slice) -> np.ndarray:
    w_r, w_z, w_n = _blocks(model)
    ex = trace.extras
    r, z, n, ghn = (ex[k][sl, 0] for k in ("r", "z", "n", "ghn"))
    h_prev = trace.h_prev()[sl, 0] if sl.start == 0 else trace.h[sl.start - 1 : sl.stop - 1, 0]
    a = (1 - z) * (1 - n * n)
    jac = (a * r)[:, :, None] * w_n + (a * ghn * r * (1 - r))[:, :, None] * w_r
    jac += ((h_prev - n) * z * (1 - z))[:, :, None] * w_z
    idx = np.arange(z.shape[1])
    jac[:, idx, idx] += z
    return jac


def _lstm_jac(model: Model, trace: Trace, sl: slice):
    """(A, C, d1, f) for the steps in sl: A = dh_t/dh_{t-1}, C = dc_t/dh_{t-1} (n, H, H)."""
    w_i, w_f, w_g, w_o = _blocks(model)
    ex = trace.extras
    i, f, g, o, tc = (ex[k][sl, 0] for k in ("i", "f", "g", "o", "tc"))
    c_prev = (
        np.concatenate((trace.c0[None, 0], trace.c[sl.start : sl.stop - 1, 0]))
        if sl.start == 0
        else trace.c[sl.start - 1 : sl.stop - 1, 0]
    )
    cmat = (c_prev * f * (1 - f))[:, :, None] * w_f
    cmat += (g * i * (1 - i))[:, :, None] * w_i
    cmat += (i * (1 - g * g))[:, :, None] * w_g
    dtc = o * (1 - tc * tc)  # dh_t/dc_t
    amat = (tc * o * (1 - o))[:, :, None] * w_o + dtc[:, :, None] * cmat
    return amat, cmat, dtc * f, f


def _log10_unscale(norms: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """log10(norms * exp(logs)), exact at any size (logs: natural log scales)."""
    with np.errstate(all="ignore"):
        return np.log10(norms) + logs / np.log(10.0)


def _jacobian_series(model: Model, trace: Trace):
    """(jac_step, log10 jac_prod, cell_indirect) for one run: the spectral norms, most of the
    cost. The product norms are returned as exact log10 values (they pass 10^+-308 easily)."""
    T, _, H = trace.h.shape
    lstm = model.kind == "lstm"
    jac_step = np.empty(T)
    jac_prod = np.empty(T)
    indirect = np.empty(T) if lstm else None
    with np.errstate(all="ignore"):
        # Walk chunks from the end so the running product R = dh_T/d(state_t) can be reused.
        # R is kept scaled to max |entry| = 1 with its log scale apart, so products that vanish
        # to 1e-200 or explode to 1e200 are still reported (NaN once R is non-finite).
        rh = np.eye(H)
        rc = np.zeros((H, H)) if lstm else None
        log_r = 0.0
        chunks = list(_chunks(T, H * H * (2 if lstm else 1)))
        for sl in reversed(chunks):
            n = sl.stop - sl.start
            prods = np.empty((n, H, H))
            logs = np.empty(n)
            if lstm:
                amat, cmat, d1, f = _lstm_jac(model, trace, sl)
                jac_step[sl] = spectral_norms(amat)
                if sl.start == 0:
                    dtc_prev = np.zeros((n, H))
                    dtc_prev[1:] = (trace.gates["output"][0 : n - 1, 0]) * (
                        1 - trace.extras["tc"][0 : n - 1, 0] ** 2
                    )
                else:
                    o_p = trace.gates["output"][sl.start - 1 : sl.stop - 1, 0]
                    dtc_prev = o_p * (1 - trace.extras["tc"][sl.start - 1 : sl.stop - 1, 0] ** 2)
                indirect[sl] = spectral_norms(cmat * dtc_prev[:, None, :])
                for k in range(n - 1, -1, -1):
                    prods[k] = rh
                    logs[k] = log_r
                    # R_{k-1} = R_k J_k with J_k = [[A, diag(d1)], [C, diag(f)]]
                    rh, rc = rh @ amat[k] + rc @ cmat[k], rh * d1[k] + rc * f[k]
                    s = max(np.abs(rh).max(), np.abs(rc).max())
                    if 0 < s < np.inf:
                        rh /= s
                        rc /= s
                        log_r += np.log(s)
            else:
                jac = (
                    _rnn_jac(model, trace, sl)
                    if model.kind == "rnn"
                    else _gru_jac(model, trace, sl)
                )
                jac_step[sl] = spectral_norms(jac)
                for k in range(n - 1, -1, -1):
                    prods[k] = rh
                    logs[k] = log_r
                    rh = rh @ jac[k]
                    s = np.abs(rh).max()
                    if 0 < s < np.inf:
                        rh /= s
                        log_r += np.log(s)
            pn = product_norms(prods)
            if sl.stop == T:
                pn[-1] = 1.0  # dh_T/dh_T = I
            jac_prod[sl] = _log10_unscale(pn, logs)
    return jac_step, jac_prod, indirect


def _check(model: Model, trace: Trace, grads: Grads) -> None:
    if not isinstance(trace, Trace) or not isinstance(grads, Grads):
        raise EngineError("trace, grads: expected a Trace from forward() and Grads from backward()")
    if trace.kind != model.kind or trace.h.shape != grads.h.shape:
        raise EngineError(
            f"grads: expected gradients of this {model.kind} trace with h {trace.h.shape}, "
            f"got kind {trace.kind} and grads.h {grads.h.shape}"
        )


def compute_diagnostics(model: Model, trace: Trace, grads: Grads, *,
                        jacobians: bool = True) -> Diagnostics:
    """All diagnostics for one run. Non-finite values give NaN entries, never an exception.

    jacobians=False leaves the Jacobian norms (jac_step_norm, jac_prod_norm, cell_indirect)
    NaN and `jacobians_ready` False: the rest costs a few ms, the exact spectral norms about
    0.2 ms each (2T of them). `complete_diagnostics` fills them in later, e.g. in a worker.
    """
    _check(model, trace, grads)
    T = trace.h.shape[0]
    lstm = model.kind == "lstm"
    if jacobians:
        jac_step, log_prod, indirect = _jacobian_series(model, trace)
    else:
        jac_step, log_prod = np.full(T, np.nan), np.full(T, np.nan)
        indirect = np.full(T, np.nan) if lstm else None
    log_h = _logs(grads.log10_h, grads.h)
    log_c = _logs(grads.log10_c, grads.c) if lstm else None
    with np.errstate(all="ignore"):
        cell_direct = trace.gates["forget"][:, 0].max(axis=1) if lstm else None
    overflow = trace.overflow_step if trace.overflow_step is not None else grads.overflow_step
    bound = rnn_bound(model)
    out = Diagnostics(
        grad_h_norm=pow10(log_h),
        grad_c_norm=pow10(log_c) if lstm else None,
        jac_step_norm=jac_step,
        jac_prod_norm=pow10(log_prod),
        whh_contrib=np.array(grads.whh_contrib),
        cell_direct=cell_direct,
        cell_indirect=indirect,
        rnn_bound=bound,
        sigma_max=sigma_max(model),
        overflow_step=overflow,
        jacobians_ready=jacobians,
        log10_grad_h=log_h,
        log10_grad_c=log_c,
        log10_whh=np.array(grads.log10_whh),
        log10_jac_step=_log10(jac_step),
        log10_jac_prod=log_prod,
        log10_bound_line=None if bound is None else bound_line(log_h, bound),
        log10_h_norm=log10_frobenius_per_step(trace.h),
    )
    _freeze(out)
    return out


def _logs(logs: np.ndarray | None, values: np.ndarray) -> np.ndarray:
    """The engine's exact log10 norms, or (Grads made by hand) those of the float values."""
    if logs is not None:
        return np.array(logs, dtype=np.float64)
    return log10_frobenius_per_step(np.asarray(values, dtype=np.float64))


def _log10(a: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.log10(np.asarray(a, dtype=np.float64))


def bound_line(log10_grad_h: np.ndarray, sigma_gamma: float) -> np.ndarray:
    """(T,) log10 ||dL/dh_T|| + (T - t) log10(sigma_gamma): the RNN bound drawn from t = T."""
    T = len(log10_grad_h)
    with np.errstate(all="ignore"):
        slope = math.log10(sigma_gamma) if sigma_gamma > 0 else -math.inf
        out = log10_grad_h[-1] + (T - np.arange(1, T + 1, dtype=np.float64)) * slope
    out[-1] = log10_grad_h[-1]
    return out


def _freeze(d: Diagnostics) -> None:
    for name in ("grad_h_norm", "grad_c_norm", "jac_step_norm", "jac_prod_norm", "whh_contrib",
                 "cell_direct", "cell_indirect", "log10_grad_h", "log10_grad_c", "log10_whh",
                 "log10_jac_step", "log10_jac_prod", "log10_bound_line", "log10_h_norm"):
        a = getattr(d, name)
        if a is not None:
            a.setflags(write=False)


def complete_diagnostics(model: Model, trace: Trace, diagnostics: Diagnostics) -> Diagnostics:
    """`diagnostics` with the Jacobian norms computed (a no-op when they already are)."""
    if diagnostics.jacobians_ready:
        return diagnostics
    jac_step, log_prod, indirect = _jacobian_series(model, trace)
    out = replace(diagnostics, jac_step_norm=jac_step, jac_prod_norm=pow10(log_prod),
                  cell_indirect=indirect, jacobians_ready=True,
                  log10_jac_step=_log10(jac_step), log10_jac_prod=log_prod)
    _freeze(out)
    return out


__all__ = [
    "Diagnostics",
    "bound_line",
    "complete_diagnostics",
    "compute_diagnostics",
    "rnn_bound",
    "sigma_max",
    "spectral_norm",
]
