"""Stacked recurrent layers (PyTorch's num_layers): layer l's outputs h^(l)_t are layer l+1's
inputs, no dropout, the top layer's h is what the readout sees (PyTorch's `output`).

Parameter keys are PyTorch's state_dict keys: unchanged names for one layer
("weight_ih"), "weight_ih_l0" ... "bias_hh_l{L-1}" for several (`layer_key`).
One layer is exactly `unroll.forward` / `unroll.backward` on the one `Model` (same code
path, same numbers). The backward runs BPTT layer by layer from the top: the gradient at a
layer's input (dL/dx_t, with its per-step power-of-two exponents from the rescaled pass) is
the loss injection of the layer below, so every layer's log10 ||dL/dh^(l)_t|| is exact far
beyond float64, as for one layer.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .errors import EngineError
from .linalg import LOG10_2, log10_frobenius_per_step
from .model import Model, build_model
from .unroll import Grads, Trace, backward, forward

#: The layer counts the app offers (config num_layers, the Settings dock).
MAX_LAYERS = 4


def check_num_layers(arg: str, value: Any) -> int:
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or not 1 <= value <= MAX_LAYERS):
        raise EngineError(f"{arg}: expected an integer from 1 to {MAX_LAYERS}, got {value!r}")
    return int(value)


def num_layers_of(model: Any) -> int:
    """The layer count of a Model (1) or a StackedModel (its num_layers)."""
    return model.num_layers if isinstance(model, StackedModel) else 1


def layer_key(name: str, layer: int, num_layers: int) -> str:
    """The state_dict key of parameter `name` of layer `layer` (0-based) in a stack of
    `num_layers`: the bare name for one layer, name + "_l<layer>" otherwise."""
    return name if num_layers == 1 else f"{name}_l{layer}"


@dataclass(frozen=True, eq=False)
class StackedModel:
    """num_layers Models of one kind: layers[0] reads the input (I), the others read the
    layer below (H). params: every layer's parameters under PyTorch's keys (read-only)."""

    layers: tuple[Model, ...]

    def __post_init__(self) -> None:
        layers = tuple(self.layers)
        object.__setattr__(self, "layers", layers)
        check_num_layers("num_layers", len(layers))
        for l, m in enumerate(layers):
            if not isinstance(m, Model):
                raise EngineError(f"layers[{l}]: expected a Model, got {type(m).__name__}")
            if m.kind != layers[0].kind or m.hidden_size != layers[0].hidden_size:
                raise EngineError(f"layers[{l}]: expected a {layers[0].kind} with H="
                                  f"{layers[0].hidden_size}, got a {m.kind} with H="
                                  f"{m.hidden_size}")
            if l and m.input_size != m.hidden_size:
                raise EngineError(f"layers[{l}]: expected input size {m.hidden_size} (the "
                                  f"layer below's outputs), got {m.input_size}")

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def top(self) -> Model:
        return self.layers[-1]

    @property
    def kind(self) -> str:
        return self.layers[0].kind

    @property
    def cell(self):
        return self.layers[0].cell

    @property
    def activation(self) -> str:
        return self.layers[0].activation

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def hidden_size(self) -> int:
        return self.layers[0].hidden_size

    @property
    def n_params(self) -> int:
        return sum(m.n_params for m in self.layers)

    @cached_property
    def params(self) -> dict[str, np.ndarray]:
        L = self.num_layers
        return {layer_key(k, l, L): v for l, m in enumerate(self.layers)
                for k, v in m.params.items()}

    def with_params(self, params: dict[str, np.ndarray]) -> StackedModel:
        """A validated copy with other values for every key of `params`."""
        L = self.num_layers
        layers = []
        for l, m in enumerate(self.layers):
            layers.append(m.with_params({k: params[layer_key(k, l, L)] for k in m.params}))
        return StackedModel(tuple(layers))


def build_stack(kind: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                seed: int = 0, activation: str | None = None, **options: Any) -> StackedModel:
    """num_layers freshly initialised layers; layer l from seed + l (layer 0 is exactly
    `build_model(kind, input_size, hidden_size, seed=seed, ...)`)."""
    L = check_num_layers("num_layers", num_layers)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise EngineError(f"seed: expected an integer >= 0, got {seed!r}")
    layers = tuple(
        build_model(kind, input_size if l == 0 else hidden_size, hidden_size,
                    seed=int(seed) + l, activation=activation, **options)
        for l in range(L))
    return StackedModel(layers)


@dataclass(frozen=True, eq=False)
class StackTrace:
    """A forward run of a stack: layers[l] is layer l's Trace (its xs the layer below's h).
    h, c, gates, states ...: the top layer's (PyTorch's output is the top layer's h)."""

    layers: tuple[Trace, ...]

    @property
    def top(self) -> Trace:
        return self.layers[-1]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def xs(self) -> np.ndarray:
        return self.layers[0].xs

    @property
    def h(self) -> np.ndarray:
        return self.top.h

    @property
    def T(self) -> int:
        return self.top.T

    @property
    def overflow_step(self) -> int | None:
        bad = [t.overflow_step for t in self.layers if t.overflow_step is not None]
        return min(bad) if bad else None


