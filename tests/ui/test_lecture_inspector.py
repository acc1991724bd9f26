"""The cell inspector in the lecture layout at 1280x720 (issue 10): on every built-in step
that shows it, presenter mode off and on, its dock is at least 260x150 px and each of its
plots lies wholly inside the inspector's view (nothing cut at the right or bottom edge),
with its title shown and its tick labels within the room their axis has."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from lstmviz.ui import presenter as presenter_module
from lstmviz.walkthrough import find_walkthrough, list_builtin, load_walkthrough

SIZE = (1280, 720)


def settle(n: int = 4) -> None:
    for _ in range(n):
        QApplication.processEvents()


def inspector_steps() -> list[tuple[str, int]]:
    out = []
    for name, _title in list_builtin():
        names: tuple = ()
        for step in load_walkthrough(find_walkthrough(name)).steps:
            names = tuple(step.docks) if step.docks is not None else names
            if "inspector" in names:
                out.append((name, step.index))
    return out


STEPS = inspector_steps()


def inspector_problems(window) -> list[str]:
    dock = window.docks["inspector"]
    panel = window.panels["inspector"]
    problems = []
    if dock.width() < 260 or dock.height() < 150:
        problems.append(f"dock {dock.width()}x{dock.height()}")
    view = panel.pages[panel.kind]
    for plot in panel.plot_items():
        rect = plot.sceneBoundingRect()
        if rect.right() > view.width() + 1 or rect.bottom() > view.height() + 1:
            problems.append(f"plot {rect.getRect()} outside its view "
                            f"{view.width()}x{view.height()}")
        if not plot.titleLabel.isVisible() or plot.titleLabel.height() < 8:
            problems.append("a plot title hidden")
        axis = plot.getAxis("left")
        if axis.textWidth > axis.width():
            problems.append(f"tick labels {axis.textWidth} px in an axis {axis.width()} px")
    return problems


@pytest.fixture
def window(lecture_window):
    return lecture_window


def test_some_steps_show_the_inspector():
    assert ("01_bptt", 1) in STEPS and len(STEPS) >= 10


@pytest.mark.parametrize("presenting", [False, True], ids=["plain", "presenter"])
def test_inspector_is_whole_at_720p(window, monkeypatch, presenting):
    panel = window.tools["walkthrough"]
    window.resize(*SIZE)
    settle()
    if presenting:
        monkeypatch.setattr(window, "showFullScreen", lambda: window.resize(*SIZE))
        scale = presenter_module.scale_for(SIZE[1])
        monkeypatch.setattr(presenter_module, "scale_for", lambda _h: scale)
    problems = []
    for name, index in STEPS:
        if panel.walkthrough is None or panel.walkthrough.path.stem != name:
            if panel.presenter.active:
                panel.presenter.set_active(False)
            assert panel.open(name, index, animate=False)
            if presenting:
                panel.presenter.set_active(True)
        else:
            panel.go_to(index - 1, animate=False)
        panel.wait_step()
        settle()
        assert window.docks["inspector"].isVisible(), (name, index)
        problems += [f"{name} step {index}: {p}" for p in inspector_problems(window)]
    assert not problems, "\n".join(problems)
