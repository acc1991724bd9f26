"""The parsed lecture: `Walkthrough` of `Step`s, their `Claim`s and `Highlight`s, and the
`Measured` value a claim is checked against (frozen dataclasses, no I/O).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmviz.config import Config
from lstmviz.numfmt import format_count, format_log10, format_magnitude, format_number


class WalkthroughError(ValueError):
    """A walkthrough file cannot be used; the message names the file, the step and the key."""


# -- data ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """A number the narration states: `quantity` of `model` satisfies `op value`."""

    model: str
    quantity: str
    op: str
    value: Any  # float, bool, or (low, high) for "between"
    t: int | None = None  # for the per-step quantities; None = t = 1
    #: for magnitudes: the exact log10 of the bound (or (low, high)), also beyond float64
    #: where `value` is 0 or inf; None = log10(value)
    log10_value: Any = None

    def _bound_log10s(self) -> tuple[float | None, ...]:
        bounds = self.value if self.op == "between" else (self.value,)
        given = self.log10_value if self.op == "between" else (self.log10_value,)
        if self.log10_value is None:
            given = (None,) * len(bounds)
        return tuple(g if g is not None else
                     (math.log10(b) if b > 0 else -math.inf if b == 0 else None)
                     for b, g in zip(bounds, given, strict=True))

    def describe(self) -> str:
        """The claim in its file's terms ('rnn grad_ratio < 1e-10'), for messages and logs;
        the screen shows `claim_sentence`."""
        at = f" at t = {self.t}" if self.t is not None else ""

        def num(v: float, lg: float | None) -> str:
            if lg is not None and math.isfinite(lg) and not (0 < v < math.inf):
                return format_log10(lg, 3, plain=True)
            return f"{v:g}"

        if self.op == "between":
            lo, hi = self._bound_log10s()
            rhs = f"in [{num(self.value[0], lo)}, {num(self.value[1], hi)}]"
        elif isinstance(self.value, bool):
            rhs = f"== {str(self.value).lower()}"
        else:
            rhs = f"{self.op} {num(self.value, self._bound_log10s()[0])}"
        return f"{self.model} {self.quantity}{at} {rhs}"

    def holds(self, actual: Any) -> bool:
        """Whether a measured value satisfies the claim (NaN never does).

        `actual` is a `Measured` (what `measure` returns; a magnitude is compared by its
        log10, so 10^-777 < 10^-700 holds although both are 0 in float64) or a plain value."""
        log10 = None
        if isinstance(actual, Measured):
            log10, actual = actual.log10, actual.value
        if self.op == "==":
            return bool(actual) == bool(self.value)
        if log10 is not None:
            bounds = self._bound_log10s()
            if self.op == "between":
                return (_compare_log10(log10, ">=", bounds[0])
                        and _compare_log10(log10, "<=", bounds[1]))
            return _compare_log10(log10, self.op, bounds[0])
        a = float(actual)
        if math.isnan(a):
            return False
        if self.op == "between":
            return self.value[0] <= a <= self.value[1]
        v = float(self.value)
        return {"<": a < v, "<=": a <= v, ">": a > v, ">=": a >= v}[self.op]


def _compare_log10(log10: float, op: str, lb: float | None) -> bool:
    """10**log10 `op` 10**lb for a magnitude (>= 0) known by its log10 (-inf for 0); lb None
    stands for a negative bound, below every magnitude."""
    if math.isnan(log10):
        return False
    if lb is None:
        return op in (">", ">=")
    return {"<": log10 < lb, "<=": log10 <= lb, ">": log10 > lb, ">=": log10 >= lb}[op]


@dataclass(frozen=True)
class Measured:
    """A quantity measured on a run (what `measure` returns and `check_claim` pairs with
    holds): `value` as float64 (or bool, or int for counts), and for a magnitude its exact
    `log10`; `value` is then 10**log10, 0 or inf where that lies beyond float64, so read
    `log10` (and `text()`) for anything printed or compared. `float(m)` is `value`."""

    value: float | int | bool
    log10: float | None = None  # magnitudes only (QUANTITIES kind "magnitude")
    kind: str = "number"  # the quantity's kind in QUANTITIES

    def __float__(self) -> float:
        return float(self.value)

    def text(self, plain: bool = False) -> str:
        """The value as people read it (lstmviz.numfmt): '1.38 × 10⁻¹²', '0.733', 'yes'."""
        if self.kind == "bool":
            return "yes" if self.value else "no"
        if self.log10 is not None:
            return format_magnitude(self.log10, plain=plain)
        if self.kind == "count":
            return format_count(int(self.value))
        v = float(self.value)
        if math.isfinite(v) and v > 0:
            return format_magnitude(math.log10(v), plain=plain)
        return format_number(v, plain=plain)


@dataclass(frozen=True)
class Highlight:
    cell: tuple[str, int] | None = None  # (model, t) selected for the inspector
    gate: str | None = None
    steps: tuple[int, int] | None = None  # inclusive range of timesteps to shade


@dataclass(frozen=True)
class Sweep:
    """A step's preset of the Training dock's sweep: every model at every length, each point
    trained `iterations` minibatches with the sweep's TrainConfig (`config`)."""

    task: str
    lengths: tuple[int, ...]
    iterations: int
    models: tuple[str, ...]

    @property
    def points(self) -> int:
        return len(self.lengths) * len(self.models)

    @property
    def config(self):
        """The TrainConfig every point starts from (batch, optimiser, sizes: the dock's
        sweep defaults, engine.training.sweep.SWEEP_CONFIG) with this task."""
        from lstmviz.engine.training.sweep import SWEEP_CONFIG  # the trainer: on first use

        return SWEEP_CONFIG.replace(task=self.task)

    def value(self, key: str):
        """A `{sweep.key}` placeholder's value (vocabulary.SWEEP_PLACEHOLDERS)."""
        if key in ("task", "lengths", "iterations", "models", "points"):
            return getattr(self, key)
        return getattr(self.config, key)


@dataclass(frozen=True)
class Step:
    """One step of a lecture, with the full config it applies and its resolved cursor."""

    index: int  # 1-based
    title: str
    narration: str
    config: Config
    setup: Mapping[str, Any] = field(default_factory=dict)
    docks: tuple[str, ...] | None = None
    phase: str | None = None  # None: leave the cursor where it is
    t: int | None = None  # resolved to 1..T
    play: bool = False
    highlight: Highlight = field(default_factory=Highlight)
    claims: tuple[Claim, ...] = ()
    y_range: tuple[float, float] | None = None  # gradient plot's y axis, exponents of ten
    sweep: Sweep | None = None  # the Training dock's sweep, preset (not started)
    #: the layer of stacked models the one-layer views show, 1-based from the bottom
    #: (None: the top one)
    layer: int | None = None

    @property
    def view_layer(self) -> int | None:
        """`layer` as the views take it (0-based; None: each model's top layer)."""
        if self.layer is None or self.layer == self.config.num_layers:
            return None
        return self.layer - 1


@dataclass(frozen=True)
class Walkthrough:
    title: str
    description: str
    steps: tuple[Step, ...]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.path.stem if self.path else self.title
