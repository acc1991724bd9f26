"""Pure-NumPy engine: recurrent cells of every registered kind, unrolling, BPTT, losses, tasks,
diagnostics, weights.

`cells` is the cell zoo (one module per kind and the registry, `cells.get(kind)`).

Float64 throughout, PyTorch's parameter layout (see DESIGN.md, "Engine contract").
"""

from . import cells
from .activations import ACTIVATIONS
from .diagnostics import (
    Diagnostics,
    complete_diagnostics,
    compute_diagnostics,
    forward_diagnostics,
    rnn_bound,
    sigma_max,
)
from .errors import EngineError, WeightFileError
from .init import INITS
from .linalg import spectral_norm
from .model import Model, build_model, options_for
from .readout import Readout, build_readout, loss_and_grad
from .tasks import TASKS, Task, make_task
from .unroll import Grads, Trace, backward, forward

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "KINDS",
    "TASKS",
    "Diagnostics",
    "EngineError",
    "Grads",
    "Model",
    "Readout",
    "Task",
    "Trace",
    "WeightFileError",
    "backward",
    "cells",
    "build_model",
    "build_readout",
    "complete_diagnostics",
    "compute_diagnostics",
    "forward_diagnostics",
    "forward",
    "load_weights",
    "loss_and_grad",
    "make_task",
    "options_for",
    "rnn_bound",
    "save_weights",
    "sigma_max",
    "spectral_norm",
]


def __getattr__(name: str):
    """KINDS: every registered kind in course order (cells.kinds(), read when asked);
    load_weights and save_weights from weights_io, imported on first use (its file formats
    are not needed to launch)."""
    if name == "KINDS":
        return cells.kinds()
    if name in ("load_weights", "save_weights"):
        from . import weights_io

        return getattr(weights_io, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
