"""The one export pipeline: plan (lstmviz.export), build the views off screen for the
destination (scene.py), render each to PNG/SVG/PDF bytes, the CSV, the GIF (the one frame
loop, `animation_frames`), stage everything and commit the set. The command line
(`lstmviz export`) and the dialog (File > Export) both call `run_export`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from lstmviz.columns import COLUMNS_FILE, columns_markdown
from lstmviz.config import Config
from lstmviz.engine.files import sweep_stale
from lstmviz.export.plan import (
    DEFAULT_GIF_WIDTH,
    GIF_NAME,
    MANIFEST,
    NO_DATA,
    Cancelled,
    Destination,
    ExportError,
    ExportRequest,
    Progress,
    Staging,
    check_out_dir,
    csv_bytes,
    csv_note,
    destination,
    gif_frames,
    manifest_bytes,
    model_scalars,
    planned_files,
    shown_views,
    skip_reasons,
    subplot_skips,
    write_gif,
)
from lstmviz.ui.export.scene import HeadlessScene
from lstmviz.ui.render import (
    png_bytes,
    progress_strip,
    qimage_to_pil,
    render_image,
    render_pdf,
    render_svg,
)


# -- interruption -------------------------------------------------------------------------
class Interrupt:
    """SIGINT and SIGTERM as a flag polled between steps of an export (never an exception
    raised inside a Qt virtual or slot, which could crash or be swallowed there)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum, _frame) -> None:
        self.signum = signum

    def check(self) -> None:
        if self.signum is not None:
            raise Cancelled(f"interrupted by signal {self.signum}")