@dataclass(frozen=True, eq=False)
class StackGrads:
    """A backward run of a stack. layers[l]: layer l's Grads (its h the total dL/dh^(l)_t:
    what comes from the loss (top layer), from layer l+1 through its input and from t+1
    through time). params: keyed like StackedModel.params. x: dL/dx_t of the input."""

    layers: tuple[Grads, ...]
    params: dict[str, np.ndarray] = field(repr=False)

    @property
    def top(self) -> Grads:
        return self.layers[-1]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def h(self) -> np.ndarray:
        return self.top.h

    @property
    def x(self) -> np.ndarray:
        return self.layers[0].x

    @cached_property
    def log10_h_layers(self) -> np.ndarray:
        """(L, T) exact log10 ||dL/dh^(l)_t||_F over the batch, bottom layer first."""
        out = np.stack([g.log10_h for g in self.layers])
        out.setflags(write=False)
        return out

    @cached_property
    def log10_x_layers(self) -> np.ndarray:
        """(L, T) exact log10 ||dL/dx^(l)_t||_F, the gradient at layer l's input: for l > 0
        what passes down through depth into h^(l-1)_t (the backward arrows down), for l = 0
        dL/dx_t of the input sequence. Exact beyond float64 (from the rescaled pass)."""
        rows = []
        for g in self.layers:
            scaled = g.x if g.x_scaled is None else g.x_scaled
            with np.errstate(all="ignore"):
                v = log10_frobenius_per_step(np.abs(scaled) if np.iscomplexobj(scaled)
                                             else scaled)
                if g.x_scaled is not None and g.scale_exp is not None:
                    v = v + g.scale_exp * LOG10_2
            rows.append(v)
        out = np.stack(rows)
        out.setflags(write=False)
        return out


def _check(model: Any) -> StackedModel:
    if isinstance(model, Model):
        return StackedModel((model,))
    if not isinstance(model, StackedModel):
        raise EngineError(f"model: expected a StackedModel, got {type(model).__name__}")
    return model


def stack_forward(model: StackedModel | Model, xs, state0=None) -> StackTrace:
    """Run every layer over xs (T, B, I) or (T, I), bottom first. state0: None (zeros) or
    one initial state per layer (as unroll.forward takes it)."""
    model = _check(model)
    L = model.num_layers
    if state0 is not None and (not isinstance(state0, list | tuple) or len(state0) != L):
        raise EngineError(f"state0: expected None or one initial state per layer ({L})")
    traces = []
    inp = xs
    for l, m in enumerate(model.layers):
        tr = forward(m, inp, None if state0 is None else state0[l])
        traces.append(tr)
        inp = tr.h
    return StackTrace(tuple(traces))


def stack_backward(model: StackedModel | Model, trace: StackTrace, dh, dc=None) -> StackGrads:
    """BPTT through depth and time from the loss gradients at the top layer's outputs dh =
    dL/dh^(L)_t (T, B, H) or (T, H) (dc: the top layer's direct dL/dc_t, kinds with a c)."""
    model = _check(model)
    if not isinstance(trace, StackTrace) or trace.num_layers != model.num_layers:
        raise EngineError(f"trace: expected a StackTrace of this {model.num_layers}-layer "
                          f"model, got {type(trace).__name__}")
    L = model.num_layers
    grads: list[Grads] = [None] * L  # type: ignore[list-item]
    g = backward(model.top, trace.top, dh, dc)
    grads[L - 1] = g
    for l in range(L - 2, -1, -1):
        above = grads[l + 1]
        inj = above.x if above.x_scaled is None else above.x_scaled
        g = backward(model.layers[l], trace.layers[l], inj, dh_exp=above.scale_exp)
        grads[l] = g
    params = {layer_key(k, l, L): v for l, gr in enumerate(grads) for k, v in gr.params.items()}
    return StackGrads(tuple(grads), params)
