"""How a number is written for people: the one home for every figure on screen or in text.

Magnitudes travel as log10 values (DESIGN.md, "Magnitudes"), so a value far beyond float64
(10^-777) is written from its log exactly: `format_log10(-776.5)` -> "3.2 × 10⁻⁷⁷⁷". Pure;
no Qt. `plain=True` gives ASCII ("3.2e-777") for logs, CSV notes and terminals.
"""

from __future__ import annotations

import math

_SUP = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")


def superscript(n: int) -> str:
    """An integer in Unicode superscript digits: -12 -> '⁻¹²'."""
    return str(int(n)).translate(_SUP)


def split_log10(log10_value: float, digits: int = 2) -> tuple[float, int]:
    """log10 |x| -> (mantissa in [1, 10), exponent) rounded to `digits` significant digits."""
    e = math.floor(log10_value)
    m = round(10.0 ** (log10_value - e), digits - 1)
    if m >= 10.0:  # 9.96 rounds up to 10.0
        m, e = m / 10.0, e + 1
    return m, int(e)


def format_log10(log10_value: float, digits: int = 2, *, plain: bool = False,
                 sign: str = "") -> str:
    """The number 10**log10_value, exactly from its log (never through a float that could
    underflow or overflow). NaN -> 'NaN'; -inf (an exact zero) -> '0'; +inf -> 'inf'."""
    if math.isnan(log10_value):
        return "NaN"
    if log10_value == -math.inf:
        return "0"
    if log10_value == math.inf:
        return f"{sign}inf"
    m, e = split_log10(log10_value, digits)
    mant = f"{m:.{max(digits - 1, 0)}f}"
    if plain:
        return f"{sign}{mant}e{e:+d}" if e else f"{sign}{mant}"
    if e == 0:
        return f"{sign}{mant}"
    if float(mant) == 1.0:
        return f"{sign}10{superscript(e)}"
    return f"{sign}{mant} × 10{superscript(e)}"


def format_number(value: float, digits: int = 3, *, plain: bool = False) -> str:
    """A float as people read it: 0.0123, 42.5, 1.4 × 10⁻¹² (scientific outside 1e-3..1e4).

    NaN -> 'NaN', ±inf -> '±inf' (a value that stopped being finite in float64)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    a = abs(value)
    sign = "-" if value < 0 else ""
    if 1e-3 <= a < 1e3:
        return f"{value:.{digits}g}"
    if 1e3 <= a < 1e4:  # 4420, not 4.42e+03
        return f"{round(value, digits - 4):.0f}"
    return format_log10(math.log10(a), digits, plain=plain, sign=sign)


def format_exponent(log10_value: float) -> str:
    """A power of ten from its exponent: 3 -> '10³', -12 -> '10⁻¹²' (a tick or a bound)."""
    if not math.isfinite(log10_value):
        return format_log10(log10_value)
    if float(log10_value).is_integer():
        return f"10{superscript(int(log10_value))}"
    return format_log10(log10_value)


def format_magnitude(log10_value: float, digits: int = 3, *, plain: bool = False) -> str:
    """A positive magnitude from its log10 (exact at any size): plain decimals from 10⁻³ to
    10⁴ with `digits` significant digits and no trailing zeros (0.733, 0.9, 4416), and
    '1.38 × 10⁻¹²' beyond, like `format_log10`. NaN -> 'NaN', -inf (zero) -> '0'."""
    if not math.isfinite(log10_value) or not -3.0 <= log10_value < 4.0:
        return format_log10(log10_value, digits, plain=plain)
    e = math.floor(log10_value)
    decimals = max(digits - 1 - e, 0)
    text = f"{10.0 ** log10_value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_count(n: int) -> str:
    """A count of things (parameters) in full, thousands separated by a thin space: 4 416."""
    return f"{int(n):,}".replace(",", "\u2009")


def format_bytes(n: int | float) -> str:
    """A size for people, in binary units: 1536 -> '1.5 KiB', 8 * 2**40 -> '8 TiB'."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


__all__ = ["format_bytes", "format_count", "format_exponent", "format_log10",
           "format_magnitude", "format_number", "split_log10", "superscript"]
