"""Legends in a lecture sit outside the data: in every panel a built-in step shows, at
1280x720 and 1920x1080, with presenter mode off and on, a plot's legend never overlaps its
view box (where the curves are), and neither the legend nor a long title makes the plot
wider than its widget (its right end would be cut off)."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication

from lstmviz.ui import presenter as presenter_module
from lstmviz.walkthrough import find_walkthrough, list_builtin, load_walkthrough

SIZES = [(1280, 720), (1920, 1080)]
BUILTINS = [name for name, _ in list_builtin()]


def settle(n: int = 4) -> None:
    for _ in range(n):
        QApplication.processEvents()


def legend_problems(window) -> list[str]:
    """What is wrong with the legends of the panels on screen ('' for none)."""
    problems = []
    for name, panel in window.panels.items():
        dock = window.docks.get(name)
        if dock is None or not dock.isVisible() or not panel.built:
            continue
        for plot in panel.plot_items():
            view = plot.getViewWidget()
            if isinstance(view, pg.GraphicsView) and plot.sceneBoundingRect().right() > \
                    view.width() + 1:  # (a title or legend too long widens the plot)
                problems.append(f"{name}: plot {plot.sceneBoundingRect().width():.0f} px "
                                f"wide in a view of {view.width()}: its right end cut off")
            legend = plot.legend
            if legend is None or not legend.isVisible() or not legend.items:
                continue
            rect = legend.sceneBoundingRect()
            if rect.intersects(plot.vb.sceneBoundingRect()):
                problems.append(f"{name}: legend {rect.getRect()} over the data "
                                f"{plot.vb.sceneBoundingRect().getRect()}")
            if isinstance(view, pg.GraphicsView) and rect.right() > view.width() + 1:
                problems.append(f"{name}: legend cut off ({rect.right():.0f} > {view.width()})")
    return problems


@pytest.fixture
def window(lecture_window):
    return lecture_window


def present_at(window, monkeypatch, size) -> None:
    """Presenter mode as on a screen of `size` (the offscreen screen is 800x800)."""
    monkeypatch.setattr(window, "showFullScreen", lambda: window.resize(*size))
    scale = presenter_module.scale_for(size[1])
    monkeypatch.setattr(presenter_module, "scale_for", lambda _h: scale)
    window.tools["walkthrough"].presenter.set_active(True)
    settle()
    assert window.size().toTuple() == size


@pytest.mark.parametrize("presenting", [False, True], ids=["plain", "presenter"])
@pytest.mark.parametrize("name", BUILTINS)
def test_legends_sit_outside_the_data(window, monkeypatch, name, presenting):
    panel = window.tools["walkthrough"]
    wt = load_walkthrough(find_walkthrough(name))
    problems = []
    for size in SIZES:
        window.resize(*size)
        settle()
        assert panel.open(name, 1, animate=False)
        if presenting:
            present_at(window, monkeypatch, size)
        for i, step in enumerate(wt.steps):
            panel.go_to(i, animate=False)
            panel.wait_step()
            settle()
            problems += [f"{size} step {step.index} {p}" for p in legend_problems(window)]
        panel.close_walkthrough()
        settle()
    assert not problems, "\n".join(problems)
