"""The silx-style check of tests/conftest.py (`no_leaked_windows`, autouse for every test
that uses qtbot): a window a test leaves open is found, named and fails that test."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QWidget

from tests.conftest import open_windows_since


def test_a_window_left_open_is_found_and_a_closed_one_is_not(qtbot):
    before = {id(w) for w in QApplication.topLevelWidgets()}
    w = QWidget()
    w.setObjectName("left-open")
    w.show()
    assert open_windows_since(before) == [w]
    w.close()
    assert open_windows_since(before) == []
    w.deleteLater()


def test_the_check_runs_for_qtbot_tests(request, qtbot):
    assert "no_leaked_windows" in request.fixturenames


def test_windows_of_make_window_are_closed_by_qtbot(make_window, request):
    window = make_window()
    assert window.isVisible()
    assert "no_leaked_windows" in request.fixturenames  # checked after qtbot closes it
