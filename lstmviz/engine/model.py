"""Model: one RNN/LSTM/GRU layer's parameters plus its single-step forward and backward.

`build_model` validates options and initialises; `Model.step` / `Model.step_back` are the
units the app animates and that `forward` / `backward` are built from.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from . import gru, lstm, rnn
from .activations import ACTIVATIONS, act_and_grad
from .errors import EngineError
from .init import INITS, init_params, rescale_recurrent

KINDS = ("rnn", "lstm", "gru")
CELLS: dict[str, ModuleType] = {"rnn": rnn, "lstm": lstm, "gru": gru}
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def check_choice(arg: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise EngineError(f"{arg}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_size(arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise EngineError(f"{arg}: expected an integer >= 1, got {value!r}")
    return int(value)


def _check_number(arg: str, value: Any, *, positive: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = np.isfinite(value) and (value > 0 or not positive)
    if not ok:
        want = "a finite number > 0" if positive else "a finite number"
        raise EngineError(f"{arg}: expected {want}, got {value!r}")
    return value


def param_shapes(kind: str, input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    """PyTorch shapes of the four parameter tensors for this kind and size."""
    gh = CELLS[kind].N_GATES * hidden_size
    return {
        "weight_ih": (gh, input_size),
        "weight_hh": (gh, hidden_size),
        "bias_ih": (gh,),
        "bias_hh": (gh,),
    }


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Model:
    """One recurrent layer. params: weight_ih, weight_hh, bias_ih, bias_hh (read-only float64).

    state tuples are (h,) for rnn/gru and (h, c) for lstm, each (B, H).
    """

    kind: str
    input_size: int
    hidden_size: int
    activation: str
    params: dict[str, np.ndarray]
    _cell: ModuleType = field(init=False, repr=False)
    _act: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_size("input_size", self.input_size)
        check_size("hidden_size", self.hidden_size)
        if not isinstance(self.params, dict):
            raise EngineError(f"params: expected a dict, got {type(self.params).__name__}")
        shapes = param_shapes(self.kind, self.input_size, self.hidden_size)
        missing = [k for k in shapes if k not in self.params]
        extra = [k for k in self.params if k not in shapes]
        if missing or extra:
            raise EngineError(
                f"params: expected keys {list(shapes)}, got {list(self.params)}"
                + (f" (missing {missing})" if missing else "")
                + (f" (unexpected {extra})" if extra else "")
            )
        checked = {}
        for k, shape in shapes.items():
            a = np.asarray(self.params[k])
            if a.dtype.kind not in "biuf":
                raise EngineError(
                    f"params[{k!r}]: expected a real numeric array, got dtype {a.dtype}"
                )
            if a.shape != shape:
                raise EngineError(f"params[{k!r}]: expected shape {shape}, got {a.shape}")
            checked[k] = a if (a.dtype == np.float64 and not a.flags.writeable) else _frozen(a)
        object.__setattr__(self, "params", checked)
        object.__setattr__(self, "_cell", CELLS[self.kind])
        object.__setattr__(self, "_act", act_and_grad(self.activation))

    @property
    def n_gates(self) -> int:
        return self._cell.N_GATES

    @property
    def has_cell(self) -> bool:
        return self._cell.HAS_CELL

    @property
    def n_params(self) -> int:
        return int(sum(a.size for a in self.params.values()))

    def with_params(self, params: dict[str, np.ndarray]) -> Model:
        """A validated copy of this model with other parameter values (same kind and sizes)."""
        return Model(self.kind, self.input_size, self.hidden_size, self.activation, dict(params))

    def zero_state(self, batch_size: int = 1) -> tuple[np.ndarray, ...]:
        z = np.zeros((batch_size, self.hidden_size))
        return (z, z.copy()) if self.has_cell else (z,)

    def step(self, x_t: np.ndarray, state: tuple, xproj: np.ndarray | None = None):
        """One step forward: x_t (B, I), state (h,) or (h, c) each (B, H) -> (state, cache).

        xproj optionally holds x_t @ weight_ih.T + bias_ih (B, G*H), precomputed for all steps.
        No validation here (hot loop); `forward` validates.
        """
        return self._cell.step(self.params, self._act, x_t, state, xproj)

    def step_back_pre(self, dstate: tuple, cache):
        """Backward through one step up to the projections, without parameter gradients.

        Returns (dstate_prev, dgi, dgh, dc_total): dgi = dL/d(W_ih x + b_ih) and
        dgh = dL/d(W_hh h_prev + b_hh), both (B, G*H); dc_total is the LSTM's total dL/dc_t
        (None otherwise). `backward` uses this and forms parameter gradients in one product.
        """
        return self._cell.step_back_pre(self.params, dstate, cache)

    def step_back(self, dstate: tuple, cache):
        """One step backward: dstate = total dL/d(state_t) -> (dstate_prev, dx_t, dparams_t).

        dparams_t holds this step's contribution to each parameter gradient (same shapes as
        params); summing over steps gives the BPTT gradient.
        """
        dstate_prev, dgi, dgh, _ = self._cell.step_back_pre(self.params, dstate, cache)
        p = self.params
        dparams = {
            "weight_ih": dgi.T @ cache.x,
            "weight_hh": dgh.T @ cache.h_prev,
            "bias_ih": dgi.sum(axis=0),
            "bias_hh": dgh.sum(axis=0),
        }
        return dstate_prev, dgi @ p["weight_ih"], dparams


def build_model(
    kind: str,
    input_size: int,
    hidden_size: int,
    *,
    seed: int = 0,
    activation: str = "tanh",
    init: str = "pytorch",
    weight_scale: float | None = None,
    forget_bias: float = 0.0,
) -> Model:
    """A freshly initialised model, reproducible from `seed` (np.random.default_rng(seed)).

    weight_scale: if given, each gate's H x H block of weight_hh is rescaled to have largest
    singular value exactly weight_scale. forget_bias (lstm only): effective forget-gate bias,
    stored in bias_ih's forget rows with bias_hh's forget rows zeroed. activation only
    affects the rnn (lstm and gru use their fixed sigma/tanh); it is validated and kept.
    """
    check_choice("kind", kind, KINDS)
    check_choice("activation", activation, ACTIVATIONS)
    check_choice("init", init, INITS)
    input_size = check_size("input_size", input_size)
    hidden_size = check_size("hidden_size", hidden_size)
    if weight_scale is not None:
        weight_scale = _check_number("weight_scale", weight_scale, positive=True)
    forget_bias = _check_number("forget_bias", forget_bias)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise EngineError(f"seed: expected an integer >= 0, got {seed!r}")
    G = CELLS[kind].N_GATES
    params = init_params(init, G, input_size, hidden_size, np.random.default_rng(int(seed)))
    if weight_scale is not None:
        params["weight_hh"] = rescale_recurrent(params["weight_hh"], G, weight_scale)
    if kind == "lstm":
        H = hidden_size
        params["bias_ih"][H : 2 * H] = forget_bias
        params["bias_hh"][H : 2 * H] = 0.0
    return Model(kind, input_size, hidden_size, activation, params)
