"""LRU, the Linear Recurrent Unit (Orvieto et al. 2023), with C = I and D = 0 (the readout
plays C):

    lambda = exp(-exp(nu) + i exp(theta)) in C^H,   B = weight_ih_re + i weight_ih_im (H, I)
    s_t = lambda * s_{t-1} + exp(gamma) * (B x_t),   h_t = Re(s_t)

The state s is complex and its Jacobian is exactly diag(lambda), the same every step: over k
steps the gradient is multiplied by lambda^k, of modulus |lambda|^k, which is the whole
vanishing (|lambda| < 1) story. h = Re s is what the readout and the panels see; the gradient
of the real loss w.r.t. s = a + ib is carried as dL/da + i dL/db.

Params: nu_log, theta_log, gamma_log (H,), weight_ih_re, weight_ih_im (H, I). State (s,)
complex. Init as the paper: |lambda|^2 uniform on [r_min^2, r_max^2] (uniform over the ring's
area, r_min = 0.9, r_max = 0.999), phase uniform in [0, max_phase] (pi/10), gamma =
log sqrt(1 - |lambda|^2) (normalises the input's contribution), B entries N(0, 1/(2I)) for
the real and the imaginary part. Forward and backward over all T steps run as a scan.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import EngineError
from .base import (
    CellKind,
    Gate,
    Keep,
    Option,
    StepGrad,
    StepJacobians,
    check_options,
    init_option,
    projection_grads,
)
from .scan import Scan, linear_scan, reverse_scan

NAME = "lru"
INITS = ("ring",)
INIT_OPTIONS = (
    init_option(INITS),
    Option("r_min", 0.9, number="real", doc="inner radius of the eigenvalue ring"),
    Option("r_max", 0.999, number="real", doc="outer radius of the eigenvalue ring"),
    Option("max_phase", float(np.pi / 10), number="positive", doc="largest eigenvalue phase"),
)


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    s_prev: np.ndarray  # (B, H) complex s_{t-1}
    bx: np.ndarray  # (B, H) complex B x_t
    modulus: np.ndarray  # (B, H) |lambda| (the same every step)


def param_shapes(I: int, H: int) -> dict[str, tuple[int, ...]]:
    return {"nu_log": (H,), "theta_log": (H,), "gamma_log": (H,),
            "weight_ih_re": (H, I), "weight_ih_im": (H, I)}


def init_params(I: int, H: int, rng: np.random.Generator, **options) -> dict:
    """The paper's init; draw order u1 (H), u2 (H), weight_ih_re, weight_ih_im."""
    o = check_options(NAME, INIT_OPTIONS, options)
    r_min, r_max = o["r_min"], o["r_max"]
    if not 0.0 <= r_min < r_max < 1.0:
        raise EngineError(f"lru: r_min, r_max: expected 0 <= r_min < r_max < 1, got "
                          f"{r_min!r}, {r_max!r}")
    if o["max_phase"] > 2 * np.pi:
        raise EngineError(f"lru: max_phase: expected a number in (0, 2 pi], got "
                          f"{o['max_phase']!r}")
    u1 = 1.0 - rng.uniform(size=H)  # (0, 1]: every log below is finite
    u2 = 1.0 - rng.uniform(size=H)
    mod2 = u1 * (r_max**2 - r_min**2) + r_min**2
    nu_log = np.log(-0.5 * np.log(mod2))
    theta_log = np.log(o["max_phase"] * u2)
    scale = 1.0 / np.sqrt(2 * I)
    return {
        "nu_log": nu_log,
        "theta_log": theta_log,
        "gamma_log": 0.5 * np.log1p(-mod2),
        "weight_ih_re": rng.standard_normal((H, I)) * scale,
        "weight_ih_im": rng.standard_normal((H, I)) * scale,
    }


def eigenvalues(p) -> np.ndarray:
    """lambda (H,) complex."""
    return np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))


def resolve(options: dict) -> dict:
    return {}


def input_weights(p):
    return np.concatenate((p["weight_ih_re"], p["weight_ih_im"]), axis=0), None


def input_grads(dw, db):
    H = dw.shape[0] // 2
    return {"weight_ih_re": dw[:H], "weight_ih_im": dw[H:]}


def step(p, o, x, state, xproj=None):
    """One forward step. state = (s_prev,) complex (B, H); xproj = x @ [B_re; B_im]^T."""
    (s_prev,) = state
    H = s_prev.shape[1]
    if xproj is None:
        xproj = x @ input_weights(p)[0].T
    lam = eigenvalues(p)
    bx = xproj[:, :H] + 1j * xproj[:, H:]
    s = lam * s_prev + np.exp(p["gamma_log"]) * bx
    return (s,), Cache(x, s_prev, bx, np.broadcast_to(np.abs(lam), s.shape).copy())


def _grads(p, ds, s_prev, bx, axis):
    e = np.exp(p["gamma_log"])
    du = e * ds
    other = {"gamma": e * (ds.real * bx.real + ds.imag * bx.imag), "lam": ds * np.conj(s_prev)}
    return np.concatenate((du.real, du.imag), axis=axis), other


def step_back(p, o, dstate, cache):
    """dstate = (ds,) complex -> ((conj(lambda) ds,), StepGrad(dgi, None, other))."""
    (ds,) = dstate
    dgi, other = _grads(p, ds, cache.s_prev, cache.bx, 1)
    return (np.conj(eigenvalues(p)) * ds,), StepGrad(dgi, None, other)


