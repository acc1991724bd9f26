"""Scrolling a form never changes a value: spin boxes and combos take the wheel only once
clicked (focused); over an unfocused one the wheel scrolls the form around it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QWidget


class _WheelGuard(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()  # not accepted: Qt hands the wheel to the parent (the scroll area)
            return True
        return False


_GUARD: _WheelGuard | None = None


def guard_wheel(root: QWidget) -> None:
    """Every spin box and combo box under `root` takes focus on click (and Tab) only and
    ignores the wheel until it has focus."""
    global _GUARD
    if _GUARD is None:
        _GUARD = _WheelGuard()
    for w in root.findChildren(QAbstractSpinBox) + root.findChildren(QComboBox):
        w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        w.installEventFilter(_GUARD)
