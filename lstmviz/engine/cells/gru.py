"""GRU (Cho et al. 2014; PyTorch nn.GRU layout, gate order r, z, n in the stacked 3H rows).

    r = sigma(W_ir x + b_ir + W_hr h + b_hr),  z = sigma(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}

z is PyTorch's convention: z near 1 keeps the old state (keep = z). minGRU's z is the
opposite (keep = 1 - z).

Params: weight_ih (3H, I), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,). State (h,).
Jacobian dh_t/dh_{t-1} = diag(z) + diag((1-z)(1-n^2)) [diag(r) W_hn + diag(ghn r(1-r)) W_hr]
+ diag((h_{t-1} - n) z(1-z)) W_hz.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..init import ALL_INITS
from .base import (
    WEIGHT_SCALE,
    CellKind,
    Gate,
    Keep,
    LastStep,
    StepGrad,
    StepJacobians,
    block_sigma_max,
    check_options,
    fast_sigmoid,
    fast_tanh,
    init_option,
    kernel_param_grads,
    projection_grads,
    rec_matmul,
    scaled_blocks,
    stacked_init,
)

NAME = "gru"
INITS = ALL_INITS
INIT_OPTIONS = (init_option(INITS), WEIGHT_SCALE)


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    r: np.ndarray  # (B, H) reset gate
    z: np.ndarray  # (B, H) update gate
    n: np.ndarray  # (B, H) new (candidate) state
    ghn: np.ndarray  # (B, H) W_hn h_prev + b_hn


def param_shapes(I: int, H: int) -> dict[str, tuple[int, ...]]:
    G = 3 * H
    return {"weight_ih": (G, I), "weight_hh": (G, H), "bias_ih": (G,), "bias_hh": (G,)}


def init_params(I: int, H: int, rng: np.random.Generator, **options) -> dict:
    """engine.init's scheme; weight_scale = sigma_max of each gate block of W_hh."""
    o = check_options(NAME, INIT_OPTIONS, options)
    return stacked_init(NAME, 3, I, H, rng, o["init"], o["weight_scale"])


def resolve(options: dict) -> dict:
    return {}


def _cell(gh, xproj, b_hn, h_prev, rz, n, ghn, h):
    """Gates and state of one step: gh = W_hh h_prev (B, 3H), xproj (B, 3H) -> rz (B, 2H)
    (r and z), n, ghn = W_hn h_prev + b_hn, h (B, H) written (rz and n may be xproj's own
    rows: each entry is read before it is written)."""
    H = h.shape[1]
    np.add(gh[:, : 2 * H], xproj[:, : 2 * H], out=rz)
    fast_sigmoid(rz, rz)  # 1 / (1 + e^-x) in place (0 only where sigma < 1e-308)
    np.add(gh[:, 2 * H :], b_hn, out=ghn)
    np.multiply(rz[:, :H], ghn, out=h)  # h as scratch: n = tanh(xproj_n + r * ghn)
    np.add(h, xproj[:, 2 * H :], out=n)
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)  # h = n + z * (h_prev - n)
    h *= rz[:, H:]
    h += n


def step(p, o, x, state, xproj=None):
    """One forward step. state = (h_prev,). Returns ((h,), cache)."""
    (h_prev,) = state
    B, H = h_prev.shape
    if xproj is None:
        w, b = input_weights(p)
        xproj = x @ w.T + b
    gh = rec_matmul(h_prev, p["weight_hh"].T)  # (B, 3H); b_hr, b_hz are in xproj (input_weights)
    rz = gh[:, : 2 * H]
    ghn = gh[:, 2 * H :]
    n, h = np.empty((B, H)), np.empty((B, H))
    _cell(gh, xproj, p["bias_hh"][2 * H :], h_prev, rz, n, ghn, h)
    return (h,), Cache(x, h_prev, rz[:, :H], rz[:, H:], n, ghn)


