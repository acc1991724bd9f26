"""Toy sequence tasks that probe long-range memory, seeded and sequence-first (T, B, I).

impulse  I=1: x_1 = amplitude, then zeros; recall the amplitude at T (mse, last step).
noise    I=1: Gaussian inputs; output x_1 at T (mse, last step).
sine     I=1: sine with a period of `period` steps (default 20), random phase per sequence;
         predict the next value at every step (mse, every step).
adding   I=2: Hochreiter & Schmidhuber (1997): channel 0 uniform[0, 1] values, channel 1 marks
         one step in the first half and one in the second; output their sum at T (mse).
recall   I=K+1: one-hot symbol (K = n_symbols, default 4) at t = 1, blank (optionally noisy)
         steps, a cue on channel K at t = T; output the symbol at T (xent, K classes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import EngineError
from .model import check_choice, check_size

TASKS = ("impulse", "noise", "sine", "adding", "recall")


@dataclass(frozen=True, eq=False)
class Task:
    """Inputs xs (T, B, I) and targets for `loss_and_grad(..., loss=task.loss, where=task.where)`.

    targets: (B, O) floats for mse at the last step, (T, B, O) for mse at every step, (B,)
    int class indices for xent.
    """

    name: str
    xs: np.ndarray
    targets: np.ndarray
    loss: str
    output_size: int
    input_size: int
    description: str
    where: str = "last"


_OPTS: dict[str, dict[str, Any]] = {
    "impulse": {"amplitude": 1.0},
    "noise": {"std": 1.0},
    "sine": {"period": 20.0},
    "adding": {},
    "recall": {"n_symbols": 4, "noise": 0.0},
}


def make_task(name: str, seq_len: int, batch_size: int = 1, *, seed: int = 0, **opts) -> Task:
    """Build the named task with T = seq_len steps and B = batch_size sequences."""
    check_choice("name", name, TASKS)
    T = check_size("seq_len", seq_len)
    B = check_size("batch_size", batch_size)
    allowed = _OPTS[name]
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise EngineError(
            f"{unknown[0]}: not an option of task {name!r} (options: {sorted(allowed) or 'none'})"
        )
    o = {**allowed, **opts}
    for key, val in o.items():
        if isinstance(val, bool) or not isinstance(val, int | float) or not np.isfinite(val):
            raise EngineError(f"{key}: expected a finite number, got {val!r}")
    rng = np.random.default_rng(seed)
    if name == "impulse":
        xs = np.zeros((T, B, 1))
        xs[0] = o["amplitude"]
        targets = np.full((B, 1), float(o["amplitude"]))
        desc = "A single impulse at the first step must be recalled at the last step."
        return Task(name, xs, targets, "mse", 1, 1, desc)
    if name == "noise":
        if o["std"] <= 0:
            raise EngineError(f"std: expected a number > 0, got {o['std']!r}")
        xs = rng.standard_normal((T, B, 1)) * o["std"]
        desc = "Gaussian noise inputs; the first value must be reproduced at the last step."
        return Task(name, xs, xs[0].copy(), "mse", 1, 1, desc)
    if name == "sine":
        if o["period"] <= 0:
            raise EngineError(f"period: expected a number > 0, got {o['period']!r}")
        phase = rng.uniform(0, 2 * np.pi, size=B)
        t = np.arange(T + 1)[:, None]
        wave = np.sin(2 * np.pi * t / o["period"] + phase)[..., None]  # (T+1, B, 1)
        desc = f"A sine wave of period {o['period']:g} steps; predict the next value every step."
        return Task(name, wave[:-1].copy(), wave[1:].copy(), "mse", 1, 1, desc, "every")
    if name == "adding":
        if T < 2:
            raise EngineError(f"seq_len: expected >= 2 for the adding task, got {T}")
        xs = np.zeros((T, B, 2))
        xs[:, :, 0] = rng.uniform(0, 1, size=(T, B))
        half = T // 2
        first = rng.integers(0, half, size=B)
        second = rng.integers(half, T, size=B)
        cols = np.arange(B)
        xs[first, cols, 1] = 1.0
        xs[second, cols, 1] = 1.0
        targets = (xs[first, cols, 0] + xs[second, cols, 0])[:, None]
        desc = (
            "Add the two values marked on channel 1 (one per half) and output the sum at the end."
        )
        return Task(name, xs, targets, "mse", 1, 2, desc)
    # recall
    K = o["n_symbols"]
    if isinstance(K, float) and K.is_integer():
        K = int(K)
    if not isinstance(K, int) or K < 2:
        raise EngineError(f"n_symbols: expected an integer >= 2, got {o['n_symbols']!r}")
    if o["noise"] < 0:
        raise EngineError(f"noise: expected a number >= 0, got {o['noise']!r}")
    symbols = rng.integers(0, K, size=B)
    xs = np.zeros((T, B, K + 1))
    if o["noise"] > 0 and T > 1:
        xs[1:, :, :K] = rng.standard_normal((T - 1, B, K)) * o["noise"]
    xs[0, np.arange(B), symbols] = 1.0
    xs[T - 1, :, K] = 1.0
    desc = f"Remember which of {K} symbols was shown first and name it when cued at the end."
    return Task(name, xs, symbols, "xent", K, K + 1, desc)
