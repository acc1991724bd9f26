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
    LastStep,
    Option,
    StepGrad,
    StepJacobians,
    block_sigma_max,
    check_options,
    fast_sigmoid,
    fast_tanh,
    folded_input,
    init_option,
    kernel_param_grads,
    projection_grads,
    rec_matmul,
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
    """One forward step. state = (h_prev,); xproj = x @ W_ih^T + b_ih + b_hh if precomputed.

    Returns ((h,), cache) with h (B, H).
    """
    (h_prev,) = state
    if xproj is None:
        xproj = x @ p["weight_ih"].T + (p["bias_ih"] + p["bias_hh"])
    pre = rec_matmul(h_prev, p["weight_hh"].T)
    pre += xproj  # xproj holds both biases (folded_input)
    h, dphi = o["act"](pre)
    return (h,), Cache(x, h_prev, pre, dphi)


def loop(p, o, xproj, state0):
    """The forward time loop in place (CellKind.loop): the pre-activations live in xproj."""
    T, B, H = xproj.shape
    h, dphi = np.empty((T, B, H)), np.empty((T, B, H))
    w = p["weight_hh"].T
    act = o["act"]
    rec = np.empty((B, H))
    (h0,) = state0

    def advance(t):
        pre = xproj[t]
        rec_matmul(h0 if t == 0 else h[t - 1], w, out=rec)
        pre += rec
        h[t], dphi[t] = act(pre)

    return (h,), {"pre": xproj, "dphi": dphi}, advance


def step_back(p, o, dstate, cache):
    """dstate = (dh,) total dL/dh_t (B, H) -> ((dh_prev,), StepGrad(dpre, dpre))."""
    (dh,) = dstate
    dpre = dh * cache.dphi
    return (rec_matmul(dpre, p["weight_hh"]),), StepGrad(dpre, dpre)


def param_grads(p, xs, prev, dgi, dgh, other=None):
    return projection_grads(KIND, p, xs, prev, dgi, dgh)


def jacobian(p, o, caches) -> StepJacobians:
    """caches: stacked Cache fields (n, H) of batch element 0."""
    jac = caches.dphi[:, :, None] * p["weight_hh"][None]
    return StepJacobians(("h",), jac, jac, diagonal=False)


def train_kernel(p, o, xs, loss_fn) -> LastStep:
    """Lean forward + BPTT for a loss on h_T only (training): the numbers of the generic
    runner, several times faster (one fused exp per step, factors computed after the loop)."""
    activation = o["activation"]
    T, B, _ = xs.shape
    H = p["weight_hh"].shape[1]
    W = p["weight_hh"].T
    pre = xs @ p["weight_ih"].T + (p["bias_ih"] + p["bias_hh"])  # (T, B, H)
    h = np.zeros((T + 1, B, H))
    for t in range(T):
        a = pre[t]
        a += rec_matmul(h[t], W)
        if activation == "tanh":
            fast_tanh(a, h[t + 1])
        elif activation == "relu":
            np.maximum(a, 0.0, out=h[t + 1])
        else:
            fast_sigmoid(a, h[t + 1])
    loss, dh_last, extra = loss_fn(h[T])
    hs = h[1:]
    if activation == "tanh":
        dphi = 1.0 - hs * hs
    elif activation == "relu":
        dphi = (pre > 0).astype(np.float64)
    else:
        dphi = hs * (1.0 - hs)
    dpre = np.empty((T, B, H))
    Whh = p["weight_hh"]
    dht = dh_last
    last = float(np.linalg.norm(dht))
    for t in range(T - 1, 0, -1):
        np.multiply(dht, dphi[t], out=dpre[t])
        dht = rec_matmul(dpre[t], Whh)
    first = float(np.linalg.norm(dht))
    np.multiply(dht, dphi[0], out=dpre[0])
    grads = kernel_param_grads(dpre, dpre, xs, h[:-1])
    return LastStep(float(loss), h[T], grads, first, last, None, extra)


EQUATIONS = ("h<sub>t</sub> = φ(pre<sub>t</sub>) &nbsp;·&nbsp; ∂h<sub>t</sub>/∂h<sub>t−1</sub>"
             " = diag(φ′(pre<sub>t</sub>)) W<sub>hh</sub>")


KIND = CellKind(
    pytorch="nn.RNN",
    name=NAME,
    label="RNN",
    colour="vermillion",
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
    loop=loop,
    input_weights=folded_input,
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
    train_kernel=train_kernel,
    equations=EQUATIONS,
    refs=("Elman 1990", "Le, Jaitly & Hinton 2015 (IRNN)"),
)
