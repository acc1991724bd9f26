"""Presenter mode (F5 on, Esc off): full screen, fonts and lines at twice the size, only the
narration and the step's panels; arrows and Page Down/Up move between steps, B blanks.

Leaving restores the previous layout exactly (QMainWindow.saveState / restoreState).
Panels may define `set_scale(factor)` to scale themselves; otherwise pens and axis fonts
of their `plot_items()` are scaled from outside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import QApplication, QToolBar, QWidget

from lstmviz.ui.registry import LAYOUT_VERSION

if TYPE_CHECKING:
    from lstmviz.walkthrough import Step

#: Largest presenter scale (fonts, lines); a smaller screen gets less, see `scale_for`.
SCALE = 2.0


def scale_for(screen_height: int) -> float:
    """Presenter scale for a screen `screen_height` px tall: 2x at 1080p and above, 1.33x
    at 720p (twice the font would push the narration's claims off a small screen)."""
    return min(SCALE, max(1.25, screen_height / 540))


class BlankOverlay(QWidget):
    """A black screen over the whole window; any key or click removes it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("presenter-blank")
        self.setAutoFillBackground(True)
        self.setStyleSheet("background: black;")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hide()
        parent.installEventFilter(self)

    def blank(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()
        self.setFocus()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self.parentWidget().rect())
        return False

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:  # keys come here, not to shortcuts
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        self.hide()
        event.accept()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.hide()
        event.accept()


class Presenter(QObject):
    """Owns the presenter-mode actions and the state saved on entering it."""

    def __init__(self, window, panel) -> None:
        super().__init__(panel)
        self.window_ = window
        self.panel = panel
        self.active = False
        self.scale = 1.0  # of fonts and lines while presenter mode is on
        self.overlay = BlankOverlay(window)
        self._saved: dict = {}

    def install(self, window) -> None:
        def action(text: str, keys: list[str], slot, tip: str, enabled: bool = False) -> QAction:
            a = QAction(text, window)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setToolTip(tip)
            a.triggered.connect(slot)
            a.setEnabled(enabled)
            window.addAction(a)
            return a

        self.toggle_action = action("&Presenter mode", ["F5"], self.toggle,
                                    "Full screen, large fonts, narration and the step's panels "
                                    "only (F5; Esc leaves)", True)
        self.toggle_action.setCheckable(True)
        window.view_menu.addSeparator()
        window.view_menu.addAction(self.toggle_action)
        self.exit_action = action("Leave presenter mode", ["Esc"], lambda: self.set_active(False),
                                  "Back to the previous layout")
        self.blank_action = action("Blank screen", ["B"], self.overlay.blank,
                                   "Black screen; B or any key brings it back")
        self.next_action = action("Next step", ["Right", "Down"], panel_next(self.panel),
                                  "Next step")
        self.prev_action = action("Previous step", ["Left", "Up"], panel_prev(self.panel),
                                  "Previous step")
        self._mode_actions = [self.exit_action, self.blank_action, self.next_action,
                              self.prev_action]

    # -- on / off -------------------------------------------------------------------
    def toggle(self) -> None:
        self.set_active(not self.active)

    def set_active(self, on: bool) -> None:
        if on == self.active:
            self.toggle_action.setChecked(on)
            return
        self.active = on  # (the layouts made below ask whether presenter mode is on)
        if on:
            self._enter()
        else:
            self._leave()
        self.toggle_action.setChecked(on)

    def _enter(self) -> None:
        w = self.window_
        app = QApplication.instance()
        playback = w.playback
        self._saved = {
            "state": w.saveState(LAYOUT_VERSION),
            "geometry": w.saveGeometry(),
            "fullscreen": w.isFullScreen(),
            "size": w.size(),
            "index": self.panel.index,
            "font": QFont(app.font()),
            "menubar": w.menuBar().isVisible(),
            "statusbar": w.statusBar().isVisible(),
            "toolbars": [(t, t.isVisible()) for t in w.findChildren(QToolBar)],
            # Right/Left step frames outside presenter mode; here they move between steps.
            "step_keys": [(a, a.shortcuts()) for a in (playback.step_action,
                                                        playback.back_action)],
        }
        for a, _keys in self._saved["step_keys"]:
            a.setShortcuts([])
        for a in playback.actions:  # keep Space etc. with the toolbar hidden
            w.addAction(a)
        for a in self._mode_actions:
            a.setEnabled(True)
        screen = w.screen()
        self.scale = scale_for(screen.geometry().height() if screen is not None else 1080)
        font = QFont(app.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * self.scale)
        else:
            font.setPixelSize(int(font.pixelSize() * self.scale))
        app.setFont(font)
        for t, _visible in self._saved["toolbars"]:
            t.hide()
        w.menuBar().hide()
        w.statusBar().hide()
        dock = w.docks.get("settings")
        if dock is not None:
            dock.hide()
        wt_dock = w.docks.get(self.panel.name)
        if wt_dock is not None:
            wt_dock.show()
        # the narration and its claims get the whole column (arrows move between steps)
        self._saved["steps_list"] = self.panel.steps_list.isVisibleTo(self.panel)
        self.panel.steps_list.hide()
        self.scale_panels(self.scale)
        w.showFullScreen()
        QApplication.processEvents()  # the full-screen size, which the layout is made for
        if self.panel.lecture.active:  # the step's lecture layout, scaled, without settings
            self.panel.show_docks(None)
        QApplication.processEvents()
        self.panel.fit_narration()  # (its claims on screen at 720p)

    def _leave(self) -> None:
        w = self.window_
        s = self._saved
        self.overlay.hide()
        for a in self._mode_actions:
            a.setEnabled(False)
        for a, keys in s.get("step_keys", []):
            a.setShortcuts(keys)
        QApplication.instance().setFont(s["font"])
        self.panel.fit_narration()  # (its normal size)
        self.panel.steps_list.setVisible(s.get("steps_list", True))
        self.scale_panels(1.0)
        if s["fullscreen"]:
            w.showFullScreen()
        else:
            w.showNormal()
            w.restoreGeometry(s["geometry"])
            if w.size() != s["size"]:  # (restoreGeometry fits it to the screen it is on)
                w.resize(s["size"])
        w.menuBar().setVisible(s["menubar"])
        w.statusBar().setVisible(s["statusbar"])
        for t, visible in s["toolbars"]:
            t.setVisible(visible)
        for _ in range(3):  # let the window take its old size before the docks
            QApplication.processEvents()
        if s["index"] == self.panel.index or not self.panel.lecture.active:
            w.restoreState(s["state"], LAYOUT_VERSION)  # exactly as before F5
            if self.panel.lecture.active:
                self.panel.lecture.untab_hidden()
        if self.panel.lecture.active and (s["index"] != self.panel.index
                                          or w.size() != s["size"]):
            self.panel.show_docks(None)  # the step now on screen, at the window's size
        self._saved = {}

    def saved_layout(self):
        """(state, geometry) of the window as it was before presenter mode."""
        return self._saved["state"], self._saved["geometry"]

    def step_applied(self, step: Step) -> None:
        """After a step changed the runs or docks: keep the presenter scaling."""
        if self.active:
            dock = self.window_.docks.get("settings")
            if dock is not None:
                dock.hide()
            self.scale_panels(self.scale)

    # -- scaling --------------------------------------------------------------------
    def scale_panels(self, factor: float) -> None:
        """Pens and axis fonts of every panel at `factor` times their normal size."""
        unrolled = getattr(self.window_, "unrolled", None)
        if unrolled is not None:
            unrolled.set_scale(factor)
        for panel in self.window_.panels.values():
            panel.set_presenter_scale(factor)


def panel_next(panel):
    return lambda: panel.next()


def panel_prev(panel):
    return lambda: panel.previous()
