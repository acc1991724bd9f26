"""Optional: the ported rnn, lstm and gru against PyTorch (skipped cleanly without torch)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine.cells import get, run_backward, run_forward

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(("name", "act"), [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None),
                                           ("gru", None)])
def test_cells_match_pytorch(name, act):
    T, B, I, H = 6, 3, 4, 5
    kind = get(name)
    p = kind.init_params(I, H, np.random.default_rng(3))
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((T, B, I))
    state0 = tuple(rng.standard_normal((B, H)) for _ in kind.state)
    dh = rng.standard_normal((T, B, H))
    opts = {"activation": act} if act else {}
    fw = run_forward(kind, p, xs, state0, **opts)
    g = run_backward(fw, dh)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[name]
    net = cls(I, H, **({"nonlinearity": act} if act else {})).double()
    with torch.no_grad():
        for k, v in p.items():
            getattr(net, f"{k}_l0").copy_(torch.from_numpy(np.array(v)))
    tx = torch.tensor(xs, requires_grad=True)
    ts = [torch.tensor(s[None], requires_grad=True) for s in state0]
    out, _ = net(tx, tuple(ts) if name == "lstm" else ts[0])
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(fw.h, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    for k in p:
        np.testing.assert_allclose(g.dparams[k], getattr(net, f"{k}_l0").grad.numpy(),
                                   rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for d, s in zip(g.dstate0, ts, strict=True):
        np.testing.assert_allclose(d, s.grad.numpy()[0], rtol=1e-10, atol=1e-12)
