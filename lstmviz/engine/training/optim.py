"""Optimisers (SGD with momentum, Adam) and gradient clipping over dicts of float64 arrays.

Parameters and gradients are `dict[str, np.ndarray]` with the same keys (model params plus
readout, e.g. "weight_hh", "readout.weight"). Updates are in place on the caller's arrays, so
the caller owns writable copies. Optimiser state round-trips through `state_dict` /
`load_state_dict` as flat arrays (for .npz files).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from ..errors import EngineError

OPTIMIZERS = ("sgd", "adam")
CLIP_MODES = ("norm", "value")

Arrays = dict[str, np.ndarray]


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    """sqrt of the sum of squares of every entry of every array (inf if any is non-finite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = math.fsum(float(np.vdot(g, g)) for g in grads.values())
    return math.sqrt(total) if math.isfinite(total) else math.inf


def clip_by_norm(grads: Arrays, max_norm: float) -> tuple[float, float]:
    """Rescale all gradients together so their global norm is at most max_norm (in place).

    Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural
    networks", Algorithm 1: if ||g|| > threshold, g <- threshold * g / ||g||; the direction is
    kept. Returns (norm before, norm after).
    """
    norm = global_norm(grads)
    if not math.isfinite(norm):
        return norm, norm
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= scale
        return norm, max_norm
    return norm, norm


def clip_by_value(grads: Arrays, max_value: float) -> tuple[float, float]:
    """Clip every gradient entry into [-max_value, max_value] (in place; changes direction).

    Returns (norm before, norm after)."""
    before = global_norm(grads)
    for g in grads.values():
        np.clip(g, -max_value, max_value, out=g)
    return before, global_norm(grads)


def clip_gradients(grads: Arrays, clip: float | None, mode: str = "norm") -> tuple[float, float]:
    """Clip by global norm or by value (clip None: no clipping). Returns (before, after)."""
    if mode not in CLIP_MODES:
        raise EngineError(f"clip_mode: expected one of {CLIP_MODES}, got {mode!r}")
    if clip is None:
        n = global_norm(grads)
        return n, n
    return clip_by_norm(grads, clip) if mode == "norm" else clip_by_value(grads, clip)


def _positive(arg: str, value, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        want = ">= 0" if allow_zero else "> 0"
        raise EngineError(f"{arg}: expected a finite number {want}, got {value!r}")
    return float(value)


class Optimizer:
    """Base: `step(params, grads)` updates params in place; state as flat arrays."""

    name = "base"

    def __init__(self, lr: float) -> None:
        self.lr = _positive("lr", lr)
        self.t = 0  # number of updates taken

    def step(self, params: Arrays, grads: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _slots(self) -> dict[str, Arrays]:
        return {}

    def state_dict(self) -> Arrays:
        """Flat arrays: "t" and "<slot>/<param name>" for every moment buffer."""
        out: Arrays = {"t": np.array(self.t, dtype=np.int64)}
        for slot, bufs in self._slots().items():
            for k, a in bufs.items():
                out[f"{slot}/{k}"] = a.copy()
        return out

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        self.t = int(state["t"])
        for slot, bufs in self._slots().items():
            bufs.clear()
            prefix = f"{slot}/"
            for key, a in state.items():
                if key.startswith(prefix):
                    bufs[key[len(prefix) :]] = np.array(a, dtype=np.float64)


class SGD(Optimizer):
    """SGD with (heavy-ball) momentum, PyTorch's form: v <- mu v + g;  p <- p - lr v."""

    name = "sgd"

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = _positive("momentum", momentum, allow_zero=True)
        if self.momentum >= 1:
            raise EngineError(f"momentum: expected a number in [0, 1), got {momentum!r}")
        self.velocity: Arrays = {}

    def _slots(self) -> dict[str, Arrays]:
        return {"velocity": self.velocity}

    def step(self, params: Arrays, grads: Mapping[str, np.ndarray]) -> None:
        self.t += 1
        for k, p in params.items():
            g = grads[k]
            v = self.velocity.get(k)
            if v is None:
                v = self.velocity[k] = np.array(g, dtype=np.float64)  # PyTorch: v_1 = g_1
            else:
                v *= self.momentum
                v += g
            p -= self.lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction:
    m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
    p <- p - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)."""

    name = "adam"

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(lr)
        for arg, b in (("beta1", beta1), ("beta2", beta2)):
            if not (isinstance(b, numbers.Real) and 0 <= b < 1):
                raise EngineError(f"{arg}: expected a number in [0, 1), got {b!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = _positive("eps", eps)
        self.m: Arrays = {}
        self.v: Arrays = {}

    def _slots(self) -> dict[str, Arrays]:
        return {"m": self.m, "v": self.v}

    def step(self, params: Arrays, grads: Mapping[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        for k, p in params.items():
            g = grads[k]
            m = self.m.get(k)
            if m is None:
                m = self.m[k] = np.zeros_like(p)
                self.v[k] = np.zeros_like(p)
            v = self.v[k]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def make_optimizer(name: str, lr: float, **options) -> Optimizer:
    """ "sgd" (options: momentum) or "adam" (beta1, beta2, eps)."""
    if name == "sgd":
        return SGD(lr, **options)
    if name == "adam":
        return Adam(lr, **options)
    raise EngineError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")
