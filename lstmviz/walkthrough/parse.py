"""Reading a lecture file: TOML -> a validated `Walkthrough`, every problem one
`WalkthroughError` naming the file, the step and the key; narration placeholders parsed here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstmviz.config import FIELDS, Config, ConfigError, model_kinds, read_toml, short_repr
from lstmviz.walkthrough.claims import _pow10
from lstmviz.walkthrough.model import (
    Claim,
    Highlight,
    Step,
    Sweep,
    Walkthrough,
    WalkthroughError,
)
from lstmviz.walkthrough.vocabulary import (
    BOOL_OPS,
    CELL_KEYS,
    CLAIM_KEYS,
    CURSOR_KEYS,
    DOCKS,
    HIGHLIGHT_KEYS,
    NUMBER_OPS,
    PHASES,
    QUANTITIES,
    STEP_KEYS,
    STEP_QUANTITIES,
    SWEEP_KEYS,
    SWEEP_LENGTHS,
    SWEEP_MAX_ITERATIONS,
    SWEEP_PLACEHOLDERS,
    TOP_KEYS,
    Y_RANGE_LIMIT,
    all_gates,
)


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
        raise ctx.error(f"{key}.model", f"unknown model {short_repr(model)}; expected one of "
                                        f"{', '.join(model_kinds())}")
    if model not in config.models:
        raise ctx.error(f"{key}.model", f"{short_repr(model)} is not among this step's models "
                                        f"{list(config.models)}; add it with setup.models")
    quantity = ctx.expect(f"{key}.quantity", raw["quantity"], str, "a quantity name")
    if quantity not in QUANTITIES:
        raise ctx.error(f"{key}.quantity", f"unknown quantity {short_repr(quantity)}; "
                                           f"expected one of {', '.join(QUANTITIES)}")
    _, models, kind = QUANTITIES[quantity]
    if model not in models:
        raise ctx.error(f"{key}.quantity", f"{quantity} applies to {', '.join(models)} only, "
                                           f"not {model}")
    op = ctx.expect(f"{key}.op", raw["op"], str, "a comparison")
    ops = BOOL_OPS if kind == "bool" else NUMBER_OPS
    if op not in ops:
        raise ctx.error(f"{key}.op", f"{short_repr(op)} cannot compare {quantity}; expected one of "
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
            raise ctx.error("cursor.phase", f"unknown phase {short_repr(phase)}; expected one of "
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
                raise ctx.error("highlight.cell.model",
                                f"unknown model {short_repr(model)}; expected one "
                                f"of {', '.join(model_kinds())}")
            if model not in config.models:
                raise ctx.error("highlight.cell.model",
                                f"{short_repr(model)} is not among this step's "
                                f"models {list(config.models)}")
            cell = (model, _resolve_t(ctx, "highlight.cell.t", c["t"], config.seq_len))
        if "gate" in hl:
            gate = ctx.expect("highlight.gate", hl["gate"], str, "a gate name")
            if gate not in all_gates():
                raise ctx.error("highlight.gate", f"unknown gate {short_repr(gate)}; "
                                                  f"expected one of {', '.join(all_gates())}")
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
    sweep = _parse_sweep(ctx, raw["sweep"], config) if "sweep" in raw else None
    parse_placeholders(ctx, narration, config, sweep)
    y_range = _parse_y_range(ctx, raw["y_range"]) if "y_range" in raw else None
    layer = _parse_layer(ctx, raw["layer"], config) if "layer" in raw else None
    return Step(ctx.step or 0, title, narration, config, dict(setup), docks, phase, t, play,
                highlight, claims, y_range, sweep, layer)


def _parse_layer(ctx: _Ctx, raw: Any, config: Config) -> int:
    """`layer = K`: the layer of the stacked models (1 = the bottom, reading the input) that
    the forget-gate, gates, cell-state and Jacobians panels and the inspector show."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ctx.error("layer", f"expected a whole number, 1 (the bottom layer) to "
                                 f"{config.num_layers} (the top), got {_type_name(raw)} "
                                 f"{_short(raw)}")
    if not 1 <= raw <= config.num_layers:
        raise ctx.error("layer", f"{raw} is out of range; this step's models have "
                                 f"{config.num_layers} layer(s): expected 1 to "
                                 f"{config.num_layers}")
    return raw


