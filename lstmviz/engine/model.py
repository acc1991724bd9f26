"""Model: one recurrent layer of any registered cell kind (engine.cells) plus its single step.

`build_model` validates options and initialises through the kind (`CellKind.init_params`);
`Model.step` / `Model.step_back` are the units the app animates and that `forward` /
`backward` are built from. Nothing here knows a kind by name: everything comes from
`cells.get(kind)`, and an unknown kind is an EngineError.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import cells
from .activations import ACTIVATIONS
from .cells.base import CellKind, check_params
from .errors import EngineError


def __getattr__(name: str):
    """KINDS: every registered kind in course order (cells.kinds(), read when asked)."""
    if name == "KINDS":
        return cells.kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    """PyTorch-style shapes of the kind's parameter tensors for this size."""
    return cells.get(kind).param_shapes(input_size, hidden_size)


def option_names(kind: CellKind) -> set[str]:
    return {o.name for o in kind.options}


def init_option_names(kind: CellKind) -> set[str]:
    return {o.name for o in kind.init_options}


@dataclass(frozen=True, eq=False)
class Model:
    """One recurrent layer: params as the kind declares them (read-only float64).

    activation: the kind's "activation" option where it has one (rnn, indrnn), else validated
    against ACTIVATIONS and kept without effect (as for the LSTM before the registry).
    options: the kind's other equation options (e.g. the sLSTM's forget_gate); defaults filled.
    state tuples follow `cells.get(kind).state`, each (B, H).
    """

    kind: str
    input_size: int
    hidden_size: int
    activation: str
    params: dict[str, np.ndarray]
    options: dict[str, Any] = field(default_factory=dict)
    cell: CellKind = field(init=False, repr=False)
    o: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        spec = cells.get(self.kind)
        check_choice("activation", self.activation, _activations(spec))
        check_size("input_size", self.input_size)
        check_size("hidden_size", self.hidden_size)
        opts = dict(self.options)
        if "activation" in opts:
            raise EngineError("options: pass the activation as Model.activation")
        if "activation" in option_names(spec):
            opts["activation"] = self.activation
        checked = spec.check_options(opts)
        checked.pop("activation", None)
        object.__setattr__(self, "options", checked)
        params = check_params(spec, self.params, self.input_size, self.hidden_size)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "cell", spec)
        object.__setattr__(self, "o", spec.make_opts(**self.equation_options))

    @property
    def equation_options(self) -> dict[str, Any]:
        """Every equation option of the kind, activation included where it has one."""
        out = dict(self.options)
        if "activation" in option_names(self.cell):
            out["activation"] = self.activation
        return out

    @property
    def _cell(self) -> CellKind:  # the name tests used before the registry
        return self.cell

    @property
    def has_cell(self) -> bool:
        return self.cell.has_cell

    @property
    def n_params(self) -> int:
        return int(sum(a.size for a in self.params.values()))

    def with_params(self, params: dict[str, np.ndarray]) -> Model:
        """A validated copy of this model with other parameter values (same kind and sizes)."""
        return Model(self.kind, self.input_size, self.hidden_size, self.activation, dict(params),
                     dict(self.options))

    def zero_state(self, batch_size: int = 1) -> tuple[np.ndarray, ...]:
        return self.cell.zero_state(batch_size, self.hidden_size)

    def step(self, x_t: np.ndarray, state: tuple, xproj: np.ndarray | None = None):
        """One step forward: x_t (B, I), state (one (B, H) array per kind.state name) ->
        (state, cache). xproj optionally holds the input projection (kind.input_weights)
        precomputed for all steps. No validation here (hot loop); `forward` validates."""
        return self.cell.step(self.params, self.o, x_t, state, xproj)

    def step_back_pre(self, dstate: tuple, cache):
        """Backward through one step up to the projections, without parameter gradients.

        Returns (dstate_prev, dgi, dgh, dc_total): dgi = dL/d(input projection), dgh =
        dL/d(recurrent pre-activation) or None; dc_total the total dL/dc_t for kinds with a
        "c" state (None otherwise).
        """
        dprev, sg = self.cell.step_back(self.params, self.o, dstate, cache)
        dc = None
        if self.cell.has_cell:
            total = dstate if sg.total is None else sg.total
            dc = total[self.cell.state.index("c")]
        return dprev, sg.dgi, sg.dgh, dc

    def step_back(self, dstate: tuple, cache):
        """One step backward: dstate = total dL/d(state_t) -> (dstate_prev, dx_t, dparams_t).

        dparams_t holds this step's contribution to each parameter gradient (same shapes as
        params); summing over steps gives the BPTT gradient.
        """
        return self.cell.step_dparams(self.params, self.o, dstate, cache)


