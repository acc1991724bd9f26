"""Gates panel: the LSTM's input and output gates, the GRU's reset and update gates, as
units x time heatmaps revealed with the forward pass (one row per model, one shared
0..1 colour bar)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from lstmviz.session import Frame, Run
from lstmviz.ui.panels.base import (
    MODEL_NAMES,
    GateHeatmap,
    Panel,
    make_colorbar,
    make_note,
    style_plot,
)
from lstmviz.ui.theme import Theme

#: Per kind, the gates shown side by side: (gate key, symbol, title).
GATES = {
    "lstm": (
        ("input", "i", "LSTM · input i<sub>t</sub>"),
        ("output", "o", "LSTM · output o<sub>t</sub>"),
    ),
    "gru": (
        ("reset", "r", "GRU · reset r<sub>t</sub>"),
        ("update", "z", "GRU · update z<sub>t</sub>"),
    ),
}


#: Below this panel width (pixels) the gates are stacked in one column.
NARROW = 440


class GatesPanel(Panel):
    """Input/output (LSTM) and reset/update (GRU) gates per unit over time."""

    name = "gates"
    title = "Gates"
    tooltip = (
        "The LSTM input and output gates and the GRU reset and update gates of every hidden "
        "unit over time (0 = closed, 1 = open). Gates that saturate at 0 or 1 stop passing "
        "gradient through their own sigmoid; look for units that stay open or shut."
    )

    def build(self) -> None:
        self.note = make_note(self.theme)
        self.layout_.addWidget(self.note)
        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.setContentsMargins(2, 2, 2, 2)
        self.view.ci.setSpacing(2)
        self.layout_.addWidget(self.view, 1)
        self.heatmaps = {
            (kind, key): GateHeatmap(self.theme) for kind, gates in GATES.items()
            for key, _s, _title in gates
        }
        self.colorbar = make_colorbar(self.theme)
        self.kinds: tuple[str, ...] = ()
        self.n_columns = 2
        self.T = 1
        self._style()

    # -- runs -----------------------------------------------------------------------
    def rebuild(self, runs: dict[str, Run]) -> None:
        kinds = tuple(k for k in runs if k in GATES)
        if kinds != self.kinds:
            self._relayout(kinds)
        others = [MODEL_NAMES[k] for k in runs if k not in GATES]
        if others:
            self.note.setText(f"{' and '.join(others)}: a vanilla RNN has no gates")
        self.note.setVisible(bool(others))
        self.view.setVisible(bool(kinds))
        self.T = max((r.trace.h.shape[0] for r in runs.values()), default=1)
        for kind in kinds:
            for key, symbol, title in GATES[kind]:
                self.heatmaps[kind, key].set_data(runs[kind].trace.gates[key], title, symbol)

    def _relayout(self, kinds: tuple[str, ...]) -> None:
        """One row per model with its two gates side by side (one gate per row when the
        panel is narrow), the colour bar at the right."""
        ci = self.view.ci
        ci.clear()
        cols = self._columns()
        cells = [(kind, key) for kind in kinds for key, _s, _t in GATES[kind]]
        rows = (len(cells) + cols - 1) // cols
        first = None
        for n, (kind, key) in enumerate(cells):
            row, col = divmod(n, cols)
            last_row = row == rows - 1
            plot = self.heatmaps[kind, key].plot
            ci.addItem(plot, row=row, col=col)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            plot.getAxis("left").setWidth(42 if col == 0 else 24)
            plot.getAxis("left").showLabel(col == 0)
            bottom = plot.getAxis("bottom")
            bottom.setStyle(showValues=last_row)
            if last_row:
                plot.setLabel("bottom", "timestep t")
            else:
                bottom.showLabel(False)
        if kinds:
            ci.addItem(self.colorbar, row=0, col=cols, rowspan=rows)
            self.colorbar.setImageItem([self.heatmaps[c].image for c in cells])
        self.kinds = kinds
        self.n_columns = cols

    def _columns(self) -> int:
        return 2 if self.width() >= NARROW else 1

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        if self.kinds and self._columns() != self.n_columns:
            self._relayout(self.kinds)

    # -- frames ---------------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        for kind in self.kinds:
            for key, _symbol, _title in GATES[kind]:
                self.heatmaps[kind, key].show(frame.fwd_t, frame.t)

    # -- export and theme -----------------------------------------------------------
    def _shown(self):
        for kind in self.kinds:
            for key, symbol, _title in GATES[kind]:
                yield kind, symbol, self.heatmaps[kind, key]

    def plot_items(self) -> list[pg.PlotItem]:
        return [hm.plot for _k, _s, hm in self._shown()]

    def data_columns(self) -> dict[str, np.ndarray]:
        if not self.kinds:
            return {}
        cols: dict[str, np.ndarray] = {"t": np.arange(1, self.T + 1, dtype=float)}
        for kind, symbol, hm in self._shown():
            for u, row in enumerate(hm.full):
                cols[f"{kind} {symbol}_t[unit {u}]"] = row.copy()
        return cols

    def _style(self) -> None:
        theme = self.theme
        self.view.setBackground(theme.background)
        self.note.setStyleSheet(f"color: {theme.muted}; padding: 2px;")
        for hm in self.heatmaps.values():
            hm.set_theme(theme)
        style_plot(self.colorbar, theme)
        self.colorbar.setColorMap(theme.colormap)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._style()
        self._on_runs()
        self._on_frame()
