"""The one number formatter: exact from the log, never through an underflowing float."""

import math

import pytest

from lstmviz.numfmt import format_exponent, format_log10, format_number, superscript


@pytest.mark.parametrize(("log10_value", "text"), [
    (math.log10(1.27e-35), "1.3 × 10⁻³⁵"),
    (-776.5, "3.2 × 10⁻⁷⁷⁷"),
    (9999.0, "10⁹⁹⁹⁹"),
    (math.log10(9.96e-5), "10⁻⁴"),
    (0.0, "1.0"),
    (math.log10(3.0), "3.0"),
    (float("nan"), "NaN"),
    (-math.inf, "0"),
])
def test_format_log10(log10_value, text):
    assert format_log10(log10_value) == text


def test_plain_and_number():
    assert format_log10(-776.5, plain=True) == "3.2e-777"
    assert format_number(1.4e-12) == "1.40 × 10⁻¹²"
    assert format_number(-2.5e300, 2) == "-2.5 × 10³⁰⁰"
    assert format_number(0.0123) == "0.0123"
    assert format_number(4420.123) == "4420"
    assert format_number(float("inf")) == "inf"
    assert format_number(float("nan")) == "NaN"
    assert superscript(-12) == "⁻¹²"
    assert format_exponent(-10) == "10⁻¹⁰"


def test_format_magnitude_is_format_number_inside_float64_and_exact_beyond():
    from lstmviz.numfmt import format_magnitude

    for v in (0.0123, 42.5, 1.11e191, 3.3e-31, 1.0):
        assert format_magnitude(math.log10(v)) == format_number(v)
    assert format_magnitude(-776.5) == "3.16 × 10⁻⁷⁷⁷"
    assert format_magnitude(float("-inf")) == "0"
    assert format_magnitude(float("nan")) == "NaN"
