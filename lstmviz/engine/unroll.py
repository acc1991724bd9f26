"""Unrolling through time: `forward` (T calls of Model.step) and `backward` (BPTT, T calls of
Model.step_back_pre), with the results frozen in `Trace` and `Grads`.

Speed: the input projections of all steps are one matmul before the loop, and the parameter
gradients are one product over the stacked per-step projection gradients after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import EngineError
from .model import Model

#: |value| above this counts as overflow (squares would overflow float64).
OVERFLOW = 1e150


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
    """First (or last) time index t whose a[t] holds a non-finite value or |value| > OVERFLOW."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(a) <= OVERFLOW)  # NaN compares False
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
    overflow_step: largest t (0-based) whose gradient is non-finite or > 1e150, else None.
    whh_contrib: (T,) Frobenius norm of each step's term of dL/dweight_hh.
    """

    params: dict[str, np.ndarray]
    h: np.ndarray
    c: np.ndarray | None
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    overflow_step: int | None
    # the per-step factors of dL/dW_hh, kept so whh_contrib is computed only when asked for
    # (it is a diagnostic: backward itself should not pay for it)
    dgates_hh: np.ndarray = field(repr=False)
    h_prev: np.ndarray = field(repr=False)

    @cached_property
    def whh_contrib(self) -> np.ndarray:
        """(T,) Frobenius norm of each step's term dgates_t^T h_{t-1} of dL/dweight_hh."""
        return _ro(frob_per_step(self.dgates_hh, self.h_prev))


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
    the first step whose h or c is non-finite or exceeds 1e150 in magnitude.
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
    """||u_t^T v_t||_F for stacked u (T, B, m), v (T, B, n), without forming the (m, n) terms.

    ||U^T V||_F^2 = sum((U U^T) * (V V^T)) over the B x B Gram matrices. Each step's u and v
    are scaled by their largest entry first, so values near 1e150 do not overflow to inf.
    """
    T, B, m = u.shape
    n = v.shape[2]
    with np.errstate(all="ignore"):
        su = np.abs(u).reshape(T, -1).max(axis=1) if u.size else np.zeros(T)
        sv = np.abs(v).reshape(T, -1).max(axis=1) if v.size else np.zeros(T)
        bad = ~(np.isfinite(su) & np.isfinite(sv))
        su_safe = np.where((su > 0) & ~bad, su, 1.0)
        sv_safe = np.where((sv > 0) & ~bad, sv, 1.0)
        u = np.where(bad[:, None, None], 0.0, u / su_safe[:, None, None])
        v = np.where(bad[:, None, None], 0.0, v / sv_safe[:, None, None])
        if B == 1:
            unit = np.sqrt(np.einsum("tbm,tbm->t", u, u) * np.einsum("tbn,tbn->t", v, v))
        elif B * B * (m + n) < B * m * n:
            gu = u @ u.transpose(0, 2, 1)
            gv = v @ v.transpose(0, 2, 1)
            unit = np.sqrt(np.maximum(np.einsum("tab,tab->t", gu, gv), 0.0))
        else:
            unit = np.sqrt(np.einsum("tmn,tmn->t", *(2 * [u.transpose(0, 2, 1) @ v])))
        out = unit * su_safe * sv_safe
        # a non-finite factor: NaN stays NaN, inf (with a nonzero partner) stays inf
        out = np.where(bad, su * sv, out)
    return out


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
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        dh_next = np.zeros((B, H))
        dc_next = np.zeros((B, H)) if cell.HAS_CELL else None
        for t in range(T - 1, -1, -1):
            dht = dh[t] + dh_next
            gh_total[t] = dht
            if cell.HAS_CELL:
                dstate = (dht, dc_next if dc is None else dc_next + dc[t])
            else:
                dstate = (dht,)
            dprev, dgi, dgh, dct = back(dstate, trace.cache(t, cell))
            dgi_all[t] = dgi
            if dgh_all is not dgi_all:
                dgh_all[t] = dgh
            if gc_total is not None:
                gc_total[t] = dct
                dc_next = dprev[1]
            dh_next = dprev[0]
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
    overflow = first_bad(gh_total, last=True)
    if gc_total is not None:
        oc = first_bad(gc_total, last=True)
        if oc is not None and (overflow is None or oc > overflow):
            overflow = oc
    for a in (*dparams.values(), gh_total, gc_total, dx, dgh_all, *dprev):
        _ro(a)
    return Grads(
        params=dparams,
        h=gh_total,
        c=gc_total,
        x=dx,
        h0=dprev[0],
        c0=dprev[1] if cell.HAS_CELL else None,
        overflow_step=overflow,
        dgates_hh=dgh_all,
        h_prev=h_prev,
    )
