"""The walkthrough vocabulary: the keys a lecture file may use, the docks a step may name, the
claims' quantities (what each measures, the kinds it applies to) and how a sentence names them.
"""

from __future__ import annotations

import numpy as np

from lstmviz import views
from lstmviz.config import model_kinds
from lstmviz.engine import cells

PHASES = ("forward", "loss", "backward")
#: Dock names a step may show; the others are hidden (the walkthrough dock always stays).
DOCKS = views.DOCKS


class Kinds:
    """The model kinds a quantity applies to, read from the cell registry when asked (so a
    kind registered later counts): iterable, `in`, len, like the tuple it replaces."""

    def __init__(self, applies) -> None:
        self.applies = applies

    def _kinds(self) -> tuple[str, ...]:
        return tuple(k for k in model_kinds() if self.applies(cells.get(k)))

    def __iter__(self):
        return iter(self._kinds())

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds()

    def __len__(self) -> int:
        return len(self._kinds())

    def __getitem__(self, index):
        return self._kinds()[index]

    def __repr__(self) -> str:
        return repr(self._kinds())


def gates(kind: str) -> tuple[str, ...]:
    """Gate names of a kind (the engine's `trace.gates` keys)."""
    return tuple(g.name for g in cells.get(kind).gates)


def all_gates() -> tuple[str, ...]:
    """Every gate name some kind has (what highlight.gate may name)."""
    return tuple(dict.fromkeys(g for k in model_kinds() for g in gates(k)))


def _has_sigma(spec: cells.CellKind) -> bool:
    """Whether the kind has a sigma_max (a recurrent matrix, u or lambda)."""
    p = spec.init_params(1, 1, np.random.default_rng(0))
    return spec.sigma_max(p) is not None


def _keep_named(name: str):
    return lambda s: s.keep is not None and s.keep.gate == name


ALL = Kinds(lambda s: True)

TOP_KEYS = ("title", "description", "step")
STEP_KEYS = ("title", "narration", "setup", "docks", "cursor", "play", "highlight", "claims",
             "y_range", "sweep", "layer")
#: Exponents of ten a step's `y_range` may span (beyond float64 both ways, for log10 plots).
Y_RANGE_LIMIT = 100_000
CURSOR_KEYS = ("phase", "t")
#: A step's `sweep` preset of the Training dock's Sweep tab (never started by the step).
SWEEP_KEYS = ("task", "lengths", "iterations", "models")
#: Lengths a sweep may name per task (T for adding, lag L for recall), as the dock accepts.
SWEEP_LENGTHS = {"adding": (2, 1000), "recall": (1, 1000)}
SWEEP_MAX_ITERATIONS = 100_000
#: What `{sweep.key}` may fill in a narration: the preset's keys, its number of points and
#: the budget every point trains with (the sweep's TrainConfig).
SWEEP_PLACEHOLDERS = SWEEP_KEYS + ("points", "batch_size", "optimizer", "lr", "hidden_size",
                                   "clip")
HIGHLIGHT_KEYS = ("cell", "gate", "steps")
CELL_KEYS = ("model", "t")
CLAIM_KEYS = ("model", "quantity", "op", "value", "t")

