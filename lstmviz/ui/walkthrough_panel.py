"""The walkthrough dock: a lecture's narration, its steps, and the code that applies a step
to the window (settings, docks, cursor, highlights). Menus: File › Open walkthrough…,
Recent walkthroughs, a Walkthroughs menu of the built-ins, View › Presenter mode (F5).
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from lstmviz.session import frame_index
from lstmviz.ui.lecture import LectureLayout, RangeComputer
from lstmviz.ui.presenter import Presenter
from lstmviz.ui.staging import PAINT_LEASE
from lstmviz.ui.worker import pause_jobs
from lstmviz.walkthrough import (
    Claim,
    Measured,
    Step,
    Walkthrough,
    WalkthroughError,
    check_claim,
    claim_sentence,
    find_walkthrough,
    list_builtin,
    load_walkthrough,
    narration_markdown,
    pending,
    pending_sentence,
    render_narration,
)

RECENT_KEY = "walkthrough/recent"
MAX_RECENT = 8
#: Panels whose plots have timestep t on the x axis (shaded by `highlight.steps`).
TIME_PANELS = ("gradients", "jacobians", "cellstate")
#: Which dock shows which gate (`highlight.gate` raises it).
GATE_DOCK = {"forget": "forget"}
#: A step's play longer than this (s) at the playback speed is shortened to PLAY_SECONDS.
MAX_PLAY_SECONDS = 3.0
PLAY_SECONDS = 2.5
#: Shortest interval (ms) between two frames of a step's play.
MIN_TICK_MS = 20


class WalkthroughPanel(QWidget):
    """Narration and step list of one open walkthrough; drives the main window."""

    name = "walkthrough"
    title = "Walkthrough"
    tooltip = ("A lecture, step by step: each step sets up the run, shows its panels and "
               "moves the animation. Page Down / Page Up move between steps.")
    area = "right"

    def __init__(self, window) -> None:
        super().__init__()
        self.window_ = window
        self.setObjectName("panel-walkthrough")
        self.walkthrough: Walkthrough | None = None
        self.index = -1
        self._target: int | None = None
        self._stride = 1
        #: the gradient plot's y range held over the walkthrough's steps (log10 exponents)
        self.held_range: tuple[float, float] | None = None
        self._overflowing: frozenset = frozenset()
        self._range_token: object = None
        self.lecture = LectureLayout(window, self.name)
        self.ranges = RangeComputer(self)
        self.ranges.ready.connect(self._on_range)
        self._regions: list[tuple[pg.PlotItem, pg.LinearRegionItem]] = []
        self.play_timer = QTimer(self)
        self.play_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.play_timer.timeout.connect(self._tick)
        self._build()
        self.presenter = Presenter(window, self)
        self._show_empty()

    # -- widgets --------------------------------------------------------------------
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.heading = QLabel()
        self.heading.setObjectName("walkthrough-title")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.heading)
        self.counter = QLabel()
        self.counter.setObjectName("walkthrough-counter")
        layout.addWidget(self.counter)
        self.notice = QLabel()
        self.notice.setObjectName("walkthrough-notice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background: #fff3cd; color: #5c4400; padding: 4px; "
                                  "border: 1px solid #e0b000; border-radius: 3px;")
        self.notice.hide()
        layout.addWidget(self.notice)
        split = self.split = QSplitter(Qt.Orientation.Vertical)
        self.narration = QTextBrowser()
        self.narration.setObjectName("walkthrough-narration")
        self.narration.setOpenExternalLinks(True)
        self.narration.setMinimumHeight(160)
        self.narration.viewport().installEventFilter(self)  # (resized: `fit_narration`)
        split.addWidget(self.narration)
        self.steps_list = QListWidget()
        self.steps_list.setObjectName("walkthrough-steps")
        self.steps_list.setToolTip("Click a step to go there")
        self.steps_list.setWordWrap(True)
        self.steps_list.itemClicked.connect(lambda item: self.go_to(self.steps_list.row(item)))
        self.steps_list.itemActivated.connect(lambda item: self.go_to(self.steps_list.row(item)))
        split.addWidget(self.steps_list)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        buttons = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.setToolTip("Previous step (Page Up)")
        self.prev_button.clicked.connect(self.previous)
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Next step (Page Down)")
        self.next_button.clicked.connect(self.next)
        self.close_button = QPushButton("Close walkthrough")
        self.close_button.setObjectName("walkthrough-close")
        self.close_button.setToolTip("Leave the walkthrough and get your own layout back")
        self.close_button.clicked.connect(self.close_walkthrough)
        for b in (self.prev_button, self.next_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.close_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(self.close_button)

    def install(self, window) -> None:
        """Menu entries and shortcuts (called once by the main window)."""
        self.open_action = QAction("Open &walkthrough…", window)
        self.open_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_action.setStatusTip("Open a lecture walkthrough (.toml)")
        self.open_action.triggered.connect(self.open_dialog)
        self.recent_menu = QMenu("Recent &walkthroughs", window)
        self.recent_menu.setObjectName("menu-recent-walkthroughs")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu = window.file_menu
        before = next((a for a in file_menu.actions() if a.isSeparator()), None)
        file_menu.insertAction(before, self.open_action)
        file_menu.insertMenu(before, self.recent_menu)
        self._fill_recent()

        self.menu = QMenu("&Walkthroughs", window)
        self.menu.setObjectName("menu-walkthroughs")
        for name, title in list_builtin():
            a = self.menu.addAction(title)
            a.setData(name)
            a.setObjectName(f"walkthrough-{name}")
            a.triggered.connect(lambda _=False, n=name: self.open(n))
        self.menu.addSeparator()
        self.menu.addAction(self.open_action)
        bar = window.menuBar()
        help_action = next((a for a in bar.actions() if a.text().replace("&", "") == "Help"),
                           None)
        if help_action is not None:
            bar.insertMenu(help_action, self.menu)
        else:
            bar.addMenu(self.menu)

        def action(text: str, keys: list[str], slot, tip: str) -> QAction:
            a = QAction(text, window)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setToolTip(tip)
            a.triggered.connect(slot)
            window.addAction(a)  # active even with the menu bar hidden (presenter mode)
            return a

        self.next_action = action("Next step", ["PgDown"], self.next, "Next walkthrough step")
        self.prev_action = action("Previous step", ["PgUp"], self.previous,
                                  "Previous walkthrough step")
        self.close_action = action("&Close walkthrough", [], self.close_walkthrough,
                                   "Leave the walkthrough and get your own layout back")
        for a in (self.close_action, self.next_action, self.prev_action):
            a.setEnabled(False)
            self.menu.insertAction(self.menu.actions()[0], a)
        self.menu.insertSeparator(self.menu.actions()[3])
        window.adapter.runsChanged.connect(self._refresh_claims)
        window.recomputer.applied.connect(self._on_applied)
        window.recomputer.failed.connect(self._on_applied)
        window.adapter.diagnosticsChanged.connect(self._refresh_claims)
        window.addAction(self.open_action)
        self.presenter.install(window)
        window.playback.playingChanged.connect(self._on_playback)
        dock = window.docks.get(self.name)
        if dock is not None:  # appears when a walkthrough opens (or from the View menu)
            dock.hide()

    # -- opening --------------------------------------------------------------------
    def open(self, name_or_path: str | Path, step: int = 1, *, animate: bool = True) -> bool:
        """Open a walkthrough by built-in name or path and go to `step` (1-based).

        A bad file: one warning with the message; the window keeps what it had.
        """
        try:
            path = find_walkthrough(name_or_path)
            wt = load_walkthrough(path)
            if not 1 <= step <= len(wt.steps):
                raise WalkthroughError(f"{path.name}: step {step} does not exist; it has "
                                       f"steps 1 to {len(wt.steps)}")
        except WalkthroughError as exc:
            self._warn(str(exc))
            return False
        self.set_walkthrough(wt)
        self._remember(path)
        self.go_to(step - 1, animate=animate)
        return True

    def set_walkthrough(self, wt: Walkthrough) -> None:
        self.stop()
        self.walkthrough = wt
        self.index = -1
        self.steps_list.clear()
        for step in wt.steps:
            self.steps_list.addItem(f"{step.index}. {_plain(step.title)}")
        self.heading.setText(f"<b style='font-size:large'>{html.escape(wt.title)}</b>")
        self.heading.setToolTip(wt.description)
        self.notice.hide()
        for a in ("next_action", "prev_action", "close_action"):
            if hasattr(self, a):
                getattr(self, a).setEnabled(True)
        self.close_button.setEnabled(True)
        # the gradient axis holds still over the steps: the union of what they show,
        # computed off the GUI thread (steps with their own y_range keep theirs)
        self.held_range = None
        self._range_token = object()
        self.ranges.start(self._range_token, [s.config for s in wt.steps if s.y_range is None])

    def close_walkthrough(self) -> None:
        """Leave the walkthrough: presenter mode off, the user's own layout back."""
        if self.walkthrough is None and not self.lecture.active:
            return
        self.stop()
        if self.presenter.active:
            self.presenter.set_active(False)
        self.shade_steps(None)
        self.lecture.leave()
        self.walkthrough = None
        self.index = -1
        self.held_range = None
        self._range_token = None
        self.ranges.cancel()
        self._set_ghost(None)
        self._set_y_range(None)
        self.steps_list.clear()
        self.notice.hide()
        for a in ("next_action", "prev_action", "close_action"):
            if hasattr(self, a):
                getattr(self, a).setEnabled(False)
        self._show_empty()

    def wait_ranges(self) -> None:
        """Block until the held y range of the open walkthrough is computed (tests, CLI)."""
        self.ranges.wait()

    def _on_range(self, token, result) -> None:
        if token is not self._range_token:
            return  # of a walkthrough no longer open
        self.held_range, self._overflowing = result
        step = self.step
        if step is not None:
            self._set_y_range(self.step_y_range(step))

    def step_y_range(self, step: Step) -> tuple[float, float] | None:
        """The gradient axis of `step` (log10 exponents): its own `y_range`, else the one
        held over the walkthrough; None (the axis follows the run) for a step whose run
        overflows, or before the held range is computed."""
        if step.y_range is not None:
            return step.y_range
        if step.config in self._overflowing:
            return None
        return self.held_range

    def _set_y_range(self, exponents: tuple[float, float] | None) -> None:
        panel = self.window_.panels.get("gradients")
        if panel is None or not hasattr(panel, "set_y_range_exponents"):
            return
        if exponents is None:
            panel.set_y_range_exponents(None, None)
        else:
            panel.set_y_range_exponents(*exponents)

    def open_dialog(self) -> None:
        start = str(find_builtin_dir())
        path, _ = QFileDialog.getOpenFileName(self.window_, "Open walkthrough", start,
                                              "lstmviz walkthrough (*.toml)")
        if path:
            self.open(path)

    def _warn(self, message: str) -> None:
        self.window_.statusBar().showMessage(f"⚠ {message}", 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot open walkthrough", message,
                          parent=self.window_)
        box.setObjectName("walkthrough-error")
        box.open()
        self.last_error = message

    # -- recent ---------------------------------------------------------------------
    def recent(self) -> list[str]:
        value = self.window_.settings.value(RECENT_KEY, [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or [])]

    def _remember(self, path: Path) -> None:
        p = str(Path(path).resolve())
        items = [p] + [r for r in self.recent() if r != p]
        self.window_.settings.setValue(RECENT_KEY, items[:MAX_RECENT])
        self._fill_recent()

    def _fill_recent(self) -> None:
        if not hasattr(self, "recent_menu"):
            return
        self.recent_menu.clear()
        items = self.recent()
        for p in items:
            a = self.recent_menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, p=p: self.open(p))
        if not items:
            a = self.recent_menu.addAction("(none yet)")
            a.setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)

    def _clear_recent(self) -> None:
        self.window_.settings.setValue(RECENT_KEY, [])
        self._fill_recent()

    # -- navigation -----------------------------------------------------------------
    @property
    def step(self) -> Step | None:
        if self.walkthrough is None or not 0 <= self.index < len(self.walkthrough.steps):
            return None
        return self.walkthrough.steps[self.index]

    def next(self) -> None:
        if self.walkthrough is not None and self.index < len(self.walkthrough.steps) - 1:
            self.go_to(self.index + 1)

    def previous(self) -> None:
        if self.walkthrough is not None and self.index > 0:
            self.go_to(self.index - 1, animate=False)

    def go_to(self, index: int, *, animate: bool = True) -> None:
        """Apply step `index` (0-based): settings, docks, cursor, highlights, narration."""
        if self.walkthrough is None or not 0 <= index < len(self.walkthrough.steps):
            return
        self.stop()
        self.window_.playback.play(False)
        step = self.walkthrough.steps[index]
        w = self.window_
        # the runs on screen, the previous step's: its curves stay as a ghost to compare
        # with (see `ghost_runs`) behind this step's, once they are computed
        ghost = self.ghost_runs(step)
        self.index = index
        dropped = self._own_run()
        self._set_ghost(None if dropped else ghost)
        self._arrival = None
        if dropped or step.config != w.session.config:
            # off the GUI thread when large: the rest of the step (axis, cursor, claims
            # measured on the run) follows when the run arrives (`_on_applied`)
            w.apply_config(step.config, wait=False)
            if w.recomputer.busy:
                # the step's layout and repaint take the next turns: the background jobs (its
                # own recompute among them) wait meanwhile, as for a staged install (a job
                # holding the GIL stretched this turn from ~200 to 400 ms at the largest
                # settings); a small step computes inline and pauses nothing
                pause_jobs(self, PAINT_LEASE)
        self.show_docks(step.docks)
        if step.sweep is not None:  # preset, never started: the lecturer runs it
            w.tools["training"].preset_sweep(step.sweep)
        if w.recomputer.busy:
            self._arrival = (index, animate)
            self._show_step(step)  # the narration now; its claims again on the new run
            return
        self._finish_step(step, animate)

    def ghost_runs(self, step: Step) -> dict:
        """The runs on screen, when they are the previous step's and `step` changes them
        but keeps the models and T (its curves are then worth a ghost); else {}."""
        previous = self.step
        w = self.window_
        if previous is None or previous.config == step.config or w.session.weights:
            return {}
        if previous.config != w.session.config:
            return {}  # (not the previous step's run: the user changed it)
        same = (tuple(step.config.models) == tuple(previous.config.models)
                and step.config.seq_len == previous.config.seq_len)
        return dict(w.session.runs) if same else {}

    def _set_ghost(self, runs: dict | None) -> None:
        panel = self.window_.panels.get("gradients")
        if panel is not None and hasattr(panel, "set_ghost"):
            panel.set_ghost(runs)

    def _finish_step(self, step: Step, animate: bool) -> None:
        w = self.window_
        self._set_y_range(self.step_y_range(step))
        w.adapter.set_layer(step.view_layer)  # a step owns the layer shown (default: top)
        if step.phase is not None:
            self._move_cursor(frame_index(step.phase, step.t or 1, w.session.seq_len),
                              step.play and animate)
        self._highlight(step)
        self._show_step(step)
        self.presenter.step_applied(step)

    def _on_applied(self, *_args) -> None:
        """A step's run was computed in the background (or failed): finish the step."""
        arrival, self._arrival = getattr(self, "_arrival", None), None
        if arrival is None or self.walkthrough is None or self.index != arrival[0]:
            return
        if self.window_.recomputer.busy:  # a later request still computing
            self._arrival = arrival
            return
        self._finish_step(self.walkthrough.steps[arrival[0]], arrival[1])

    def wait_step(self, msecs: int = 120000) -> None:
        """Block until the open step's run is computed and the step finished (scripts,
        screenshots, tests; never from a slot)."""
        from PySide6.QtWidgets import QApplication

        self.window_.recomputer.wait(msecs, jacobians=False)
        stager = getattr(self.window_, "stager", None)
        if stager is not None:
            stager.flush()
        QApplication.processEvents()

    def _own_run(self) -> bool:
        """A walkthrough owns its run: imported or trained weights are dropped, saying so
        where the lecturer looks (the narration pane and the status bar)."""
        w = self.window_
        if not w.session.weights:
            return False
        kinds = ", ".join(k.upper() for k in w.session.weights)
        w.session.weights = {}
        message = (f"The {kinds} weights you imported or trained were set aside: this "
                   "walkthrough sets up its own run (File › Import weights brings them "
                   "back after it).")
        self.notice.setText("⚠ " + message)
        self.notice.show()
        w.statusBar().showMessage(message, 10000)
        return True

    def _move_cursor(self, target: int, play: bool) -> None:
        """Jump to `target` when it lies behind the cursor (never play backwards); play
        forwards to it otherwise, shortened to PLAY_SECONDS when it would take longer
        than MAX_PLAY_SECONDS at the playback speed."""
        session = self.window_.session
        distance = target - session.cursor
        if not play or distance <= 0:
            session.seek(target)
            return
        fps = max(1.0, float(self.window_.playback.fps))
        seconds = distance / fps
        if seconds > MAX_PLAY_SECONDS:
            seconds = PLAY_SECONDS
        interval = 1000.0 * seconds / distance
        self._stride = max(1, math.ceil(MIN_TICK_MS / interval))
        self._target = target
        self.play_timer.start(max(10, int(round(interval * self._stride))))

    def show_docks(self, names: tuple[str, ...] | None) -> None:
        """The lecture layout with the docks `names` (None: the last step's)."""
        hide = ("settings",) if self.presenter.active else ()
        self.lecture.apply(names, hide=hide)

    def stop(self) -> None:
        self.play_timer.stop()
        self._target = None

    @property
    def playing(self) -> bool:
        """Moving the cursor to the step's target: playing there, or waiting for the
        step's run (computed in the background) to start."""
        return self.play_timer.isActive() or getattr(self, "_arrival", None) is not None

    def _tick(self) -> None:
        session = self.window_.session
        if self._target is None or session.cursor >= self._target:
            self.stop()
            return
        session.seek(min(self._target, session.cursor + self._stride))
        if session.cursor >= self._target:
            self.stop()

    def _refresh_claims(self) -> None:
        """The runs changed under an open step: measure its claims on them again."""
        step = self.step
        if step is not None:
            self._show_step(step)

    def _on_playback(self, on: bool) -> None:
        if on:
            self.stop()

    # -- highlights -----------------------------------------------------------------
    def _highlight(self, step: Step) -> None:
        w = self.window_
        hl = step.highlight
        if hl.cell is not None:
            w.adapter.select(*hl.cell)
        if hl.gate is not None:
            dock = w.docks.get(GATE_DOCK.get(hl.gate, "gates"))
            if dock is not None and dock.isVisible():
                dock.raise_()
        self.shade_steps(hl.steps)

    def shade_steps(self, steps: tuple[int, int] | None) -> None:
        """Shade timesteps a..b on the time plots (a LinearRegionItem per plot)."""
        for plot, region in self._regions:
            plot.removeItem(region)
        self._regions = []
        if steps is None:
            return
        color = QColor(self.window_.theme.highlight)
        color.setAlpha(60)
        for name in TIME_PANELS:
            panel = self.window_.panels.get(name)
            if panel is None:
                continue
            for plot in panel.plot_items():
                region = pg.LinearRegionItem((steps[0] - 0.5, steps[1] + 0.5), movable=False,
                                             brush=pg.mkBrush(color), pen=pg.mkPen(None))
                region.setZValue(-10)
                region.setToolTip(f"Steps {steps[0]} to {steps[1]}")
                plot.addItem(region, ignoreBounds=True)
                self._regions.append((plot, region))

    # -- display --------------------------------------------------------------------
    def _show_empty(self) -> None:
        self.heading.setText("<b style='font-size:large'>No walkthrough open</b>")
        self.counter.setText("")
        rows = "".join(f"<li><b>{html.escape(t)}</b></li>" for _, t in list_builtin())
        self.narration.setHtml(
            "<p>Open a lecture from the <b>Walkthroughs</b> menu, or your own file with "
            "<b>File › Open walkthrough…</b> (Ctrl+Shift+O).</p>"
            f"<ul>{rows}</ul>"
            "<p>Page Down / Page Up move between steps; F5 starts presenter mode.</p>")
        self.prev_button.setEnabled(False)
        self.next_button.setEnabled(False)
        self.close_button.setEnabled(False)

    def _show_step(self, step: Step) -> None:
        wt = self.walkthrough
        assert wt is not None
        n = len(wt.steps)
        self.counter.setText(f"Step {step.index} of {n}")
        self._show_narration(step, warn=True)
        self.steps_list.setCurrentRow(self.index)
        self.prev_button.setEnabled(self.index > 0)
        self.next_button.setEnabled(self.index < n - 1)

    def _show_narration(self, step: Step, *, warn: bool = False) -> None:
        """Title, narration (placeholders filled from the runs on screen) and the checked
        claims; a claim that fails on this run puts a red warning above the text."""
        self._watch_runs()
        runs = self.window_.session.runs
        results = self._claim_results(step)
        failed = [c for c, result in results if result is not None and not result[0]]
        text = f"## {narration_markdown(step.title)}\n\n"
        if failed:
            n = len(failed)
            warning = (f"⚠ {n} of the numbers this step states {'does' if n == 1 else 'do'} "
                       "not hold on the run on screen (in red below).")
            text += f"<span style=\"color:{self._bad_color()}\"><b>{warning}</b></span>\n\n"
            if warn:
                self.window_.statusBar().showMessage(f"⚠ Step {step.index}: {warning}", 10000)
        text += narration_markdown(render_narration(step, runs))
        claims = self.claims_markdown(step, results)
        if claims:
            text += "\n\n" + claims
        self.narration.document().setMarkdown(text)
        self.fit_narration()
        self.fit_split()

    def fit_split(self) -> None:
        """Give the narration the room its text needs, taken from the step list down to
        three of its rows (at 720p a long step's claims fell below the pane, the list below
        it half empty); a short narration leaves the list whole."""
        total = sum(self.split.sizes())
        rows = self.steps_list.count()
        if total <= 0 or not rows:
            return
        row = max(self.steps_list.sizeHintForRow(0), 1)
        frame = 2 * self.steps_list.frameWidth() + 2
        whole = sum(max(self.steps_list.sizeHintForRow(i), 1) for i in range(rows)) + frame
        least = min(whole, 3 * row + frame)
        view = self.narration.viewport()
        need = int(self.narration.document().size().height()) + 8 \
            + (self.narration.height() - view.height())
        steps = max(least, min(whole, total - need))
        steps = min(steps, total - self.narration.minimumHeight())
        self.steps_list.setMinimumHeight(min(least, steps))  # (a list's own minimum is ~70)
        if steps > 0 and self.split.sizes()[1] != steps:
            self.split.setSizes([total - steps, steps])

    def fit_narration(self) -> None:
        """Presenter mode: the narration and its claims fit the pane, no scrolling (at 720p
        the claims fell below it): the text shrinks in steps while it is taller than the
        pane, never below the size it has outside presenter mode."""
        doc = self.narration.document()
        font = QFont(self.narration.font())
        size = font.pointSizeF()
        scale = self.presenter.scale if self.presenter.active else 1.0
        if size <= 0 or scale <= 1.0:
            if doc.defaultFont() != font:
                doc.setDefaultFont(font)
            return
        floor = size / scale
        view = self.narration.viewport()
        doc.setDefaultFont(font)
        while doc.size().height() > view.height() and size > floor:
            size = max(floor, size * 0.92)
            font.setPointSizeF(size)
            doc.setDefaultFont(font)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt naming)
        if event.type() == QEvent.Type.Resize and obj is self.narration.viewport() \
                and self.presenter.active:
            self.fit_narration()
        return False

    def _watch_runs(self) -> None:
        """Re-render the narration whenever the runs change (placeholders, claims)."""
        if getattr(self, "_watching_runs", False):
            return
        self._watching_runs = True
        self.window_.adapter.runsChanged.connect(self._on_runs_changed)

    def _on_runs_changed(self) -> None:
        step = self.step
        if step is not None:
            self._show_narration(step)

    def _bad_color(self) -> str:
        return "#ff6b6b" if getattr(self.window_.theme, "name", "") == "dark" else "#c62828"

    def _claim_results(self, step: Step) -> list[tuple[Claim, tuple[bool, Measured] | None]]:
        """(claim, check_claim's (holds, measured), or None while it is `pending`) for the
        step's claims about models on screen, each checked once."""
        runs = self.window_.session.runs
        return [(c, None if pending(c, runs) else check_claim(c, runs))
                for c in step.claims if c.model in runs]

    def claims_markdown(self, step: Step, results=None) -> str:
        """The checked numbers under the narration, one sentence each ('RNN (tanh):
        ‖dL/dh₁‖ / ‖dL/dh_T‖ = 1.38 × 10⁻¹² — below 10⁻¹⁰ ✓'); a failing one in red.
        results: `_claim_results(step)` when already checked."""
        runs = self.window_.session.runs
        lines = []
        for claim, result in self._claim_results(step) if results is None else results:
            if result is None:  # measured when the backward pass or the Jacobian norms arrive
                sentence = narration_markdown(pending_sentence(claim, runs[claim.model].label))
                lines.append(f"<span style=\"color:{self.window_.theme.muted}\">{sentence}"
                             "</span>")
                continue
            ok, actual = result
            sentence = narration_markdown(claim_sentence(claim, actual, runs[claim.model].label))
            if not ok:
                sentence = f"<span style=\"color:{self._bad_color()}\"><b>{sentence}</b></span>"
            lines.append(sentence)
        if not lines:
            return ""
        return "---\n\n*Checked on this run:*\n\n" + "\n\n".join(lines)

    def current_markdown(self) -> str:
        return self.narration.document().toMarkdown()


