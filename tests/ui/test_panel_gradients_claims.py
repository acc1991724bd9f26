"""The ratio the gradient panel prints is the claim's measured value, for every built-in
walkthrough step with a grad_ratio claim (2.5, 5.5 and 6.2 used to print a value floored at
10^-30: 5.5×10⁻³⁰ for a true 1.27×10⁻³⁵)."""

import math

import numpy as np
import pytest

from lstmviz.numfmt import format_magnitude
from lstmviz.session import BACKWARD, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.gradients import COMPACT_NOTES, GradientPanel
from lstmviz.walkthrough import load_walkthrough, measure
from lstmviz.walkthrough.library import _builtin_paths

SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _ratio_steps():
    out = []
    for path in _builtin_paths():
        for step in load_walkthrough(path).steps:
            claims = [c for c in step.claims if c.quantity == "grad_ratio"]
            if claims:
                out.append(pytest.param(step, claims, id=f"{path.stem}-{step.index}"))
    return out


@pytest.mark.parametrize(("step", "claims"), _ratio_steps())
def test_printed_ratio_is_the_claims_measurement(qtbot, step, claims):
    session = Session(step.config)
    panel = GradientPanel(SessionAdapter(session))
    qtbot.addWidget(panel)
    for claim in claims:
        t = claim.t or 1
        session.seek_to(BACKWARD, t)
        d = session.runs[claim.model].diagnostics
        exact = float(d.log10_grad_h[t - 1] - d.log10_grad_h[-1])
        assert panel.ratio_log10(claim.model, t) == exact
        label = session.runs[claim.model].label
        text = panel.notes.toPlainText()
        sub = str(t).translate(SUB)
        if len(session.runs) > COMPACT_NOTES:  # many models: one paragraph, label and value
            assert f"‖dL/dh{sub}‖ / ‖dL/dh_T‖: " in text
            assert f"{label} {format_magnitude(exact)}" in text
        else:
            assert f"{label}: ‖dL/dh{sub}‖ / ‖dL/dh_T‖ = {format_magnitude(exact)}" in text
        measured = float(measure(claim, session.runs))
        if measured > 0 and math.isfinite(measured):  # the claim's figure, as a float
            assert math.log10(measured) == pytest.approx(exact, abs=1e-9)


def test_the_three_steps_that_were_wrong():
    """The truths from the issue: 2.5 1.27×10⁻³⁵, 5.5 3.3×10⁻³¹ (rnn), 6.2 6.7×10⁻³⁹."""
    truths = {("02_vanishing", 5, "rnn"): 1.27e-35, ("05_compare", 5, "rnn"): 3.3e-31,
              ("06_limits", 2, "lstm"): 6.7e-39}
    for path in _builtin_paths():
        for step in load_walkthrough(path).steps:
            for (stem, index, model), truth in truths.items():
                if path.stem == stem and step.index == index:
                    d = Session(step.config).runs[model].diagnostics
                    got = d.log10_grad_h[0] - d.log10_grad_h[-1]
                    assert got == pytest.approx(np.log10(truth), abs=0.01)
                    assert got < -30  # below the old floor
