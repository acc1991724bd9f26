"""The views of one session built off screen for an export, laid out for the destination.

Each view is a fresh widget (never a dock's on-screen shape), resized to the destination's
logical size (`lstmviz.export.Destination`): a slide at 960 x 540 logical pixels rendered
at twice that, a paper figure at 300 dpi so that 9 pt text is 9 pt. Curves get the pen
width the destination asks (2.5 px at 1920 px wide), the cursor line is hidden unless
asked, sub-plots that plot nothing for the models shown are hidden, and the unrolled
network is zoomed so that its cells fill the figure, its legend small in a corner.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsView, QWidget

from lstmviz.export.plan import Destination
from lstmviz.session import Session
from lstmviz.ui.registry import panel_class_map, panel_names
from lstmviz.ui.render import process_events, vector_paint  # noqa: F401
from lstmviz.ui.theme import THEMES, Theme, apply_app_theme

#: Logical width of the whole window in an export (the layout it is made for).
WINDOW_LOGICAL_WIDTH = 1500


def target_names() -> list[str]:
    """Every name an export can ask for: the panels, the unrolled network, the window."""
    return [*panel_names(), "unrolled", "window"]


def default_names() -> list[str]:
    return [n for n in target_names() if n != "window"]


def curve_items(widget: QWidget) -> list[pg.PlotDataItem]:
    return [item for plot in widget.findChildren(pg.PlotItem) for item in plot.listDataItems()]


def set_curve_width(widget: QWidget, logical_px: float) -> None:
    """Every data curve of `widget` at least `logical_px` wide (solid or dashed)."""
    for item in curve_items(widget):
        pen = item.opts.get("pen")
        if pen is None:
            continue
        pen = pg.mkPen(pen)
        if pen.style() == Qt.PenStyle.NoPen:
            continue
        if pen.widthF() < logical_px:
            pen.setWidthF(logical_px)
            item.setPen(pen)


def cursor_lines(widget: QWidget) -> list[pg.InfiniteLine]:
    """The vertical lines that mark the frame's step in the plots."""
    return [item for plot in widget.findChildren(pg.PlotItem) for item in plot.items
            if isinstance(item, pg.InfiniteLine) and item.angle == 90 and not item.movable]


def layout_unrolled(view, logical: tuple[int, int]) -> None:
    """Zoom the unrolled network so that the whole sequence, all rows, fills the figure
    (the smaller of the width and height fits; no scrolling); the legend stays its size
    in the bottom corner, below the rows."""
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setFrameShape(QGraphicsView.Shape.NoFrame)
    view.follow_cursor = False
    view.resize(*logical)
    process_events(2)
    rect = view.scene().sceneRect()
    vp = view.viewport()
    room_w = max(1, vp.width() - view.labels.needed_width() * 0 - 10)
    room_h = max(1, vp.height() - view.legend.height() - 12)
    zoom = min(room_w / max(1.0, rect.width()), room_h / max(1.0, rect.height()))
    view.zoom(zoom / view._zoom)
    view.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
    view.centerOn(rect.center())
    view._place_overlays()
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
        from lstmviz.ui.adapter import SessionAdapter
        from lstmviz.ui.unrolled import UnrolledView

        self.session = session
        self.theme: Theme = THEMES[theme]
        self.destination = destination or Destination(1920, 1080, 2.0)
        self.cursor = cursor
        self.hidden_subplots = hidden_subplots or []
        apply_app_theme(self.theme)
        before = {id(f) for lst in self._listeners() for f in lst}
        self.adapter = SessionAdapter(session)
        # the adapter's callbacks on the session (removed by close: the session may be a
        # window's, which outlives this scene)
        self._added = [(lst, f) for lst in self._listeners() for f in lst
                       if id(f) not in before]
        self.window = None
        self._own_window = False
        self.widgets: dict[str, QWidget] = {}
        classes = panel_class_map()
        logical = self.destination.logical
        for name in names:
            if name == "window":
                self._window(window, logical)
                continue
            if name == "unrolled":
                widget = UnrolledView(self.adapter, self.theme)
            else:
                widget = classes[name](self.adapter, self.theme)
            widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            widget.resize(*logical)
            widget.show()
            self.widgets[name] = widget
        process_events(3)
        for name, widget in self.widgets.items():
            if name == "unrolled":
                layout_unrolled(widget, logical)
        self._style()
        process_events(2)

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
        width = self.destination.curve_px / self.destination.ratio
        for name, widget in self.widgets.items():
            if name in ("window", "unrolled"):
                continue
            set_curve_width(widget, width)
            for line in cursor_lines(widget):
                line.setVisible(self.cursor)
            for skip in self.hidden_subplots:
                if skip["view"] == name == "jacobians" and hasattr(widget, "widgets"):
                    widget.widgets[1].setVisible(False)

    def set_theme(self, name: str) -> None:
        self.theme = THEMES[name]
        apply_app_theme(self.theme)
        for key, widget in self.widgets.items():
            if key != "window":
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
