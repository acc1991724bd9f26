"""Render widgets to PNG and SVG exactly as the app draws them, at a requested size.

A widget is painted by its own paint code (`QWidget.render`) into an image whose device
pixel ratio scales its on-screen size up to the requested width, so stacked plots, text
items and labels all come out, sharp, with the layout the user sees. SVG uses pyqtgraph's
SVGExporter for each plot view (clipped curves as paths, labels as text) and falls back to
`QSvgGenerator` + `QWidget.render` where that exporter fails (PySide6 >= 6.11).

PDF: `QPdfWriter`, one page at the widget's logical size (vector). The views an export
builds off screen are `lstmviz.ui.export.scene.HeadlessScene`.
"""

from __future__ import annotations

import contextlib
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPalette, QRegion
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QGraphicsItem, QGraphicsView, QLabel, QWidget

from lstmviz.ui.theme import THEMES, apply_app_theme

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

def process_events(n: int = 3) -> None:
    for _ in range(n):
        QApplication.processEvents()


def scale_for(widget: QWidget, width: int | None = None, dpi: float | None = None) -> float:
    """Device pixel ratio that renders `widget` `width` pixels wide (or at `dpi`, 96 = 1)."""
    if width:
        return width / max(1, widget.width())
    if dpi:
        return dpi / 96.0
    return 1.0


def output_size(widget: QWidget, scale: float, width: int | None = None) -> QSize:
    w = int(width) if width else max(1, round(widget.width() * scale))
    return QSize(w, max(1, round(widget.height() * scale)))


@contextlib.contextmanager
def transparent_views(widget: QWidget) -> Iterator[None]:
    """Take the background fill off every graphics view inside `widget`, then put it back."""
    views = [v for v in [widget, *widget.findChildren(QGraphicsView)]
             if isinstance(v, QGraphicsView)]
    saved = [(v, v.backgroundBrush(), v.viewport().autoFillBackground()) for v in views]
    try:
        for v in views:
            v.setBackgroundBrush(QBrush(Qt.BrushStyle.NoBrush))
            v.viewport().setAutoFillBackground(False)
            v.resetCachedContent()
        yield
    finally:
        for v, brush, fill in saved:
            v.setBackgroundBrush(brush)
            v.viewport().setAutoFillBackground(fill)
            v.resetCachedContent()


@contextlib.contextmanager
def vector_paint(widget: QWidget) -> Iterator[None]:
    """No pixmap caches while painting an export (in SVG or PDF a cached item would be a
    raster image; in a PNG at another scale, blurred): every graphics item paints itself,
    then the caches come back."""
    saved: list[tuple[QGraphicsItem, QGraphicsItem.CacheMode]] = []
    views = [v for v in [widget, *widget.findChildren(QGraphicsView)]
             if isinstance(v, QGraphicsView)]
    for view in views:
        scene = view.scene()
        for item in scene.items() if scene is not None else []:
            if item.cacheMode() != QGraphicsItem.CacheMode.NoCache:
                saved.append((item, item.cacheMode()))
                item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    try:
        yield
    finally:
        for item, mode in saved:
            item.setCacheMode(mode)


@contextlib.contextmanager
def updates_enabled(widget: QWidget) -> Iterator[None]:
    """Paint a widget built off screen with updates disabled (so it is never painted for
    nothing), just for one render."""
    if widget.updatesEnabled():
        yield
        return
    widget.setUpdatesEnabled(True)
    try:
        yield
    finally:
        widget.setUpdatesEnabled(False)


@contextlib.contextmanager
def window_colour(widget: QWidget, colour: QColor | None) -> Iterator[None]:
    """Paint `widget`'s (and its children's) window background in `colour` for a moment:
    a white slide instead of the app's grey margins, or clear. None: leave it."""
    if colour is None:
        yield
        return
    had_own = widget.testAttribute(Qt.WidgetAttribute.WA_SetPalette)
    saved = QPalette(widget.palette())
    pal = QPalette(widget.palette())
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive,
                  QPalette.ColorGroup.Disabled):
        pal.setColor(group, QPalette.ColorRole.Window, colour)
    widget.setPalette(pal)
    try:
        yield
    finally:
        # an unset palette must stay unset, or later theme changes would not reach it
        widget.setPalette(saved if had_own else QPalette())