def _activations(spec: CellKind) -> tuple[str, ...]:
    for o in spec.options:
        if o.name == "activation":
            return tuple(o.choices)
    return ACTIVATIONS


def build_model(
    kind: str,
    input_size: int,
    hidden_size: int,
    *,
    seed: int = 0,
    activation: str | None = None,
    **options: Any,
) -> Model:
    """A freshly initialised model, reproducible from `seed` (np.random.default_rng(seed)).

    options: the kind's init options (`init`, `weight_scale`, `forget_bias`, the LRU's
    `r_min` / `r_max` / `max_phase` ...: `cells.get(kind).init_options`) and equation options
    (`cells.get(kind).options`, e.g. the sLSTM's `forget_gate`). activation: the kind's
    default when None; for kinds without that option it is validated and kept.
    Legacy keywords the classic callers pass to every kind are accepted where they mean
    nothing: weight_scale=None and forget_bias=0.0.
    Anything else a kind does not declare is an EngineError naming the kind.
    """
    spec = cells.get(kind)
    input_size = check_size("input_size", input_size)
    hidden_size = check_size("hidden_size", hidden_size)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise EngineError(f"seed: expected an integer >= 0, got {seed!r}")
    acts = _activations(spec)
    if activation is None:
        activation = next((o.default for o in spec.options if o.name == "activation"), "tanh")
    check_choice("activation", activation, acts)
    init_names, eq_names = init_option_names(spec), option_names(spec)
    init_opts, eq_opts = {}, {}
    for name, value in options.items():
        if name in init_names:
            init_opts[name] = value
        elif name in eq_names:
            eq_opts[name] = value
        elif (name, value) in (("weight_scale", None), ("forget_bias", 0.0)):
            continue  # the classic default, meaning "nothing" for this kind
        else:
            valid = ", ".join(sorted(init_names | eq_names)) or "none"
            raise EngineError(f"{name}: does not apply to the {spec.label} ({kind}); its "
                              f"options: {valid}")
    if init_opts.get("weight_scale") is not None:
        init_opts["weight_scale"] = _check_number("weight_scale", init_opts["weight_scale"],
                                                  positive=True)
    if "forget_bias" in init_opts:
        init_opts["forget_bias"] = _check_number("forget_bias", init_opts["forget_bias"])
    params = spec.init_params(input_size, hidden_size, np.random.default_rng(int(seed)),
                              **init_opts)
    return Model(kind, input_size, hidden_size, activation, params, eq_opts)


def options_for(kind: str, **common: Any) -> tuple[dict[str, Any], list[str]]:
    """The build_model options for `kind` from settings shared by every model (the config's
    activation, init, weight_scale, forget_bias, ...): -> (options, notes).

    A setting the kind does not declare is left out (forget_bias for the GRU). A value the
    kind does not accept (init "orthogonal" for minGRU, activation "sigmoid" for IndRNN) is
    replaced by the kind's default, and a note for people says so. None values are left out.
    """
    spec = cells.get(kind)
    specs = {o.name: o for o in (*spec.init_options, *spec.options)}
    out: dict[str, Any] = {}
    notes: list[str] = []
    for name, value in common.items():
        if value is None or name not in specs:
            continue
        o = specs[name]
        if o.number is None and value not in o.choices:
            notes.append(f"{name} {value!r} does not apply to the {spec.label}: its default "
                         f"{o.default!r} is used")
            continue
        out[name] = value
    return out, notes
