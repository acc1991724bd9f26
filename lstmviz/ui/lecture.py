"""The lecture layout: while a walkthrough is open it owns the window's docks.

The narration (the walkthrough dock) sits alone in the right dock area, spanning the full
height, locked in place (not movable, floatable or closable, so nothing can be dropped on
it or tabbed over it). The panels a step names are laid out side by side in the bottom
area, in the step's order, never tabbed; the first one gets the most width ("settings", a
form, goes to the left area). Panels the step does not name are hidden. The sizes are
computed from the window's size, again after every resize, so 1280x720 shows everything.

`enter` keeps the user's own layout (QMainWindow.saveState); `leave` restores it exactly,
and `user_state` is what the window saves on close while a lecture is on screen.
"""

from __future__ import annotations

import queue
import time

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget

from lstmviz.ui.registry import LAYOUT_VERSION
from lstmviz.ui.worker import POLL_MS, _Job, drain

#: Dock areas and their Qt values.
RIGHT = Qt.DockWidgetArea.RightDockWidgetArea
BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
LEFT = Qt.DockWidgetArea.LeftDockWidgetArea
#: What a step without `docks` shows when no earlier step named any.
DEFAULT_DOCKS = ("gradients",)
#: Docks whose content is a tall column (cell inspector): a full-height column beside the
#: narration rather than a short box in the row of panels.
TALL_DOCKS = ("inspector",)
#: Dock features of the narration while a lecture is on: none (it cannot be moved away,
#: floated, closed or have a dock dropped onto it).
LOCKED = QDockWidget.DockWidgetFeature.NoDockWidgetFeatures


def narration_width(width: int, presenter: bool = False) -> int:
    """Width of the narration pane for a window `width` px wide (wider in presenter mode,
    whose text is twice the size)."""
    if presenter:
        return int(min(max(width * 0.34, 420), 1100))
    return int(min(max(width * 0.22, 330), 620))


def tall_width(width: int) -> int:
    """Width of a tall column (the inspector) for a window `width` px wide."""
    return int(min(max(width * 0.215, 310), 560))


