"""LSTM (Hochreiter & Schmidhuber 1997; PyTorch nn.LSTM layout, gate order i, f, g, o).

    i, f, g, o = sigma, sigma, tanh, sigma of (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

Params: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).
State (h, c). One-step state Jacobian [[A_t, diag(o tanh'(c_t) f)], [C_t, diag(f)]] with
A_t = dh_t/dh_{t-1} (c_{t-1} held fixed) and C_t = dc_t/dh_{t-1}.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..init import ALL_INITS
from .base import (
    FORGET_BIAS,
    WEIGHT_SCALE,
    CellKind,
    Gate,
    Keep,
    LastStep,
    StepGrad,
    StepJacobians,
    block_sigma_max,
    check_options,
    fast_tanh,
    folded_input,
    init_option,
    kernel_param_grads,
    projection_grads,
    rec_matmul,
    scaled_blocks,
    stacked_init,
)

NAME = "lstm"
INITS = ALL_INITS
INIT_OPTIONS = (init_option(INITS), WEIGHT_SCALE, FORGET_BIAS)


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    c_prev: np.ndarray  # (B, H)
    i: np.ndarray  # (B, H) input gate
    f: np.ndarray  # (B, H) forget gate
    g: np.ndarray  # (B, H) candidate cell
    o: np.ndarray  # (B, H) output gate
    tc: np.ndarray  # (B, H) tanh(c_t)


def param_shapes(I: int, H: int) -> dict[str, tuple[int, ...]]:
    G = 4 * H
    return {"weight_ih": (G, I), "weight_hh": (G, H), "bias_ih": (G,), "bias_hh": (G,)}


def init_params(I: int, H: int, rng: np.random.Generator, **options) -> dict:
    """engine.init's scheme; weight_scale = sigma_max of each gate block; forget_bias is the
    effective forget bias: stored in bias_ih's f rows with bias_hh's f rows zeroed."""
    o = check_options(NAME, INIT_OPTIONS, options)
    params = stacked_init(NAME, 4, I, H, rng, o["init"], o["weight_scale"])
    params["bias_ih"][H : 2 * H] = o["forget_bias"]
    params["bias_hh"][H : 2 * H] = 0.0
    return params


def resolve(options: dict) -> dict:
    return {}


def _cell(a, c_prev, c, tc, h):
    """Gates and state of one step in place: a (B, 4H) holds the pre-activations and gets
    i, f, g, o (in its row blocks); c, tc = tanh(c), h are written (all (B, H)).

    sigma(x) = 1 / (1 + e^-x) in four passes over the whole contiguous buffer (1 ulp; 0 only
    where sigma < 1e-308, x < -709.78, where e^-x overflows: callers run under errstate), and
    tanh of the g rows, taken first (into tc, used as scratch) and written back over them.
    """
    H = c.shape[1]
    ga = a[:, 2 * H : 3 * H]
    np.tanh(ga, out=tc)
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)
    ga[...] = tc
    np.multiply(a[:, H : 2 * H], c_prev, out=c)  # c = f * c_prev + i * g
    np.multiply(a[:, :H], ga, out=tc)
    c += tc
    np.tanh(c, out=tc)
    np.multiply(a[:, 3 * H :], tc, out=h)


def step(p, o, x, state, xproj=None):
    """One forward step. state = (h_prev, c_prev). Returns ((h, c), cache).

    One buffer (B, 4H) of pre-activations gets the gates in place (`_cell`); i, f, g, o are
    views of it.
    """
    h_prev, c_prev = state
    H = h_prev.shape[1]
    if xproj is None:
        xproj = x @ p["weight_ih"].T + (p["bias_ih"] + p["bias_hh"])
    a = rec_matmul(h_prev, p["weight_hh"].T)  # (B, 4H), the buffer every gate lives in
    a += xproj  # xproj holds both biases (folded_input)
    h, c, tc = (np.empty(c_prev.shape) for _ in range(3))
    _cell(a, c_prev, c, tc, h)
    cache = Cache(x, h_prev, c_prev, a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H],
                  a[:, 3 * H :], tc)
    return (h, c), cache


def loop(p, o, xproj, state0):
    """The forward time loop in place (CellKind.loop): the gates live in xproj (T, B, 4H)."""
    T, B, G = xproj.shape
    H = G // 4
    h, c, tc = (np.empty((T, B, H)) for _ in range(3))
    w = p["weight_hh"].T
    rec = np.empty((B, G))
    h0, c0 = state0

    def advance(t):
        a = xproj[t]
        rec_matmul(h0 if t == 0 else h[t - 1], w, out=rec)
        a += rec
        _cell(a, c0 if t == 0 else c[t - 1], c[t], tc[t], h[t])

    extras = {k: xproj[..., j * H : (j + 1) * H] for j, k in enumerate("ifgo")}
    extras["tc"] = tc
    return (h, c), extras, advance


def step_back(p, o, dstate, cache):
    """dstate = (dh, dc): total dL/dh_t and dL/dc_t from t+1 (and the loss).

    Returns ((dh_prev, dc_prev), StepGrad(da, da, total=(dh, dct))) with da = dL/d(pre-
    activations) (B, 4H) and dct = dL/dc_t including the path through h_t. Each gate's
    gradient is written into its rows of da in place (no temporaries, no concatenate).
    """
    dh, dc = dstate
    i, f, g, og, tc = cache.i, cache.f, cache.g, cache.o, cache.tc
    B, H = i.shape
    da = np.empty((B, 4 * H))
    di, df, dg, do = da[:, :H], da[:, H : 2 * H], da[:, 2 * H : 3 * H], da[:, 3 * H :]
    dct = np.multiply(tc, tc)  # dc + dh * o * (1 - tc^2)
    np.subtract(1.0, dct, out=dct)
    dct *= og
    dct *= dh
    dct += dc
    np.subtract(1.0, i, out=di)  # dct * g * i * (1 - i)
    di *= i
    di *= g
    di *= dct
    np.subtract(1.0, f, out=df)  # dct * c_prev * f * (1 - f)
    df *= f
    df *= cache.c_prev
    df *= dct
    np.multiply(g, g, out=dg)  # dct * i * (1 - g^2)
    np.subtract(1.0, dg, out=dg)
    dg *= i
    dg *= dct
    np.subtract(1.0, og, out=do)  # dh * tc * o * (1 - o)
    do *= og
    do *= tc
    do *= dh
    dh_prev = rec_matmul(da, p["weight_hh"])
    return (dh_prev, dct * f), StepGrad(da, da, None, (dh, dct))


def param_grads(p, xs, prev, dgi, dgh, other=None):
    return projection_grads(KIND, p, xs, prev, dgi, dgh)


def jacobian(p, o, caches) -> StepJacobians:
    """Full (h, c) state Jacobians (n, 2H, 2H) of stacked caches (n, H) of batch element 0.

    C_t = diag(c_prev f(1-f)) W_f + diag(g i(1-i)) W_i + diag(i(1-g^2)) W_g and
    A_t = diag(tc o(1-o)) W_o + diag(dtc) C_t (dtc = o tanh'(c_t)), both as sums of
    row-scaled gate blocks (`scaled_blocks`)."""
    w = p["weight_hh"]
    i, f, g, og, tc, c_prev = caches.i, caches.f, caches.g, caches.o, caches.tc, caches.c_prev
    n, H = f.shape
    dtc = og * (1 - tc * tc)  # dh_t/dc_t
    ci, cf, cg = g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)
    full = np.empty((n, 2 * H, 2 * H))
    amat = full[:, :H, :H]  # the step stack the norms read (BLAS takes its row stride)
    scaled_blocks(w, [(dtc * ci, dtc * cf, dtc * cg, tc * og * (1 - og)), (ci, cf, cg, None)],
                  [amat, full[:, H:, :H]])
    full[:, :, H:] = 0.0
    idx = np.arange(H)
    full[:, idx, H + idx] = dtc * f
    full[:, H + idx, H + idx] = f
    return StepJacobians(("h", "c"), full, amat, diagonal=False)


def cell_path(p, o, run, sl: slice, jac: StepJacobians):
    """The LSTM cell path of dc_t/dc_{t-1} for the steps sl of batch element 0 of a forward
    run (cells.Forward): (direct (n,), indirect (n, H, H)).

    direct = ||diag(f_t)||_2 = max_j f_t[j]; indirect = C_t diag(o_{t-1} tanh'(c_{t-1})), the
    part through h_{t-1} and the gates (jac.full holds C_t). o_{t-1} tanh'(c_{t-1}) is zero at
    t = 1 (h_0 is an independent initial state). jac=None: (direct, None), no Jacobians.
    """
    f = run.extras["f"][sl, 0]
    if jac is None:
        return f.max(axis=1), None
    n, H = f.shape
    lo = sl.start or 0
    dtc_prev = np.zeros((n, H))
    a, b = max(lo - 1, 0), sl.stop - 1
    o_p, tc_p = run.extras["o"][a:b, 0], run.extras["tc"][a:b, 0]
    dtc_prev[n - (b - a):] = o_p * (1 - tc_p * tc_p)
    return f.max(axis=1), jac.full[:, H:, :H] * dtc_prev[:, None, :]


def jac_left(r: np.ndarray, full: np.ndarray) -> np.ndarray:
    """r @ full for one (2H, 2H) state Jacobian [[A, diag(a)], [C, diag(f)]] (`jacobian`):
    one (2H, H) product r @ [A; C] and two diagonal scalings instead of one 2H x 2H
    product."""
    H = full.shape[0] // 2
    out = np.empty_like(r)
    np.matmul(r, full[:, :H], out=out[:, :H])
    np.multiply(r[:, :H], full.diagonal(H), out=out[:, H:])  # a = full[j, H + j]
    out[:, H:] += r[:, H:] * full.diagonal()[H:]  # f = full[H + j, H + j]
    return out


def train_kernel(p, o, xs, loss_fn) -> LastStep:
    """Lean forward + BPTT for a loss on h_T only (training): the numbers of the generic
    runner, several times faster (factors of the backward pass computed after the loop)."""
    T, B, _ = xs.shape
    H = p["weight_hh"].shape[1]
    # One exp over all 4H rows per step (exp is ~2x cheaper than tanh here):
    # sigma(x) = 1 / (1 + e^-x) for i, f, o; tanh(x) = 2 / (1 + e^-2x) - 1 for g.
    # The factors -1 / -2 are folded into the weights, the "2 s - 1" into mult / offset.
    neg = np.full(4 * H, -1.0)
    neg[2 * H:3 * H] = -2.0
    mult = np.ones(4 * H)
    mult[2 * H:3 * H] = 2.0
    offset = np.zeros(4 * H)
    offset[2 * H:3 * H] = -1.0
    W = p["weight_hh"].T * neg  # (H, 4H)
    acts = (xs @ p["weight_ih"].T + (p["bias_ih"] + p["bias_hh"])) * neg  # (T, B, 4H)
    h = np.zeros((T + 1, B, H))
    c = np.zeros((T + 1, B, H))
    tc = np.empty((T, B, H))
    for t in range(T):
        a = acts[t]
        a += rec_matmul(h[t], W)
        np.exp(a, out=a)
        a += 1.0
        np.reciprocal(a, out=a)
        a *= mult
        a += offset
        np.multiply(a[:, H:2 * H], c[t], out=c[t + 1])
        c[t + 1] += a[:, :H] * a[:, 2 * H:3 * H]
        fast_tanh(c[t + 1], tc[t])
        np.multiply(a[:, 3 * H:], tc[t], out=h[t + 1])
    loss, dh_last, extra = loss_fn(h[T])
    i, f, g, o = (acts[..., k * H : (k + 1) * H] for k in range(4))
    K = np.empty((T, B, 3, H))
    K[:, :, 0] = g * i * (1.0 - i)
    K[:, :, 1] = c[:-1] * f * (1.0 - f)
    K[:, :, 2] = i * (1.0 - g * g)
    d_o = tc * o * (1.0 - o)
    o_dtc = o * (1.0 - tc * tc)
    da = np.empty((T, B, 4, H))
    Whh = p["weight_hh"]
    dht = dh_last
    dc_next = np.zeros((B, H))
    first = last = 0.0
    for t in range(T - 1, -1, -1):
        if t == T - 1:
            last = float(np.linalg.norm(dht))
        dct = dc_next + dht * o_dtc[t]
        np.multiply(dct[:, None, :], K[t], out=da[t, :, :3])
        np.multiply(dht, d_o[t], out=da[t, :, 3])
        dc_next = dct * f[t]
        if t == 0:
            first = float(np.linalg.norm(dht))
            break
        dht = rec_matmul(da[t].reshape(B, 4 * H), Whh)
    da = da.reshape(T, B, 4 * H)
    grads = kernel_param_grads(da, da, xs, h[:-1])
    return LastStep(float(loss), h[T], grads, first, last, f, extra)


EQUATIONS = ("c<sub>t</sub> = f<sub>t</sub> ⊙ c<sub>t−1</sub> + i<sub>t</sub> ⊙ g<sub>t</sub>"
             " &nbsp;·&nbsp; h<sub>t</sub> = o<sub>t</sub> ⊙ tanh(c<sub>t</sub>)")


def path(p, o, cache, state):
    """The cell path c_{t-1} -> f c_{t-1} + i g = c_t."""
    return "cell path", (("c_prev", "c<sub>t−1</sub>", cache.c_prev),
                         ("f*c_prev", "f⊙c<sub>t−1</sub>", cache.f * cache.c_prev),
                         ("i*g", "i⊙g", cache.i * cache.g),
                         ("c", "c<sub>t</sub>", state[1]))


KIND = CellKind(
    pytorch="nn.LSTM",
    name=NAME,
    label="LSTM",
    colour="blue",
    summary="c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)",
    param_shapes=param_shapes,
    init_params=init_params,
    inits=INITS,
    init_options=INIT_OPTIONS,
    weight_scale="largest singular value of each gate's H x H block of W_hh",
    options=(),
    resolve=resolve,
    state=("h", "c"),
    Cache=Cache,
    extras=("i", "f", "g", "o", "tc"),
    step=step,
    step_back=step_back,
    input_weights=folded_input,
    recurrent="dense",
    param_grads=param_grads,
    jacobian=jacobian,
    prod_block="h",
    jacobian_note="jac_step is A_t = dh_t/dh_{t-1} (c_{t-1} fixed); jac_prod is the h->h block "
    "of the product of full (h, c) state Jacobians, so paths through the cell are included",
    sigma_max=block_sigma_max,
    bound_applies=False,
    bound_note="the gates and the cell path make the LSTM's Jacobian not diag(phi') W_hh, so "
    "sigma_max(W_hh) * gamma bounds nothing",
    gates=(Gate("input", "i", "input gate i", "write"),
           Gate("forget", "f", "forget gate f", "keep"),
           Gate("cell", "g", "candidate g", "candidate", (-1.0, 1.0)),
           Gate("output", "o", "output gate o", "read")),
    keep=Keep("forget", False, "LSTM: keep = f, the forget gate (dc_t/dc_{t-1} = diag(f))", 1),
    loop=loop,
    cell_path=cell_path,
    jac_left=jac_left,
    train_kernel=train_kernel,
    equations=EQUATIONS,
    path=path,
    refs=("Hochreiter & Schmidhuber 1997", "Gers, Schmidhuber & Cummins 2000"),
)
