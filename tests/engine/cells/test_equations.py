"""Each kind's forward against its equations written out independently here, one unit and
one step at a time in plain Python loops (no code shared with the package)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmviz.engine.cells import get, run_forward

from .cases import random_state


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def reference(name, opts, p, xs, state0):
    """h (T, B, H) by the issue's equations, scalar by scalar."""
    T, B, I = xs.shape
    H = state0[0].shape[1]
    out = np.zeros((T, B, H))
    for b in range(B):
        st = [np.array(s[b]) for s in state0]
        for t in range(T):
            x = xs[t, b]

            def wx(rows, name_w="weight_ih", x=x):
                return [sum(p[name_w][r, k] * x[k] for k in range(I)) for r in rows]

            new = [np.empty(H, dtype=s.dtype) for s in st]
            for j in range(H):
                if name in ("rnn", "indrnn"):
                    phi = {"tanh": math.tanh, "relu": lambda v: max(v, 0.0), "sigmoid": sig}[
                        opts["activation"]]
                    if name == "rnn":
                        rec = sum(p["weight_hh"][j, k] * st[0][k] for k in range(H))
                    else:
                        rec = p["weight_hh"][j] * st[0][j]
                    pre = wx([j])[0] + p["bias_ih"][j] + rec + p["bias_hh"][j]
                    new[0][j] = phi(pre)
                elif name == "mingru":
                    zr, hr = wx([j, H + j])
                    z = sig(zr + p["bias_ih"][j])
                    ht = hr + p["bias_ih"][H + j]
                    new[0][j] = (1 - z) * st[0][j] + z * ht
                elif name == "minlstm":
                    fr, ir, hr = wx([j, H + j, 2 * H + j])
                    f = sig(fr + p["bias_ih"][j])
                    i = sig(ir + p["bias_ih"][H + j])
                    ht = hr + p["bias_ih"][2 * H + j]
                    new[0][j] = f / (f + i) * st[0][j] + i / (f + i) * ht
                elif name == "lru":
                    lam = complex(math.exp(-math.exp(p["nu_log"][j])) * math.cos(
                        math.exp(p["theta_log"][j])), math.exp(-math.exp(p["nu_log"][j]))
                        * math.sin(math.exp(p["theta_log"][j])))
                    bx = complex(wx([j], "weight_ih_re")[0], wx([j], "weight_ih_im")[0])
                    new[0][j] = lam * st[0][j] + math.exp(p["gamma_log"][j]) * bx
                else:  # lstm, gru, slstm: pre-activations through W_hh
                    G = {"lstm": 4, "gru": 3, "slstm": 4}[name]
                    gi = [wx([g * H + j])[0] + p["bias_ih"][g * H + j] for g in range(G)]
                    gh = [sum(p["weight_hh"][g * H + j, k] * st[0][k] for k in range(H))
                          + p["bias_hh"][g * H + j] for g in range(G)]
                    if name == "lstm":
                        i, f, g, o = (gi[k] + gh[k] for k in range(4))
                        c = sig(f) * st[1][j] + sig(i) * math.tanh(g)
                        new[1][j] = c
                        new[0][j] = sig(o) * math.tanh(c)
                    elif name == "gru":
                        r = sig(gi[0] + gh[0])
                        z = sig(gi[1] + gh[1])
                        n = math.tanh(gi[2] + r * gh[2])
                        new[0][j] = (1 - z) * n + z * st[0][j]
                    else:  # slstm without the stabiliser: c, n in plain units
                        i_t, f_t, z_t, o_t = (gi[k] + gh[k] for k in range(4))
                        ig = math.exp(i_t)
                        fg = math.exp(f_t) if opts["forget_gate"] == "exp" else sig(f_t)
                        c = fg * st[1][j] + ig * math.tanh(z_t)
                        n = fg * st[2][j] + ig
                        new[1][j], new[2][j], new[3][j] = c, n, 0.0
                        new[0][j] = sig(o_t) * c / n
            st = new
            out[t, b] = st[0].real
    return out


CASES = [("rnn", {"activation": "tanh"}), ("rnn", {"activation": "relu"}),
         ("rnn", {"activation": "sigmoid"}), ("lstm", {}), ("gru", {}),
         ("indrnn", {"activation": "relu"}), ("indrnn", {"activation": "tanh"}),
         ("mingru", {}), ("minlstm", {}), ("lru", {}), ("slstm", {"forget_gate": "sigmoid"}),
         ("slstm", {"forget_gate": "exp"})]


@pytest.mark.parametrize(("name", "opts"), CASES)
def test_forward_matches_equations(name, opts):
    kind = get(name)
    T, B, I, H = 6, 2, 3, 3
    rng = np.random.default_rng(3)
    params = kind.init_params(I, H, np.random.default_rng(7))
    xs = rng.standard_normal((T, B, I))
    state0 = random_state(kind, B, H, rng)
    if name == "slstm":  # the reference is unstabilised: start from m = 0
        state0 = (*state0[:3], np.zeros((B, H)))
    ref = reference(name, {**kind.check_options(opts)}, params, xs,
                    tuple(np.asarray(s) for s in state0))
    np.testing.assert_allclose(run_forward(kind, params, xs, state0, **opts).h, ref,
                               rtol=1e-10, atol=1e-12)
