"""The main window: unrolled network in the centre, panels in docks, playback, menus."""

from __future__ import annotations

import html
import math
import platform
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import PySide6
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSizePolicy,
    QToolBar,
    QToolButton,
    QWidget,
)

import lstmviz
from lstmviz import engine
from lstmviz.config import Config, ConfigError, load_config, save_config
from lstmviz.numfmt import format_magnitude, format_number
from lstmviz.session import BACKWARD, LOSS, Session
from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.controls import ControlsPanel
from lstmviz.ui.export.dialog import install_export
from lstmviz.ui.panels.base import Panel
from lstmviz.ui.playback import Playback, PlaybackBar
from lstmviz.ui.registry import (  # panels and tool docks, imported statically
    LAYOUT_VERSION,
    PANEL_CLASSES,
    panel_classes,
    tool_classes,
)
from lstmviz.ui.staging import PanelStager
from lstmviz.ui.theme import THEMES, Theme, apply_app_theme
from lstmviz.ui.unrolled import UnrolledView
from lstmviz.ui.worker import Recomputer

#: Gestures that are no QAction; every action's own shortcut joins them in
#: Help > Keyboard shortcuts (`shortcut_rows`), so the table cannot miss one.
SHORTCUTS = [
    ("Ctrl + wheel", "Zoom the unrolled network"),
    ("Any key", "Bring back a blanked screen"),
]


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what they do) for every action of `window` that has a shortcut, then
    `SHORTCUTS`. One enabled only in a mode says which (presenter mode, or "when
    available": an open walkthrough)."""
    from lstmviz.ui.presenter import Presenter

    presenter_only = {id(a) for p in window.findChildren(Presenter)
                      for a in getattr(p, "_mode_actions", ())}
    rows: dict[tuple[str, str], list[str]] = {}
    for a in window.findChildren(QAction):
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts()]
        keys = [k for k in keys if k]
        if not keys:
            continue
        text = a.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        text = text.rstrip(".…").strip() or a.toolTip()
        if id(a) in presenter_only:
            text += "" if "presenter mode" in text.lower() else " (presenter mode)"
        elif not a.isEnabled():
            text += " (when available)"
        known = rows.setdefault((text, a.toolTip()), [])
        known += [k for k in keys if k not in known]
    return [(" / ".join(keys), text) for (text, _), keys in rows.items()] + list(SHORTCUTS)


def initial_size(available=None) -> tuple[int, int]:
    """The window's first size: 1500x950, or 92% of the screen's free area if smaller
    (never below the 1280x720 the layout is made for, minus what the screen lacks)."""
    width, height = 1500, 950
    if available is None or available.width() <= 0 or available.height() <= 0:
        return width, height
    return (min(width, int(available.width() * 0.92)),
            min(height, int(available.height() * 0.92)))


def format_norm(value: float) -> str:
    """A float for the status bar (numfmt: 1.1 × 10¹⁹¹, 0.0123; inf only beyond float64)."""
    return format_number(value)


#: Below this window width (at first show) the default layout tabs the cell-state panel
#: behind the forget and gates panels, so the gradient plot keeps a readable width.
NARROW_WIDTH = 1600


#: Tool docks closed at launch, made on first use (their import stays static).
LAZY_TOOLS = ("training",)


