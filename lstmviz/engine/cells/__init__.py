"""The cell zoo: one module per recurrent cell kind and the registry that lists them.

`get(kind)` -> CellKind (see base.py for what each kind provides); `kinds()` in course order;
`run_forward` / `run_backward` run any kind over a sequence (run.py).
"""

from .base import CellKind, Gate, Keep, Option, StepGrad, StepJacobians, check_params
from .registry import BUILTIN, PRESETS, Preset, get, kinds, register, unregister
from .run import Backward, Forward, LastStep, last_step_grads, run_backward, run_forward

__all__ = [
    "BUILTIN",
    "Backward",
    "CellKind",
    "Forward",
    "Gate",
    "Keep",
    "LastStep",
    "Option",
    "PRESETS",
    "Preset",
    "StepGrad",
    "StepJacobians",
    "check_params",
    "get",
    "kinds",
    "last_step_grads",
    "register",
    "run_backward",
    "run_forward",
    "unregister",
]
