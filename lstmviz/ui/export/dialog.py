"""File > Export: the current panel, all panels, the window, the unrolled network, or the
run as an animated GIF; and "Export…" on every panel's right-click menu.

The dialog remembers its last choices in `window.settings` (keys under "export/"). Images
are rendered by `lstmviz.ui.render` from the widgets on screen, scaled to the requested
width (or DPI), in the requested theme (applied for the export, then restored).
Widgets can only be painted on the GUI thread, so the dialog's exports never run there in
one go: an image export (ExportJob) runs the pipeline one step per event-loop turn (a view
built, a file rendered; PNG compression in threads) and the animation a few frames per
timer tick (then encodes the GIF in a thread), each with a cancellable QProgressDialog;
both write all or nothing.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import shiboken6
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QWidget,
)

from lstmviz.export.plan import (
    DEFAULT_GIF_WIDTH,
    DEFAULT_WIDTH,
    NO_DATA,
    PRESETS,
    Cancelled,
    ExportError,
    ExportRequest,
    Staging,
    destination,
    gif_frames,
    planned_files,
    write_gif,
)
from lstmviz.ui.worker import pause_jobs, resume_jobs

# The off-screen scene, the writer and the render helpers are imported where an export runs:
# the window installs its Export menu at launch, before anything is exported.

FORMATS = [("png", "PNG image"), ("svg", "SVG (vector)"), ("pdf", "PDF (vector)"),
           ("csv", "CSV (the plotted numbers)")]
SIZE_CHOICES = [("slide", "Slide 16:9 (1920×1080)"), ("slide-4:3", "Slide 4:3 (1440×1080)"),
                ("square", "Square (1080×1080)"), ("paper", "Paper column (3.5 in, 300 dpi)"),
                ("custom", "Custom size")]
THEME_CHOICES = [("light", "Light (slides)"), ("dark", "Dark (as on screen)"),
                 ("", "Current theme")]
FRAMES_PER_TICK = 2


@dataclass
class ExportOptions:
    fmt: str = "png"
    use_dpi: bool = False
    width: int = DEFAULT_WIDTH
    height: int = 1080
    preset: str = "slide"
    dpi: int = 192
    theme: str = "light"
    transparent: bool = False
    path: str = ""
    fps: int = 10

    @classmethod
    def load(cls, settings) -> ExportOptions:
        d = cls()

        def get(key, default, kind):
            value = settings.value(f"export/{key}", default)
            try:
                return kind(value) if kind is not bool else str(value).lower() in ("true", "1")
            except (TypeError, ValueError):
                return default

        return cls(fmt=get("format", d.fmt, str), use_dpi=get("use_dpi", d.use_dpi, bool),
                   width=get("width", d.width, int), dpi=get("dpi", d.dpi, int),
                   height=get("height", d.height, int), preset=get("preset", d.preset, str),
                   theme=get("theme", d.theme, str),
                   transparent=get("transparent", d.transparent, bool),
                   path=get("path", d.path, str), fps=get("fps", d.fps, int))

    def save(self, settings) -> None:
        for key, value in (("format", self.fmt), ("use_dpi", self.use_dpi),
                           ("width", self.width), ("dpi", self.dpi), ("theme", self.theme),
                           ("height", self.height), ("preset", self.preset),
                           ("transparent", self.transparent), ("path", self.path),
                           ("fps", self.fps)):
            settings.setValue(f"export/{key}", value)


# -- what can be exported -----------------------------------------------------------------
def targets(window, what: str) -> list[tuple[str, QWidget]]:
    """(name, widget) pairs for "current", "panels", "window", "unrolled" or a panel name."""
    if what == "panels":
        return [(n, p) for n, p in window.panels.items() if window.docks[n].isVisible()] or \
            list(window.panels.items())
    if what == "window":
        return [("window", window)]
    if what == "unrolled":
        return [("unrolled", window.unrolled)]
    if what == "current":
        name = current_panel(window)
        return [(name, window.panels[name])]
    return [(what, window.panels[what])]


def current_panel(window) -> str:
    """The panel that has (or last had) focus or was last right-clicked; else the first
    visible one."""
    name = getattr(window, "_export_last_panel", None)
    if name in window.panels:
        return name
    for n in window.panels:
        if window.docks[n].isVisible() and not window.docks[n].visibleRegion().isEmpty():
            return n
    return next(iter(window.panels))


class _FocusTracker(QObject):
    """Remembers the panel that last had focus (a child of the window, so the connection
    to the application ends with it)."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window
        QApplication.instance().focusChanged.connect(self.on_focus)

    def on_focus(self, _old, new) -> None:
        while new is not None:
            for name, panel in self.window_.panels.items():
                if new is panel:
                    self.window_._export_last_panel = name
                    return
            new = new.parentWidget()