def paint_widget(widget: QWidget, painter: QPainter, background, transparent: bool) -> None:
    """Render `widget` and its children with `painter` in the export colours, then end it."""
    flags = QWidget.RenderFlag.DrawChildren | QWidget.RenderFlag.DrawWindowBackground
    colour = (QColor(Qt.GlobalColor.transparent) if transparent
              else QColor(background) if background is not None else None)
    try:
        with window_colour(widget, colour), updates_enabled(widget), (
                transparent_views(widget) if transparent else contextlib.nullcontext()):
            QWidget.render(widget, painter, QPoint(), QRegion(), flags)
    finally:
        painter.end()


def render_image(widget: QWidget, *, width: int | None = None, dpi: float | None = None,
                 background: str | QColor | None = None, transparent: bool = False) -> QImage:
    """Paint `widget` (laid out at its current size) into an image `width` pixels wide.

    The image has the widget's aspect ratio; `background` fills what the widget leaves
    unpainted (the theme's background by default), `transparent` leaves it clear.
    """
    scale = scale_for(widget, width, dpi)
    size = output_size(widget, scale, width)
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    # exact ratio for this width (a rounding of the height does not shift the content)
    image.setDevicePixelRatio(size.width() / max(1, widget.width()))
    if transparent:
        image.fill(Qt.GlobalColor.transparent)
    else:
        image.fill(QColor(background) if background is not None
                   else widget.palette().window().color())
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    # items paint themselves at this scale (a pixmap cached at the screen's scale would be
    # blurred, and clipped to its old size)
    with vector_paint(widget):
        paint_widget(widget, painter, background, transparent)
    image.setDevicePixelRatio(1.0)
    return image


