"""Cell inspector: the inside of one cell (model kind, step t) as bar charts over units.

Each kind's gates (engine.cells Gate) and its state path (CellKind.state_path: the LSTM's
c_{t-1} -> f ⊙ c_{t-1} + i ⊙ g = c_t, the GRU's h_{t-1} -> z ⊙ h_{t-1} + (1 - z) ⊙ n = h_t,
the RNN's h_{t-1} -> h_t ...); for kinds with eigenvalues (the LRU) the λ on the unit
circle. Below, dL/dh_t once the backward pass has reached t. The cell is the adapter's
selection, or the cursor's step while "follow cursor" is on (the default; a click on a
cell turns it off); for a stacked model, at the viewed layer (the Settings dock's one
"Show layer", `SessionAdapter.layer`, as the other one-layer panels).
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QWidget,
)

from lstmviz.engine import cells
from lstmviz.numfmt import format_magnitude, format_number
from lstmviz.session import Frame, Run
from lstmviz.ui.panels.base import (
    SUPERSCRIPT,
    Panel,
    cache_axes,
    layer_prefix,
    layer_suffix,
    scale_title,
    style_plot,
    wide_title,
)
from lstmviz.ui.theme import Theme

#: The fixed y range of a gate bar per role (None: the run's range; Gate.bounds wins).
ROLE_RANGE = {"write": (0.0, 1.0), "keep": (0.0, 1.0), "read": (0.0, 1.0),
              "reset": (0.0, 1.0), "gate": (0.0, 1.0), "decay": (0.0, 1.0),
              "slope": (0.0, 1.05)}


def gate_bars(kind: str) -> tuple[tuple[str, str, tuple[float, float] | None], ...]:
    """The gate bars of a kind (engine.cells gates): (gate key, title, fixed y range)."""
    out = []
    for g in cells.get(kind).gates:
        title = "φ′(pre): gradient gain" if g.role == "slope" else f"{g.label}<sub>t</sub>"
        out.append((g.name, title, g.bounds or ROLE_RANGE.get(g.role)))
    return tuple(out)


def formula(kind: str) -> str:
    """The kind's equations for people (HTML; the summary where it has none)."""
    spec = cells.get(kind)
    return spec.equations or html.escape(spec.summary)


#: Units in view of the grouped path plot; more would make its bars too thin to read.
PATH_UNITS = 16


def fmt(value: float) -> str:
    """A float as people read it (numfmt.format_number: 3.2 × 10⁻⁵, 0.0123)."""
    return format_number(value)


def finite_range(*arrays: np.ndarray | None, symmetric: bool = True) -> tuple[float, float]:
    """A y range covering the finite values of `arrays` (symmetric about 0), at least ±1e-12."""
    peak = 0.0
    for a in arrays:
        if a is None:
            continue
        with np.errstate(all="ignore"):
            finite = np.abs(a[np.isfinite(a)])
        if finite.size:
            peak = max(peak, float(finite.max()))
    # an axis range, not a figure: pyqtgraph cannot span beyond ~1e308 (1.05 * 1e308 is
    # inf and raised "Cannot set range [-inf, inf]"); taller bars are clipped (bar_values)
    peak = min(max(peak * 1.05, 1e-12), 1e300)
    return (-peak, peak) if symmetric else (0.0, peak)


