"""Optional cross-check against PyTorch's nn.RNN / nn.LSTM / nn.GRU (skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import backward, build_model, forward

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    ("kind", "act"), [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
)
def test_forward_and_backward_match_pytorch(kind, act):
    T, B, I, H = 7, 3, 4, 5
    model = build_model(kind, I, H, seed=6, activation=act,
                        **({"forget_bias": 0.5} if kind == "lstm" else {}))  # lstm only
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((T, B, I))
    h0 = rng.standard_normal((B, H))
    c0 = rng.standard_normal((B, H))
    dh = rng.standard_normal((T, B, H))
    state0 = (h0, c0) if kind == "lstm" else (h0,)
    tr = forward(model, xs, state0)
    g = backward(model, tr, dh)

    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    kwargs = {"nonlinearity": act} if kind == "rnn" else {}
    net = cls(I, H, **kwargs).double()
    with torch.no_grad():
        for k, v in model.params.items():
            getattr(net, f"{k}_l0").copy_(torch.from_numpy(np.array(v)))
    tx = torch.tensor(xs, requires_grad=True)
    th0 = torch.tensor(h0[None], requires_grad=True)
    tc0 = torch.tensor(c0[None], requires_grad=True)
    out, _ = net(tx, (th0, tc0) if kind == "lstm" else th0)
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(tr.h, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    for k in model.params:
        np.testing.assert_allclose(
            g.params[k], getattr(net, f"{k}_l0").grad.numpy(), rtol=1e-10, atol=1e-12
        )
    np.testing.assert_allclose(g.x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.h0, th0.grad.numpy()[0], rtol=1e-10, atol=1e-12)
    if kind == "lstm":
        np.testing.assert_allclose(g.c0, tc0.grad.numpy()[0], rtol=1e-10, atol=1e-12)
