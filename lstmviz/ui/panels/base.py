"""What every dock panel shares: the contract with the main window, themes, log axes.

A panel is created once per window. It connects to the adapter's signals in __init__,
creates its plot items once in `rebuild` (after new runs) and only updates them with
`setData` / `setImage` in `show_frame` (after every cursor move). It never computes
numerics beyond slicing and log10 of what the session holds.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QGraphicsItem,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from lstmviz.engine import cells
from lstmviz.session import Frame, Run
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.theme import LIGHT, Theme

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

#: Width (px) of a data curve: readable on a projector.
CURVE_WIDTH = 2.0

#: log10 of the smallest magnitude plotted; zeros are drawn at this floor.
LOG_FLOOR = -30.0


def power_of_ten(exponent: float) -> str:
    """'10⁻²⁰' for -20: how log-axis ticks are labelled."""
    return "10" + str(int(round(exponent))).translate(SUPERSCRIPT)


class PowerAxis(pg.AxisItem):
    """An axis over log10 values whose ticks read as powers of ten at integer exponents.

    pyqtgraph's own log mode drops labels below 0.01 on wide ranges, so plots hold
    log10 values themselves and use this axis. No SI prefix: on a range narrower than a
    decade pyqtgraph would scale the exponents and title the axis "norm (x0.001)".
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (Qt naming)
        if not (math.isfinite(minVal) and math.isfinite(maxVal)) or maxVal <= minVal:
            return []
        span = maxVal - minVal
        # one label every `step` decades: at most ~8, and never closer than two text lines
        # (large presenter fonts on a short plot would otherwise overlap or drop them)
        font = self.style.get("tickFont") or QApplication.font()
        room = max(2, int(size / (2.2 * QFontMetrics(font).height()))) if size > 0 else 8
        step = max(1, math.ceil(span / min(8, room)))
        for nice in (1, 2, 5, 10, 20, 50, 100):
            if nice >= step:
                step = nice
                break
        first = math.ceil(minVal / step) * step
        major = list(np.arange(first, maxVal + 1e-9, step))
        minor = [] if step > 1 else []
        return [(step, major), (1, minor)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [power_of_ten(v) for v in values]


def safe_log10(values: np.ndarray, floor: float = LOG_FLOOR) -> np.ndarray:
    """log10 |values| with zeros at `floor`; inf stays +inf and NaN stays NaN (not plotted)."""
    a = np.abs(np.asarray(values, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(a)
    out[a == 0] = floor
    return np.maximum(out, floor, where=~np.isnan(out), out=out)


def finite_prefix(values: np.ndarray) -> np.ndarray:
    """Values with everything from the first non-finite entry on set to NaN (clipped there)."""
    v = np.array(values, dtype=float)
    bad = ~np.isfinite(v)
    if bad.any():
        v[int(np.argmax(bad)):] = np.nan
    return v


def device_cached(*items: QGraphicsItem) -> None:
    """Paint `items` from a pixmap in device pixels, redrawn only when they change.

    A moving cursor line dirties a strip across every plot each frame; without a cache
    each item under the strip replays its whole path or axis picture to fill it.
    PlotDataItems cache their curve (the child that paints).
    """
    mode = QGraphicsItem.CacheMode.DeviceCoordinateCache
    for item in items:
        target = item.curve if isinstance(item, pg.PlotDataItem) else item
        target.setCacheMode(mode)


def cache_axes(plot: pg.PlotItem) -> None:
    """Device-cache the four axes of `plot` (their grid lines span the whole view box)."""
    device_cached(*(plot.getAxis(name) for name in ("left", "bottom", "right", "top")))


class Panel(QWidget):
    """Base of the dock panels.

    Subclasses set `name` (used in dock object names, export file names and --panels),
    `title` (dock title) and `tooltip` (what it shows, what to look for), and override
    `rebuild(runs)` and `show_frame(frame)`.
    """

    name = "panel"
    title = "Panel"
    tooltip = ""
    #: shows one layer of a stacked model: the adapter's viewed layer (`runs` are then
    #: `SessionAdapter.viewed` runs, and a new layer rebuilds the panel)
    per_layer = False

    def __init__(self, adapter: SessionAdapter, theme: Theme = LIGHT,
                 parent: QWidget | None = None, *, lazy: bool = False) -> None:
        self.__dict__["_built"] = False  # (first: `__getattr__` reads it)
        super().__init__(parent)
        self._build_posted = False
        self.adapter = adapter
        self.theme = theme
        self.setToolTip(self.tooltip)
        self.setObjectName(f"panel-{self.name}")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(2, 2, 2, 2)
        self.layout_.setSpacing(2)
        self._stale = False  # a frame arrived while off screen (see `_off_screen`)
        self._dock: QDockWidget | None = None
        self._structure: object = None  # `structure_key` of the items made by the last rebuild
        self._reuse = False
        self._pool: list[QGraphicsItem] = []
        self._pool_next = 0
        self.presenter_scale = 1.0  # presenter mode's scale of fonts and lines
        adapter.runsChanged.connect(self._on_runs)
        adapter.frameChanged.connect(self._on_frame)
        if self.per_layer:
            adapter.layerChanged.connect(self._on_layer)
        if not lazy:
            self.ensure_built()

    # -- lazy build -----------------------------------------------------------------
    @property
    def built(self) -> bool:
        """Whether `build` has made the panel's widgets and plot items."""
        return self.__dict__.get("_built", False)

    def ensure_built(self) -> None:
        """Make the panel's items now (once) and show the session's runs and frame.

        A panel made with `lazy=True` (the window's, in docks not on screen at launch)
        waits for this until it is first shown, painted, rendered or exported, or any
        attribute made by `build` is asked for (`__getattr__`)."""
        if self.built:
            return
        self.__dict__["_built"] = True
        self.build()
        self._on_runs()
        self._on_frame()
        if self.testAttribute(Qt.WidgetAttribute.WA_Resized):  # the resize it skipped
            self.resizeEvent(QResizeEvent(self.size(), self.size()))

    def event(self, event) -> bool:
        if not self.built and event.type() == QEvent.Type.Resize:
            return True  # (the layout has it already; the panel's own reaction waits)
        return super().event(event)

    def _request_build(self) -> None:
        """Shown or painted while not built: build on the next event-loop turn if it is on
        screen then (a dock tabbed behind another at launch is shown, then hidden by the
        window's layout: it stays unbuilt until its tab comes to the front)."""
        if self.built or self._build_posted:
            return
        self._build_posted = True
        QTimer.singleShot(0, self, self._build_if_on_screen)

    def _build_if_on_screen(self) -> None:
        self._build_posted = False
        if not self.built and not self._off_screen():
            self.ensure_built()

    def __getattr__(self, name: str):
        # an attribute `build` makes, asked for before the lazy build: build, then look again
        if name.startswith("__") or self.__dict__.get("_built", True):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.ensure_built()
        return getattr(self, name)

    # -- contract for subclasses ----------------------------------------------------
    def build(self) -> None:
        """Create widgets and plot items once."""

    def rebuild(self, runs: dict[str, Run]) -> None:
        """New runs: resize items, set fixed ranges and levels."""

    def show_frame(self, frame: Frame) -> None:
        """Cursor moved: update existing items with setData/setImage only."""

    def complete(self) -> None:
        """Draw now what `show_frame` left for later event-loop turns (a large panel on
        screen may spread a new frame's drawing; scripts, screenshots and exports call
        this through `PanelStager.flush`)."""

    def _on_screen_live(self) -> bool:
        """Shown in a window on screen (not a widget rendered off screen for an export)."""
        window = self.window()
        return (self.isVisible() and window.isVisible()
                and not window.testAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen))

    def structure_key(self, runs: dict[str, Run]) -> object:
        """What decides which plot items `rebuild` makes (model kinds, T, H, mode...).

        None (the default): always make them anew. Otherwise a rebuild whose key (with the
        theme) equals the last one gets the items made last time back from `pooled`.
        """
        return None

    def pooled(self, plot: pg.PlotItem, make, *, ignore_bounds: bool = False):
        """The item `make()` creates, added to `plot`; when rebuilding the same structure,
        the item made at this point of the last rebuild, left in place (addItem costs ms)."""
        if self._reuse:
            item = self._pool[self._pool_next]
            self._pool_next += 1
            return item
        item = make()
        plot.addItem(item, ignoreBounds=ignore_bounds)
        self._pool.append(item)
        return item

    @property
    def reusing(self) -> bool:
        """In a rebuild that keeps the last one's items (skip clear() and one-off setup)."""
        return self._reuse

    def plot_items(self) -> list[pg.PlotItem]:
        """The PlotItems an exporter should render (in order)."""
        self.ensure_built()
        return [w.getPlotItem() for w in self.findChildren(pg.PlotWidget)]

    def data_columns(self) -> dict[str, np.ndarray]:
        """The numbers this panel plots, as named 1-D columns of equal length
        (header names carry units), for CSV export."""
        return {}

    def set_theme(self, theme: Theme) -> None:
        """Recolour everything; the default rebuilds from the session."""
        self.theme = theme
        for w in self.findChildren(pg.PlotWidget):
            w.setBackground(theme.background)
            for axis in ("left", "bottom", "right", "top"):
                ax = w.getPlotItem().getAxis(axis)
                ax.setPen(theme.foreground)
                ax.setTextPen(theme.foreground)
        self._on_runs()
        self._on_frame()

    # -- helpers --------------------------------------------------------------------
    @property
    def runs(self) -> dict[str, Run]:
        """The session's runs; for a `per_layer` panel each at the viewed layer."""
        runs = self.adapter.session.runs
        if not self.per_layer:
            return runs
        viewed = self.adapter.viewed
        return {kind: viewed(run) for kind, run in runs.items()}

    def _on_layer(self, *_args) -> None:
        """Another layer to show: the panel's items take that layer's arrays."""
        self._on_runs()
        self._on_frame()

    def _on_runs(self) -> None:
        if not self.built:
            return  # made from the session's runs when first built
        runs = self.runs
        key = self.structure_key(runs)
        if key is not None:
            key = (self.theme.name, key)
        self._reuse = key is not None and key == self._structure
        self._pool_next = 0
        if not self._reuse:
            self._pool = []
        self._structure = None  # (if rebuild raises, the next one starts afresh)
        try:
            self.rebuild(runs)
        finally:
            self._reuse = False
        self._structure = key
        if self.presenter_scale != 1.0:  # new items (and fixed axis widths) at that scale
            self.set_presenter_scale(self.presenter_scale)

    def set_presenter_scale(self, factor: float) -> None:
        """Presenter mode: fonts, pens and axis room `factor` times their size (kept over
        rebuilds). Panels may define `set_scale(factor)` to scale themselves."""
        self.presenter_scale = factor
        if hasattr(self, "set_scale"):
            self.set_scale(factor)
            return
        for plot in self.plot_items():
            scale_plot(plot, factor)

    def _on_frame(self, *_args) -> None:
        if not self.built:
            return
        if self._off_screen():
            self._stale = True  # caught up when it shows again (or is rendered)
            return
        self.sync()

    def _off_screen(self) -> bool:
        """In a shown window but not on screen: a dock tabbed behind another (Qt moves
        those off screen), a closed dock. A panel that was never shown is not off screen."""
        return self.window().isVisible() and (
            not self.isVisible() or self.visibleRegion().isEmpty())

    def sync(self) -> None:
        """Show the session's current frame now."""
        if not self.built:
            self.ensure_built()  # (shows the frame itself)
            return
        self._stale = False
        self.show_frame(self.adapter.session.frame)

    def _catch_up(self) -> None:
        if self._stale and not self._off_screen():
            self.sync()

    def _on_dock_visibility(self, visible: bool) -> None:
        if visible:  # (not when hidden: that is also how a closing window says goodbye)
            self._request_build()
            self._catch_up()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        if self._dock is None:
            # a tab brought to the front: its dock says so before it is painted
            dock = self.parentWidget()
            while dock is not None and not isinstance(dock, QDockWidget):
                dock = dock.parentWidget()
            if dock is not None:
                self._dock = dock
                dock.visibilityChanged.connect(self._on_dock_visibility)
        self._request_build()
        self._catch_up()
        super().showEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        self._request_build()  # (never inside a paint: it adds widgets)
        if self._stale:  # painted or rendered (exported) while it was skipping frames
            self.sync()
        super().paintEvent(event)

    def make_plot(self, *, log_y: bool = False, title: str | None = None,
                  x_label: str = "timestep t", y_label: str = "") -> pg.PlotWidget:
        """A PlotWidget with the theme, labels and (optionally) a power-of-ten left axis."""
        axis_items = {"left": PowerAxis("left")} if log_y else None
        w = pg.PlotWidget(axisItems=axis_items, background=self.theme.background,
                         enableMenu=False)  # no context menus (none is made)
        p = w.getPlotItem()
        p.showGrid(x=True, y=True, alpha=self.theme.grid_alpha)
        p.setLabel("bottom", x_label)
        if y_label:
            p.setLabel("left", y_label)
        if title:
            p.setTitle(title, size="10pt")
        for axis in ("left", "bottom"):
            ax = p.getAxis(axis)
            ax.setPen(self.theme.foreground)
            ax.setTextPen(self.theme.foreground)
        w.setMouseEnabled(x=True, y=False)
        p.hideButtons()
        wide_title(p)
        cache_axes(p)
        return w


# -- legends and presenter scaling ---------------------------------------------------------
#: The largest share of a plot's height its legend may take; above it the legend hides.
LEGEND_MAX_SHARE = 0.35


def outside_legend(plot: pg.PlotItem, size: str = "9pt", *,
                   keep_title: bool = False) -> pg.LegendItem:
    """A legend in a row above the plot's data (where a title would go; `keep_title`: in
    the row under the title, the unused top axis's), entries side by side: it never covers
    a curve. `plot.legend` is set, so exporters and presenter scaling find it; call
    `fit_legend` after its entries change (it follows the plot's resizes itself)."""
    legend = pg.LegendItem(labelTextSize=size, colCount=4, horSpacing=18, verSpacing=-4)
    if keep_title:
        top = plot.getAxis("top")
        plot.layout.removeItem(top)
        top.hide()
        legend.row = 1
    else:
        title = plot.titleLabel
        plot.layout.removeItem(title)
        title.hide()
        legend.row = 0
    plot.layout.addItem(legend, legend.row, 0, 1, 3)  # over the axes too: more room
    plot.legend = legend
    return legend


def wide_title(plot: pg.PlotItem) -> None:
    """The plot's title across its whole width (over the axes too), and never what makes
    the plot wider than its dock: a title too long is cut at its ends, not the data."""
    title = plot.titleLabel
    plot.layout.removeItem(title)
    plot.layout.addItem(title, 0, 0, 1, 3)
    update_min = title.updateMin

    def shrinkable() -> None:
        update_min()
        # a title too long reads from its start (cut at the right end), else centred
        justify = "left" if title.itemRect().width() > title.rect().width() + 1 else "center"
        if title.opts.get("justify", "center") != justify:
            title.opts["justify"] = justify
            title.resizeEvent(None)  # (placed again; comes back here with no change)
        title.setMinimumWidth(0)
        title._sizeHint[Qt.SizeHint.MinimumSize] = (0, title.minimumHeight())
        title._sizeHint[Qt.SizeHint.PreferredSize] = (0, title.minimumHeight())
        title.updateGeometry()

    title.updateMin = shrinkable
    shrinkable()


def legend_width(legend: pg.LegendItem, columns: int) -> float:
    """Width of `legend` laid out in `columns` columns of (sample, label) pairs: its
    margins, each column as wide as its widest sample and label, the spacing between."""
    if not legend.items:
        return 0.0
    spacing = legend.layout.horizontalSpacing()
    left, _top, right, _bottom = legend.layout.getContentsMargins()
    total = left + right + spacing * (2 * columns - 1)
    for j in range(columns):
        entries = legend.items[j::columns]
        if entries:
            # the text's own width: a LabelItem's rect is stretched to its column
            total += max(s.boundingRect().width() for s, _l in entries)
            total += max(getattr(lb, "item", lb).boundingRect().width() for _s, lb in entries)
    return total


def fit_legend(plot: pg.PlotItem, legend: pg.LegendItem) -> None:
    """Give the legend's row the legend's height, its entries side by side as far as the
    plot's width allows (call when its entries or font changed; resizes follow)."""
    if not getattr(legend, "_fits_on_resize", False):
        legend._fits_on_resize = True
        plot.vb.sigResized.connect(lambda *_: fit_legend(plot, legend))
    n = len(legend.items)
    room = plot.width()
    view = plot.getViewWidget()
    if view is not None and view.width() > 0:  # (a legend too wide keeps the box wide)
        room = min(room, view.width() - 8) if room > 0 else view.width() - 8
    columns = max(1, min(4, n))
    while columns > 1 and legend_width(legend, columns) > room:
        columns -= 1
    if legend.columnCount != columns:
        legend.setColumnCount(columns)
    legend.updateSize()
    # its entries' own height (the item's rect is 0 while crowded out, below)
    height = legend.layout.preferredHeight() if n else 0
    # A legend that would take over the plot (many models in a narrow dock) steps aside:
    # the coloured notes under the plot name every model with its figure.
    total = view.height() if view is not None and view.height() > 0 else plot.height()
    crowded = bool(n) and total > 0 and height > LEGEND_MAX_SHARE * total
    state = (crowded, height, columns)
    if getattr(legend, "_fit_state", None) == state:
        return
    legend._fit_state = state
    legend.setVisible(not crowded)
    legend.crowded = crowded
    # (a hidden item still takes its minimum size in a QGraphicsGridLayout)
    legend.setMaximumHeight(0 if crowded else 1e6)
    legend.setMinimumWidth(0)  # (its entries' width never widens the plot past its view)
    plot.layout.setRowFixedHeight(getattr(legend, "row", 0), 0 if crowded else height)
    plot.layout.invalidate()
    if not getattr(legend, "_fitting", False):  # activate resizes, which calls us again
        legend._fitting = True
        try:
            plot.layout.activate()
        finally:
            legend._fitting = False


def _scaled_pen(obj, pen, factor: float):
    """`pen` at `factor` times the width `obj` had before presenter mode (kept on `obj`)."""
    pen = pg.mkPen(pen)
    base = getattr(obj, "_presenter_base_width", None)
    if factor == 1.0:
        if base is not None:
            pen.setWidthF(base)
            del obj._presenter_base_width
        return pen
    if base is None:
        base = pen.widthF()
        obj._presenter_base_width = base
    pen.setWidthF(max(base, 1.0) * factor)
    return pen


def _scale_fixed_size(axis: pg.AxisItem, factor: float) -> None:
    """An axis given a fixed width (to align plots) gets `factor` times it, so that large
    tick labels never run into the axis title."""
    fixed = getattr(axis, "fixedWidth", None) if axis.orientation in ("left", "right") else None
    if fixed is None:
        return
    base = getattr(axis, "_presenter_base_fixed", None)
    if base is None or fixed not in (base, base * factor, round(base * factor)):
        base = fixed  # (first scaling, or a rebuild set its own width)
    axis._presenter_base_fixed = base
    axis.setWidth(round(base * factor) if factor != 1.0 else base)


#: Largest presenter scale of plot titles (long ones, at twice the size, overflow a dock).
TITLE_SCALE = 1.5


def scale_title(plot: pg.PlotItem, factor: float) -> None:
    """The plot's title at `factor` times the size its panel gave it (idempotent; a title
    set anew by the panel since is scaled from its new size)."""
    title = plot.titleLabel
    size = title.opts.get("size")
    if not title.isVisibleTo(plot) or not str(title.text).strip() or size is None:
        return
    if size != getattr(title, "_scaled_size", None):
        title._base_size = size  # (the panel's own size)
    factor = min(factor, TITLE_SCALE)
    try:
        new = f"{float(str(title._base_size).removesuffix('pt')) * factor:g}pt"
    except ValueError:
        return
    title._scaled_size = new
    if new != size:
        title.setText(title.text, size=new)


def scale_plot(plot: pg.PlotItem, factor: float) -> None:
    """Scale a PlotItem's curve widths, axis pens and tick/label fonts (idempotent)."""
    for item in plot.listDataItems():
        pen = item.opts.get("pen")
        if pen is not None:
            item.setPen(_scaled_pen(item, pen, factor))
    font = QFont(QApplication.instance().font())
    for name in plot.axes:
        axis = plot.getAxis(name)
        axis.label.setFont(font)
        axis.setPen(_scaled_pen(axis, axis.pen(), factor))
        axis.setStyle(tickFont=None if factor == 1.0 else QFont(font))  # re-lays out the axis
        # the axis's room for tick labels, measured at the old font: measured afresh so
        # the labels never run into the axis title
        axis.textWidth, axis.textHeight = 30, 18  # (pyqtgraph's initial values)
        _scale_fixed_size(axis, factor)
        axis._adjustSize()
    if plot.titleLabel is not None:
        plot.titleLabel.item.setFont(font)
        plot._presenter_scale = factor
        scale_title(plot, factor)
    legend = plot.legend
    if legend is not None:
        base = getattr(legend, "_presenter_base_size", None) or legend.opts["labelTextSize"]
        legend._presenter_base_size = base if factor != 1.0 else None
        try:
            size = f"{float(str(base).removesuffix('pt')) * factor:g}pt"
        except ValueError:
            size = base
        legend.opts["labelTextSize"] = size
        for _sample, label in legend.items:
            label.setText(label.text, size=size)
        legend.updateSize()
        if getattr(legend, "_fits_on_resize", False):  # its row at the new font's height
            fit_legend(plot, legend)
    for item in plot.items:
        if isinstance(item, pg.TextItem):  # notes pinned on the plot
            item.textItem.setFont(font)


# -- the plotting kit shared by the panels (gradients, jacobians, forget, gates, ...) ---
def _forward_overflow(run: Run) -> int | None:
    return getattr(run.trace, "overflow_step", None)


def _backward_overflow(run: Run) -> int | None:
    return getattr(run.grads, "overflow_step", None)


def clip_forward(run: Run, values: np.ndarray) -> np.ndarray:
    """A forward-time (T,) quantity, NaN from the forward overflow step (or first inf) on."""
    v = finite_prefix(values)
    k = _forward_overflow(run)
    if k is not None:
        v[k:] = np.nan
    return v


def log_series(run: Run, logs: np.ndarray | None) -> np.ndarray:
    """A backward-time (T,) log10 series as drawn: the engine's exact logs, -inf kept for exact
    zeros (drawn on the bottom edge), NaN from the first NaN (or +inf) met going backward and
    everywhere after a non-finite forward pass. Nothing is clamped."""
    if logs is None:
        return np.full(run.trace.h.shape[0], np.nan)
    v = np.array(logs, dtype=float)
    bad = np.isnan(v) | (v == np.inf)
    if bad.any():
        v[: int(len(v) - np.argmax(bad[::-1]))] = np.nan
    if _forward_overflow(run) is not None:
        v[:] = np.nan
    return v


def log_forward_series(run: Run, logs: np.ndarray | None) -> np.ndarray:
    """A forward-time (T,) log10 series as drawn: exact logs, -inf kept for exact zeros, NaN
    where not finite (+inf or NaN) and from the forward overflow step on."""
    if logs is None:
        return np.full(run.trace.h.shape[0], np.nan)
    v = np.array(logs, dtype=float)
    v[v == np.inf] = np.nan
    k = _forward_overflow(run)
    if k is not None:
        v[k:] = np.nan
    return v


def set_html(item: pg.TextItem, html: str) -> None:
    """setHtml only when the text changed (re-laying out rich text costs ~1 ms)."""
    if getattr(item, "_lstmviz_html", None) != html:
        item.setHtml(html)
        item._lstmviz_html = html


def overflow_step_known(run: Run, frame: Frame) -> int | None:
    """The 1-based step where the run overflows, once the cursor has reached it, else None."""
    k = _forward_overflow(run)
    if k is not None:
        return k + 1 if frame.fwd_t >= k + 1 else None
    k = _backward_overflow(run)
    if k is not None:
        return k + 1 if frame.bwd_t <= k + 1 else None
    k = run.overflow_step
    return None if k is None else k + 1


def overflow_html(runs, frame: Frame, *, named: bool = True) -> str:
    """'⚠ RNN: overflow at t = k' for every run whose overflow the cursor has reached."""
    lines = []
    for run in runs:
        t = overflow_step_known(run, frame)
        if t is not None:
            who = f"{run.label}: " if named else ""
            lines.append(f"<b>⚠ {who}overflow at t = {t}</b>")
    return "<br>".join(lines)


def pinned_text(plot: pg.PlotItem, corner: str, color) -> pg.TextItem:
    """A TextItem pinned to a corner of the plot's view box in pixels (immune to panning).

    corner: "tl", "tr", "bl", "br" or "c" (centre).
    """
    anchor = {"tl": (0, 0), "tr": (1, 0), "bl": (0, 1), "br": (1, 1), "c": (0.5, 0.5)}[corner]
    item = pg.TextItem(color=color, anchor=anchor)
    item.setParentItem(plot.vb)
    item.setZValue(50)

    def place(*_args) -> None:
        r = plot.vb.boundingRect()
        x = {0: r.left() + 6, 0.5: r.center().x(), 1: r.right() - 6}[anchor[0]]
        y = {0: r.top() + 2, 0.5: r.center().y(), 1: r.bottom() - 2}[anchor[1]]
        item.setPos(x, y)

    plot.vb.sigResized.connect(place)
    place()
    return item


def y_range(*logs: np.ndarray, margin: float = 0.06, default=(-1.0, 1.0)) -> tuple[float, float]:
    """Finite min/max of log10 arrays with a margin (at least a quarter decade).

    Exact zeros (-inf) do not count: they are drawn on the bottom edge, see `_Series`.
    """
    finite = [a[np.isfinite(a)] for a in logs if a is not None]
    finite = [a for a in finite if a.size]
    if not finite:
        return default
    lo = float(min(a.min() for a in finite))
    hi = float(max(a.max() for a in finite))
    pad = max((hi - lo) * margin, 0.25)
    return lo - pad, hi + pad


def floor_to(logs: list[np.ndarray], bottom: float) -> None:
    """Put exact zeros (log10 = -inf) on the plot's bottom edge, in place."""
    for a in logs:
        a[a == -np.inf] = bottom


AXIS_WIDTH = 42
#: What this panel shows for each kind: (gate key, symbol, plot title).


def label(kind: str) -> str:
    """The kind's name for people (the cell registry's)."""
    return cells.get(kind).label


def layer_suffix(run: Run) -> str:
    """' · layer l/L' for a stacked model's run (what a per-layer panel's titles add), ''
    for one layer."""
    return f" · {run.layer_name}" if run.layer_name else ""


def unit_axis_label(run: Run) -> str:
    """The left axis of a units x time heatmap: 'unit', 'layer 1/2 · unit' for a stacked
    model (the layer said where it costs no width: a longer title widens the plot)."""
    return f"{run.layer_name} · unit" if run.layer_name else "unit"


def layer_prefix(run: Run) -> str:
    """The kind as CSV columns name it: 'lstm', or 'lstm layer 1' for a layer below the top
    of a stacked model (the top layer keeps the plain names, as in gradients.csv)."""
    if run.num_layers == 1 or run.layer_index == run.num_layers - 1:
        return run.kind
    return f"{run.kind} layer {run.layer_index + 1}"
#: The cursor over a heatmap: the theme's highlight is yellow, which vanishes on viridis
#: near 1 (a forget gate held open), so heatmaps use a magenta no colour map contains.
HEATMAP_CURSOR = "#ff2e88"


def gate_image(values: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Batch element 0 of a (T, B, H) gate as a (H, T) float array and the first 0-based
    step holding a non-finite value; that step and all later ones are set to NaN."""
    img = np.array(values[:, 0, :].T, dtype=float, order="C")
    bad = ~np.isfinite(img).all(axis=0)
    overflow = int(np.argmax(bad)) if bad.any() else None
    if overflow is not None:
        img[:, overflow:] = np.nan
    return img, overflow


def style_plot(plot: pg.PlotItem, theme: Theme) -> None:
    """Axis and title colours of `plot` for `theme`."""
    for name in ("left", "bottom", "right", "top"):
        ax = plot.getAxis(name)
        ax.setPen(theme.foreground)
        ax.setTextPen(theme.foreground)
    plot.titleLabel.setAttr("color", theme.foreground)
    plot.titleLabel.setText(plot.titleLabel.text)


def make_note(theme: Theme) -> QLabel:
    """A grey, centred, word-wrapped note (e.g. "a vanilla RNN has no gates")."""
    label = QLabel()
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.muted}; padding: 2px;")
    return label


def make_colorbar(theme: Theme) -> pg.ColorBarItem:
    """The fixed 0..1 colour bar shared by a panel's heatmaps."""
    bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=theme.colormap, interactive=False,
                          width=12, colorMapMenu=False)
    bar.getAxis("right").setWidth(30)
    style_plot(bar, theme)
    return bar


class HoverImage(pg.ImageItem):
    """An ImageItem whose tooltip names the unit, step and value under the mouse."""

    symbol = "value"

    def describe(self, x: float, y: float) -> str:
        """Tooltip text at data coordinates (x: column, y: row), '' off the shown data."""
        img = self.image
        if img is None:
            return ""
        col, row = int(np.floor(x)), int(np.floor(y))
        if not (0 <= row < img.shape[0] and 0 <= col < img.shape[1]):
            return ""
        value = img[row, col]
        if not np.isfinite(value):
            return ""
        return f"unit {row} · t = {col + 1} · {self.symbol} = {value:.3f}"

    def hoverEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph naming)
        super().hoverEvent(ev)
        if ev.isExit():
            self.setToolTip("")
        else:
            pos = ev.pos()
            self.setToolTip(self.describe(pos.x(), pos.y()))


class GateHeatmap:
    """One gate of one model as a units x time heatmap, revealed up to the forward step.

    Items are created once; `set_data` (new runs) swaps the arrays, `show` (every frame)
    only touches the columns whose visibility changed.
    """

    def __init__(self, theme: Theme) -> None:
        self.plot = pg.PlotItem(enableMenu=False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "unit")
        self.plot.getAxis("left").setWidth(AXIS_WIDTH)
        self.plot.getViewBox().setMouseEnabled(x=True, y=False)
        wide_title(self.plot)
        cache_axes(self.plot)
        self.image = HoverImage(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor)
        self.note = pg.TextItem(anchor=(0, 0))
        self.note.setZValue(20)
        self.plot.addItem(self.note)
        self.note.hide()
        self.full = np.full((1, 1), np.nan)
        self.buffer = self.full.copy()
        self.shown = 0
        self.overflow: int | None = None
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        style_plot(self.plot, theme)
        self.cursor.setPen(pg.mkPen(HEATMAP_CURSOR, width=1))
        self.note.setColor(theme.foreground)
        self.note.fill = pg.mkBrush(pg.mkColor(theme.background))
        self.note.update()

    def set_data(self, values: np.ndarray, title: str, symbol: str = "value") -> None:
        """values: the gate (T, B, H); shown hidden until `show` reveals it."""
        self.image.symbol = symbol
        self.full, self.overflow = gate_image(values)
        H, T = self.full.shape
        self.buffer = np.full_like(self.full, np.nan)
        self.shown = 0
        self.plot.setTitle(title, size="9pt")
        # column j holds step j + 1, centred on x = j + 1; unit u is centred on y = u
        self.image.setImage(self.buffer, levels=(0.0, 1.0), autoLevels=False,
                            rect=QRectF(0.5, -0.5, T, H))
        vb = self.plot.getViewBox()
        vb.disableAutoRange()
        vb.setLimits(xMin=0.5, xMax=T + 0.5, yMin=-0.5, yMax=H - 0.5)
        vb.setRange(xRange=(0.5, T + 0.5), yRange=(-0.5, H - 0.5), padding=0)
        if self.overflow is not None:
            self.note.setText(f"overflow at t = {self.overflow + 1}")
            self.note.setPos(0.5, H - 0.5)
        self.note.hide()

    def show(self, fwd_t: int, t: int) -> None:
        """Reveal steps 1..fwd_t, put the cursor at t."""
        k = min(max(fwd_t, 0), self.full.shape[1])
        if k != self.shown:
            if k > self.shown:
                self.buffer[:, self.shown:k] = self.full[:, self.shown:k]
            else:
                self.buffer[:, k:self.shown] = np.nan
            self.shown = k
            self.image.setImage(self.buffer, autoLevels=False)
        self.cursor.setValue(t)
        self.note.setVisible(self.overflow is not None and k > self.overflow)
