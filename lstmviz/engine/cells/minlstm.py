"""minLSTM (Feng et al. 2024, "Were RNNs all we needed?").

    f_t = sigma(W_f x_t + b_f),  i_t = sigma(W_i x_t + b_i),  h~_t = W_h x_t + b_h
    f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
    h_t = f'_t * h_{t-1} + i'_t * h~_t

Computed as f'_t = sigma(log f_t - log i_t) and i'_t = sigma(log i_t - log f_t), exact for any
pre-activation. No W_hh: h_t is linear in h_{t-1} and the state Jacobian is exactly diag(f'_t).

Params: weight_ih (3H, I) rows [f; i; h~], bias_ih (3H,); forget_bias sets b_f. State (h,).
Forward and backward over all T steps run as a scan (scan.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import (
    FORGET_BIAS,
    CellKind,
    Gate,
    Keep,
    StepGrad,
    StepJacobians,
    check_options,
    init_option,
    input_only_init,
    projection_grads,
    sigmoid_pair,
)
from .scan import Scan, linear_scan, reverse_scan

NAME = "minlstm"
INITS = ("pytorch", "xavier")
INIT_OPTIONS = (init_option(INITS), FORGET_BIAS)
EXTRAS = ("f", "i", "fp", "ip", "ht", "nf", "ni")


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    f: np.ndarray  # (B, H) forget gate sigma(pre_f)
    i: np.ndarray  # (B, H) input gate sigma(pre_i)
    fp: np.ndarray  # (B, H) normalised forget f' = f / (f + i)
    ip: np.ndarray  # (B, H) normalised input i' = 1 - f'
    ht: np.ndarray  # (B, H) candidate h~
    nf: np.ndarray  # (B, H) 1 - f = sigma(-pre_f), exact
    ni: np.ndarray  # (B, H) 1 - i = sigma(-pre_i), exact


def param_shapes(I: int, H: int) -> dict[str, tuple[int, ...]]:
    return {"weight_ih": (3 * H, I), "bias_ih": (3 * H,)}


def init_params(I: int, H: int, rng: np.random.Generator, **options) -> dict:
    """The scheme for weight_ih and bias_ih, then b_f = forget_bias."""
    o = check_options(NAME, INIT_OPTIONS, options)
    params = input_only_init(3, I, H, rng, o["init"])
    params["bias_ih"][:H] = o["forget_bias"]
    return params


def resolve(options: dict) -> dict:
    return {}


def _gates(xproj, H):
    pf, pi, ht = xproj[..., :H], xproj[..., H : 2 * H], xproj[..., 2 * H :]
    f, nf, ef = sigmoid_pair(pf)
    i, ni, ei = sigmoid_pair(pi)
    # log sigma(x) = min(x, 0) - log1p(exp(-|x|)) (base.log_sigmoid) from the same exps
    d = (np.minimum(pf, 0.0) - np.log1p(ef)) - (np.minimum(pi, 0.0) - np.log1p(ei))
    fp, ip, _ = sigmoid_pair(d)
    return f, i, fp, ip, ht, nf, ni


def step(p, o, x, state, xproj=None):
    """One forward step. state = (h_prev,). Returns ((h,), cache)."""
    (h_prev,) = state
    if xproj is None:
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
    f, i, fp, ip, ht, nf, ni = _gates(xproj, h_prev.shape[1])
    h = fp * h_prev + ip * ht
    return (h,), Cache(x, h_prev, f, i, fp, ip, ht, nf, ni)


def _dgi(g, h_prev, c, axis):
    # h = f' h_prev + (1 - f') h~, f' = sigma(d), d = log f - log i:
    # dd = g (h_prev - h~) f' i'; d log sigma(p)/dp = sigma(-p)
    dd = g * (h_prev - c.ht) * c.fp * c.ip
    return np.concatenate((dd * c.nf, -dd * c.ni, g * c.ip), axis=axis)


def step_back(p, o, dstate, cache):
    """dstate = (dh,) -> ((dh f',), StepGrad(dgi)) with dgi = [dpre_f, dpre_i, dh~]."""
    (dh,) = dstate
    return (dh * cache.fp,), StepGrad(_dgi(dh, cache.h_prev, cache, 1), None)


def _scan_forward(p, o, xs, xproj, state0):
    H = xproj.shape[2] // 3
    vals = _gates(xproj, H)
    ex = {k: np.ascontiguousarray(v) for k, v in zip(EXTRAS, vals, strict=True)}
    h = linear_scan(ex["fp"], ex["ip"] * ex["ht"], state0[0])
    return (h,), ex


def _scan_backward(p, o, fwd, loss):
    c = Cache(None, None, *(fwd.extras[k] for k in EXTRAS))
    g, dh0 = reverse_scan(c.fp, loss[0])
    return (g,), (dh0,), _dgi(g, fwd.prev()[0], c, 2), None, None


def param_grads(p, xs, prev, dgi, dgh, other=None):
    return projection_grads(KIND, p, xs, prev, dgi, dgh)


def jacobian(p, o, caches) -> StepJacobians:
    return StepJacobians(("h",), caches.fp, caches.fp, diagonal=True)


EQUATIONS = ("h<sub>t</sub> = f′<sub>t</sub> ⊙ h<sub>t−1</sub> + i′<sub>t</sub> ⊙ "
             "h̃<sub>t</sub>, f′ = f/(f + i), i′ = i/(f + i), gates from x<sub>t</sub> only "
             "&nbsp;·&nbsp; ∂h<sub>t</sub>/∂h<sub>t−1</sub> = diag(f′<sub>t</sub>)")


def path(p, o, cache, state):
    """h_{t-1} -> f' h_{t-1} + i' h~ = h_t."""
    return "hidden path", (("h_prev", "h<sub>t−1</sub>", cache.h_prev),
                           ("f'*h_prev", "f′⊙h<sub>t−1</sub>", cache.fp * cache.h_prev),
                           ("i'*ht", "i′⊙h̃", cache.ip * cache.ht),
                           ("h", "h<sub>t</sub>", state[0]))


KIND = CellKind(
    name=NAME,
    label="minLSTM",
    colour="wine",
    summary="h_t = f'_t h_{t-1} + i'_t h~_t, f' = f / (f + i), gates from x_t only",
    param_shapes=param_shapes,
    init_params=init_params,
    inits=INITS,
    init_options=INIT_OPTIONS,
    weight_scale=None,
    options=(),
    resolve=resolve,
    state=("h",),
    Cache=Cache,
    extras=EXTRAS,
    step=step,
    step_back=step_back,
    recurrent=None,
    param_grads=param_grads,
    jacobian=jacobian,
    prod_block="h",
    jacobian_note="dh_t/dh_{t-1} = diag(f'_t) exactly; the product over steps is elementwise",
    sigma_max=lambda p: None,
    bound_applies=False,
    bound_note="minLSTM has no W_hh: its Jacobian is diag(f'_t), shown exactly",
    gates=(Gate("forget", "f", "forget gate f", "gate"),
           Gate("input", "i", "input gate i", "gate"),
           Gate("keep", "fp", "normalised forget f'", "keep"),
           Gate("write", "ip", "normalised input i'", "write"),
           Gate("candidate", "ht", "candidate h~", "candidate")),
    keep=Keep("keep", False, "minLSTM: keep = f' = f / (f + i), the normalised forget gate", 0),
    scan=Scan(_scan_forward, _scan_backward),
    equations=EQUATIONS,
    path=path,
    refs=("Feng et al. 2024, arXiv:2410.01201",),
)
