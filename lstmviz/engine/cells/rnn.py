"""Vanilla RNN (Elman; PyTorch nn.RNN): h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

phi in {tanh, relu, sigmoid}. IRNN (Le, Jaitly & Hinton 2015) is this cell with
activation = "relu" and init = "identity": W_hh = weight_scale * I (1 by default), so the
untrained net copies its state and the gradient neither vanishes nor explodes at first.

Params: weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,).
State (h,). Jacobian dh_t/dh_{t-1} = diag(phi'(pre_t)) W_hh.
`step` and `step_back` sit side by side (CS231n's rnn_step_forward / rnn_step_backward).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..activations import ACTIVATIONS, act_and_grad
from ..init import ALL_INITS
from .base import (
    WEIGHT_SCALE,
    CellKind,
    Gate,
    Option,
    StepGrad,
    StepJacobians,
    block_sigma_max,
    check_options,
    init_option,
    projection_grads,
    stacked_init,
)

NAME = "rnn"
INITS = ALL_INITS
INIT_OPTIONS = (init_option(INITS), WEIGHT_SCALE)
OPTIONS = (Option("activation", "tanh", choices=ACTIVATIONS, doc="phi"),)


class Cache(NamedTuple):
    x: np.ndarray  # (B, I) input x_t
    h_prev: np.ndarray  # (B, H) h_{t-1}
    pre: np.ndarray  # (B, H) pre-activation
    dphi: np.ndarray  # (B, H) phi'(pre)


def param_shapes(I: int, H: int) -> dict[str, tuple[int, ...]]:
    return {"weight_ih": (H, I), "weight_hh": (H, H), "bias_ih": (H,), "bias_hh": (H,)}


def init_params(I: int, H: int, rng: np.random.Generator, **options) -> dict:
    """engine.init's scheme (same draws as build_model); weight_scale = sigma_max(W_hh)."""
    o = check_options(NAME, INIT_OPTIONS, options)
    return stacked_init(NAME, 1, I, H, rng, o["init"], o["weight_scale"])


def resolve(options: dict) -> dict:
    return {"activation": options["activation"], "act": act_and_grad(options["activation"])}


def step(p, o, x, state, xproj=None):
    """One forward step. state = (h_prev,); xproj = x @ W_ih^T + b_ih if precomputed.

    Returns ((h,), cache) with h (B, H).
    """
    (h_prev,) = state
    if xproj is None:
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
    pre = xproj + h_prev @ p["weight_hh"].T + p["bias_hh"]
    h, dphi = o["act"](pre)
    return (h,), Cache(x, h_prev, pre, dphi)


def step_back(p, o, dstate, cache):
    """dstate = (dh,) total dL/dh_t (B, H) -> ((dh_prev,), StepGrad(dpre, dpre))."""
    (dh,) = dstate
    dpre = dh * cache.dphi
    return (dpre @ p["weight_hh"],), StepGrad(dpre, dpre)


def param_grads(p, xs, prev, dgi, dgh, other=None):
    return projection_grads(KIND, p, xs, prev, dgi, dgh)


def jacobian(p, o, caches) -> StepJacobians:
    """caches: stacked Cache fields (n, H) of batch element 0."""
    jac = caches.dphi[:, :, None] * p["weight_hh"][None]
    return StepJacobians(("h",), jac, jac, diagonal=False)


KIND = CellKind(
    name=NAME,
    label="RNN",
    colour="rnn",
    summary="h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)",
    param_shapes=param_shapes,
    init_params=init_params,
    inits=INITS,
    init_options=INIT_OPTIONS,
    weight_scale="largest singular value of W_hh (identity init: W_hh = weight_scale * I)",
    options=OPTIONS,
    resolve=resolve,
    state=("h",),
    Cache=Cache,
    extras=("pre", "dphi"),
    step=step,
    step_back=step_back,
    recurrent="dense",
    param_grads=param_grads,
    jacobian=jacobian,
    prod_block="h",
    jacobian_note="dh_t/dh_{t-1} = diag(phi'(pre_t)) W_hh; the product is dh_T/dh_t",
    sigma_max=block_sigma_max,
    bound_applies=True,
    bound_note="sigma_max(W_hh) * sup|phi'| bounds every ||dh_t/dh_{t-1}||",
    gates=(Gate("pre", "pre", "pre-activation", "pre"),
           Gate("dphi", "dphi", "phi'(pre)", "slope")),
    keep=None,
    keep_note="a vanilla RNN has no gate: what it keeps is diag(phi') W_hh",
    refs=("Elman 1990", "Le, Jaitly & Hinton 2015 (IRNN)"),
)
