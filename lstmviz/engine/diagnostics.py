"""What the app plots about gradient flow, from one forward Trace and its backward Grads.

All per-step series have length T, index t-1 for step t, and use batch element 0 for the
Jacobians. Each kind's one-step state Jacobians come from its cell module
(`cells.get(kind).jacobian`, conventions in engine/cells/base.py):

- dense kinds (rnn, lstm, gru, slstm): jac_step_norm is ||dh_t/dh_{t-1}||_2 with the other
  state components held fixed; jac_prod_norm is ||dh_T/dh_t||_2, the h->h block of the
  product of full state Jacobians (so paths through an LSTM's cell are included).
- diagonal kinds (IndRNN diag(phi' u), minGRU diag(1 - z), minLSTM diag(f'), LRU diag(lambda)
  on the complex state): products are elementwise, summed as logs per unit, exact.
- cell_direct / cell_indirect (kinds with a cell path, the LSTM): ||diag(f_t)||_2 and
  ||C_t diag(o_{t-1} tanh'(c_{t-1}))||_2, the part of dc_t/dc_{t-1} through h_{t-1} and the
  gates (0 at t = 1: h_0 is an independent initial state).

Where a quantity does not exist for a kind it is NaN (or None) and a note says why
(Diagnostics.bound_note, whh_note, sigma_note).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from . import linalg
from .activations import GAMMA
from .cancel import checkpoint
from .errors import EngineError
from .linalg import (
    LOG10_2,
    defer,
    log10_frobenius_per_step,
    pool_spare,
    pow10,
    product_norms,
    spectral_norm,
    spectral_norms,
)
from .model import Model
from .unroll import Grads, Trace

#: Jacobian stacks are built this many matrix entries at a time (bounds memory at big H, T).
_CHUNK_ENTRIES = 1 << 21

#: A chunk's Jacobians are built in up to this many pieces when the linalg pool is used.
_PIECES = 4

#: The running product is rescaled (by a power of two) when its largest |entry| leaves
#: 2^+-_RESCALE: far from overflow and from subnormals, so the products stay exact.
_RESCALE = 100
_SMALL, _LARGE = 2.0**-_RESCALE, 2.0**_RESCALE

#: progress(done, total): steps whose Jacobian norms are computed so far, of T.
Progress = Callable[[int, int], None]


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
    #: Why a quantity does not exist for this kind ("" where it does): the RNN bound, the
    #: dL/dW_hh series (NaN then), sigma_max (NaN then); jacobian_note: what jac_* mean here.
    bound_note: str = ""
    whh_note: str = ""
    sigma_note: str = ""
    jacobian_note: str = ""
    #: False for the diagnostics of a forward pass alone (`forward_diagnostics`): every
    #: gradient series (grad_*, whh_contrib, their logs, the bound line) is NaN until the
    #: backward pass is computed (the app's first picture at large settings shows the
    #: forward pass while the backward pass computes)
    gradients_ready: bool = True


def sigma_max(model: Model) -> float:
    """The kind's sigma_max (engine.cells): of W_hh (rnn), the largest over its H x H gate
    blocks (lstm, gru, slstm), max |u| (IndRNN), max |lambda| (LRU); NaN for kinds without a
    recurrent matrix (minGRU, minLSTM), with `sigma_note` saying so."""
    v = model.cell.sigma_max(model.params)
    return math.nan if v is None else float(v)


def sigma_note(model: Model) -> str:
    """Why sigma_max is NaN for this model's kind, else ""."""
    return _sigma(model)[1]


def _sigma(model: Model) -> tuple[float, str]:
    """(sigma_max, sigma_note) from one computation of the kind's sigma_max (at H = 512 it
    costs a quarter of a second per model)."""
    v = model.cell.sigma_max(model.params)
    if v is None:
        return math.nan, f"{model.cell.label} has no recurrent matrix, so there is no sigma_max"
    return float(v), ""


def whh_note(model: Model) -> str:
    """Why the dL/dW_hh series is NaN for this model's kind, else ""."""
    if model.cell.recurrent is not None:
        return ""
    return (f"{model.cell.label} has no recurrent weight matrix W_hh (its recurrence is "
            "elementwise), so there is no dL/dW_hh term")


def rnn_bound(model: Model) -> float | None:
    """sigma_max(W_hh) * sup|phi'| for kinds where it bounds the Jacobian (the vanilla RNN:
    below 1, vanishing is guaranteed), else None (cells.get(kind).bound_note says why)."""
    if not model.cell.bound_applies:
        return None
    return _bound(model, sigma_max(model))


def _bound(model: Model, smax: float) -> float | None:
    return smax * GAMMA[model.activation] if model.cell.bound_applies else None


