"""No tab bar covers the narration (issue 10, item 1): a dock the step does not name, left
hidden in the narration's tab group, used to keep a "Cell inspector | Walkthrough" tab bar
over the bottom of the narration pane (its Close button)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication, QTabBar

from lstmviz.walkthrough import find_walkthrough, load_walkthrough


def settle(n: int = 3) -> None:
    for _ in range(n):
        QApplication.processEvents()


def tab_bars_over(window, widget) -> list[list[str]]:
    area = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    out = []
    for bar in window.findChildren(QTabBar):
        if not bar.isVisible() or bar.count() == 0:
            continue
        rect = QRect(bar.mapTo(window, QPoint(0, 0)), bar.size())
        if rect.intersects(area):
            out.append([bar.tabText(i) for i in range(bar.count())])
    return out


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
@pytest.mark.parametrize("name", ["bptt", "vanishing", "lstm"])
def test_no_tab_bar_over_the_narration(make_window, name, size):
    window = make_window()
    window.resize(*size)
    settle()
    panel = window.tools["walkthrough"]
    wt = load_walkthrough(find_walkthrough(name))
    assert panel.open(name, 1, animate=False)
    problems = []
    for i in range(len(wt.steps)):
        panel.go_to(i, animate=False)
        settle()
        bars = tab_bars_over(window, window.docks["walkthrough"])
        if bars:
            problems.append(f"step {i + 1}: {bars}")
    panel.close_walkthrough()
    assert not problems, problems
