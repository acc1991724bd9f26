"""sLSTM (Beck et al. 2024, "xLSTM", one head): the LSTM with exponential gating and a
normaliser state.

Pre-activations W_ih x_t + b_ih + W_hh h_{t-1} + b_hh stacked in gate order (i, f, z, o), 4H
rows: i_t = exp(i~), f_t = sigma(f~) (option forget_gate = "exp": exp(f~)), z_t = tanh(z~),
o_t = sigma(o~);  c_t = f_t c_{t-1} + i_t z_t,  n_t = f_t n_{t-1} + i_t,  h_t = o_t c_t / n_t.

Stabiliser (the paper's eq. 15-17): m_t = max(log f_t + m_{t-1}, log i_t),
i'_t = exp(log i_t - m_t), f'_t = exp(log f_t + m_{t-1} - m_t) are used in place of i_t, f_t.
Then c and n are carried as c e^-m and n e^-m, the ratio h is unchanged, i', f' <= 1 and
nothing overflows where exp(i~) alone would (i~ > 709). The state is (h, c, n, m), zero
initially. A state with c = n = 0 (the zero initial state) carries nothing, so the stabiliser
treats its m as -inf: m_1 = log i_1, i'_1 = 1, f'_1 = 0 (with m_0 = 0 taken literally, an
input gate far below the forget gate, i~ = -1e4, underflows i'_1 to 0 and h_1 = 0/0; with
it, n'_t >= 1 at every step, so c'/n' never divides by zero). The gradient into such an
empty initial state's c, n is 0 in those coordinates (f'_1 = 0); h's is exact.
Because h does not depend on m, the gradient is exact with m held fixed (how xLSTM's
kernels treat it); dL/dm_{t-1} = dc' c' + dn' n' (the initial state's m gradient)
cancels against m's own paths for t >= 1, so it is recorded but not propagated.

Params like the LSTM's: weight_ih (4H, I), weight_hh (4H, H), bias_ih, bias_hh (4H,).
The Jacobian acts on (h, c, n) (m held fixed; the h->h block of the product is the same in
stabilised and plain coordinates).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..activations import sigmoid
from ..init import ALL_INITS
from .base import (
    FORGET_BIAS,
    WEIGHT_SCALE,
    CellKind,
    Gate,
    Keep,
    Option,
    StepGrad,
    StepJacobians,
    block_sigma_max,
    check_options,
    init_option,
    log_sigmoid,
    projection_grads,
    scaled_blocks,
    stacked_init,
)

NAME = "slstm"
INITS = ALL_INITS
INIT_OPTIONS = (init_option(INITS), WEIGHT_SCALE, FORGET_BIAS)
OPTIONS = (Option("forget_gate", "sigmoid", choices=("sigmoid", "exp"), doc="f = sigma or exp"),)
EXTRAS = ("ip", "fp", "z", "o", "q", "rn", "dlf", "li", "lf")


class Cache(NamedTuple):
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    c_prev: np.ndarray  # (B, H) stabilised c_{t-1} e^-m_{t-1}
    n_prev: np.ndarray  # (B, H) stabilised n_{t-1} e^-m_{t-1}
    m_prev: np.ndarray  # (B, H) stabiliser m_{t-1}
    ip: np.ndarray  # (B, H) stabilised input gate i'
    fp: np.ndarray  # (B, H) stabilised forget gate f'
    z: np.ndarray  # (B, H) cell input tanh(z~)
    o: np.ndarray  # (B, H) output gate
    q: np.ndarray  # (B, H) c_t / n_t
    rn: np.ndarray  # (B, H) 1 / n_t (stabilised)
    dlf: np.ndarray  # (B, H) d log f / d f~: sigma(-f~), or 1 for exp
    li: np.ndarray  # (B, H) log i = i~
    lf: np.ndarray  # (B, H) log f


def param_shapes(I: int, H: int) -> dict[str, tuple[int, ...]]:
    G = 4 * H
    return {"weight_ih": (G, I), "weight_hh": (G, H), "bias_ih": (G,), "bias_hh": (G,)}


def init_params(I: int, H: int, rng: np.random.Generator, **options) -> dict:
    """Like the LSTM: engine.init's scheme, weight_scale per gate block, forget_bias in
    bias_ih's f rows with bias_hh's f rows zeroed."""
    o = check_options(NAME, INIT_OPTIONS, options)
    params = stacked_init(NAME, 4, I, H, rng, o["init"], o["weight_scale"])
    params["bias_ih"][H : 2 * H] = o["forget_bias"]
    params["bias_hh"][H : 2 * H] = 0.0
    return params


def resolve(options: dict) -> dict:
    return {"forget_gate": options["forget_gate"], "exp_forget": options["forget_gate"] == "exp"}


def step(p, o, x, state, xproj=None):
    """One forward step. state = (h, c, n, m) each (B, H). Returns (state, cache)."""
    h_prev, c_prev, n_prev, m_prev = state
    H = h_prev.shape[1]
    if xproj is None:
        xproj = x @ p["weight_ih"].T + p["bias_ih"]
    a = xproj + h_prev @ p["weight_hh"].T + p["bias_hh"]  # (B, 4H)
    li, ft = a[:, :H], a[:, H : 2 * H]
    if o["exp_forget"]:
        lf, dlf = ft, np.ones_like(ft)
    else:
        lf, dlf = log_sigmoid(ft), sigmoid(-ft)
    # log f' + m_t: -inf for an empty previous state (nothing is carried from it)
    carried = np.where((n_prev == 0.0) & (c_prev == 0.0), -np.inf, lf + m_prev)
    m = np.maximum(carried, li)
    ip = np.exp(li - m)
    fp = np.exp(carried - m)
    z = np.tanh(a[:, 2 * H : 3 * H])
    og = sigmoid(a[:, 3 * H :])
    c = fp * c_prev + ip * z
    n = fp * n_prev + ip
    rn = 1.0 / n
    q = c * rn
    h = og * q
    cache = Cache(x, h_prev, c_prev, n_prev, m_prev, ip, fp, z, og, q, rn, dlf, li, lf)
    return (h, c, n, m), cache


def step_back(p, o, dstate, cache):
    """dstate = (dh, dc, dn, dm) -> (dstate_prev, StepGrad(da, da, total=(dh, dc_t, dn_t,
    dm))) with dc_t, dn_t the totals including the path through h_t."""
    dh, dc, dn, dm = dstate
    c = cache
    dct = dc + dh * c.o * c.rn
    dnt = dn - dh * c.o * c.q * c.rn
    da = np.concatenate(
        (
            (dct * c.z + dnt) * c.ip,
            (dct * c.c_prev + dnt * c.n_prev) * c.fp * c.dlf,
            dct * c.ip * (1.0 - c.z * c.z),
            dh * c.q * c.o * (1.0 - c.o),
        ),
        axis=1,
    )
    dc_prev = dct * c.fp
    dn_prev = dnt * c.fp
    dm_prev = dc_prev * c.c_prev + dn_prev * c.n_prev
    dprev = (da @ p["weight_hh"], dc_prev, dn_prev, dm_prev)
    return dprev, StepGrad(da, da, None, (dh, dct, dnt, dm))


def param_grads(p, xs, prev, dgi, dgh, other=None):
    return projection_grads(KIND, p, xs, prev, dgi, dgh)


def jacobian(p, o, caches) -> StepJacobians:
    """(h, c, n) state Jacobians (n, 3H, 3H) with m held fixed, batch element 0: the h, c and
    n rows of the h column as sums of row-scaled gate blocks (`scaled_blocks`)."""
    H = p["weight_hh"].shape[1]
    c = caches
    nst = c.fp.shape[0]
    cf, ci, cz = c.c_prev * c.fp * c.dlf, c.z * c.ip, c.ip * (1 - c.z * c.z)  # c rows
    nf, ni = c.n_prev * c.fp * c.dlf, c.ip  # n rows
    orn, oqrn = c.o * c.rn, c.o * c.q * c.rn  # h = o c / n: dh/dc, -dh/dn
    full = np.empty((nst, 3 * H, 3 * H))
    amat = np.empty((nst, H, H))
    scaled_blocks(p["weight_hh"], [
        (orn * ci - oqrn * ni, orn * cf - oqrn * nf, orn * cz, c.q * c.o * (1 - c.o)),
        (ci, cf, cz, None), (ni, nf, None, None),
    ], [amat, full[:, H:2 * H, :H], full[:, 2 * H:, :H]])
    full[:, :H, :H] = amat
    full[:, :, H:] = 0.0
    idx = np.arange(H)
    full[:, idx, H + idx] = c.o * c.rn * c.fp
    full[:, idx, 2 * H + idx] = -c.o * c.q * c.rn * c.fp
    full[:, H + idx, H + idx] = c.fp
    full[:, 2 * H + idx, 2 * H + idx] = c.fp
    return StepJacobians(("h", "c", "n"), full, amat, diagonal=False)


EQUATIONS = ("c<sub>t</sub> = f′<sub>t</sub> c<sub>t−1</sub> + i′<sub>t</sub> z<sub>t</sub>, "
             "n<sub>t</sub> = f′<sub>t</sub> n<sub>t−1</sub> + i′<sub>t</sub>, h<sub>t</sub> = "
             "o<sub>t</sub> ⊙ c<sub>t</sub>/n<sub>t</sub>; i = exp(ĩ), f′, i′ stabilised by "
             "m<sub>t</sub> = max(log f + m<sub>t−1</sub>, log i) (without it exp overflows)")


def path(p, o, cache, state):
    """The stabilised cell path c_{t-1} -> f' c_{t-1} + i' z = c_t."""
    return "cell path (stabilised)", (("c_prev", "c<sub>t−1</sub>", cache.c_prev),
                                      ("f'*c_prev", "f′⊙c<sub>t−1</sub>",
                                       cache.fp * cache.c_prev),
                                      ("i'*z", "i′⊙z", cache.ip * cache.z),
                                      ("c", "c<sub>t</sub>", state[1]))


KIND = CellKind(
    name=NAME,
    label="sLSTM",
    colour="indigo",
    summary="c_t = f c_{t-1} + i z, n_t = f n_{t-1} + i, h_t = o c_t / n_t, i = exp(i~)",
    param_shapes=param_shapes,
    init_params=init_params,
    inits=INITS,
    init_options=INIT_OPTIONS,
    weight_scale="largest singular value of each gate's H x H block of W_hh",
    options=OPTIONS,
    resolve=resolve,
    state=("h", "c", "n", "m"),
    Cache=Cache,
    extras=EXTRAS,
    step=step,
    step_back=step_back,
    recurrent="dense",
    param_grads=param_grads,
    jacobian=jacobian,
    prod_block="h",
    jacobian_note="jac_step is dh_t/dh_{t-1} (c, n fixed); jac_prod is the h->h block of the "
    "product of (h, c, n) state Jacobians (m held fixed: h does not depend on it)",
    sigma_max=block_sigma_max,
    bound_applies=False,
    bound_note="exponential gates and the normaliser make the sLSTM's Jacobian not "
    "diag(phi') W_hh, so sigma_max(W_hh) * gamma bounds nothing",
    gates=(Gate("input", "ip", "input gate i' (stabilised)", "write"),
           Gate("forget", "fp", "forget gate f' (stabilised)", "keep"),
           Gate("cell", "z", "cell input z", "candidate", (-1.0, 1.0)),
           Gate("output", "o", "output gate o", "read"),
           Gate("log_input", "li", "log i = i~", "pre"),
           Gate("log_forget", "lf", "log f", "pre")),
    keep=Keep("forget", False, "sLSTM: keep = f' = exp(log f_t + m_{t-1} - m_t), the "
              "stabilised forget gate (dc'_t/dc'_{t-1} = diag(f'))", 1),
    equations=EQUATIONS,
    path=path,
    refs=("Beck et al. 2024, arXiv:2405.04517",),
)
