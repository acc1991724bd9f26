"""Shared helpers for engine tests: central finite differences and relative errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EPS = 1e-6


def rel_error(a: np.ndarray, n: np.ndarray) -> float:
    """Norm-based relative error ||a - n|| / max(||a|| + ||n||, 1e-8)."""
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-8))


def numeric_grad(
    f: Callable[[np.ndarray], float], x: np.ndarray, idx: np.ndarray | None = None
) -> np.ndarray:
    """Central differences of scalar f at x (float64) for the flat indices idx (all if None)."""
    x = np.array(x, dtype=np.float64)
    flat = x.reshape(-1)
    idx = np.arange(flat.size) if idx is None else idx
    out = np.empty(len(idx))
    for k, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + EPS
        fp = f(x)
        flat[i] = old - EPS
        fm = f(x)
        flat[i] = old
        out[k] = (fp - fm) / (2 * EPS)
    return out