def _scan_forward(p, o, xs, xproj, state0):
    H = xproj.shape[2] // 2
    lam = eigenvalues(p)
    bx = xproj[..., :H] + 1j * xproj[..., H:]
    s = linear_scan(lam, np.exp(p["gamma_log"]) * bx, state0[0])
    return (s,), {"bx": bx, "modulus": np.broadcast_to(np.abs(lam), s.shape)}  # a view


def _scan_backward(p, o, fwd, loss):
    g, ds0 = reverse_scan(eigenvalues(p), loss[0])
    e = np.exp(p["gamma_log"])
    sp, bx = fwd.prev()[0], fwd.extras["bx"]
    # the per-step factors, already summed (param_grads sums over the (1, 1) leading axes)
    gr, gi = g.real, g.imag
    gamma = e * (np.einsum("tbh,tbh->h", gr, bx.real) + np.einsum("tbh,tbh->h", gi, bx.imag))
    lam = (np.einsum("tbh,tbh->h", gr, sp.real) + np.einsum("tbh,tbh->h", gi, sp.imag)
           + 1j * (np.einsum("tbh,tbh->h", gi, sp.real) - np.einsum("tbh,tbh->h", gr, sp.imag)))
    dgi = np.concatenate((gr * e, gi * e), axis=2)
    return (g,), (ds0,), dgi, None, {"gamma": gamma[None, None], "lam": lam[None, None]}


def param_grads(p, xs, prev, dgi, dgh, other):
    out = projection_grads(KIND, p, xs, prev, dgi, dgh)
    lam = eigenvalues(p)
    G = other["lam"].sum(axis=(0, 1))  # dL/dRe(lambda) + i dL/dIm(lambda)
    w = np.conj(G) * lam
    out["nu_log"] = -np.exp(p["nu_log"]) * w.real  # dlambda/dnu = -exp(nu) lambda
    out["theta_log"] = -np.exp(p["theta_log"]) * w.imag  # dlambda/dtheta = i exp(theta) lambda
    out["gamma_log"] = other["gamma"].sum(axis=(0, 1))
    return {k: out[k] for k in param_shapes(1, 1)}


def jacobian(p, o, caches) -> StepJacobians:
    n = caches.x.shape[0]
    lam = np.broadcast_to(eigenvalues(p), (n, p["nu_log"].shape[0])).copy()
    return StepJacobians(("s",), lam, lam, diagonal=True)


EQUATIONS = ("s<sub>t</sub> = λ ⊙ s<sub>t−1</sub> + e<sup>γ</sup> ⊙ (B x<sub>t</sub>), "
             "λ = exp(−e<sup>ν</sup> + i e<sup>θ</sup>) ∈ ℂ, h<sub>t</sub> = Re s<sub>t</sub> "
             "&nbsp;·&nbsp; ∂s<sub>t</sub>/∂s<sub>t−1</sub> = diag(λ): |λ|<sup>T−t</sup> is "
             "the whole vanishing story")


def path(p, o, cache, state):
    """Re s_{t-1} -> Re(lambda s_{t-1}) + Re(e^gamma B x) = Re s_t."""
    lam_s = eigenvalues(p) * cache.s_prev
    return "state path (real parts)", (
        ("Re s_prev", "Re s<sub>t−1</sub>", cache.s_prev.real),
        ("Re lam*s_prev", "Re λ⊙s<sub>t−1</sub>", lam_s.real),
        ("Re input", "Re e<sup>γ</sup>⊙Bx", (np.exp(p["gamma_log"]) * cache.bx).real),
        ("Re s", "Re s<sub>t</sub>", state[0].real))


KIND = CellKind(
    name=NAME,
    label="LRU",
    colour="olive",
    summary="s_t = lambda s_{t-1} + exp(gamma) B x_t,  h_t = Re s_t",
    param_shapes=param_shapes,
    init_params=init_params,
    inits=INITS,
    init_options=INIT_OPTIONS,
    weight_scale=None,
    options=(),
    resolve=resolve,
    state=("s",),
    Cache=Cache,
    extras=("bx", "modulus"),
    step=step,
    step_back=step_back,
    recurrent=None,
    param_grads=param_grads,
    jacobian=jacobian,
    prod_block="state",
    jacobian_note="ds_t/ds_{t-1} = diag(lambda) (complex); jac_prod is ||ds_T/ds_t|| = "
    "max_j |lambda_j|^(T-t), the modulus; the h->h block Re(lambda^k) only oscillates below it",
    sigma_max=lambda p: float(np.abs(eigenvalues(p)).max()),
    bound_applies=False,
    bound_note="the LRU has no W_hh: its Jacobian is diag(lambda), |lambda| shown exactly",
    gates=(Gate("modulus", "modulus", "|lambda|", "decay"),),
    keep=Keep("modulus", False, "LRU: keep = |lambda|, each unit's decay per step (constant "
              "in time)"),
    input_weights=input_weights,
    input_grads=input_grads,
    h_of=lambda state: state[0].real,
    state_dtype=np.complex128,
    scan=Scan(_scan_forward, _scan_backward),
    equations=EQUATIONS,
    path=path,
    eigenvalues=eigenvalues,
    refs=("Orvieto et al. 2023, arXiv:2303.06349",),
)
