"""How learning changed the gradient flow: one column per model of a training history.

Top: the minibatch loss (log axis) with the evaluation MSE on fresh sequences as dots and
the chance level dashed; below it, aligned on the same iteration axis, a heatmap iteration x
timestep t coloured by log10 ||dL/dh_t|| (and one of log10 ||dL/dc_t|| for the LSTM) on the
history's probe sequence, one colour scale for every model so a kind that never learns stays
dark; at the bottom the keep-factor mean per unit (each kind's Keep: LSTM forget gate, GRU
update gate, minGRU 1 - z ...). A
vertical line marks the replayed iteration. Draws what engine.training.history computed,
nothing more.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QVBoxLayout, QWidget

from lstmviz.engine import cells
from lstmviz.engine.training.history import History, chance_score, verdict
from lstmviz.numfmt import format_number
from lstmviz.ui.panels.base import PowerAxis
from lstmviz.ui.theme import Theme


def kind_label(kind: str) -> str:
    """'LSTM' for 'lstm': the one name of a kind in the training views (the registry's)."""
    return cells.get(kind).label


def _display(grid: np.ndarray) -> np.ndarray:
    """Non-finite log10 values are drawn as gaps (NaN), never as a colour."""
    out = np.array(grid, dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


class HistoryView(QWidget):
    """Plots of `set_histories(dict kind -> History)`; `set_cursor(iteration)`."""

    def __init__(self, theme: Theme, parent=None) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setObjectName("training-history")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground(theme.background)
        lay.addWidget(self.canvas)
        self.histories: dict[str, History] = {}
        self.images: dict[tuple[str, str], pg.ImageItem] = {}
        self.cursors: list[pg.InfiniteLine] = []
        self.plots: list[pg.PlotItem] = []
        self.titles: dict[str, str] = {}
        self.loss_curves: dict[str, tuple] = {}
        self.keep_curves: dict[str, list] = {}
        self.colormap = pg.colormap.get("viridis")
        self.levels: tuple[float, float] | None = None
        self._structure: tuple = ()
        self._cursor: float | None = None
        self.setMinimumSize(200, 160)

    # -- data ---------------------------------------------------------------------------
    def set_histories(self, histories: dict[str, History]) -> None:
        histories = {k: h for k, h in histories.items() if h.snapshots}
        self.histories = histories
        key = tuple((k, h.config.task, h.snapshots[0].log10_grad_c is not None,
                     h.snapshots[0].keep_mean is not None) for k, h in histories.items())
        if key != self._structure:
            self._build(histories)
            self._structure = key
        self._update()

    def set_cursor(self, iteration: float | None) -> None:
        self._cursor = iteration
        for line in self.cursors:
            line.setVisible(iteration is not None)
            if iteration is not None:
                line.setValue(iteration)

    # -- layout -------------------------------------------------------------------------
    def _plot(self, row: int, col: int, *, log_y: bool = False) -> pg.PlotItem:
        axis = {"left": PowerAxis("left")} if log_y else None
        p = self.canvas.addPlot(row=row, col=col, axisItems=axis, enableMenu=False)
        p.hideButtons()
        p.showGrid(x=True, y=True, alpha=self.theme.grid_alpha)
        for name in ("left", "bottom"):
            ax = p.getAxis(name)
            ax.setPen(self.theme.foreground)
            ax.setTextPen(self.theme.foreground)
            ax.enableAutoSIPrefix(False)
        line = pg.InfiniteLine(angle=90, pen=pg.mkPen(self.theme.foreground, width=1))
        line.setVisible(self._cursor is not None)
        p.addItem(line, ignoreBounds=True)
        self.cursors.append(line)
        self.plots.append(p)
        return p

    def _build(self, histories: dict[str, History]) -> None:
        self.canvas.clear()
        self.images, self.cursors, self.plots = {}, [], []
        self.loss_curves: dict[str, tuple] = {}
        self.keep_curves: dict[str, list] = {}
        muted = pg.mkPen(self.theme.muted, width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        for col, (kind, h) in enumerate(histories.items()):
            row = 0
            top = self._plot(row, col, log_y=True)
            top.setLabel("left", "loss")
            pen = self.theme.pen(kind, width=1.5)
            line = top.plot([], [], pen=pen)
            dots = top.plot([], [], pen=None, symbol="o", symbolSize=6,
                            symbolBrush=self.theme.model_color(kind), symbolPen=None)
            if h.config.task == "adding":
                chance = chance_score(h.config)
                top.addItem(pg.InfiniteLine(
                    math.log10(chance), angle=0, pen=muted,
                    label=f"chance {format_number(chance)}",
                    labelOpts={"position": 0.85, "color": self.theme.muted,
                               "anchors": [(0.5, 1), (0.5, 1)]}))
            self.loss_curves[kind] = (top, line, dots)
            states = ["h"] + (["c"] if h.snapshots[0].log10_grad_c is not None else [])
            for state in states:
                row += 1
                p = self._plot(row, col)
                p.setLabel("left", f"t  (log10 ‖dL/d{state}ₜ‖)")
                p.setXLink(top)
                img = pg.ImageItem()
                img.setColorMap(self.colormap)
                p.addItem(img)
                self.images[(kind, state)] = img
            if h.snapshots[0].keep_mean is not None:
                row += 1
                p = self._plot(row, col)
                p.setLabel("left", f"keep ({cells.get(kind).keep.gate})")
                p.setXLink(top)
                p.setYRange(0, 1, padding=0.02)
                H = len(h.snapshots[0].keep_mean)
                color = self.theme.model_color(kind)
                self.keep_curves[kind] = [p.plot([], [], pen=pg.mkPen(color, width=1))
                                          for _ in range(H)]
            self.plots[-1].setLabel("bottom", "iteration")
        if self.images:
            self.colorbar = pg.ColorBarItem(colorMap=self.colormap, interactive=False,
                                            label="log10 ‖dL/dh‖")
            self.canvas.addItem(self.colorbar, row=1, col=len(histories),
                                rowspan=max(1, self.canvas.ci.layout.rowCount() - 1))
            self.colorbar.setImageItem(list(self.images.values()))

    def _update(self) -> None:
        grids = {}
        for kind, state in self.images:
            h = self.histories[kind]
            grids[(kind, state)] = _display(
                h.grid("log10_grad_h" if state == "h" else "log10_grad_c"))
        values = np.concatenate([g[np.isfinite(g)] for g in grids.values()] or [np.array([])])
        if values.size:
            lo, hi = float(values.min()), float(values.max())
            self.levels = (lo, hi if hi > lo else lo + 1.0)
        elif self.levels is None:
            self.levels = (0.0, 1.0)
        for (kind, state), grid in grids.items():
            img = self.images[(kind, state)]
            its = self.histories[kind].iterations().astype(float)
            step = float(its[1] - its[0]) if len(its) > 1 else 1.0
            img.setImage(grid, levels=self.levels)
            img.setRect(QRectF(its[0] - step / 2, 0.5, (its[-1] - its[0]) + step, grid.shape[1]))
        if self.images:
            self.colorbar.setLevels(self.levels)
        for kind, (top, line, dots) in self.loss_curves.items():
            h = self.histories[kind]
            its = h.iterations().astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = np.log10(np.array([s.loss for s in h.snapshots], dtype=float))
            ok = np.isfinite(loss)
            line.setData(its[ok], loss[ok])
            ev = [(s.iteration, s.eval_mse) for s in h.snapshots
                  if s.eval_mse is not None and s.eval_mse > 0 and math.isfinite(s.eval_mse)]
            if ev:
                x, y = zip(*ev, strict=True)
                dots.setData(np.array(x, float), np.log10(np.array(y)))
            text = verdict(h.config, h.snapshots)
            self.titles[kind] = f"{kind_label(kind)}: {text}" if text else kind_label(kind)
            top.setTitle(self.titles[kind], size="10pt", color=self.theme.foreground)
        for kind, curves in self.keep_curves.items():
            h = self.histories[kind]
            its = h.iterations().astype(float)
            keep = np.array([s.keep_mean for s in h.snapshots], dtype=float)  # (n, H)
            for j, c in enumerate(curves):
                c.setData(its, keep[:, j])

    def plot_items(self) -> list[pg.PlotItem]:
        return list(self.plots)


def render_history_png(histories: dict[str, History], theme: Theme, width: int = 1400) -> bytes:
    """history.png of `lstmviz export --history`: the view, laid out and painted offscreen."""
    from PySide6.QtWidgets import QApplication

    from lstmviz.ui.render import png_bytes, render_image

    view = HistoryView(theme)
    rows = 1 + max(1 + (h.snapshots[0].log10_grad_c is not None)
                   + (h.snapshots[0].keep_mean is not None) for h in histories.values())
    view.resize(max(480, 420 * len(histories) + 80), 160 * rows)
    view.set_histories(histories)
    view.show()
    for _ in range(3):
        QApplication.processEvents()
    try:
        return png_bytes(render_image(view, width=width, background=theme.background))
    finally:
        view.hide()
        view.deleteLater()