@contextmanager
def signals_as_cancel() -> Iterator[Interrupt]:
    """While an export runs on the main thread: SIGINT/SIGTERM set a flag the pipeline
    checks (then it removes its temporaries and raises Cancelled)."""
    flag = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    # (a signal the parent ignores, as a shell does for a job in the background, stays so)
    old = {s: signal.signal(s, flag) for s in (signal.SIGINT, signal.SIGTERM)
           if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield flag
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


# -- one view -----------------------------------------------------------------------------
def render_view(widget: QWidget, fmt: str, dest: Destination, *, title: str,
                background: str | None, transparent: bool, exact: bool = True
                ) -> QImage | bytes:
    """`widget` (laid out at dest.logical) as a QImage (png; encode with png_bytes) or the
    bytes of an SVG or PDF. `exact`: the PNG is the destination's size even when the
    widget could not shrink to it (its minimum size): then it is scaled to fit, centred."""
    if fmt == "png":
        size = (widget.width(), widget.height())
        if not exact or size == dest.logical:
            return render_image(widget, width=dest.width, background=background,
                                transparent=transparent)
        s = min(dest.width / size[0], dest.height / size[1])
        inner = render_image(widget, width=max(1, round(size[0] * s)), background=background,
                             transparent=transparent)
        return _centred(inner, dest, background, transparent)
    if fmt == "svg":
        return render_svg(widget, title=title, background=background, transparent=transparent)
    if fmt == "pdf":
        return render_pdf(widget, title=title, background=background, transparent=transparent)
    raise ExportError(f"--format: {fmt} is not an image format")


def _centred(inner: QImage, dest: Destination, background, transparent: bool) -> QImage:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QPainter

    image = QImage(dest.width, dest.height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent if transparent or background is None
               else QColor(background))
    painter = QPainter(image)
    painter.drawImage((dest.width - inner.width()) // 2, (dest.height - inner.height()) // 2,
                      inner)
    painter.end()
    return image


def animation_frames(scene: HeadlessScene, target: str, indices: list[int], width: int,
                     check: Callable[[int, int], None]) -> Iterator[tuple[int, QImage]]:
    """The one GIF frame loop: each frame index rendered `width` pixels wide with the
    progress strip; `check(i, n)` before each frame may raise Cancelled."""
    widget = scene.widgets[target]
    for i, index in enumerate(indices):
        check(i, len(indices))
        scene.seek(index)
        image = render_image(widget, width=width, background=scene.theme.background)
        yield index, image
        progress_strip(image, i + 1, len(indices), scene.theme.highlight)


# -- the whole export ---------------------------------------------------------------------
def prepare(config: Config, request: ExportRequest) -> list[str]:
    """Check `request` before any work: the folder, every final name, the frame; fills
    request.kinds; returns the planned file names. Raises ExportError."""
    if not request.kinds:
        request.kinds = tuple(config.models)
    destination(request)
    files = planned_files(request)
    check_out_dir(Path(request.out_dir), files, request.force)
    if request.frames_dir is not None:
        check_out_dir(Path(request.frames_dir), [], True)
    return files


def run_export(config: Config, request: ExportRequest, *, session=None,
               progress: Progress | None = None, window=None) -> list[Path]:
    """Render and write everything `request` asks for, as one set; returns the paths.

    ExportError for a bad request (before anything is written); Cancelled when `progress`
    returns False or on SIGINT/SIGTERM (nothing is written). `session`: the run to show
    (default: a new one from `config`); `window`: the "window" view (a window, or a
    callable session -> window). Needs a QApplication.
    """
    with signals_as_cancel() as interrupt:
        return drain(export_steps(config, request, session=session, progress=progress,
                                  window=window, interrupt=interrupt))


def drain(steps: Iterator[tuple[int, int]]) -> list[Path]:
    """Run `export_steps` to its end; its return value (the paths written)."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


ExportSteps = Generator[tuple[int, int], None, list[Path]]


def export_steps(config: Config, request: ExportRequest, *, session=None,
                 progress: Progress | None = None, window=None,
                 interrupt: Interrupt | None = None) -> ExportSteps:
    """`run_export` one step at a time: yields (done, total) after the checks (the first
    step: nothing built yet), after each view is built, each file rendered and before the
    commit; returns the paths written. Closing the generator part-way (a cancel) removes
    every temporary and writes nothing, as an exception does. The dialog drives it from
    its event loop (one step per turn), the command line with `drain`."""
    from lstmviz.session import Session

    interrupt = interrupt or Interrupt()
    files = prepare(config, request)
    out_dir = Path(request.out_dir)
    sweep_stale(out_dir, files)
    dest = destination(request)
    session = session or Session(config)
    interrupt.check()
    last = session.n_frames - 1
    frame_index = last if request.frame is None else request.frame
    if not -session.n_frames <= frame_index <= last:
        raise ExportError(f"--frame: {frame_index} is out of range; this run has frames "
                          f"0 to {last}")
    frame_index %= session.n_frames
    start_cursor = session.cursor
    gif = "gif" in request.formats
    shown = shown_views(request)
    skipped = (skip_reasons(request.names, request.kinds)
               if request.skip_inapplicable else {})
    sub_skips = subplot_skips(shown, request.kinds)
    still = [n for n in shown if any(f in request.formats
                                     for f in ("png", "svg", "pdf", "csv"))]
    build = list(dict.fromkeys(still + ([request.gif_target] if gif else [])))
    total = len(build) + len(still) + int(gif) + 1
    done = 0
    yield done, total
    scene = HeadlessScene(session, [], request.theme, destination=dest,
                          cursor=request.cursor, window=window, hidden_subplots=sub_skips)
    try:
        scene.adapter.set_layer(request.layer)
    except IndexError as exc:
        scene.close()
        raise ExportError(f"--layer: {request.layer + 1} is out of range; the models have "
                          f"{scene.adapter.num_layers} layer(s)") from exc
    written: list[dict] = []
    encoded: dict[str, Future] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))

    def name_of(file: str) -> str:
        return request.rename.get(file, file)

    try:
        with Staging(out_dir) as staging:
            for name in build:
                interrupt.check()
                for _ in scene.add_steps(name, window):  # (a view is made in steps too)
                    yield done, total
                done += 1
                yield done, total
            scene.seek(frame_index)
            frame = session.frame
            for name in still:
                interrupt.check()
                widget = scene.widgets[name]
                bg = None if name == "window" and window is not None and isinstance(
                    window, QWidget) else scene.theme.background
                for fmt in request.formats:
                    file = name_of(f"{name}.{fmt}")
                    if fmt in ("png", "svg", "pdf"):
                        out = render_view(widget, fmt, dest, background=bg,
                                          title=f"lstmviz {name} — {frame.label}",
                                          transparent=request.transparent,
                                          exact=name != "window")
                        entry = {"file": file, "view": name, "format": fmt}
                        if fmt == "png":
                            # PNG compression is the slow part: in threads (no GIL)
                            encoded[file] = pool.submit(png_bytes, out)
                            entry.update(width=out.width(), height=out.height())
                        else:
                            staging.write(file, out)
                            entry.update(width=widget.width(), height=widget.height(),
                                         units="logical px (96 per inch)")
                        written.append(entry)
                    elif fmt == "csv" and name not in NO_DATA:
                        cols = scene.columns(name)
                        staging.write(file, csv_bytes(cols, csv_note(name, frame.label)))
                        written.append({"file": file, "view": name, "format": "csv",
                                        "columns": list(cols)})
                done += 1
                yield done, total
            for file, future in encoded.items():
                while not future.done():  # the event loop runs while the threads encode
                    yield done, total
                    future_wait(future)
                staging.write(file, future.result())
                interrupt.check()
            if gif:
                written.append(_animate(scene, request, staging, progress, interrupt))
                scene.seek(frame_index)
                done += 1
                yield done, total
            csvs = {f["file"]: f["columns"] for f in written if f["format"] == "csv"}
            if csvs:  # what every column is, from the one table in lstmviz.columns
                staging.write(name_of(COLUMNS_FILE),
                              columns_markdown(csvs).encode("utf-8"))
                written.append({"file": name_of(COLUMNS_FILE), "format": "md",
                                "describes": list(csvs)})
            for entry in written:
                entry["sha256"] = staging.digest(entry["file"])
            interrupt.check()
            if request.manifest:
                extra = {"models": model_scalars(session),
                         "size": {"width": dest.width, "height": dest.height,
                                  "preset": request.preset if request.size is None
                                  and request.width is None else None,
                                  "dpi": dest.dpi, "device_pixel_ratio": dest.ratio},
                         "cursor": request.cursor,
                         "layer": (scene.adapter.num_layers if request.layer is None
                                   else request.layer + 1),
                         "skipped": [{"view": v, "reason": r}
                                     for v, r in skipped.items()],
                         "skipped_subplots": sub_skips}
                staging.write(name_of(MANIFEST), manifest_bytes(
                    config, request, frame, written, extra))
            interrupt.check()
            paths = staging.commit()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        scene.close()
        if session.cursor != start_cursor and window is not None:
            session.seek(start_cursor)
    return paths


def future_wait(future: Future, seconds: float = 0.01) -> None:
    """Wait a little for `future` (a step's worth, so the caller's event loop runs)."""
    from concurrent.futures import wait

    wait([future], timeout=seconds)


def _animate(scene: HeadlessScene, request: ExportRequest, staging: Staging,
             progress: Progress | None, interrupt: Interrupt) -> dict:
    """Render the run frame by frame into a staged GIF (and PNG frames if asked)."""
    session = scene.session
    indices = gif_frames(session.n_frames, request.stride)
    width = request.width or (request.size[0] if request.size else DEFAULT_GIF_WIDTH)
    frames_stage = Staging(request.frames_dir) if request.frames_dir is not None else None

    def check(i: int, n: int) -> None:
        interrupt.check()
        if progress is not None and progress(i, n) is False:
            raise Cancelled("animation cancelled")

    images = []
    try:
        for index, image in animation_frames(scene, request.gif_target, indices, width, check):
            if frames_stage is not None:  # the frames as the app shows them
                frames_stage.write(f"frame_{index:05d}.png", png_bytes(image))
            images.append(image)
        check(len(indices), len(indices))
        images = [qimage_to_pil(im) for im in images]
        name = request.rename.get(GIF_NAME, GIF_NAME)
        path = staging.path_for(name)
        n = write_gif(images, path, request.fps, target=staging.out_dir / name)
        interrupt.check()
        if frames_stage is not None:
            frames_stage.commit()
    except BaseException:
        if frames_stage is not None:
            frames_stage.discard()
        raise
    return {"file": request.rename.get(GIF_NAME, GIF_NAME), "view": request.gif_target,
            "format": "gif", "frames": n,
            "frame_indices": indices if len(indices) < session.n_frames else "all",
            "stride": indices[1] - indices[0] if len(indices) > 1 else 1,
            "fps": request.fps, "width": images[0].width, "height": images[0].height}
