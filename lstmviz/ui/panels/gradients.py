"""Gradient magnitudes ||dL/dh_t|| over t on a log axis, revealed with the backward pass.

The vanilla RNN's bound ||dL/dh_T|| (sigma_max * gamma)^(T - t) is drawn beside it, and the
ratio ||dL/dh_t|| / ||dL/dh_T|| is written on the plot as the backward pass reaches t.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from lstmviz.engine import cells
from lstmviz.numfmt import format_log10, format_magnitude
from lstmviz.session import Frame, Run
from lstmviz.ui.panels.base import (  # noqa: F401 (the kit's helpers, once defined here)
    CURVE_WIDTH,
    Panel,
    cache_axes,
    clip_forward,
    finite_prefix,
    fit_legend,
    floor_to,
    log_forward_series,
    log_series,
    outside_legend,
    overflow_html,
    overflow_step_known,
    pinned_text,
    power_of_ten,
    scale_plot,
    set_html,
    style_plot,
    y_range,
)
from lstmviz.ui.theme import Theme

SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
BOUND_LABEL = "RNN bound (σγ)^(T−t)"
#: Legend entry of the previous walkthrough step's curves (`GradientPanel.set_ghost`).
GHOST_LABEL = "previous step"
#: Opacity (0-255) of a ghost curve: faint beside the curves on screen.
GHOST_ALPHA = 120


#: Width (pixels) the notes are measured at before the panel is first shown.
NOTES_WIDTH = 400
#: With more models than this, the ratio notes run on in one paragraph (eight kinds fit).
COMPACT_NOTES = 3


class NotesBox(QWidget):
    """Rich text below a plot, word-wrapped, whose text changes never relayout the window.

    The label is a child without a layout: its size hint changing with the text reaches
    nobody. The box's own height is fixed to what the longest text it may show (`worst`,
    set once per rebuild) needs at the current width, so it changes only on a resize.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.label.setContentsMargins(4, 0, 4, 0)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._html = ""
        self._worst = ""
        self.setFixedHeight(0)

    def set_html(self, text: str) -> None:
        if text != self._html:
            self._html = text
            self.label.setText(text)

    def set_worst(self, plain: str) -> None:
        """The longest plain text (lines separated by newlines) it will have to show."""
        if plain != self._worst:
            self._worst = plain
            self._fit()

    def set_color(self, color: str) -> None:
        self.label.setStyleSheet(f"color: {color}")

    def set_font(self, font) -> None:
        """Text at `font` (presenter mode), the box's height measured again."""
        self.label.setFont(font)
        self._fit()

    def toPlainText(self) -> str:  # noqa: N802 (as QGraphicsTextItem)
        text = re.sub(r"<br\s*/?>", "\n", self._html)
        return html.unescape(re.sub(r"<[^>]+>", "", text))

    def _fit(self) -> None:
        width = max(1, self.width() - 8)
        if not self.isVisible():  # not laid out yet: a default width, not one word per line
            width = max(width, NOTES_WIDTH)  # (the window would open taller than asked)
        if not self._worst:
            height = 0
        else:
            fm = QFontMetrics(self.label.font())
            flags = int(Qt.TextFlag.TextWordWrap)
            height = fm.boundingRect(QRect(0, 0, width, 10_000), flags, self._worst).height() + 2
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)
        self.label.setGeometry(0, 0, self.width(), height)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        self._fit()


