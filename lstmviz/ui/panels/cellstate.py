"""Cell state: c_t (or h_t) of every unit over t, batch element 0, revealed with the forward pass.

One small plot per model, stacked; each holds ONE curve item with all units separated by
NaN (fast to redraw). The LSTM's c_t is unbounded, its h_t and the RNN/GRU h_t are not.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel

from lstmviz.session import Frame, Run
from lstmviz.ui.panels.base import (
    Panel,
    device_cached,
    layer_prefix,
    layer_suffix,
    overflow_html,
    pinned_text,
    set_html,
)

MODES = (("c", "cell c_t"), ("h", "hidden h_t"))


#: Smallest height of one model's plot (pixels; Qt's default hint is 68).
MIN_PLOT_HEIGHT = 36


def state_of(run: Run, mode: str) -> tuple[np.ndarray, str]:
    """(T, H) trajectories of batch element 0 and their symbol: c_t when asked and present."""
    if mode == "c" and run.trace.c is not None:
        return np.asarray(run.trace.c[:, 0, :], dtype=float), "c_t"
    return np.asarray(run.trace.h[:, 0, :], dtype=float), "h_t"


#: Steps per block of the drawn body of a trajectory curve (see `_Trajectories`).
BLOCK = 32
#: Points of new curve body one event-loop turn draws: past it, the other models' plots
#: get theirs in the next turns (at T = 1000, H = 512 one model's body is 0.5 M points,
#: 40-70 ms to paint; three in one turn held the window 200+ ms, issue 17).
BODY_POINTS_PER_TURN = 100_000


class _RevealedData(pg.PlotDataItem):
    """A hidden data item holding every revealed step, filled when someone reads it
    (building H x t points each frame for nobody to see costs a millisecond)."""

    fill = None  # callable -> (x, y) of the revealed steps, None when up to date
    drawn: tuple = ()  # the curves that draw it: they follow its pen (presenter scaling)

    def setPen(self, *args, **kwargs) -> None:  # noqa: N802 (pyqtgraph naming)
        super().setPen(*args, **kwargs)
        for curve in self.drawn:
            curve.setPen(self.opts["pen"])

    def getData(self):  # noqa: N802 (pyqtgraph naming)
        fill, self.fill = self.fill, None
        if fill is not None:
            self.setData(*fill())
        return super().getData()


class _Trajectories:
    """All units of one model joined by NaN separators, revealed up to the forward step.

    `item` (a hidden PlotDataItem) holds every revealed step for readers.
    What is drawn is a cached `body` (whole blocks of BLOCK steps, redrawn once per block)
    and a short `tail` (the rest): a step forward redraws a strip, not H x T points.
    """

    def __init__(self, item: pg.PlotDataItem, data: np.ndarray, overflow: int | None) -> None:
        T, H = data.shape
        ok = np.isfinite(data).all(axis=1)
        self.hi = T if ok.all() else int(np.argmin(ok))  # clip at the first non-finite step
        if overflow is not None:
            self.hi = min(self.hi, overflow)
        self.item = item
        item.setVisible(False)
        self.y = np.ascontiguousarray(data[: self.hi].T)  # (H, hi)
        self.x = np.broadcast_to(np.arange(1, T + 2, dtype=float), (H, T + 1))
        pen = item.opts["pen"]
        self.body = pg.PlotCurveItem(pen=pen, connect="finite")
        self.tail = pg.PlotCurveItem(pen=pen, connect="finite")
        device_cached(self.body)
        item.drawn = (self.body, self.tail)
        vb = item.getViewBox()
        for curve in (self.body, self.tail):
            vb.addItem(curve)
        self.shown: int | None = None  # steps on screen; the backward pass changes nothing
        self.body_shown: int | None = None

    def detach(self) -> None:
        """Take the drawn curves off their view box (PlotItem.clear does not know them)."""
        for curve in (self.body, self.tail):
            vb = curve.getViewBox()
            if vb is not None:
                vb.removeItem(curve)

    def _rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """x, y of steps start..stop-1 (0-based) of every unit, each row ended by NaN."""
        H, n = self.y.shape[0], stop - start
        y = np.empty((H, n + 1))
        y[:, :n] = self.y[:, start:stop]
        y[:, n] = np.nan
        x = np.array(self.x[:, start:stop + 1])
        x[:, n] = np.nan
        return x.ravel(), y.ravel()

    def body_points(self, fwd_t: int) -> int:
        """Points `show(fwd_t)` would give the body anew (0: the body stays as it is)."""
        n = max(min(fwd_t, self.hi), 0)
        k = (n - 1) // BLOCK * BLOCK if n > 0 else 0
        return 0 if k == (self.body_shown or 0) else k * self.y.shape[0]

    def show(self, fwd_t: int) -> None:
        n = max(min(fwd_t, self.hi), 0)
        if n == self.shown:
            return
        self.shown = n
        if n <= 0:
            self.item.fill = None
            self.item.setData([], [])
            self.body.setData([], [])
            self.body_shown = 0
            self.tail.setData([], [])
            return
        self.item.fill = lambda: self._rows(0, n)
        k = (n - 1) // BLOCK * BLOCK  # the body ends at step k (1-based), the tail goes on
        if k != self.body_shown:
            self.body_shown = k
            if k:
                self.body.setData(*self._rows(0, k))
            else:
                self.body.setData([], [])
        self.tail.setData(*self._rows(max(k - 1, 0), n))


class CellStatePanel(Panel):
    name = "cellstate"
    title = "Cell state"
    per_layer = True
    tooltip = (
        "The LSTM cell state c_t of every unit over time (one thin line per unit), or the "
        "hidden state h_t. Look for units whose c_t holds its value for many steps: "
        "that is the memory the forget gate keeps open."
    )

    def build(self) -> None:
        row = QHBoxLayout()
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(QLabel("show:"))
        self.mode_box = QComboBox()
        for key, text in MODES:
            self.mode_box.addItem(text, key)
        self.mode_box.setToolTip("c_t: the LSTM's cell state (RNN and GRU have none and show "
                                 "h_t); h_t: the hidden state of every model.")
        row.addWidget(self.mode_box)
        row.addStretch(1)
        self.layout_.addLayout(row)
        self.widgets: dict[str, pg.PlotWidget] = {}
        self.curves: list[_Trajectories] = []
        self.cursors: list[pg.InfiniteLine] = []
        self.notes: dict[str, pg.TextItem] = {}
        self._sources: list[tuple[str, np.ndarray]] = []  # (CSV prefix, (T, H) states)
        self._T = 1
        self._more_posted = False
        self.mode_box.currentIndexChanged.connect(self._mode_changed)

    @property
    def mode(self) -> str:
        has_c = any(r.trace.c is not None for r in self.runs.values())
        return self.mode_box.currentData() if has_c else "h"

    def set_mode(self, mode: str) -> None:
        """'c' or 'h'."""
        self.mode_box.setCurrentIndex([k for k, _ in MODES].index(mode))

    def _mode_changed(self, *_args) -> None:
        self._on_runs()
        self._on_frame()

    # -- new runs -------------------------------------------------------------------
    def _ensure_plots(self, kinds: list[str]) -> None:
        """One plot per model, stacked with a shared x axis; recreated when models change."""
        if list(self.widgets) == kinds:
            return
        for w in self.widgets.values():
            self.layout_.removeWidget(w)
            w.setParent(None)
            w.deleteLater()
        self.widgets, self.notes = {}, {}
        for i, kind in enumerate(kinds):
            w = self.make_plot(y_label="value")
            w.setMinimumHeight(MIN_PLOT_HEIGHT)  # eight models still fit a 720-pixel window
            p = w.getPlotItem()
            p.disableAutoRange()
            # no "(x0.001)" on tanh units; pyqtgraph 0.14 keeps a scale it computed before
            # enableAutoSIPrefix(False) unless no range allows one
            p.getAxis("left").setSIPrefixEnableRanges(())
            p.getAxis("left").enableAutoSIPrefix(False)
            if i < len(kinds) - 1:
                p.setLabel("bottom", "")
                p.getAxis("bottom").setStyle(showValues=False)
                p.getAxis("bottom").setHeight(6)
            if i > 0:
                p.setXLink(self.widgets[kinds[0]].getPlotItem())
            self.layout_.addWidget(w, 1)
            self.widgets[kind] = w
            self.notes[kind] = pinned_text(p, "tl", self.theme.foreground)

    def rebuild(self, runs: dict[str, Run]) -> None:
        theme = self.theme
        has_c = any(r.trace.c is not None for r in runs.values())
        self.mode_box.setEnabled(has_c)
        if not has_c:  # only h_t exists: say so in the switch too
            self.mode_box.blockSignals(True)
            self.set_mode("h")
            self.mode_box.blockSignals(False)
        for curve in self.curves:
            curve.detach()
        self._ensure_plots(list(runs))
        mode = self.mode
        self.curves, self.cursors = [], []
        T = next(iter(runs.values())).trace.h.shape[0] if runs else 1
        self._T, self._sources = T, []
        huge = False  # exploding states: ticks like "1e+85" need a wider axis
        for kind, run in runs.items():
            p = self.widgets[kind].getPlotItem()
            p.clear()
            data, symbol = state_of(run, mode)
            missing = " (no cell state)" if mode == "c" and symbol == "h_t" else ""
            p.setTitle(f"{run.label}{layer_suffix(run)} · {symbol} per unit{missing}",
                       size="9pt", color=theme.foreground)
            p.setLabel("left", symbol)
            color = theme.model_color(kind)
            color.setAlpha(190)
            item = _RevealedData(pen=pg.mkPen(color, width=1), connect="finite")
            p.addItem(item)
            curve = _Trajectories(item, data, run.trace.overflow_step)
            self.curves.append(curve)
            finite = data[: curve.hi]
            if finite.size:
                lo, hi = float(finite.min()), float(finite.max())
            else:
                lo, hi = -1.0, 1.0
            pad = max((hi - lo) * 0.05, 0.05)
            huge = huge or max(abs(lo), abs(hi)) >= 1e4
            p.setYRange(lo - pad, hi + pad, padding=0)
            p.setXRange(1, T, padding=0.01)
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.highlight))
            p.addItem(line, ignoreBounds=True)
            self.cursors.append(line)
            self.notes[kind].setColor(theme.foreground)
            self._sources.append((f"{layer_prefix(run)} {symbol}", data))
        for w in self.widgets.values():  # same width everywhere keeps the x axes aligned
            w.getPlotItem().getAxis("left").setWidth(72 if huge else 48)

    # -- cursor moved ---------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        # on screen, a large new body per turn; rendered off screen (exports), all at once
        budget = BODY_POINTS_PER_TURN if self._on_screen_live() else np.inf
        for c in self.curves:
            points = c.body_points(frame.fwd_t)
            if points and budget <= 0:  # drawn next turn (it shows its old steps till then)
                self._show_more_later()
                continue
            budget -= points
            c.show(frame.fwd_t)
        for line in self.cursors:
            line.setPos(frame.t)
        for kind, run in self.runs.items():
            note = self.notes.get(kind)
            if note is not None:
                set_html(note, overflow_html([run], frame, named=False))

    def _show_more_later(self) -> None:
        if not self._more_posted:
            self._more_posted = True
            QTimer.singleShot(1, self, self._show_more)

    def _show_more(self) -> None:
        self._more_posted = False
        self._on_frame()

    def complete(self) -> None:
        if self._more_posted and self.built:
            for c in self.curves:
                c.show(self.adapter.session.frame.fwd_t)

    def data_columns(self) -> dict[str, np.ndarray]:
        cols: dict[str, np.ndarray] = {"t": np.arange(1, self._T + 1, dtype=float)}
        for prefix, data in self._sources:
            for u in range(data.shape[1]):
                cols[f"{prefix}[unit {u}]"] = data[:, u].copy()
        return cols
