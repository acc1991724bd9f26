"""Pure-NumPy engine: RNN/LSTM/GRU cells, unrolling, BPTT, losses, tasks, diagnostics, weights.

Float64 throughout, PyTorch's parameter layout (see DESIGN.md, "Engine contract").
"""

from .activations import ACTIVATIONS
from .errors import EngineError, WeightFileError
from .init import INITS
from .model import KINDS, Model, build_model
from .unroll import Grads, Trace, backward, forward

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "KINDS",
    "EngineError",
    "Grads",
    "Model",
    "Trace",
    "WeightFileError",
    "backward",
    "build_model",
    "forward",
]
