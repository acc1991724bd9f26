"""Walkthrough files: a TOML lecture -> a validated `Walkthrough` of `Step`s (pure, no Qt).

Format (lstmviz/resources/walkthroughs/FORMAT.md has the annotated version): top-level `title`,
`description` and `[[step]]` tables with `title`, `narration` (Markdown), `setup` (Config
fields on top of the previous step's config), `docks`, `cursor = {phase, t}`, `play`,
`highlight = {cell = {model, t}, gate, steps = [a, b]}` and `claims`, the numbers the
narration states, which `check_claim` measures on the computed runs (ratios and norms as
exact log10 values, returned as a `Measured`) and `claim_sentence` writes for the screen.
Narration may hold placeholders (`{rnn.grad_ratio}`, `{lstm.grad_norm@t=5}`,
`{setup.seq_len}`) that `render_narration` fills from the runs on screen; every other
figure it states must be a claim's bound (`unchecked_figures`).
Every problem is one `WalkthroughError` naming the file, the step and the key.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import lstmviz
from lstmviz.config import FIELDS, Config, ConfigError, model_kinds, read_toml
from lstmviz.engine import cells
from lstmviz.numfmt import format_count, format_log10, format_magnitude, format_number

BUILTIN_DIR = lstmviz.RESOURCES / "walkthroughs"

PHASES = ("forward", "loss", "backward")
#: Dock names a step may show; the others are hidden (the walkthrough dock always stays).
DOCKS = ("settings", "gradients", "jacobians", "forget", "gates", "cellstate", "inspector",
         "walkthrough", "training")


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
             "y_range")
#: Exponents of ten a step's `y_range` may span (beyond float64 both ways, for log10 plots).
Y_RANGE_LIMIT = 100_000
CURSOR_KEYS = ("phase", "t")
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
                   "jac_prod")
NUMBER_OPS = ("<", "<=", ">", ">=", "between")
BOOL_OPS = ("==",)


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


@dataclass(frozen=True)
class Walkthrough:
    title: str
    description: str
    steps: tuple[Step, ...]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.path.stem if self.path else self.title


# -- loading ------------------------------------------------------------------------------
def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


class _Ctx:
    """Builds messages 'file: step k: key: problem'."""

    def __init__(self, source: str, base_dir: Path | None = None) -> None:
        self.source = source
        self.step: int | None = None
        self.base_dir = base_dir  # relative setup.weights files are taken from here

    def error(self, key: str | None, problem: str) -> WalkthroughError:
        parts = [self.source]
        if self.step is not None:
            parts.append(f"step {self.step}")
        if key:
            parts.append(key)
        return WalkthroughError(": ".join(parts) + f": {problem}")

    def expect(self, key: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
        ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in (
            kind if isinstance(kind, tuple) else (kind,)))
        if not ok:
            raise self.error(key, f"expected {what}, got {_type_name(value)} {_short(value)}")
        return value

    def unknown(self, table: Mapping[str, Any], allowed: tuple[str, ...], prefix: str = "") -> None:
        for key in table:
            if key not in allowed:
                raise self.error(f"{prefix}{key}",
                                 f"unknown key; expected one of {', '.join(allowed)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _resolve_t(ctx: _Ctx, key: str, value: Any, T: int) -> int:
    """t as written (1..T, "T", or -T..-1 counting from the end) -> 1..T."""
    if value == "T" and isinstance(value, str):
        return T
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(key, f"expected an integer step or \"T\", got {_type_name(value)} "
                             f"{_short(value)}")
    if 1 <= value <= T:
        return value
    if -T <= value <= -1:
        return T + 1 + value
    raise ctx.error(key, f"{value} is out of range; expected 1 to {T} (seq_len), \"T\", "
                         f"or -{T} to -1 from the end")


def _parse_claim(ctx: _Ctx, key: str, raw: Any, config: Config) -> Claim:
    ctx.expect(key, raw, dict, "a table {model, quantity, op, value}")
    ctx.unknown(raw, CLAIM_KEYS, f"{key}.")
    for k in ("model", "quantity", "op", "value"):
        if k not in raw:
            raise ctx.error(f"{key}.{k}", "missing")
    model = ctx.expect(f"{key}.model", raw["model"], str, "a model name")
    if model not in model_kinds():
        raise ctx.error(f"{key}.model", f"unknown model {model!r}; expected one of "
                                        f"{', '.join(model_kinds())}")
    if model not in config.models:
        raise ctx.error(f"{key}.model", f"{model!r} is not among this step's models "
                                        f"{list(config.models)}; add it with setup.models")
    quantity = ctx.expect(f"{key}.quantity", raw["quantity"], str, "a quantity name")
    if quantity not in QUANTITIES:
        raise ctx.error(f"{key}.quantity", f"unknown quantity {quantity!r}; expected one of "
                                           f"{', '.join(QUANTITIES)}")
    _, models, kind = QUANTITIES[quantity]
    if model not in models:
        raise ctx.error(f"{key}.quantity", f"{quantity} applies to {', '.join(models)} only, "
                                           f"not {model}")
    op = ctx.expect(f"{key}.op", raw["op"], str, "a comparison")
    ops = BOOL_OPS if kind == "bool" else NUMBER_OPS
    if op not in ops:
        raise ctx.error(f"{key}.op", f"{op!r} cannot compare {quantity}; expected one of "
                                     f"{', '.join(ops)}")
    value = raw["value"]
    log10_value: Any = None
    if kind == "bool":
        ctx.expect(f"{key}.value", value, bool, "true or false")
    elif op == "between":
        ctx.expect(f"{key}.value", value, list, "a list [low, high]")
        if len(value) != 2:
            raise ctx.error(f"{key}.value", f"expected two finite numbers [low, high], "
                                            f"got {_short(value)}")
        pairs = [_parse_bound(ctx, f"{key}.value", v, kind) for v in value]
        (lo, llo), (hi, lhi) = pairs
        if (llo if llo is not None else lo) > (lhi if lhi is not None else hi):
            raise ctx.error(f"{key}.value", f"low {value[0]} is above high {value[1]}")
        value = (lo, hi)
        if kind == "magnitude":
            log10_value = (llo, lhi)
    else:
        value, log10_value = _parse_bound(ctx, f"{key}.value", value, kind)
    t = None
    if "t" in raw:
        if quantity not in STEP_QUANTITIES:
            raise ctx.error(f"{key}.t", f"{quantity} has no step; only "
                                        f"{', '.join(STEP_QUANTITIES)} take t")
        t = _resolve_t(ctx, f"{key}.t", raw["t"], config.seq_len)
    return Claim(model, quantity, op, value, t, log10_value)


_POWER_TEXT = re.compile(r"\s*(?:(\d+(?:\.\d*)?)\s*[eE]|10\s*\^)\s*([-+]?\d+)\s*")


def _parse_bound(ctx: _Ctx, key: str, raw: Any, kind: str) -> tuple[float, float | None]:
    """A claim bound -> (float value, exact log10 for a magnitude). A magnitude's bound may
    be a string "1e-700" or "10^-700": TOML numbers stop at 1e±308, the quantities do not."""
    if isinstance(raw, str) and kind == "magnitude":
        m = _POWER_TEXT.fullmatch(raw)
        if m is None or (m.group(1) is not None and float(m.group(1)) <= 0):
            raise ctx.error(key, f"expected a number or a power like \"1e-700\", got "
                                 f"{_short(raw)}")
        log10 = (math.log10(float(m.group(1))) if m.group(1) else 0.0) + int(m.group(2))
        return _pow10(log10), log10
    if not isinstance(raw, int | float) or isinstance(raw, bool):
        what = "a number, or a power as a string (\"1e-700\")" if kind == "magnitude" \
            else "a number"
        raise ctx.error(key, f"expected {what}, got {_type_name(raw)} {_short(raw)}")
    if not math.isfinite(raw):
        raise ctx.error(key, f"expected a finite number, got {raw}")
    value = float(raw)
    if kind != "magnitude":
        return value, None
    return value, (math.log10(value) if value > 0 else -math.inf if value == 0 else None)


def _parse_step(ctx: _Ctx, raw: Any, base: Config) -> Step:
    ctx.expect("step", raw, dict, "a [[step]] table")
    ctx.unknown(raw, STEP_KEYS)
    if "title" not in raw:
        raise ctx.error("title", "missing; every step needs a title")
    title = ctx.expect("title", raw["title"], str, "a string")
    narration = ctx.expect("narration", raw.get("narration", ""), str, "a Markdown string")

    setup = raw.get("setup", {})
    ctx.expect("setup", setup, dict, "a table of settings")
    for key in setup:
        if key not in FIELDS:
            raise ctx.error(f"setup.{key}", f"unknown setting; expected one of {', '.join(FIELDS)}")
    try:
        config = Config.from_dict(dict(setup), base=base, base_dir=ctx.base_dir)
    except ConfigError as exc:
        raise ctx.error(None, f"setup.{exc}") from None
    except (TypeError, ValueError) as exc:  # e.g. an unhashable value in a list
        raise ctx.error("setup", f"invalid settings ({exc})") from None
    config = _step_weights(ctx, setup, config)

    docks = None
    if "docks" in raw:
        ctx.expect("docks", raw["docks"], list, "a list of dock names")
        for name in raw["docks"]:
            if not isinstance(name, str) or name not in DOCKS:
                raise ctx.error("docks", f"unknown dock {_short(name)}; expected some of "
                                         f"{', '.join(DOCKS)}")
        docks = tuple(dict.fromkeys(raw["docks"]))

    phase = t = None
    if "cursor" in raw:
        cursor = ctx.expect("cursor", raw["cursor"], dict, "a table {phase, t}")
        ctx.unknown(cursor, CURSOR_KEYS, "cursor.")
        if "phase" not in cursor:
            raise ctx.error("cursor.phase", "missing; expected forward, loss or backward")
        phase = ctx.expect("cursor.phase", cursor["phase"], str, "a phase name")
        if phase not in PHASES:
            raise ctx.error("cursor.phase", f"unknown phase {phase!r}; expected one of "
                                            f"{', '.join(PHASES)}")
        if phase == "loss":
            t = config.seq_len
            if "t" in cursor:
                _resolve_t(ctx, "cursor.t", cursor["t"], config.seq_len)
        else:
            default = 1 if phase == "forward" else "T"
            t = _resolve_t(ctx, "cursor.t", cursor.get("t", default), config.seq_len)
    play = ctx.expect("play", raw.get("play", False), bool, "true or false")
    if play and phase is None:
        raise ctx.error("play", "needs a cursor to play to")

    highlight = Highlight()
    if "highlight" in raw:
        hl = ctx.expect("highlight", raw["highlight"], dict, "a table {cell, gate, steps}")
        ctx.unknown(hl, HIGHLIGHT_KEYS, "highlight.")
        cell = gate = steps = None
        if "cell" in hl:
            c = ctx.expect("highlight.cell", hl["cell"], dict, "a table {model, t}")
            ctx.unknown(c, CELL_KEYS, "highlight.cell.")
            if "model" not in c or "t" not in c:
                raise ctx.error("highlight.cell", "expected both model and t")
            model = ctx.expect("highlight.cell.model", c["model"], str, "a model name")
            if model not in model_kinds():
                raise ctx.error("highlight.cell.model", f"unknown model {model!r}; expected one "
                                                        f"of {', '.join(model_kinds())}")
            if model not in config.models:
                raise ctx.error("highlight.cell.model", f"{model!r} is not among this step's "
                                                        f"models {list(config.models)}")
            cell = (model, _resolve_t(ctx, "highlight.cell.t", c["t"], config.seq_len))
        if "gate" in hl:
            gate = ctx.expect("highlight.gate", hl["gate"], str, "a gate name")
            if gate not in all_gates():
                raise ctx.error("highlight.gate", f"unknown gate {gate!r}; expected one of "
                                                  f"{', '.join(all_gates())}")
        if "steps" in hl:
            s = ctx.expect("highlight.steps", hl["steps"], list, "a list [first, last]")
            if len(s) != 2:
                raise ctx.error("highlight.steps", f"expected [first, last], got {_short(s)}")
            a = _resolve_t(ctx, "highlight.steps", s[0], config.seq_len)
            b = _resolve_t(ctx, "highlight.steps", s[1], config.seq_len)
            steps = (min(a, b), max(a, b))
        highlight = Highlight(cell, gate, steps)

    claims_raw = raw.get("claims", [])
    ctx.expect("claims", claims_raw, list, "a list of claim tables")
    claims = tuple(_parse_claim(ctx, f"claims[{i + 1}]", c, config)
                   for i, c in enumerate(claims_raw))
    parse_placeholders(ctx, narration, config)
    y_range = _parse_y_range(ctx, raw["y_range"]) if "y_range" in raw else None
    return Step(ctx.step or 0, title, narration, config, dict(setup), docks, phase, t, play,
                highlight, claims, y_range)


def _parse_y_range(ctx: _Ctx, raw: Any) -> tuple[float, float]:
    """`y_range = [lo, hi]`: the gradient plot's y axis from 10^lo to 10^hi."""
    ctx.expect("y_range", raw, list, "a list [lo, hi] of exponents of ten")
    if len(raw) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                and math.isfinite(v) for v in raw):
        raise ctx.error("y_range", f"expected two finite exponents [lo, hi] (10^lo to 10^hi), "
                                   f"got {_short(raw)}")
    lo, hi = float(raw[0]), float(raw[1])
    if lo >= hi:
        raise ctx.error("y_range", f"lo {raw[0]} must be below hi {raw[1]}")
    if max(abs(lo), abs(hi)) > Y_RANGE_LIMIT:
        raise ctx.error("y_range", f"exponents must lie within ±{Y_RANGE_LIMIT}, "
                                   f"got {_short(raw)}")
    return lo, hi


