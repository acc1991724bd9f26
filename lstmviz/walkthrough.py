"""Walkthrough files: a TOML lecture -> a validated `Walkthrough` of `Step`s (pure, no Qt).

Format (resources/walkthroughs/FORMAT.md has the annotated version): top-level `title`,
`description` and `[[step]]` tables with `title`, `narration` (Markdown), `setup` (Config
fields on top of the previous step's config), `docks`, `cursor = {phase, t}`, `play`,
`highlight = {cell = {model, t}, gate, steps = [a, b]}` and `claims`, the numbers the
narration states, which `check_claim` measures on the computed runs.
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

import lstmviz
from lstmviz.config import FIELDS, MODEL_KINDS, Config, ConfigError, read_toml

BUILTIN_DIR = lstmviz.RESOURCES / "walkthroughs"

PHASES = ("forward", "loss", "backward")
#: Dock names a step may show; the others are hidden (the walkthrough dock always stays).
DOCKS = ("settings", "gradients", "jacobians", "forget", "gates", "cellstate", "inspector",
         "walkthrough", "training")
#: Gate names per model (the engine's `trace.gates` keys).
GATES = {"lstm": ("input", "forget", "cell", "output"), "gru": ("reset", "update", "new")}
ALL_GATES = tuple(dict.fromkeys(g for gates in GATES.values() for g in gates))

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
QUANTITIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "grad_ratio": ("||dL/dh_t|| / ||dL/dh_T|| (t = 1 unless given)", MODEL_KINDS, "number"),
    "grad_c_ratio": ("||dL/dc_t|| / ||dL/dc_T|| (t = 1 unless given)", ("lstm",), "number"),
    "grad_norm": ("||dL/dh_t|| (t = 1 unless given)", MODEL_KINDS, "number"),
    "whh_ratio": ("step t's contribution to dL/dW_hh / step T's (t = 1 unless given)",
                  MODEL_KINDS, "number"),
    "jac_step_max": ("largest per-step Jacobian norm ||dh_t/dh_{t-1}||_2 over t", MODEL_KINDS,
                     "number"),
    "sigma_max": ("largest singular value of W_hh (of its largest gate block)", MODEL_KINDS,
                  "number"),
    "rnn_bound": ("sigma_max(W_hh) * gamma, gamma = sup |phi'|", ("rnn",), "number"),
    "mean_forget": ("mean forget gate f_t over all steps and units", ("lstm",), "number"),
    "mean_update": ("mean update gate z_t over all steps and units", ("gru",), "number"),
    "loss": ("the loss of the run", MODEL_KINDS, "number"),
    "param_ratio": ("parameters / parameters of a vanilla RNN of the same size", MODEL_KINDS,
                    "number"),
    "overflow": ("numbers stopped being finite somewhere in the run", MODEL_KINDS, "bool"),
}
STEP_QUANTITIES = ("grad_ratio", "grad_c_ratio", "grad_norm", "whh_ratio")
NUMBER_OPS = ("<", "<=", ">", ">=", "between")
BOOL_OPS = ("==",)
GATE_COUNT = {"rnn": 1, "lstm": 4, "gru": 3}


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

    def describe(self) -> str:
        at = f" at t = {self.t}" if self.t is not None else ""
        if self.op == "between":
            rhs = f"in [{self.value[0]:g}, {self.value[1]:g}]"
        elif isinstance(self.value, bool):
            rhs = f"== {str(self.value).lower()}"
        else:
            rhs = f"{self.op} {self.value:g}"
        return f"{self.model} {self.quantity}{at} {rhs}"

    def holds(self, actual: Any) -> bool:
        """Whether a measured value satisfies the claim (NaN never does)."""
        if self.op == "==":
            return bool(actual) == bool(self.value)
        a = float(actual)
        if math.isnan(a):
            return False
        if self.op == "between":
            return self.value[0] <= a <= self.value[1]
        v = float(self.value)
        return {"<": a < v, "<=": a <= v, ">": a > v, ">=": a >= v}[self.op]


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

    def __init__(self, source: str) -> None:
        self.source = source
        self.step: int | None = None

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
    if model not in MODEL_KINDS:
        raise ctx.error(f"{key}.model", f"unknown model {model!r}; expected one of "
                                        f"{', '.join(MODEL_KINDS)}")
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
    if kind == "bool":
        ctx.expect(f"{key}.value", value, bool, "true or false")
    elif op == "between":
        ctx.expect(f"{key}.value", value, list, "a list [low, high]")
        if len(value) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                      and math.isfinite(v) for v in value):
            raise ctx.error(f"{key}.value", f"expected two finite numbers [low, high], "
                                            f"got {_short(value)}")
        if value[0] > value[1]:
            raise ctx.error(f"{key}.value", f"low {value[0]} is above high {value[1]}")
        value = (float(value[0]), float(value[1]))
    else:
        ctx.expect(f"{key}.value", value, (int, float), "a number")
        if math.isnan(value):
            raise ctx.error(f"{key}.value", "expected a number, got nan")
        value = float(value)
    t = None
    if "t" in raw:
        if quantity not in STEP_QUANTITIES:
            raise ctx.error(f"{key}.t", f"{quantity} has no step; only "
                                        f"{', '.join(STEP_QUANTITIES)} take t")
        t = _resolve_t(ctx, f"{key}.t", raw["t"], config.seq_len)
    return Claim(model, quantity, op, value, t)


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
        config = Config.from_dict(dict(setup), base=base)
    except ConfigError as exc:
        raise ctx.error(None, f"setup.{exc}") from None
    except (TypeError, ValueError) as exc:  # e.g. an unhashable value in a list
        raise ctx.error("setup", f"invalid settings ({exc})") from None

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
            if model not in MODEL_KINDS:
                raise ctx.error("highlight.cell.model", f"unknown model {model!r}; expected one "
                                                        f"of {', '.join(MODEL_KINDS)}")
            if model not in config.models:
                raise ctx.error("highlight.cell.model", f"{model!r} is not among this step's "
                                                        f"models {list(config.models)}")
            cell = (model, _resolve_t(ctx, "highlight.cell.t", c["t"], config.seq_len))
        if "gate" in hl:
            gate = ctx.expect("highlight.gate", hl["gate"], str, "a gate name")
            if gate not in ALL_GATES:
                raise ctx.error("highlight.gate", f"unknown gate {gate!r}; expected one of "
                                                  f"{', '.join(ALL_GATES)}")
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


def parse_walkthrough(data: Any, source: str = "<walkthrough>", path: Path | None = None,
                      base: Config | None = None) -> Walkthrough:
    """Validate a decoded TOML document; `base` is the config the first step builds on."""
    ctx = _Ctx(source)
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
def measure(claim: Claim, runs: Mapping[str, Any]) -> Any:
    """The value of `claim.quantity` for `claim.model` in computed runs (session.Run)."""
    import numpy as np

    run = runs[claim.model]
    d = run.diagnostics
    t = (claim.t or 1) - 1
    with np.errstate(all="ignore"):
        if claim.quantity in STEP_QUANTITIES:
            series = {"grad_c_ratio": d.grad_c_norm, "whh_ratio": d.whh_contrib}
            norms = np.asarray(series.get(claim.quantity, d.grad_h_norm), dtype=float)
            if claim.quantity == "grad_norm":
                return float(norms[t])
            return float(norms[t] / norms[-1])
        if claim.quantity == "jac_step_max":
            return float(np.max(d.jac_step_norm))
        if claim.quantity == "sigma_max":
            return float(d.sigma_max)
        if claim.quantity == "rnn_bound":
            return float(d.rnn_bound)
        if claim.quantity == "mean_forget":
            return float(np.mean(run.trace.gates["forget"]))
        if claim.quantity == "mean_update":
            return float(np.mean(run.trace.gates["update"]))
        if claim.quantity == "loss":
            return float(run.loss)
        if claim.quantity == "param_ratio":
            m = run.model
            rnn = m.hidden_size * (m.input_size + m.hidden_size + 2)
            return m.n_params / rnn
        if claim.quantity == "overflow":
            return run.overflow_step is not None
    raise KeyError(claim.quantity)


def check_claim(claim: Claim, runs: Mapping[str, Any]) -> tuple[bool, Any]:
    """(holds, measured value)."""
    actual = measure(claim, runs)
    return claim.holds(actual), actual


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
