"""numfmt.format_magnitude / format_count: how measured claim values and placeholders read."""

import math

import pytest

from lstmviz.numfmt import format_count, format_magnitude


@pytest.mark.parametrize(("value", "text"), [
    (0.9, "0.9"), (0.7325, "0.733"), (4416.0, "4416"), (46.5, "46.5"), (0.001, "0.001"),
    (1.38e-12, "1.38 × 10⁻¹²"), (1e6, "10⁶"), (5.24e6, "5.24 × 10⁶"), (1.0, "1"),
])
def test_format_magnitude(value, text):
    assert format_magnitude(math.log10(value)) == text


def test_format_magnitude_beyond_float64_and_edges():
    assert format_magnitude(-776.5) == "3.16 × 10⁻⁷⁷⁷"
    assert format_magnitude(-776.5, plain=True) == "3.16e-777"
    assert format_magnitude(-math.inf) == "0"
    assert format_magnitude(math.nan) == "NaN"
    assert format_magnitude(math.inf) == "inf"


def test_format_count():
    assert format_count(304) == "304"
    assert format_count(1216) == "1\u2009216"
    assert format_count(1234567) == "1\u2009234\u2009567"