_SUBS = str.maketrans("0123456789+-−=()aehijklmnoprstuvx",
                      "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUPS = str.maketrans("0123456789+-−=()nT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿᵀ")


def _plain(text: str) -> str:
    """A step title for the list (plain text): sub/superscripts as Unicode where possible."""

    def script(m: re.Match) -> str:
        table = _SUBS if m.group(1) == "sub" else _SUPS
        body = m.group(2)
        out = body.translate(table)
        ok = all(ch != c or not ch.isalnum() for ch, c in zip(out, body, strict=True))
        return out if ok else ("_" if m.group(1) == "sub" else "^") + body

    return re.sub(r"<(sub|sup)>(.*?)</\1>", script, narration_markdown(text))


def find_builtin_dir() -> Path:
    from lstmviz.walkthrough import BUILTIN_DIR

    return BUILTIN_DIR


def open_in_window(window, name_or_path: str, step: int | None = None, *,
                   wait: bool = True) -> bool:
    """Show `window`, then open a walkthrough at `step` (1-based), jumping rather than
    playing: what `lstmviz --walkthrough NAME --step K` does (also with --screenshot).
    `wait`: block until the step's run is on screen (a screenshot); False (the
    interactive start) lets a large step compute in the background."""
    from PySide6.QtWidgets import QApplication

    panel = window.tools.get(WalkthroughPanel.name)
    if panel is None:
        return False
    window.show()
    for _ in range(3):
        QApplication.processEvents()
    if not panel.open(name_or_path, step or 1, animate=False):
        return False
    if not wait:
        return True
    panel.wait_step()
    panel.wait_ranges()  # the held gradient axis, so that a screenshot is reproducible
    return True