def install_export(window) -> None:
    """File > Export submenu and a right-click "Export…" on every panel of `window`."""
    menu = QMenu("&Export", window)
    menu.setObjectName("export-menu")
    window.export_menu = menu
    window.export_actions = {}
    for key, text, tip in (
        ("current", "&Current panel…", "The panel with focus (or last clicked)"),
        ("panels", "&All panels…", "Every open panel, one file each, into a folder"),
        ("window", "Whole &window…", "The whole window as it is on screen"),
        ("unrolled", "&Unrolled network…", "The unrolled network view"),
        ("gif", "&Animation (GIF)…", "The run from the first forward to the last backward "
         "step, as an animated GIF"),
    ):
        action = QAction(text, window)
        action.setObjectName(f"export-{key}")
        action.setStatusTip(tip)
        if key == "gif":
            menu.addSeparator()
            action.triggered.connect(lambda _=False: open_animation_dialog(window))
        else:
            action.triggered.connect(lambda _=False, k=key: open_export_dialog(window, k))
        menu.addAction(action)
        window.export_actions[key] = action
    quit_action = next((a for a in window.file_menu.actions() if a.text() == "&Quit"), None)
    if quit_action is not None:
        window.file_menu.insertMenu(quit_action, menu)
        window.file_menu.insertSeparator(quit_action)
    else:
        window.file_menu.addMenu(menu)
    install_slides(window)
    window._export_last_panel = None
    window._export_focus = _FocusTracker(window)
    for name, panel in window.panels.items():
        panel.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        panel.customContextMenuRequested.connect(
            lambda pos, n=name: _panel_menu(window, n, pos))


def install_slides(window) -> None:
    """Walkthroughs > Export as slides…: the open (or a chosen built-in) walkthrough as a
    PDF deck, a page per step (lstmviz.ui.export.deck.DeckJob: progress, cancel)."""
    menu = window.findChild(QMenu, "menu-walkthroughs")
    if menu is None:
        return
    action = QAction("Export as &slides…", window)
    action.setObjectName("export-slides")
    action.setStatusTip("The walkthrough as a PDF deck, one 16:9 page per step")
    action.triggered.connect(lambda _=False: open_slides_dialog(window))
    menu.addSeparator()
    menu.addAction(action)
    window.export_actions = getattr(window, "export_actions", {})
    window.export_actions["slides"] = action


def open_slides_dialog(window):
    """Ask which walkthrough (the open one, else a built-in), the folder and the format,
    then start the deck job."""
    from PySide6.QtWidgets import QInputDialog

    from lstmviz.walkthrough import find_walkthrough, list_builtin, load_walkthrough

    tool = getattr(window, "tools", {}).get("walkthrough")
    wt = getattr(tool, "walkthrough", None)
    if wt is None:
        builtins = list_builtin()
        titles = [t for _n, t in builtins]
        title, ok = QInputDialog.getItem(window, "Export as slides", "Walkthrough", titles,
                                         0, False)
        if not ok:
            return None
        name = builtins[titles.index(title)][0]
        path = find_walkthrough(name)
        wt = load_walkthrough(path)
    options = ExportOptions.load(window.settings)
    start = options.path if options.path and Path(options.path).is_dir() else str(Path.home())
    folder = QFileDialog.getExistingDirectory(window, "Export slides to folder", start)
    if not folder:
        return None
    fmt, ok = QInputDialog.getItem(window, "Export as slides", "Format",
                                   ["pdf", "png", "pdf,png"], 0, False)
    if not ok:
        return None
    return export_slides(window, wt, Path(folder), tuple(fmt.split(",")))


