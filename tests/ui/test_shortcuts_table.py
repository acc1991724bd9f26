"""Help > Keyboard shortcuts is made from the window's actions: none can be missing."""

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox

from lstmviz.ui.main_window import SHORTCUTS, shortcut_rows


def native(seq: QKeySequence) -> str:
    return seq.toString(QKeySequence.SequenceFormat.NativeText)


def test_every_action_with_a_shortcut_is_in_the_table(make_window):
    window = make_window()
    rows = shortcut_rows(window)
    keys_in_table = {k for keys, _ in rows for k in keys.split(" / ")}
    actions = [a for a in window.findChildren(QAction) if a.shortcuts()]
    assert len(actions) >= 15
    for a in actions:
        for seq in a.shortcuts():
            assert native(seq) in keys_in_table, (a.text(), native(seq))
    # the ones the old hand-written table left out
    for key in ("F5", "PgDown", "PgUp", "B", "Esc", "Ctrl+Shift+O", "Ctrl++", "Ctrl+-",
                "Ctrl+B"):
        assert native(QKeySequence(key)) in keys_in_table, key
    assert rows[-len(SHORTCUTS):] == SHORTCUTS
    described = dict(rows)
    assert described[native(QKeySequence("B"))] == "Blank screen (presenter mode)"


def test_the_dialog_shows_the_rows(make_window, qtbot):
    window = make_window()
    window.show_shortcuts()
    box = window.findChild(QMessageBox, "shortcuts-dialog")
    assert box is not None
    for keys, text in shortcut_rows(window):
        assert keys in box.text() and text in box.text()
    box.close()
