"""Unrolling through time: `forward` (T calls of Model.step) and `backward` (BPTT, T calls of
Model.step_back_pre), with the results frozen in `Trace` and `Grads`.

Speed: the input projections of all steps are one matmul before the loop, and the parameter
gradients are one product over the stacked per-step projection gradients after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import EngineError
from .linalg import LOG10_2, log10_frob_products, log10_frobenius_per_step, pow10
from .model import Model


def _ro(a: np.ndarray | None) -> np.ndarray | None:
    if a is not None:
        a.setflags(write=False)
    return a


def as_float_array(arg: str, value, expected: str) -> np.ndarray:
    """value as a float64 array; bool/int/float accepted, anything else is an EngineError."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise EngineError(f"{arg}: expected {expected}, got an irregular sequence") from exc
    if a.dtype.kind not in "biuf":
        raise EngineError(f"{arg}: expected a real numeric array {expected}, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def check_sequence(arg: str, value, size: int, name: str = "I") -> np.ndarray:
    """(T, B, size) or (T, size) -> float64 (T, B, size) with T, B >= 1."""
    expected = f"shape (T, B, {size}) or (T, {size})"
    a = as_float_array(arg, value, expected)
    if a.ndim == 2:
        a = a[:, None, :]
    if a.ndim != 3 or a.shape[2] != size or a.shape[0] < 1 or a.shape[1] < 1:
        raise EngineError(f"{arg}: expected {expected}, got {np.shape(value)}")
    return a


def first_bad(a: np.ndarray, *, last: bool = False) -> int | None:
    """First (or last) time index t whose a[t] holds a non-finite value (float64 overflow or
    NaN: "overflow" means a value stopped being finite, nothing else)."""
    bad = ~np.isfinite(a)
    bad_t = bad.reshape(a.shape[0], -1).any(axis=1)
    idx = np.flatnonzero(bad_t)
    if idx.size == 0:
        return None
    return int(idx[-1] if last else idx[0])


@dataclass(frozen=True, eq=False)
class Trace:
    """A forward run, read-only. h: h_1..h_T (T, B, H); c likewise for lstm (else None).

    gates: lstm "input", "forget", "cell", "output"; gru "reset", "update", "new";
    rnn "pre" (pre-activation) and "dphi" (phi'(pre)); each (T, B, H).
    extras: the stacked per-step cache fields `backward` needs (includes the gate arrays).
    """

    xs: np.ndarray
    h: np.ndarray
    c: np.ndarray | None
    h0: np.ndarray
    c0: np.ndarray | None
    gates: dict[str, np.ndarray]
    overflow_step: int | None
    extras: dict[str, np.ndarray]
    kind: str

    @property
    def T(self) -> int:
        return self.h.shape[0]

    @property
    def batch_size(self) -> int:
        return self.h.shape[1]

    def state(self, t: int) -> tuple[np.ndarray, ...]:
        """State after step t (1-based, t = 0 is the initial state): (h,) or (h, c)."""
        if t == 0:
            return (self.h0,) if self.c0 is None else (self.h0, self.c0)
        return (self.h[t - 1],) if self.c is None else (self.h[t - 1], self.c[t - 1])

    def h_prev(self) -> np.ndarray:
        """h_0..h_{T-1} stacked (T, B, H)."""
        return np.concatenate((self.h0[None], self.h[:-1]), axis=0)

    def cache(self, t: int, cell) -> tuple:
        """The cache Model.step returned at 0-based time index t, rebuilt as views."""
        ex = self.extras
        prev = self.state(t)
        return cell.Cache(self.xs[t], *prev, *(ex[k][t] for k in cell.EXTRAS))


@dataclass(frozen=True, eq=False)
class Grads:
    """A backward run, read-only. params: dL/dparam (like model.params).

    h: total dL/dh_t (T, B, H) (loss term plus what flows back from t+1); c: total dL/dc_t for
    lstm (including the path through h_t), else None; x: dL/dx_t (T, B, I); h0, c0: (B, H).
    These are the float64 values: 0 where the true value underflows, inf where it overflows.
    log10_h, log10_c: (T,) exact log10 ||dL/dh_t||_F, ||dL/dc_t||_F over the whole batch, from
    the rescaled backward pass (exact from 10^-10000 to 10^10000; NaN after a non-finite forward).
    overflow_step: largest t (0-based) whose float64 gradient is not finite, else None.
    whh_contrib, log10_whh: (T,) Frobenius norm of each step's term of dL/dweight_hh (and its log).
    """

    params: dict[str, np.ndarray]
    h: np.ndarray
    c: np.ndarray | None
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    overflow_step: int | None
    # the per-step factors of dL/dW_hh, kept so whh_contrib is computed only when asked for
    # (it is a diagnostic: backward itself should not pay for it); dgates_hh[t] is scaled by
    # 2**-scale_exp[t] (the true factor is ldexp(dgates_hh[t], scale_exp[t]))
    dgates_hh: np.ndarray = field(repr=False)
    h_prev: np.ndarray = field(repr=False)
    # h, c as carried: h[t] = ldexp(h_scaled[t], scale_exp[t]) (the same arrays when no step
    # needed rescaling); the exact logs come from these, computed when first asked for
    h_scaled: np.ndarray | None = field(default=None, repr=False)
    c_scaled: np.ndarray | None = field(default=None, repr=False)
    scale_exp: np.ndarray | None = field(default=None, repr=False)

    def _log10_norms(self, scaled: np.ndarray | None, plain: np.ndarray) -> np.ndarray:
        if scaled is None or self.scale_exp is None:
            return _ro(log10_frobenius_per_step(plain))
        with np.errstate(all="ignore"):
            return _ro(log10_frobenius_per_step(scaled) + self.scale_exp * LOG10_2)

    @cached_property
    def log10_h(self) -> np.ndarray:
        """(T,) exact log10 ||dL/dh_t||_F over the batch (see the class docstring)."""
        return self._log10_norms(self.h_scaled, self.h)

    @cached_property
    def log10_c(self) -> np.ndarray | None:
        """(T,) exact log10 ||dL/dc_t||_F over the batch (lstm), else None."""
        return None if self.c is None else self._log10_norms(self.c_scaled, self.c)

    @cached_property
    def log10_whh(self) -> np.ndarray:
        """(T,) exact log10 of the Frobenius norm of each step's term of dL/dweight_hh."""
        out = log10_frob_products(self.dgates_hh, self.h_prev)
        if self.scale_exp is not None:
            out = out + self.scale_exp * LOG10_2
        return _ro(out)

    @cached_property
    def whh_contrib(self) -> np.ndarray:
        """(T,) Frobenius norm of each step's term dgates_t^T h_{t-1} of dL/dweight_hh (float64:
        0 where it underflows, inf where it overflows; `log10_whh` is exact)."""
        return _ro(pow10(self.log10_whh))


def _check_state(arg: str, value, B: int, H: int) -> np.ndarray:
    a = as_float_array(arg, value, f"shape ({B}, {H}) or ({H},)")
    if a.shape == (H,):
        a = np.broadcast_to(a, (B, H))
    if a.shape != (B, H):
        raise EngineError(f"{arg}: expected shape ({B}, {H}) or ({H},), got {np.shape(value)}")
    return np.array(a)  # own copy; the trace freezes it


def initial_state(model: Model, state0, B: int) -> tuple[np.ndarray, ...]:
    """Validated initial state tuple; None means zeros. An array is accepted as h0 (rnn/gru)."""
    H = model.hidden_size
    if state0 is None:
        return model.zero_state(B)
    if not isinstance(state0, tuple | list):
        state0 = (state0,)
    n = 2 if model.has_cell else 1
    if len(state0) != n:
        want = "(h0, c0)" if n == 2 else "(h0,)"
        raise EngineError(
            f"state0: expected a tuple {want} for {model.kind}, got {len(state0)} arrays"
        )
    names = ("state0[0] (h0)", "state0[1] (c0)")
    return tuple(_check_state(names[k], s, B, H) for k, s in enumerate(state0))


def forward(model: Model, xs, state0=None) -> Trace:
    """Run the model over xs (T, B, I) or (T, I) -> Trace (B axis always present).

    Never raises or warns on overflow: non-finite values propagate and overflow_step records
    the first step whose h or c is not finite in float64.
    """
    if not isinstance(model, Model):
        raise EngineError(f"model: expected a Model, got {type(model).__name__}")
    xs = np.array(check_sequence("xs", xs, model.input_size), dtype=np.float64)
    T, B, _ = xs.shape
    H = model.hidden_size
    cell = model._cell
    state = initial_state(model, state0, B)
    p = model.params
    h = np.empty((T, B, H))
    c = np.empty((T, B, H)) if cell.HAS_CELL else None
    extras = {k: np.empty((T, B, H)) for k in cell.EXTRAS}
    bufs = [extras[k] for k in cell.EXTRAS]
    n_lead = 3 if cell.HAS_CELL else 2  # cache fields before the extras: x, h_prev[, c_prev]
    step = model.step
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        xproj = xs @ p["weight_ih"].T + p["bias_ih"]  # (T, B, G*H) all input projections at once
        s = state
        for t in range(T):
            s, cache = step(xs[t], s, xproj[t])
            h[t] = s[0]
            if c is not None:
                c[t] = s[1]
            for buf, v in zip(bufs, cache[n_lead:], strict=True):
                buf[t] = v
    overflow = first_bad(h)
    if c is not None:
        oc = first_bad(c)
        if oc is not None and (overflow is None or oc < overflow):
            overflow = oc
    for a in (xs, h, c, *state, *bufs):
        _ro(a)
    gates = {name: extras[field] for name, field in cell.GATES.items()}
    return Trace(
        xs=xs,
        h=h,
        c=c,
        h0=state[0],
        c0=state[1] if cell.HAS_CELL else None,
        gates=gates,
        overflow_step=overflow,
        extras=extras,
        kind=model.kind,
    )


def _check_dseq(arg: str, value, T: int, B: int, H: int) -> np.ndarray:
    expected = f"shape ({T}, {B}, {H})" + (f" or ({T}, {H})" if B == 1 else "")
    a = as_float_array(arg, value, expected)
    if B == 1 and a.shape == (T, H):
        a = a[:, None, :]
    if a.shape != (T, B, H):
        raise EngineError(f"{arg}: expected {expected}, got {np.shape(value)}")
    return a


def frob_per_step(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """||u_t^T v_t||_F for stacked u (T, B, m), v (T, B, n) as float64 (scaled: no overflow
    on the way; 0 / inf only where the result itself underflows / overflows)."""
    return pow10(log10_frob_products(u, v))


#: The running gradient is rescaled by a power of two once its sum of squares leaves
#: [2**-_BAND, 2**_BAND] (entries near 2**+-(_BAND/2)); inside, it is the plain float64 value.
_BAND = 800
_SS_LO, _SS_HI = 2.0**-_BAND, 2.0**_BAND


def _rescaled(arrs: tuple, e: int) -> tuple[tuple, int]:
    """arrs divided by a power of two so their largest |entry| is in [0.5, 1); e updated.

    Exact (ldexp); zeros and non-finite arrays are returned as they are."""
    s = max(float(np.abs(a).max()) for a in arrs)
    if not (0.0 < s < math.inf):
        return arrs, e
    k = math.frexp(s)[1]
    return tuple(np.ldexp(a, -k) for a in arrs), e + k


def backward(model: Model, trace: Trace, dh, dc=None) -> Grads:
    """Backpropagation through time from the loss gradients dh = dL/dh_t (T, B, H) or (T, H).

    dc (lstm only, optional): direct loss gradients dL/dc_t, same shape. Built from
    Model.step_back_pre; parameter gradients are formed after the loop in one product each.
    """
    if not isinstance(model, Model):
        raise EngineError(f"model: expected a Model, got {type(model).__name__}")
    if not isinstance(trace, Trace):
        raise EngineError(f"trace: expected a Trace from forward(), got {type(trace).__name__}")
    if (
        trace.kind != model.kind
        or trace.h.shape[2] != model.hidden_size
        or (trace.xs.shape[2] != model.input_size)
    ):
        raise EngineError(
            f"trace: expected a trace of this {model.kind} model (H={model.hidden_size}, "
            f"I={model.input_size}), got kind {trace.kind} with h {trace.h.shape}"
        )
    T, B, H = trace.h.shape
    dh = _check_dseq("dh", dh, T, B, H)
    cell = model._cell
    if dc is not None:
        if not cell.HAS_CELL:
            raise EngineError(f"dc: expected None for {model.kind} (no cell state), got an array")
        dc = _check_dseq("dc", dc, T, B, H)
    p = model.params
    GH = p["weight_hh"].shape[0]
    gh_total = np.empty((T, B, H))
    gc_total = np.empty((T, B, H)) if cell.HAS_CELL else None
    dgi_all = np.empty((T, B, GH))
    dgh_all = dgi_all if model.kind != "gru" else np.empty((T, B, GH))
    back = model.step_back_pre
    lstm = cell.HAS_CELL
    # Backprop is linear in the gradient: the running (dh, dc) is carried as scaled * 2**e with
    # the integer e kept apart (e = 0 while the plain values are safe, see _BAND), so its norm
    # is exact far beyond float64 (10^-10000). Loss terms dh[t] join at a common scale.
    with np.errstate(all="ignore"):
        inj = dh if dc is None else np.concatenate((dh, dc), axis=2)
        inj_max = np.abs(inj).reshape(T, -1).max(axis=1)
        inj_exp = np.frexp(inj_max)[1]
        inj_any = inj_max != 0  # NaN counts as injected
    exps = [0] * T
    inj_any = inj_any.tolist()
    inj_exp = inj_exp.tolist()
    vdot = np.vdot
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        run = (np.zeros((B, H)), np.zeros((B, H))) if lstm else (np.zeros((B, H)),)
        e = 0
        for t in range(T - 1, -1, -1):
            if not inj_any[t]:
                cur = run
            elif e == 0:
                cur = (dh[t] + run[0],) if not lstm else (
                    dh[t] + run[0], run[1] if dc is None else dc[t] + run[1])
            else:  # join at the larger of the two scales (the smaller part may underflow)
                s_run = max(float(np.abs(a).max()) for a in run)
                k_run = e + math.frexp(s_run)[1] if 0.0 < s_run < math.inf else None
                E = inj_exp[t] if k_run is None else max(inj_exp[t], k_run)
                loss = (dh[t],) if not lstm else (dh[t], np.zeros((B, H)) if dc is None else dc[t])
                cur = tuple(np.ldexp(a, -E) + np.ldexp(r, e - E)
                            for a, r in zip(loss, run, strict=True))
                e = E
            exps[t] = e
            gh_total[t] = cur[0]
            dprev, dgi, dgh, dct = back(cur, trace.cache(t, cell))
            dgi_all[t] = dgi
            if dgh_all is not dgi_all:
                dgh_all[t] = dgh
            if lstm:
                gc_total[t] = dct
                ss = float(vdot(dprev[0], dprev[0])) + float(vdot(dprev[1], dprev[1]))
            else:
                ss = float(vdot(dprev[0], dprev[0]))
            if not _SS_LO <= ss <= _SS_HI:  # leaving the safe band (or zero, inf, NaN)
                dprev, e = _rescaled(dprev, e)
            run = dprev
        exps = np.array(exps, dtype=np.int64)
        scaled = bool(exps.any()) or e != 0
        gh_scaled, gc_scaled = gh_total, gc_total
        if scaled:  # the float64 values (exact ldexp: 0 / inf only beyond float64)
            ex3 = exps[:, None, None]
            dgh_scaled = dgh_all
            gh_total = np.ldexp(gh_total, ex3)
            if gc_total is not None:
                gc_total = np.ldexp(gc_total, ex3)
            dgi_all = np.ldexp(dgi_all, ex3)
            dgh_all = dgi_all if model.kind != "gru" else np.ldexp(dgh_all, ex3)
            dprev = tuple(np.ldexp(a, e) for a in run)
        else:
            dgh_scaled = dgh_all
        h_prev = trace.h_prev()
        flat_gi = dgi_all.reshape(T * B, GH)
        flat_gh = dgh_all.reshape(T * B, GH)
        dparams = {
            "weight_ih": flat_gi.T @ trace.xs.reshape(T * B, -1),
            "weight_hh": flat_gh.T @ h_prev.reshape(T * B, H),
            "bias_ih": flat_gi.sum(axis=0),
            "bias_hh": flat_gh.sum(axis=0),
        }
        dx = dgi_all @ p["weight_ih"]
    if trace.overflow_step is not None:
        # a non-finite forward state: every gradient depends on it (through the loss at T),
        # so every one is NaN, never a silent 0 (e.g. relu cutting a NaN)
        nan = np.nan
        for a in (*dparams.values(), gh_total, gc_total, gh_scaled, gc_scaled, dx, *dprev):
            if a is not None:
                a[...] = nan
        dgh_scaled = np.full_like(dgh_scaled, nan)
    overflow = first_bad(gh_total, last=True)
    if gc_total is not None:
        oc = first_bad(gc_total, last=True)
        if oc is not None and (overflow is None or oc > overflow):
            overflow = oc
    for a in (*dparams.values(), gh_total, gc_total, gh_scaled, gc_scaled, dx, dgh_scaled,
              *dprev, exps):
        _ro(a)
    return Grads(
        params=dparams,
        h=gh_total,
        c=gc_total,
        x=dx,
        h0=dprev[0],
        c0=dprev[1] if cell.HAS_CELL else None,
        overflow_step=overflow,
        dgates_hh=dgh_scaled,
        h_prev=h_prev,
        h_scaled=gh_scaled,
        c_scaled=gc_scaled,
        scale_exp=exps,
    )
