"""Presenter mode at 1280x720 (issue 10, item 7): the narration and its checked claims fit
their pane on every built-in step, no scrolling (the claims used to fall below it); the
text shrinks only as far as needed and is back at its size after Esc."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from lstmviz.ui import presenter as presenter_module
from lstmviz.walkthrough import find_walkthrough, list_builtin, load_walkthrough

SIZE = (1280, 720)
BUILTINS = [name for name, _ in list_builtin()]


def settle(n: int = 4) -> None:
    for _ in range(n):
        QApplication.processEvents()


@pytest.mark.parametrize("name", BUILTINS)
def test_claims_fit_the_pane_in_presenter_mode_at_720p(make_window, monkeypatch, name):
    window = make_window()
    window.resize(*SIZE)
    settle()
    monkeypatch.setattr(window, "showFullScreen", lambda: window.resize(*SIZE))
    scale = presenter_module.scale_for(SIZE[1])
    monkeypatch.setattr(presenter_module, "scale_for", lambda _h: scale)
    panel = window.tools["walkthrough"]
    assert panel.open(name, 1, animate=False)
    panel.presenter.set_active(True)
    settle()
    normal = QApplication.font().pointSizeF() / scale
    problems = []
    for i, step in enumerate(load_walkthrough(find_walkthrough(name)).steps):
        panel.go_to(i, animate=False)
        panel.wait_step()
        settle()
        doc, view = panel.narration.document(), panel.narration.viewport()
        if doc.size().height() > view.height() + 1:
            problems.append(f"step {step.index}: text {doc.size().height():.0f} px in a pane "
                            f"of {view.height()} px")
        assert doc.defaultFont().pointSizeF() >= normal - 0.01  # never below normal size
    panel.presenter.set_active(False)
    settle()
    assert panel.narration.document().defaultFont() == panel.narration.font()
    assert not problems, "\n".join(problems)
