"""The walkthrough narration on screen: placeholders filled from the runs on screen, claims as
sentences (no raw identifiers, no bullets), a failing claim red with a warning."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from lstmviz.config import Config
from lstmviz.session import Session
from lstmviz.ui.main_window import MainWindow
from lstmviz.walkthrough import QUANTITIES, check_claim, measure_quantity


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    w = MainWindow(Session(Config(seq_len=12, hidden_size=6)), settings=settings, restore=False)
    qtbot.addWidget(w)
    with qtbot.waitActive(w):
        w.show()
    yield w
    w.playback.play(False)
    w.tools["walkthrough"].stop()


def _open(window, name, step):
    panel = window.tools["walkthrough"]
    assert panel.open(name, step, animate=False)
    return panel


def test_claims_read_like_sentences(window):
    panel = _open(window, "02_vanishing", 3)
    text = panel.narration.toPlainText()
    runs = window.session.runs
    ratio = measure_quantity("rnn", "grad_ratio", runs).text()
    assert ratio == "1.38 × 10⁻¹²"
    assert f"RNN (tanh): ‖dL/dh1‖ / ‖dL/dhT‖ = {ratio} — below 10⁻¹⁰ ✓" in text
    assert "RNN (tanh): σmax·γ = 0.9 — between 0.899 and 0.901 ✓" in text
    for raw in QUANTITIES:  # no identifier from the file reaches the screen
        assert "_" not in raw or raw not in text
    assert "(measured" not in text and "rnn " not in text
    md = panel.current_markdown()
    claims = md.split("Checked on this run")[1]
    assert not any(line.lstrip().startswith(("- ", "* ", "• ")) for line in claims.splitlines())
    assert "⚠" not in text


def test_placeholders_show_the_runs_on_screen_and_follow_them(window, qtbot):
    panel = _open(window, "02_vanishing", 3)
    runs = window.session.runs
    text = panel.narration.toPlainText()
    assert "{" not in text
    assert measure_quantity("rnn", "bound_ratio", runs).text() == "0.0164"
    assert "(σmax·γ)T−1 = 0.0164 at t = 1" in text
    raw = panel.narration.document().toRawText()  # toPlainText turns no-break spaces to spaces
    assert "= 1.38\u00a0×\u00a010⁻¹², below 10−10" in raw  # the number never breaks a line
    # the user changes the run: the narration and claims are measured again
    window.apply_config(window.session.config.replace(weight_scale=2.0))
    qtbot.waitUntil(lambda: "⚠" in panel.narration.toPlainText(), timeout=5000)
    new = measure_quantity("rnn", "grad_ratio", window.session.runs).text()
    assert new != "1.38 × 10⁻¹²"
    assert new.replace(" ", "\u00a0") in panel.narration.document().toRawText()


def test_failing_claim_is_red_with_a_warning(window):
    panel = _open(window, "02_vanishing", 3)
    step = panel.step
    window.apply_config(step.config.replace(weight_scale=2.0), wait=True)  # a run where it fails
    runs = window.session.runs
    failed = [c for c in step.claims if not check_claim(c, runs)[0]]
    assert failed
    text = panel.narration.toPlainText()
    html = panel.narration.toHtml()
    assert f"⚠ {len(failed)} of the numbers this step states" in text
    assert "#c62828" in html
    assert "— stated below 10⁻¹⁰ ✗" in text
    red = html.split("#c62828")
    assert any("✗" in part[:400] for part in red[1:])
    panel.go_to(panel.index, animate=False)
    assert "⚠" not in panel.narration.toPlainText()  # its own setup: every claim holds again


FALSE_CLAIM = """
title = "Wrong"

[[step]]
title = "A wrong number"
narration = "The ratio is below 10^-20 (it is not: {rnn.grad_ratio})."
setup = { models = ["rnn"], seq_len = 20, weight_scale = 0.9 }
claims = [{ model = "rnn", quantity = "grad_ratio", op = "<", value = 1e-20 }]
"""


def test_a_step_opening_with_a_false_claim_warns(window, tmp_path):
    path = tmp_path / "wrong.toml"
    path.write_text(FALSE_CLAIM, encoding="utf-8")
    panel = _open(window, str(path), 1)
    assert "⚠ Step 1:" in window.statusBar().currentMessage()
    text = panel.narration.toPlainText()
    assert text.index("⚠ 1 of the numbers this step states does not hold") < text.index(
        "The ratio is below")  # above the narration, seen first
    ratio = measure_quantity("rnn", "grad_ratio", window.session.runs).text()
    assert f"RNN (tanh): ‖dL/dh1‖ / ‖dL/dhT‖ = {ratio} — stated below 10⁻²⁰ ✗" in text
    html = panel.narration.toHtml()
    assert html.count("#c62828") >= 2  # the warning and the claim


def test_a_claim_on_the_jacobian_norms_is_pending_until_they_arrive(window):
    """Step 2.2 claims the largest per-step Jacobian norm: on a run whose exact Jacobian norms
    are still computing it says so (never a red ✗ or a NaN), then is measured when they come."""
    from lstmviz.session import compute_runs

    panel = _open(window, "02_vanishing", 2)
    step = panel.step
    session = window.session
    session.apply(step.config, compute_runs(step.config, jacobians=False))  # stage one only
    assert not session.jacobians_ready
    panel._show_step(step)
    text = panel.narration.toPlainText()
    line = next(ln for ln in text.splitlines() if "measuring" in ln)
    assert line.startswith("RNN (tanh): largest ‖dh") and "||" not in line  # as a sentence
    assert "— measuring (the exact Jacobian norms are computing)" in line
    assert "⚠" not in text and "✗" not in text and "NaN" not in text
    session.complete_jacobians()  # (the window's background job does this)
    text = panel.narration.toPlainText()
    assert "measuring" not in text and "⚠" not in text
    assert "✓" in text.split("Checked on this run")[1]


def test_a_placeholder_of_the_jacobian_norms_says_it_is_measuring():
    from lstmviz.session import compute_runs
    from lstmviz.walkthrough import find_walkthrough, load_walkthrough, render_narration

    step = load_walkthrough(find_walkthrough("modern")).steps[1]
    runs = compute_runs(step.config, jacobians=False)
    text = render_narration(step, runs)
    assert "NaN" not in text and "…\u00a0(measuring)" in text  # (a number never breaks)
    done = {k: r.completed() for k, r in runs.items()}
    assert "measuring" not in render_narration(step, done)