def bar_values(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Heights safe to draw: NaN -> 0, +-inf and huge values clipped to the plot range."""
    return np.clip(np.nan_to_num(values, nan=0.0, posinf=hi, neginf=lo), lo, hi)


def symmetric_ticks(peak: float) -> list[list[tuple[float, str]]]:
    """Major ticks 0 and +-p for the largest 1-2-5 value p <= peak, labelled '2·10⁻⁵'."""
    if not (math.isfinite(peak) and peak > 0):
        return [[(0.0, "0")]]
    exp = math.floor(math.log10(peak))
    m = max(m for m in (1, 2, 5) if m * 10.0**exp <= peak * (1 + 1e-12))
    if -3 <= exp <= 3:
        label = f"{m * 10.0**exp:g}"
    else:
        label = ("" if m == 1 else f"{m}·") + "10" + str(exp).translate(SUPERSCRIPT)
    p = m * 10.0**exp
    return [[(-p, "−" + label), (0.0, "0"), (p, label)]]


class QuietLabel(QWidget):
    """A rich-text label whose new text does not relayout the window.

    QLabel.setText asks its parent layout to recompute, which climbs through the dock to
    the main window on every frame. This box places its label by hand and asks for more
    height only when a text needs more lines than any before (or after a resize).
    """

    def __init__(self, word_wrap: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(word_wrap)
        self._height = 0
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self.label.text()

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name)
        if text != self.label.text():
            self.label.setText(text)
            self._fit()

    def setStyleSheet(self, sheet: str) -> None:  # noqa: N802
        self.label.setStyleSheet(sheet)
        self.label.ensurePolished()
        self._height = 0
        self._fit()

    def _fit(self) -> None:
        if self._height and not self.label.wordWrap():
            return  # one line: its height depends on the font only (reset by setStyleSheet)
        h = self.label.heightForWidth(max(self.width(), 1)) if self.label.wordWrap() else -1
        if h < 0:
            h = self.label.sizeHint().height()
        if h > self._height:
            self._height = h
            self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, self._height)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, self._height)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.label.setGeometry(self.rect())
        if event.oldSize().width() != event.size().width():
            self._height = 0  # a new width may need fewer or more lines
            self._fit()


class BarPlot:
    """A PlotItem with `n` bar series over units (grouped side by side), created once."""

    def __init__(self, title: str, n: int = 1, x_label: str = "") -> None:
        self.plot = pg.PlotItem(enableMenu=False)
        self.plot.hideButtons()
        self.plot.getViewBox().setMouseEnabled(x=True, y=False)
        # (no fixed width: the axis widens to its tick labels, "−2·10⁵" or at presenter size)
        wide_title(self.plot)  # (a long title never widens the column past the dock)
        cache_axes(self.plot)
        self.x_label = x_label
        if x_label:
            self.plot.setLabel("bottom", x_label)
        self.title = title
        self.width = 0.8 / n
        self.offsets = [(j - (n - 1) / 2) * self.width for j in range(n)]
        self.bars = [pg.BarGraphItem(x=[0.0], height=[0.0], width=self.width, pen=None)
                     for _ in range(n)]
        for bar in self.bars:
            self.plot.addItem(bar)
        self.zero = pg.InfiniteLine(pos=0.0, angle=0, movable=False)
        self.plot.addItem(self.zero)
        self.range = (0.0, 1.0)
        self._shown_title: tuple | None = None
        self._shown_ticks: object = None

    def set_title(self, title: str, theme: Theme) -> None:
        """setTitle only on a change (a new title text relays the plot out)."""
        key = (title, theme.foreground)
        if key != self._shown_title:
            self._shown_title = key
            self.plot.setTitle(title, size="8pt", color=theme.foreground)
            scale_title(self.plot, getattr(self.plot, "_presenter_scale", 1.0))

    def set_ticks(self, ticks: list | None) -> None:
        """Left-axis ticks (None: automatic), only on a change (the axis redraws)."""
        if ticks != self._shown_ticks:
            self._shown_ticks = ticks
            self.plot.getAxis("left").setTicks(ticks)

    def set_units(self, H: int, y_range: tuple[float, float], show: int | None = None) -> None:
        """H units on x (the first `show` of them in view; drag to pan), a fixed y range;
        bars start empty."""
        self.range = y_range
        units = np.arange(H, dtype=float)
        for bar, off in zip(self.bars, self.offsets, strict=True):
            bar.setOpts(x=units + off, height=np.zeros(H), width=self.width)
        vb = self.plot.getViewBox()
        vb.disableAutoRange()
        vb.setLimits(xMin=-0.6, xMax=H - 0.4)
        n = H if show is None else min(H, show)
        vb.setRange(xRange=(-0.6, n - 0.4), yRange=y_range, padding=0.02)
        if self.x_label:
            more = f" (first {n} of {H}; drag to pan)" if n < H else ""
            self.plot.setLabel("bottom", self.x_label + more)

    def set_heights(self, *series: np.ndarray | None) -> None:
        """One array per series; None hides the bars (not computed yet)."""
        lo, hi = self.range
        for bar, values in zip(self.bars, series, strict=True):
            if values is None:
                bar.setVisible(False)
            else:
                bar.setOpts(height=bar_values(values, lo, hi))
                bar.setVisible(True)

    def set_range(self, y_range: tuple[float, float]) -> None:
        self.range = y_range
        self.plot.getViewBox().setRange(yRange=y_range, padding=0.02)

    def style(self, theme: Theme, brushes: list[str], title: str | None = None) -> None:
        style_plot(self.plot, theme)
        self.zero.setPen(pg.mkPen(theme.muted, width=1))
        for bar, colour in zip(self.bars, brushes, strict=True):
            bar.setOpts(brush=pg.mkBrush(colour), pen=None)
        self.set_title(title or self.title, theme)


class InspectorPanel(Panel):
    """The selected cell's gates and state path per unit, live as the cursor moves."""

    name = "inspector"
    title = "Cell inspector"
    per_layer = True  # the layer of a stacked model: the Settings dock's "Show layer"
    tooltip = (
        "Inside one cell: its gates and how the state is updated, one bar per hidden unit, "
        "and dL/dh_t once the backward pass reaches it. Click a cell in the unrolled network "
        "to inspect it; watch the forget gate f ⊙ c_{t−1} carry the cell state across steps."
    )

    def build(self) -> None:
        top = QHBoxLayout()
        top.setContentsMargins(2, 0, 2, 0)
        self.model_box = QComboBox()
        self.model_box.setToolTip("Which model's cell to inspect.")
        self.model_box.activated.connect(self._on_model_chosen)
        top.addWidget(self.model_box)
        self.follow = QCheckBox("follow cursor")
        self.follow.setToolTip("Inspect the cell at the cursor's step as it moves; a click "
                               "on a cell in the unrolled network pins that cell.")
        self.follow.setChecked(True)
        self.follow.toggled.connect(self._refresh)
        top.addWidget(self.follow)
        top.addStretch(1)
        self.layout_.addLayout(top)
        self.header = QuietLabel()  # new text every frame: see QuietLabel
        self.layout_.addWidget(self.header)
        self.formula = QLabel()
        self.formula.setTextFormat(Qt.TextFormat.RichText)
        self.formula.setWordWrap(True)
        self.layout_.addWidget(self.formula)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.layout_.addWidget(self.status)
        self.stack = QStackedWidget()
        self.layout_.addWidget(self.stack, 1)
        self.grad_label = QuietLabel(word_wrap=True)
        self.layout_.addWidget(self.grad_label)

        self.pages: dict[str, pg.GraphicsLayoutWidget] = {}
        self.gate_plots: dict[str, list[BarPlot]] = {}
        self.path_plots: dict[str, BarPlot] = {}
        self.grad_plots: dict[str, BarPlot] = {}
        self.eig_plots: dict[str, tuple[pg.PlotItem, pg.ScatterPlotItem, pg.PlotDataItem]] = {}
        self.path_titles: dict[str, tuple[str, tuple[str, ...]]] = {}
        adapter = self.adapter
        adapter.selectionChanged.connect(self._on_selection)
        self.kind = ""
        self._key: tuple | None = None
        self._selecting = False
        self._values: dict[str, np.ndarray] = {}
        self._style()

    def _page(self, kind: str, run: Run) -> None:
        """The page of `kind` (gates, state path, gradient; eigenvalues), made when first
        needed."""
        if kind in self.pages:
            return
        page = pg.GraphicsLayoutWidget()
        page.ci.setContentsMargins(2, 2, 2, 2)
        page.ci.setSpacing(2)
        gates = [BarPlot(title) for _key, title, _r in gate_bars(kind)]
        spec = cells.get(kind)
        cells_ = [bp.plot for bp in gates]
        if spec.eigenvalues is not None:
            eig = pg.PlotItem(enableMenu=False)
            eig.hideButtons()
            eig.setAspectLocked(True)
            eig.setTitle("λ on the unit circle", size="8pt")
            theta = np.linspace(0.0, 2 * np.pi, 181)
            circle = pg.PlotDataItem(np.cos(theta), np.sin(theta))
            dots = pg.ScatterPlotItem(size=6)
            eig.addItem(circle)
            eig.addItem(dots)
            eig.setRange(xRange=(-1.1, 1.1), yRange=(-1.1, 1.1), padding=0)
            eig.setToolTip("The LRU's per-unit factors λ = exp(−e^ν + i e^θ): |λ| < 1 inside "
                           "the circle; |λ|^(T−t) is how much of step t's gradient survives.")
            self.eig_plots[kind] = (eig, dots, circle)
            cells_.append(eig)
        for j, item in enumerate(cells_):
            span = 2 if (j == len(cells_) - 1 and len(cells_) % 2) else 1
            page.ci.addItem(item, row=j // 2, col=j % 2, colspan=span)
        row = (len(cells_) + 1) // 2
        cache = run.trace.cache(0)
        title, entries = spec.state_path(run.model.params, run.model.o, cache,
                                         run.trace.state(1))
        self.path_titles[kind] = (title, tuple(label for _n, label, _v in entries))
        path = BarPlot(title, n=len(entries), x_label="unit")
        page.ci.addItem(path.plot, row=row, col=0, colspan=2)
        grad = BarPlot("dL/dh<sub>t</sub> per unit", x_label="unit")
        page.ci.addItem(grad.plot, row=row + 1, col=0, colspan=2)
        for r in range(row):
            page.ci.layout.setRowStretchFactor(r, 2)
        page.ci.layout.setRowStretchFactor(row, 3)
        page.ci.layout.setRowStretchFactor(row + 1, 2)
        self.stack.addWidget(page)
        self.pages[kind] = page
        self.gate_plots[kind] = gates
        self.path_plots[kind] = path
        self.grad_plots[kind] = grad
        self._style_kind(kind)

    # -- which cell -----------------------------------------------------------------
    def cell(self, frame: Frame | None = None) -> tuple[str, int]:
        """(kind, t) on show: the selection's kind (first model if it is gone) and its step,
        or the cursor's step while following."""
        frame = frame or self.adapter.frame
        runs = self.runs
        kind, t = self.adapter.selected
        if kind not in runs:
            kind = next(iter(runs))
        if self.follow.isChecked():
            t = frame.t
        return kind, min(max(int(t), 1), frame.seq_len)

    def _on_selection(self, kind: str, t: int) -> None:
        if not self._selecting:
            self.follow.blockSignals(True)
            self.follow.setChecked(False)
            self.follow.blockSignals(False)
        self._refresh()

    def _on_model_chosen(self, index: int) -> None:
        kind = self.model_box.itemData(index)
        if kind is None:
            return
        self._selecting = True
        try:
            self.adapter.select(kind, self.cell()[1])
        finally:
            self._selecting = False
        self._refresh()

    def _refresh(self, *_args) -> None:
        self._key = None
        self.show_frame(self.adapter.frame)

    # -- runs -----------------------------------------------------------------------
    def rebuild(self, runs: dict[str, Run]) -> None:
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for kind, run in runs.items():
            self.model_box.addItem(run.label, kind)
        self.model_box.blockSignals(False)
        # a page is made, and its bar ranges set, when its model is shown (show_frame, as
        # _key is None now): at launch only the selected model's page is made (each is a
        # grid of pyqtgraph plots, ~0.15 s to make)
        self._key = None

    def _set_units(self, kind: str, run: Run) -> None:
        """Bar ranges of `kind`'s page from `run` (a layer's view for a stacked model)."""
        tr = run.trace
        H = tr.h.shape[2]
        for bp, (key, _title, y_range) in zip(self.gate_plots[kind], gate_bars(kind),
                                              strict=True):
            bp.set_units(H, y_range or finite_range(tr.gates[key]))
        cell = run.model.has_cell
        path_range = finite_range(tr.c if cell else tr.h, np.ones(1) if cell else None)
        self.path_plots[kind].set_units(H, path_range, show=PATH_UNITS)
        self.grad_plots[kind].set_units(H, (-1.0, 1.0))
        if kind in self.eig_plots:
            lam = run.model.cell.eigenvalues(run.model.params)
            self.eig_plots[kind][1].setData(lam.real, lam.imag)

    # -- frames ---------------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        if not self.runs:
            return
        kind, t = self.cell(frame)
        computed = t <= frame.fwd_t
        grad_known = t >= frame.bwd_t
        run = self.runs[kind]  # at the viewed layer (SessionAdapter.layer)
        layer = run.layer_index
        key = (kind, t, computed, grad_known, frame.phase, layer)
        if key == self._key:
            return
        made = kind not in self.pages
        self._page(kind, run)
        if made or self._key is None or self._key[0] != kind or self._key[-1] != layer:
            self._set_units(kind, run)
        self._key = key
        if kind != self.kind:
            self.kind = kind
            self.stack.setCurrentWidget(self.pages[kind])
            self.formula.setText(formula(kind))
            if self.presenter_scale != 1.0:  # (this page's plots at presenter size too)
                self.set_presenter_scale(self.presenter_scale)
        i = self.model_box.findData(kind)
        if i != self.model_box.currentIndex():
            self.model_box.setCurrentIndex(i)
        where = layer_suffix(run)
        self.header.setText(f"<b>{run.label}</b>{where} · t = {t} · {frame.phase}")
        self._show_values(run, t, computed)
        self._show_grad(run, t, computed and grad_known, frame)

    def _show_values(self, run: Run, t: int, computed: bool) -> None:
        kind = run.kind
        gates, path = self.gate_plots[kind], self.path_plots[kind]
        overflow = run.trace.overflow_step
        if not computed:
            self._values = {}
            self.status.setText(f"not computed yet — step forward to t = {t}")
            self.status.setVisible(True)
            for bp in gates:
                bp.set_heights(None)
            path.set_heights(*([None] * len(path.bars)))
            return
        if overflow is not None and t - 1 >= overflow:
            self.status.setText(f"overflow at t = {overflow + 1}: values from there on are not "
                                "finite (drawn clipped)")
            self.status.setVisible(True)
        else:
            self.status.setVisible(False)
        tr, idx = run.trace, t - 1
        bars = gate_bars(kind)
        values = {key: tr.gates[key][idx, 0] for key, _title, _r in bars}
        for bp, (key, _title, _r) in zip(gates, bars, strict=True):
            bp.set_heights(values[key])
        with np.errstate(all="ignore"):
            _title, entries = run.model.cell.state_path(
                run.model.params, run.model.o, tr.cache(idx), tr.state(t))
            series = tuple(np.asarray(v)[0] for _n, _l, v in entries)
        path.set_heights(*series)
        names = [k for k, _t, _r in bars] + [n for n, _l, _v in entries]
        self._values = dict(zip(names, [values[k] for k in values] + list(series), strict=True))

    def _show_grad(self, run: Run, t: int, known: bool, frame: Frame) -> None:
        grad = self.grad_plots[run.kind]
        if not known:
            grad.set_heights(None)
            grad.set_ticks(None)
            grad.set_title("dL/dh<sub>t</sub> per unit", self.theme)
            n = 2 * frame.seq_len + 1 - t - frame.index
            steps = "step" if n == 1 else "steps"
            self.grad_label.setText(f"dL/dh<sub>t</sub>: not reached yet — the backward pass "
                                    f"gets to t = {t} in {n} more {steps}")
            return
        if not run.gradients_ready:  # a long recompute shows its forward passes first
            grad.set_heights(None)
            grad.set_ticks(None)
            grad.set_title("dL/dh<sub>t</sub> per unit", self.theme)
            self.grad_label.setText("dL/dh<sub>t</sub>: computing the backward pass… (the "
                                    "forward pass is shown; progress in the status bar)")
            return
        dh = run.grads.h[t - 1, 0]
        # the norms the gradient panel and the status bar print: the run's exact logs
        d = run.diagnostics
        norm = format_magnitude(float(d.log10_grad_h[t - 1]))
        text = f"‖dL/dh<sub>t</sub>‖ = {norm}"
        if d.log10_grad_c is not None:
            norm_c = format_magnitude(float(d.log10_grad_c[t - 1]))
            text += f" &nbsp; ‖dL/dc<sub>t</sub>‖ = {norm_c}"
        fover = run.trace.overflow_step
        gover = run.overflow_step if fover is None else None
        if fover is not None:
            text += f" &nbsp; (NaN: overflow at t = {fover + 1} in the forward pass)"
        elif gover is not None and t - 1 <= gover:
            text += f" &nbsp; (overflow at t = {gover + 1}: beyond float64, bars not finite)"
        elif np.isfinite(d.log10_grad_h[t - 1]) and d.log10_grad_h[t - 1] < -300:
            text += " &nbsp; (per-unit values below float64: bars at 0)"
        if run.grads.h.shape[1] > 1:
            text += " &nbsp; (norms over the batch; bars: batch element 0)"
        self.grad_label.setText(text)
        grad.set_range(finite_range(dh))
        grad.set_ticks(symmetric_ticks(grad.range[1]))
        grad.set_heights(dh)
        grad.set_title(f"dL/dh<sub>t</sub> per unit &nbsp; ‖·‖ = {norm}", self.theme)
        self._values["dL/dh"] = dh

    # -- export and theme -----------------------------------------------------------
    def plot_items(self) -> list[pg.PlotItem]:
        if self._stale:
            self.sync()
        if not self.kind:
            return []
        return ([bp.plot for bp in self.gate_plots[self.kind]]
                + [self.path_plots[self.kind].plot, self.grad_plots[self.kind].plot])

    def data_columns(self) -> dict[str, np.ndarray]:
        """Per-unit values of the inspected cell (columns of length H), empty if the step
        has not been computed yet."""
        if self._stale:
            self.sync()
        if not self._values:
            return {}
        kind, t = self.cell()
        prefix = layer_prefix(self.runs[kind])
        H = next(iter(self._values.values())).shape[0]
        cols = {"unit": np.arange(H, dtype=float)}
        for name, values in self._values.items():
            cols[f"{prefix} {name} (t={t})"] = np.array(values, dtype=float)
        return cols

    def _style(self) -> None:
        theme = self.theme
        fg, muted = theme.foreground, theme.muted
        for kind in self.pages:
            self._style_kind(kind)
        self.header.setStyleSheet(f"color: {fg}; font-size: 11pt;")
        self.formula.setStyleSheet(f"color: {fg};")
        self.grad_label.setStyleSheet(f"color: {fg};")
        self.status.setStyleSheet(f"color: {muted}; font-style: italic;")

    def _style_kind(self, kind: str) -> None:
        theme = self.theme
        fg, muted = theme.foreground, theme.muted
        self.pages[kind].setBackground(theme.background)
        colour = theme.model_color(kind).name()
        for bp in self.gate_plots[kind]:
            bp.style(theme, [colour])
        title, labels = self.path_titles[kind]
        brushes = [muted, colour, theme.highlight, fg] if len(labels) == 4 else \
            [muted, colour, theme.highlight, fg][:len(labels) - 1] + [colour]
        entries = " ".join(f"<span style='color:{b}'>■ {s}</span>"
                           for b, s in zip(brushes, labels, strict=True))
        self.path_plots[kind].style(theme, brushes, f"{title} &nbsp; {entries}")
        self.grad_plots[kind].style(theme, [colour])
        if kind in self.eig_plots:
            eig, dots, circle = self.eig_plots[kind]
            style_plot(eig, theme)
            circle.setPen(pg.mkPen(muted, width=1))
            dots.setBrush(pg.mkBrush(colour))
            dots.setPen(pg.mkPen(None))

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self._style()
        self._key = None
        self._on_runs()
        self._on_frame()
