"""IndRNN (Li et al. 2018): h_t = phi(W_ih x_t + b_ih + u * h_{t-1} + b_hh), phi in {relu, tanh}.

Each unit only sees its own past (u is a vector, no W_hh mixing), so the state Jacobian is
exactly diagonal: dh_t/dh_{t-1} = diag(phi'(pre_t) * u), and the gradient over k steps is the
elementwise product of those factors: |u_j| near 1 (and an active relu) keeps it.

Params: weight_ih (H, I), weight_hh (H,) the vector u, bias_ih (H,), bias_hh (H,). State (h,).
Init: weight_ih and the biases by the scheme ("pytorch": uniform(-1/sqrt(H), 1/sqrt(H));
"xavier": Glorot-uniform weight_ih, zero biases; "identity": like xavier with u = 1); u
uniform in [0, 1] (the paper's choice) unless "identity". weight_scale sets max |u|.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import (
    WEIGHT_SCALE,
    CellKind,
    Gate,
    Option,
    StepGrad,
    StepJacobians,
    check_options,
    init_option,
    projection_grads,
)
from .rnn import resolve

NAME = "indrnn"
INITS = ("pytorch", "xavier", "identity")
INIT_OPTIONS = (init_option(INITS), WEIGHT_SCALE)
OPTIONS = (Option("activation", "relu", choices=("relu", "tanh"), doc="phi"),)


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    pre: np.ndarray  # (B, H) pre-activation
    dphi: np.ndarray  # (B, H) phi'(pre)


def param_shapes(I: int, H: int) -> dict[str, tuple[int, ...]]:
    return {"weight_ih": (H, I), "weight_hh": (H,), "bias_ih": (H,), "bias_hh": (H,)}


def init_params(I: int, H: int, rng: np.random.Generator, **options) -> dict:
    """Draw order weight_ih, weight_hh (u), bias_ih, bias_hh; see the module docstring."""
    o = check_options(NAME, INIT_OPTIONS, options)
    k = 1.0 / np.sqrt(H)
    if o["init"] == "pytorch":
        w = rng.uniform(-k, k, size=(H, I))
    else:
        a = np.sqrt(6.0 / (I + H))
        w = rng.uniform(-a, a, size=(H, I))
    u = np.ones(H) if o["init"] == "identity" else rng.uniform(0.0, 1.0, size=H)
    if o["init"] == "pytorch":
        b_ih, b_hh = rng.uniform(-k, k, size=H), rng.uniform(-k, k, size=H)
    else:
        b_ih, b_hh = np.zeros(H), np.zeros(H)
    if o["weight_scale"] is not None:
        top = np.abs(u).max()
        u = u * (o["weight_scale"] / top) if top > 0 else u
    return {"weight_ih": w, "weight_hh": u, "bias_ih": b_ih, "bias_hh": b_hh}


def step(p, o, x, state, xproj=None):
    """One forward step. state = (h_prev,). Returns ((h,), cache)."""
    (h_prev,) = state
    if xproj is None:
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
    pre = xproj + h_prev * p["weight_hh"] + p["bias_hh"]
    h, dphi = o["act"](pre)
    return (h,), Cache(x, h_prev, pre, dphi)


def step_back(p, o, dstate, cache):
    """dstate = (dh,) -> ((dh * phi' * u,), StepGrad(dpre, dpre)); u's gradient is
    sum dpre * h_prev (recurrent = "diagonal")."""
    (dh,) = dstate
    dpre = dh * cache.dphi
    return (dpre * p["weight_hh"],), StepGrad(dpre, dpre)


def param_grads(p, xs, prev, dgi, dgh, other=None):
    return projection_grads(KIND, p, xs, prev, dgi, dgh)


def jacobian(p, o, caches) -> StepJacobians:
    d = caches.dphi * p["weight_hh"]
    return StepJacobians(("h",), d, d, diagonal=True)


def sigma_max(p) -> float:
    """||diag(u)||_2 = max |u|."""
    return float(np.abs(p["weight_hh"]).max())


EQUATIONS = ("h<sub>t</sub> = φ(W<sub>ih</sub> x<sub>t</sub> + u ⊙ h<sub>t−1</sub> + b) "
             "&nbsp;·&nbsp; ∂h<sub>t</sub>/∂h<sub>t−1</sub> = diag(φ′ ⊙ u): no mixing "
             "between units")


KIND = CellKind(
    name=NAME,
    label="IndRNN",
    colour="orange",
    summary="h_t = phi(W_ih x_t + b_ih + u * h_{t-1} + b_hh)",
    param_shapes=param_shapes,
    init_params=init_params,
    inits=INITS,
    init_options=INIT_OPTIONS,
    weight_scale="max |u| (the recurrent weights are the vector u)",
    options=OPTIONS,
    resolve=resolve,
    state=("h",),
    Cache=Cache,
    extras=("pre", "dphi"),
    step=step,
    step_back=step_back,
    recurrent="diagonal",
    param_grads=param_grads,
    jacobian=jacobian,
    prod_block="h",
    jacobian_note="dh_t/dh_{t-1} = diag(phi'(pre_t) u), exactly diagonal: the product over "
    "steps is elementwise",
    sigma_max=sigma_max,
    bound_applies=False,
    bound_note="no bound needed: the IndRNN's Jacobian is the diagonal diag(phi' u) itself, "
    "shown exactly",
    gates=(Gate("pre", "pre", "pre-activation", "pre"),
           Gate("dphi", "dphi", "phi'(pre)", "slope")),
    keep=None,
    keep_note="IndRNN has no gate: each unit keeps u_j phi'_j of its own past",
    equations=EQUATIONS,
    refs=("Li, Li, Cook, Zhu & Gao 2018",),
)