def _step_weights(ctx: _Ctx, setup: Mapping[str, Any], config: Config) -> Config:
    """A step naming `setup.weights`: each file read (lstmviz.named_weights, cached) and
    checked now, so a lecture with a missing or wrong file does not open; hidden_size comes
    from the files unless the step sets it. Errors: 'file: step k: setup.weights.lstm: …'."""
    if "weights" not in setup or not config.weights:
        return config
    from lstmviz.named_weights import adopt_hidden_size

    try:
        return adopt_hidden_size(config, keep="hidden_size" in setup)
    except ConfigError as exc:
        raise ctx.error(None, f"setup.{exc}") from None


def parse_walkthrough(data: Any, source: str = "<walkthrough>", path: Path | None = None,
                      base: Config | None = None) -> Walkthrough:
    """Validate a decoded TOML document; `base` is the config the first step builds on.
    Relative `setup.weights` files are taken from `path`'s folder (else the working one)."""
    ctx = _Ctx(source, path.parent if path is not None else None)
    ctx.expect("document", data, dict, "a table")
    ctx.unknown(data, TOP_KEYS)
    if "title" not in data:
        raise ctx.error("title", "missing; a walkthrough needs a title")
    title = ctx.expect("title", data["title"], str, "a string")
    description = ctx.expect("description", data.get("description", ""), str, "a string")
    if "step" not in data:
        raise ctx.error("step", "missing; add at least one [[step]] table")
    raw_steps = ctx.expect("step", data["step"], list, "[[step]] tables")
    if not raw_steps:
        raise ctx.error("step", "empty; add at least one [[step]] table")
    config = base or Config()
    steps = []
    for i, raw in enumerate(raw_steps, start=1):
        ctx.step = i
        step = _parse_step(ctx, raw, config)
        steps.append(step)
        config = step.config
    return Walkthrough(title, description, tuple(steps), path)


