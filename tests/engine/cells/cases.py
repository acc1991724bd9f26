"""Shared set-up for the cell tests: every kind with its options, random inputs and states."""

from __future__ import annotations

import numpy as np

from lstmviz.engine.cells import get, run_forward

#: (kind, equation options) covering every kind and every equation option.
KIND_CASES = [
    ("rnn", {"activation": "tanh"}),
    ("rnn", {"activation": "relu"}),
    ("rnn", {"activation": "sigmoid"}),
    ("lstm", {}),
    ("gru", {}),
    ("indrnn", {"activation": "relu"}),
    ("indrnn", {"activation": "tanh"}),
    ("mingru", {}),
    ("minlstm", {}),
    ("lru", {}),
    ("slstm", {"forget_gate": "sigmoid"}),
    ("slstm", {"forget_gate": "exp"}),
]
IDS = [k + "-" + "-".join(o.values()) if o else k for k, o in KIND_CASES]


def random_state(kind, B, H, rng):
    """A random initial state: n > 0 for the sLSTM, complex s for the LRU."""
    out = []
    for name in kind.state:
        if name == "n":
            out.append(0.5 + rng.uniform(size=(B, H)))
        elif kind.state_dtype is np.complex128:
            out.append(0.5 * (rng.standard_normal((B, H)) + 1j * rng.standard_normal((B, H))))
        else:
            out.append(0.5 * rng.standard_normal((B, H)))
    return tuple(out)


def setup(name, options, T, B, I, H, seed=0):
    """(kind, params, xs, state0, wh) with no relu input within 1e-3 of its kink."""
    kind = get(name)
    for s in range(seed, seed + 200):
        rng = np.random.default_rng(s)
        params = kind.init_params(I, H, np.random.default_rng(s + 1000))
        if name == "lru":  # spread the eigenvalues so every parameter matters visibly
            params["theta_log"] = np.log(rng.uniform(0.1, 2.0, size=H))
        xs = rng.standard_normal((T, B, I))
        state0 = random_state(kind, B, H, rng)
        fwd = run_forward(kind, params, xs, state0, **options)
        pre = fwd.extras.get("pre")
        if options.get("activation") != "relu" or np.abs(pre).min() > 1e-3:
            return kind, params, xs, state0, rng.standard_normal((T, B, H))
    raise AssertionError("no kink-free seed found")


def rel_err(a, n) -> float:
    """||a - n|| / max(||a|| + ||n||, 1e-8), real or complex."""
    a, n = np.asarray(a), np.asarray(n)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-8))
