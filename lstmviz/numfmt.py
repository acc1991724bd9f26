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
    if 1e-3 <= a < 1e4:
        return f"{value:.{digits}g}"
    return format_log10(math.log10(a), digits, plain=plain, sign=sign)


def format_magnitude(log10_value: float, digits: int = 3, *, plain: bool = False) -> str:
    """A magnitude given by its log10, written as `format_number` writes the value (0.0123,
    42.5, 1.11 × 10¹⁹¹) and exactly where no float64 holds it (3.21 × 10⁻⁷⁷⁷)."""
    if math.isfinite(log10_value) and -3 <= log10_value < 4:
        return format_number(10.0 ** log10_value, digits, plain=plain)
    return format_log10(log10_value, digits, plain=plain)


def format_exponent(log10_value: float) -> str:
    """A power of ten from its exponent: 3 -> '10³', -12 -> '10⁻¹²' (a tick or a bound)."""
    if not math.isfinite(log10_value):
        return format_log10(log10_value)
    if float(log10_value).is_integer():
        return f"10{superscript(int(log10_value))}"
    return format_log10(log10_value)


__all__ = ["format_exponent", "format_log10", "format_magnitude", "format_number", "split_log10",
           "superscript"]
