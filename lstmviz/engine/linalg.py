"""Small dense linear-algebra helpers that never raise or warn on non-finite input."""

from __future__ import annotations

import numpy as np


def spectral_norms(m: np.ndarray) -> np.ndarray:
    """Largest singular value of each matrix in a stack (N, a, b) -> (N,).

    Computed as sqrt(lambda_max(A A^T)) on the smaller side after scaling each matrix by its
    largest entry, so huge entries do not overflow. Matrices with a non-finite entry give NaN.
    """
    m = np.asarray(m, dtype=np.float64)
    n = m.shape[0]
    out = np.full(n, np.nan)
    if n == 0:
        return out
    with np.errstate(all="ignore"):
        scale = np.abs(m).max(axis=(1, 2))
    ok = np.isfinite(scale)  # NaN or inf anywhere makes the max non-finite
    out[ok & (scale == 0)] = 0.0
    idx = np.flatnonzero(ok & (scale > 0))
    if idx.size:
        a = m[idx] / scale[idx, None, None]
        if a.shape[1] > a.shape[2]:
            a = a.transpose(0, 2, 1)
        gram = a @ a.transpose(0, 2, 1)
        lam = np.linalg.eigvalsh(gram)[:, -1]
        out[idx] = scale[idx] * np.sqrt(np.maximum(lam, 0.0))
    return out


def spectral_norm(m: np.ndarray) -> float:
    """Largest singular value of one matrix; NaN if it holds a non-finite entry."""
    m = np.asarray(m, dtype=np.float64)
    return float(spectral_norms(m[None])[0])


def frobenius_per_step(a: np.ndarray) -> np.ndarray:
    """||a[t]||_F for a stack (T, ...) -> (T,), scaled so values near 1e150 do not overflow."""
    flat = a.reshape(a.shape[0], -1)
    with np.errstate(all="ignore"):
        scale = np.abs(flat).max(axis=1)
        safe = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
        out = safe * np.sqrt(np.einsum("ti,ti->t", flat / safe[:, None], flat / safe[:, None]))
        out = np.where(np.isfinite(scale), out, scale)  # inf stays inf, NaN stays NaN
    return np.where(scale == 0, 0.0, out)
