"""Forget-gate panel: each kind's keep factor (engine.cells Keep: f_t of the LSTM, z_t of
the GRU, 1 - z_t of minGRU, |lambda| of the LRU ...) as a units x time heatmap; kinds without
one say why (their keep_note).

Also holds `GateHeatmap`, the revealed units x time heatmap the gates panel reuses.
A heatmap keeps the gate of batch element 0 as a (H, T) array and a preallocated display
buffer of the same shape; moving the cursor copies or NaN-fills only the columns that
changed, so no frame allocates. NaN renders transparent (hidden or overflowed steps).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from lstmviz.engine import cells
from lstmviz.session import Frame, Run
from lstmviz.ui.panels.base import (  # noqa: F401 (the kit's helpers, once defined here)
    AXIS_WIDTH,
    HEATMAP_CURSOR,
    GateHeatmap,
    HoverImage,
    Panel,
    cache_axes,
    finite_prefix,
    gate_image,
    label,
    layer_prefix,
    make_colorbar,
    make_note,
    style_plot,
    unit_axis_label,
    wide_title,
)
from lstmviz.ui.theme import Theme


def keep_of(kind: str) -> tuple[str, str, str] | None:
    """What this panel shows for `kind`: (gate key, symbol, plot title), None without a
    keep factor. The symbol names the CSV columns ("lstm mean f_t", "gru mean z_t")."""
    spec = cells.get(kind)
    keep = spec.keep
    if keep is None:
        return None
    gate = {g.name: g for g in spec.gates}[keep.gate]
    symbol = f"1-{gate.field}" if keep.complement else gate.field
    what = f"1 − {gate.label}" if keep.complement else gate.label
    return keep.gate, symbol, f"{spec.label} · keep: {what}<sub>t</sub>"


def keep_values(run: Run) -> np.ndarray:
    """The keep factor of a run (T, B, H): the gate, or 1 - gate for a complement."""
    spec = cells.get(run.kind)
    gate = run.trace.gates[spec.keep.gate]
    return 1.0 - gate if spec.keep.complement else gate


def no_keep_note(kinds: list[str]) -> str:
    """Why these kinds have no keep factor to show (each kind's keep_note)."""
    return "; ".join(f"{label(k)}: {cells.get(k).keep_note}" for k in kinds)




class ForgetPanel(Panel):
    """Each kind's keep factor per unit over time, and its mean over units."""

    name = "forget"
    title = "Forget gate"
    per_layer = True
    tooltip = (
        "What each model keeps of its old state, per hidden unit over time, 0 = forget, "
        "1 = keep: the LSTM forget gate f_t, the GRU update gate z_t (PyTorch's convention: "
        "h_t = (1 − z)·n + z·h_{t−1}), minGRU's 1 − z_t (its z is the opposite), minLSTM's "
        "normalised f', the LRU's |λ|, the sLSTM's stabilised f'. Units whose keep stays near "
        "1 carry memory and gradient across many steps; the line below is the mean over units."
    )

    def build(self) -> None:
        self.note = make_note(self.theme)
        self.layout_.addWidget(self.note)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(self.theme.background)
        self.view.ci.setContentsMargins(2, 2, 2, 2)
        self.view.ci.setSpacing(2)
        self.layout_.addWidget(self.view, 1)
        self.heatmaps: dict[str, GateHeatmap] = {}
        self.colorbar = make_colorbar(self.theme)
        self.mean = pg.PlotItem(enableMenu=False)
        self.mean.hideButtons()
        self.mean.setLabel("bottom", "timestep t")
        self.mean.setLabel("left", "mean")
        self.mean.setToolTip("Mean over units of the gate (batch element 0).")
        self.mean.getAxis("left").setWidth(AXIS_WIDTH)
        self.mean.showGrid(x=True, y=True, alpha=self.theme.grid_alpha)
        self.mean.getViewBox().setMouseEnabled(x=True, y=False)
        self.mean.setMaximumHeight(130)
        wide_title(self.mean)  # (its title is its legend: never wider than the dock)
        self.mean.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        cache_axes(self.mean)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._mean_shown: dict[str, int] = {}  # steps of each mean curve on screen
        self.mean_cursor = pg.InfiniteLine(angle=90, movable=False)
        self.mean.addItem(self.mean_cursor)
        self.kinds: tuple[str, ...] = ()
        self.means: dict[str, np.ndarray] = {}
        self.prefixes: dict[str, str] = {}  # kind -> its CSV name ("lstm layer 1")
        self._style()

    # -- runs -----------------------------------------------------------------------
    def _ensure(self, kind: str) -> None:
        """The heatmap and mean curve of `kind`, made when first needed."""
        if kind not in self.heatmaps:
            self.heatmaps[kind] = GateHeatmap(self.theme)
            self.curves[kind] = pg.PlotDataItem()
            self.curves[kind].setPen(self.theme.pen(kind))

    def rebuild(self, runs: dict[str, Run]) -> None:
        kinds = tuple(k for k in runs if keep_of(k) is not None)
        for kind in kinds:
            self._ensure(kind)
        if kinds != self.kinds:
            self._relayout(kinds)
        others = [k for k in runs if keep_of(k) is None]
        if others:
            self.note.setText(no_keep_note(others))
        self.note.setWordWrap(True)
        self.note.setVisible(bool(others))
        self.view.setVisible(bool(kinds))
        T = max((r.trace.h.shape[0] for r in runs.values()), default=1)
        self.t_axis = np.arange(1, T + 1, dtype=float)
        self.means = {}
        self.prefixes = {kind: layer_prefix(runs[kind]) for kind in kinds}
        for kind in kinds:
            key, symbol, title = keep_of(kind)
            gate = keep_values(runs[kind])
            self.heatmaps[kind].set_data(gate, title, symbol)
            self.heatmaps[kind].plot.setLabel("left", unit_axis_label(runs[kind]))
            with np.errstate(all="ignore"):
                self.means[kind] = finite_prefix(np.mean(gate[:, 0, :], axis=1))
            self.curves[kind].setData([], [])
            self._mean_shown[kind] = 0
        vb = self.mean.getViewBox()
        vb.disableAutoRange()
        vb.setLimits(xMin=0.5, xMax=T + 0.5)
        vb.setRange(xRange=(0.5, T + 0.5), yRange=(-0.1, 1.1), padding=0)

    def _relayout(self, kinds: tuple[str, ...]) -> None:
        """Put the heatmaps of `kinds` in rows, the colour bar beside, the mean plot below."""
        ci = self.view.ci
        ci.clear()
        for curve in self.curves.values():
            if curve.getViewBox() is not None:
                self.mean.removeItem(curve)
        for row, kind in enumerate(kinds):
            hm = self.heatmaps[kind]
            ci.addItem(hm.plot, row=row, col=0)
            hm.plot.setXLink(self.mean)
            hm.plot.getAxis("bottom").setStyle(showValues=False)
            ci.layout.setRowStretchFactor(row, 3)
        if kinds:
            ci.addItem(self.colorbar, row=0, col=1, rowspan=len(kinds))
            self.colorbar.setImageItem([self.heatmaps[k].image for k in kinds])
            ci.addItem(self.mean, row=len(kinds), col=0)
            ci.layout.setRowStretchFactor(len(kinds), 1)
        for kind in kinds:
            self.mean.addItem(self.curves[kind])
        self.kinds = kinds
        self._legend()

    def _legend(self) -> None:
        """The mean plot's title doubles as its legend: one coloured entry per model."""
        entries = [
            f"<span style='color:{self.theme.model_color(k).name()}'>"
            f"━ {label(k)} {keep_of(k)[1]}</span>"
            for k in self.kinds
        ]
        self.mean.setTitle("mean &nbsp; " + " &nbsp; ".join(entries), size="8pt",
                           color=self.theme.foreground)

    # -- frames ---------------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        k = frame.fwd_t
        for kind in self.kinds:
            self.heatmaps[kind].show(k, frame.t)
            if self._mean_shown.get(kind) != k:  # unchanged during the backward pass
                self._mean_shown[kind] = k
                self.curves[kind].setData(self.t_axis[:k], self.means[kind][:k])
        self.mean_cursor.setValue(frame.t)

    # -- export and theme -----------------------------------------------------------
    def plot_items(self) -> list[pg.PlotItem]:
        items = [self.heatmaps[k].plot for k in self.kinds]
        return [*items, self.mean] if self.kinds else []

    def data_columns(self) -> dict[str, np.ndarray]:
        if not self.kinds:
            return {}
        cols: dict[str, np.ndarray] = {"t": self.t_axis.copy()}
        for kind in self.kinds:
            cols[f"{self.prefixes[kind]} mean {keep_of(kind)[1]}_t"] = self.means[kind].copy()
        for kind in self.kinds:
            symbol = keep_of(kind)[1]
            for u, row in enumerate(self.heatmaps[kind].full):
                cols[f"{self.prefixes[kind]} {symbol}_t[unit {u}]"] = row.copy()
        return cols

    def _style(self) -> None:
        theme = self.theme
        self.view.setBackground(theme.background)
        self.note.setStyleSheet(f"color: {theme.muted}; padding: 2px;")
        for hm in self.heatmaps.values():
            hm.set_theme(theme)
        style_plot(self.colorbar, theme)
        self.colorbar.setColorMap(theme.colormap)
        style_plot(self.mean, theme)
        self.mean.showGrid(x=True, y=True, alpha=theme.grid_alpha)
        self.mean_cursor.setPen(pg.mkPen(HEATMAP_CURSOR, width=1))
        for kind, curve in self.curves.items():
            curve.setPen(theme.pen(kind))
        self._legend()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._style()
        self._on_runs()
        self._on_frame()
