"""Lean forward + BPTT for training, when the loss scores only the last step.

Dispatch only: a kind's own `train_kernel` (engine/cells/<kind>.py; the rnn, lstm and gru have
fused loops several times faster than the app's engine path, same numbers to 1e-10) or else
the generic `cells.last_step_grads`, which runs minGRU, minLSTM and the LRU through their scans
(no Python loop per step). An unknown kind is an EngineError, never a fallback.

`loss_and_grads(params, kind, activation, xs, loss_fn)` is the single entry point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import cells


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
    loss_fn: LossFn, options: dict[str, Any] | None = None,
) -> tuple[float, KernelResult]:
    """Forward over xs (T, B, I), loss_fn(h_T) -> (loss, dL/dh_T (B, H), extra), then BPTT.

    activation applies to kinds with that option (ignored by the others, as before); options:
    the kind's other equation options. Overflow propagates as inf/NaN without warnings; the
    caller checks the gradient norm.
    """
    spec = cells.get(kind)
    opts = equation_options(spec, activation, options)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if spec.train_kernel is not None:
            r = spec.train_kernel(params, spec.make_opts(**opts), xs, loss_fn)
        else:
            r = cells.last_step_grads(spec, params, xs, loss_fn, **opts)
    return r.loss, KernelResult(r.h_last, r.grads, r.dh_first_norm, r.dh_last_norm, r.keep,
                                r.extra)
