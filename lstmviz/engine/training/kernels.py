"""Lean forward + BPTT for training, when the loss scores only the last step.

Dispatch only: a kind's own `train_kernel` (engine/cells/<kind>.py; the rnn, lstm and gru have
fused loops several times faster than the app's engine path, same numbers to 1e-10) or else
the generic `cells.last_step_grads`, which runs minGRU, minLSTM and the LRU through their scans
(no Python loop per step). An unknown kind is an EngineError, never a fallback.

`loss_and_grads(params, kind, activation, xs, loss_fn)` is the single entry point; with
num_layers > 1 (a stack, params under PyTorch's _l<k> keys) no fast kernel applies (they
score h_T of one layer; a lower layer's loss reaches every step through the layer above), so
every kind runs the exact generic path layer by layer: `cells.run_forward` bottom up, then
`cells.run_backward` top down with each layer's dL/dx_t as the loss of the layer below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import cells
from ..stack import layer_key


@dataclass(frozen=True)
class KernelResult:
    """h_T (B, H); parameter gradients; ||dL/dh_1||, ||dL/dh_T|| (total, over the batch);
    gate: the kind's keep factor (cells Keep: the LSTM's forget gate, the GRU's update gate z,
    minGRU's 1 - z ...) (T, B, H), None for kinds without one."""

    h_last: np.ndarray
    grads: dict[str, np.ndarray]
    dh_first_norm: float
    dh_last_norm: float
    gate: np.ndarray | None
    extra: object = None


LossFn = Callable[[np.ndarray], tuple[float, np.ndarray, object]]


def equation_options(kind: cells.CellKind, activation: str | None,
                     options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The kind's equation options: `options` plus the activation where the kind has one."""
    out = dict(options or {})
    if activation is not None and any(o.name == "activation" for o in kind.options):
        out["activation"] = activation
    return out


def loss_and_grads(
    params: dict[str, np.ndarray], kind: str, activation: str | None, xs: np.ndarray,
    loss_fn: LossFn, options: dict[str, Any] | None = None, num_layers: int = 1,
) -> tuple[float, KernelResult]:
    """Forward over xs (T, B, I), loss_fn(h_T) -> (loss, dL/dh_T (B, H), extra), then BPTT.

    activation applies to kinds with that option (ignored by the others, as before); options:
    the kind's other equation options. Overflow propagates as inf/NaN without warnings; the
    caller checks the gradient norm. num_layers > 1: params of a stack (see the module
    docstring); the norms and the keep gate are then the top layer's.
    """
    spec = cells.get(kind)
    opts = equation_options(spec, activation, options)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if num_layers > 1:
            return _stack_loss_and_grads(spec, params, opts, xs, loss_fn, num_layers)
        if spec.train_kernel is not None:
            r = spec.train_kernel(params, spec.make_opts(**opts), xs, loss_fn)
        else:
            r = cells.last_step_grads(spec, params, xs, loss_fn, **opts)
    return r.loss, KernelResult(r.h_last, r.grads, r.dh_first_norm, r.dh_last_norm, r.keep,
                                r.extra)


def _stack_loss_and_grads(spec: cells.CellKind, params: dict[str, np.ndarray],
                          opts: dict[str, Any], xs: np.ndarray, loss_fn: LossFn,
                          L: int) -> tuple[float, KernelResult]:
    o = spec.make_opts(**opts)
    names = tuple(spec.param_shapes(1, 1))
    runs = []
    inp = xs
    for l in range(L):
        run = cells.run_forward(spec, {k: params[layer_key(k, l, L)] for k in names}, inp,
                                opts=o)
        runs.append(run)
        inp = run.h
    h = runs[-1].h
    loss, dh_last, extra = loss_fn(h[-1])
    dh = np.zeros(h.shape)
    dh[-1] = dh_last
    grads: dict[str, np.ndarray] = {}
    for l in range(L - 1, -1, -1):
        back = cells.run_backward(runs[l], dh)
        for k, v in back.dparams.items():
            grads[layer_key(k, l, L)] = v
        if l == L - 1:
            first = float(np.linalg.norm(back.dstates[0][0]))
            last = float(np.linalg.norm(back.dstates[0][-1]))
        dh = back.dx
    gate = None
    if spec.keep is not None:
        gate = runs[-1].gates[spec.keep.gate]
        gate = 1.0 - gate if spec.keep.complement else gate
    return float(loss), KernelResult(h[-1], grads, first, last, gate, extra)
