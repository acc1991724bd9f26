"""A walkthrough as slides: each step on a 16:9 page (its title, its narration with the
placeholders filled in and its claims as sentences, checked on the step's run, and its
panels in the step's lecture layout), as one vector PDF or one PNG per step.

The narration is `walkthrough.render_narration` + `narration_markdown` and the claims
`walkthrough.claim_sentence`, as the Walkthrough dock shows them; the layout's widths are
`ui.lecture`'s. Everything is staged and committed as one set (a kill leaves no file under
a final name). `DeckJob` does the same in the app, a step per timer tick, each step's run
computed in a worker thread ahead of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QObject, QPoint, QRectF, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QTextDocument
from PySide6.QtWidgets import QProgressDialog, QWidget

from lstmviz.engine.files import sweep_stale
from lstmviz.export.deck import PAGE_LOGICAL, TITLE_H, deck_files, step_file, step_views
from lstmviz.export.plan import (
    Cancelled,
    Destination,
    Staging,
    check_out_dir,
    subplot_skips,
    versions,
)
from lstmviz.session import Session, frame_index
from lstmviz.ui.export.scene import HeadlessScene, layout_unrolled
from lstmviz.ui.export.writer import signals_as_cancel
from lstmviz.ui.lecture import bottom_height, narration_width, panel_widths, tall_width
from lstmviz.ui.registry import panel_names
from lstmviz.ui.render import pdf_writer, png_bytes, process_events, vector_paint
from lstmviz.ui.theme import THEMES
from lstmviz.walkthrough import (
    check_claim,
    claim_sentence,
    narration_markdown,
    render_narration,
)

MARGIN = 16


def step_frame(step, session: Session) -> int:
    if step.phase is None:
        return session.n_frames - 1
    return frame_index(step.phase, step.t or 1, step.config.seq_len)


def step_markdown(step, runs) -> str:
    """The narration with its placeholders filled from `runs`, then the claims checked on
    them, one sentence each (a failing one marked ✗)."""
    text = narration_markdown(render_narration(step, runs))
    lines = []
    for claim in step.claims:
        if claim.model not in runs:
            continue
        ok, actual = check_claim(claim, runs)
        sentence = narration_markdown(claim_sentence(claim, actual, runs[claim.model].label))
        lines.append(sentence if ok else f"**✗ {sentence}**")
    if lines:
        text += "\n\n---\n\n*Checked on this run:*\n\n" + "\n\n".join(lines)
    return text


def _document(markdown: str, width: float, colour: str, point_size: float) -> QTextDocument:
    doc = QTextDocument()
    font = doc.defaultFont()
    font.setPointSizeF(point_size)
    doc.setDefaultFont(font)
    doc.setDefaultStyleSheet(f"body {{ color: {colour}; }}")
    doc.setMarkdown(markdown)
    doc.setTextWidth(width)
    # markdown drops the default colour: set it on the whole text
    from PySide6.QtGui import QTextCharFormat, QTextCursor

    cursor = QTextCursor(doc)
    cursor.select(QTextCursor.SelectionType.Document)
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    cursor.mergeCharFormat(fmt)
    return doc


def _fit_document(markdown: str, width: float, height: float, colour: str) -> QTextDocument:
    """The narration at the largest size from 11 pt down to 6 pt that fits the column."""
    size = 11.0
    while True:
        doc = _document(markdown, width, colour, size)
        if doc.size().height() <= height or size <= 6.0:
            return doc
        size -= 0.5


class PageLayout:
    """Rectangles (logical pixels) of a step's page: title, narration column, unrolled
    network, the row of panels and the tall column (the inspector)."""

    def __init__(self, bottom: list[str], tall: list[str], unrolled_rows: int,
                 page: tuple[int, int] = PAGE_LOGICAL) -> None:
        w, h = page
        self.title = QRectF(MARGIN, 8, w - 2 * MARGIN, TITLE_H - 12)
        nw = narration_width(w)
        self.narration = QRectF(MARGIN, TITLE_H, nw - MARGIN, h - TITLE_H - MARGIN)
        x0 = nw + 8
        tw = tall_width(w) if tall else 0
        area_w = w - x0 - (tw + 8 if tall else 0) - MARGIN
        area_h = h - TITLE_H - MARGIN
        rows_h = 110 * max(1, unrolled_rows) + 60
        bh = bottom_height(area_h, rows_h) if bottom else 0
        self.rects: dict[str, QRectF] = {
            "unrolled": QRectF(x0, TITLE_H, area_w, area_h - bh - (6 if bottom else 0))}
        x = x0
        for name, pw in zip(bottom, panel_widths(bottom, int(area_w)), strict=True):
            self.rects[name] = QRectF(x, TITLE_H + area_h - bh, pw - 4, bh)
            x += pw
        if tall:
            self.rects[tall[0]] = QRectF(w - MARGIN - tw, TITLE_H, tw, area_h)


def build_step(step, theme: str, session: Session | None = None) -> tuple[HeadlessScene,
                                                                          PageLayout]:
    """The views of one step, off screen, each laid out at its rectangle of the page."""
    session = session or Session(step.config)
    bottom, tall = step_views(step.docks, panel_names())
    layout = PageLayout(bottom, tall, len(session.runs))
    names = ["unrolled", *bottom, *tall]
    scene = HeadlessScene(session, names, theme, destination=Destination(1920, 1080, 1.5),
                          hidden_subplots=subplot_skips(names, tuple(session.runs)))
    for name in names:
        r = layout.rects[name]
        if name == "unrolled":
            layout_unrolled(scene.widgets[name], (int(r.width()), int(r.height())))
        else:
            scene.widgets[name].resize(int(r.width()), int(r.height()))
    process_events(2)
    scene.adapter.set_layer(step.view_layer)
    scene.seek(step_frame(step, session))
    process_events(2)
    return scene, layout


def paint_page(painter: QPainter, step, scene: HeadlessScene, layout: PageLayout,
               page: tuple[int, int] = PAGE_LOGICAL) -> None:
    """One page, in logical coordinates of `page`, onto an active painter."""
    theme = scene.theme
    painter.fillRect(QRectF(0, 0, *page), QColor(theme.background))
    title = _document(f"## {narration_markdown(step.title)}", layout.title.width(),
                      theme.foreground, 12)
    painter.save()
    painter.translate(layout.title.topLeft())
    title.drawContents(painter, QRectF(QPoint(0, 0), layout.title.size()))
    painter.restore()
    doc = _fit_document(step_markdown(step, scene.session.runs), layout.narration.width(),
                        layout.narration.height(), theme.foreground)
    painter.save()
    painter.translate(layout.narration.topLeft())
    doc.drawContents(painter, QRectF(QPoint(0, 0), layout.narration.size()))
    painter.restore()
    flags = QWidget.RenderFlag.DrawChildren | QWidget.RenderFlag.DrawWindowBackground
    for name, rect in layout.rects.items():
        widget = scene.widgets[name]
        painter.save()
        painter.translate(rect.topLeft())
        with vector_paint(widget):
            widget.setUpdatesEnabled(True)
            widget.render(painter, QPoint(0, 0), renderFlags=flags)
        painter.restore()


def export_deck(wt, name: str, out_dir: Path, formats, *, theme: str = "light",
                size: tuple[int, int] = (1920, 1080), force: bool = True,
                progress: Callable[[int, int], bool | None] | None = None) -> list[Path]:
    """The walkthrough `wt` as slides into `out_dir` (see the module docstring); returns
    the written paths. Cancelled (nothing written) when `progress` returns False or on
    SIGINT/SIGTERM."""
    steps = list(wt.steps)
    files = deck_files(name, len(steps), formats)
    check_out_dir(Path(out_dir), files, force)
    sweep_stale(Path(out_dir), deck_files(name, len(steps), ("pdf", "png")))
    page = PAGE_LOGICAL
    ratio = size[0] / page[0]
    with signals_as_cancel() as interrupt, Staging(Path(out_dir)) as staging:
        pdf_painter = None
        if "pdf" in formats:  # into memory, then through the one writer (staging.write)
            pdf_buffer = open_buffer()
            writer = pdf_writer(pdf_buffer, *page, title=wt.title)
            pdf_painter = QPainter(writer)
        try:
            for k, step in enumerate(steps, start=1):
                interrupt.check()
                if progress is not None and progress(k - 1, len(steps)) is False:
                    raise Cancelled("deck cancelled")
                scene, layout = build_step(step, theme)
                try:
                    if pdf_painter is not None:
                        if k > 1:
                            writer.newPage()
                        paint_page(pdf_painter, step, scene, layout, page)
                    if "png" in formats:
                        image = QImage(round(page[0] * ratio), round(page[1] * ratio),
                                       QImage.Format.Format_ARGB32_Premultiplied)
                        image.setDevicePixelRatio(ratio)
                        image.fill(QColor(THEMES[theme].background))
                        p = QPainter(image)
                        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
                        paint_page(p, step, scene, layout, page)
                        p.end()
                        image.setDevicePixelRatio(1.0)
                        staging.write(step_file(name, k, len(steps)), png_bytes(image))
                finally:
                    scene.close()
            if progress is not None:
                progress(len(steps), len(steps))
        finally:
            if pdf_painter is not None:
                pdf_painter.end()
        if pdf_painter is not None:
            staging.write(f"{name}.pdf", bytes(pdf_buffer.data()))
        interrupt.check()
        listed = [{"file": f, "sha256": staging.digest(f)} for f in files[:-1]]
        manifest = {"walkthrough": str(wt.path) if wt.path else wt.title, "title": wt.title,
                    "steps": [{"step": s.index, "title": s.title} for s in steps],
                    "page": {"width": size[0], "height": size[1], "aspect": "16:9"},
                    "theme": theme, "files": listed, "versions": versions()}
        staging.write(files[-1], (json.dumps(manifest, indent=2, ensure_ascii=False)
                                  + "\n").encode("utf-8"))
        interrupt.check()
        return staging.commit()


class DeckJob(QObject):
    """Walkthroughs > Export as slides…: a step per timer tick on the GUI thread (widgets
    paint only there), each step's run computed ahead in a worker thread; a cancellable
    progress dialog; nothing written unless every page is. `finished(list of paths)`."""

    finished = Signal(list)

    def __init__(self, parent: QWidget, wt, name: str, out_dir: Path, formats, *,
                 theme: str = "light", progress: bool = True) -> None:
        super().__init__(parent)
        self.wt, self.name, self.out_dir, self.formats = wt, name, Path(out_dir), formats
        self.theme = theme
        self.steps = list(wt.steps)
        self.files = deck_files(name, len(self.steps), formats)
        check_out_dir(self.out_dir, self.files, True)
        sweep_stale(self.out_dir, deck_files(name, len(self.steps), ("pdf", "png")))
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.sessions: list[Future] = [self.pool.submit(Session, s.config) for s in self.steps]
        self.k = 0
        self.cancelled = False
        self.result: list[Path] = []
        self.staging = Staging(self.out_dir)
        self.page = PAGE_LOGICAL
        self.pdf_painter = None
        if "pdf" in formats:  # into memory, then through the one writer (staging.write)
            self.pdf_buffer = open_buffer()
            self.writer = pdf_writer(self.pdf_buffer, *self.page, title=wt.title)
            self.pdf_painter = QPainter(self.writer)
        self.dialog = QProgressDialog("Rendering the slides…", "Cancel", 0, len(self.steps),
                                      parent) if progress else None
        if self.dialog is not None:
            self.dialog.setObjectName("deck-progress")
            self.dialog.setWindowTitle("Export as slides")
            self.dialog.setMinimumDuration(0)
            self.dialog.canceled.connect(self.cancel)
        self.timer = QTimer(self)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        if self.cancelled or self.k >= len(self.steps):
            return
        future = self.sessions[self.k]
        if not future.done():
            return  # the worker is still computing this step's run
        step = self.steps[self.k]
        self.timer.stop()
        try:
            scene, layout = build_step(step, self.theme, future.result())
            try:
                if self.pdf_painter is not None:
                    if self.k > 0:
                        self.writer.newPage()
                    paint_page(self.pdf_painter, step, scene, layout, self.page)
                if "png" in self.formats:
                    ratio = 1.5
                    image = QImage(1920, 1080, QImage.Format.Format_ARGB32_Premultiplied)
                    image.setDevicePixelRatio(ratio)
                    image.fill(QColor(THEMES[self.theme].background))
                    p = QPainter(image)
                    paint_page(p, step, scene, layout, self.page)
                    p.end()
                    image.setDevicePixelRatio(1.0)
                    self.staging.write(step_file(self.name, self.k + 1, len(self.steps)),
                                       png_bytes(image))
            finally:
                scene.close()
        except Exception:
            self.cancel()
            raise
        self.k += 1
        if self.dialog is not None:
            self.dialog.setValue(self.k)
        if self.k >= len(self.steps):
            self._finish()
        elif not self.cancelled:
            self.timer.start()

    def _finish(self) -> None:
        if self.pdf_painter is not None:
            self.pdf_painter.end()
            self.pdf_painter = None
            self.staging.write(f"{self.name}.pdf", bytes(self.pdf_buffer.data()))
        listed = [{"file": f, "sha256": self.staging.digest(f)} for f in self.files[:-1]]
        manifest = {"walkthrough": str(self.wt.path) if self.wt.path else self.wt.title,
                    "title": self.wt.title, "files": listed,
                    "steps": [{"step": s.index, "title": s.title} for s in self.steps]}
        self.staging.write(self.files[-1], json.dumps(manifest, indent=2).encode("utf-8"))
        self.result = self.staging.commit()
        self.pool.shutdown(wait=False)
        self.finished.emit([str(p) for p in self.result])

    def cancel(self) -> None:
        if self.cancelled or self.result:
            return
        self.cancelled = True
        self.timer.stop()
        if self.pdf_painter is not None:
            self.pdf_painter.end()
            self.pdf_painter = None
        self.staging.discard()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.dialog is not None:
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.reset()
            self.dialog.close()
        self.finished.emit([])


def open_buffer() -> QBuffer:
    """An in-memory device open for writing (a deck's PDF before it is staged)."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    return buffer
