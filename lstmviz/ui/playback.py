"""Playback: actions with shortcuts, a QTimer that advances the cursor, a phase-aware slider."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QSlider, QSpinBox, QToolBar, QWidget

from lstmviz.session import BACKWARD, FORWARD
from lstmviz.ui.adapter import SessionAdapter

PLAY, PAUSE = "⏵", "⏸"


def glyph_icon(glyph: str, color: str, size: int = 32) -> QIcon:
    """An icon drawn from a Unicode glyph in `color`: readable on light and dark themes."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    font = QFont()
    font.setPixelSize(int(size * 0.8))
    painter.setFont(font)
    painter.setPen(QColor(color))
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, glyph)
    painter.end()
    return QIcon(pixmap)


class Playback(QObject):
    """Owns the play timer and the transport actions (added to a toolbar and a menu)."""

    playingChanged = Signal(bool)

    def __init__(self, adapter: SessionAdapter, parent: QWidget) -> None:
        super().__init__(parent)
        self.adapter = adapter
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.fps = 8
        def action(text: str, icon: str, keys, slot, tip: str) -> QAction:
            a = QAction(text, parent)
            a.setData(icon)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setToolTip(f"{tip} ({' / '.join(keys)})" if keys else tip)
            a.triggered.connect(slot)
            return a

        self.play_action = action("Play", PLAY, ["Space"], self.toggle,
                                  "Play or pause the animation")
        self.play_action.setCheckable(True)
        self.start_action = action("Start", "⏮", ["Home"], self.to_start,
                                   "Jump to the first forward step")
        self.back_action = action("Step back", "◀", ["Left"], self.step_back,
                                  "One frame back")
        self.step_action = action("Step", "▶", ["Right"], self.step,
                                  "One frame forward")
        self.end_action = action("End", "⏭", ["End"], self.to_end,
                                 "Jump to the last backward step")
        self.backward_action = action("Backward pass", "↩", ["Ctrl+B"],
                                      self.to_backward, "Jump to the start of the backward pass")
        self.actions = [self.start_action, self.back_action, self.play_action, self.step_action,
                        self.end_action, self.backward_action]
        self.set_icon_color("#202124")

    def set_icon_color(self, color: str) -> None:
        """Redraw the transport icons in `color` (the theme's foreground)."""
        self._icon_color = color
        for a in self.actions:
            a.setIcon(glyph_icon(a.data(), color))

    @property
    def session(self):
        return self.adapter.session

    def set_fps(self, fps: int) -> None:
        self.fps = max(1, int(fps))
        self.timer.setInterval(int(1000 / self.fps))

    def toggle(self) -> None:
        self.play(not self.timer.isActive())

    def play(self, on: bool = True) -> None:
        if on:
            if self.session.cursor >= self.session.n_frames - 1:
                self.session.to_start()
            self.set_fps(self.fps)
            self.timer.start()
        else:
            self.timer.stop()
        self.play_action.setChecked(on)
        self.play_action.setText("Pause" if on else "Play")
        self.play_action.setData(PAUSE if on else PLAY)
        self.set_icon_color(self._icon_color)
        self.playingChanged.emit(on)

    def _tick(self) -> None:
        if not self.session.step():
            self.play(False)

    def step(self) -> None:
        self.play(False)
        self.session.step()

    def step_back(self) -> None:
        self.play(False)
        self.session.step_back()

    def to_start(self) -> None:
        self.play(False)
        self.session.to_start()

    def to_end(self) -> None:
        self.play(False)
        self.session.to_end()

    def to_backward(self) -> None:
        self.play(False)
        self.session.to_backward_start()


class PlaybackBar(QToolBar):
    """Transport buttons, speed, and a frame slider that shows the phase."""

    def __init__(self, playback: Playback, parent: QWidget | None = None) -> None:
        super().__init__("Playback", parent)
        self.setObjectName("toolbar-playback")
        self.playback = playback
        self.adapter = playback.adapter
        for a in playback.actions:
            self.addAction(a)
        self.addSeparator()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("frame-slider")
        self.slider.setMinimumWidth(260)
        self.slider.setToolTip("Frame: forward t = 1..T, the loss, then backward t = T..1")
        self.slider.valueChanged.connect(self._seek)
        self.addWidget(self.slider)
        self.phase = QLabel()
        self.phase.setObjectName("phase-label")
        self.phase.setMinimumWidth(150)
        self.phase.setToolTip("Where the animation is: phase and timestep")
        self.addWidget(self.phase)
        self.addSeparator()
        self.addWidget(QLabel(" Speed "))
        self.speed = QSpinBox()
        self.speed.setObjectName("speed")
        self.speed.setRange(1, 60)
        self.speed.setSuffix(" frames/s")
        self.speed.setValue(playback.fps)
        self.speed.setToolTip("Playback speed in frames per second")
        self.speed.valueChanged.connect(playback.set_fps)
        self.addWidget(self.speed)
        self.adapter.runsChanged.connect(self._on_runs)
        self.adapter.frameChanged.connect(self._on_frame)
        self._on_runs()
        self._on_frame()

    def _on_runs(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, self.adapter.session.n_frames - 1)
        self.slider.blockSignals(False)

    def _on_frame(self, *_args) -> None:
        frame = self.adapter.session.frame
        self.slider.blockSignals(True)
        self.slider.setValue(frame.index)
        self.slider.blockSignals(False)
        T = frame.seq_len
        if frame.phase == FORWARD:
            text, color = f"▶ forward  t = {frame.t} / {T}", "#1a73e8"
        elif frame.phase == BACKWARD:
            text, color = f"◀ backward  t = {frame.t} / {T}", "#c5221f"
        else:
            text, color = "● loss", "#e37400"
        self.phase.setText(f"<b style='color:{color}'>{text}</b>")

    def _seek(self, value: int) -> None:
        self.playback.play(False)
        self.adapter.session.seek(value)