def export_slides(window, wt, folder: Path, formats=("pdf",), *, ask: bool = True,
                  progress: bool = True):
    """Start the deck job for `wt` into `folder` (asking before replacing files)."""
    from lstmviz.export.deck import deck_files
    from lstmviz.ui.export.deck import DeckJob

    name = wt.path.stem if wt.path is not None else "walkthrough"
    existing = [folder / f for f in deck_files(name, len(wt.steps), formats)
                if (folder / f).exists()]
    if existing and ask and not _ask_overwrite(window, existing):
        return None
    job = DeckJob(window, wt, name, folder, formats, progress=progress)
    job.finished.connect(lambda paths: paths and window.statusBar().showMessage(
        f"Exported {len(paths)} file(s) to {folder}", 8000))
    window._export_job = job
    return job


def panel_menu(window, name: str) -> QMenu:
    """The right-click menu of panel `name` (built on demand; tests inspect it)."""
    panel = window.panels[name]
    menu = QMenu(panel)
    menu.setObjectName(f"export-context-{name}")
    a = menu.addAction("Export…")
    a.triggered.connect(lambda _=False: open_export_dialog(window, name))
    b = menu.addAction("Export animation (GIF)…")
    b.triggered.connect(lambda _=False: open_animation_dialog(window, name))
    return menu


def _panel_menu(window, name: str, pos: QPoint) -> None:
    window._export_last_panel = name
    menu = panel_menu(window, name)
    menu.popup(window.panels[name].mapToGlobal(pos))