def progress_strip(image: QImage, done: int, total: int, colour: str) -> QImage:
    """Draw a thin bar along the bottom of an animation frame: how far through the run it
    is (frame done of total). It also keeps consecutive frames distinct, which a GIF writer
    would otherwise merge into one."""
    h = max(2, image.height() // 160)
    w = round(image.width() * done / max(total, 1))
    painter = QPainter(image)
    painter.fillRect(QRect(0, image.height() - h, w, h), QColor(colour))
    painter.end()
    return image


def qimage_to_pil(image) -> Any:
    """A QImage (any format) as an RGB PIL image, palette-quantised for GIF."""
    from PIL import Image

    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    raw = bytes(img.constBits())[: bpl * h]
    pil = Image.frombuffer("RGB", (w, h), raw, "raw", "RGB", bpl, 1)
    return pil.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("cannot encode the PNG")
    return bytes(buffer.data())


# -- SVG ----------------------------------------------------------------------------------
def svg_with_qt(widget: QWidget, *, title: str = "", background: str | None = None,
                transparent: bool = False) -> bytes:
    """SVG through QSvgGenerator: the widget's own paint code, recorded as vector paths and
    text (clipping is approximated by Qt)."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buffer)
    gen.setSize(widget.size())
    gen.setViewBox(QRect(QPoint(), widget.size()))
    gen.setTitle(title or widget.windowTitle() or "lstmviz")
    gen.setDescription("Exported by lstmviz")
    painter = QPainter(gen)
    with vector_paint(widget):
        paint_widget(widget, painter, background, transparent)
    return bytes(buffer.data())


def _plain(text: str) -> str:
    text = re.sub(r"<br\s*/?>", " ", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def _placed(sub: ET.Element, prefix: str, pos: QPoint, w: int, h: int) -> ET.Element:
    """One view's SVG as a group at `pos`, clipped to its w x h rectangle, ids prefixed (no
    nested <svg>: Qt's own SVG renderer and SVG Tiny viewers skip those)."""
    for el in sub.iter():
        if "id" in el.attrib:
            el.set("id", prefix + el.get("id"))
        for key, value in list(el.attrib.items()):
            if "url(#" in value:
                el.set(key, value.replace("url(#", f"url(#{prefix}"))
            elif key.endswith("href") and value.startswith("#"):
                el.set(key, "#" + prefix + value[1:])
        if el.tag == f"{{{SVG_NS}}}rect" and el.get("width") == "100%":
            el.set("width", str(w))
            el.set("height", str(h))
    group = ET.Element(f"{{{SVG_NS}}}g", {"transform": f"translate({pos.x()},{pos.y()})"})
    clip = ET.SubElement(ET.SubElement(group, f"{{{SVG_NS}}}defs"), f"{{{SVG_NS}}}clipPath",
                         {"id": f"{prefix}view"})
    ET.SubElement(clip, f"{{{SVG_NS}}}rect", {"width": str(w), "height": str(h)})
    inner = ET.SubElement(group, f"{{{SVG_NS}}}g", {"clip-path": f"url(#{prefix}view)"})
    skip = {f"{{{SVG_NS}}}{t}" for t in ("title", "desc", "style")}
    for child in list(sub):
        if child.tag not in skip:
            inner.append(child)
    return group


def svg_with_pyqtgraph(widget: QWidget, *, title: str = "", background: str | None = None,
                       transparent: bool = False) -> bytes:
    """One SVG for the widget: pyqtgraph's SVGExporter for each visible plot view, placed
    where the view sits in the widget, and every visible label as text."""
    from pyqtgraph.exporters import SVGExporter

    w, h = widget.width(), widget.height()
    root = ET.Element(f"{{{SVG_NS}}}svg", {
        "width": str(w), "height": str(h), "viewBox": f"0 0 {w} {h}", "version": "1.1"})
    ET.SubElement(root, f"{{{SVG_NS}}}title").text = title or "lstmviz"
    if not transparent:
        fill = QColor(background) if background else widget.palette().window().color()
        ET.SubElement(root, f"{{{SVG_NS}}}rect", {
            "width": "100%", "height": "100%", "fill": fill.name()})
    views = [v for v in widget.findChildren(pg.GraphicsView) if v.isVisibleTo(widget)]
    if isinstance(widget, pg.GraphicsView):
        views = [widget]
    if not views:
        raise ValueError("no plot view to export")
    for k, view in enumerate(views):
        pos = view.mapTo(widget, QPoint(0, 0)) if view is not widget else QPoint(0, 0)
        exporter = SVGExporter(view.scene())
        if transparent:
            exporter.parameters()["background"] = QColor(0, 0, 0, 0)
        sub = ET.fromstring(exporter.export(toBytes=True))
        root.append(_placed(sub, f"v{k}_", pos, view.width(), view.height()))
    for label in widget.findChildren(QLabel):
        if not label.isVisibleTo(widget) or not label.text().strip():
            continue
        pos = label.mapTo(widget, QPoint(0, 0))
        font = label.font()
        size = font.pointSizeF() * 96 / 72 if font.pointSizeF() > 0 else font.pixelSize()
        align = label.alignment()
        if align & Qt.AlignmentFlag.AlignHCenter:
            x, anchor = pos.x() + label.width() / 2, "middle"
        elif align & Qt.AlignmentFlag.AlignRight:
            x, anchor = pos.x() + label.width() - 2, "end"
        else:
            x, anchor = pos.x() + 2, "start"
        # one <text> per line (rich text's <br>), each in its own colour if it sets one
        lines = [ln for ln in re.split(r"<br\s*/?>|\n", label.text()) if _plain(ln)]
        line_h = size * 1.3
        top = (pos.y() + (label.height() - line_h * len(lines)) / 2
               if align & Qt.AlignmentFlag.AlignVCenter or len(lines) == 1 else pos.y() + 2)
        default = label.palette().windowText().color().name()
        for i, line in enumerate(lines):
            colour = re.search(r"color\s*:\s*(#[0-9a-fA-F]{3,8})", line)
            text = ET.SubElement(root, f"{{{SVG_NS}}}text", {
                "x": f"{x:.1f}", "y": f"{top + i * line_h + line_h / 2 + size / 3:.1f}",
                "text-anchor": anchor,
                "font-family": font.family(), "font-size": f"{size:.1f}px",
                "fill": colour.group(1) if colour else default})
            text.text = _plain(line)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


#: SVG writers tried in order; tests replace the first to force the fallback.
def render_svg(widget: QWidget, *, title: str = "", background: str | None = None,
               transparent: bool = False) -> bytes:
    """SVG of `widget`: pyqtgraph's exporter where the widget holds plot views and it works,
    else Qt's SVG generator."""
    if widget.findChildren(pg.GraphicsView) or isinstance(widget, pg.GraphicsView):
        try:
            with updates_enabled(widget), vector_paint(widget):
                return svg_with_pyqtgraph(widget, title=title, background=background,
                                          transparent=transparent)
        except Exception:  # noqa: BLE001 - pyqtgraph 0.14 + PySide6 >= 6.11: ValueError
            pass
    return svg_with_qt(widget, title=title, background=background, transparent=transparent)


def svg_to_image(data: bytes, width: int) -> QImage:
    """Rasterise SVG bytes (for checking an export by eye)."""
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(data))
    size = renderer.defaultSize()
    h = max(1, round(size.height() * width / max(1, size.width())))
    image = QImage(width, h, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


# -- themes -------------------------------------------------------------------------------
@contextlib.contextmanager
def temporary_theme(target, name: str | None) -> Iterator[None]:
    """Apply theme `name` to `target` (a MainWindow, HeadlessScene or Panel) and restore the
    previous one afterwards. None: leave the theme alone."""
    old = getattr(target, "theme", None)
    if name is None or old is None or old.name == name:
        yield
        return
    set_theme(target, name)
    try:
        yield
    finally:
        set_theme(target, old.name)


def set_theme(target, name: str) -> None:
    """Theme `name` on a MainWindow, HeadlessScene or Panel."""
    from lstmviz.ui.panels.base import Panel

    if isinstance(target, Panel):
        apply_app_theme(THEMES[name])
        target.set_theme(THEMES[name])
    else:
        target.set_theme(name)
    process_events(2)


# -- PDF ----------------------------------------------------------------------------------
def pdf_writer(device, logical_w: int, logical_h: int, title: str = "") -> Any:
    """A QPdfWriter on `device` whose page is `logical_w` x `logical_h` logical pixels at
    96 per inch (so a widget laid out at that size fills the page), no margins."""
    from PySide6.QtCore import QMarginsF, QSizeF
    from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter

    writer = QPdfWriter(device)
    writer.setResolution(96)
    size = QPageSize(QSizeF(logical_w * 72 / 96, logical_h * 72 / 96), QPageSize.Unit.Point,
                     "lstmviz", QPageSize.SizeMatchPolicy.ExactMatch)
    writer.setPageLayout(QPageLayout(size, QPageLayout.Orientation.Portrait,
                                     QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point))
    writer.setTitle(title or "lstmviz")
    writer.setCreator("lstmviz")
    return writer


def render_pdf(widget: QWidget, *, title: str = "", background: str | None = None,
               transparent: bool = False) -> bytes:
    """One vector PDF page of `widget` at its logical size: its SVG (`render_svg`: curves
    as paths, text as text) replayed onto Qt's PDF writer. (Painting the widget straight
    onto the PDF device rasterises pyqtgraph's clipped view boxes into a JPEG.)"""
    from PySide6.QtSvg import QSvgRenderer

    svg = render_svg(widget, title=title, background=background, transparent=transparent)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = pdf_writer(buffer, widget.width(), widget.height(), title)
    painter = QPainter(writer)
    try:
        QSvgRenderer(QByteArray(svg)).render(
            painter, QRectF(0, 0, widget.width(), widget.height()))
    finally:
        painter.end()
    buffer.close()
    return bytes(buffer.data())


ProgressFn = Callable[[int, int], bool | None]