def load_walkthrough(path: str | os.PathLike[str]) -> Walkthrough:
    """Read and validate a walkthrough file (raises WalkthroughError)."""
    path = Path(path)
    source = path.name or str(path)
    data = read_toml(path, WalkthroughError, source)
    return parse_walkthrough(data, source, path)


# -- built-ins ----------------------------------------------------------------------------
def _builtin_paths() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.toml")) if BUILTIN_DIR.is_dir() else []


def _title_of(path: Path) -> str:
    try:
        title = tomllib.loads(path.read_text(encoding="utf-8")).get("title", path.stem)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return path.stem
    return title if isinstance(title, str) else path.stem


def list_builtin() -> list[tuple[str, str]]:
    """(name, title) of every built-in walkthrough, in course order."""
    return [(p.stem, _title_of(p)) for p in _builtin_paths() if p.stem != "example"]


def find_walkthrough(name_or_path: str | os.PathLike[str]) -> Path:
    """A built-in's name ("02_vanishing", or just "vanishing") or a file's path -> Path."""
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.is_file():
        return path
    looks_like_path = text.endswith(".toml") or os.sep in text or "/" in text
    if not looks_like_path:
        paths = {p.stem: p for p in _builtin_paths()}
        if text in paths:
            return paths[text]
        matches = [p for stem, p in paths.items() if re.sub(r"^\d+_", "", stem) == text]
        if len(matches) == 1:
            return matches[0]
        names = ", ".join(stem for stem, _ in list_builtin())
        raise WalkthroughError(f"{text}: no such walkthrough; built-ins are {names} "
                               "(or give a .toml file)")
    raise WalkthroughError(f"{path.name or text}: file not found ({path})")