# -- the dialog ---------------------------------------------------------------------------
class ExportDialog(QDialog):
    """Format, size (pixels wide or DPI), theme, transparency and where to save."""

    def __init__(self, window, what: str, *, animation: bool = False) -> None:
        super().__init__(window)
        self.window_, self.what, self.animation = window, what, animation
        self.items = targets(window, what) if not animation else []
        self.setObjectName("export-dialog")
        self.options = ExportOptions.load(window.settings)
        several = len(self.items) > 1
        title = ("Export animation" if animation else
                 f"Export {', '.join(n for n, _ in self.items)}" if len(self.items) < 3 else
                 "Export all panels")
        self.setWindowTitle(title)
        form = QFormLayout(self)
        self.format = QComboBox()
        for key, label in (FORMATS if not animation else [("gif", "Animated GIF")]):
            self.format.addItem(label, key)
        if not animation:
            self.format.setCurrentIndex(max(0, self.format.findData(self.options.fmt)))
        form.addRow("Format", self.format)

        self.preset = QComboBox()
        self.preset.setObjectName("export-size")
        for key, label in SIZE_CHOICES:
            self.preset.addItem(label, key)
        self.preset.setCurrentIndex(max(0, self.preset.findData(
            "custom" if animation else self.options.preset)))
        self.preset.setEnabled(not animation)
        form.addRow("Size", self.preset)
        size_row = QWidget()
        h = QHBoxLayout(size_row)
        h.setContentsMargins(0, 0, 0, 0)
        self.width_box = QSpinBox()
        self.width_box.setRange(16, 16000)
        self.width_box.setSuffix(" px")
        self.width_box.setValue(DEFAULT_GIF_WIDTH if animation else self.options.width)
        self.height_box = QSpinBox()
        self.height_box.setRange(16, 16000)
        self.height_box.setSuffix(" px")
        self.height_box.setValue(self.options.height)
        self.by_dpi = QCheckBox("DPI")
        self.by_width = self.by_dpi  # (older name)
        self.dpi_box = QSpinBox()
        self.dpi_box.setRange(24, 1200)
        self.dpi_box.setValue(self.options.dpi)
        self.by_dpi.setChecked(self.options.use_dpi and not animation)
        self.by_dpi.setEnabled(not animation)
        for w in (self.width_box, QLabel("×"), self.height_box, self.by_dpi, self.dpi_box):
            h.addWidget(w)
        self.height_box.setVisible(not animation)
        form.addRow("", size_row)

        def custom(_i=0) -> None:
            on = animation or self.preset.currentData() == "custom"
            self.width_box.setEnabled(on)
            self.height_box.setEnabled(on)

        self.preset.currentIndexChanged.connect(custom)
        custom()

        self.theme = QComboBox()
        for key, label in THEME_CHOICES:
            self.theme.addItem(label, key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(self.options.theme)))
        form.addRow("Theme", self.theme)
        self.transparent = QCheckBox("transparent background")
        self.transparent.setChecked(self.options.transparent)
        self.transparent.setEnabled(not animation)
        form.addRow("", self.transparent)
        if animation:
            self.fps = QSpinBox()
            self.fps.setRange(1, 60)
            self.fps.setValue(self.options.fps)
            form.addRow("Frames per second", self.fps)
            self.source = QComboBox()
            self.source.addItem("Unrolled network", "unrolled")
            for name, panel in window.panels.items():
                self.source.addItem(panel.title, name)
            self.source.setCurrentIndex(max(0, self.source.findData(what)))
            form.addRow("Animate", self.source)
            n = window.session.n_frames
            kept = len(gif_frames(n, None))
            note = QLabel(f"{n} frames" + (f"; keeping {kept} (every "
                                           f"{gif_frames(n, None)[1]}th)" if kept < n else ""))
            form.addRow("", note)

        path_row = QWidget()
        h = QHBoxLayout(path_row)
        h.setContentsMargins(0, 0, 0, 0)
        self.path = QLineEdit(self._default_path(several))
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(several))
        h.addWidget(self.path, 1)
        h.addWidget(browse)
        form.addRow("Folder" if several else "File", path_row)
        self.format.currentIndexChanged.connect(lambda _i: self._fix_suffix(several))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _default_path(self, several: bool) -> str:
        last = Path(self.options.path) if self.options.path else Path.home() / "lstmviz.png"
        folder = last if (last.is_dir() or (several and not last.suffix)) else last.parent
        if several:
            return str(folder)
        name = "animation" if self.animation else self.items[0][0]
        return str(folder / f"{name}.{self.fmt}")

    @property
    def fmt(self) -> str:
        return self.format.currentData()

    def _fix_suffix(self, several: bool) -> None:
        if not several:
            self.path.setText(str(Path(self.path.text()).with_suffix(f".{self.fmt}")))

    def _browse(self, several: bool) -> None:
        if several:
            path = QFileDialog.getExistingDirectory(self, "Export to folder", self.path.text())
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(),
                                                  f"{self.fmt.upper()} (*.{self.fmt})")
        if path:
            self.path.setText(path)

    def chosen(self) -> ExportOptions:
        o = ExportOptions(fmt=self.fmt, use_dpi=self.by_dpi.isChecked(),
                          width=self.width_box.value(), dpi=self.dpi_box.value(),
                          height=self.height_box.value(),
                          preset=self.preset.currentData(),
                          theme=self.theme.currentData(),
                          transparent=self.transparent.isChecked(), path=self.path.text(),
                          fps=self.fps.value() if self.animation else self.options.fps)
        return o

    def _overwrite(self, existing: list[Path]) -> bool:
        """Ask before replacing files (a single file: its own save dialog already asked
        when it was browsed to; asked again here, as the path may be typed)."""
        return _ask_overwrite(self, existing)

    def accept(self) -> None:
        options = self.chosen()
        try:
            if self.animation:
                target = Path(options.path).expanduser()
                if target.exists() and not self._overwrite([target]):
                    return
                export_animation(self.window_, self.source.currentData(), options)
            else:
                existing = existing_files(self.window_, self.items, options)
                if existing and not self._overwrite(existing):
                    return
                start_export_job(self.window_, self.items, options)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Cannot export", str(exc))
            return
        if not self.animation:
            remembered = options
        else:
            remembered = ExportOptions.load(self.window_.settings)
            remembered.fps, remembered.theme = options.fps, options.theme
        remembered.save(self.window_.settings)
        super().accept()


