"""Initialisation: the LRU's ring and phase statistics, weight_scale per kind, IRNN's
identity start, and clear errors for options that do not apply."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import EngineError
from lstmviz.engine.cells import get, kinds
from lstmviz.engine.cells.lru import eigenvalues
from lstmviz.engine.linalg import spectral_norm


def test_lru_init_statistics():
    kind = get("lru")
    H, I = 4000, 8
    p = kind.init_params(I, H, np.random.default_rng(0))
    lam = eigenvalues(p)
    mod, phase = np.abs(lam), np.angle(lam)
    assert mod.min() >= 0.9 and mod.max() <= 0.999
    # uniform on the ring's area: |lambda|^2 uniform on [0.81, 0.998001]
    mod2 = np.sort(mod**2)
    cdf = (mod2 - 0.81) / (0.999**2 - 0.81)
    assert np.abs(cdf - (np.arange(H) + 0.5) / H).max() < 0.03  # Kolmogorov-Smirnov-like
    assert phase.min() >= 0 and phase.max() <= np.pi / 10
    assert abs(phase.mean() - np.pi / 20) < 0.01
    np.testing.assert_allclose(np.exp(p["gamma_log"]), np.sqrt(1 - mod**2), rtol=1e-12)
    for k in ("weight_ih_re", "weight_ih_im"):
        assert abs(p[k].std() - np.sqrt(1 / (2 * I))) < 0.01
        assert abs(p[k].mean()) < 0.01


def test_lru_ring_and_phase_options():
    kind = get("lru")
    p = kind.init_params(2, 500, np.random.default_rng(1), r_min=0.5, r_max=0.6, max_phase=3.0)
    lam = eigenvalues(p)
    assert 0.5 <= np.abs(lam).min() and np.abs(lam).max() <= 0.6
    assert np.angle(lam).max() > 2.5 and np.angle(lam).min() >= 0
    for bad in ({"r_min": 0.9, "r_max": 0.8}, {"r_max": 1.0}, {"max_phase": 7.0},
                {"r_min": -0.1}):
        with pytest.raises(EngineError, match="lru"):
            kind.init_params(2, 3, np.random.default_rng(0), **bad)


def test_weight_scale_per_kind():
    rng = np.random.default_rng
    p = get("rnn").init_params(3, 5, rng(0), weight_scale=1.7)
    assert spectral_norm(p["weight_hh"]) == pytest.approx(1.7, rel=1e-12)
    p = get("rnn").init_params(3, 5, rng(0), init="identity", weight_scale=0.9)
    np.testing.assert_allclose(p["weight_hh"], 0.9 * np.eye(5), rtol=1e-12, atol=0)
    assert not p["bias_hh"].any()
    p = get("indrnn").init_params(3, 5, rng(0), weight_scale=1.2)
    assert np.abs(p["weight_hh"]).max() == pytest.approx(1.2, rel=1e-12)
    p = get("indrnn").init_params(3, 5, rng(0), init="identity")
    np.testing.assert_array_equal(p["weight_hh"], np.ones(5))
    p = get("lstm").init_params(3, 5, rng(0), weight_scale=0.5, forget_bias=2.0)
    for k in range(4):
        assert spectral_norm(p["weight_hh"][5 * k:5 * (k + 1)]) == pytest.approx(0.5)
    assert (p["bias_ih"][5:10] == 2.0).all() and not p["bias_hh"][5:10].any()
    p = get("minlstm").init_params(3, 5, rng(0), forget_bias=1.5)
    assert (p["bias_ih"][:5] == 1.5).all()
    p = get("slstm").init_params(3, 5, rng(0), forget_bias=3.0)
    assert (p["bias_ih"][5:10] == 3.0).all() and not p["bias_hh"][5:10].any()


@pytest.mark.parametrize(("name", "options", "match"), [
    ("mingru", {"weight_scale": 1.0}, "weight_scale"),
    ("minlstm", {"weight_scale": 1.0}, "weight_scale"),
    ("lru", {"weight_scale": 1.0}, "weight_scale"),
    ("rnn", {"forget_bias": 1.0}, "forget_bias"),
    ("gru", {"forget_bias": 1.0}, "forget_bias"),
    ("mingru", {"init": "orthogonal"}, "init"),
    ("lru", {"init": "pytorch"}, "init"),
    ("rnn", {"weight_scale": -1.0}, "weight_scale"),
    ("lstm", {"forget_bias": float("nan")}, "forget_bias"),
])
def test_options_that_do_not_apply_are_errors(name, options, match):
    with pytest.raises(EngineError, match=match) as err:
        get(name).init_params(2, 3, np.random.default_rng(0), **options)
    assert name in str(err.value)


@pytest.mark.parametrize("name", kinds())
def test_every_kind_declares_itself(name):
    kind = get(name)
    shapes = kind.param_shapes(3, 4)
    p = kind.init_params(3, 4, np.random.default_rng(0))
    assert {k: v.shape for k, v in p.items()} == shapes
    assert all(v.dtype == np.float64 for v in p.values())
    assert kind.label and kind.colour and kind.summary and kind.jacobian_note
    assert kind.state[0] in ("h", "s")
    assert kind.bound_applies == (name == "rnn")
    assert kind.bound_note
    assert (kind.weight_scale is None) == (name in ("mingru", "minlstm", "lru"))
    assert kind.inits and kind.init_options[0].name == "init"
    assert (kind.keep is None) == bool(kind.keep_note)
    if kind.keep is not None:
        assert kind.keep.gate in kind.gate_fields()
    for g in kind.gates:
        assert g.field in kind.extras
    assert kind.make_opts() is not None
    with pytest.raises(EngineError, match="unknown option"):
        kind.make_opts(bogus=1)