def _parse_sweep(ctx: _Ctx, raw: Any, config: Config) -> Sweep:
    """`sweep = {task, lengths, iterations, models}`: the Training dock's Sweep tab, preset
    when the step opens (models default to the step's setup models)."""
    ctx.expect("sweep", raw, dict, "a table {task, lengths, iterations, models}")
    ctx.unknown(raw, SWEEP_KEYS, "sweep.")
    for k in ("task", "lengths", "iterations"):
        if k not in raw:
            raise ctx.error(f"sweep.{k}", "missing")
    task = ctx.expect("sweep.task", raw["task"], str, "a task name")
    if task not in SWEEP_LENGTHS:
        raise ctx.error("sweep.task", f"unknown task {task!r}; expected one of "
                                      f"{', '.join(SWEEP_LENGTHS)}")
    lengths = ctx.expect("sweep.lengths", raw["lengths"], list, "a list of lengths")
    if not lengths:
        raise ctx.error("sweep.lengths", "empty; give at least one length")
    low, high = SWEEP_LENGTHS[task]
    for n in lengths:
        if isinstance(n, bool) or not isinstance(n, int):
            raise ctx.error("sweep.lengths", f"expected whole numbers, got {_type_name(n)} "
                                             f"{_short(n)}")
        if not low <= n <= high:
            raise ctx.error("sweep.lengths", f"{n} is out of range; {task} takes {low} to "
                                             f"{high}")
    iterations = raw["iterations"]
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise ctx.error("sweep.iterations", f"expected a whole number of minibatches per "
                                            f"point, got {_type_name(iterations)} "
                                            f"{_short(iterations)}")
    if not 1 <= iterations <= SWEEP_MAX_ITERATIONS:
        raise ctx.error("sweep.iterations", f"{iterations} is out of range; expected 1 to "
                                            f"{SWEEP_MAX_ITERATIONS}")
    models = raw.get("models", list(config.models))
    ctx.expect("sweep.models", models, list, "a list of model names")
    if not models:
        raise ctx.error("sweep.models", "empty; name at least one model")
    for m in models:
        if not isinstance(m, str) or m not in model_kinds():
            raise ctx.error("sweep.models", f"unknown model {_short(m)}; expected some of "
                                            f"{', '.join(model_kinds())}")
    return Sweep(task, tuple(sorted(set(lengths))), iterations, tuple(dict.fromkeys(models)))


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
        return adopt_hidden_size(config, keep="hidden_size" in setup,
                                 keep_layers="num_layers" in setup)
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


def _parse_placeholder(ctx: _Ctx, m: re.Match, config: Config,
                       sweep: Sweep | None = None) -> Placeholder:
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
            raise ctx.error(where, f"unknown setting {short_repr(key)}; expected one of "
                                   f"{', '.join(FIELDS)}")
        return Placeholder(m.group(0), model, key)
    if model == "sweep":
        if sweep is None:
            raise ctx.error(where, "this step has no sweep; add sweep = {task, lengths, "
                                   "iterations}")
        if t_text is not None or key not in SWEEP_PLACEHOLDERS:
            raise ctx.error(where, f"unknown sweep value {body!r}; expected one of "
                                   f"{', '.join(SWEEP_PLACEHOLDERS)}")
        return Placeholder(m.group(0), model, key)
    if model not in model_kinds():
        raise ctx.error(where, f"unknown model {short_repr(model)}; expected one of "
                               f"{', '.join(model_kinds())}, or setup for a setting")
    if model not in config.models:
        raise ctx.error(where, f"{short_repr(model)} is not among this step's models "
                               f"{list(config.models)}; add it with setup.models")
    if key not in QUANTITIES:
        raise ctx.error(where, f"unknown quantity {short_repr(key)}; expected one of "
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


def parse_placeholders(ctx: _Ctx, text: str, config: Config,
                       sweep: Sweep | None = None) -> tuple[Placeholder, ...]:
    """Every placeholder in `text` (code spans included: they are replaced there too),
    validated against the step's config (and sweep); a bad one is a WalkthroughError."""
    return tuple(_parse_placeholder(ctx, m, config, sweep) for m in PLACEHOLDER.finditer(text))
