"""A generic sequence runner for any registered kind: forward over T steps and BPTT over them.

`run_forward(kind, params, xs, state0, **options)` and `run_backward(fwd, dh)` are what
`engine.unroll` builds on. Speed is the unroller's: the input projections of all steps are
one matmul before the loop and the parameter gradients one product each after it
(`CellKind.param_grads`); kinds with a `scan` (minGRU, minLSTM, LRU: linear in h_{t-1}) run
both directions without a Python loop per step; kinds with a `loop` (rnn, lstm, gru) run the
forward steps in place in preallocated buffers. The forward loop calls `cancel.checkpoint()`
every CHECK_EVERY steps. No validation beyond the kind (the unroller validates shapes);
non-finite values propagate without warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cancel import checkpoint
from .base import CellKind, LastStep, seq_matmul
from .registry import get

_QUIET = {"over": "ignore", "invalid": "ignore", "divide": "ignore", "under": "ignore"}

#: The forward time loop calls `cancel.checkpoint()` before every CHECK_EVERY-th step (a
#: cancel stops a forward within that many steps; a job's hook costs ~1-2 us, a B = 1 step
#: of a small cell ~5-15 us).
CHECK_EVERY = 8


@dataclass(frozen=True, eq=False)
class Forward:
    """One forward run. states: per state component (T, B, H) after each step; state0: the
    initial state; extras: the kind's stacked cache fields (T, B, ...)."""

    kind: CellKind
    params: dict[str, np.ndarray]
    opts: Any
    xs: np.ndarray
    state0: tuple[np.ndarray, ...]
    states: tuple[np.ndarray, ...]
    extras: dict[str, np.ndarray]

    @property
    def h(self) -> np.ndarray:
        """h_1..h_T (T, B, H), what the readout sees."""
        return self.kind.h_of(self.states)

    @property
    def gates(self) -> dict[str, np.ndarray]:
        return {name: self.extras[f] for name, f in self.kind.gate_fields().items()}

    def prev(self) -> tuple[np.ndarray, ...]:
        """state_0..state_{T-1} stacked per component (T, B, H)."""
        return tuple(np.concatenate((s0[None], s[:-1]), axis=0)
                     for s0, s in zip(self.state0, self.states, strict=True))

    def cache(self, t: int):
        """The cache `step` returned at 0-based step t, rebuilt from views."""
        prev = self.state0 if t == 0 else tuple(s[t - 1] for s in self.states)
        return self.kind.Cache(self.xs[t], *prev, *(self.extras[k][t] for k in self.kind.extras))

    def caches(self, sl: slice = slice(None), b: int = 0):
        """The caches of steps sl for batch element b, each field stacked (n, ...)."""
        prev = self.prev()
        return self.kind.Cache(self.xs[sl, b], *(p[sl, b] for p in prev),
                               *(self.extras[k][sl, b] for k in self.kind.extras))


@dataclass(frozen=True, eq=False)
class Backward:
    """One BPTT run. dstates: total dL/d(state_t) per component (T, B, H) (the LSTM's c
    includes the path through h_t); dstate0: dL/d(state_0); dx (T, B, I); dparams like params;
    dgi (T, B, P), dgh (T, B, GH) or None: the per-step projection gradients."""

    dparams: dict[str, np.ndarray]
    dstates: tuple[np.ndarray, ...]
    dstate0: tuple[np.ndarray, ...]
    dx: np.ndarray
    dgi: np.ndarray
    dgh: np.ndarray | None

    @property
    def dh(self) -> np.ndarray:
        return self.dstates[0]


def run_forward(kind: str | CellKind, params: dict, xs: np.ndarray, state0=None, *,
                scan: bool = True, opts: Any = None, **options) -> Forward:
    """Forward over xs (T, B, I). state0: tuple per component (B, H), None for zeros.

    options: the kind's equation options (e.g. activation), or a resolved `opts`.
    scan=False forces the step loop for kinds that have a scan (tests compare the two).
    """
    kind = kind if isinstance(kind, CellKind) else get(kind)
    o = kind.make_opts(**options) if opts is None else opts
    T, B, _ = xs.shape
    H = _hidden(kind, params)
    state0 = kind.zero_state(B, H) if state0 is None else tuple(state0)
    w, b = kind.input_weights(params)
    with np.errstate(**_QUIET):
        xproj = seq_matmul(xs, w.T)
        if b is not None:
            xproj += b
        if scan and kind.scan is not None:
            states, extras = kind.scan.forward(params, o, xs, xproj, state0)
        else:
            states, extras = _loop_forward(kind, params, o, xs, xproj, state0)
    return Forward(kind, params, o, xs, state0, states, extras)


def _hidden(kind: CellKind, params: dict) -> int:
    """H from the first parameter whose leading dimension is k * H."""
    one, two = kind.param_shapes(1, 1), kind.param_shapes(1, 2)
    for name, shape in one.items():
        if len(shape) and two[name][0] == 2 * shape[0]:
            return params[name].shape[0] // shape[0]
    raise AssertionError(f"{kind.name}: no parameter scales with the hidden size")


