"""Measuring a claim on the runs on screen (exact log10 magnitudes from the diagnostics) and
the sentence the screen shows for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lstmviz.numfmt import format_magnitude, format_number
from lstmviz.walkthrough.model import Claim, Measured
from lstmviz.walkthrough.vocabulary import (
    DEFAULT_T,
    GRADIENT_QUANTITIES,
    JACOBIAN_QUANTITIES,
    PHRASES,
    QUANTITIES,
    STEP_QUANTITIES,
)


# -- claims -------------------------------------------------------------------------------
def _pow10(log10: float) -> float:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return float(np.power(10.0, log10))


def _log10(x: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(np.float64(x)))


def _log10_norm(arrays) -> float:
    """log10 of the 2-norm of all the arrays together, scaled (no under- or overflow)."""
    with np.errstate(all="ignore"):
        flat = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays])
        if not np.all(np.isfinite(flat)):
            return math.nan if np.any(np.isnan(flat)) else math.inf
        m = float(np.max(np.abs(flat))) if flat.size else 0.0
        if m == 0.0:
            return -math.inf
        return math.log10(m) + math.log10(float(np.linalg.norm(flat / m)))


def measure_quantity(model: str, quantity: str, runs: Mapping[str, Any],
                     t: int | None = None) -> Measured:
    """`quantity` (a QUANTITIES key) of `model`'s run in computed runs (session.Run), at step
    t (1-based, the per-step quantities; None = 1, T for grad_depth_ratio). Magnitudes come
    from the diagnostics' log10 series, so they are exact however small or large. A t beyond
    the run (runs of another sequence length, still on screen while a step's own compute) is
    NaN: not measured, never an IndexError."""
    run = runs[model]
    d = run.diagnostics
    kind = QUANTITIES[quantity][2]
    T = len(d.log10_grad_h)
    i = (t or (T if DEFAULT_T.get(quantity, 1) == "T" else 1)) - 1
    if quantity in STEP_QUANTITIES and not 0 <= i < T:
        return Measured(math.nan, math.nan, kind)
    with np.errstate(all="ignore"):
        if quantity == "bound_ratio":
            lg = (len(d.log10_grad_h) - (i + 1)) * _log10(d.rnn_bound)
        elif quantity == "jac_prod":
            lg = float(d.log10_jac_prod[i])
        elif quantity in ("grad_depth_ratio", "grad_bottom_ratio"):  # (L, T) exact logs
            layers = run.log10_h_layers
            top = layers[-1][i] if quantity == "grad_depth_ratio" else layers[-1][-1]
            lg = float(layers[0][i] - top)
        elif quantity in STEP_QUANTITIES:
            series = {"grad_c_ratio": d.log10_grad_c, "whh_ratio": d.log10_whh}
            logs = np.asarray(series.get(quantity, d.log10_grad_h), dtype=np.float64)
            lg = float(logs[i]) if quantity == "grad_norm" else float(logs[i] - logs[-1])
        elif quantity == "jac_step_max":
            lg = float(np.max(d.log10_jac_step))
        elif quantity == "sigma_max":
            lg = _log10(d.sigma_max)
        elif quantity == "rnn_bound":
            lg = _log10(d.rnn_bound)
        elif quantity == "gamma":
            lg = _log10(d.rnn_bound) - _log10(d.sigma_max)
        elif quantity == "param_grad_norm":
            lg = _log10_norm(run.grads.params.values())
        elif quantity == "state_max":
            lg = _log10(np.max(np.abs(run.trace.h)))
        elif quantity == "max_forget":
            f = run.trace.gates[run.model.cell.keep.gate]
            return Measured(float(np.max(np.mean(f, axis=tuple(range(f.ndim - 1))))))
        elif quantity in ("mean_forget", "mean_update", "mean_keep"):
            keep = run.model.cell.keep  # mean_forget / mean_update: kinds whose keep it is
            gate = run.trace.gates[keep.gate]
            return Measured(float(np.mean(1.0 - gate if keep.complement else gate)))
        elif quantity == "loss":
            return Measured(float(run.loss))
        elif quantity == "param_count":
            return Measured(int(run.model.n_params), kind="count")
        elif quantity == "param_ratio":
            m = run.model
            return Measured(m.n_params / (m.hidden_size * (m.input_size + m.hidden_size + 2)))
        elif quantity == "overflow":
            return Measured(run.overflow_step is not None, kind="bool")
        else:
            raise KeyError(quantity)
    return Measured(_pow10(lg), lg, kind)


def measure(claim: Claim, runs: Mapping[str, Any]) -> Measured:
    """The value of `claim.quantity` for `claim.model` in computed runs (session.Run)."""
    return measure_quantity(claim.model, claim.quantity, runs, claim.t)


def quantity_pending(model: str, quantity: str, runs: Mapping[str, Any]) -> bool:
    """Whether `quantity` of `model` cannot be measured yet: it comes from the exact Jacobian
    norms and the model's run does not have them (a window's first stage; they follow), or
    from the backward pass and the run is its forward pass alone (a long recompute's first
    picture; the backward pass follows)."""
    run = runs.get(model)
    if run is None:
        return False
    if quantity in JACOBIAN_QUANTITIES and not getattr(run, "jacobians_ready", True):
        return True
    return quantity in GRADIENT_QUANTITIES and not getattr(run, "gradients_ready", True)


def pending(claim: Claim, runs: Mapping[str, Any]) -> bool:
    """Whether `claim` cannot be measured yet (`quantity_pending`)."""
    return quantity_pending(claim.model, claim.quantity, runs)


def check_claim(claim: Claim, runs: Mapping[str, Any]) -> tuple[bool, Measured]:
    """(holds, measured value). The value is a `Measured`: `float(value)` for the float64,
    `value.log10` for magnitudes (exact), `value.text()` to print it."""
    actual = measure(claim, runs)
    return claim.holds(actual), actual


def _format_bound(v: float, log10: float | None = None) -> str:
    """A claim's bound as its author wrote it (1e-10 -> 10⁻¹⁰, 0.899, 2.5 × 10⁻⁷), from its
    exact log10 where the bound is beyond float64."""
    if log10 is not None and math.isfinite(log10) and not (0 < v < math.inf):
        return format_magnitude(log10)
    if not math.isfinite(v) or v <= 0:
        return format_number(v)
    mantissa = f"{v:.12e}".split("e")[0].rstrip("0").rstrip(".").replace(".", "")
    digits = max(len(mantissa.lstrip("-")), 1)
    return format_magnitude(math.log10(v), digits)


def _phrase(claim: Claim) -> str:
    return PHRASES[claim.quantity].replace("{t}", str(claim.t or DEFAULT_T.get(claim.quantity,
                                                                              1)))


def pending_sentence(claim: Claim, label: str | None = None) -> str:
    """A `pending` claim as a sentence, as `claim_sentence` words it, saying it is measuring
    and what it waits for."""
    what = ("the backward pass is" if claim.quantity in GRADIENT_QUANTITIES
            else "the exact Jacobian norms are")
    return f"{label or claim.model.upper()}: {_phrase(claim)} — measuring ({what} computing) …"


def claim_sentence(claim: Claim, measured: Measured, label: str | None = None) -> str:
    """A claim as a sentence: 'RNN (tanh): ||dL/dh_1|| / ||dL/dh_T|| = 1.38 × 10⁻¹² — below
    10⁻¹⁰ ✓' ('— claimed below 10⁻¹⁰ ✗' when it fails). `label` names the model (the run's
    label); the math is plain text for `narration_markdown`, every number from numfmt."""
    ok = claim.holds(measured)
    phrase = _phrase(claim)
    who = label or claim.model.upper()
    mark = "✓" if ok else "✗"
    if claim.op == "==":
        want = "yes" if claim.value else "no"
        return (f"{who}: {phrase}: {measured.text()} — "
                f"{'as stated' if ok else 'stated ' + want} {mark}")
    logs = claim._bound_log10s()
    if claim.op == "between":
        bound = (f"between {_format_bound(claim.value[0], logs[0])} and "
                 f"{_format_bound(claim.value[1], logs[1])}")
    else:
        words = {"<": "below", "<=": "at most", ">": "above", ">=": "at least"}[claim.op]
        bound = f"{words} {_format_bound(float(claim.value), logs[0])}"
    return f"{who}: {phrase} = {measured.text()} — {'' if ok else 'stated '}{bound} {mark}"
