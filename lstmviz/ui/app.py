"""Start the Qt application and the main window (or render one screenshot and exit)."""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path

from lstmviz.config import Config
from lstmviz.ui.display import use_offscreen_if_needed


def ensure_platform() -> None:
    """Use the offscreen platform when no window could open here (headless runs, CI)."""
    use_offscreen_if_needed()


def make_app():
    ensure_platform()
    from PySide6.QtWidgets import QApplication

    first = QApplication.instance() is None
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("lstmviz")
    app.setOrganizationName("lstmviz")
    if first:
        atexit.register(_delete_widgets_before_exit)
    collect_garbage_on_gui_thread()
    return app


#: Seconds between the GUI thread's garbage collections (`collect_garbage_on_gui_thread`).
GC_INTERVAL = 0.5

_collector = None


def collect_garbage_on_gui_thread():
    """From now on Python's cyclic garbage collector runs only on the GUI thread, on a timer
    (pyqtgraph's GarbageCollector: automatic collection off, a QTimer collects each
    generation past its usual threshold every GC_INTERVAL), never in whichever worker thread
    happens to allocate. A collection in a worker that freed a Qt object deadlocked: the
    worker held Qt's signal-slot mutex while destroying the object and waited for the GIL,
    which the GUI thread held while waiting for that mutex (seen in CI: a Jacobian job's
    collection while a lecture test resized a plot). Call with a QApplication; once per
    process (returns the collector)."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=GC_INTERVAL)
    return _collector


def stop_collecting_on_gui_thread() -> None:
    """Automatic collection back on, the timer stopped (tests outside Qt use Python's own)."""
    import gc

    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
    gc.enable()


def _delete_widgets_before_exit() -> None:
    """Delete every main window while the interpreter still runs (an atexit hook, so it runs
    before PySide's own, registered earlier). PySide's hook otherwise destroys the widgets
    a script left behind (closed, not deleted) during finalisation, when a pyqtgraph item's
    Python event handler can no longer run: the process then crashed on exit (SIGSEGV in
    shiboken's error reporting, seen after a window was closed during its Jacobian job)."""
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication, QMainWindow

    if QApplication.instance() is None:
        return
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    # the main windows only (their docks, plots and dialogs go with them); a parentless
    # widget may sit in a plot's scene (a proxy widget), which deletes it itself
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMainWindow) and widget.parent() is None \
                and shiboken6.isValid(widget):
            shiboken6.delete(widget)


def render_window(window, path: str | Path, size: tuple[int, int] | None = None) -> Path:
    """Show `window` (offscreen is fine), let it lay out, and save a PNG of it."""
    from PySide6.QtWidgets import QApplication

    if size:
        window.resize(*size)
    window.show()
    for _ in range(5):
        QApplication.processEvents()
    path = Path(path)
    image = window.grab()
    if not image.save(str(path), "PNG"):
        raise OSError(f"{path}: cannot write the PNG")
    return path


def run(config: Config | None = None, *, screenshot: str | None = None, frame: int | None = None,
        size: tuple[int, int] = (1500, 950), theme: str | None = None,
        walkthrough: str | None = None, step: int | None = None) -> int:
    """Open the main window on `config`; with `screenshot`, save it and return."""
    app = make_app()
    from PySide6.QtCore import QSettings

    from lstmviz.session import Session, compute_runs
    from lstmviz.ui.main_window import MainWindow
    from lstmviz.ui.walkthrough_panel import open_in_window

    config = config or Config()
    if not screenshot:
        window = open_window(config, frame=frame, theme=theme)
        if walkthrough:  # a large step computes in the background: the window answers
            open_in_window(window, walkthrough, step, wait=False)
        status = app.exec()
        return exit_now_if_jobs_run(status)
    # a screenshot waits for everything
    session = Session(config, runs=compute_runs(config, jacobians=True))
    if frame is not None:
        session.seek(frame if frame >= 0 else session.n_frames + frame)
    # a screenshot is reproducible: no saved layout or theme from this user's settings
    settings = QSettings(str(Path(screenshot).with_suffix(".ini.tmp")),
                         QSettings.Format.IniFormat)
    window = MainWindow(session, settings=settings, theme=theme or "light", restore=False)
    try:
        if walkthrough:
            window.resize(*size)
            open_in_window(window, walkthrough, step)
        render_window(window, screenshot, size)
    finally:
        window.close()
        Path(settings.fileName()).unlink(missing_ok=True)
    return 0


def open_window(config: Config, *, frame: int | None = None, theme: str | None = None,
                settings=None):
    """The interactive window on `config`, shown at once: large settings compute after it
    appears, in the background with the busy bar (never before the window, never on the
    GUI thread); the exact Jacobian norms always follow in the background."""
    from lstmviz.config import check_memory
    from lstmviz.named_weights import named_weights
    from lstmviz.session import Session, compute_runs
    from lstmviz.ui.main_window import MainWindow
    from lstmviz.ui.worker import placeholder, starts_in_background

    later = starts_in_background(config)
    if later:  # what the command line reports in one line: memory, weight files
        check_memory(config)
        named_weights(config)
    first = placeholder(config) if later else config
    session = Session(first, runs=compute_runs(first, jacobians=False))
    kw = {} if settings is None else {"settings": settings, "restore": False}
    window = MainWindow(session, **kw)

    def seek() -> None:
        if frame is not None:
            n = window.session.n_frames
            window.session.seek(max(0, min(n - 1, frame if frame >= 0 else n + frame)))

    if theme:
        window.set_theme(theme)
    window.show()
    if later:
        def arrived() -> None:
            window.recomputer.applied.disconnect(arrived)
            seek()

        window.recomputer.applied.connect(arrived)
        window.controls.set_config(config)
        compute_after_first_build(window, config)
    else:
        seek()
    return window


def exit_now_if_jobs_run(status: int) -> int:
    """Quit at once: a background job still computing (cancelled, it stops only at its next
    check) must not keep a windowless process alive; then skip the interpreter's wait."""
    from lstmviz.ui.worker import cancel_all_jobs, live_jobs

    cancel_all_jobs()
    if live_jobs():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def compute_after_first_build(window, config: Config, limit_ms: int = 3000) -> None:
    """Start computing `config` once the window has painted and built its panels (or after
    `limit_ms`): the compute's threads then never compete for the two cores of a laptop
    with the window's own first build (measured: 5 s event-loop gaps when they did)."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    clock = QElapsedTimer()
    clock.start()
    timer = QTimer(window)
    timer.setInterval(20)

    def check() -> None:
        built = getattr(window, "_painted", False) and all(
            p.built for p in window.panels.values())
        if built or clock.elapsed() > limit_ms:
            timer.stop()
            timer.deleteLater()
            window.apply_config(config)  # background: the window answers meanwhile

    timer.timeout.connect(check)
    timer.start()
