"""Linear readout y_t = h_t @ W^T + b and the two losses (MSE, softmax cross-entropy).

MSE is the mean over all elements of (y - target)^2 (over batch, outputs, and steps when
where="every"). Cross-entropy is the mean over batch (and steps) of -log softmax(y)[target].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import EngineError
from .linalg import log10_frobenius_per_step
from .model import check_choice, check_size
from .unroll import as_float_array

LOSSES = ("mse", "xent")
WHERE = ("last", "every")


@dataclass(frozen=True, eq=False)
class Readout:
    """weight (O, H), bias (O,)."""

    weight: np.ndarray
    bias: np.ndarray

    def __post_init__(self) -> None:
        w = as_float_array("readout.weight", self.weight, "shape (O, H)")
        b = as_float_array("readout.bias", self.bias, "shape (O,)")
        if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
            raise EngineError(f"readout.weight: expected shape (O, H), got {w.shape}")
        if b.shape != (w.shape[0],):
            raise EngineError(f"readout.bias: expected shape ({w.shape[0]},), got {b.shape}")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "bias", b)

    @property
    def output_size(self) -> int:
        return self.weight.shape[0]

    @property
    def hidden_size(self) -> int:
        return self.weight.shape[1]

    def __call__(self, h: np.ndarray) -> np.ndarray:
        """Outputs y = h @ W^T + b for h (..., H) -> (..., O)."""
        return h @ self.weight.T + self.bias


def build_readout(hidden_size: int, output_size: int, seed: int = 0) -> Readout:
    """nn.Linear-style init: uniform(-1/sqrt(H), 1/sqrt(H)) for weight and bias."""
    H = check_size("hidden_size", hidden_size)
    O = check_size("output_size", output_size)
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(H)
    return Readout(rng.uniform(-k, k, size=(O, H)), rng.uniform(-k, k, size=O))


def _log_softmax(y: np.ndarray) -> np.ndarray:
    z = y - y.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _targets(targets, loss: str, shape: tuple[int, ...], O: int) -> np.ndarray:
    """Validate targets against the outputs' leading shape (B,) or (T, B)."""
    if loss == "mse":
        want = (*shape, O)
        t = as_float_array("targets", targets, f"shape {want}")
        if t.shape != want and t.size == int(np.prod(want)) and shape[-1] == 1:
            t = t.reshape(want)  # B = 1 given without the batch axis
        if t.shape != want:
            raise EngineError(f"targets: expected shape {want} for mse, got {t.shape}")
        return t
    t = np.asarray(targets)
    if t.dtype.kind not in "iu":
        raise EngineError(f"targets: expected integer class indices for xent, got dtype {t.dtype}")
    if t.shape != shape and t.size == int(np.prod(shape)) and shape[-1] == 1:
        t = t.reshape(shape)
    if t.shape != shape:
        raise EngineError(f"targets: expected shape {shape} of class indices, got {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= O):
        raise EngineError(
            f"targets: expected class indices in [0, {O - 1}], got {t.min()}..{t.max()}"
        )
    return t


def loss_and_grad(
    readout: Readout, h, targets, *, loss: str = "mse", where: str = "last"
) -> tuple[float, np.ndarray, dict[str, np.ndarray]]:
    """Loss of the readout on h (T, B, H) or (T, H) -> (loss, dh (T, B, H), {"weight", "bias"}).

    where="last": only y_T is scored (targets (B, O) for mse, (B,) for xent);
    where="every": every y_t (targets (T, B, O) or (T, B)). dh is zero where not scored.
    """
    check_choice("loss", loss, LOSSES)
    check_choice("where", where, WHERE)
    if not isinstance(readout, Readout):
        raise EngineError(f"readout: expected a Readout, got {type(readout).__name__}")
    H, O = readout.hidden_size, readout.output_size
    ha = as_float_array("h", h, f"shape (T, B, {H})")
    if ha.ndim == 2:
        ha = ha[:, None, :]
    if ha.ndim != 3 or ha.shape[2] != H or ha.shape[0] < 1:
        raise EngineError(f"h: expected shape (T, B, {H}) or (T, {H}), got {np.shape(h)}")
    T, B, _ = ha.shape
    hs = ha[-1:] if where == "last" else ha  # (S, B, H) scored steps
    lead = (B,) if where == "last" else (T, B)
    tg = _targets(targets, loss, lead, O)
    if where == "last":
        tg = tg[None]
    with np.errstate(over="ignore", invalid="ignore"):
        y = readout(hs)  # (S, B, O)
        if loss == "mse":
            diff = y - tg
            value = float(np.mean(diff * diff))
            dy = 2.0 * diff / diff.size
        else:
            logp = _log_softmax(y)
            n = tg.size
            picked = np.take_along_axis(logp, tg[..., None], axis=-1)
            value = float(-picked.sum() / n)
            dy = np.exp(logp)
            np.put_along_axis(dy, tg[..., None], np.take_along_axis(dy, tg[..., None], -1) - 1, -1)
            dy /= n
        dh = np.zeros((T, B, H))
        dh[-hs.shape[0] :] = dy @ readout.weight
        S = hs.shape[0]
        dread = {
            "weight": dy.reshape(S * B, O).T @ hs.reshape(S * B, H),
            "bias": dy.reshape(S * B, O).sum(axis=0),
        }
    return value, dh, dread


def log10_loss(readout: Readout, h, targets, *, loss: str = "mse", where: str = "last") -> float:
    """log10 of the loss `loss_and_grad` returns, exact where the float overflows (an MSE of
    10^376 from outputs of 10^188 is finite in the log domain). Same arguments."""
    value, _, _ = loss_and_grad(readout, h, targets, loss=loss, where=where)
    if loss != "mse" or np.isfinite(value):
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.log10(value))
    ha = np.asarray(h, dtype=np.float64)
    if ha.ndim == 2:
        ha = ha[:, None, :]
    hs = ha[-1:] if where == "last" else ha
    lead = hs.shape[:2] if where == "every" else (hs.shape[1],)
    tg = _targets(targets, loss, lead, readout.output_size)
    with np.errstate(all="ignore"):
        diff = readout(hs) - (tg[None] if where == "last" else tg)
        # mean of squares = ||diff||_F^2 / n, the norm computed scaled
        return float(2.0 * log10_frobenius_per_step(diff.reshape(1, -1))[0]
                     - np.log10(diff.size))
