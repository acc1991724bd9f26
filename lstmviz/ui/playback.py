"""Playback: actions with shortcuts, a QTimer that advances the cursor, a phase-aware slider."""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPainter, QPixmap, QPolygonF
from PySide6.QtWidgets import QLabel, QSlider, QSpinBox, QToolBar, QWidget

from lstmviz.session import BACKWARD, FORWARD
from lstmviz.ui.adapter import SessionAdapter

PLAY, PAUSE = "play", "pause"


def _shape(name: str, size: float) -> list[list[tuple[float, float]]]:
    """Polygons (in a size x size box) of a transport icon: fonts lack these glyphs."""
    m, s = size * 0.2, size * 0.6  # margin and extent
    x0, x1, y0, y1, cy = m, m + s, m, m + s, size / 2
    bar = size * 0.12
    left = [(x1, y0), (x0 + bar, cy), (x1, y1)]
    right = [(x0, y0), (x1 - bar, cy), (x0, y1)]
    half = s / 2
    l1 = [(x0 + bar + half, y0), (x0 + bar, cy), (x0 + bar + half, y1)]
    l2 = [(x1, y0), (x0 + bar + half, cy), (x1, y1)]
    r1 = [(x0, y0), (x0 + half, cy), (x0, y1)]
    r2 = [(x0 + half, y0), (x1 - bar, cy), (x0 + half, y1)]
    bar_left = [(x0, y0), (x0 + bar, y0), (x0 + bar, y1), (x0, y1)]
    bar_right = [(x1 - bar, y0), (x1, y0), (x1, y1), (x1 - bar, y1)]
    return {
        "play": [[(x0, y0), (x1, cy), (x0, y1)]],
        "pause": [[(x0, y0), (x0 + s * 0.35, y0), (x0 + s * 0.35, y1), (x0, y1)],
                  [(x1 - s * 0.35, y0), (x1, y0), (x1, y1), (x1 - s * 0.35, y1)]],
        "back": [bar_left, left],  # |◀ one frame back
        "step": [right, bar_right],  # ▶| one frame on
        "start": [bar_left, l1, l2],  # |◀◀
        "end": [r1, r2, bar_right],  # ▶▶|
        # the backward pass: a wide arrow pointing left, as the gradient flows
        "backward": [[(x0, cy), (x0 + s * 0.45, y0), (x0 + s * 0.45, cy - s * 0.15),
                      (x1, cy - s * 0.15), (x1, cy + s * 0.15), (x0 + s * 0.45, cy + s * 0.15),
                      (x0 + s * 0.45, y1)]],
    }[name]


def glyph_icon(name: str, color: str, size: int = 32) -> QIcon:
    """A transport icon drawn as polygons in `color`: readable on light and dark themes."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    for poly in _shape(name, size):
        painter.drawPolygon(QPolygonF([QPointF(x, y) for x, y in poly]))
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
        self.start_action = action("Start", "start", ["Home"], self.to_start,
                                   "Jump to the first forward step")
        self.back_action = action("Step back", "back", ["Left"], self.step_back,
                                  "One frame back")
        self.step_action = action("Step", "step", ["Right"], self.step,
                                  "One frame forward")
        self.end_action = action("End", "end", ["End"], self.to_end,
                                 "Jump to the last backward step")
        self.backward_action = action("Backward pass", "backward", ["Ctrl+B"],
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