def loop(p, o, xproj, state0):
    """The forward time loop in place (CellKind.loop): r, z and n live in xproj (T, B, 3H)."""
    T, B, G = xproj.shape
    H = G // 3
    h, ghn = np.empty((T, B, H)), np.empty((T, B, H))
    w = p["weight_hh"].T
    b_hn = p["bias_hh"][2 * H :]
    gh = np.empty((B, G))
    (h0,) = state0

    def advance(t):
        a = xproj[t]
        h_prev = h0 if t == 0 else h[t - 1]
        rec_matmul(h_prev, w, out=gh)
        _cell(gh, a, b_hn, h_prev, a[:, : 2 * H], a[:, 2 * H :], ghn[t], h[t])

    extras = {"r": xproj[..., :H], "z": xproj[..., H : 2 * H], "n": xproj[..., 2 * H :],
              "ghn": ghn}
    return (h,), extras, advance


def input_weights(p):
    """(weight_ih, bias_ih + (b_hr, b_hz, 0)): the r and z rows of bias_hh add to the input
    projection; b_hn stays inside r * (W_hn h + b_hn)."""
    H = p["weight_hh"].shape[1]
    b = p["bias_ih"].copy()
    b[: 2 * H] += p["bias_hh"][: 2 * H]
    return p["weight_ih"], b


def step_back(p, o, dstate, cache):
    """dstate = (dh,) total dL/dh_t (B, H) -> ((dh_prev,), StepGrad(dgi, dgh)).

    dgi = dL/d(W_ih x + b_ih), dgh = dL/d(W_hh h + b_hh), both (B, 3H); they differ in the n
    rows, where the recurrent part is scaled by r.
    """
    (dh,) = dstate
    r, z, n = cache.r, cache.z, cache.n
    B, H = r.shape
    dgi = np.empty((B, 3 * H))  # each gate's rows written in place
    dr, dz, dn = dgi[:, :H], dgi[:, H : 2 * H], dgi[:, 2 * H :]
    omz = np.subtract(1.0, z)
    np.multiply(n, n, out=dn)  # dh (1 - z) (1 - n^2)
    np.subtract(1.0, dn, out=dn)
    dn *= omz
    dn *= dh
    np.subtract(1.0, r, out=dr)  # dn ghn r (1 - r)
    dr *= r
    dr *= cache.ghn
    dr *= dn
    np.subtract(cache.h_prev, n, out=dz)  # dh (h_prev - n) z (1 - z)
    dz *= dh
    dz *= z
    dz *= omz
    dgh = np.empty((B, 3 * H))
    dgh[:, : 2 * H] = dgi[:, : 2 * H]
    np.multiply(dn, r, out=dgh[:, 2 * H :])
    dh_prev = rec_matmul(dgh, p["weight_hh"])
    np.multiply(dh, z, out=omz)
    dh_prev += omz
    return (dh_prev,), StepGrad(dgi, dgh)


def param_grads(p, xs, prev, dgi, dgh, other=None):
    return projection_grads(KIND, p, xs, prev, dgi, dgh)


def jacobian(p, o, caches) -> StepJacobians:
    """dh_t/dh_{t-1} (n, H, H) from stacked caches (n, H) of batch element 0:
    diag(a ghn r(1-r)) W_r + diag((h_prev - n) z(1-z)) W_z + diag(a r) W_n + diag(z),
    a = (1-z)(1-n^2) (`scaled_blocks`)."""
    r, z, n, ghn, h_prev = caches.r, caches.z, caches.n, caches.ghn, caches.h_prev
    steps, H = z.shape
    a = (1 - z) * (1 - n * n)
    jac = np.empty((steps, H, H))
    scaled_blocks(p["weight_hh"], [(a * ghn * r * (1 - r), (h_prev - n) * z * (1 - z), a * r)],
                  [jac])
    idx = np.arange(H)
    jac[:, idx, idx] += z
    return StepJacobians(("h",), jac, jac, diagonal=False)