# -- claims -------------------------------------------------------------------------------
def _pow10(log10: float) -> float:
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        return float(np.power(10.0, log10))


def _log10(x: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(np.float64(x)))


def _log10_norm(arrays) -> float:
    """log10 of the 2-norm of all the arrays together, scaled (no under- or overflow)."""
    with np.errstate(all="ignore"):
        flat = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays])
        if not np.all(np.isfinite(flat)):
            return math.nan if np.any(np.isnan(flat)) else math.inf
        m = float(np.max(np.abs(flat))) if flat.size else 0.0
        if m == 0.0:
            return -math.inf
        return math.log10(m) + math.log10(float(np.linalg.norm(flat / m)))


def measure_quantity(model: str, quantity: str, runs: Mapping[str, Any],
                     t: int | None = None) -> Measured:
    """`quantity` (a QUANTITIES key) of `model`'s run in computed runs (session.Run), at step
    t (1-based, the per-step quantities; None = 1). Magnitudes come from the diagnostics'
    log10 series, so they are exact however small or large."""
    run = runs[model]
    d = run.diagnostics
    kind = QUANTITIES[quantity][2]
    i = (t or 1) - 1
    with np.errstate(all="ignore"):
        if quantity == "bound_ratio":
            lg = (len(d.log10_grad_h) - (i + 1)) * _log10(d.rnn_bound)
        elif quantity == "jac_prod":
            lg = float(d.log10_jac_prod[i])
        elif quantity in STEP_QUANTITIES:
            series = {"grad_c_ratio": d.log10_grad_c, "whh_ratio": d.log10_whh}
            logs = np.asarray(series.get(quantity, d.log10_grad_h), dtype=np.float64)
            lg = float(logs[i]) if quantity == "grad_norm" else float(logs[i] - logs[-1])
        elif quantity == "jac_step_max":
            lg = float(np.max(d.log10_jac_step))
        elif quantity == "sigma_max":
            lg = _log10(d.sigma_max)
        elif quantity == "rnn_bound":
            lg = _log10(d.rnn_bound)
        elif quantity == "gamma":
            lg = _log10(d.rnn_bound) - _log10(d.sigma_max)
        elif quantity == "param_grad_norm":
            lg = _log10_norm(run.grads.params.values())
        elif quantity == "state_max":
            lg = _log10(np.max(np.abs(run.trace.h)))
        elif quantity == "max_forget":
            f = run.trace.gates[run.model.cell.keep.gate]
            return Measured(float(np.max(np.mean(f, axis=tuple(range(f.ndim - 1))))))
        elif quantity in ("mean_forget", "mean_update", "mean_keep"):
            keep = run.model.cell.keep  # mean_forget / mean_update: kinds whose keep it is
            gate = run.trace.gates[keep.gate]
            return Measured(float(np.mean(1.0 - gate if keep.complement else gate)))
        elif quantity == "loss":
            return Measured(float(run.loss))
        elif quantity == "param_count":
            return Measured(int(run.model.n_params), kind="count")
        elif quantity == "param_ratio":
            m = run.model
            return Measured(m.n_params / (m.hidden_size * (m.input_size + m.hidden_size + 2)))
        elif quantity == "overflow":
            return Measured(run.overflow_step is not None, kind="bool")
        else:
            raise KeyError(quantity)
    return Measured(_pow10(lg), lg, kind)