class _Series:
    """One curve's prepared data: x, exact log10 y (NaN where clipped, -inf for an exact zero,
    drawn at `floor`, the plot's bottom edge) and its finite span."""

    def __init__(self, item: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
        self.item, self.x = item, x
        self.zero = y == -np.inf
        self.y = np.where(self.zero, np.nan, y)
        ok = ~np.isnan(self.y) | self.zero
        # backward-clipped series are finite on a suffix [lo, T)
        self.lo = int(np.argmax(ok)) if ok.any() else len(y)
        self.shown: int | None = None  # first index on screen (len(y): nothing)

    def set_floor(self, bottom: float) -> None:
        """Draw exact zeros at `bottom` (the y range's lower end); redrawn at the next show."""
        if self.zero.any():
            self.y[self.zero] = bottom
            self.shown = None

    def show_from(self, t: int) -> None:
        """Show steps t..T (1-based); t > T shows nothing."""
        start = min(max(t - 1, self.lo), len(self.y))
        if start == self.shown:  # the forward pass leaves these curves alone
            return
        self.shown = start
        if start >= len(self.y):
            self.item.setData([], [])
        else:
            self.item.setData(self.x[start:], self.y[start:])


def end_ticks(lo: float, hi: float, n: int = 2) -> list[tuple[float, str]]:
    """About n ticks at integer exponents, one near the centre of each of n equal parts of
    lo..hi, labelled as powers of ten ('10⁻¹²'): what the colours of a log colour bar mean
    (never at its ends: an axis drops a label that would reach past them)."""
    n = max(1, n)
    step = (hi - lo) / n
    values = sorted({int(round(lo + (j + 0.5) * step)) for j in range(n)})
    values = [v for v in values if lo < v < hi] or [(lo + hi) / 2]
    return [(float(v), power_of_ten(v)) for v in values]


#: Width (pixels) the curves keep beside the layer heatmap: their axis and a one-column legend.
CURVES_MIN = 260
#: Narrowest layer heatmap (its row names, some steps and the colour bar's ticks).
DEPTH_MIN = 120
#: Narrowest row names axis of the heatmap (pixels; wider for longer names).
ROW_NAMES_WIDTH = 58


class DepthHeatmap:
    """log10 ||dL/dh^(l)_t|| as a (model, layer) x t heatmap beside the curves, revealed with
    the backward pass; one row per layer of every stacked model (top layer on top), a
    colour bar on the curves' log scale. Hidden when no model has more than one layer (the
    single-layer panel is unchanged)."""

    def __init__(self, panel: Panel) -> None:
        # a plain box until a model is stacked: its plot, image and colour bar are made on
        # first use (`_make`), so a one-layer window does not pay for them at launch
        self.widget = QWidget()
        self.widget.setObjectName("gradients-depth")
        self.widget.setMinimumWidth(DEPTH_MIN)
        box = QVBoxLayout(self.widget)
        box.setContentsMargins(0, 0, 0, 0)
        self.view: pg.GraphicsLayoutWidget | None = None
        self.plot: pg.PlotItem | None = None
        self.colorbar: pg.ColorBarItem | None = None
        self.scale = 1.0
        self.full = np.full((1, 1), np.nan)
        self.rows: list[tuple[str, int]] = []
        self.shown: int | None = None
        self.levels = (-1.0, 1.0)
        self.widget.hide()

    def _make(self) -> None:
        view = self.view = pg.GraphicsLayoutWidget()
        view.ci.setContentsMargins(0, 2, 2, 2)
        view.ci.setSpacing(2)
        self.plot = pg.PlotItem(enableMenu=False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "timestep t")
        self.plot.getViewBox().setMouseEnabled(x=True, y=False)
        self.plot.disableAutoRange()
        cache_axes(self.plot)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor)
        view.ci.addItem(self.plot, row=0, col=0)
        # under the heatmap (the panel's width goes to the curves and the heatmap), naming
        # it (a title would set the plot's minimum width)
        self.colorbar = pg.ColorBarItem(values=(-1.0, 1.0), interactive=False, width=9,
                                        colorMapMenu=False, orientation="horizontal")
        self.colorbar.getAxis("bottom").setLabel("‖dL/dh⁽ˡ⁾_t‖")
        self.colorbar.setImageItem(self.image)
        view.ci.addItem(self.colorbar, row=1, col=0)
        self.plot.vb.sigResized.connect(lambda *_: self._bar_ticks())  # as many as fit
        self.widget.layout().addWidget(view)
        if self.scale != 1.0:
            self.set_scale(self.scale)

    def set_scale(self, factor: float) -> None:
        """Presenter mode's scale (kept for a heatmap made later)."""
        self.scale = factor
        if self.plot is not None:
            for plot in (self.plot, self.colorbar):
                scale_plot(plot, factor)

    def set_runs(self, runs: dict[str, Run], y_range: tuple[float, float],
                 theme: Theme) -> None:
        stacked = [(k, r) for k, r in runs.items() if r.num_layers > 1]
        self.shown = None
        self.rows = []
        if not stacked:
            self.widget.hide()
            return
        if self.plot is None:
            self._make()
        lo, hi = y_range
        rows, labels = [], []
        for kind, run in stacked:  # bottom row: the first model's layer 1
            for l, ylog in enumerate(run.log10_h_layers):
                y = log_series(run, ylog)
                rows.append(np.where(y == -np.inf, lo, y))  # an exact zero: the lowest colour
                labels.append(f"{kind} l{l + 1}")
                self.rows.append((kind, l))
        self.full = np.array(rows, dtype=float)
        R, T = self.full.shape
        self.plot.getAxis("left").setTicks([list(enumerate(labels))])
        # room for the widest row name ("mingru l3"; an axis drops a label wider than itself)
        font = self.plot.getAxis("left").style.get("tickFont") or QApplication.font()
        names = max(QFontMetrics(font).horizontalAdvance(n) for n in labels) + 14
        for plot in (self.plot, self.colorbar):  # (the bar aligned with the heatmap)
            plot.getAxis("left").setWidth(max(ROW_NAMES_WIDTH, names))
        self.view.setBackground(theme.background)
        style_plot(self.plot, theme)
        style_plot(self.colorbar, theme)
        self.cursor.setPen(pg.mkPen(theme.highlight))
        self.colorbar.setColorMap(pg.colormap.get(theme.colormap))
        self.colorbar.setLevels((lo, hi))
        self.levels = (lo, hi)
        self._bar_ticks()
        self.image.setImage(np.full_like(self.full, np.nan), levels=(lo, hi), autoLevels=False,
                            rect=QRectF(0.5, -0.5, T, R))
        self.widget.setToolTip(
            f"log10 ‖dL/dh⁽ˡ⁾_t‖ of every layer l (l1 bottom) of each stacked model, the "
            f"total gradient at that layer's output at step t (from the layer above and "
            f"from t+1): {format_log10(lo)} (dark) to {format_log10(hi)} (bright), the "
            f"curves' scale (the layers below the top are their dotted curves)")
        vb = self.plot.getViewBox()
        vb.setLimits(xMin=0.5, xMax=T + 0.5, yMin=-0.5, yMax=R - 0.5)
        vb.setRange(xRange=(0.5, T + 0.5), yRange=(-0.5, R - 0.5), padding=0)
        self.widget.show()

    def show_from(self, t: int, cursor_t: int) -> None:
        """Reveal steps t..T (1-based), the cursor at cursor_t."""
        if not self.rows:
            return
        self.cursor.setPos(cursor_t)
        start = min(max(t - 1, 0), self.full.shape[1])
        if start == self.shown:
            return
        self.shown = start
        buf = np.full_like(self.full, np.nan)
        buf[:, start:] = self.full[:, start:]
        self.image.setImage(buf, autoLevels=False)

    def _bar_ticks(self) -> None:
        """The colour bar's ends labelled, and its middle where there is room."""
        width = self.plot.vb.width()
        n = 3 if width >= 150 else 2 if width >= 100 else 1
        if getattr(self, "_ticks", None) != (self.levels, n):
            self._ticks = (self.levels, n)
            self.colorbar.getAxis("bottom").setTicks([end_ticks(*self.levels, n)])

    def row_values(self) -> np.ndarray:
        """The heatmap's (rows, T) log10 values as revealed (NaN: not yet reached)."""
        if self.plot is None or self.image.image is None:
            return self.full
        return np.array(self.image.image)


