"""Stacked RNN/LSTM/GRU against PyTorch's nn.RNN/LSTM/GRU(num_layers=L) (skips without torch)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine.stack import build_stack, stack_backward, stack_forward

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize(("kind", "act"), [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"),
                                           ("gru", "tanh")])
def test_stack_matches_pytorch(kind, act, L):
    T, B, I, H = 6, 3, 4, 5
    stack = build_stack(kind, I, H, num_layers=L, seed=2, activation=act)
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((T, B, I))
    dh = rng.standard_normal((T, B, H))
    tr = stack_forward(stack, xs)
    g = stack_backward(stack, tr, dh)

    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    kwargs = {"nonlinearity": act} if kind == "rnn" else {}
    net = cls(I, H, num_layers=L, **kwargs).double()
    sd = net.state_dict()
    assert set(sd) == set(stack.params)  # PyTorch's state_dict keys
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in stack.params.items()})
    tx = torch.tensor(xs, requires_grad=True)
    out, _ = net(tx)
    out.backward(torch.from_numpy(dh))
    np.testing.assert_allclose(tr.h, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    for k, p in net.named_parameters():
        np.testing.assert_allclose(g.params[k], p.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