def measure(claim: Claim, runs: Mapping[str, Any]) -> Measured:
    """The value of `claim.quantity` for `claim.model` in computed runs (session.Run)."""
    return measure_quantity(claim.model, claim.quantity, runs, claim.t)


def check_claim(claim: Claim, runs: Mapping[str, Any]) -> tuple[bool, Measured]:
    """(holds, measured value). The value is a `Measured`: `float(value)` for the float64,
    `value.log10` for magnitudes (exact), `value.text()` to print it."""
    actual = measure(claim, runs)
    return claim.holds(actual), actual


def _format_bound(v: float, log10: float | None = None) -> str:
    """A claim's bound as its author wrote it (1e-10 -> 10⁻¹⁰, 0.899, 2.5 × 10⁻⁷), from its
    exact log10 where the bound is beyond float64."""
    if log10 is not None and math.isfinite(log10) and not (0 < v < math.inf):
        return format_magnitude(log10)
    if not math.isfinite(v) or v <= 0:
        return format_number(v)
    mantissa = f"{v:.12e}".split("e")[0].rstrip("0").rstrip(".").replace(".", "")
    digits = max(len(mantissa.lstrip("-")), 1)
    return format_magnitude(math.log10(v), digits)


def claim_sentence(claim: Claim, measured: Measured, label: str | None = None) -> str:
    """A claim as a sentence: 'RNN (tanh): ||dL/dh_1|| / ||dL/dh_T|| = 1.38 × 10⁻¹² — below
    10⁻¹⁰ ✓' ('— claimed below 10⁻¹⁰ ✗' when it fails). `label` names the model (the run's
    label); the math is plain text for `narration_markdown`, every number from numfmt."""
    ok = claim.holds(measured)
    phrase = PHRASES[claim.quantity].replace("{t}", str(claim.t or 1))
    who = label or claim.model.upper()
    mark = "✓" if ok else "✗"
    if claim.op == "==":
        want = "yes" if claim.value else "no"
        return (f"{who}: {phrase}: {measured.text()} — "
                f"{'as stated' if ok else 'stated ' + want} {mark}")
    logs = claim._bound_log10s()
    if claim.op == "between":
        bound = (f"between {_format_bound(claim.value[0], logs[0])} and "
                 f"{_format_bound(claim.value[1], logs[1])}")
    else:
        words = {"<": "below", "<=": "at most", ">": "above", ">=": "at least"}[claim.op]
        bound = f"{words} {_format_bound(float(claim.value), logs[0])}"
    return f"{who}: {phrase} = {measured.text()} — {'' if ok else 'stated '}{bound} {mark}"


