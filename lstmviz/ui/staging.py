"""Large runs and theme changes reach the window's panels one panel per event-loop turn.

Installing runs at the Settings dock's largest values (T = 1000, H = 512, three models)
rebuilds every panel: 30-80 ms each, 0.2-0.5 s in a row, and a theme switch recolours
them all (0.5 s). `PanelStager` takes the panels' `runsChanged` / `frameChanged` /
`diagnosticsChanged` connections over from the adapter and, when the runs are large
(`STAGE_ELEMENTS`) or for a theme, runs each panel's update in its own event-loop turn,
the panels on screen first, so the window keeps answering in between (issue 17). Small
runs update every panel at once, exactly as before. A panel whose update is queued skips
the frames that arrive meanwhile (its items are of the old runs); its queued update shows
the current frame.

While updates are queued the background jobs (the exact Jacobian norms: minutes at these
settings) wait at their next checkpoint (`worker.pause_jobs`), and for PAINT_LEASE after
the last one, while the new items are painted: a job computing alongside holds the GIL
between the GUI thread's calls into Qt, and stretched a 40 ms panel rebuild to 300-400 ms
(the heartbeat measured 25 ms instead of 340-680 ms for File > Open with the jobs paused).
Not while the runs shown are forward passes alone (a long recompute's first picture): the
job computing then is their backward pass, which the window waits for (paused, it came
0.4-0.5 s later at the largest settings; unpaused the first picture is painted 0.1 s later).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from lstmviz.ui.adapter import SessionAdapter
from lstmviz.ui.panels.base import Panel
from lstmviz.ui.worker import PAUSE_LEASE, pause_jobs, resume_jobs

#: Delay (ms) between two staged updates: a 0 ms timer is a posted event, and Qt runs
#: the posted events (also those posted meanwhile) before any timer; 1 ms lets the
#: other timers (playback, the busy bar, the poll of background jobs) run in between.
STAGE_MS = 1
#: Runs with at least this many (t, b, h) elements over all models install in stages.
STAGE_ELEMENTS = 200_000
#: Seconds the background jobs stay paused after the last staged update (the paint of the
#: panels it changed follows in the next turns); the pause lapses by itself.
PAINT_LEASE = 0.4


def run_elements(session) -> int:
    c = session.config
    return c.seq_len * c.batch_size * c.hidden_size * len(session.runs)


class PanelStager(QObject):
    """Routes the adapter's signals to `panels`; see the module docstring."""

    def __init__(self, adapter: SessionAdapter, panels: dict[str, Panel],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.adapter, self.panels = adapter, panels
        #: panel name -> kind ("theme", "runs") -> its queued update
        self._queue: dict[str, dict[str, Callable[[], None]]] = {}
        self._posted = False
        # the owner of this stager's pause of the jobs (see the module docstring): a plain
        # key, so the pause can end when the stager is destroyed
        self._pause = key = object()
        self._installing = False
        self.destroyed.connect(lambda *_: resume_jobs(key))
        for panel in panels.values():
            adapter.runsChanged.disconnect(panel._on_runs)
            adapter.frameChanged.disconnect(panel._on_frame)
            if panel.per_layer:  # another layer shown: a rebuild, staged like new runs
                adapter.layerChanged.disconnect(panel._on_layer)
        adapter.runsChanged.connect(self._on_runs)
        adapter.frameChanged.connect(self._on_frame)
        adapter.layerChanged.connect(self._on_layer)

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def _large(self) -> bool:
        return run_elements(self.adapter.session) >= STAGE_ELEMENTS

    def _on_runs(self) -> None:
        staged = self._large()
        for name, panel in self.panels.items():
            if staged or name in self._queue:  # (after a queued theme change, in its turn)
                self.queue(name, "runs", lambda p=panel: (p._on_runs(), p._on_frame()))
            else:
                panel._on_runs()

    def _on_layer(self, *_args) -> None:
        staged = self._large()
        for name, panel in self.panels.items():
            if not panel.per_layer:
                continue
            if staged or name in self._queue:
                self.queue(name, "runs", lambda p=panel: (p._on_runs(), p._on_frame()))
            else:
                panel._on_layer()

    def _on_frame(self, *args) -> None:
        for name, panel in self.panels.items():
            if name not in self._queue:
                panel._on_frame(*args)

    def on_diagnostics(self, panel: Panel) -> None:
        """The exact Jacobian norms arrived: `panel` (that plots them) redraws."""
        if self._large() or panel.name in self._queue:
            self.queue(panel.name, "runs", lambda: (panel._on_runs(), panel._on_frame()))
        elif panel.name not in self._queue:
            panel._on_runs()
            panel._on_frame()

    def set_theme(self, theme) -> None:
        """Recolour every panel, one per turn (an unbuilt one takes the theme when built)."""
        for name, panel in self.panels.items():
            if panel.built:
                self.queue(name, "theme", lambda p=panel, t=theme: p.set_theme(t))
            else:
                panel.theme = theme

    def build(self, name: str, panel: Panel) -> None:
        """Build `panel` (not built yet) in a turn of its own; built, it shows the session's
        runs, frame and theme, so a runs or theme update queued for it is dropped."""
        if not panel.built:
            self.queue(name, "build", lambda: not panel.built and (panel.ensure_built() or True))

    def queue(self, name: str, kind: str, update: Callable[[], None]) -> None:
        """Queue `update` of panel `name`: one per kind ("theme" runs before "runs"), the
        latest of each kind wins."""
        self._queue.setdefault(name, {})[kind] = update
        if kind != "build" or self._large():  # (building at small settings is light)
            self._installing = True
            self._pause_jobs()  # renewed each turn; it lapses if the turns stop
        if not self._posted:
            self._posted = True
            QTimer.singleShot(STAGE_MS, self, self._next)

    def _next(self) -> None:
        self._posted = False
        if not self._queue:
            return
        on_screen = [n for n in self._queue if not self.panels[n]._off_screen()]
        name = (on_screen or list(self._queue))[0]
        self._run(self._queue.pop(name))
        self._repause()
        if self._queue:
            self._posted = True
            QTimer.singleShot(STAGE_MS, self, self._next)

    def _repause(self) -> None:
        """Renew the pause while installs are queued; after the last, hold it PAINT_LEASE."""
        if self._installing and self._queue:
            self._pause_jobs()
        elif self._installing:
            self._installing = False
            self._pause_jobs(PAINT_LEASE)

    def _pause_jobs(self, lease: float = PAUSE_LEASE) -> None:
        if self.adapter.session.gradients_ready:  # (else: the backward pass computes)
            pause_jobs(self._pause, lease)

    def flush(self) -> None:
        """Run every queued update now, and what panels left for later turns (scripts,
        screenshots, exports, tests)."""
        while self._queue:
            self._run(self._queue.pop(next(iter(self._queue))))
        for panel in self.panels.values():
            if panel.built:
                panel.complete()  # what a panel spread over later turns, drawn now
        self._installing = False
        resume_jobs(self._pause)  # (no paint to wait for: the caller goes on at once)

    @staticmethod
    def _run(updates: dict[str, Callable[[], None]]) -> None:
        if "build" in updates and updates.pop("build")():
            return  # built now, from the session's runs, frame and theme
        for kind in ("theme", "runs"):
            if kind in updates:
                updates[kind]()