#: The claims vocabulary: quantity -> (what it is, models it applies to, value kind).
#: Kind "magnitude": a positive ratio or norm, measured and compared as its log10 (exact far
#: beyond float64: 10^-777 is a value like any other); "number": a float64; "count": an
#: integer; "bool": true or false.
QUANTITIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "grad_ratio": ("||dL/dh_t|| / ||dL/dh_T|| (t = 1 unless given)", ALL, "magnitude"),
    "grad_c_ratio": ("||dL/dc_t|| / ||dL/dc_T|| (t = 1 unless given)",
                     Kinds(lambda s: s.has_cell), "magnitude"),
    "grad_norm": ("||dL/dh_t|| (t = 1 unless given)", ALL, "magnitude"),
    "grad_depth_ratio": ("||dL/dh_t^(1)|| / ||dL/dh_t^(L)||: through depth, the bottom "
                         "layer's gradient over the top layer's at the same step (t = T, "
                         "where the loss enters, unless given; 1 for one layer)", ALL,
                         "magnitude"),
    "grad_bottom_ratio": ("||dL/dh_t^(1)|| / ||dL/dh_T^(L)||: through depth and time, the "
                          "bottom layer at step t over the top layer at T (t = 1 unless "
                          "given; grad_ratio for one layer)", ALL, "magnitude"),
    "whh_ratio": ("step t's contribution to dL/dW_hh / step T's (t = 1 unless given)",
                  Kinds(lambda s: s.recurrent is not None), "magnitude"),
    "jac_step_max": ("largest per-step Jacobian norm ||dh_t/dh_{t-1}||_2 over t", ALL,
                     "magnitude"),
    "jac_prod": ("||dh_T/dh_t||_2, the product of the step Jacobians (t = 1 unless given)",
                 ALL, "magnitude"),
    "sigma_max": ("largest singular value of W_hh (of its largest gate block; IndRNN max |u|, "
                  "LRU max |lambda|)", Kinds(_has_sigma), "magnitude"),
    "rnn_bound": ("sigma_max(W_hh) * gamma, gamma = sup |phi'|",
                  Kinds(lambda s: s.bound_applies), "magnitude"),
    "gamma": ("sup |phi'| of the RNN's nonlinearity (1 tanh, relu; 1/4 sigmoid)",
              Kinds(lambda s: s.bound_applies), "magnitude"),
    "bound_ratio": ("(sigma_max * gamma)^(T-t), the bound on grad_ratio at t (t = 1 unless "
                    "given; loss at T only)", Kinds(lambda s: s.bound_applies), "magnitude"),
    "param_grad_norm": ("||dL/dθ||, the norm of the gradient of all the cell's parameters "
                        "(what clipping by norm rescales)", ALL, "magnitude"),
    "state_max": ("largest |h_t| entry over all steps and units", ALL, "magnitude"),
    "mean_forget": ("mean forget gate f_t over all steps and units",
                    Kinds(_keep_named("forget")), "number"),
    "max_forget": ("largest mean forget gate of one unit (f_t averaged over steps and batch)",
                   Kinds(_keep_named("forget")), "number"),
    "mean_update": ("mean update gate z_t over all steps and units",
                    Kinds(_keep_named("update")), "number"),
    "mean_keep": ("mean keep factor over all steps and units (each kind's: LSTM f, GRU z, "
                  "minGRU 1 - z, minLSTM f', LRU |lambda|, sLSTM f')",
                  Kinds(lambda s: s.keep is not None), "number"),
    "loss": ("the loss of the run", ALL, "number"),
    "param_count": ("number of parameters of the cell", ALL, "count"),
    "param_ratio": ("parameters / parameters of a vanilla RNN of the same size", ALL,
                    "number"),
    "overflow": ("numbers stopped being finite somewhere in the run", ALL, "bool"),
}
#: How a claim sentence names each quantity (plain-text math, converted for the screen by
#: `narration_markdown`); {t} is the claim's step.
PHRASES: dict[str, str] = {
    "grad_ratio": "||dL/dh_{t}|| / ||dL/dh_T||",
    "grad_c_ratio": "||dL/dc_{t}|| / ||dL/dc_T||",
    "grad_norm": "||dL/dh_{t}||",
    "grad_depth_ratio": "||dL/dh_{t}^(1)|| / ||dL/dh_{t}^(L)||",
    "grad_bottom_ratio": "||dL/dh_{t}^(1)|| / ||dL/dh_T^(L)||",
    "whh_ratio": "step {t}'s term of dL/dW_hh / step T's",
    "jac_step_max": "largest ||dh_t/dh_{t-1}||",
    "sigma_max": "sigma_max(W_hh)",
    "rnn_bound": "sigma_max*gamma",
    "gamma": "gamma = sup |phi'|",
    "bound_ratio": "bound (sigma_max*gamma)^(T-{t})",
    "param_grad_norm": "||dL/dθ||",
    "state_max": "largest |h_t|",
    "mean_forget": "mean forget gate f_t",
    "max_forget": "largest unit's mean forget gate f_t",
    "mean_update": "mean update gate z_t",
    "mean_keep": "mean keep factor",
    "jac_prod": "||dh_T/dh_{t}||",
    "loss": "loss L",
    "param_count": "parameters",
    "param_ratio": "parameters / a vanilla RNN's",
    "overflow": "a value stops being finite (overflow)",
}
STEP_QUANTITIES = ("grad_ratio", "grad_c_ratio", "grad_norm", "whh_ratio", "bound_ratio",
                   "jac_prod", "grad_depth_ratio", "grad_bottom_ratio")
#: Quantities measured from the exact Jacobian norms, which a window computes after a run's
#: first stage (in the background): until they arrive such a claim is pending, not failed.
JACOBIAN_QUANTITIES = ("jac_step_max", "jac_prod")
#: Quantities measured from the backward pass: while a long recompute shows its forward
#: passes first (the backward passes computing), such a claim is pending, not failed.
GRADIENT_QUANTITIES = ("grad_ratio", "grad_c_ratio", "grad_norm", "grad_depth_ratio",
                       "grad_bottom_ratio", "whh_ratio", "param_grad_norm", "overflow")
#: The step a per-step quantity is measured at when a claim gives no t: 1, or "T" (the last).
DEFAULT_T: dict[str, int | str] = {"grad_depth_ratio": "T"}
NUMBER_OPS = ("<", "<=", ">", ">=", "between")
BOOL_OPS = ("==",)
