"""Parameter initialisation schemes (seeded, reproducible) in PyTorch's layout.

- "pytorch": every tensor uniform(-1/sqrt(H), 1/sqrt(H)), as nn.RNN/LSTM/GRU do.
- "xavier": Glorot-uniform weights per gate block (fan_in + fan_out = I + H or 2H), zero biases.
- "orthogonal": each gate's H x H recurrent block orthogonal, Xavier input weights, zero biases.
- "identity": each gate's H x H recurrent block the identity, Xavier input weights, zero biases
  (IRNN, Le, Jaitly & Hinton 2015: a relu RNN that starts by copying its state).

Draw order is fixed (weight_ih, weight_hh, bias_ih, bias_hh) so a seed always means the same model.
"""

from __future__ import annotations

import numpy as np

from .linalg import spectral_norms

INITS = ("pytorch", "xavier", "orthogonal")
#: Every scheme init_params accepts: INITS plus "identity" (offered per kind by engine.cells;
#: deterministic in weight_hh, so it is not one of the seeded schemes build_model lists).
ALL_INITS = (*INITS, "identity")


def _xavier(rng: np.random.Generator, G: int, H: int, n_in: int) -> np.ndarray:
    a = np.sqrt(6.0 / (n_in + H))
    return rng.uniform(-a, a, size=(G * H, n_in))


def _orthogonal(rng: np.random.Generator, G: int, H: int) -> np.ndarray:
    blocks = []
    for _ in range(G):
        q, r = np.linalg.qr(rng.standard_normal((H, H)))
        blocks.append(q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r))))  # Haar measure
    return np.concatenate(blocks, axis=0)


def init_params(
    init: str, G: int, input_size: int, hidden_size: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Fresh parameters for G gates: weight_ih (GH, I), weight_hh (GH, H), biases (GH,)."""
    H, I = hidden_size, input_size
    if init == "pytorch":
        k = 1.0 / np.sqrt(H)
        return {
            "weight_ih": rng.uniform(-k, k, size=(G * H, I)),
            "weight_hh": rng.uniform(-k, k, size=(G * H, H)),
            "bias_ih": rng.uniform(-k, k, size=G * H),
            "bias_hh": rng.uniform(-k, k, size=G * H),
        }
    w_ih = _xavier(rng, G, H, I)
    if init == "xavier":
        w_hh = _xavier(rng, G, H, H)
    elif init == "identity":
        w_hh = np.tile(np.eye(H), (G, 1))
    else:
        w_hh = _orthogonal(rng, G, H)
    return {
        "weight_ih": w_ih,
        "weight_hh": w_hh,
        "bias_ih": np.zeros(G * H),
        "bias_hh": np.zeros(G * H),
    }


def rescale_recurrent(weight_hh: np.ndarray, G: int, scale: float) -> np.ndarray:
    """Scale each gate's H x H block of weight_hh so its largest singular value equals `scale`.

    An all-zero block stays zero (nothing to scale).
    """
    H = weight_hh.shape[1]
    out = weight_hh.copy()
    # one batched exact norm for all G blocks (3x faster than an SVD each at H = 512)
    norms = spectral_norms(out.reshape(G, H, H)) if G * H else np.zeros(G)
    for k in range(G):
        s = norms[k]
        if s > 0:
            out[k * H : (k + 1) * H] *= scale / s
    return out
