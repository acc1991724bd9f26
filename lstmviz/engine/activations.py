"""Element-wise nonlinearities and their derivatives, safe for any finite or infinite input.

`sigmoid` uses the exp(-|x|) form so that x = +-1e4 (or inf) neither overflows nor warns;
derivatives are written in terms of the activation's output where that is cheaper.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ACTIVATIONS = ("tanh", "relu", "sigmoid")

#: sup |phi'(x)| for each activation (the gamma of the vanilla-RNN bound).
GAMMA = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic 1 / (1 + exp(-x)) without overflow: exp only ever sees -|x| <= 0."""
    e = np.exp(-np.abs(x))
    s = 1.0 / (1.0 + e)
    return np.where(x >= 0, s, e * s)


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def dsigmoid_from_out(s: np.ndarray) -> np.ndarray:
    """sigma'(x) given s = sigma(x)."""
    return s * (1.0 - s)


def dtanh_from_out(t: np.ndarray) -> np.ndarray:
    """tanh'(x) given t = tanh(x)."""
    return 1.0 - t * t


def drelu(x: np.ndarray) -> np.ndarray:
    """relu'(x): 1 where x > 0, 0 where x <= 0 (0 at the kink), NaN where x is not finite
    (a derivative taken at a non-finite state is NaN, never a silent 0)."""
    with np.errstate(invalid="ignore"):
        return (x > 0) + 0.0 * x


def act_and_grad(name: str) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return f(pre) -> (phi(pre), phi'(pre)) for the named activation."""
    if name == "tanh":

        def f(pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            h = np.tanh(pre)
            d = np.multiply(h, h)  # 1 - h^2 in place: no temporaries
            np.subtract(1.0, d, out=d)
            return h, d
    elif name == "sigmoid":

        def f(pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            h = sigmoid(pre)
            return h, h * (1.0 - h)
    elif name == "relu":

        def f(pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # (pre > 0) + 0 * pre: NaN where pre is not finite (forward runs under errstate)
            return np.maximum(pre, 0.0), (pre > 0) + 0.0 * pre
    else:
        raise KeyError(name)
    return f