def panel_widths(names: list[str], available: int) -> list[int]:
    """Widths of the bottom panels, side by side in `available` px: the first is the large
    one, and the gradient plot (the plot the lectures are about) is never narrow."""
    if not names:
        return []
    if len(names) == 1:
        return [available]
    weights = [1.0] * len(names)
    weights[0] = 1.5 if len(names) == 2 else 1.3
    if "gradients" in names:
        i = names.index("gradients")
        weights[i] = max(weights[i], 1.5)
    total = sum(weights)
    widths = [int(available * w / total) for w in weights]
    # the small ones stay readable (280 px) while the large one can give the room
    floor = min(280, available // len(names))
    short = sum(max(0, floor - x) for x in widths)
    big = max(range(len(names)), key=lambda k: widths[k])
    return [max(x, floor) if k != big else x - short for k, x in enumerate(widths)]


def bottom_height(height: int, unrolled: float) -> int:
    """Height of the row of panels in a client area `height` px tall, leaving the unrolled
    view the `unrolled` px its rows need (within 32% to 45% of the height)."""
    return int(min(max(height - unrolled, height * 0.55), height * 0.7))


class LectureLayout(QObject):
    """Applies the lecture layout to a MainWindow and gives the user's own back."""

    def __init__(self, window, narration: str = "walkthrough") -> None:
        super().__init__(window)
        self.window_ = window
        self.narration = narration
        self.active = False
        self.user_state = QByteArray()
        self.names: tuple[str, ...] = ()
        self._features: dict[str, QDockWidget.DockWidgetFeature] = {}
        self._areas: dict[str, Qt.DockWidgetArea] = {}
        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(120)
        self._relayout.timeout.connect(self.relayout)
        self._size = None
        self._bottom: list[str] = []
        window.installEventFilter(self)
        unrolled = getattr(window, "unrolled", None)
        if unrolled is not None:  # a step's models arrive after its layout: rows follow
            unrolled.scene().sceneRectChanged.connect(self._rows_changed)

    # -- on / off -------------------------------------------------------------------
    def enter(self) -> None:
        """Keep the user's layout (once) and lock the narration in place."""
        if self.active:
            return
        w = self.window_
        self.user_state = w.saveState(LAYOUT_VERSION)
        self._features = {n: d.features() for n, d in w.docks.items()}
        self._areas = {n: d.allowedAreas() for n, d in w.docks.items()}
        for name, dock in w.docks.items():
            dock.setFloating(False)
            if name == self.narration:
                dock.setFeatures(LOCKED)
                dock.toggleViewAction().setEnabled(False)  # "Close walkthrough" leaves
            else:  # nothing may be dropped beside (or onto) the narration
                dock.setAllowedAreas(LEFT | BOTTOM | Qt.DockWidgetArea.TopDockWidgetArea)
        self.active = True

    def leave(self) -> None:
        """Give the user's own layout back, exactly."""
        if not self.active:
            return
        w = self.window_
        self._relayout.stop()
        w.docks[self.narration].toggleViewAction().setEnabled(True)
        for name, dock in w.docks.items():
            dock.setFeatures(self._features.get(name, dock.features()))
            dock.setAllowedAreas(self._areas.get(name, Qt.DockWidgetArea.AllDockWidgetAreas))
        w.restoreState(self.user_state, LAYOUT_VERSION)
        self.active = False
        self.names = ()

    # -- layout ---------------------------------------------------------------------
    def apply(self, names: tuple[str, ...] | None, *, hide: tuple[str, ...] = ()) -> None:
        """Lay out the narration and the docks `names` (a step's `docks`, in order; None:
        those of the last step that named any). `hide`: names never shown (presenter)."""
        if not self.active:
            self.enter()
        w = self.window_
        if names is not None:
            self.names = tuple(names)
        shown = [n for n in (self.names or DEFAULT_DOCKS)
                 if n in w.docks and n != self.narration and n not in hide]
        narration = w.docks[self.narration]
        for name, dock in w.docks.items():
            if name != self.narration and name not in shown:
                dock.hide()
        self.untab_hidden()
        # take every dock shown out of wherever it was (its tab group, its split) and put
        # it back in place: a removed dock is untabified
        for name in [self.narration, *shown]:
            w.removeDockWidget(w.docks[name])
        w.addDockWidget(RIGHT, narration, Qt.Orientation.Vertical)
        narration.show()
        bottom = [n for n in shown if n != "settings" and n not in TALL_DOCKS]
        tall = [n for n in shown if n in TALL_DOCKS]
        for name in tall:  # columns left of the narration, in the step's order
            w.splitDockWidget(narration, w.docks[name], Qt.Orientation.Horizontal)
            w.splitDockWidget(w.docks[name], narration, Qt.Orientation.Horizontal)
            w.docks[name].show()
        if "settings" in shown:
            w.addDockWidget(LEFT, w.docks["settings"], Qt.Orientation.Horizontal)
            w.docks["settings"].show()
        previous = None
        for name in bottom:
            dock = w.docks[name]
            if previous is None:
                w.addDockWidget(BOTTOM, dock, Qt.Orientation.Horizontal)
            else:
                w.splitDockWidget(previous, dock, Qt.Orientation.Horizontal)
            dock.show()
            previous = dock
        self._sizes(shown, bottom, tall)
        self._size = w.size()

    def untab_hidden(self) -> None:
        """Take the hidden docks out of the narration's area: one left hidden in its tab
        group keeps a tab bar ("Cell inspector | Walkthrough") over the narration."""
        w = self.window_
        for name, dock in w.docks.items():
            if name != self.narration and dock.isHidden() and w.dockWidgetArea(dock) == RIGHT:
                w.removeDockWidget(dock)

    def _sizes(self, shown: list[str], bottom: list[str], tall: list[str]) -> None:
        w = self.window_
        docks = w.docks
        nar = narration_width(w.width(), self._presenting())
        column = tall_width(w.width())
        left = 0
        if "settings" in shown:
            left = min(300, w.width() // 5)
        available = max(200, w.width() - nar - column * len(tall) - left - 12)
        widths = panel_widths(bottom, available)
        horizontal = [docks[self.narration]] + [docks[n] for n in tall + bottom]
        sizes = [nar] + [column] * len(tall) + widths
        if left:
            horizontal.append(docks["settings"])
            sizes.append(left)
        w.resizeDocks(horizontal, sizes, Qt.Orientation.Horizontal)
        self._bottom = list(bottom)
        self._fit_bottom()

    def _fit_bottom(self) -> None:
        """Height of the bottom row: what the unrolled view's rows leave (bottom_height)."""
        w = self.window_
        if not self._bottom:
            return
        rows = w.unrolled.scene().sceneRect().height() if hasattr(w, "unrolled") else 200
        height = bottom_height(_client_height(w), rows + 36)
        w.resizeDocks([w.docks[n] for n in self._bottom], [height] * len(self._bottom),
                      Qt.Orientation.Vertical)

    def _rows_changed(self, *_args) -> None:
        """The unrolled view's rows changed (the step's runs arrived, with other models
        than the last step's): the bottom row takes the height they now leave (it was
        sized by the previous step's rows)."""
        if self.active:
            self._fit_bottom()

    def relayout(self) -> None:
        if self.active:
            self.apply(None, hide=self._hidden())

    def _presenting(self) -> bool:
        presenter = getattr(self.parent_panel(), "presenter", None)
        return presenter is not None and presenter.active

    def _hidden(self) -> tuple[str, ...]:
        return ("settings",) if self._presenting() else ()

    def parent_panel(self):
        return self.window_.tools.get(self.narration)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if (obj is self.window_ and event.type() == QEvent.Type.Resize and self.active
                and event.size() != self._size):
            self._relayout.start()
        return False


def _client_height(window) -> int:
    """Height between the toolbars and the status bar (where docks and the centre go)."""
    from PySide6.QtWidgets import QToolBar

    used = sum(bar.height() for bar in (window.menuBar(), window.statusBar())
               if bar.isVisible())
    used += sum(t.height() for t in window.findChildren(QToolBar)
                if t.isVisible() and not t.isFloating()
                and window.toolBarArea(t) in (Qt.ToolBarArea.TopToolBarArea,
                                              Qt.ToolBarArea.BottomToolBarArea))
    return max(200, window.height() - used)


# -- the held y range of the gradient plot ------------------------------------------------
def held_y_range(configs) -> tuple[tuple[float, float] | None, frozenset]:
    """(lo, hi), the gradient plot's y range (log10 exponents, whole decades) that shows
    every run of `configs` (the steps of a walkthrough): the union of their ‖dL/dh_t‖ and
    ‖dL/dc_t‖; and the configs whose runs overflow, which are left out of the union (their
    curves run off any range a comparison could use) and keep an axis of their own.

    Runs are computed without the Jacobian norms (they are not plotted there); weights are
    never used (a walkthrough owns its run). The range is None when no run is finite.
    """
    import math

    import numpy as np

    from lstmviz.session import compute_runs

    logs, overflowing = [], set()
    for config in dict.fromkeys(configs):
        runs = compute_runs(config, jacobians=False).values()
        if any(run.overflow_step is not None for run in runs):
            overflowing.add(config)
            continue
        for run in runs:
            d = run.diagnostics
            logs.extend(a for a in (d.log10_grad_h, d.log10_grad_c) if a is not None)
    finite = [a[np.isfinite(a)] for a in (np.asarray(x, dtype=float) for x in logs)]
    finite = [a for a in finite if a.size]
    if not finite:
        return None, frozenset(overflowing)
    lo = float(min(a.min() for a in finite))
    hi = float(max(a.max() for a in finite))
    pad = max((hi - lo) * 0.04, 0.25)  # whole decades with a little room
    return (float(math.floor(lo - pad)), float(math.ceil(hi + pad))), frozenset(overflowing)


class RangeComputer(QObject):
    """Computes `held_y_range` off the GUI thread; `ready(token, range)` delivers it.

    A background job of `ui.worker` (a daemon thread that never touches Qt, its outcome
    polled from the GUI thread): it waits while the jobs are paused (a staged install, an
    export), stops at its next engine checkpoint when a newer walkthrough replaces it or
    the panel goes, and nothing ever waits for it with the GIL held (a QThreadPool owned
    here did: the deadlock of issue 17)."""

    ready = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._jobs: dict[_Job, object] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        jobs = self._jobs
        self.destroyed.connect(lambda *_: [job.cancel() for job in list(jobs)])

    def cancel(self) -> None:
        """Stop what is computing (the walkthrough closed): nothing is delivered."""
        for job in self._jobs:
            job.cancel()

    def start(self, token, configs) -> None:
        self.cancel()  # a newer walkthrough: the older range is not needed
        configs = list(configs)
        job = _Job("ranges", lambda _job: held_y_range(configs), self._outbox)
        self._jobs[job] = token
        self._timer.start()

    def _poll(self) -> None:
        for job, status, value in drain(self._outbox):
            if status == "progress":
                continue
            token = self._jobs.pop(job, None)
            if token is not None and not job.cancelled.is_set():
                # an error: the axis then follows the run
                self.ready.emit(token, value if status == "ok" else (None, frozenset()))
        for job in [j for j in self._jobs if j.cancelled.is_set() and not j.thread.is_alive()]:
            del self._jobs[job]
        if not self._jobs:
            self._timer.stop()

    def wait(self, msecs: int = 60000) -> None:
        """Block until the ranges asked for are computed and delivered (tests, CLI; joining
        a thread releases the GIL)."""
        deadline = time.monotonic() + msecs / 1000
        for job in [j for j in self._jobs if not j.cancelled.is_set()]:
            job.thread.join(max(deadline - time.monotonic(), 0))
        self._poll()