class GradientPanel(Panel):
    name = "gradients"
    title = "Gradient magnitudes"
    tooltip = (
        "How large the loss gradient ‖dL/dh_t‖ is at each step, on a log scale, as "
        "backpropagation walks from t = T back to 1. A line falling steeply to the left "
        "means the gradient vanishes: early steps get (almost) no learning signal."
    )

    def build(self) -> None:
        self.plot_widget = self.make_plot(log_y=True, y_label="‖dL/dh_t‖ (log scale)")
        self.plot = self.plot_widget.getPlotItem()
        self.plot.disableAutoRange()
        self.legend = outside_legend(self.plot)
        self._held: tuple[float, float] | None = None
        self._auto_range: tuple[float, float] = (-1.0, 1.0)
        # beside the curves; shown only for stacked models (num_layers > 1)
        self.depth = DepthHeatmap(self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.plot_widget, 3)
        row.addWidget(self.depth.widget, 2)
        self.layout_.addLayout(row, 1)
        self.notes = NotesBox(self)
        self.layout_.addWidget(self.notes)
        self.overflow = pinned_text(self.plot, "bl", self.theme.foreground)
        self.series: dict[str, list[_Series]] = {}
        self.bound: _Series | None = None
        self.sigma_gamma: float | None = None
        self._ratio_logs: dict[str, np.ndarray] = {}
        self.cursor: pg.InfiniteLine | None = None
        self._columns: dict[str, np.ndarray] = {}
        self._ghost_runs: dict[str, Run] = self.__dict__.get("_ghost_runs", {})  # (set_ghost)
        self.ghosts: list[pg.PlotDataItem] = []

    # -- new runs -------------------------------------------------------------------
    def structure_key(self, runs: dict[str, Run]) -> object:
        loss_last = self.adapter.session.config.loss_where == "last"
        return tuple(
            (kind, run.label, run.trace.h.shape, run.num_layers,
             run.diagnostics.grad_c_norm is not None,
             loss_last and cells.get(kind).bound_applies and run.diagnostics.rnn_bound is not None)
            for kind, run in runs.items())

    def rebuild(self, runs: dict[str, Run]) -> None:
        theme = self.theme
        if not self.reusing:
            self.plot.clear()
            self.legend.clear()
        self.legend.setBrush(pg.mkBrush(None))  # above the data: no box needed
        self.legend.setPen(pg.mkPen(None))
        self.legend.setLabelTextColor(theme.foreground)
        self.notes.set_color(theme.foreground)
        self.overflow.setColor(theme.foreground)
        self.overflow.fill = pg.mkBrush(theme.background + "c0")
        self.series, self.bound, self.sigma_gamma = {}, None, None
        self.sigma_label = ""
        self.no_bound = [k for k in runs if not cells.get(k).bound_applies]
        self.notes.setToolTip("\n".join(f"{cells.get(k).label}: {cells.get(k).bound_note}"
                                         for k in self.no_bound))
        self._ratio_logs = {}
        T = next(iter(runs.values())).trace.h.shape[0] if runs else 1
        x = np.arange(1, T + 1, dtype=float)
        self._columns = {"t": np.arange(1, T + 1)}
        logs = []
        for kind, run in runs.items():
            d = run.diagnostics
            color = theme.model_color(kind)
            yh = log_series(run, d.log10_grad_h)
            item = self.pooled(self.plot, lambda c=color, r=run: pg.PlotDataItem(
                pen=pg.mkPen(c, width=CURVE_WIDTH), name=r.label))
            self.series[kind] = [_Series(item, x, yh)]
            self._ratio_logs[kind] = yh
            self._columns[f"{kind} ||dL/dh_t||"] = np.asarray(d.grad_h_norm, dtype=float)
            self._columns[f"{kind} log10 ||dL/dh_t||"] = np.asarray(d.log10_grad_h, dtype=float)
            logs.append(yh)
            if run.num_layers > 1:  # the layers below the top: thinner dotted curves
                norms = run.grad_h_norm_layers
                for ylog in run.log10_h_layers[:-1]:
                    yl = log_series(run, ylog)
                    pen = pg.mkPen(color, width=max(CURVE_WIDTH - 1, 1),
                                   style=Qt.PenStyle.DotLine)
                    # not in the legend (it would crowd out the models): the heatmap
                    # below names the layers
                    item = self.pooled(self.plot, lambda p=pen: pg.PlotDataItem(pen=p))
                    self.series[kind].append(_Series(item, x, yl))
                    logs.append(yl)
                for l in range(run.num_layers):
                    self._columns[f"{kind} layer {l + 1} ||dL/dh_t||"] = np.asarray(
                        norms[l], dtype=float)
                    self._columns[f"{kind} layer {l + 1} log10 ||dL/dh_t||"] = np.asarray(
                        run.log10_h_layers[l], dtype=float)
            if d.grad_c_norm is not None:
                yc = log_series(run, d.log10_grad_c)
                pen = pg.mkPen(color, width=CURVE_WIDTH, style=Qt.PenStyle.DashLine)
                item = self.pooled(self.plot, lambda p=pen, r=run: pg.PlotDataItem(
                    pen=p, name=f"{r.label} ‖dL/dc‖ ┄"))
                self.series[kind].append(_Series(item, x, yc))
                self._columns[f"{kind} ||dL/dc_t||"] = np.asarray(d.grad_c_norm, dtype=float)
                self._columns[f"{kind} log10 ||dL/dc_t||"] = np.asarray(
                    d.log10_grad_c, dtype=float)
                logs.append(yc)
            if cells.get(kind).bound_applies and d.rnn_bound is not None \
                    and self.sigma_gamma is None:
                self.sigma_gamma = float(d.rnn_bound)
                self.sigma_label = run.label.split(" (")[0]
                if self.adapter.session.config.loss_where == "last":
                    self._add_bound(x, run, yh)
        self._auto_range = y_range(*logs)
        self.depth.set_runs(runs, self._auto_range, theme)
        # the heatmap takes 2/5 of the width, what the curves' axis and one-column legend
        # leave (CURVES_MIN), at least DEPTH_MIN (the layout's sizes: exports get them too)
        self.plot_widget.setMinimumWidth(CURVES_MIN if self.depth.rows else 0)
        # a walkthrough holds the axis still over its steps
        self._apply_y_range(*(self._held or self._auto_range))
        self.plot.setXRange(1, T, padding=0.01)
        self.cursor = self.pooled(self.plot, lambda: pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen(theme.highlight)), ignore_bounds=True)
        self.notes.set_worst(self._worst_notes(T))
        self._draw_ghosts()
        fit_legend(self.plot, self.legend)

    # -- the previous walkthrough step's curves -------------------------------------
    def set_ghost(self, runs: dict[str, Run] | None) -> None:
        """Draw the ‖dL/dh_t‖ curves of `runs` (the previous walkthrough step's, already
        computed) faint and dashed behind the ones on screen, one legend entry "previous
        step"; kept over rebuilds for the models on screen with the same T. None (or {})
        removes them."""
        self._ghost_runs = dict(runs or {})
        if self.built:  # (else drawn by the first rebuild)
            self._draw_ghosts()
            fit_legend(self.plot, self.legend)

    def _draw_ghosts(self) -> None:
        for item in self.ghosts:  # (a rebuild's clear() took them off the plot already)
            if item in self.plot.items:
                self.plot.removeItem(item)
        self.ghosts = []
        lo = self.plot.vb.viewRange()[1][0]
        for kind, run in self._ghost_runs.items():
            now = self.runs.get(kind)
            if now is None or now.trace.h.shape[0] != run.trace.h.shape[0]:
                continue  # another model or another T: nothing to compare with
            y = log_series(run, run.diagnostics.log10_grad_h)
            y = np.where(y == -np.inf, lo, y)  # exact zeros on the bottom edge, as curves
            colour = pg.mkColor(self.theme.model_color(kind))
            colour.setAlpha(GHOST_ALPHA)
            pen = pg.mkPen(colour, width=CURVE_WIDTH, style=Qt.PenStyle.DashLine)
            name = None if self.ghosts else GHOST_LABEL
            item = pg.PlotDataItem(np.arange(1, len(y) + 1, dtype=float), y, pen=pen,
                                   name=name, connect="finite")
            item.setZValue(-5)  # behind the curves on screen
            self.plot.addItem(item, ignoreBounds=True)
            self.ghosts.append(item)
        if self.ghosts and self.presenter_scale != 1.0:
            scale_plot(self.plot, self.presenter_scale)

    def set_y_range_exponents(self, lo: float | None, hi: float | None) -> None:
        """Hold the y axis at 10^lo .. 10^hi (log10 exponents) over every rebuild, until
        called with None, None (the axis then follows the runs again: `_auto_range`)."""
        if lo is None or hi is None:
            if self._held is not None:
                self._held = None
                self._apply_y_range(*self._auto_range)
            return
        self._held = (float(lo), float(hi))
        self._apply_y_range(*self._held)

    @property
    def y_range_exponents(self) -> tuple[float, float]:
        """The y axis on screen, as log10 exponents (lo, hi)."""
        lo, hi = self.plot.vb.viewRange()[1]
        return float(lo), float(hi)

    def set_scale(self, factor: float) -> None:
        """Presenter mode: curves, axes and the legend `factor` times their size."""
        scale_plot(self.plot, factor)
        self.depth.set_scale(factor)
        fit_legend(self.plot, self.legend)
        self.notes.set_font(QApplication.font())  # (its style sheet stops the app's font)

    def _apply_y_range(self, lo: float, hi: float) -> None:
        """Show powers of ten 10^lo .. 10^hi on the y axis; exact zeros on the bottom edge."""
        self.plot.setYRange(lo, hi, padding=0)
        for group in self.series.values():
            for s in group:
                s.set_floor(lo)
        if self.bound is not None:
            self.bound.set_floor(lo)
        if self.series and getattr(self, "_frame", None) is not None:
            self.show_frame(self._frame)

    def _add_bound(self, x: np.ndarray, run: Run, yh: np.ndarray) -> None:
        """||dL/dh_T|| (sigma_max gamma)^(T - t): valid when the loss is at the last step."""
        pen = pg.mkPen(self.theme.model_color("bound"), width=CURVE_WIDTH,
                       style=Qt.PenStyle.DotLine)
        # made whenever the structure asks for it, so that a reused one is always there
        item = self.pooled(self.plot, lambda: pg.PlotDataItem(
            pen=pen, name=BOUND_LABEL, connect="finite"))
        yb = run.diagnostics.log10_bound_line
        if yb is None or not np.isfinite(yh[-1]):
            item.setData([], [])
            return
        yb = np.array(yb, dtype=float)
        yb[np.isnan(yb) | (yb == np.inf)] = np.nan
        self.bound = _Series(item, x, yb)
        with np.errstate(all="ignore"):
            self._columns[f"{run.kind} bound (sigma_max*gamma)^(T-t) * ||dL/dh_T||"] = 10.0 ** yb
        self._columns[f"{run.kind} log10 bound (sigma_max*gamma)^(T-t) * ||dL/dh_T||"] = yb

    # -- cursor moved ---------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        self._frame = frame
        t = frame.bwd_t
        for group in self.series.values():
            for s in group:
                s.show_from(t)
        if self.bound is not None:
            self.bound.show_from(t)
        if self.cursor is not None:
            self.cursor.setPos(frame.t)
        self.depth.show_from(t, frame.t)
        self.notes.set_html(self._notes_html(t))
        set_html(self.overflow, overflow_html(self.runs.values(), frame))

    def _no_bound_line(self) -> str:
        """Where the σ_max·γ bound does not exist, say so (each kind's reason: the tooltip)."""
        if not self.no_bound or self.sigma_gamma is None:
            return ""
        names = ", ".join(cells.get(k).label for k in self.no_bound)
        return f"no σ_max·γ bound for {names} (hover: why)"

    def _notes_html(self, t: int) -> str:
        lines = []
        if self.sigma_gamma is not None:
            verdict = " &lt; 1: must vanish" if self.sigma_gamma < 1 else ""
            lines.append(f"<span style='color:{self.theme.muted}'>{self.sigma_label} σ_max·γ = "
                         f"{self.sigma_gamma:.2f}{verdict}</span>")
        if self._no_bound_line():
            lines.append(f"<span style='color:{self.theme.muted}'>{self._no_bound_line()}"
                         "</span>")
        T = self.adapter.session.seq_len
        if t < T:
            sub = str(t).translate(SUBSCRIPT)
            compact = len(self._ratio_logs) > COMPACT_NOTES
            entries = []
            for kind, y in self._ratio_logs.items():
                run = self.runs[kind]
                if not np.isfinite(y[-1]):
                    continue
                value = format_magnitude(self.ratio_log10(kind, t))
                color = self.theme.model_color(kind).name()
                text = (f"{run.label} {value}" if compact
                        else f"{run.label}: ‖dL/dh{sub}‖ / ‖dL/dh_T‖ = {value}")
                if run.diagnostics.log10_grad_c is not None:
                    c = format_magnitude(self.ratio_log10(kind, t, "c"))
                    text += (f" (c: {c})" if compact
                             else f" · ‖dL/dc{sub}‖ / ‖dL/dc_T‖ = {c}")
                entries.append(f"<span style='color:{color}'>{text}</span>")
            if compact and entries:
                lines.append(f"‖dL/dh{sub}‖ / ‖dL/dh_T‖: " + " · ".join(entries))
            else:
                lines += entries
        return "<br>".join(lines)

    def ratio_log10(self, kind: str, t: int, of: str = "h") -> float:
        """log10 ||dL/dh_t|| / ||dL/dh_T|| (of="c": the LSTM's ||dL/dc_t|| / ||dL/dc_T||) of
        one model, exactly: the figure printed."""
        d = self.runs[kind].diagnostics
        y = d.log10_grad_c if of == "c" else d.log10_grad_h
        return float(y[t - 1] - y[-1])

    def _worst_notes(self, T: int) -> str:
        """The notes at their longest (widest step number and value), as plain text."""
        lines = []
        if self.sigma_gamma is not None:
            lines.append(f"{self.sigma_label} σ_max·γ = {self.sigma_gamma:.2f} < 1: must vanish")
        if self._no_bound_line():
            lines.append(self._no_bound_line())
        sub = str(max(T - 1, 1)).translate(SUBSCRIPT)
        compact = len(self._ratio_logs) > COMPACT_NOTES
        entries = []
        for kind, y in self._ratio_logs.items():
            if np.isfinite(y[-1]):
                run = self.runs[kind]
                text = (f"{run.label} 8.8 × 10⁻⁸⁸⁸⁸" if compact
                        else f"{run.label}: ‖dL/dh{sub}‖ / ‖dL/dh_T‖ = 8.8 × 10⁻⁸⁸⁸⁸")
                if run.diagnostics.log10_grad_c is not None:
                    text += (" (c: 8.8 × 10⁻⁸⁸⁸⁸)" if compact
                             else f" · ‖dL/dc{sub}‖ / ‖dL/dc_T‖ = 8.8 × 10⁻⁸⁸⁸⁸")
                entries.append(text)
        if compact and entries:
            lines.append(f"‖dL/dh{sub}‖ / ‖dL/dh_T‖: " + " · ".join(entries))
        else:
            lines += entries
        return "\n".join(lines)

    def plot_items(self) -> list[pg.PlotItem]:
        """The curves, and the layer heatmap beside them when a model is stacked."""
        self.ensure_built()
        return [self.plot] + ([self.depth.plot] if self.depth.rows else [])

    def data_columns(self) -> dict[str, np.ndarray]:
        return dict(self._columns)
