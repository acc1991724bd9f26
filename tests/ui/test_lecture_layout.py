"""The lecture layout (DESIGN.md "Lecture layout"): while a walkthrough is open, its
narration is on screen, the panels a step names are side by side and large enough, the
gradient axis holds still, steps never play backwards, the walkthrough owns its run, and
leaving (or presenter mode's Esc) gives the window back as it was."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication

from lstmviz import engine
from lstmviz.walkthrough import (
    find_walkthrough,
    list_builtin,
    load_walkthrough,
    narration_markdown,
)

SIZES = {(1280, 720): (260, 150), (1920, 1080): (400, 250)}
BUILTINS = [name for name, _ in list_builtin()]


def settle(n: int = 3) -> None:
    for _ in range(n):
        QApplication.processEvents()


@pytest.fixture
def window(lecture_window):
    return lecture_window


def sized(window, size) -> None:
    window.resize(*size)
    settle()
    assert (window.width(), window.height()) == size


def on_screen(window, widget) -> bool:
    """Visible, not covered or moved away, and inside the window."""
    if not widget.isVisible() or widget.visibleRegion().isEmpty():
        return False
    top_left = widget.mapTo(window, QPoint(0, 0))
    return window.rect().contains(QRect(top_left, widget.size()))


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z]{4,}", text)]


def check_layout(window, panel, step, size) -> None:
    min_w, min_h = SIZES[size]
    narration = panel.narration
    assert on_screen(window, narration), f"step {step.index}: narration off screen"
    text = narration.toPlainText()
    for word in words(narration_markdown(step.title)):
        assert word in text, f"step {step.index}: {word!r} of the title not in the narration"
    assert on_screen(window, window.docks["walkthrough"])
    named = [n for n in panel.lecture.names if n in window.docks]
    for name in named:
        dock = window.docks[name]
        assert on_screen(window, dock), f"step {step.index}: {name} not on screen at {size}"
        behind = [d.objectName() for d in window.tabifiedDockWidgets(dock) if d.isVisible()]
        assert not behind, f"step {step.index}: {name} tabbed with {behind}"
        assert not dock.isFloating()
        assert dock.width() >= min_w and dock.height() >= min_h, (
            f"step {step.index}: {name} is {dock.width()}x{dock.height()} at {size}")
    for name, dock in window.docks.items():
        if name not in (*named, "walkthrough"):
            assert not dock.isVisible(), f"step {step.index}: {name} not named but shown"
    # nothing sits over the narration: it is alone in its column
    wt = window.docks["walkthrough"]
    assert not window.tabifiedDockWidgets(wt)
    if size == (1920, 1080) and "gradients" in named:
        dock = window.docks["gradients"]
        share = dock.width() * dock.height() / (window.width() * window.height())
        assert share >= 0.18, f"step {step.index}: gradients covers {share:.1%}"


@pytest.mark.parametrize("name", BUILTINS)
def test_every_step_lays_out_at_both_sizes(window, name):
    panel = window.tools["walkthrough"]
    wt = load_walkthrough(find_walkthrough(name))
    for size in SIZES:
        sized(window, size)
        assert panel.open(name, 1, animate=False)
        for i, step in enumerate(wt.steps):
            panel.go_to(i, animate=False)
            panel.wait_step()  # the step's runs, then its rows (inline or in the background)
            settle()
            check_layout(window, panel, step, size)
        panel.close_walkthrough()


def test_clicking_a_step_keeps_the_narration(window, qtbot):
    from PySide6.QtCore import Qt

    panel = window.tools["walkthrough"]
    sized(window, (1280, 720))
    assert panel.open("bptt", 1, animate=False)
    settle()
    for row in range(panel.steps_list.count()):  # 1.1, 1.4-1.6 name the inspector
        item = panel.steps_list.item(row)
        rect = panel.steps_list.visualItemRect(item)
        qtbot.mouseClick(panel.steps_list.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())
        panel.stop()
        settle()
        assert panel.index == row
        assert on_screen(window, panel.narration)
        assert on_screen(window, panel.steps_list)


def test_gradient_axis_holds_still_over_a_walkthrough(window):
    panel = window.tools["walkthrough"]
    grad = window.panels["gradients"]
    sized(window, (1280, 720))
    for name in ("vanishing", "limits", "lstm"):
        wt = load_walkthrough(find_walkthrough(name))
        assert panel.open(name, 1, animate=False)
        panel.wait_ranges()
        held = panel.held_range
        assert held is not None and held[0] < held[1]
        seen = []
        for i, step in enumerate(wt.steps):
            panel.go_to(i, animate=False)
            if step.y_range is not None or panel.step_y_range(step) is None:
                continue
            lo, hi = grad.y_range_exponents
            seen.append((round(lo, 9), round(hi, 9)))
            # the held range is a union: every gradient of this step's runs is inside it
            for run in window.session.runs.values():
                y = np.asarray(run.diagnostics.log10_grad_h, dtype=float)
                y = y[np.isfinite(y)]
                assert (y >= lo).all() and (y <= hi).all(), (name, step.index)
        assert len(seen) >= 3 and len(set(seen)) == 1, (name, seen)
        panel.close_walkthrough()
    # closed: the axis follows the run again
    lo, hi = grad.y_range_exponents
    assert (lo, hi) != held


def test_step_y_range_sets_the_axis(window, tmp_path):
    path = tmp_path / "ranged.toml"
    path.write_text('title = "R"\n[[step]]\ntitle = "a"\ndocks = ["gradients"]\n'
                    'y_range = [-40, 5]\n[[step]]\ntitle = "b"\n', encoding="utf-8")
    panel = window.tools["walkthrough"]
    assert panel.open(path, 1, animate=False)
    panel.wait_ranges()
    assert window.panels["gradients"].y_range_exponents == pytest.approx((-40, 5))
    panel.go_to(1, animate=False)
    assert window.panels["gradients"].y_range_exponents == pytest.approx(panel.held_range)


def test_stepping_3_3_to_3_4_never_plays_backwards(window, qtbot):
    panel = window.tools["walkthrough"]
    assert panel.open("exploding", 3, animate=False)
    seen = []
    window.adapter.frameChanged.connect(lambda i: seen.append(i))
    panel.go_to(3)  # step 4: cursor forward t = T, play = true, from backward t = 1
    qtbot.waitUntil(lambda: not panel.playing, timeout=5000)
    step = panel.step
    target = step.t - 1  # forward t = T
    assert window.session.cursor == target
    # frames after the new runs: one jump to the target, no frame before it
    after = seen[seen.index(target):] if target in seen else []
    assert after and min(after) >= target
    assert all(i >= target for i in seen[-len(after):])


def test_forward_play_is_short_and_monotonic(window, qtbot):
    panel = window.tools["walkthrough"]
    assert panel.open("limits", 2, animate=False)  # T = 400
    panel.wait_step()
    session = window.session
    session.seek(0)
    window.playback.fps = 8
    seen = []
    window.adapter.frameChanged.connect(lambda i: seen.append(i))
    target = session.n_frames - 1
    panel._move_cursor(target, True)
    ticks = -(-target // panel._stride)
    assert ticks * panel.play_timer.interval() <= 3000  # 100 s at 8 fps, shortened
    qtbot.waitUntil(lambda: not panel.playing, timeout=6000)
    assert session.cursor == target
    assert seen == sorted(seen) and len(seen) > 10


def test_close_restores_the_users_layout_and_save_keeps_it(window, settings):
    panel = window.tools["walkthrough"]
    sized(window, (1280, 720))
    window.docks["cellstate"].hide()  # the user's own layout
    settle()
    before = window.saveState(1)
    visible = {n: d.isVisible() for n, d in window.docks.items()}
    assert panel.open("lstm", 2, animate=False)
    settle()
    window.save_layout()  # e.g. closing the window during a lecture
    assert bytes(settings.value("window/state")) == bytes(before)
    panel.close_walkthrough()
    settle()
    assert {n: d.isVisible() for n, d in window.docks.items()} == visible
    assert bytes(window.saveState(1)) == bytes(before)
    assert not panel.close_button.isEnabled()


def test_f5_then_esc_restores_the_window(window, qtbot):
    panel = window.tools["walkthrough"]
    sized(window, (1280, 720))
    assert panel.open("vanishing", 3, animate=False)
    settle()
    font = QApplication.font()
    notes = window.panels["gradients"].notes

    def snapshot():
        return ({n: (d.isVisible(), window.dockWidgetArea(d), d.isFloating(),
                     d.geometry().getRect()) for n, d in window.docks.items()},
                window.size().toTuple(), window.isFullScreen(), window.menuBar().isVisible(),
                window.statusBar().isVisible(), notes.height())

    before = snapshot()
    panel.presenter.set_active(True)
    settle()
    assert panel.presenter.active and QApplication.font() != font
    panel.presenter.set_active(False)
    settle(5)
    assert QApplication.font() == font
    assert snapshot() == before


def test_walkthrough_drops_imported_weights_and_says_so(window, tmp_path):
    path = tmp_path / "w.npz"
    model = engine.build_model("rnn", 1, 5, seed=3, activation="relu")
    engine.save_weights(path, model)
    assert window.import_weights(path)
    assert window.session.weights
    panel = window.tools["walkthrough"]
    assert panel.open("vanishing", 1, animate=False)
    step = panel.step
    assert not window.session.weights
    assert window.session.config == step.config  # the walkthrough's run, not the import's
    assert not any(run.imported for run in window.session.runs.values())
    assert panel.notice.isVisible() and "RNN" in panel.notice.text()
    assert on_screen(window, panel.notice)
    # the claims are measured on this run
    from lstmviz.walkthrough import check_claim

    for claim in step.claims:
        assert check_claim(claim, window.session.runs)[0]


def test_window_opens_within_its_screen(make_window):
    window = make_window()
    free = window.screen().availableGeometry()
    assert window.width() <= free.width() and window.height() <= free.height()


def cursor_cell_in_view(view) -> bool:
    from lstmviz.ui.unrolled import CELL_W, cell_x

    t = view.adapter.session.frame.t
    left = view.mapToScene(view.viewport().rect().topLeft()).x()
    right = view.mapToScene(view.viewport().rect().bottomRight()).x()
    return left <= cell_x(t) and cell_x(t) + CELL_W <= right


def test_unrolled_view_keeps_the_cursor_in_view(make_window):
    from lstmviz.config import Config
    from lstmviz.ui.unrolled import FIT_MIN_ZOOM

    window = make_window(Config(models=("rnn", "lstm"), seq_len=500, hidden_size=4))
    view = window.unrolled
    sized(window, (1280, 720))
    assert cursor_cell_in_view(view)  # at launch: forward t = 1
    window.session.seek_to("forward", 300)
    settle()
    assert cursor_cell_in_view(view)
    sized(window, (1920, 1080))
    assert cursor_cell_in_view(view)
    view.fit()
    settle()
    assert view._zoom >= FIT_MIN_ZOOM  # T = 500: rows stay readable, the view scrolls
    assert view.transform().m22() * 136 >= 40
    assert cursor_cell_in_view(view)
    window.session.seek_to("backward", 7)
    view.zoom(2.0)
    settle()
    assert cursor_cell_in_view(view)
    window.toggle_fullscreen()
    settle()
    assert cursor_cell_in_view(view)
    window.toggle_fullscreen()


@pytest.mark.parametrize(("value", "problem"), [
    ("[-5]", "expected two finite exponents"),
    ("[3, 1]", "must be below"),
    ('"1e-5"', "expected a list"),
    ("[0, 1e9]", "within"),
    ("[true, 2]", "expected two finite exponents"),
])
def test_y_range_is_validated(tmp_path, value, problem):
    from lstmviz.walkthrough import WalkthroughError

    path = tmp_path / "bad.toml"
    path.write_text(f'title = "B"\n[[step]]\ntitle = "a"\ny_range = {value}\n',
                    encoding="utf-8")
    with pytest.raises(WalkthroughError, match=problem) as info:
        load_walkthrough(path)
    assert "bad.toml: step 1: y_range" in str(info.value)


def test_y_range_parses_as_exponents(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text('title = "B"\n[[step]]\ntitle = "a"\ny_range = [-30, 2.5]\n'
                    '[[step]]\ntitle = "b"\n', encoding="utf-8")
    wt = load_walkthrough(path)
    assert wt.steps[0].y_range == (-30.0, 2.5) and wt.steps[1].y_range is None
