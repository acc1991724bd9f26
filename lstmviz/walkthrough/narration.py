"""Narration for the screen: placeholders filled from the run, the every-number rule (each
figure stated is a checked claim's bound) and plain-text math turned into Markdown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from lstmviz.numfmt import format_number
from lstmviz.walkthrough.claims import _log10, measure_quantity, quantity_pending
from lstmviz.walkthrough.model import Claim, Step
from lstmviz.walkthrough.parse import PLACEHOLDER, _Ctx, _parse_placeholder


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
    quantities measured on `runs` (the runs on screen; '…' where a model has no run yet,
    '… (measuring)' where the exact Jacobian norms a quantity needs are still computing)."""
    config = step.config
    ctx = _Ctx("<narration>")

    def value(m: re.Match) -> str:
        p = _parse_placeholder(ctx, m, config, step.sweep)
        if p.model == "setup":
            return _format_setting(getattr(config, p.key))
        if p.model == "sweep":
            return _format_setting(step.sweep.value(p.key))
        if not runs or p.model not in runs:
            return "…"
        if quantity_pending(p.model, p.key, runs):
            return "… (measuring)"  # the backward pass or the exact Jacobian norms follow
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
