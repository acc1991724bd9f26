"""The unrolled network: one row of cells per model, forward fill and backward gradient flow.

Each model row is one `RowItem` that paints only the cells inside the exposed rectangle,
so T = 1000 with three models costs the same per frame as T = 20. A cell shows its hidden
state h_t as a strip of coloured units (blue negative, red positive); during the backward
pass each h arrow's width and colour encode log10 ||dL/dh_t||, and for the LSTM a second
arrow on the cell-state highway encodes log10 ||dL/dc_t||.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPaintEngine,
    QPainter,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from lstmviz.session import BACKWARD, LOSS, Frame, Run
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.theme import LIGHT, Theme

CELL_W, CELL_H, GAP = 30.0, 42.0, 18.0
PITCH = CELL_W + GAP
#: Offset of the two extra parallel lanes of a diagonal recurrence's h arrow (pixels).
DIAG_LANE = 4.0
ROW_H = 136.0
#: How far a stacked model's row reaches into the layer row below it (the cell top there).
DEPTH_REACH = 30.0
#: Smallest zoom "Fit sequence" goes to: rows stay readable (cells 9 px, rows 41 px).
FIT_MIN_ZOOM = 0.3
X_SIZE = 14.0
#: Room before the first cell: its backward arrow into the gap (the row names are in the
#: view's left margin, `RowLabels`, never over the cells).
LEFT = GAP + 8.0
LOSS_W = 44.0
#: Paint engines that record vector output (cells drawn as shapes there, not images).
VECTOR_ENGINES = (QPaintEngine.Type.SVG, QPaintEngine.Type.Pdf)
SLOP = 6.0  # pixels a cell's outlines (cursor, selection frames) reach beyond it

# log10 magnitude range mapped onto arrow width and colour
GRAD_LO, GRAD_HI = -12.0, 2.0


def _diverging_lut() -> np.ndarray:
    """256 RGBA colours from blue (-1) through near-white (0) to red (+1)."""
    x = np.linspace(-1.0, 1.0, 256)
    neg = np.array([33, 102, 172], float)
    mid = np.array([247, 247, 247], float)
    pos = np.array([178, 24, 43], float)
    a = np.abs(x)[:, None]
    rgb = np.where(x[:, None] < 0, mid + (neg - mid) * a, mid + (pos - mid) * a)
    lut = np.empty((256, 4), np.uint8)
    lut[:, :3] = rgb.round().astype(np.uint8)
    lut[:, 3] = 255
    return lut


def _magma_like(v: float) -> QColor:
    """Colour for a normalised gradient magnitude v in [0, 1]: faint grey -> purple -> orange."""
    stops = [(0.0, (200, 200, 210)), (0.35, (120, 60, 170)), (0.7, (220, 60, 90)),
             (1.0, (250, 160, 20))]
    v = min(max(v, 0.0), 1.0)
    for (x0, c0), (x1, c1) in zip(stops, stops[1:], strict=False):
        if v <= x1:
            f = (v - x0) / (x1 - x0)
            return QColor(*(int(a + (b - a) * f) for a, b in zip(c0, c1, strict=True)))
    return QColor(*stops[-1][1])


LUT = _diverging_lut()


def hidden_image(h: np.ndarray) -> QImage:
    """QImage of shape (H rows, T columns) from h (T, H) in the diverging colours.

    Non-finite values are drawn black so an overflow is visible as such.
    """
    T, H = h.shape
    with np.errstate(invalid="ignore"):
        v = np.clip(np.nan_to_num(h.T, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)
    idx = np.round((v + 1.0) * 127.5).astype(np.intp)
    rgba = LUT[idx]
    rgba[~np.isfinite(h.T)] = (0, 0, 0, 255)
    rgba = np.ascontiguousarray(rgba)
    img = QImage(rgba.data, T, H, 4 * T, QImage.Format.Format_RGBA8888)
    return img.copy()  # own the buffer


def grad_style(log_mag: float, lo: float = GRAD_LO, hi: float = GRAD_HI) -> tuple[float, QColor]:
    """Arrow width (px) and colour for log10 of a gradient magnitude on the scale lo..hi."""
    if math.isnan(log_mag):
        return 2.0, QColor("#d93025")
    if math.isinf(log_mag) and log_mag > 0:
        return 9.0, QColor("#d93025")
    v = (log_mag - lo) / (hi - lo)
    v = min(max(v, 0.0), 1.0)
    return 0.6 + 8.4 * v, _magma_like(v)


def flat_pen(color: QColor, width: float) -> QPen:
    """A pen with flat caps. (QPen(color, width, cap=...) segfaults in PySide6 6.10.)"""
    pen = QPen(color, width)
    pen.setCapStyle(Qt.PenCapStyle.FlatCap)
    return pen


def cell_x(t: int) -> float:
    """Left edge of the cell of step t (1-based)."""
    return LEFT + (t - 1) * PITCH


#: Space (pixels) above and below the legend in its margin under the viewport.
LEGEND_PAD = 3

class RowItem(QGraphicsObject):
    """One model's unrolled row; paints only the exposed cells."""

    def __init__(self, run: Run, theme: Theme, layer: int | None = None) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.run = run
        self.theme = theme
        self.frame: Frame | None = None
        self.selected_t: int | None = None
        # a stacked model is a grid: one row per layer (layer None: the top one, the model's
        # own row); rows above the bottom read the layer below (no x_t squares) and carry
        # the gradient passed down through depth (an arrow down from each cell)
        L = run.num_layers
        self.layer = L - 1 if layer is None else layer
        trace = run.trace if L == 1 else run.stack[1].layers[self.layer]
        self.show_inputs = self.layer == 0
        self.has_loss = self.layer == L - 1
        self.depth_log = (np.asarray(run.log10_x_layers[self.layer], dtype=float)
                          if L > 1 and self.layer > 0 else None)
        self.T = trace.h.shape[0]
        # a cell state c (LSTM, sLSTM) is drawn as a highway along the top
        self.is_lstm = run.model.has_cell
        # no W_hh mixing (IndRNN's u, minGRU, minLSTM, the LRU): per-unit arrows h -> h
        self.diagonal = run.model.cell.recurrent != "dense"
        h0 = np.asarray(trace.h[:, 0, :])
        self.image = hidden_image(h0)
        x = np.asarray(run.task.xs[:, 0, :])
        with np.errstate(invalid="ignore"):
            scale = float(np.nanmax(np.abs(x))) if x.size else 1.0
        self.x_level = np.nan_to_num(x.mean(axis=1) / (scale or 1.0))
        # the engine's exact log10 norms (beyond float64 too), as every other view shows them
        d = run.diagnostics
        #: False while the run is its forward pass alone (no arrows: not a NaN's red)
        self.gradients_ready = run.gradients_ready
        self.grad_h_log = np.asarray(d.log10_grad_h, dtype=float)
        self.grad_c_log = (np.asarray(d.log10_grad_c, dtype=float)
                           if d.log10_grad_c is not None else None)
        if not self.has_loss and self.gradients_ready:  # a layer below the top: its own
            g = run.stack[2].layers[self.layer]
            self.grad_h_log = np.asarray(g.log10_h, dtype=float)
            self.grad_c_log = None if g.log10_c is None else np.asarray(g.log10_c, dtype=float)
        # cells whose state is not finite in float64 say which (drawn black, labelled white)
        with np.errstate(invalid="ignore"):
            states = [trace.h] + ([trace.c] if trace.c is not None else [])
            nan = np.any([np.isnan(a).reshape(self.T, -1).any(axis=1) for a in states], axis=0)
            bad = np.any([~np.isfinite(a).reshape(self.T, -1).all(axis=1) for a in states],
                         axis=0)
        self.bad_label = np.where(nan, "NaN", np.where(bad, "inf", ""))
        self.loss_every = False
        self.overflow = run.overflow_step if L == 1 else trace.overflow_step
        self.font = QFont()
        self.font.setPointSizeF(8)
        self.grad_range = (GRAD_LO, GRAD_HI)

    # geometry --------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802
        # a row above another layer reaches down into it (the arrows through depth)
        below = 0.0 if self.show_inputs else DEPTH_REACH
        return QRectF(0, 0, LEFT + self.T * PITCH + LOSS_W + 20, ROW_H + below)

    def cell_rect(self, t: int) -> QRectF:
        top = 38.0 if self.is_lstm else 30.0
        return QRectF(cell_x(t), top, CELL_W, CELL_H)

    def t_at(self, x: float) -> int | None:
        t = int((x - LEFT) // PITCH) + 1
        return t if 1 <= t <= self.T else None

    # painting --------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        frame = self.frame
        if frame is None:
            return
        exposed = option.exposedRect
        # cell t draws over [cell_x(t) - GAP, cell_x(t) + CELL_W + GAP] (arrows into both
        # gaps), give or take SLOP pixels of outlines: paint only the cells touching it
        t0 = max(1, math.ceil((exposed.left() - LEFT - SLOP) / PITCH))
        t1 = min(self.T, int((exposed.right() - LEFT + GAP + SLOP) // PITCH) + 1)
        th = self.theme
        fg, muted = QColor(th.foreground), QColor(th.muted)
        pen_muted, pen_fg = QPen(muted, 1), QPen(fg, 1)
        pen_dashed = QPen(muted, 1, Qt.PenStyle.DashLine)
        pen_dotted = QPen(muted, 1, Qt.PenStyle.DotLine)
        pen_arrow = QPen(fg, 1.2)
        painter.setFont(self.font)
        fwd, bwd = frame.fwd_t, frame.bwd_t
        backward = frame.phase == BACKWARD
        engine = painter.paintEngine()
        vector = engine is not None and engine.type() in VECTOR_ENGINES

        # cell-state highway (LSTM): a line through the top of every computed cell
        if self.is_lstm:
            y = 16.0
            painter.setPen(QPen(muted, 1.0, Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(cell_x(t0) - GAP, y), QPointF(cell_x(t1) + CELL_W, y))
            if fwd >= t0:
                painter.setPen(QPen(th.model_color(self.run.kind), 2.5))
                painter.drawLine(QPointF(cell_x(t0) - GAP, y),
                                 QPointF(cell_x(min(fwd, t1)) + CELL_W, y))
        for t in range(t0, t1 + 1):
            r = self.cell_rect(t)
            cx = r.center().x()
            # input x_t and its arrow
            xr = QRectF(cx - X_SIZE / 2, r.bottom() + 24, X_SIZE, X_SIZE)
            if self.show_inputs:
                lvl = float(self.x_level[t - 1])
                idx = int(round((max(-1.0, min(1.0, lvl)) + 1) * 127.5))
                painter.setPen(pen_muted)
                painter.setBrush(QColor(*LUT[idx][:3]))
                painter.drawRect(xr)
                painter.drawLine(QPointF(cx, xr.top()), QPointF(cx, r.bottom() + 2))
            else:  # the input is h_t of the layer below (up to its cell)
                painter.setPen(pen_arrow if t <= fwd else pen_dotted)
                painter.drawLine(QPointF(cx - 5, ROW_H + DEPTH_REACH), QPointF(cx - 5,
                                                                            r.bottom() + 2))
            if t <= fwd:
                if vector:  # SVG/PDF: one vector rectangle per unit, not a raster
                    self._paint_units(painter, r, t)
                else:
                    painter.drawImage(r, self.image, QRectF(t - 1, 0, 1, self.image.height()))
                painter.setPen(pen_fg)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(r)
                label = self.bad_label[t - 1]
                if label:  # a non-finite state: white on the cell's black
                    painter.setPen(QPen(QColor("#ffffff"), 1))
                    painter.drawText(r, Qt.AlignmentFlag.AlignCenter, str(label))
            else:
                painter.setPen(pen_dashed)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(r)
            # forward h arrow into the next cell
            if t < self.T:
                y = r.center().y()
                a, b = QPointF(r.right(), y), QPointF(r.right() + GAP, y)
                if self.diagonal:  # unit j feeds only unit j: parallel lanes, no crossing
                    painter.setPen(pen_arrow if t < fwd else pen_dotted)
                    for dy in (-DIAG_LANE, DIAG_LANE):
                        painter.drawLine(a + QPointF(0, dy), b + QPointF(-2, dy))
                if t < fwd:
                    self._arrow(painter, a, b, pen_arrow, 5)
                else:
                    painter.setPen(pen_dotted)
                    painter.drawLine(a, b)
            # backward gradient: arrow leaving cell t to the left, below the h arrow
            if backward and t >= bwd and self.gradients_ready:
                w, col = grad_style(float(self.grad_h_log[t - 1]), *self.grad_range)
                y = r.bottom() + 11
                self._arrow(painter, QPointF(r.right(), y), QPointF(r.left() - GAP + 2, y),
                            flat_pen(col, w), 3 + w)
                if self.depth_log is not None:  # down through depth into the layer below
                    w, col = grad_style(float(self.depth_log[t - 1]), *self.grad_range)
                    self._arrow(painter, QPointF(cx + 5, r.bottom() + 14),
                                QPointF(cx + 5, ROW_H + DEPTH_REACH - 2), flat_pen(col, w),
                                3 + w)
                if self.grad_c_log is not None:
                    w, col = grad_style(float(self.grad_c_log[t - 1]), *self.grad_range)
                    y = 16.0
                    self._arrow(painter, QPointF(r.right(), y),
                                QPointF(r.left() - GAP + 2, y),
                                flat_pen(col, w), 3 + w)
            # step number every few cells
            if self.show_inputs and (t == 1 or t % 5 == 0 or t == self.T):
                painter.setPen(pen_muted)
                painter.drawText(QRectF(r.left() - 6, xr.bottom() + 2, CELL_W + 12, 14),
                                 Qt.AlignmentFlag.AlignCenter, str(t))
        # the cursor and the selected cell
        if self.selected_t is not None and t0 <= self.selected_t <= t1:
            painter.setPen(QPen(QColor("#1a73e8"), 2, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.cell_rect(self.selected_t).adjusted(-4, -4, 4, 4))
        if frame.phase != LOSS and t0 <= frame.t <= t1:
            painter.setPen(QPen(QColor(th.highlight), 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.cell_rect(frame.t).adjusted(-2, -2, 2, 2))
        # the loss node after the last cell
        if t1 >= self.T and self.has_loss:
            r = self.cell_rect(self.T)
            lr = QRectF(r.right() + GAP, r.top() + 6, LOSS_W - 10, CELL_H - 12)
            active = frame.phase != "forward"
            painter.setPen(QPen(QColor(th.highlight) if frame.phase == LOSS else fg,
                                3 if frame.phase == LOSS else 1))
            painter.setBrush(QColor(th.highlight) if active else Qt.BrushStyle.NoBrush)
            painter.drawEllipse(lr)
            painter.setPen(QPen(QColor("#202124") if active else fg))
            painter.drawText(lr, Qt.AlignmentFlag.AlignCenter, "L")
            y = r.center().y()
            self._arrow(painter, QPointF(r.right(), y), QPointF(lr.left(), y),
                        QPen(fg if active else muted, 1), 5)

    def _paint_units(self, painter: QPainter, r: QRectF, t: int) -> None:
        """Cell t's hidden units as stacked rectangles in their image colours."""
        n = self.image.height()
        h = r.height() / max(1, n)
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        for j in range(n):
            painter.setBrush(self.image.pixelColor(t - 1, j))
            painter.drawRect(QRectF(r.left(), r.top() + j * h, r.width(), h))
        painter.restore()

    @staticmethod
    def _arrow(painter: QPainter, a: QPointF, b: QPointF, pen: QPen, head: float) -> None:
        painter.setPen(pen)
        painter.drawLine(a, b)
        d = b - a
        n = math.hypot(d.x(), d.y()) or 1.0
        ux, uy = d.x() / n, d.y() / n
        head = min(head, 10.0)
        p1 = QPointF(b.x() - ux * head - uy * head * 0.6, b.y() - uy * head + ux * head * 0.6)
        p2 = QPointF(b.x() - ux * head + uy * head * 0.6, b.y() - uy * head - ux * head * 0.6)
        painter.setBrush(pen.color())
        painter.setPen(QPen(pen.color(), 1))
        painter.drawPolygon(QPolygonF([b, p1, p2]))


class UnrolledView(QGraphicsView):
    """The unrolled network of every model, sharing the session's cursor."""

    cellClicked = Signal(str, int)

    def __init__(self, adapter: SessionAdapter, theme: Theme = LIGHT,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("unrolled-view")
        self.adapter = adapter
        self.theme = theme
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        # rows paint only their exposed cells; a frame step repaints a few cells
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setToolTip(
            "The network unrolled over time, one row per model. Forward: each cell fills "
            "with its hidden state h_t (blue negative, red positive). Backward: arrows "
            "carry dL/dh_t right to left, their width and colour showing log10 of its size; "
            "watch the RNN's arrows fade while the LSTM's cell-state highway keeps them. "
            "Click a cell to inspect it; Ctrl+wheel zooms."
        )
        self.rows: dict[str, RowItem] = {}
        #: the rows of the layers below each stacked model's top row (not selectable)
        self.layer_rows: list[RowItem] = []
        self._last_frame: Frame | None = None
        self.grad_range = (GRAD_LO, GRAD_HI)
        self.labels: list = []
        self._zoom = 1.0
        self.presenter_scale = 1.0
        self.follow_cursor = True
        self.legend = Legend(self)
        self.labels = RowLabels(self)
        adapter.runsChanged.connect(self.rebuild)
        adapter.frameChanged.connect(self.show_frame)
        adapter.selectionChanged.connect(self._on_selection)
        adapter.layerChanged.connect(self.labels.update)  # the viewed layer's name in bold
        self.rebuild()
        self.show_frame()

    def rebuild(self) -> None:
        self._last_frame = None
        scene = self.scene()
        scene.clear()
        self.rows.clear()
        session = self.adapter.session
        y = 0.0
        self.layer_rows = []
        for kind, run in session.runs.items():
            row = RowItem(run, self.theme)
            row.setPos(0, y)
            row.loss_every = session.config.loss_where == "every"
            scene.addItem(row)
            self.rows[kind] = row
            y += ROW_H
            for layer in range(run.num_layers - 2, -1, -1):  # the grid: layers below the top
                lrow = RowItem(run, self.theme, layer)
                lrow.setPos(0, y)
                scene.addItem(lrow)
                self.layer_rows.append(lrow)
                y += ROW_H
        # one gradient scale for all rows spanning every finite log-magnitude (no saturation:
        # 10^-777 gets the thinnest arrow, not the same one as 10^-12)
        logs = [v for row in (*self.rows.values(), *self.layer_rows)
                for v in (row.grad_h_log, row.grad_c_log, row.depth_log) if v is not None]
        finite = np.concatenate([v[np.isfinite(v)] for v in logs]) if logs else np.empty(0)
        hi = float(np.ceil(finite.max())) if finite.size else GRAD_HI
        lo = float(np.floor(finite.min())) if finite.size else GRAD_LO
        self.grad_range = (min(lo, hi - 1.0), hi)
        for row in (*self.rows.values(), *self.layer_rows):
            row.grad_range = self.grad_range
        self.legend.update()
        self._place_overlays()  # the margin fits the new row names
        self.labels.update()
        kind, t = self.adapter.selected
        if kind in self.rows:
            self.rows[kind].selected_t = t
        # (the legend has its own margin below the viewport: see legend_margin)
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(0, -6, 10, 6))
        self.fit_height()
        self.setBackgroundBrush(QColor(self.theme.background))

    def show_frame(self, *_args) -> None:
        """Repaint only the cells whose look changed since the last frame."""
        frame = self.adapter.session.frame
        last, self._last_frame = self._last_frame, frame
        for row in (*self.rows.values(), *self.layer_rows):
            row.frame = frame
            if last is None or last.phase != frame.phase or abs(last.t - frame.t) > 2:
                row.update()
            else:  # what changes lies between the old and the new cell and the gap before
                lo, hi = min(last.t, frame.t), max(last.t, frame.t)
                left = cell_x(lo) - GAP - SLOP
                right = cell_x(hi) + CELL_W + SLOP
                row.update(QRectF(left, 0, right - left, row.boundingRect().height()))
        if self.follow_cursor and frame.phase != LOSS:
            self.ensure_visible(frame.t)
        elif frame.phase == LOSS:
            self.ensure_visible(frame.t, margin=LOSS_W + 40)

    def ensure_visible(self, t: int, margin: float = 60.0) -> None:
        """Scroll by pages: when step t leaves the view, bring it to a quarter from the edge
        it moves away from. Scrolling every frame would repaint the whole view each time."""
        left = self.mapToScene(self.viewport().rect().topLeft()).x()
        right = self.mapToScene(self.viewport().rect().bottomRight()).x()
        x = cell_x(t)
        pad = margin / 2
        if left + pad <= x and x + CELL_W + pad <= right:
            return
        width = right - left
        backward = self.adapter.session.frame.phase == BACKWARD
        target_left = x - (0.75 if backward else 0.25) * width
        bar = self.horizontalScrollBar()
        scene_left = self.sceneRect().left()
        bar.setValue(int(round((target_left - scene_left) * self._zoom)) + bar.minimum())

    def set_theme(self, theme: Theme) -> None:
        """Recolour: the rows paint from their theme (their arrays stay; a rebuild, 50-100 ms
        at T = 1000, H = 512, recomputed them for nothing)."""
        self.theme = theme
        for row in (*self.rows.values(), *self.layer_rows):
            row.theme = theme
            row.update()
        self.setBackgroundBrush(QColor(theme.background))
        self.legend.update()
        self.labels.update()

    def _on_selection(self, kind: str, t: int) -> None:
        for k, row in self.rows.items():
            row.selected_t = t if k == kind else None
            row.update()

    # interaction -----------------------------------------------------------------
    def hit(self, pos) -> tuple[str, int] | None:
        """(kind, t) of the cell under a viewport position, if any."""
        cell = self.hit_cell(pos)
        return None if cell is None else (cell[0], cell[2])

    def hit_cell(self, pos) -> tuple[str, int, int] | None:
        """(kind, layer (0-based, bottom first), t) of the cell under a viewport position,
        in any row of the grid, if any."""
        p = self.mapToScene(pos)
        for row in (*self.rows.values(), *self.layer_rows):
            local = row.mapFromScene(p)
            if 0 <= local.y() <= ROW_H:
                t = row.t_at(local.x())
                if t is not None:
                    return row.run.kind, row.layer, t
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802
        hit = self.hit_cell(event.position().toPoint())
        if hit is not None and event.button() == Qt.MouseButton.LeftButton:
            kind, layer, t = hit
            # a stacked model's cell: the one-layer views (the inspector too) show its layer
            if self.adapter.session.runs[kind].num_layers > 1:
                self.adapter.set_layer(layer)
            self.adapter.select(kind, t)
            session = self.adapter.session
            phase = BACKWARD if session.frame.phase in (BACKWARD, LOSS) else "forward"
            self.follow_cursor = False
            session.seek_to(phase, t)
            self.follow_cursor = True
            self.cellClicked.emit(kind, t)
            return
        super().mousePressEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)
            return
        if not event.modifiers() and abs(event.angleDelta().y()) > abs(event.angleDelta().x()):
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - event.angleDelta().y())
            return
        super().wheelEvent(event)

    def zoom(self, factor: float) -> None:
        new = min(max(self._zoom * factor, 0.1), 4.0 * self.presenter_scale)
        factor = new / self._zoom
        self._zoom = new
        self.scale(factor, factor)
        self.labels.update()
        self.keep_cursor_in_view()

    def keep_cursor_in_view(self) -> None:
        """Scroll so that the cursor's cell is on screen (after a zoom, resize, fit, show)."""
        frame = self.adapter.session.frame
        if frame.phase == LOSS:
            self.ensure_visible(frame.t, margin=LOSS_W + 40)
        else:
            self.ensure_visible(frame.t)

    def fit_height(self) -> None:
        """Zoom so that every model's row fits the view's height (0.5x .. 1.25x, times the
        presenter scale: cells, text and arrows all grow with the zoom)."""
        height = self.scene().sceneRect().height()
        available = self.viewport().height() - 4
        if height <= 0 or available <= 50:
            return
        top = 1.25 * self.presenter_scale
        self.zoom(min(top, max(0.5, available / height)) / self._zoom)

    def set_scale(self, factor: float) -> None:
        """Presenter mode: allow the rows to grow `factor` times larger."""
        self.presenter_scale = factor
        self.fit_height()
        self._place_overlays()  # the row names at the new font

    def fit(self) -> None:
        """Zoom so that the whole sequence fits the width, or as much of it as keeps the
        rows readable (FIT_MIN_ZOOM; a long sequence then scrolls, the cursor in view)."""
        rect = self.scene().sceneRect()
        if rect.width() <= 0:
            return
        target = max(FIT_MIN_ZOOM, min(4.0, (self.viewport().width() - 10) / rect.width()))
        self.zoom(target / self._zoom)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._place_overlays()
        self.fit_height()
        self.keep_cursor_in_view()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.keep_cursor_in_view()

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802
        super().scrollContentsBy(dx, dy)
        if dy:
            self.labels.update()

    def label_margin(self) -> int:
        """Width (pixels) of the left margin holding the row names, outside the scrolled
        viewport: cells never pass under them."""
        return self.labels.needed_width()

    def legend_margin(self) -> int:
        """Height (pixels) of the bottom margin holding the legend, outside the scrolled
        viewport like the row names: the legend never covers a cell, however the rows
        are scrolled."""
        return self.legend.height() + 2 * LEGEND_PAD

    def _place_overlays(self) -> None:
        margin, bottom = self.label_margin(), self.legend_margin()
        m = self.viewportMargins()
        if m.left() != margin or m.bottom() != bottom:
            self.setViewportMargins(margin, 0, 0, bottom)
        vp = self.viewport().geometry()
        self.legend.move(vp.x() + 8, vp.bottom() + 1 + LEGEND_PAD)
        self.labels.setGeometry(vp.x() - margin, vp.y(), margin, vp.height())
        self.legend.raise_()
        self.labels.raise_()


class RowLabels(QWidget):
    """The row names in the view's left margin (model names; for stacked models "layer l",
    bottom = 1, the layer the one-layer panels show in bold), whatever the scroll.

    A child of the view beside its viewport (`UnrolledView.label_margin`): scrolling never
    moves it and no cell is ever under it. Lines that do not fit a row's height at the
    current zoom are left out (the name first, then the layer, then the notes).
    """

    def __init__(self, view: UnrolledView) -> None:
        super().__init__(view)
        self.view = view
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    @staticmethod
    def fonts() -> tuple[QFont, QFont]:
        """(bold name font, small font) at the application's font (presenter mode)."""
        bold = QFont()
        bold.setBold(True)
        small = QFont()
        small.setPointSizeF(max(6.5, bold.pointSizeF() * 0.8))
        return bold, small

    def needed_width(self) -> int:
        """Room for the widest row name at the current font (presenter mode: larger)."""
        bold, small = self.fonts()
        fb, fs = QFontMetrics(bold), QFontMetrics(small)
        view = self.view
        names = [row.run.label for row in view.rows.values()] or ["RNN (sigmoid)"]
        width = max(fb.horizontalAdvance(n) for n in names)
        notes = ["cell state c", "⇉ per unit"] + [
            self.layer_text(row) for row in (*view.rows.values(), *view.layer_rows)]
        width = max(width, max(fs.horizontalAdvance(n) for n in notes if n))
        return width + 16

    @staticmethod
    def layer_text(row: RowItem) -> str:
        L = row.run.num_layers
        if L == 1:
            return ""
        return f"layer {row.layer + 1}" + (" (top)" if row.layer == L - 1 else "")

    def lines(self) -> list[tuple[str, QRectF, QFont, QColor]]:
        """What is drawn: (text, rectangle in this widget, font, colour) of every line of
        the rows in view."""
        view = self.view
        bold, small = self.fonts()
        muted = QColor(view.theme.muted)
        viewed = view.adapter.layer
        fs = QFontMetrics(small)
        row_h = ROW_H * view._zoom
        out = []
        for row in (*view.rows.values(), *view.layer_rows):
            top_row = row.has_loss
            r = row.cell_rect(1)
            mid = view.mapFromScene(QPointF(0, row.y() + r.center().y())).y()
            if mid < -row_h or mid > self.height() + row_h:
                continue
            colour = view.theme.model_color(row.run.kind)
            lines: list[tuple[str, QFont, QColor]] = []
            if top_row:
                lines.append((row.run.label, bold, colour))
            text = self.layer_text(row)
            if text:
                shown = (viewed if viewed is not None and viewed < row.run.num_layers - 1
                         else row.run.num_layers - 1)
                font = QFont(small)
                font.setBold(row.layer == shown)  # what the one-layer panels show
                lines.append((text, font, colour if not top_row else muted))
            if row.diagonal:
                lines.append(("⇉ per unit", small, muted))
            # as many lines as the row's height holds, centred on its cells
            heights = [QFontMetrics(f).height() for _t, f, _c in lines]
            while len(lines) > 1 and sum(heights) > 0.9 * row_h:
                lines.pop()
                heights.pop()
            y = mid - sum(heights) / 2
            for (line, font, col), h in zip(lines, heights, strict=True):
                out.append((line, QRectF(6, y, self.width() - 8, h), font, col))
                y += h
            if row.is_lstm and top_row and row_h >= 2.2 * sum(heights) + fs.height():
                hy = view.mapFromScene(QPointF(0, row.y() + 16)).y()
                out.append(("cell state c", QRectF(6, hy - fs.height() / 2, self.width() - 8,
                                                   fs.height()), small, muted))
        return out

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(self.view.theme.background))
        for text, rect, font, colour in self.lines():
            painter.setFont(font)
            painter.setPen(colour)
            painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             text)
        painter.end()


class Legend(QWidget):
    """A small fixed key in the corner of the view: hidden-state colours, arrow widths."""

    def __init__(self, view: UnrolledView) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(330, 34)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.bar_image = hidden_image(np.linspace(-1, 1, 256)[:, None])  # 256 x 1

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        theme = self.view.theme
        box = QRectF(0.5, 0.5, self.width() - 1, self.height() - 1)
        bg = QColor(theme.background)
        bg.setAlpha(230)
        painter.setPen(QPen(QColor(theme.muted), 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(box, 4, 4)
        f = QFont()
        f.setPointSizeF(7.5)
        painter.setFont(f)
        bar = QRectF(box.left() + 8, box.top() + 6, 60, 8)
        painter.drawImage(bar, self.bar_image)
        painter.setPen(QColor(theme.foreground))
        painter.drawText(QPointF(box.left() + 8, box.bottom() - 5), "h: -1    0    +1")
        x = box.left() + 100
        lo, hi = self.view.grad_range
        for i, lg in enumerate(np.linspace(lo, hi, 4).round().astype(int)):
            w, col = grad_style(lg, lo, hi)
            painter.setPen(flat_pen(col, w))
            painter.drawLine(QPointF(x + i * 55, box.top() + 10),
                             QPointF(x + i * 55 + 36, box.top() + 10))
            painter.setPen(QColor(theme.foreground))
            label = "‖dL/dh‖ 10" if i == 0 else "10"
            painter.drawText(QPointF(x + i * 55 + (0 if i else -20), box.bottom() - 5),
                             label + str(lg).translate(SUPER))
        painter.end()


SUPER = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