def _chunks(T: int, per_step: int) -> Iterator[slice]:
    n = max(1, _CHUNK_ENTRIES // max(per_step, 1))
    for lo in range(0, T, n):
        yield slice(lo, min(T, lo + n))


def _log10_unscale(norms: np.ndarray, logs: np.ndarray) -> np.ndarray:
    """log10(norms * 2^logs), exact at any size (logs: the integer log2 scales of the walk)."""
    with np.errstate(all="ignore"):
        return np.log10(norms) + logs * LOG10_2


def _diagonal_series(model: Model, trace: Trace):
    """Diagonal Jacobians (minGRU, minLSTM, LRU, IndRNN): products are elementwise, so
    log |prod| = sum of log |entries| per unit, exact at any size; the norm of a diagonal
    matrix is its largest |entry|."""
    kind = model.cell
    T, _, H = trace.h.shape
    with np.errstate(all="ignore"):
        jac = kind.jacobian(model.params, model.o, trace.caches(slice(None)))
        step = np.abs(jac.step)
        jac_step = step.max(axis=1)
        jac_step[np.isnan(step).any(axis=1)] = np.nan
        full = np.abs(jac.full)
        if kind.prod_block == "h":
            full = full[:, :H]
        logs = np.log(full)
        rc = np.cumsum(logs[::-1], axis=0)[::-1]
        prod = np.zeros_like(logs)
        prod[:-1] = rc[1:]
        jac_prod = prod.max(axis=1) / np.log(10.0)
        jac_prod[np.isnan(prod).any(axis=1)] = np.nan
    return jac_step, jac_prod, None, None


def _jacobian_series(model: Model, trace: Trace, progress: Progress | None = None):
    """(jac_step, log10 jac_prod, cell_direct, cell_indirect) for one run: the spectral norms,
    most of the cost. The product norms are returned as exact log10 values (they pass
    10^+-308 easily). Dense kinds: the running product R = dh_T/d(state_t) (H x S, the h rows
    of the product of full state Jacobians; all S rows when prod_block is "state").
    progress(done, T) is called after each chunk of steps (`Progress`)."""
    kind = model.cell
    T, _, H = trace.h.shape
    p, o = model.params, model.o
    with np.errstate(all="ignore"):
        if trace.T and kind.jacobian(p, o, trace.caches(slice(0, 1))).diagonal:
            return _diagonal_series(model, trace)
    path = kind.cell_path is not None
    jac_step = np.empty(T)
    jac_prod = np.empty(T)
    direct = np.empty(T) if path else None
    indirect = np.empty(T) if path else None
    with np.errstate(all="ignore"):
        # Walk chunks from the end so the running product R = dh_T/d(state_t) can be reused.
        # R is kept scaled by powers of two with its log2 scale apart, so products that vanish
        # to 1e-200 or explode to 1e200 are still reported (NaN once R is non-finite).
        r = None
        log_r = 0
        for sl in reversed(list(_chunks(T, H * H * len(kind.state)))):
            checkpoint()
            # The one-step norms go to the linalg pool (a core spare) while this thread builds
            # the products; it takes back what the pool has not started (linalg.defer). Built
            # in pieces, last first, so that the pool starts after the first piece.
            fulls, jobs = [], []
            try:
                for sub in reversed(_pieces(sl, H * H)):
                    jac = kind.jacobian(p, o, trace.caches(sub))
                    fulls.insert(0, jac.full)
                    jobs.append((sub, jac_step, defer(spectral_norms, jac.step)))
                    if path:
                        direct[sub], ind = kind.cell_path(p, o, trace.run, sub, jac)
                        jobs.append((sub, indirect, defer(spectral_norms, ind)))
                if r is None:
                    S = fulls[0].shape[1]
                    r = np.eye(S)[:H] if kind.prod_block == "h" else np.eye(S)
                r, log_r, jac_prod[sl] = _products(kind, fulls, r, log_r, H, sl.stop == T)
            except BaseException:
                for _, _, job in jobs:
                    job.cancel()  # a cancelled background job drops the parts not started
                raise
            for sub, out, job in reversed(jobs):  # the last deferred first: least started
                out[sub] = job.result()
            if progress is not None:
                progress(T - sl.start, T)
    return jac_step, jac_prod, direct, indirect


def _pieces(sl: slice, per_step: int) -> list[slice]:
    """sl in up to _PIECES slices of at least linalg.DEFER_ENTRIES entries when the linalg
    pool has a core spare, else [sl]."""
    n = sl.stop - sl.start
    k = min(_PIECES, n * per_step // linalg.DEFER_ENTRIES) if pool_spare() else 1
    if k <= 1:
        return [sl]
    b = np.linspace(sl.start, sl.stop, k + 1).astype(int)
    return [slice(int(lo), int(hi)) for lo, hi in zip(b[:-1], b[1:], strict=True)]


def _products(kind, fulls: list[np.ndarray], r: np.ndarray, log_r: int, H: int,
              last: bool):
    """One chunk of the running product, walked from its end: (r, log_r, log10 jac_prod)
    with r = dh_T/d(state) before the chunk's first step times 2^-log_r (an integer: r is
    rescaled by exact powers of two, only when its largest |entry| leaves 2^+-_RESCALE).
    fulls: the chunk's full state Jacobians, in pieces along the steps. last: the chunk
    ends at T (dh_T/dh_T = I)."""
    left = kind.jac_left
    n = sum(len(f) for f in fulls)
    block = H if kind.prod_block == "h" else fulls[0].shape[1]
    prods = np.empty((n, r.shape[0], block))
    logs = np.empty(n)
    buf = np.empty_like(r)
    square = left is None and r.shape[1] == block
    if square and n:
        prods[-1] = r
        r = prods[-1]
    k = n
    with np.errstate(all="ignore"):
        for full in reversed(fulls):
            for m in full[::-1]:
                checkpoint()  # a cancelled background job stops here
                k -= 1
                logs[k] = log_r
                if square:  # r is prods[k]: multiply straight into prods[k - 1], no copy
                    nxt = prods[k - 1] if k else buf
                    np.matmul(r, m, out=nxt)
                    r = nxt
                else:
                    prods[k] = r[:, :block]
                    if left is None:
                        np.matmul(r, m, out=buf)
                        r, buf = buf, r
                    else:
                        r = left(r, m)
                s = max(r.max(), -r.min())  # NaN if r has a NaN (no temporary array)
                if not _SMALL < s < _LARGE and 0 < s < np.inf:
                    e = int(np.frexp(s)[1])
                    np.ldexp(r, -e, out=r)  # exact
                    log_r += e
        pn = product_norms(prods) if prods.shape[1] == prods.shape[2] else spectral_norms(prods)
        if last:
            pn[-1] = 1.0  # dh_T/dh_T = I
        return r, log_r, _log10_unscale(pn, logs)


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
    return _diagnostics(model, trace, grads, jacobians)


def forward_diagnostics(model: Model, trace: Trace) -> Diagnostics:
    """The diagnostics of a forward pass alone (`gradients_ready` and `jacobians_ready`
    False): sigma_max, the bound, cell_direct and the state norms as `compute_diagnostics`
    gives them; every gradient series NaN (not computed yet, never a 0)."""
    if not isinstance(trace, Trace) or trace.kind != model.kind:
        raise EngineError("trace: expected a Trace of this model from forward()")
    return _diagnostics(model, trace, None, False)


def _diagnostics(model: Model, trace: Trace, grads: Grads | None,
                 jacobians: bool) -> Diagnostics:
    T = trace.h.shape[0]
    kind = model.cell
    cell = kind.has_cell
    path = kind.cell_path is not None
    if jacobians:
        jac_step, log_prod, direct, indirect = _jacobian_series(model, trace)
    else:
        jac_step, log_prod = np.full(T, np.nan), np.full(T, np.nan)
        indirect = np.full(T, np.nan) if path else None
        direct = _cell_direct(model, trace) if path else None
    if grads is None:
        log_h = np.full(T, np.nan)
        log_c = np.full(T, np.nan) if cell else None
        log_whh, whh = np.full(T, np.nan), np.full(T, np.nan)
        overflow = trace.overflow_step
    else:
        log_h = _logs(grads.log10_h, grads.h)
        log_c = _logs(grads.log10_c, grads.c) if cell else None
        log_whh, whh = np.array(grads.log10_whh), np.array(grads.whh_contrib)
        overflow = (trace.overflow_step if trace.overflow_step is not None
                    else grads.overflow_step)
    smax, snote = _sigma(model)
    bound = _bound(model, smax)
    out = Diagnostics(
        grad_h_norm=pow10(log_h),
        grad_c_norm=pow10(log_c) if cell else None,
        jac_step_norm=jac_step,
        jac_prod_norm=pow10(log_prod),
        whh_contrib=whh,
        cell_direct=direct,
        cell_indirect=indirect,
        rnn_bound=bound,
        sigma_max=smax,
        overflow_step=overflow,
        jacobians_ready=jacobians,
        log10_grad_h=log_h,
        log10_grad_c=log_c,
        log10_whh=log_whh,
        log10_jac_step=_log10(jac_step),
        log10_jac_prod=log_prod,
        log10_bound_line=None if bound is None else bound_line(log_h, bound),
        log10_h_norm=log10_frobenius_per_step(trace.h),
        bound_note="" if kind.bound_applies else kind.bound_note,
        whh_note=whh_note(model),
        sigma_note=snote,
        jacobian_note=kind.jacobian_note,
        gradients_ready=grads is not None,
    )
    _freeze(out)
    return out


def _cell_direct(model: Model, trace: Trace) -> np.ndarray:
    """cell_direct without the Jacobians (cheap): the kind's cell path on the whole run."""
    with np.errstate(all="ignore"):
        direct = model.cell.cell_path(model.params, model.o, trace.run, slice(0, trace.T), None)[0]
    return np.array(direct, dtype=np.float64)


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


def complete_diagnostics(model: Model, trace: Trace, diagnostics: Diagnostics,
                         progress: Progress | None = None) -> Diagnostics:
    """`diagnostics` with the Jacobian norms computed (a no-op when they already are);
    progress(done, T) after each chunk of steps (at H = 512 a chunk is a few steps)."""
    if diagnostics.jacobians_ready:
        return diagnostics
    jac_step, log_prod, _, indirect = _jacobian_series(model, trace, progress)
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
    "forward_diagnostics",
    "rnn_bound",
    "sigma_max",
    "spectral_norm",
]
