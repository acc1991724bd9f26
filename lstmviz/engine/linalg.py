"""Small dense linear-algebra helpers that never raise or warn on non-finite input."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Threads a big stack of LAPACK calls is split over (NumPy's linalg gufuncs release the GIL):
#: 2 on a machine with 2 or more cores, else 1. Tests and benchmarks may set it. The split
#: (`_split_map`), and the work `defer` hands the pool while the caller goes on, happen only
#: while a core is spare (1-minute load average below cores - 0.5): on a busy machine a
#: second thread only competes with the other processes. The values are the same either way
#: (each matrix is computed alone).
THREADS = 2 if (os.cpu_count() or 1) >= 2 else 1


def _core_spare() -> bool:
    try:
        return os.getloadavg()[0] < (os.cpu_count() or 1) - 0.5
    except (AttributeError, OSError):  # pragma: no cover - no load average (Windows)
        return True


#: Below this many matrix entries (N * n * n) a stack is not worth a second thread.
_SPLIT_ENTRIES = 1 << 18
#: ... nor a `defer` job (spread over more parts, it is taken back where the pool lags).
DEFER_ENTRIES = 1 << 16

_POOL_NAME = "lstmviz-linalg"
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


#: Jobs in the pool not finished yet (`defer`): `_split_map` then runs in the calling thread
#: (a half queued behind them would only make it wait).
_pending = 0


def pool_spare() -> bool:
    """Whether work may go to the pool: THREADS >= 2, not already in the pool thread, and a
    core spare."""
    return (THREADS >= 2 and not threading.current_thread().name.startswith(_POOL_NAME)
            and _core_spare())


def _threaded(stack: np.ndarray, entries: int | None = None) -> bool:
    """Whether work on this stack goes to the pool: `pool_spare` and a stack of 2 or more
    matrices with at least `entries` (default _SPLIT_ENTRIES) entries."""
    big = stack.size >= (_SPLIT_ENTRIES if entries is None else entries)
    return stack.shape[0] >= 2 and big and pool_spare()


def _submit(fn, *args):
    """fn(*args) as a future of the pool (created on first use), counted in `_pending`."""
    global _pool, _pending
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_POOL_NAME)
        _pending += 1
    fut = _pool.submit(fn, *args)
    fut.add_done_callback(_finished)  # also called when the future is cancelled
    return fut


def _finished(_fut) -> None:
    global _pending
    with _pool_lock:
        _pending -= 1


class Deferred:
    """fn(stack) for a stack of matrices (fn maps N matrices to N values, each computed alone),
    computed in parts by the pool thread while the caller goes on (`defer`). result() takes
    back the parts the pool has not started (the last first) and computes them in the calling
    thread, waits for the others and joins them: the same values as fn(stack)."""

    def __init__(self, fn, stack: np.ndarray, parts: int):
        self._fn = fn
        self._value = None
        bounds = np.linspace(0, stack.shape[0], parts + 1).astype(int)
        self._parts = [stack[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        self._futures = [_submit(fn, part) for part in self._parts]

    @classmethod
    def now(cls, value: np.ndarray) -> Deferred:
        out = cls.__new__(cls)
        out._value, out._futures = value, []
        return out

    def result(self) -> np.ndarray:
        if self._value is None:
            values = [None] * len(self._futures)
            for i in range(len(self._futures) - 1, -1, -1):
                if self._futures[i].cancel():
                    values[i] = self._fn(self._parts[i])
            values = [f.result() if v is None else v
                      for f, v in zip(self._futures, values, strict=True)]
            self._value = np.concatenate(values)
            self._futures, self._parts = [], []
        return self._value

    def cancel(self) -> None:
        """Drop the parts not started (the caller gave up, e.g. a cancelled job)."""
        for f in self._futures:
            f.cancel()


def defer(fn, stack: np.ndarray, parts: int = 8) -> Deferred:
    """fn(stack) (fn as for `Deferred`), in up to `parts` parts of DEFER_ENTRIES entries or
    more in the pool thread while the caller goes on when a core is spare (`_threaded`),
    else at once; .result() gives it."""
    if not _threaded(stack, DEFER_ENTRIES):
        return Deferred.now(fn(stack))
    return Deferred(fn, stack, max(1, min(parts, stack.shape[0], stack.size // DEFER_ENTRIES)))


def _split_map(fn, *stacks: np.ndarray, interleave: bool = False) -> np.ndarray:
    """fn(*stacks) with the stacks' first axis split over THREADS threads (fn maps a stack of
    N matrices to N values, no Python state shared); the same values as fn on the whole.
    interleave: even and odd indices go to different threads (balances a stack whose cost
    grows along the axis), else the first and second halves. In the calling thread alone
    while the pool has `defer` jobs."""
    if _pending or not _threaded(stacks[0]):
        return fn(*stacks)
    n = stacks[0].shape[0]
    if interleave:
        fut = _submit(fn, *(s[1::2] for s in stacks))
        first = fn(*(s[0::2] for s in stacks))
        second = fut.result()
        out = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        out[0::2] = first
        out[1::2] = second
        return out
    h = n // 2
    fut = _submit(fn, *(s[h:] for s in stacks))
    first = fn(*(s[:h] for s in stacks))
    return np.concatenate((first, fut.result()))


def _pow2_scaled(m: np.ndarray):
    """(m / 2**e, e, finite, nonzero) per matrix of a stack (N, a, b), 2**e a power of two near
    max |entry|: the division is exact (no rounding), so the scaled norms times 2**e are the
    norms, for entries from 1e-300 to 1e300. `finite`: no NaN or inf entry. Matrices whose
    largest entry is within 2**+-_SAFE_EXP keep e = 0 and are not copied (their Gram matrices
    neither overflow nor lose precision to underflow): only the others are rescaled."""
    n = m.shape[0]
    if m.shape[1] * m.shape[2] == 0:
        return m, np.zeros(n, dtype=int), np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    with np.errstate(all="ignore"):
        top = np.maximum(m.max(axis=(1, 2)), -m.min(axis=(1, 2)))  # NaN propagates
    finite = np.isfinite(top)
    nonzero = finite & (top > 0)
    e = np.frexp(np.where(nonzero, top, 1.0))[1]
    far = np.abs(e) > _SAFE_EXP
    e[~far] = 0
    if far.any():
        idx = np.flatnonzero(far)
        m = m.copy()
        m[idx] = np.ldexp(m[idx], -e[idx, None, None])
    return m, e, finite, nonzero


#: Largest entries within 2**+-_SAFE_EXP need no rescaling: Gram matrices of such stacks and
#: the squares of their entries (the block bound of `product_norms`) stay far from overflow
#: and underflow for n up to 2**20.
_SAFE_EXP = 100
#: `spectral_norms` takes the Gram matrix as it is where its largest diagonal entry lies in
#: [_GRAM_LO, _GRAM_HI] = 2**+-(2 _SAFE_EXP).
_GRAM_LO, _GRAM_HI = 2.0 ** (-2 * _SAFE_EXP), 2.0 ** (2 * _SAFE_EXP)


def _gram(a: np.ndarray) -> np.ndarray:
    """a a^T on the smaller side of each matrix of a stack (N, p, q) -> (N, s, s)."""
    if a.shape[1] > a.shape[2]:
        return a.transpose(0, 2, 1) @ a
    return a @ a.transpose(0, 2, 1)


def _eig_top(g: np.ndarray) -> np.ndarray:
    if g.shape[0] == 0:
        return np.zeros(0)
    return np.maximum(np.linalg.eigvalsh(g)[:, -1], 0.0)


def _exact_top(g: np.ndarray) -> np.ndarray:
    """lambda_max of each symmetric PSD matrix of a stack: LAPACK's eigvalsh (the exact path),
    split over THREADS threads for big stacks."""
    return _split_map(_eig_top, g)


def spectral_norms(m: np.ndarray) -> np.ndarray:
    """Largest singular value of each matrix in a stack (N, a, b) -> (N,).

    Computed as sqrt(lambda_max(A A^T)) on the smaller side after scaling each matrix by a
    power of two at its largest entry (exact), so huge or tiny entries neither overflow nor
    underflow (a norm above the largest float is inf). Matrices with a non-finite entry give
    NaN, all-zero ones 0. Big stacks are split over THREADS threads (same values).
    """
    m = np.asarray(m, dtype=np.float64)
    n = m.shape[0]
    out = np.full(n, np.nan)
    if n == 0:
        return out
    if m.shape[1] * m.shape[2]:
        # The common case in one pass: where the largest squared row norm (the Gram matrix's
        # largest diagonal entry, NaN or inf if an entry is) lies within 2**+-_GRAM_EXP, the
        # Gram matrix neither overflows nor loses lambda_max to underflow: no rescaling
        # (values as with it: scaling by 2**-e is exact there).
        with np.errstate(all="ignore"):
            g = _gram(m)
            top = np.diagonal(g, axis1=1, axis2=2).max(axis=1)
        plain = (top >= _GRAM_LO) & (top <= _GRAM_HI)
        if plain.all():
            return np.sqrt(_exact_top(g))
        if plain.any():
            out[plain] = np.sqrt(_exact_top(g[plain]))
            rest = np.flatnonzero(~plain)
            out[rest] = spectral_norms(m[rest])
            return out
    a, e, finite, nonzero = _pow2_scaled(m)
    out[finite & ~nonzero] = 0.0
    with np.errstate(over="ignore"):  # a norm above the largest float is inf, honestly
        if nonzero.all():
            return np.ldexp(np.sqrt(_exact_top(_gram(a))), e)
        idx = np.flatnonzero(nonzero)
        if idx.size:
            out[idx] = np.ldexp(np.sqrt(_exact_top(_gram(a[idx]))), e[idx])
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


#: log10(2): a power-of-two scale 2**e is 10**(e * LOG10_2).
LOG10_2 = float(np.log10(2.0))


def log10_frobenius_per_step(a: np.ndarray) -> np.ndarray:
    """log10 ||a[t]||_F for a stack (T, ...) -> (T,), exact for any finite entries (each row is
    divided by its largest |entry| first: entries of 1e-300 or 1e300 give the right norm).

    -inf for an all-zero row, +inf if a row holds an inf, NaN if it holds a NaN.
    """
    flat = a.reshape(a.shape[0], -1)
    with np.errstate(all="ignore"):
        scale = np.abs(flat).max(axis=1) if flat.shape[1] else np.zeros(flat.shape[0])
        ok = (scale > 0) & np.isfinite(scale)
        safe = np.where(ok, scale, 1.0)
        u = flat / safe[:, None]
        out = np.log10(safe) + 0.5 * np.log10(np.einsum("ti,ti->t", u, u))
        out = np.where(ok, out, np.log10(scale))  # 0 -> -inf, inf -> inf, NaN -> NaN
    return out


def log10_frob_products(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """log10 ||u_t^T v_t||_F for stacked u (T, B, m), v (T, B, n), exact for any finite entries
    (each step's u and v divided by their largest entry first); without forming u_t^T v_t.

    ||U^T V||_F^2 = sum((U U^T) * (V V^T)) over the B x B Gram matrices. -inf for an exact zero,
    NaN if a factor holds a non-finite entry.
    """
    T, B, m = u.shape
    n = v.shape[2]
    with np.errstate(all="ignore"):
        su = np.abs(u).reshape(T, -1).max(axis=1) if u.size else np.zeros(T)
        sv = np.abs(v).reshape(T, -1).max(axis=1) if v.size else np.zeros(T)
        finite = np.isfinite(su) & np.isfinite(sv)
        ok = finite & (su > 0) & (sv > 0)
        su_safe = np.where(ok, su, 1.0)
        sv_safe = np.where(ok, sv, 1.0)
        u = np.where(ok[:, None, None], u / su_safe[:, None, None], 0.0)
        v = np.where(ok[:, None, None], v / sv_safe[:, None, None], 0.0)
        if B == 1:
            sq = np.einsum("tbm,tbm->t", u, u) * np.einsum("tbn,tbn->t", v, v)
        elif B * B * (m + n) < B * m * n:
            gu = u @ u.transpose(0, 2, 1)
            gv = v @ v.transpose(0, 2, 1)
            sq = np.maximum(np.einsum("tab,tab->t", gu, gv), 0.0)
        else:
            sq = np.einsum("tmn,tmn->t", *(2 * [u.transpose(0, 2, 1) @ v]))
        out = 0.5 * np.log10(sq) + np.log10(su_safe) + np.log10(sv_safe)
        out = np.where(ok, out, np.where(finite, -np.inf, np.log10(su * sv)))  # inf stays inf
    return out


def pow10(log10_value: np.ndarray) -> np.ndarray:
    """10 ** log10_value as float64, honest at the ends: 0 below the smallest float, inf above
    the largest, NaN for NaN; no warning."""
    with np.errstate(all="ignore"):
        return np.power(10.0, np.asarray(log10_value, dtype=np.float64))


# --- certified fast spectral norms ---------------------------------------------------------
#
# A stack of N dense H x H norms by batched eigvalsh costs ~0.15 ms per matrix at H = 64 (the
# tridiagonal reduction; as slow in float32). Iterative alternatives with a proof measured
# slower on single step Jacobians, whose top singular values do not separate (lambda_2 /
# lambda_1 ~ 0.95, lambda_17 / lambda_1 ~ 0.4-0.7 at H = 64): a batched Lanczos ~15% faster
# at best; a Chebyshev-filtered block of 16 with a Cholesky certificate of
# theta (1 + CERT_TOL) I - G 1.3-1.8x slower (NumPy's per-call cost on (N, 64, 16) QR and
# eigh); so `spectral_norms` stays with eigvalsh, split over THREADS threads (and handed to
# the pool by `defer` while the diagnostics build the products). Measured again for issue 16
# (T = 200, H = 64, 1 thread): a proof to 1e-12 by a residual bound needs the top vector to
# ~1e-7 (Krylov spaces of ~40 of the 64 dimensions at these gaps; the GRU's spectrum is
# flatter still, sigma_33 / sigma_1 ~ 0.75), and NumPy's batched Cholesky (for a
# theta (1 + tol) I - G certificate) alone costs a third of eigvalsh at H = 64, before any
# estimate accurate enough to certify. Products
# (dh_T/dh_t) separate fast, and the block method of `product_norms` gets a lower bound
# theta <= lambda_max(G) (G = M M^T) from a Ritz value and proves it tight,
# lambda_max(G) <= theta (1 + CERT_TOL), by the block bound of `_block_ritz`; so sqrt(theta)
# is within CERT_TOL / 2 of sigma_max. Whatever is not proved is computed by eigvalsh.

#: Relative bound on lambda_max (= sigma_max^2) that a certificate must prove.
CERT_TOL = 1e-12

#: Counts of norms proved by the block method of `product_norms` and of its exact fallbacks
#: (tests and benchmarks read it; "lanczos" stays 0 since spectral_norms uses eigvalsh).
FAST_STATS = {"block": 0, "lanczos": 0, "fallback": 0}


def _block_ritz(p: np.ndarray, u: np.ndarray, iters: int):
    """Subspace iteration u <- p p^T u from u ((n, k) or (N, n, k)), orthonormalised (QR) at
    the end, then Rayleigh-Ritz.

    Returns (theta, proved, u): theta the top Ritz value of G = p p^T on span(u) (a lower
    bound on lambda_max(G)), proved where lambda_max(G) <= theta (1 + CERT_TOL) follows from
    the block bound below, u the final orthonormal blocks (N, n, k).

    In the basis [v_1, v_2 .. v_k, W] (Ritz vectors, then an orthonormal complement) G has the
    Ritz values theta_1 >= theta_2 .. on the diagonal of its first k rows, zeros between
    them, and couplings r_j = W^T G v_j (the residuals). For a symmetric block matrix
    [[A, C], [C^T, E]], lambda_max <= (a + e) / 2 + sqrt(((a - e) / 2)^2 + ||C||^2) with
    a >= lambda_max(A), e >= lambda_max(E). Applied twice: d bounds lambda_max of G on
    v_1's complement (a = theta_2, e = tr E = ||p||_F^2 - ||U^T p||_F^2 plus a margin for
    the cancellation, ||C||^2 <= sum_{j >= 2} ||r_j||^2); then, if d < theta_1,
    lambda_max(G) <= theta_1 + 2 ||r_1||^2 / ((theta_1 - d) + sqrt((theta_1 - d)^2 +
    4 ||r_1||^2)), proved when that is within CERT_TOL of theta_1. Only v_1's residual has to
    be tiny, and it converges like (lambda_{k+1} / lambda_1)^iters.
    """
    for i in range(iters):
        y = (u.T if u.ndim == 2 else u.transpose(0, 2, 1)) @ p
        u = p @ y.transpose(0, 2, 1)
        if i < iters - 1:  # the same subspace as with a QR each time: unit columns suffice
            u = u / np.sqrt(np.einsum("nik,nik->nk", u, u))[:, None, :]
        else:  # the basis the bound below needs: orthonormal
            u = np.linalg.qr(u)[0]
    ut = u.T if u.ndim == 2 else u.transpose(0, 2, 1)
    y = ut @ p  # U^T P (N, k, n)
    s = y @ y.transpose(0, 2, 1)  # U^T G U (N, k, k)
    w, q = np.linalg.eigh(s)  # Ritz values (ascending) and their coordinates in U
    theta = w[:, -1]
    b = q.transpose(0, 2, 1) @ (y @ p.transpose(0, 2, 1) - s @ ut)  # rows: residuals r_j
    sq = np.einsum("nij,nij->ni", b, b)  # ||r_j||^2, j ascending like w
    r1 = sq[:, -1]
    c2 = sq[:, :-1].sum(axis=1)
    fp = np.einsum("nij,nij->n", p, p)
    tre = np.maximum(fp - np.einsum("nij,nij->n", y, y), 0.0) + 1e-13 * fp
    th2 = w[:, -2] if w.shape[1] > 1 else np.zeros_like(theta)
    d = 0.5 * (th2 + tre) + np.sqrt((0.5 * (th2 - tre)) ** 2 + c2)
    gap = theta - d
    excess = 2 * r1 / (gap + np.sqrt(gap * gap + 4 * r1))
    proved = (theta > 0) & (gap > 0) & (excess <= CERT_TOL * theta)
    if u.ndim == 2:
        u = np.broadcast_to(u, (p.shape[0], *u.shape))
    return theta, proved, u


def product_norms(p: np.ndarray, k: int = 8) -> np.ndarray:
    """`spectral_norms` for a stack of square products whose top singular values separate (as
    in dh_T/dh_t, index 0 = the longest product), to CERT_TOL / 2 relative, proved per matrix.

    A block of k approximate top left singular vectors, warm-started from the longest product,
    gives by Rayleigh-Ritz a lower bound theta <= lambda_max(P P^T) (2 subspace iterations,
    4 more for the matrices not yet proved) and the block bound of `_block_ritz` proves
    lambda_max <= theta (1 + CERT_TOL). Whatever is not proved is computed exactly
    (eigvalsh)."""
    p = np.asarray(p, dtype=np.float64)
    N = p.shape[0]
    out = np.full(N, np.nan)
    if N == 0:
        return out
    a, e, finite, nonzero = _pow2_scaled(p)
    out[finite & ~nonzero] = 0.0
    idx = np.flatnonzero(nonzero)
    if idx.size == 0:
        return out
    if idx.size < N:
        a, e = a[idx], e[idx]
    n = a.shape[1]
    k = min(k, n)
    with np.errstate(all="ignore"):
        # start block: the longest product's dominant left subspace (a few iterations)
        u0 = np.linalg.qr(a[0] @ np.cos(np.arange(n)[:, None] * (1.0 + np.arange(k))))[0]
        u0 = _block_ritz(a[:1], u0, 3)[2][0]
        res = _split_map(lambda part: _product_core(part, u0), a, interleave=True)
    n_exact = int(res[:, 1].sum())
    FAST_STATS["block"] += idx.size - n_exact
    FAST_STATS["fallback"] += n_exact
    with np.errstate(over="ignore"):  # a norm above the largest float is inf, honestly
        out[idx] = np.ldexp(np.sqrt(np.maximum(res[:, 0], 0.0)), e)
    return out


def _product_core(a: np.ndarray, u0: np.ndarray) -> np.ndarray:
    """(N, 2): lambda_max(a a^T) per matrix (proved, see `product_norms`) and 1.0 where it
    took the exact path. Runs in one thread (it may itself be a part of a split stack)."""
    lam = np.empty(a.shape[0])
    exact_flag = np.zeros(a.shape[0])
    with np.errstate(all="ignore"):
        theta, good, u = _block_ritz(a, u0, 2)
        lam[good] = theta[good]
        todo = np.flatnonzero(~good)
        if todo.size:  # near the end of the product: more iterations, then eigvalsh
            at = a[todo]
            th2, ok2, _ = _block_ritz(at, u[todo], 4)
            lam[todo[ok2]] = th2[ok2]
            exact = np.flatnonzero(~ok2)
            if exact.size:
                lam[todo[exact]] = _eig_top(_gram(at[exact]))
                exact_flag[todo[exact]] = 1.0
    return np.stack((lam, exact_flag), axis=1)