def _ask_overwrite(parent, existing: list[Path]) -> bool:
    names = ", ".join(p.name for p in existing[:6]) + (" …" if len(existing) > 6 else "")
    answer = QMessageBox.question(
        parent, "Replace files?",
        f"{len(existing)} file(s) exist in {existing[0].parent}: {names}. Replace them?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def open_export_dialog(window, what: str) -> ExportDialog:
    dialog = ExportDialog(window, what)
    dialog.open()
    return dialog


def open_animation_dialog(window, what: str = "unrolled") -> ExportDialog:
    dialog = ExportDialog(window, what, animation=True)
    dialog.open()
    return dialog


# -- doing it -----------------------------------------------------------------------------
def check_ready(window) -> None:
    """ValueError while the runs shown are forward passes whose backward pass still
    computes (a long recompute's first picture): an export then would hold no gradients."""
    if not window.session.gradients_ready:
        raise ValueError("The backward pass of these settings is still computing (see the "
                         "progress in the status bar): export once it is done.")


def request_for(window, items: list[tuple[str, QWidget]], options: ExportOptions, *,
                force: bool = True, formats: tuple[str, ...] | None = None) -> ExportRequest:
    """The export request of the dialog's choices: several views go into the folder
    options.path as NAME.FMT with a manifest; one goes to the file options.path."""
    check_ready(window)
    path = Path(options.path).expanduser()
    several = len(items) > 1
    if several and not path.is_dir():
        raise ValueError(f"{path}: no such folder")
    if not several and not path.parent.is_dir():
        raise ValueError(f"{path.parent}: no such folder")
    fmt = options.fmt
    names = tuple(n for n, _w in items)
    size = None
    if options.preset == "custom":
        size = (options.width, options.height)
    return ExportRequest(
        out_dir=path if several else path.parent, formats=formats or (fmt,), names=names,
        theme=options.theme or window.theme.name, force=force,
        frame=window.session.cursor, transparent=options.transparent, size=size,
        preset=options.preset if options.preset in PRESETS else "slide",
        dpi=float(options.dpi) if options.use_dpi else None,
        rename={} if several else {f"{names[0]}.{fmt}": path.name},
        manifest=several, kinds=tuple(window.session.runs), layer=window.adapter.layer,
        # one view asked for by name is written even where it does not apply
        skip_inapplicable=several,
        source={"app": "File > Export"})


def existing_files(window, items, options: ExportOptions) -> list[Path]:
    """Files the export would replace."""
    request = request_for(window, items, options)
    request.kinds = tuple(window.session.runs)
    return [Path(request.out_dir) / f for f in planned_files(request)
            if (Path(request.out_dir) / f).exists()]


def export_items(window, items: list[tuple[str, QWidget]], options: ExportOptions, *,
                 force: bool = True) -> list[Path]:
    """Write each (name, widget) as options.fmt through the one pipeline (run_export):
    rendered off screen at the chosen size, all or nothing. Returns the written paths
    (views without numbers get no CSV)."""
    request = request_for(window, items, options, force=force)
    if options.fmt == "csv":
        request.names = tuple(n for n in request.names if n not in NO_DATA)
        if not request.names:
            return []
    # the whole window is rendered as it is on screen, in the export's theme for a moment
    from lstmviz.ui.export.writer import run_export
    from lstmviz.ui.render import temporary_theme

    theme = request.theme if "window" in request.names else None
    try:
        with temporary_theme(window, theme):
            written = run_export(window.session.config, request, session=window.session,
                                 window=window)
    except ExportError as exc:
        raise ValueError(str(exc)) from None
    except Cancelled:
        return []
    if written:
        window.statusBar().showMessage(
            f"Exported {', '.join(p.name for p in written)} to {written[0].parent}", 8000)
    return written


class ExportJob(QObject):
    """File > Export of one or several views without blocking the window: the pipeline's
    steps (`export_steps`: build a view, render a file, commit the set) run one per
    event-loop turn, PNG compression in threads, with a cancellable progress dialog.
    All or nothing: a cancel or a failure part-way removes every temporary and leaves
    the files that were there as they were. `finished(list of paths; empty: nothing
    written)`; `error` holds the message of a failure (also shown in a message box)."""

    finished = Signal(list)

    def __init__(self, window, items: list[tuple[str, QWidget]], options: ExportOptions, *,
                 progress: bool = True) -> None:
        # no Qt parent: a window deleted while a step runs must not delete the job under
        # it (the job then ends at that step's end, cancelled); _RUNNING holds it meanwhile
        super().__init__()
        from lstmviz.ui.export.writer import export_steps
        from lstmviz.ui.render import temporary_theme

        self.window_ = window
        self.request = request_for(window, items, options)
        if options.fmt == "csv":
            self.request.names = tuple(n for n in self.request.names if n not in NO_DATA)
        self.result: list[Path] | None = None
        self.error: str | None = None
        self.cancelled = False
        self._in_tick = False
        self._theme = ExitStack()
        # the whole window is rendered as it is on screen, in the export's theme meanwhile
        if "window" in self.request.names:
            self._theme.enter_context(temporary_theme(window, self.request.theme))
        self.dialog = None
        if not self.request.names:  # (CSV of drawings only: nothing to write)
            self._theme.close()
            self.result = []
            QTimer.singleShot(0, self, lambda: self.finished.emit([]))
            return
        self._steps = export_steps(window.session.config, self.request,
                                   session=window.session, window=window)
        try:
            done, total = next(self._steps)  # the checks: a bad request raises here
        except ExportError as exc:
            self._theme.close()
            raise ValueError(str(exc)) from None
        except BaseException:
            self._theme.close()
            raise
        self.dialog = QProgressDialog("Exporting…", "Cancel", 0, total, window) \
            if progress else None
        if self.dialog is not None:
            self.dialog.setObjectName("export-progress")
            self.dialog.setWindowTitle("Export")
            self.dialog.setMinimumDuration(300)
            self.dialog.canceled.connect(self.cancel)
            self.dialog.setValue(done)
        self.timer = QTimer(self)
        self.timer.setInterval(0)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        _RUNNING.add(self)
        pause_jobs(self)  # the background jobs wait meanwhile: the cores are the export's
        # closing the window or quitting cancels the export (nothing written, no wait)
        window.installEventFilter(self)
        QApplication.instance().aboutToQuit.connect(self.cancel)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.Close, QEvent.Type.DeferredDelete) and self.running:
            self.cancel()
        return False

    @property
    def running(self) -> bool:
        return self.result is None and self.error is None and not self.cancelled

    def _tick(self) -> None:
        if self._in_tick or not self.running:  # the pipeline's own event processing
            return
        pause_jobs(self)  # renewed at each turn: the pause lapses if the turns stop
        self._in_tick = True
        try:
            done, total = next(self._steps)
        except StopIteration as stop:
            self._end(stop.value or [], None)
            return
        except Cancelled:
            self._end([], None)
            return
        except Exception as exc:  # noqa: BLE001 - one message, nothing written
            self._end([], str(exc) or type(exc).__name__)
            return
        finally:
            self._in_tick = False
        if self.cancelled:  # asked while the step ran: stop here (nothing written)
            self._stop()
            return
        if self.dialog is not None:
            self.dialog.setMaximum(total)
            self.dialog.setValue(done)

    def cancel(self) -> None:
        """Stop now: the temporaries are removed, no file is replaced."""
        if not self.running:
            return
        self.cancelled = True
        if not self._in_tick:  # else the tick stops once its step returns
            self._stop()

    def _stop(self) -> None:
        self._steps.close()  # GeneratorExit inside: the staging is discarded
        self._end([], None)

    def _end(self, paths: list[Path], error: str | None) -> None:
        self.timer.stop()
        _RUNNING.discard(self)
        resume_jobs(self)
        alive = shiboken6.isValid(self.window_)  # (it may have been deleted meanwhile)
        if alive:
            self._theme.close()
            self.window_.removeEventFilter(self)
        QApplication.instance().aboutToQuit.disconnect(self.cancel)
        self.error = error
        if error is None and not self.cancelled:
            self.result = list(paths)
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.reset()
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = None
        if error is not None:
            QMessageBox.warning(self.window_ if alive else None, "Cannot export", error)
        elif paths and alive:
            self.window_.statusBar().showMessage(
                f"Exported {', '.join(p.name for p in paths)} to {paths[0].parent}", 8000)
        self.finished.emit(list(paths) if self.result is not None else [])

    def wait(self, msecs: int = 120000) -> list[Path]:
        """Run the event loop until the job ends (tests and scripts)."""
        import time

        deadline = time.monotonic() + msecs / 1000
        while self.running and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.001)
        return self.result or []