# -- placeholders -------------------------------------------------------------------------
#: `{model.quantity}`, `{model.quantity@t=K}` or `{setup.key}` in narration text: an
#: identifier, a dot, then anything up to the closing brace (math braces like h_{t-1} never
#: hold "word.").
PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\.([^{}]*)\}")
_PLACEHOLDER_BODY = re.compile(r"(\w+)(?:@t=(-?\w+))?")


@dataclass(frozen=True)
class Placeholder:
    """A parsed narration placeholder: a setting (`model` == "setup") or a measured quantity."""

    text: str  # as written, braces included
    model: str
    key: str  # quantity, or setting name for "setup"
    t: int | None = None


def _parse_placeholder(ctx: _Ctx, m: re.Match, config: Config) -> Placeholder:
    where = f"narration: {m.group(0)}"
    model, body = m.group(1), m.group(2)
    parts = _PLACEHOLDER_BODY.fullmatch(body)
    if parts is None:
        raise ctx.error(where, "expected {model.quantity}, {model.quantity@t=K} or "
                               "{setup.setting}")
    key, t_text = parts.group(1), parts.group(2)
    if model == "setup":
        if t_text is not None:
            raise ctx.error(where, "a setting has no step; write {setup." + key + "}")
        if key not in FIELDS:
            raise ctx.error(where, f"unknown setting {key!r}; expected one of "
                                   f"{', '.join(FIELDS)}")
        return Placeholder(m.group(0), model, key)
    if model not in model_kinds():
        raise ctx.error(where, f"unknown model {model!r}; expected one of "
                               f"{', '.join(model_kinds())}, or setup for a setting")
    if model not in config.models:
        raise ctx.error(where, f"{model!r} is not among this step's models "
                               f"{list(config.models)}; add it with setup.models")
    if key not in QUANTITIES:
        raise ctx.error(where, f"unknown quantity {key!r}; expected one of "
                               f"{', '.join(QUANTITIES)}")
    models = QUANTITIES[key][1]
    if model not in models:
        raise ctx.error(where, f"{key} applies to {', '.join(models)} only, not {model}")
    t = None
    if t_text is not None:
        if key not in STEP_QUANTITIES:
            raise ctx.error(where, f"{key} has no step; only {', '.join(STEP_QUANTITIES)} "
                                   "take @t=")
        raw: Any = t_text
        if re.fullmatch(r"-?\d+", t_text):
            raw = int(t_text)
        t = _resolve_t(ctx, where, raw, config.seq_len)
    return Placeholder(m.group(0), model, key, t)


