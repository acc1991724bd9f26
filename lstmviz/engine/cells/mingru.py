"""minGRU (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs all we needed?").

    z_t = sigma(W_z x_t + b_z),  h~_t = W_h x_t + b_h,  h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

No W_hh: the gates see only x_t, so h_t is linear in h_{t-1} and the state Jacobian is exactly
diag(1 - z_t). Note z's convention is the opposite of PyTorch's GRU (there h_t = z h_{t-1} +
(1 - z) n, keep = z); here keep = 1 - z, stored exactly as sigma(-pre_z).

Params: weight_ih (2H, I) rows [z; h~], bias_ih (2H,). State (h,). Forward and backward over
all T steps run as a scan (scan.py), no Python loop per step.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import (
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

NAME = "mingru"
INITS = ("pytorch", "xavier")
INIT_OPTIONS = (init_option(INITS),)


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    z: np.ndarray  # (B, H) update gate sigma(pre_z)
    keep: np.ndarray  # (B, H) 1 - z = sigma(-pre_z), exact
    ht: np.ndarray  # (B, H) candidate h~


def param_shapes(I: int, H: int) -> dict[str, tuple[int, ...]]:
    return {"weight_ih": (2 * H, I), "bias_ih": (2 * H,)}


def init_params(I: int, H: int, rng: np.random.Generator, **options) -> dict:
    o = check_options(NAME, INIT_OPTIONS, options)
    return input_only_init(2, I, H, rng, o["init"])


def resolve(options: dict) -> dict:
    return {}


def step(p, o, x, state, xproj=None):
    """One forward step. state = (h_prev,). Returns ((h,), cache)."""
    (h_prev,) = state
    H = h_prev.shape[1]
    if xproj is None:
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
    pz, ht = xproj[:, :H], xproj[:, H:]
    z, keep, _ = sigmoid_pair(pz)
    h = keep * h_prev + z * ht
    return (h,), Cache(x, h_prev, z, keep, ht)


def step_back(p, o, dstate, cache):
    """dstate = (dh,) -> ((dh (1 - z),), StepGrad(dgi)) with dgi = [dpre_z, dh~] (B, 2H)."""
    (dh,) = dstate
    dpz = dh * (cache.ht - cache.h_prev) * cache.z * cache.keep
    return (dh * cache.keep,), StepGrad(np.concatenate((dpz, dh * cache.z), axis=1), None)


def _scan_forward(p, o, xs, xproj, state0):
    H = xproj.shape[2] // 2
    pz, ht = xproj[..., :H], xproj[..., H:]
    z, keep, _ = sigmoid_pair(pz)
    h = linear_scan(keep, z * ht, state0[0])
    return (h,), {"z": z, "keep": keep, "ht": np.ascontiguousarray(ht)}


def _scan_backward(p, o, fwd, loss):
    ex = fwd.extras
    z, keep, ht = ex["z"], ex["keep"], ex["ht"]
    g, dh0 = reverse_scan(keep, loss[0])
    h_prev = fwd.prev()[0]
    dgi = np.concatenate((g * (ht - h_prev) * z * keep, g * z), axis=2)
    return (g,), (dh0,), dgi, None, None


def param_grads(p, xs, prev, dgi, dgh, other=None):
    return projection_grads(KIND, p, xs, prev, dgi, dgh)


def jacobian(p, o, caches) -> StepJacobians:
    return StepJacobians(("h",), caches.keep, caches.keep, diagonal=True)


EQUATIONS = ("h<sub>t</sub> = (1 − z<sub>t</sub>) ⊙ h<sub>t−1</sub> + z<sub>t</sub> ⊙ "
             "h̃<sub>t</sub>, z and h̃ from x<sub>t</sub> only &nbsp;·&nbsp; "
             "∂h<sub>t</sub>/∂h<sub>t−1</sub> = diag(1 − z<sub>t</sub>) (z is the opposite "
             "of PyTorch's GRU z)")


def path(p, o, cache, state):
    """h_{t-1} -> (1 - z) h_{t-1} + z h~ = h_t."""
    return "hidden path", (("h_prev", "h<sub>t−1</sub>", cache.h_prev),
                           ("(1-z)*h_prev", "(1−z)⊙h<sub>t−1</sub>", cache.keep * cache.h_prev),
                           ("z*ht", "z⊙h̃", cache.z * cache.ht),
                           ("h", "h<sub>t</sub>", state[0]))


KIND = CellKind(
    name=NAME,
    label="minGRU",
    colour="pink",
    summary="h_t = (1 - z_t) h_{t-1} + z_t h~_t, gates from x_t only",
    param_shapes=param_shapes,
    init_params=init_params,
    inits=INITS,
    init_options=INIT_OPTIONS,
    weight_scale=None,
    options=(),
    resolve=resolve,
    state=("h",),
    Cache=Cache,
    extras=("z", "keep", "ht"),
    step=step,
    step_back=step_back,
    recurrent=None,
    param_grads=param_grads,
    jacobian=jacobian,
    prod_block="h",
    jacobian_note="dh_t/dh_{t-1} = diag(1 - z_t) exactly; the product over steps is elementwise",
    sigma_max=lambda p: None,
    bound_applies=False,
    bound_note="minGRU has no W_hh: its Jacobian is diag(1 - z_t), shown exactly",
    gates=(Gate("update", "z", "update gate z", "write"),
           Gate("keep", "keep", "keep 1 - z", "keep"),
           Gate("candidate", "ht", "candidate h~", "candidate")),
    keep=Keep("keep", False, "minGRU: keep = 1 - z (the opposite of PyTorch's GRU, where "
              "keep = z)", 0, -1),
    scan=Scan(_scan_forward, _scan_backward),
    equations=EQUATIONS,
    path=path,
    refs=("Feng et al. 2024, arXiv:2410.01201",),
)
