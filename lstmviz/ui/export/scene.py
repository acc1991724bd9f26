"""The views of one session built off screen for an export, laid out for the destination.

Each view is a fresh widget (never a dock's on-screen shape), resized to the destination's
logical size (`lstmviz.export.Destination`): a slide at 960 x 540 logical pixels rendered
at twice that, a paper figure at 300 dpi so that 9 pt text is 9 pt. Curves get the pen
width the destination asks (2.5 px at 1920 px wide), the cursor line is hidden unless
asked, sub-plots that plot nothing for the models shown are hidden, and the unrolled
network is zoomed so that its cells fill the figure, its legend small in a corner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsView, QWidget

from lstmviz.export.plan import Destination
from lstmviz.session import Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.registry import panel_class_map, panel_names
from lstmviz.ui.render import process_events, vector_paint  # noqa: F401
from lstmviz.ui.theme import THEMES, Theme, palette_for

#: Logical width of the whole window in an export (the layout it is made for).
WINDOW_LOGICAL_WIDTH = 1500


def target_names() -> list[str]:
    """Every name an export can ask for: the panels, the unrolled network, the window."""
    return [*panel_names(), "unrolled", "window"]


def default_names() -> list[str]:
    return [n for n in target_names() if n != "window"]


def scene_items(widget: QWidget, kind: type) -> list:
    """Graphics items of type `kind` in every plot view inside `widget` (plot items live
    in the views' scenes, not among the widget's QObject children)."""
    views = [widget] if isinstance(widget, pg.GraphicsView) else []
    views += widget.findChildren(pg.GraphicsView)
    return [item for view in views for item in view.scene().items() if isinstance(item, kind)]


def curve_items(widget: QWidget) -> list[pg.PlotDataItem]:
    return scene_items(widget, pg.PlotDataItem)


def set_curve_width(widget: QWidget, device_px: float, ratio: float) -> None:
    """Every data curve of `widget` at least `device_px` device pixels wide (solid or
    dashed): a cosmetic pen (pyqtgraph's) is in device pixels whatever the device pixel
    ratio, another in logical pixels."""
    for item in curve_items(widget):
        pen = item.opts.get("pen")
        if pen is None:
            continue
        pen = pg.mkPen(pen)
        if pen.style() == Qt.PenStyle.NoPen:
            continue
        want = device_px if pen.isCosmetic() else device_px / ratio
        if pen.widthF() < want:
            pen.setWidthF(want)
            item.setPen(pen)


def cursor_lines(widget: QWidget) -> list[pg.InfiniteLine]:
    """The vertical lines that mark the frame's step in the plots."""
    return [item for item in scene_items(widget, pg.InfiniteLine)
            if item.angle == 90 and not item.movable]


def fit_legends(widget: QWidget) -> None:
    """Legends laid out again for the figure's width (as many entries side by side as fit),
    so that a legend never holds a narrow plot wider than its figure."""
    from lstmviz.ui.panels.base import fit_legend

    views = widget.findChildren(pg.PlotWidget)
    for view in views:
        plot = view.getPlotItem()
        legend = getattr(plot, "legend", None)
        if legend is not None and getattr(legend, "_fits_on_resize", False):
            fit_legend(plot, legend)
    if views:
        process_events(2)


class WrappedUnrolled(QWidget):
    """The unrolled network laid out for a figure: the sequence cut into `k` strips (one
    UnrolledView each, showing steps of one stretch, all rows), stacked, with `k` chosen
    so that the cells come out as large as the figure allows, and one small legend below.
    Nothing scrolls: each strip shows its stretch whole."""

    def __init__(self, adapter, theme: Theme, logical: tuple[int, int], *,
                 grow: bool = True) -> None:
        from PySide6.QtWidgets import QVBoxLayout

        from lstmviz.ui.unrolled import Legend

        super().__init__()
        self.setObjectName("unrolled-figure")
        self.adapter, self.theme = adapter, theme
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(0)
        self.views = [self._strip()]
        self.legend = Legend(self.views[0])
        self.legend.setParent(self)
        self.k, self.zoom = 1, 1.0
        if grow:
            for _ in self.grow_steps(logical):
                pass

    def grow_steps(self, logical: tuple[int, int]) -> Iterator[None]:
        """Size the figure and make its strips, yielding after each (one strip of a long
        run is a fifth of a second): `HeadlessScene.add_steps` returns to the event loop
        there. (__init__ does it all at once unless grow=False.)"""
        self.resize(*logical)
        k, _zoom = self.choose(logical)
        while len(self.views) < k:  # (relayout makes the strips it needs: one per step)
            self.views.append(self._strip())
            yield
        self.relayout()

    def _strip(self):
        from lstmviz.ui.unrolled import UnrolledView

        view = UnrolledView(self.adapter, self.theme)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setFrameShape(QGraphicsView.Shape.NoFrame)
        view.follow_cursor = False
        view.legend.hide()
        return view

    def relayout(self) -> None:
        """Strips for the current size: as many as make the cells largest."""
        self.k, self.zoom = self.choose((self.width(), self.height()))
        while len(self.views) < self.k:
            self.views.append(self._strip())
        for item in [self.layout_.itemAt(i) for i in range(self.layout_.count())]:
            self.layout_.removeItem(item)
        for i, view in enumerate(self.views):
            view.setVisible(i < self.k)
            if i < self.k:
                self.layout_.addWidget(view, 1)
        self.layout_.addWidget(self.legend, 0, Qt.AlignmentFlag.AlignLeft)
        self.layout_.activate()
        self.arrange()

    def choose(self, logical: tuple[int, int]) -> tuple[int, float]:
        """(strips, zoom) with the largest zoom that fits the figure."""
        from lstmviz.ui.unrolled import GAP, LOSS_W, cell_x

        view = self.views[0]
        rect = view.scene().sceneRect()
        T = self.adapter.session.seq_len
        w, h = logical
        w = max(1.0, w - view.label_margin())  # the row names' margin beside the cells
        room_h = max(1.0, h - 40.0)
        best = (1, 0.0)
        for k in range(1, max(1, min(T, 16)) + 1):
            tc = -(-T // k)
            cw = cell_x(tc + 1) - rect.left() + LOSS_W + GAP
            zoom = min(4.0, w / cw, room_h / (k * rect.height()))
            if zoom > best[1] * 1.02:
                best = (k, zoom)
        return best

    def arrange(self) -> None:
        """Each strip's stretch of steps, at the chosen zoom."""
        from PySide6.QtCore import QRectF

        from lstmviz.ui.unrolled import GAP, LOSS_W, cell_x

        T = self.adapter.session.seq_len
        tc = -(-T // self.k)
        for i, view in enumerate(self.views[: self.k]):
            rect = view.scene().sceneRect()
            left_room = cell_x(1) - rect.left()
            x0 = cell_x(i * tc + 1) - left_room
            width = cell_x(tc + 1) - rect.left() + LOSS_W + GAP
            view.setSceneRect(QRectF(x0, rect.top(), width, rect.height()))
            view.zoom(self.zoom / view._zoom)
            view.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            view.horizontalScrollBar().setValue(view.horizontalScrollBar().minimum())
            view.verticalScrollBar().setValue(view.verticalScrollBar().minimum())
            view._place_overlays()
            view.legend.hide()
            last = i == self.k - 1
            end = width if last else cell_x((i + 1) * tc + 1) - GAP / 2 - x0
            self._mask(view, i, (left_room - GAP / 2) * self.zoom, end * self.zoom)

    def _mask(self, view, i: int, left: float, right: float) -> None:
        """Cover what lies outside the strip's stretch: the end of the previous stretch
        under the row names (strips after the first), the next one past its right end."""
        from PySide6.QtGui import QColor, QPalette

        masks = getattr(view, "_export_masks", None)
        if masks is None:
            masks = view._export_masks = [QWidget(view.viewport()), QWidget(view.viewport())]
        vp = view.viewport()
        for mask, (x0, x1) in zip(masks, ((0, left if i else 0), (right, 100000)),
                                  strict=True):
            pal = mask.palette()
            pal.setColor(QPalette.ColorRole.Window, QColor(self.theme.background))
            mask.setPalette(pal)
            mask.setAutoFillBackground(True)
            mask.setGeometry(int(x0), 0, max(0, int(x1 - x0)), vp.height())
            mask.setVisible(x1 > x0)
            mask.raise_()
        view.labels.raise_()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if event.size() != event.oldSize():
            self.relayout()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for view in self.views:
            view.set_theme(theme)
        self.legend.update()

    def setUpdatesEnabled(self, on: bool) -> None:  # noqa: N802
        super().setUpdatesEnabled(on)
        for view in self.views:
            view.setUpdatesEnabled(on)


def layout_unrolled(view, logical: tuple[int, int]) -> None:
    """Lay the unrolled figure (a WrappedUnrolled) out at `logical` size."""
    for _ in layout_unrolled_steps(view, logical):
        pass


def layout_unrolled_steps(view, logical: tuple[int, int]) -> Iterator[None]:
    """`layout_unrolled`, yielding after each round of events (each paints the strips)."""
    view.resize(*logical)
    process_events(2)
    yield
    view.relayout()
    process_events(2)
    yield
    view.arrange()
    process_events(1)


class HeadlessScene:
    """The views of one session, built off screen only as asked (a panel, the unrolled
    network, the whole window), laid out at the destination's logical size.

    `window`: for the "window" view, a window to render as it is (the dialog's), or a
    callable session -> window that builds one (the command line's).
    """

    def __init__(self, session: Session, names: list[str], theme: str = "light", *,
                 destination: Destination | None = None, cursor: bool = False,
                 window: QWidget | Callable | None = None,
                 hidden_subplots: list[dict] | None = None) -> None:

        self.session = session
        self.theme: Theme = THEMES[theme]
        self.destination = destination or Destination(1920, 1080, 2.0)
        self.cursor = cursor
        self.hidden_subplots = hidden_subplots or []
        session = self.session
        before = {id(f) for lst in self._listeners() for f in lst}
        self.adapter = SessionAdapter(session)
        # the adapter's callbacks on the session (removed by close: the session may be a
        # window's, which outlives this scene)
        self._added = [(lst, f) for lst in self._listeners() for f in lst
                       if id(f) not in before]
        self.window = None
        self._own_window = False
        self.widgets: dict[str, QWidget] = {}
        for name in names:
            self.add(name, window)

    def add(self, name: str, window: QWidget | Callable | None = None) -> QWidget:
        """Build view `name` (once) and lay it out for the destination."""
        for _ in self.add_steps(name, window):
            pass
        return self.widgets[name]

    def add_steps(self, name: str, window: QWidget | Callable | None = None
                  ) -> Iterator[None]:
        """`add` in steps: yields where a caller on the GUI thread may return to its event
        loop (after the view is made, after each strip of the unrolled network, after
        each round of layout and paint), so that no step is a long freeze."""
        if name in self.widgets:
            return
        logical = self.destination.logical
        if name == "window":
            self._window(window, logical)
            return
        # the export's theme on its own widgets only (the app's palette, and a window on
        # screen, stay as they are); pyqtgraph's defaults for new plots, while building
        saved = {k: pg.getConfigOption(k) for k in ("background", "foreground")}

        def themed(steps: Iterator[None]) -> Iterator[None]:
            for _ in steps:  # (the defaults are the app's again while the caller runs)
                pg.setConfigOptions(**saved)
                yield
                pg.setConfigOptions(background=self.theme.background,
                                    foreground=self.theme.foreground)

        pg.setConfigOptions(background=self.theme.background,
                            foreground=self.theme.foreground)
        try:
            if name == "unrolled":
                widget = WrappedUnrolled(self.adapter, self.theme, logical, grow=False)
                yield from themed(iter([None]))
                yield from themed(widget.grow_steps(logical))
            else:
                widget = panel_class_map()[name](self.adapter, self.theme)
            widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            widget.setPalette(palette_for(self.theme))
            widget.resize(*logical)
            widget.show()
            self.widgets[name] = widget
            yield from themed(iter([None]))
            process_events(3)
            yield from themed(iter([None]))
            if name == "unrolled":
                yield from themed(layout_unrolled_steps(widget, logical))
            else:
                fit_legends(widget)
            self._style()
            process_events(2)
        finally:
            pg.setConfigOptions(**saved)

    def _listeners(self) -> list[list]:
        s = self.session
        return [s.on_runs, s.on_frame, s.on_diagnostics]

    def _window(self, window, logical) -> None:
        if window is None:
            raise ValueError("the whole window: no window to export")
        if isinstance(window, QWidget):
            self.window = window  # the dialog's own window, rendered as it is on screen
        else:
            self.window = window(self.session)
            self._own_window = True
            self.window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            ratio = WINDOW_LOGICAL_WIDTH / max(1, logical[0])
            self.window.resize(WINDOW_LOGICAL_WIDTH, max(1, round(logical[1] * ratio)))
            self.window.show()
        self.widgets["window"] = self.window

    def _style(self) -> None:
        """Destination pens, the cursor line, hidden sub-plots (again after every seek: a
        panel may rebuild its items)."""
        for name, widget in self.widgets.items():
            if name in ("window", "unrolled"):
                continue
            set_curve_width(widget, self.destination.curve_px, self.destination.ratio)
            for line in cursor_lines(widget):
                line.setVisible(self.cursor)
            for skip in self.hidden_subplots:
                if skip["view"] == name == "jacobians" and hasattr(widget, "widgets"):
                    widget.widgets[1].setVisible(False)

    def set_theme(self, name: str) -> None:
        self.theme = THEMES[name]
        for key, widget in self.widgets.items():
            if key != "window":
                widget.setPalette(palette_for(self.theme))
                widget.set_theme(self.theme)
        self._style()
        process_events(2)

    def seek(self, index: int) -> None:
        if self.session.cursor != index:
            self.session.seek(index)
        process_events(1)
        self._style()

    def columns(self, name: str) -> dict:
        widget = self.widgets[name]
        return widget.data_columns() if hasattr(widget, "data_columns") else {}

    def close(self) -> None:
        for name, widget in self.widgets.items():
            if name == "window" and not self._own_window:
                continue
            widget.close()
            widget.deleteLater()
        self.widgets = {}
        if self._own_window and self.window is not None:
            self.window.recomputer.wait(5000)
        for lst, f in self._added:
            if f in lst:
                lst.remove(f)
        self._added = []
        self.adapter.deleteLater()
        process_events(2)