def train_kernel(p, o, xs, loss_fn) -> LastStep:
    """Lean forward + BPTT for a loss on h_T only (training): the numbers of the generic
    runner, several times faster (factors of the backward pass computed after the loop)."""
    T, B, _ = xs.shape
    H = p["weight_hh"].shape[1]
    W = p["weight_hh"].T  # (H, 3H)
    bhh = p["bias_hh"]
    xproj = xs @ p["weight_ih"].T + p["bias_ih"]  # (T, B, 3H)
    h = np.zeros((T + 1, B, H))
    rz = np.empty((T, B, 2 * H))
    n = np.empty((T, B, H))
    ghn = np.empty((T, B, H))
    for t in range(T):
        gh = rec_matmul(h[t], W)
        gh += bhh
        r_z = rz[t]
        np.add(xproj[t, :, : 2 * H], gh[:, : 2 * H], out=r_z)
        fast_sigmoid(r_z, r_z)
        ghn[t] = gh[:, 2 * H :]
        nt = n[t]
        np.multiply(r_z[:, :H], gh[:, 2 * H :], out=nt)
        nt += xproj[t, :, 2 * H :]
        fast_tanh(nt, nt)
        # h = n + z * (h_prev - n)
        np.subtract(h[t], nt, out=h[t + 1])
        h[t + 1] *= r_z[:, H:]
        h[t + 1] += nt
    loss, dh_last, extra = loss_fn(h[T])
    r, z = rz[..., :H], rz[..., H:]
    A = (1.0 - z) * (1.0 - n * n)
    Rf = ghn * r * (1.0 - r)
    Zf = (h[:-1] - n) * z * (1.0 - z)
    dgh = np.empty((T, B, 3, H))
    dn_all = np.empty((T, B, H))
    Whh = p["weight_hh"]
    dht = dh_last
    last = float(np.linalg.norm(dht))
    first = 0.0
    for t in range(T - 1, -1, -1):
        dn = np.multiply(dht, A[t], out=dn_all[t])
        np.multiply(dn, Rf[t], out=dgh[t, :, 0])
        np.multiply(dht, Zf[t], out=dgh[t, :, 1])
        np.multiply(dn, r[t], out=dgh[t, :, 2])
        if t == 0:
            first = float(np.linalg.norm(dht))
            break
        zt = dht * z[t]
        dht = rec_matmul(dgh[t].reshape(B, 3 * H), Whh)
        dht += zt
    dgi = dgh.copy()
    dgi[:, :, 2] = dn_all
    grads = kernel_param_grads(dgi.reshape(T, B, 3 * H), dgh.reshape(T, B, 3 * H), xs, h[:-1])
    return LastStep(float(loss), h[T], grads, first, last, z, extra)


EQUATIONS = ("h<sub>t</sub> = (1 − z<sub>t</sub>) ⊙ n<sub>t</sub> + z<sub>t</sub> ⊙ "
             "h<sub>t−1</sub> &nbsp;·&nbsp; z plays the role of the LSTM's f (PyTorch's "
             "convention; minGRU's z is the opposite)")


def path(p, o, cache, state):
    """The hidden path h_{t-1} -> z h_{t-1} + (1 - z) n = h_t."""
    return "hidden path", (("h_prev", "h<sub>t−1</sub>", cache.h_prev),
                           ("z*h_prev", "z⊙h<sub>t−1</sub>", cache.z * cache.h_prev),
                           ("(1-z)*n", "(1−z)⊙n", (1.0 - cache.z) * cache.n),
                           ("h", "h<sub>t</sub>", state[0]))


KIND = CellKind(
    pytorch="nn.GRU",
    name=NAME,
    label="GRU",
    colour="green",
    summary="h_t = (1 - z) n + z h_{t-1}",
    param_shapes=param_shapes,
    init_params=init_params,
    inits=INITS,
    init_options=INIT_OPTIONS,
    weight_scale="largest singular value of each gate's H x H block of W_hh",
    options=(),
    resolve=resolve,
    state=("h",),
    Cache=Cache,
    extras=("r", "z", "n", "ghn"),
    step=step,
    step_back=step_back,
    input_weights=input_weights,
    recurrent="dense",
    param_grads=param_grads,
    jacobian=jacobian,
    prod_block="h",
    jacobian_note="dh_t/dh_{t-1} through z, r and n; the product is dh_T/dh_t",
    sigma_max=block_sigma_max,
    bound_applies=False,
    bound_note="the GRU's Jacobian is diag(z) plus gated W_hh terms, not diag(phi') W_hh, so "
    "sigma_max(W_hh) * gamma bounds nothing",
    loop=loop,
    gates=(Gate("reset", "r", "reset gate r", "reset"),
           Gate("update", "z", "update gate z", "keep"),
           Gate("new", "n", "candidate n", "candidate", (-1.0, 1.0))),
    keep=Keep("update", False, "GRU: keep = z (PyTorch's convention; minGRU's z is the "
              "opposite, keep = 1 - z)", 1),
    train_kernel=train_kernel,
    equations=EQUATIONS,
    path=path,
    refs=("Cho et al. 2014",),
)