def parse_placeholders(ctx: _Ctx, text: str, config: Config) -> tuple[Placeholder, ...]:
    """Every placeholder in `text` (code spans included: they are replaced there too),
    validated against the step's config; a bad one is a WalkthroughError."""
    return tuple(_parse_placeholder(ctx, m, config) for m in PLACEHOLDER.finditer(text))


def _format_setting(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)


def render_narration(step: Step, runs: Mapping[str, Any] | None) -> str:
    """The step's narration with its placeholders replaced: settings from the step's config,
    quantities measured on `runs` (the runs on screen; '…' where a model has no run yet)."""
    config = step.config
    ctx = _Ctx("<narration>")

    def value(m: re.Match) -> str:
        p = _parse_placeholder(ctx, m, config)
        if p.model == "setup":
            return _format_setting(getattr(config, p.key))
        if not runs or p.model not in runs:
            return "…"
        return measure_quantity(p.model, p.key, runs, p.t).text()

    # no line break inside a number ("1.4 × 10⁻¹²", "1 216")
    return PLACEHOLDER.sub(lambda m: value(m).replace(" ", "\u00a0").replace("\u2009", "\u202f"),
                           step.narration)


# -- the every-number rule ----------------------------------------------------------------
_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1[^\n]*$", re.M | re.S)
_FORMULA_LINE = re.compile(r"^\s*\*\*[^*\n]+\*\*\s*$", re.M)
_STRUCTURAL = [
    re.compile(r"`[^`]*`"),  # code spans
    re.compile(r"_\{[^{}]*\}|_\w+"),  # subscripts: x_1, h_{t-1}, sigma_max
    re.compile(r"(?<=[A-Za-z)\]|‖])\^(\{[^{}]*\}|[-+]?\w+)"),  # powers of symbols: x^2, W^T
    re.compile(r"\bt\s*=\s*\d+\b|\b[tT]\s*[−+-]\s*\d+\b"),  # step indices: t = 1, T − 1
    re.compile(r"(?i)\b(lecture|step|steps)\s+\d+\b"),  # references: lecture 2, step 3
    re.compile(r"\b(19|20)\d\d\)"),  # citation years: (2013), et al., 2014)
]
_POWER = re.compile(r"(?:(?<![\w.])(\d+(?:\.\d+)?)\s*[·×*]\s*)?\b10\^\{?([-+−]?\d+)\}?")
_FIGURE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:[eE]([-+]?\d+))?(?:/(\d+))?"
                     r"(?!\w|\.\d)|(?<![\w.])\.\d+")
#: Integers that are structure, never a measured figure (identity, gate bounds, thresholds).
STRUCTURAL_NUMBERS = ("0", "1")


def figure_matches(log10_value: float, claims: tuple[Claim, ...]) -> bool:
    """Whether a figure the narration states (by its log10) is backed by one of `claims`:
    equal to a bound (to 1e-9 in the exponent), or inside a `between` claim's [low, high]."""
    for c in claims:
        if c.op == "==":
            continue
        bounds = c._bound_log10s()
        if None in bounds:
            continue
        if c.op == "between" and bounds[0] <= log10_value <= bounds[1]:
            return True
        if any(abs(log10_value - b) <= 1e-9 for b in bounds):
            return True
    return False


