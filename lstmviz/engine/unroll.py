"""Unrolling through time for any registered kind: `forward` (cells.run_forward: T calls of
the kind's step, or the same steps in place (its loop), or its scan) and `backward` (BPTT,
T calls of the kind's step_back with the running gradient kept in the log domain), with the
results frozen in `Trace` and `Grads`.

Speed: the input projections of all steps are one matmul before the loop, and the parameter
gradients are one product over the stacked per-step projection gradients after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import cells
from .cancel import checkpoint
from .cells.base import seq_matmul
from .cells.run import Forward
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
    """A forward run, read-only. h: h_1..h_T (T, B, H), what the readout sees (the LRU's is
    Re s_t); c likewise for kinds with a "c" state (else None).

    states / state0: every state component (kind.state names, e.g. sLSTM h, c, n, m; the
    LRU's complex s), (T, B, H) each and the initial (B, H) ones.
    gates: the kind's per-step arrays (cells.get(kind).gates), each (T, B, H).
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
    states: tuple[np.ndarray, ...] = ()
    state0: tuple[np.ndarray, ...] = ()
    run: Forward | None = field(default=None, repr=False)

    @property
    def T(self) -> int:
        return self.h.shape[0]

    @property
    def batch_size(self) -> int:
        return self.h.shape[1]

    def state(self, t: int) -> tuple[np.ndarray, ...]:
        """State after step t (1-based, t = 0 is the initial state), one array per name."""
        if t == 0:
            return self.state0
        return tuple(s[t - 1] for s in self.states)

    def named(self, name: str) -> np.ndarray | None:
        """The state component `name` (T, B, H), None if the kind has none of that name."""
        names = cells.get(self.kind).state
        return self.states[names.index(name)] if name in names else None

    def h_prev(self) -> np.ndarray:
        """h_0..h_{T-1} stacked (T, B, H)."""
        return np.concatenate((self.h0[None], self.h[:-1]), axis=0)

    def cache(self, t: int, cell=None) -> tuple:
        """The cache the kind's step returned at 0-based time index t, rebuilt as views
        (`cell` is accepted for old callers and ignored)."""
        return self.run.cache(t)

    def caches(self, sl: slice = slice(None), b: int = 0):
        """The caches of steps sl for batch element b, each field stacked (n, ...)."""
        return self.run.caches(sl, b)


@dataclass(frozen=True, eq=False)
class Grads:
    """A backward run, read-only. params: dL/dparam (like model.params).

    h: total dL/dh_t (T, B, H) (loss term plus what flows back from t+1); c: total dL/dc_t for
    lstm (including the path through h_t), else None; x: dL/dx_t (T, B, I); h0, c0: (B, H).
    These are the float64 values: 0 where the true value underflows, inf where it overflows.
    log10_h, log10_c: (T,) exact log10 ||dL/dh_t||_F, ||dL/dc_t||_F over the whole batch, from
    the rescaled backward pass (exact from 10^-10000 to 10^10000; NaN after a non-finite forward).
    overflow_step: largest t (0-based) whose float64 gradient is not finite, else None.
    whh_contrib, log10_whh: (T,) Frobenius norm of each step's term of dL/dweight_hh (and its log):
    for the IndRNN's vector u the norm of sum_b dpre_t * h_{t-1}; NaN for kinds without a
    recurrent weight (minGRU, minLSTM, LRU: `WHH_NOTE`).
    states, state0: the total gradient of every state component (kind.state order; the LRU's
    complex ds), (T, B, H) each, and dL/d(state_0). For the LRU, h is Re ds and log10_h /
    grad_h_norm are of the whole complex ds_t (its modulus is what the Jacobian diag(lambda)
    shrinks).
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
    states: tuple[np.ndarray, ...] = ()
    state0: tuple[np.ndarray, ...] = ()
    recurrent: str | None = "dense"
    # dL/dx_t as carried: x[t] = ldexp(x_scaled[t], scale_exp[t]) (engine.stack feeds it,
    # with its exponents, to the layer below so per-layer norms stay exact)
    x_scaled: np.ndarray | None = field(default=None, repr=False)

    def _log10_norms(self, scaled: np.ndarray | None, plain: np.ndarray) -> np.ndarray:
        if scaled is None or self.scale_exp is None:
            return _ro(log10_frobenius_per_step(np.abs(plain) if np.iscomplexobj(plain)
                                                else plain))
        if np.iscomplexobj(scaled):
            scaled = np.abs(scaled)  # ||ds||_F = || |ds| ||_F
        with np.errstate(all="ignore"):
            return _ro(log10_frobenius_per_step(scaled) + self.scale_exp * LOG10_2)

    @cached_property
    def log10_h(self) -> np.ndarray:
        """(T,) exact log10 ||dL/dh_t||_F over the batch (see the class docstring)."""
        if self.h_scaled is None and self.states:
            return self._log10_norms(None, self.states[0])
        return self._log10_norms(self.h_scaled, self.h)

    @cached_property
    def log10_c(self) -> np.ndarray | None:
        """(T,) exact log10 ||dL/dc_t||_F over the batch (lstm), else None."""
        return None if self.c is None else self._log10_norms(self.c_scaled, self.c)

    @cached_property
    def log10_whh(self) -> np.ndarray:
        """(T,) exact log10 of the Frobenius norm of each step's term of dL/dweight_hh (NaN
        for kinds without a recurrent weight, see WHH_NOTE)."""
        if self.recurrent is None or self.dgates_hh is None:
            return _ro(np.full(self.h.shape[0], np.nan))
        if self.recurrent == "diagonal":  # d/du of u * h_{t-1}: sum_b dpre_t * h_{t-1}
            with np.errstate(all="ignore"):
                u, v = self.dgates_hh, self.h_prev
                su = np.abs(u).reshape(len(u), -1).max(axis=1)
                sv = np.abs(v).reshape(len(v), -1).max(axis=1)
                ok = (su > 0) & np.isfinite(su) & (sv > 0) & np.isfinite(sv)
                su, sv = np.where(ok, su, 1.0), np.where(ok, sv, 1.0)
                term = np.einsum("tbj,tbj->tj", u / su[:, None, None], v / sv[:, None, None])
                out = (log10_frobenius_per_step(term) + np.log10(su) + np.log10(sv))
                raw = np.einsum("tbj,tbj->tj", u, v)
                out = np.where(ok, out, log10_frobenius_per_step(raw))
        else:
            out = log10_frob_products(self.dgates_hh, self.h_prev)
        if self.scale_exp is not None:
            out = out + self.scale_exp * LOG10_2
        return _ro(out)

    @cached_property
    def whh_contrib(self) -> np.ndarray:
        """(T,) Frobenius norm of each step's term dgates_t^T h_{t-1} of dL/dweight_hh (float64:
        0 where it underflows, inf where it overflows; `log10_whh` is exact)."""
        return _ro(pow10(self.log10_whh))


#: Shown where a kind has no recurrent weight matrix (Grads.log10_whh is NaN for it).
WHH_NOTE = "no recurrent weight: the recurrence is elementwise in the input-driven gates, so "\
    "there is no dL/dW_hh"


def _check_state(arg: str, value, B: int, H: int) -> np.ndarray:
    a = as_float_array(arg, value, f"shape ({B}, {H}) or ({H},)")
    if a.shape == (H,):
        a = np.broadcast_to(a, (B, H))
    if a.shape != (B, H):
        raise EngineError(f"{arg}: expected shape ({B}, {H}) or ({H},), got {np.shape(value)}")
    return np.array(a)  # own copy; the trace freezes it


def initial_state(model: Model, state0, B: int) -> tuple[np.ndarray, ...]:
    """Validated initial state tuple (one array per kind.state name); None means zeros. A
    single array is accepted as h0 for kinds whose state is h alone."""
    H = model.hidden_size
    kind = model.cell
    if state0 is None:
        return model.zero_state(B)
    if not isinstance(state0, tuple | list):
        state0 = (state0,)
    names = kind.state
    if len(state0) != len(names):
        want = "(" + ", ".join(f"{n}0" for n in names) + ("," if len(names) == 1 else "") + ")"
        raise EngineError(
            f"state0: expected a tuple {want} for {model.kind}, got {len(state0)} arrays"
        )
    out = []
    for k, (name, v) in enumerate(zip(names, state0, strict=True)):
        arg = f"state0[{k}] ({name}0)"
        if np.dtype(kind.state_dtype).kind == "c":
            a = np.asarray(v)
            if a.dtype.kind not in "biufc":
                raise EngineError(f"{arg}: expected a numeric array, got dtype {a.dtype}")
            a = np.broadcast_to(a, (B, H)) if a.shape == (H,) else a
            if a.shape != (B, H):
                raise EngineError(f"{arg}: expected shape ({B}, {H}) or ({H},), got {a.shape}")
            out.append(np.array(a, dtype=kind.state_dtype))
        else:
            out.append(_check_state(arg, v, B, H))
    return tuple(out)


def forward(model: Model, xs, state0=None) -> Trace:
    """Run the model over xs (T, B, I) or (T, I) -> Trace (B axis always present).

    Never raises or warns on overflow: non-finite values propagate and overflow_step records
    the first step whose state (any component) is not finite in float64. Kinds with a scan
    (cells.get(kind).scan) run it; the others loop over kind.step (in place: kind.loop).
    """
    if not isinstance(model, Model):
        raise EngineError(f"model: expected a Model, got {type(model).__name__}")
    xs = np.array(check_sequence("xs", xs, model.input_size), dtype=np.float64)
    B = xs.shape[1]
    kind = model.cell
    state = initial_state(model, state0, B)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        run = cells.run_forward(kind, model.params, xs, state, opts=model.o)
        h = np.ascontiguousarray(run.h)
    overflow = None
    for a in run.states:
        o = first_bad(a)
        if o is not None and (overflow is None or o < overflow):
            overflow = o
    extras = dict(run.extras)
    for a in (xs, h, *state, *run.states, *extras.values()):
        if a.flags.writeable or a.base is None:
            _ro(a)
    names = kind.state
    c = run.states[names.index("c")] if kind.has_cell else None
    c0 = state[names.index("c")] if kind.has_cell else None
    h0 = kind.h_of(state)
    return Trace(
        xs=xs,
        h=h,
        c=c,
        h0=h0,
        c0=c0,
        gates=run.gates,
        overflow_step=overflow,
        extras=extras,
        kind=model.kind,
        states=run.states,
        state0=state,
        run=run,
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


def _ldexp(a: np.ndarray, k) -> np.ndarray:
    """a * 2**k exactly (np.ldexp), for real or complex a."""
    if np.iscomplexobj(a):
        return np.ldexp(a.real, k) + 1j * np.ldexp(a.imag, k)
    return np.ldexp(a, k)


def _rescaled(arrs: tuple, e: int) -> tuple[tuple, int]:
    """arrs divided by a power of two so their largest |entry| is in [0.5, 1); e updated.

    Exact (ldexp); zeros and non-finite arrays are returned as they are."""
    s = max(float(np.abs(a).max()) for a in arrs)
    if not (0.0 < s < math.inf):
        return arrs, e
    k = math.frexp(s)[1]
    return tuple(_ldexp(a, -k) for a in arrs), e + k


def backward(model: Model, trace: Trace, dh, dc=None, *, dh_exp=None) -> Grads:
    """Backpropagation through time from the loss gradients dh = dL/dh_t (T, B, H) or (T, H).

    dc (kinds with a "c" state, optional): direct loss gradients dL/dc_t, same shape. One
    generic loop over the kind's step_back with the running gradient carried in the log
    domain (exact norms far beyond float64); parameter gradients are formed after the loop
    by the kind's param_grads. For the LRU, dh is dL/d(Re s_t) (h = Re s) and the gradient
    carried is the complex ds = dL/d(Re s) + i dL/d(Im s).
    dh_exp (engine.stack): optional (T,) integer exponents, the true dh[t] being
    ldexp(dh[t], dh_exp[t]) (a gradient from the layer above, exact beyond float64).
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
    kind = model.cell
    names = kind.state
    S = len(names)
    if dc is not None:
        if not kind.has_cell:
            raise EngineError(f"dc: expected None for {model.kind} (no cell state), got an array")
        dc = _check_dseq("dc", dc, T, B, H)
    loss: list[np.ndarray | None] = [dh] + [None] * (S - 1)
    if dc is not None:
        loss[names.index("c")] = dc
    p, o = model.params, model.o
    run_fwd = trace.run
    sdt = np.dtype(kind.state_dtype)
    totals = [np.empty((T, B, H), dtype=sdt if k == 0 else s.dtype)
              for k, s in enumerate(trace.states)]
    dgi_all = dgh_all = None
    other: dict[str, np.ndarray] | None = None
    back = kind.step_back
    # Backprop is linear in the gradient: the running state gradient is carried as
    # scaled * 2**e with the integer e kept apart (e = 0 while the plain values are safe, see
    # _BAND), so its norm is exact far beyond float64 (10^-10000). Loss terms join at a common
    # scale.
    with np.errstate(all="ignore"):
        inj = np.concatenate([a for a in loss if a is not None], axis=2)
        inj_max = np.abs(inj).reshape(T, -1).max(axis=1)
        inj_exp = np.frexp(inj_max)[1]
        inj_any = inj_max != 0  # NaN counts as injected
    if dh_exp is not None:
        dh_exp = np.asarray(dh_exp, dtype=np.int64).reshape(T)
        inj_exp = inj_exp + dh_exp
        dh_exp = dh_exp.tolist()
    exps = [0] * T
    inj_any = inj_any.tolist()
    inj_exp = inj_exp.tolist()
    vdot = np.vdot
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        run = tuple(np.zeros((B, H), dtype=s.dtype) for s in trace.state0)
        e = 0
        for t in range(T - 1, -1, -1):
            checkpoint()  # a cancelled background job stops here
            if not inj_any[t]:
                cur = run
            elif e == 0 and (dh_exp is None or dh_exp[t] == 0):
                cur = tuple(r if lt is None else lt[t] + r for lt, r in zip(loss, run, strict=True))
            else:  # join at the larger of the two scales (the smaller part may underflow)
                s_run = max(float(np.abs(a).max()) for a in run)
                k_run = e + math.frexp(s_run)[1] if 0.0 < s_run < math.inf else None
                E = inj_exp[t] if k_run is None else max(inj_exp[t], k_run)
                le = 0 if dh_exp is None else dh_exp[t]
                cur = tuple(_ldexp(r, e - E) if lt is None else np.ldexp(lt[t], le - E)
                            + _ldexp(r, e - E) for lt, r in zip(loss, run, strict=True))
                e = E
            exps[t] = e
            dprev, sg = back(p, o, cur, run_fwd.cache(t))
            if dgi_all is None:
                dgi_all = np.empty((T, *sg.dgi.shape), dtype=sg.dgi.dtype)
                if sg.dgh is not None:
                    dgh_all = dgi_all if sg.dgh is sg.dgi else np.empty((T, *sg.dgh.shape))
                if sg.other is not None:
                    other = {k: np.empty((T, *v.shape), dtype=v.dtype)
                             for k, v in sg.other.items()}
            dgi_all[t] = sg.dgi
            if dgh_all is not None and dgh_all is not dgi_all:
                dgh_all[t] = sg.dgh
            if other is not None:
                for k, v in sg.other.items():
                    other[k][t] = v
            for buf, v in zip(totals, cur if sg.total is None else sg.total, strict=True):
                buf[t] = v
            if S == 1:
                ss = float(vdot(dprev[0], dprev[0]).real)
            else:
                ss = sum(float(vdot(a, a).real) for a in dprev)
            if not _SS_LO <= ss <= _SS_HI:  # leaving the safe band (or zero, inf, NaN)
                dprev, e = _rescaled(dprev, e)
            run = dprev
        exps = np.array(exps, dtype=np.int64)
        scaled = bool(exps.any()) or e != 0
        totals_scaled = list(totals)
        dgh_scaled = dgh_all
        if scaled:  # the float64 values (exact ldexp: 0 / inf only beyond float64)
            ex3 = exps[:, None, None]
            totals = [_ldexp(a, ex3) for a in totals]
            dgi_f = np.ldexp(dgi_all, ex3)
            dgh_f = None if dgh_all is None else (
                dgi_f if dgh_all is dgi_all else np.ldexp(dgh_all, ex3))
            other_f = None if other is None else {
                k: _ldexp(v, exps.reshape((T,) + (1,) * (v.ndim - 1))) for k, v in other.items()}
            dprev = tuple(_ldexp(a, e) for a in run)
        else:
            dgi_f, dgh_f, other_f = dgi_all, dgh_all, other
        prev = run_fwd.prev()
        dparams = kind.param_grads(p, trace.xs, prev, dgi_f, dgh_f, other_f)
        w, _ = kind.input_weights(p)
        dx = seq_matmul(dgi_f, w)
        dx_scaled = seq_matmul(dgi_all, w) if scaled else dx
    h_prev = np.ascontiguousarray(kind.h_of(prev))  # = trace.h_prev(), without a copy
    if trace.overflow_step is not None:
        # a non-finite forward state: every gradient depends on it (through the loss at T),
        # so every one is NaN, never a silent 0 (e.g. relu cutting a NaN)
        nan = np.nan
        for a in (*dparams.values(), *totals, *totals_scaled, dx, dx_scaled, *dprev):
            a[...] = nan
        if dgh_scaled is not None:
            dgh_scaled = np.full_like(dgh_scaled, nan)
    gh = totals[0].real if np.iscomplexobj(totals[0]) else totals[0]
    overflow = None
    for a in totals:
        ob = first_bad(a, last=True)
        if ob is not None and (overflow is None or ob > overflow):
            overflow = ob
    c_idx = names.index("c") if kind.has_cell else None
    for a in (*dparams.values(), *totals, *totals_scaled, dx, dx_scaled, dgh_scaled, *dprev,
              exps):
        if a is not None:
            _ro(a)
    return Grads(
        params=dparams,
        h=_ro(np.ascontiguousarray(gh)),
        c=totals[c_idx] if c_idx is not None else None,
        x=dx,
        h0=dprev[0].real if np.iscomplexobj(dprev[0]) else dprev[0],
        c0=dprev[c_idx] if c_idx is not None else None,
        overflow_step=overflow,
        dgates_hh=dgh_scaled,
        h_prev=h_prev,
        h_scaled=totals_scaled[0],
        c_scaled=totals_scaled[c_idx] if c_idx is not None else None,
        scale_exp=exps,
        states=tuple(totals),
        state0=dprev,
        recurrent=kind.recurrent,
        x_scaled=dx_scaled,
    )