#: Export jobs running (they have no Qt parent: this holds them until they end).
_RUNNING: set[ExportJob] = set()


def start_export_job(window, items: list[tuple[str, QWidget]], options: ExportOptions, *,
                     progress: bool = True) -> ExportJob:
    """Start File > Export of `items` in the background of the event loop (ExportJob)."""
    job = ExportJob(window, items, options, progress=progress)
    window._export_job = job
    return job


class AnimationExport(QObject):
    """Render the run frame by frame (a few per timer tick, through the pipeline's one
    frame loop, `animation_frames`, on views built off screen at the requested size),
    then encode the GIF in a thread; cancel leaves no file. `finished(path or "")`."""

    finished = Signal(str)

    def __init__(self, window, target: str, options: ExportOptions, *,
                 progress: bool = True) -> None:
        from lstmviz.ui.export.scene import HeadlessScene
        from lstmviz.ui.export.writer import animation_frames

        super().__init__(window)
        self.window_ = window
        self.target = target
        self.options = options
        self.path = Path(options.path).expanduser()
        if not self.path.parent.is_dir():
            raise ValueError(f"{self.path.parent}: no such folder")
        session = window.session
        self.indices = gif_frames(session.n_frames, None)
        self.start_cursor = session.cursor
        self.images: list = []
        self.done = 0
        self.result: Path | None = None
        self.cancelled = False
        self._thread: threading.Thread | None = None
        self._in_tick = False
        self._error: BaseException | None = None
        self._staging = Staging(self.path.parent)
        if hasattr(window, "playback"):
            window.playback.play(False)
        width = options.width
        height = max(16, round(width * 9 / 16))
        request = ExportRequest(out_dir=self.path.parent, size=(width, height))
        self.scene = HeadlessScene(session, [target], options.theme or window.theme.name,
                                   destination=destination(request))
        self._frames = animation_frames(self.scene, target, self.indices, width,
                                        lambda _i, _n: None)
        self.dialog = QProgressDialog("Rendering frames…", "Cancel", 0, len(self.indices) + 1,
                                      window) if progress else None
        if self.dialog is not None:
            self.dialog.setObjectName("export-progress")
            self.dialog.setWindowTitle("Export animation")
            self.dialog.setMinimumDuration(0)
            self.dialog.canceled.connect(self.cancel)
            self.dialog.setValue(0)
        self.timer = QTimer(self)
        self.timer.setInterval(0)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        if self.cancelled or self._in_tick:  # processEvents below may re-enter
            return
        self._in_tick = True
        try:
            self._step()
        finally:
            self._in_tick = False

    def _step(self) -> None:
        if self.dialog is not None and self.dialog.wasCanceled():
            self.cancel()
            return
        if self._thread is not None:
            if not self._thread.is_alive():
                self._finish()
            return
        for _ in range(FRAMES_PER_TICK):
            if self.done >= len(self.indices) or self.cancelled:
                break  # (cancelled while a frame rendered: its window closed, say)
            _index, image = next(self._frames)
            self.images.append(image)
            self.done += 1
        if self.cancelled:
            return
        if self.dialog is not None:
            self.dialog.setValue(self.done)
        if self.done >= len(self.indices):
            next(self._frames, None)  # the last frame's progress strip
            if self.dialog is not None:
                self.dialog.setLabelText("Encoding the GIF…")
            self.timer.setInterval(30)
            from lstmviz.ui.render import qimage_to_pil

            images = [qimage_to_pil(im) for im in self.images]
            self._restore()
            tmp = self._staging.path_for(self.path.name)
            self._thread = threading.Thread(target=self._encode, args=(tmp, images),
                                            daemon=True)
            self._thread.start()

    def _encode(self, tmp: Path, images) -> None:
        try:
            write_gif(images, tmp, self.options.fps, target=self.path)
        except BaseException as exc:  # noqa: BLE001 - reported on the GUI thread
            self._error = exc

    def _finish(self) -> None:
        self.timer.stop()
        if self._error is not None or self.cancelled:
            self._staging.discard()
            if self._error is not None and self.dialog is not None:
                QMessageBox.warning(self.window_, "Cannot export", str(self._error))
            self._close("")
            return
        self._staging.commit()
        self.result = self.path
        self.window_.statusBar().showMessage(f"Exported {self.path}", 8000)
        self._close(str(self.path))

    def _restore(self) -> None:
        if self.scene is not None:
            self.scene.close()
            self.scene = None
            if self.window_.session.cursor != self.start_cursor:
                self.window_.session.seek(self.start_cursor)

    def cancel(self) -> None:
        if self.cancelled or self.result is not None:
            return
        self.cancelled = True
        self._restore()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()  # Pillow cannot be interrupted; its file is removed below
        self.timer.stop()
        self._staging.discard()
        self.images = []
        self._close("")

    def _close(self, path: str) -> None:
        if self.dialog is not None and shiboken6.isValid(self.dialog):
            self.dialog.canceled.disconnect(self.cancel)
            self.dialog.reset()
            self.dialog.close()
        self.images = []
        self.finished.emit(path)


def export_animation(window, target: str, options: ExportOptions) -> AnimationExport:
    check_ready(window)
    job = AnimationExport(window, target, options)
    window._export_job = job
    return job