def unchecked_figures(step: Step) -> list[str]:
    """The figures in a step's narration that are neither a claim's bound nor a placeholder
    (FORMAT.md, "Every number is checked"); a built-in lecture has none."""
    text = _FENCE.sub(" ", step.narration)
    text = PLACEHOLDER.sub(" ", text)
    text = _FORMULA_LINE.sub(" ", text)
    for pattern in _STRUCTURAL:
        text = pattern.sub(" ", text)
    found = []

    def power(m: re.Match) -> str:
        e = int(m.group(2).replace("−", "-"))
        mantissa = math.log10(float(m.group(1))) if m.group(1) and float(m.group(1)) else 0.0
        if not figure_matches(mantissa + e, step.claims):
            found.append(m.group(0))
        return " "

    text = _POWER.sub(power, text)
    for m in _FIGURE.finditer(text):
        token = m.group(0)
        number, exponent, denominator = m.group(1), m.group(2), m.group(3)
        if number is None:  # ".5"
            number = token
        if number in STRUCTURAL_NUMBERS and exponent is None and denominator is None:
            continue
        if denominator is not None and float(denominator) == 0:
            found.append(token)
            continue
        value = float(number) / float(denominator) if denominator else float(number)
        log10 = _log10(value) + (int(exponent) if exponent else 0) if value > 0 else -math.inf
        if not figure_matches(log10, step.claims):
            found.append(token)
    return found


# -- narration ----------------------------------------------------------------------------
_GREEK = {"sigma": "σ", "gamma": "γ", "phi": "φ", "delta": "δ", "lambda": "λ", "theta": "θ",
          "alpha": "α", "beta": "β", "eta": "η", "epsilon": "ε", "partial": "∂"}
_SYMBOLS = [("<=", "≤"), (">=", "≥"), ("->", "→"), ("!=", "≠"), ("||", "‖"), ("~=", "≈")]
_SUB = re.compile(r"(?<![A-Za-z0-9_\\])((?:d|∂)?[A-Za-zσγφδλθαβηε])_(\{[^{}]*\}|[A-Za-z0-9]+)")
_SUP = re.compile(r"(?<=[A-Za-z0-9)‖>])\^(\{[^{}]*\}|\([^()]*\)|[-+]?[A-Za-z0-9.]*[A-Za-z0-9])")
_PRIME = re.compile(r"(?<![A-Za-z])(tanh|σ|φ|[A-Za-z])'(?![A-Za-z])")
_GREEK_RE = re.compile(r"(?<![A-Za-z])(" + "|".join(_GREEK) + r")(?![a-z])")
_TIMES = re.compile(r"(?<=[\w)‖])\*(?=[\w(‖])")


def _script(tag: str, body: str) -> str:
    if body[:1] in "{(" and body[-1:] in "})":
        body = body[1:-1]
    body = body.replace("-", "−")
    return f"<{tag}>{body}</{tag}>"


def _math(text: str) -> str:
    text = _GREEK_RE.sub(lambda m: _GREEK[m.group(1)], text)
    for a, b in _SYMBOLS:
        text = text.replace(a, b)
    text = _TIMES.sub("·", text)
    text = _PRIME.sub(lambda m: m.group(1) + "′", text)
    text = _SUB.sub(lambda m: m.group(1) + _script("sub", m.group(2)), text)
    return _SUP.sub(lambda m: _script("sup", m.group(1)), text)


def narration_markdown(text: str) -> str:
    """Markdown with plain-text math (h_t, h_{t-1}, sigma', 10^-6, x^{2}, ||v||, <=) turned
    into Unicode and inline <sub>/<sup> HTML; code spans and fenced blocks are left alone."""
    out = []
    fenced = False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            out.append(line)
            continue
        if fenced:
            out.append(line)
            continue
        parts = re.split(r"(`[^`]*`)", line)
        out.append("".join(p if p.startswith("`") and p.endswith("`") and len(p) > 1
                           else _math(p) for p in parts))
    return "".join(out)