def _loop_forward(kind, p, o, xs, xproj, state0):
    T = xs.shape[0]
    if kind.loop is not None:  # in place: xproj is ours (run_forward made it)
        states, extras, advance = kind.loop(p, o, xproj, state0)
        for t in range(T):
            if not t % CHECK_EVERY:
                checkpoint()  # a cancelled background job stops here
            advance(t)
        return states, extras
    n_lead = 1 + len(kind.state)
    states = None
    extras: dict[str, np.ndarray] = {}
    step = kind.step
    s = state0
    for t in range(T):
        if not t % CHECK_EVERY:
            checkpoint()
        s, cache = step(p, o, xs[t], s, xproj[t])
        if states is None:
            states = tuple(np.empty((T, *v.shape), dtype=v.dtype) for v in s)
            for k, v in zip(kind.extras, cache[n_lead:], strict=True):
                v = np.asarray(v)
                extras[k] = np.empty((T, *v.shape), dtype=v.dtype)
        for buf, v in zip(states, s, strict=True):
            buf[t] = v
        for k, v in zip(kind.extras, cache[n_lead:], strict=True):
            extras[k][t] = v
    return states, extras


def run_backward(fwd: Forward, dh: np.ndarray, dstate: dict | None = None, *,
                 scan: bool = True) -> Backward:
    """BPTT from the loss gradients dh = dL/dh_t (T, B, H).

    dstate: optional direct loss gradients on other state components, name -> (T, B, H)
    (e.g. {"c": dL/dc_t} for the LSTM).
    """
    kind = fwd.kind
    loss = [dh] + [None] * (len(kind.state) - 1)
    for name, v in (dstate or {}).items():
        loss[kind.state.index(name)] = v
    p, o = fwd.params, fwd.opts
    with np.errstate(**_QUIET):
        if scan and kind.scan is not None:
            totals, dstate0, dgi, dgh, other = kind.scan.backward(p, o, fwd, loss)
        else:
            totals, dstate0, dgi, dgh, other = _loop_backward(kind, p, o, fwd, loss)
        dparams = kind.param_grads(p, fwd.xs, fwd.prev(), dgi, dgh, other)
        w, _ = kind.input_weights(p)
        dx = seq_matmul(dgi, w)
    return Backward(dparams, totals, dstate0, dx, dgi, dgh)


def _loop_backward(kind, p, o, fwd, loss):
    T, B, _ = fwd.xs.shape
    dnext = tuple(np.zeros_like(s0) for s0 in fwd.state0)
    totals = tuple(np.empty((T, *s.shape[1:]), dtype=s.dtype) for s in fwd.states)
    dgi_all = dgh_all = None
    other: dict[str, np.ndarray] | None = None
    back = kind.step_back
    for t in range(T - 1, -1, -1):
        ds = tuple(d if lt is None else d + lt[t] for d, lt in zip(dnext, loss, strict=True))
        dnext, sg = back(p, o, ds, fwd.cache(t))
        if dgi_all is None:
            dgi_all = np.empty((T, *sg.dgi.shape))
            if sg.dgh is not None:
                dgh_all = dgi_all if sg.dgh is sg.dgi else np.empty((T, *sg.dgh.shape))
            if sg.other is not None:
                other = {k: np.empty((T, *v.shape), dtype=v.dtype) for k, v in sg.other.items()}
        dgi_all[t] = sg.dgi
        if dgh_all is not None and dgh_all is not dgi_all:
            dgh_all[t] = sg.dgh
        if other is not None:
            for k, v in sg.other.items():
                other[k][t] = v
        for buf, v in zip(totals, ds if sg.total is None else sg.total, strict=True):
            buf[t] = v
    return totals, dnext, dgi_all, dgh_all, other


def last_step_grads(kind: str | CellKind, params: dict, xs: np.ndarray, loss_fn, **options
                    ) -> LastStep:
    """Forward over xs (T, B, I), loss_fn(h_T) -> (loss, dL/dh_T (B, H), extra), then BPTT.

    The generic training step for any kind (the scans make minGRU, minLSTM and the LRU fast);
    kinds with a `train_kernel` may use that instead. Overflow propagates as inf/NaN.
    """
    fwd = run_forward(kind, params, xs, **options)
    h = fwd.h
    loss, dh_last, extra = loss_fn(h[-1])
    dh = np.zeros(h.shape)
    dh[-1] = dh_last
    bwd = run_backward(fwd, dh)
    with np.errstate(**_QUIET):
        first = float(np.linalg.norm(bwd.dstates[0][0]))
        last = float(np.linalg.norm(bwd.dstates[0][-1]))
    keep = fwd.kind.keep
    gate = None
    if keep is not None:
        gate = fwd.gates[keep.gate]
        gate = 1.0 - gate if keep.complement else gate
    return LastStep(float(loss), h[-1], bwd.dparams, first, last, gate, extra)
