"""Jacobians: why gradients vanish. Three stacked plots sharing the time axis.

(a) ||dh_T/dh_t||_2 per model (backward) and the per-step factors ||dh_t/dh_{t-1}||_2
    (forward, dashed) against the line 1: factors below 1 multiply into a vanishing product;
(b) the LSTM cell path dc_t/dc_{t-1}: the direct term diag(f_t) against the indirect terms
    through h_{t-1} and the gates (forward);
(c) each step's contribution to dL/dW_hh (backward): which steps still teach the weights.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from lstmviz.engine import cells
from lstmviz.session import Frame, Run
from lstmviz.ui.panels.base import (
    Panel,
    clip_forward,
    fit_legend,
    floor_to,
    layer_prefix,
    layer_suffix,
    log_forward_series,
    log_series,
    outside_legend,
    overflow_html,
    pinned_text,
    set_html,
    y_range,
)


class _Curve:
    """A curve revealed either forward (steps 1..t) or backward (steps t..T)."""

    def __init__(self, item: pg.PlotDataItem, x: np.ndarray, y: np.ndarray,
                 backward: bool) -> None:
        self.item, self.x, self.y, self.backward = item, x, y, backward
        ok = np.isfinite(y) | (y == -np.inf)  # exact zeros are drawn on the bottom edge
        if backward:  # finite on a suffix
            self.lo, self.hi = (int(np.argmax(ok)) if ok.any() else len(y)), len(y)
        else:  # finite on a prefix
            self.lo, self.hi = 0, (int(np.argmin(ok)) if not ok.all() else len(y))
        self.shown: tuple[int, int] | None = None  # (start, stop) on screen

    def show(self, frame: Frame) -> None:
        if self.backward:
            start, stop = max(frame.bwd_t - 1, self.lo), self.hi
        else:
            start, stop = self.lo, min(frame.fwd_t, self.hi)
        if start >= stop:
            start = stop = 0
        if (start, stop) == self.shown:  # e.g. forward curves during the backward pass
            return
        self.shown = (start, stop)
        if start >= stop:
            self.item.setData([], [])
        else:
            self.item.setData(self.x[start:stop], self.y[start:stop])


class JacobianPanel(Panel):
    name = "jacobians"
    title = "Jacobians"
    per_layer = True
    tooltip = (
        "Top: ‖∂h_T/∂h_t‖ (solid) and each step's ‖∂h_t/∂h_t−1‖ (dashed). For the RNN and "
        "the GRU the solid line is the norm of a product of the per-step Jacobians, at most "
        "the product of the dashed values, so factors below 1 make it vanish. For the LSTM "
        "the dashed factor is only the h→h block (c held fixed) while the product also runs "
        "through the cell, so it can be far larger than the dashed factors suggest. "
        "Middle: the LSTM cell path, the direct term diag(f_t) ─ and the part through "
        "h_t−1 ┄. Bottom: how much each step still contributes to the recurrent weight "
        "gradient."
    )

    def build(self) -> None:
        self.titles = (
            # short: a plot title sets its plot's minimum width (long ones overflow narrow docks)
            "‖∂h_T/∂h_t‖ ─   per step ‖∂h_t/∂h_t−1‖ ┄",
            "LSTM ∂c_t/∂c_t−1: diag(f_t) ─   via h_t−1 ┄",
            "step t's term of ∂L/∂W_hh",
        )
        self.w_prod = self.make_plot(log_y=True, y_label="norm")
        self.w_cell = self.make_plot(y_label="norm")
        self.w_whh = self.make_plot(log_y=True, y_label="norm")
        self.widgets = [self.w_prod, self.w_cell, self.w_whh]
        self.plots = [w.getPlotItem() for w in self.widgets]
        for i, (w, p) in enumerate(zip(self.widgets, self.plots, strict=True)):
            p.disableAutoRange()
            if i < 2:
                p.setLabel("bottom", "")
                p.getAxis("bottom").setStyle(showValues=False)
                p.getAxis("bottom").setHeight(6)
                p.setXLink(self.plots[2])
            p.getAxis("left").setWidth(52)
            self.layout_.addWidget(w, 1)
        # above the data, under the title: never over a curve (at any size or font)
        self.legend = outside_legend(self.plots[0], keep_title=True)
        self.cell_note = pinned_text(self.plots[1], "c", self.theme.muted)
        self.whh_note = pinned_text(self.plots[2], "c", self.theme.muted)
        self.overflow_notes = [pinned_text(p, "tl", self.theme.foreground)
                               for p in (self.plots[0], self.plots[2])]
        self.curves: list[_Curve] = []
        self.cursors: list[pg.InfiniteLine] = []
        self._columns: dict[str, np.ndarray] = {}

    # -- new runs -------------------------------------------------------------------
    def structure_key(self, runs: dict[str, Run]) -> object:
        return tuple((kind, run.label, run.layer_name, run.trace.h.shape,
                      run.diagnostics.cell_direct is not None
                      and run.diagnostics.cell_indirect is not None)
                     for kind, run in runs.items())

    def rebuild(self, runs: dict[str, Run]) -> None:
        theme = self.theme
        if not self.reusing:
            for p, title in zip(self.plots, self.titles, strict=True):
                p.clear()
                p.setTitle(title, size="9pt", color=theme.foreground)
            self.legend.clear()
        self.legend.setBrush(pg.mkBrush(None))  # above the data: no box needed
        self.legend.setPen(pg.mkPen(None))
        self.legend.setLabelTextColor(theme.foreground)
        for note in self.overflow_notes:
            note.setColor(theme.foreground)
        self.cell_note.setColor(theme.muted)
        self.whh_note.setColor(theme.muted)
        self.curves = []
        T = next(iter(runs.values())).trace.h.shape[0] if runs else 1
        x = np.arange(1, T + 1, dtype=float)
        self._columns = {"t": np.arange(1, T + 1)}
        prod_logs, whh_logs, cell_vals = [0.0 * x], [], []
        for kind, run in runs.items():
            d = run.diagnostics
            name = layer_prefix(run)  # the CSV's name of the kind (and layer)
            color = theme.model_color(kind)
            solid = pg.mkPen(color, width=1)
            dashed = pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine)
            # the engine's exact logs (beyond float64 too); nothing clamped
            y_prod = log_series(run, d.log10_jac_prod)
            y_step = log_forward_series(run, d.log10_jac_step)
            y_whh = log_series(run, d.log10_whh)
            self._add(0, lambda p=solid, r=run: pg.PlotDataItem(
                pen=p, name=r.label + layer_suffix(r)), x, y_prod, True)
            self._add(0, lambda p=dashed: pg.PlotDataItem(pen=p), x, y_step, False)
            self._add(2, lambda p=solid: pg.PlotDataItem(pen=p), x, y_whh, True)
            prod_logs += [y_prod, y_step]
            whh_logs.append(y_whh)
            self._columns[f"{name} ||dh_T/dh_t||_2"] = np.asarray(d.jac_prod_norm, dtype=float)
            self._columns[f"{name} ||dh_t/dh_t-1||_2"] = np.asarray(d.jac_step_norm, dtype=float)
            self._columns[f"{name} ||dL/dW_hh term t||"] = np.asarray(d.whh_contrib, dtype=float)
            self._columns[f"{name} log10 ||dh_T/dh_t||_2"] = np.asarray(
                d.log10_jac_prod, dtype=float)
            self._columns[f"{name} log10 ||dh_t/dh_t-1||_2"] = np.asarray(
                d.log10_jac_step, dtype=float)
            self._columns[f"{name} log10 ||dL/dW_hh term t||"] = np.asarray(
                d.log10_whh, dtype=float)
            if d.cell_direct is not None and d.cell_indirect is not None:
                direct = clip_forward(run, d.cell_direct)
                indirect = clip_forward(run, d.cell_indirect)
                self._add(1, lambda p=solid: pg.PlotDataItem(pen=p), x, direct, False)
                self._add(1, lambda p=dashed: pg.PlotDataItem(pen=p), x, indirect, False)
                cell_vals += [direct, indirect]
                self._columns[f"{name} cell path direct ||diag(f_t)||"] = np.asarray(
                    d.cell_direct, dtype=float)
                self._columns[f"{name} cell path indirect norm"] = np.asarray(
                    d.cell_indirect, dtype=float)
        with_path = [cells.get(k).label for k in cells.kinds() if cells.get(k).cell_path]
        self.cell_note.setText("" if cell_vals else
                               f"no cell path c_t−1 → c_t shown: only {', '.join(with_path)} "
                               "has one")
        # no model with a cell path: the two other plots take its room (as in an export)
        self.w_cell.setVisible(bool(cell_vals))
        no_whh = [run.label for run in runs.values() if run.diagnostics.whh_note]
        self.whh_note.setText(f"no ∂L/∂W_hh for {', '.join(no_whh)}: no recurrent matrix"
                              if no_whh else "")
        self.whh_note.setToolTip("\n".join(run.diagnostics.whh_note for run in runs.values()
                                            if run.diagnostics.whh_note))
        # reference line at 1 (10⁰) in the product plot
        ref_pen = pg.mkPen(theme.muted, width=1, style=Qt.PenStyle.DotLine)
        self.pooled(self.plots[0], lambda: pg.InfiniteLine(
            pos=0.0, angle=0, movable=False, pen=ref_pen), ignore_bounds=True)
        for plot, logs in ((0, prod_logs), (2, whh_logs)):
            lo, hi = y_range(*logs)
            floor_to(logs, lo)
            self.plots[plot].setYRange(lo, hi, padding=0)
        hi = max((float(np.nanmax(v)) for v in cell_vals if np.isfinite(v).any()), default=1.0)
        self.plots[1].setYRange(0.0, max(hi, 1.0) * 1.05, padding=0)
        self.plots[2].setXRange(1, T, padding=0.01)
        self.cursors = []
        for p in self.plots:
            line = self.pooled(p, lambda: pg.InfiniteLine(
                angle=90, movable=False, pen=pg.mkPen(theme.highlight)), ignore_bounds=True)
            self.cursors.append(line)
        fit_legend(self.plots[0], self.legend)

    def _add(self, plot: int, make, x: np.ndarray, y: np.ndarray, backward: bool) -> None:
        """A curve made by `make()` (or reused, see `Panel.pooled`) on plot number `plot`."""
        item = self.pooled(self.plots[plot], make)
        self.curves.append(_Curve(item, x, y, backward))

    # -- cursor moved ---------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        for c in self.curves:
            c.show(frame)
        for line in self.cursors:
            line.setPos(frame.t)
        html = overflow_html(self.runs.values(), frame)
        for note in self.overflow_notes:
            set_html(note, html)

    def data_columns(self) -> dict[str, np.ndarray]:
        return dict(self._columns)