class LazyTools(dict):
    """name -> tool dock widget; a tool registered with `later` is made when first
    asked for (`tools[name]`, `get`, iteration)."""

    def __init__(self) -> None:
        super().__init__()
        self._makers: dict[str, object] = {}

    def later(self, name: str, make) -> None:
        self._makers[name] = make

    def pending(self, name: str) -> bool:
        return name in self._makers

    def __missing__(self, name: str):
        make = self._makers.pop(name, None)
        if make is None:
            raise KeyError(name)
        return make()

    def get(self, name: str, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or name in self._makers

    def _all(self) -> None:
        for name in list(self._makers):
            self[name]  # noqa: B018

    def __iter__(self):
        self._all()
        return super().__iter__()

    def __len__(self) -> int:
        return super().__len__() + len(self._makers)

    def values(self):
        self._all()
        return super().values()

    def items(self):
        self._all()
        return super().items()

    def keys(self):
        self._all()
        return super().keys()


class MainWindow(QMainWindow):
    """lstmviz's window over one `Session`."""

    def __init__(self, session: Session | None = None, *, settings: QSettings | None = None,
                 theme: str = "light", restore: bool = True) -> None:
        super().__init__()
        self.setObjectName("lstmviz-main")
        self.setWindowTitle("lstmviz — vanishing and exploding gradients")
        self.settings = settings if settings is not None else QSettings("lstmviz", "lstmviz")
        theme = str(self.settings.value("theme", theme)) if restore else theme
        self.theme: Theme = THEMES.get(theme, THEMES["light"])
        apply_app_theme(self.theme)
        self.session = session or Session()
        self.adapter = SessionAdapter(self.session, self)
        self.recomputer = Recomputer(self.session, self)
        self.config_path: Path | None = None

        self.unrolled = UnrolledView(self.adapter, self.theme)
        self.setCentralWidget(self.unrolled)
        self.playback = Playback(self.adapter, self)
        self.playback.set_icon_color(self.theme.foreground)
        self.playbar = PlaybackBar(self.playback, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.playbar)

        self.controls = ControlsPanel(self.session.config)
        self.controls.configRequested.connect(self.request_config)
        self.controls.layer_picker.bind(self.adapter)  # the one layer picker (issue 13)
        self.recomputer.failed.connect(self.show_error)
        self.recomputer.busyChanged.connect(self._on_busy)
        self.recomputer.progress.connect(self._on_progress)
        self.recomputer.jacobiansPending.connect(self._on_jacobians_pending)
        self.recomputer.jacobiansProgress.connect(self._on_jacobians_progress)
        self.adapter.runsChanged.connect(self._on_runs)
        self.adapter.frameChanged.connect(self._update_status)

        self.docks: dict[str, QDockWidget] = {}
        self.panels: dict[str, Panel] = {}
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._add_dock("settings", "Settings", scroll, Qt.DockWidgetArea.LeftDockWidgetArea,
                       "Every setting of the run; a change recomputes at once.")
        for cls in panel_classes():
            # built when first on screen (or rendered, exported, asked for): the docks
            # tabbed behind others cost nothing at launch
            panel = cls(self.adapter, self.theme, lazy=True)
            self.panels[cls.name] = panel
            # docks that open as a tab behind another are placed by _arrange_default
            area = (Qt.DockWidgetArea.RightDockWidgetArea if cls.name == "inspector"
                    else Qt.DockWidgetArea.BottomDockWidgetArea)
            self._add_dock(cls.name, cls.title, panel, area, cls.tooltip)
        self._build_status()
        self._build_menus()
        self.tools = LazyTools()
        for cls in tool_classes():
            area = {"left": Qt.DockWidgetArea.LeftDockWidgetArea,
                    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea}.get(
                        getattr(cls, "area", "right"), Qt.DockWidgetArea.RightDockWidgetArea)
            if cls.name in LAZY_TOOLS:
                # closed at launch: made when its dock first comes on screen or it is asked
                # for (`self.tools[name]`)
                holder = QScrollArea()
                holder.setWidgetResizable(True)
                holder.setFrameShape(QScrollArea.Shape.NoFrame)
                dock = self._add_dock(cls.name, cls.title, holder, area, cls.tooltip)
                self.tools.later(cls.name, lambda c=cls, h=holder: self._make_tool(c, h))
                dock.visibilityChanged.connect(
                    lambda on, n=cls.name: on and QTimer.singleShot(
                        0, self, lambda: self._tool_on_screen(n)))
            else:
                tool = self._make_tool(cls, None)
                holder = tool
                if tool.minimumSizeHint().width() > 360:
                    # a wide form would set the whole window's minimum width (1280 fits)
                    holder = QScrollArea()
                    holder.setWidget(tool)
                    holder.setWidgetResizable(True)
                    holder.setFrameShape(QScrollArea.Shape.NoFrame)
                dock = self._add_dock(cls.name, cls.title, holder, area, cls.tooltip)
            self.view_menu.insertAction(self._view_sep, dock.toggleViewAction())
        self.default_state = QByteArray()
        self._restore_on_show = restore
        self.resize(*initial_size(self.screen().availableGeometry().size()
                                  if self.screen() is not None else None))
        self._on_runs()
        self._update_status()
        self.unrolled.setFocus()
        # large runs and themes reach the panels one per event-loop turn (staging.py)
        self.stager = PanelStager(self.adapter, self.panels, self)
        # panels that plot the Jacobian norms redraw when the background job delivers them
        for name in ("jacobians",):
            self.adapter.diagnosticsChanged.connect(
                lambda p=self.panels[name]: self.stager.on_diagnostics(p))
        # the backward passes after a long recompute's first picture (its forward passes):
        # only the views of gradients redraw
        for name in ("gradients", "jacobians", "inspector"):
            self.adapter.gradientsChanged.connect(
                lambda p=self.panels[name]: self.stager.on_diagnostics(p))
        self.adapter.gradientsChanged.connect(
            lambda: (self.unrolled.rebuild(), self.unrolled.show_frame()))
        self.adapter.gradientsChanged.connect(self._title_pending)
        self.adapter.gradientsChanged.connect(self._update_status)
        self.recomputer.complete_jacobians()
        install_export(self)

    # -- docks ----------------------------------------------------------------------
    def _make_tool(self, cls, holder: QScrollArea | None) -> QWidget:
        tool = cls(self)
        self.tools[tool.name] = tool
        if holder is not None:
            holder.setWidget(tool)
        if hasattr(tool, "install"):
            tool.install(self)
        return tool

    def _tool_on_screen(self, name: str) -> None:
        dock = self.docks.get(name)
        if (self.tools.pending(name) and dock is not None and dock.isVisible()
                and not dock.visibleRegion().isEmpty()):
            self.tools[name]  # noqa: B018 (makes it)

    def _add_dock(self, name: str, title: str, widget: QWidget, area, tip: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        dock.setToolTip(tip)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock, Qt.Orientation.Horizontal)
        self.docks[name] = dock
        return dock

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self.default_state.isEmpty():
            # Tabifying before the first show leaves a stale QTabBar on screen (Qt bug,
            # reproduced with PySide6 6.10), so the default layout is made here.
            self._arrange_default()
            self.default_state = self.saveState(LAYOUT_VERSION)
            if self._restore_on_show:
                self.restore_layout()

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if not getattr(self, "_painted", False):
            # first paint done: the panels not on screen are built in the next turn (their
            # size hints then count in every layout a user or a lecture saves)
            self._painted = True
            QTimer.singleShot(0, self, self._build_hidden)

    def _build_hidden(self) -> None:
        """Queue the panels not yet built on the stager, one per turn like an install of
        runs (at the Settings dock's largest values one panel's build and first picture
        take a few hundred ms: all of them in one turn froze File > Open for seconds)."""
        for name, panel in self.panels.items():
            self.stager.build(name, panel)

    def _arrange_default(self) -> None:
        d = self.docks
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(d["gradients"], d["jacobians"])
        self.tabifyDockWidget(d["forget"], d["gates"])
        # tool docks: the walkthrough as a tab beside the inspector, training behind the
        # gradient plot and closed until asked for (View menu)
        if "walkthrough" in d:
            self.tabifyDockWidget(d["inspector"], d["walkthrough"])
        if "training" in d:
            self.tabifyDockWidget(d["jacobians"], d["training"])
            d["training"].close()
        narrow = self.width() < NARROW_WIDTH
        if narrow:  # three plots side by side leave the gradient plot ~200 px at 1280 wide
            self.tabifyDockWidget(d["gates"], d["cellstate"])
        d["gradients"].raise_()
        d["forget"].raise_()
        d["inspector"].raise_()
        self.resizeDocks([d["settings"]], [310 if narrow else 300], Qt.Orientation.Horizontal)
        self.resizeDocks([d["inspector"]], [260 if narrow else 330], Qt.Orientation.Horizontal)
        self.resizeDocks([d["gradients"]], [420], Qt.Orientation.Vertical)
        if narrow:
            room = max(self.width() - 310 - 260, 400)
            self.resizeDocks([d["gradients"], d["forget"]], [int(room * 0.58), int(room * 0.42)],
                             Qt.Orientation.Horizontal)

    def restore_layout(self) -> bool:
        state = self.settings.value("window/state")
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        if isinstance(state, QByteArray | bytes):
            return self.restoreState(QByteArray(state), LAYOUT_VERSION)
        return False

    def user_layout(self) -> tuple[QByteArray, QByteArray]:
        """(state, geometry) of the user's own layout: not a walkthrough's lecture layout
        nor presenter mode's full screen, which are the window's only while they last."""
        state, geometry = self.saveState(LAYOUT_VERSION), self.saveGeometry()
        tool = self.tools.get("walkthrough")
        presenter = getattr(tool, "presenter", None)
        if presenter is not None and presenter.active:
            state, geometry = presenter.saved_layout()
        lecture = getattr(tool, "lecture", None)
        if lecture is not None and lecture.active:
            state = lecture.user_state
        return state, geometry

    def save_layout(self) -> None:
        state, geometry = self.user_layout()
        self.settings.setValue("window/state", state)
        self.settings.setValue("window/geometry", geometry)
        self.settings.setValue("theme", self.theme.name)
        self.settings.sync()

    def reset_layout(self) -> None:
        tool = self.tools.get("walkthrough")
        if getattr(getattr(tool, "lecture", None), "active", False):
            tool.close_walkthrough()  # the lecture's layout is not the one to reset
        for dock in self.docks.values():
            dock.setFloating(False)
        self.restoreState(self.default_state, LAYOUT_VERSION)
        for dock in self.docks.values():
            dock.show()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.playback.play(False)
        # cancel the background jobs, never wait for them: a window closed during a long
        # Jacobian job closes at once, and its deletion cannot deadlock on the GIL
        self.recomputer.shutdown()
        self.save_layout()
        super().closeEvent(event)

    # -- menus ----------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.file_menu = file

        def act(menu, text, slot, keys=None, tip=""):
            a = QAction(text, self)
            if keys:
                a.setShortcut(QKeySequence(keys))
            if tip:
                a.setStatusTip(tip)
                a.setToolTip(tip)
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        act(file, "&Open configuration…", self.open_config_dialog, QKeySequence.StandardKey.Open,
            "Load settings from a TOML file")
        act(file, "&Save configuration…", self.save_config_dialog, QKeySequence.StandardKey.Save,
            "Save the current settings as TOML")
        file.addSeparator()
        act(file, "&Import weights…", self.import_weights_dialog, "Ctrl+I",
            "Load a model's weights from .npz or .safetensors (PyTorch names)")
        act(file, "&Forget imported weights", self.clear_weights, None,
            "Go back to the initialised weights")
        file.addSeparator()
        self.cancel_action = act(
            file, "&Cancel computing", self.cancel_compute, "Ctrl+.",
            "Stop the recompute in progress; the window keeps the runs it shows")
        self.cancel_action.setEnabled(False)
        file.addSeparator()
        act(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        play = bar.addMenu("&Playback")
        for a in self.playback.actions:
            play.addAction(a)

        view = bar.addMenu("&View")
        self.view_menu = view
        for name in ["settings"] + [n for n, _ in PANEL_CLASSES]:
            a = self.docks[name].toggleViewAction()
            a.setObjectName(f"toggle-{name}")
            view.addAction(a)
        self._view_sep = view.addSeparator()
        act(view, "&Reset layout", self.reset_layout, None, "Put every panel back where it was")
        view.addSeparator()
        group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for name, label in (("light", "&Light theme"), ("dark", "&Dark theme")):
            a = act(view, label, lambda _=False, n=name: self.set_theme(n))
            a.setCheckable(True)
            a.setChecked(self.theme.name == name)
            group.addAction(a)
            self.theme_actions[name] = a
        view.addSeparator()
        act(view, "Zoom &in", lambda: self.unrolled.zoom(1.25), "Ctrl++")
        act(view, "Zoom &out", lambda: self.unrolled.zoom(0.8), "Ctrl+-")
        act(view, "&Fit sequence", self.unrolled.fit, "Ctrl+0")
        self.fullscreen_action = act(view, "&Full screen", self.toggle_fullscreen, "F11")
        self.fullscreen_action.setCheckable(True)

        help_ = bar.addMenu("&Help")
        act(help_, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        act(help_, "&About lstmviz", self.show_about)

    def _build_status(self) -> None:
        status = self.statusBar()
        self.status_label = QLabel()
        self.status_label.setObjectName("status-label")
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        # a size that ignores the text: a new text each frame must not relayout the window
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.status_label.setFixedHeight(self.status_label.sizeHint().height() + 4)
        status.addWidget(self.status_label, 1)
        self.busy_bar = QProgressBar()
        self.busy_bar.setObjectName("busy")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(160)
        self.busy_bar.setFormat("computing… %p%")
        self.busy_bar.setToolTip("Recomputing the runs in the background (the forward and "
                                 "backward passes of every model; the exact Jacobian norms "
                                 "follow in the Jacobians dock's title)")
        self.busy_bar.hide()
        status.addPermanentWidget(self.busy_bar)
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("cancel-compute")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the recompute in progress (Ctrl+.); the window "
                                      "keeps the runs it shows")
        self.cancel_button.clicked.connect(self.cancel_compute)
        self.cancel_button.hide()
        status.addPermanentWidget(self.cancel_button)

    # -- recompute ------------------------------------------------------------------
    def request_config(self, config: Config) -> None:
        self.recomputer.request(config)

    def apply_config(self, config: Config, wait: bool = False) -> None:
        """Set a new configuration from code (walkthroughs, files): controls follow. A
        large one computes in the background (busy bar; the latest request wins);
        `wait=True` blocks until it is installed (scripts and tests only: it freezes
        the window for as long as the recompute takes)."""
        self.controls.set_config(config)
        self.recomputer.request(config)
        if wait:
            self.settle()

    def settle(self, msecs: int = 120000) -> None:
        """Block until the requested runs (and their Jacobian norms) are computed and
        every panel shows them (scripts, screenshots and tests only: never from a slot)."""
        self.recomputer.wait(msecs)
        self.stager.flush()
        QApplication.processEvents()

    def cancel_compute(self) -> None:
        """File > Cancel computing: stop the background recompute; the controls go back
        to the settings of the runs shown."""
        if self.recomputer.cancel():
            self.controls.set_config(self.session.config)
            c = self.session.config
            self.statusBar().showMessage(
                f"Computing cancelled: still showing T = {c.seq_len}, H = {c.hidden_size}", 8000)

    def _on_progress(self, fraction: float) -> None:
        if self.busy_bar.maximum() == 0:
            self.busy_bar.setRange(0, 100)
        self.busy_bar.setValue(round(100 * fraction))

    def _on_busy(self, busy: bool) -> None:
        self.busy_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.cancel_action.setEnabled(busy)
        if busy:
            self.busy_bar.setRange(0, 0)  # until the first stage is done
            self.statusBar().showMessage("Computing…")
        else:
            self.statusBar().clearMessage()
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor) if busy else \
            QApplication.restoreOverrideCursor()

    def _on_jacobians_pending(self, pending: bool) -> None:
        dock = self.docks["jacobians"]
        dock.setWindowTitle("Jacobians (computing…)" if pending else self.panels["jacobians"].title)

    def _title_pending(self) -> None:
        """While a long recompute shows its forward passes first, the docks of what needs
        the backward pass say so (the Jacobian dock's title then follows jacobiansPending)."""
        ready = self.session.gradients_ready
        for name in ("gradients", "jacobians"):
            dock, panel = self.docks.get(name), self.panels.get(name)
            if dock is None or panel is None or (ready and name == "jacobians"):
                continue
            dock.setWindowTitle(panel.title if ready else
                                f"{panel.title} (computing the backward pass…)")

    def _on_jacobians_progress(self, fraction: float) -> None:
        if fraction < 1:
            self.docks["jacobians"].setWindowTitle(f"Jacobians (computing… {fraction:.0%})")

    def _on_runs(self) -> None:
        # keep the controls in step with what was computed (e.g. after a failed request)
        self.controls.set_config(self.session.config)
        self._title_pending()
        parts = []
        for kind, run in self.session.runs.items():
            s = run.diagnostics.sigma_max
            text = (f"{run.label}: σ_max(W_hh) = {format_norm(s)}" if s == s
                    else f"{run.label}: no W_hh")  # NaN: the kind has no recurrent matrix
            if run.diagnostics.rnn_bound is not None:
                text += f", σ_max·γ = {format_norm(run.diagnostics.rnn_bound)}"
                if run.diagnostics.rnn_bound < 1:
                    text += " (< 1: vanishing guaranteed)"
            if run.imported:
                text += " — imported weights"
            parts.append(text)
            _ = kind
        self.controls.show_sigma("\n".join(parts))

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(f"⚠ {message}", 10000)
        self.controls.error.setText(message)
        self.controls.error.show()
        self.controls.set_config(self.session.config)

    def _update_status(self, *_args) -> None:
        frame = self.session.frame
        bits = [f"<b>{frame.phase}</b> t = {frame.t}"]
        for run in self.session.runs.values():
            loss = (format_norm(run.loss) if math.isfinite(run.loss) or run.loss_log10 is None
                    else format_magnitude(run.loss_log10))  # an MSE beyond float64, exactly
            text = f"<b>{run.label}</b> loss {loss}"
            # the run's exact logs: the same figures the panels and the inspector print
            d = run.diagnostics
            if frame.phase == BACKWARD and not run.gradients_ready:
                text += f" · ‖dL/dh<sub>{frame.t}</sub>‖ computing…"
            elif frame.phase == BACKWARD:
                g = format_magnitude(float(d.log10_grad_h[frame.t - 1]))
                text += f" · ‖dL/dh<sub>{frame.t}</sub>‖ = {g}"
            elif frame.phase != LOSS and d.log10_h_norm is not None:
                n = format_magnitude(float(d.log10_h_norm[frame.t - 1]))
                text += f" · ‖h<sub>{frame.t}</sub>‖ = {n}"
            if run.overflow_step is not None:
                text += (" · <span style='color:#d93025'>overflow at "
                         f"t = {run.overflow_step + 1}</span>")
            bits.append(text)
        text = "   |   ".join(bits)
        if text != self.status_label.text():
            self.status_label.setText(text)

    # -- theme / full screen / help -------------------------------------------------
    def set_theme(self, name: str) -> None:
        self.theme = THEMES[name]
        apply_app_theme(self.theme)
        self.unrolled.set_theme(self.theme)
        self.playback.set_icon_color(self.theme.foreground)
        self.stager.set_theme(self.theme)  # one panel per turn (unbuilt: when built)
        self.theme_actions[name].setChecked(True)
        self.settings.setValue("theme", name)

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()
        self.fullscreen_action.setChecked(self.isFullScreen())

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in shortcut_rows(self))
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts",
                          f"<table>{rows}</table>", parent=self)
        box.setObjectName("shortcuts-dialog")
        box.open()

    def about_text(self) -> str:
        return (f"<b>lstmviz {lstmviz.__version__}</b><br>"
                "Vanishing and exploding gradients in RNN, LSTM and GRU, step by step.<br><br>"
                f"Python {platform.python_version()} · NumPy {np.__version__} · "
                f"PySide6 {PySide6.__version__} · pyqtgraph {pg.__version__}")

    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About lstmviz", self.about_text(),
                          parent=self)
        box.setObjectName("about-dialog")
        box.open()

    # -- files ----------------------------------------------------------------------
    def open_config(self, path: str | Path) -> bool:
        try:
            config = load_config(path)
        except ConfigError as exc:
            self.show_error(str(exc))
            QMessageBox.warning(self, "Cannot open configuration", str(exc))
            return False
        self.config_path = Path(path)
        self.apply_config(config)
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save_config(self, path: str | Path) -> bool:
        try:
            save_config(path, self.session.config)
        except ConfigError as exc:
            QMessageBox.warning(self, "Cannot save configuration", str(exc))
            return False
        self.config_path = Path(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def import_weights(self, path: str | Path) -> bool:
        """Read a weight file (header-first: fast) and recompute with it like every other
        change: in the background when large (busy indicator; a later change or closing the
        window cancels it), so the window never freezes. False if the file is refused."""
        try:
            notes: list[str] = []
            model, readout = engine.load_weights(path, notes=notes)
            config, weights = self.session.with_weights(model.kind, model, readout)
        except (ValueError, OSError) as exc:
            self.show_error(str(exc))
            QMessageBox.warning(self, "Cannot import weights", str(exc))
            return False
        L = config.num_layers
        layers = ("" if L == self.session.config.num_layers else
                  f" (num_layers set to {L}: the file has {L} layer{'s' if L > 1 else ''})")
        layers += "".join(f"; {n}" for n in notes)
        self.controls.set_config(config)
        self.recomputer.request(config, weights)
        self.statusBar().showMessage(f"Importing {model.kind.upper()} weights from {path}…"
                                     f"{layers}" if self.recomputer.busy else
                                     f"Imported {model.kind.upper()} weights from {path}"
                                     f"{layers}", 5000)
        return True

    def clear_weights(self) -> None:
        self.session.clear_weights()

    def open_config_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open configuration", "",
                                              "lstmviz configuration (*.toml)")
        if path:
            self.open_config(path)

    def save_config_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save configuration",
                                              str(self.config_path or "lstmviz.toml"),
                                              "lstmviz configuration (*.toml)")
        if path:
            self.save_config(path)

    def import_weights_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import weights", "",
            "Weights (*.npz *.safetensors *.pt *.pth);;NumPy (*.npz);;safetensors "
            "(*.safetensors);;All files (*)")
        if path:
            self.import_weights(path)


def toolbars(window: QMainWindow) -> list[QToolBar]:
    return window.findChildren(QToolBar)
