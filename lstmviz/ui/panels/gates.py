"""Gates panel: every kind's gates in [0, 1] (engine.cells Gate roles write, read, reset,
gate, keep): the LSTM's input, forget and output gates, the GRU's reset and update gates,
minGRU's z and 1 - z, minLSTM's f, i, f' and i', the sLSTM's i', f' and o ..., as units x
time heatmaps revealed with the forward pass (one row per model, one shared 0..1
colour bar). Kinds without such gates are named in a note."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from lstmviz.engine import cells
from lstmviz.session import Frame, Run
from lstmviz.ui.panels.base import (
    GateHeatmap,
    Panel,
    label,
    layer_prefix,
    make_colorbar,
    make_note,
    style_plot,
    unit_axis_label,
)
from lstmviz.ui.theme import Theme

#: The gate roles this panel shows (values in [0, 1]; not pre-activations, candidates,
#: slopes or the LRU's constant decay).
ROLES = ("write", "keep", "read", "reset", "gate")


def gates_of(kind: str) -> tuple[tuple[str, str, str], ...]:
    """The gates shown for `kind`, side by side: (gate key, symbol, title)."""
    spec = cells.get(kind)
    return tuple((g.name, g.field, f"{spec.label} · {g.label}<sub>t</sub>")
                 for g in spec.gates if g.role in ROLES)


#: Below this panel width (pixels) the gates are stacked in one column.
NARROW = 440
#: Most gates side by side in one row (minLSTM has four).
MAX_COLUMNS = 4


class GatesPanel(Panel):
    """Each kind's gates (other than its keep factor) per unit over time."""

    name = "gates"
    title = "Gates"
    per_layer = True
    tooltip = (
        "The gates of every hidden unit over time (0 = closed, 1 = open): the LSTM input, "
        "forget and output gates, the GRU reset and update gates, minGRU's z and 1 − z, "
        "minLSTM's f, i and normalised f', i', the sLSTM's stabilised i', f' and o. Gates that "
        "saturate at 0 or 1 stop passing "
        "gradient through their own sigmoid; look for units that stay open or shut."
    )

    def build(self) -> None:
        self.note = make_note(self.theme)
        self.layout_.addWidget(self.note)
        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.setContentsMargins(2, 2, 2, 2)
        self.view.ci.setSpacing(2)
        self.layout_.addWidget(self.view, 1)
        self.heatmaps: dict[tuple[str, str], GateHeatmap] = {}
        self.colorbar = make_colorbar(self.theme)
        self.kinds: tuple[str, ...] = ()
        self.n_columns = 2
        self.T = 1
        self.prefixes: dict[str, str] = {}  # kind -> its CSV name ("lstm layer 1")
        self._style()

    # -- runs -----------------------------------------------------------------------
    def rebuild(self, runs: dict[str, Run]) -> None:
        kinds = tuple(k for k in runs if gates_of(k))
        for kind in kinds:
            for key, _s, _t in gates_of(kind):
                if (kind, key) not in self.heatmaps:
                    self.heatmaps[kind, key] = GateHeatmap(self.theme)
        if kinds != self.kinds:
            self._relayout(kinds)
        others = [label(k) for k in runs if not gates_of(k)]
        if others:
            self.note.setText(f"{', '.join(others)}: no gates in [0, 1] to show (what each "
                              "keeps is in the forget panel, or its note)")
        self.note.setWordWrap(True)
        self.note.setVisible(bool(others))
        self.view.setVisible(bool(kinds))
        self.T = max((r.trace.h.shape[0] for r in runs.values()), default=1)
        self.prefixes = {kind: layer_prefix(runs[kind]) for kind in kinds}
        for kind in kinds:
            for key, symbol, title in gates_of(kind):
                hm = self.heatmaps[kind, key]
                hm.set_data(runs[kind].trace.gates[key], title, symbol)
                hm.plot.setLabel("left", unit_axis_label(runs[kind]))

    def _relayout(self, kinds: tuple[str, ...]) -> None:
        """One row per model with its gates side by side (one gate per row when the panel
        is narrow), the colour bar at the right."""
        ci = self.view.ci
        ci.clear()
        cols = self._columns(kinds)
        items = [(kind, key) for kind in kinds for key, _s, _t in gates_of(kind)]
        places, row = [], 0
        for kind in kinds:  # each model starts a row; its gates wrap after `cols`
            n = len(gates_of(kind))
            places += [(row + j // cols, j % cols) for j in range(n)]
            row += (n + cols - 1) // cols
        rows = row
        first = None
        for (kind, key), (row, col) in zip(items, places, strict=True):
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
            self.colorbar.setImageItem([self.heatmaps[c].image for c in items])
        self.kinds = kinds
        self.n_columns = cols

    def _columns(self, kinds: tuple[str, ...] | None = None) -> int:
        """Gates per row: one model's gates side by side (at most MAX_COLUMNS), one per row
        when the panel is narrow."""
        kinds = self.kinds if kinds is None else kinds
        widest = max((len(gates_of(k)) for k in kinds), default=1)
        return min(widest, MAX_COLUMNS) if self.width() >= NARROW else 1

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        if self.kinds and self._columns() != self.n_columns:
            self._relayout(self.kinds)

    # -- frames ---------------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        for kind in self.kinds:
            for key, _symbol, _title in gates_of(kind):
                self.heatmaps[kind, key].show(frame.fwd_t, frame.t)

    # -- export and theme -----------------------------------------------------------
    def _shown(self):
        for kind in self.kinds:
            for key, symbol, _title in gates_of(kind):
                yield kind, symbol, self.heatmaps[kind, key]

    def plot_items(self) -> list[pg.PlotItem]:
        return [hm.plot for _k, _s, hm in self._shown()]

    def data_columns(self) -> dict[str, np.ndarray]:
        if not self.kinds:
            return {}
        cols: dict[str, np.ndarray] = {"t": np.arange(1, self.T + 1, dtype=float)}
        for kind, symbol, hm in self._shown():
            for u, row in enumerate(hm.full):
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

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._style()
        self._on_runs()
        self._on_frame()
