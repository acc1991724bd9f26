"""Recompute off the GUI thread: one job at a time, the latest request wins; the exact
Jacobian norms follow in the background. Jobs are cancellable and nothing waits for them."""

from __future__ import annotations

import ctypes
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from lstmviz.config import Config
from lstmviz.engine.cancel import Cancelled, cancel_scope
from lstmviz.session import Session, compute_runs

#: Work units (T * H^2 * models) that surely compute within a frame: always inline.
INLINE_LIMIT = 40 * 16 * 16 * 2
#: A recompute predicted to take longer than this (s) goes to the worker thread.
FRAME_SECONDS = 0.016
#: Inline recomputes in one event-loop turn stop after this much time (s): further
#: requests in that turn wait for the next one, and only the latest is computed (500
#: quick setting changes cost one recompute per turn, not 500 in a row).
TURN_BUDGET = 0.05
#: How often the GUI thread looks for finished background jobs (ms).
POLL_MS = 15
#: A background recompute predicted to take longer than this (s) shows its forward passes
#: first (the first picture: about 40% of the time at T = 1000, H = 512), then the runs
#: with their backward passes; shorter ones install once, without the extra rebuild.
PREVIEW_SECONDS = 0.4


def work_units(config: Config) -> int:
    return config.seq_len * config.batch_size * max(config.hidden_size, 8) ** 2 * len(
        config.models) * config.num_layers


#: Work units above which the window opens first and computes its runs in the background
#: (about 20 ms of compute on a laptop core: the default settings open computed).
START_INLINE_LIMIT = 50 * INLINE_LIMIT


def starts_in_background(config: Config) -> bool:
    """Whether a window opening on `config` shows first and computes after (progress in
    the status bar) rather than computing before it appears."""
    return work_units(config) > START_INLINE_LIMIT


def placeholder(config: Config) -> Config:
    """What a window shows for the moment it computes `config` in the background: the
    same models at small settings without weight files (the default settings if those do
    not validate)."""
    try:
        return config.replace(seq_len=min(config.seq_len, 40), batch_size=1, num_layers=1,
                              hidden_size=min(config.hidden_size, 16), weights=())
    except Exception:  # noqa: BLE001 - any setting the small copy cannot keep
        return Config()


class _Job:
    """One background computation on a daemon Python thread that never touches Qt.

    Its outcome goes into `outbox`, which the GUI thread polls: a job therefore never
    emits on a Qt object that may be gone (no "Signal source has been deleted"), and no Qt
    destructor waits for it (a QThreadPool owned by a window did, while the job waited
    for the GIL that destructor held: a deadlock). `cancel()` stops it within a step:
    the work runs in `engine.cancel.cancel_scope`, so every engine loop's checkpoint (each
    backward step, every 8 forward steps, each Jacobian product, between a run's stages,
    in the threads compute_runs starts too) raises `Cancelled` once it is cancelled; work with no
    checkpoint gets `Cancelled` raised in the job's thread at its next Python step. The
    result of a cancelled job is dropped. A job inside one long NumPy call dies with the
    process, never delaying exit.
    """

    def __init__(self, kind: str, work: Callable[[_Job], Any], outbox: queue.SimpleQueue) -> None:
        self.kind, self.work, self.outbox = kind, work, outbox
        self.cancelled = threading.Event()
        #: True while `work` runs: only then may an exception be raised in the thread. Read
        #: and cleared under `_state`, so a cancel never targets a thread that has moved on
        #: (once gone, its id may be a new thread's: a pool thread got `Cancelled` so)
        self._in_work = False
        self._state = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"lstmviz-{kind}", daemon=True)
        _LIVE.add(self)
        self.thread.start()

    def report(self, fraction: float) -> None:
        """Progress (0..1) for the GUI thread, which reads it at its next poll."""
        self.post("progress", fraction)

    def post(self, status: str, value: Any) -> None:
        """A partial result (status, value) for the GUI thread's next poll."""
        if not self.cancelled.is_set():
            self.outbox.put((self, status, value))

    def cancel(self) -> None:
        if self.cancelled.is_set():
            return
        self.cancelled.set()
        with self._state:
            ident = self.thread.ident
            if ident is not None and self._in_work:
                _raise_in(ident)

    def _run(self) -> None:
        try:
            try:
                with cancel_scope(_hook(self.cancelled)):
                    try:
                        with self._state:
                            self._in_work = not self.cancelled.is_set()
                        if not self._in_work:
                            raise Cancelled
                        result: Any = ("ok", self.work(self))
                    finally:
                        with self._state:
                            self._in_work = False
            except Exception as exc:  # noqa: BLE001 - reported to the user, never into Qt
                result = ("error", str(exc) or type(exc).__name__)
            if not self.cancelled.is_set():
                self.outbox.put((self, *result))
        except Cancelled:  # (also one raised in this thread just as the work ended)
            pass
        finally:
            _LIVE.discard(self)


def _raise_in(ident: int) -> None:
    """Raise Cancelled in the thread `ident` at its next Python step, unless a thread is
    being started anywhere (threading's `_limbo`, checked under its lock, so none starts
    meanwhile): CPython 3.11 makes a new thread's state in the starting thread, with the
    starter's id until the new thread runs, and PyThreadState_SetAsyncExc raises in every
    state of that id. The new thread then died before telling its starter it had started,
    and the starter (a job in compute_runs' pool.map, holding concurrent.futures' global
    lock) waited for ever: every other pool's submit with it (a CI run hung so). Skipped,
    the job still stops at its next engine checkpoint (the cancel hook), its result
    dropped."""
    lock = getattr(threading, "_active_limbo_lock", None)
    limbo = getattr(threading, "_limbo", None)
    if lock is None or limbo is None:  # pragma: no cover - another Python
        return
    with lock:
        if not limbo:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident),
                                                       ctypes.py_object(Cancelled))


#: Owners of a pause of the background jobs -> when it lapses (time.monotonic()). The GUI
#: thread pauses the jobs while it does a long job of its own in event-loop turns (an
#: in-app export): they then wait at their next engine checkpoint, releasing the GIL and
#: the cores (a window on two cores otherwise spent 2-4 s per view building an export
#: while the Jacobian norms computed). A pause is a lease the owner renews at each of its
#: turns: an owner that stops taking turns (the GUI thread blocked in `Recomputer.wait`,
#: which then waited for ever on a paused job, or an owner nobody finishes) lets the jobs
#: go on within PAUSE_LEASE seconds.
_PAUSES: dict[int, float] = {}
_PAUSES_LOCK = threading.Lock()
#: Seconds a pause lasts unless renewed (longer than one export step takes).
PAUSE_LEASE = 5.0


def pause_jobs(owner: object, lease: float = PAUSE_LEASE) -> None:
    """Background jobs wait at their next checkpoint until `resume_jobs(owner)`, or until
    `lease` seconds pass without another `pause_jobs(owner)` (which renews it)."""
    with _PAUSES_LOCK:
        _PAUSES[id(owner)] = time.monotonic() + lease


def resume_jobs(owner: object) -> None:
    with _PAUSES_LOCK:
        _PAUSES.pop(id(owner), None)


def jobs_paused() -> bool:
    """Whether a pause holds now (lapsed ones are dropped)."""
    now = time.monotonic()
    with _PAUSES_LOCK:
        for key in [k for k, until in _PAUSES.items() if until <= now]:
            del _PAUSES[key]
        return bool(_PAUSES)


def _hook(cancelled: threading.Event) -> Callable[[], bool]:
    """A job's checkpoint hook: True once cancelled; waits (GIL released) while paused."""
    def hook() -> bool:
        while not cancelled.is_set() and jobs_paused():
            cancelled.wait(0.02)
        return cancelled.is_set()

    return hook


#: Jobs whose thread is still running (for `live_jobs`; the set holds them, not Qt).
_LIVE: set[_Job] = set()


def drain(outbox: queue.SimpleQueue) -> Iterator[tuple]:
    """What jobs put into `outbox` so far, (job, status, value) each, without waiting."""
    while True:
        try:
            yield outbox.get_nowait()
        except queue.Empty:
            return


def live_jobs() -> int:
    """Background jobs still running in this process (cancelled ones included)."""
    return sum(job.thread.is_alive() for job in list(_LIVE))


def cancel_all_jobs() -> None:
    """Ask every background job to stop (at quit: nothing waits for them)."""
    for job in list(_LIVE):
        job.cancel()


def _jacobians(session: Session) -> Callable[[_Job], Any]:
    """Work of a Jacobian job: the exact norms of the session's runs; stops once they are
    stale (newer runs, their own job queued) or the job is cancelled."""
    generation, runs = session.generation, dict(session.runs)

    def work(job: _Job):
        done = {}
        n = len(runs)
        for i, (kind, run) in enumerate(runs.items()):
            if job.cancelled.is_set() or session.generation != generation:
                return None

            def progress(steps: int, total: int, i: int = i) -> None:
                job.report((i + steps / max(total, 1)) / n)

            done[kind] = run.completed(progress)
        return generation, done

    return work


class Recomputer(QObject):
    """Applies configs to the session: inline when small, else in a worker thread.

    Signals: `busyChanged(bool)`, `failed(str)` with a message naming the problem
    (the session keeps what it had), `applied()` after new runs are installed;
    `jacobiansPending(bool)` and `jacobiansProgress(float)` (0..1, the fraction of steps of
    all models whose exact Jacobian norms are computed) for the background norms;
    `progress(float)` (0..1, the stages of the runs done) while a recompute computes in the
    background, and `cancelled()` once `cancel()` stopped one (the session keeps its runs).
    `previewed()` after a long background recompute installed its forward passes (runs
    whose `gradients_ready` is False; the full runs follow with `applied()`; a cancel or
    an error puts back the runs shown before).
    """

    busyChanged = Signal(bool)
    failed = Signal(str)
    applied = Signal()
    previewed = Signal()
    cancelled = Signal()
    progress = Signal(float)
    jacobiansPending = Signal(bool)
    jacobiansProgress = Signal(float)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._jobs: set[_Job] = set()
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(POLL_MS)
        self._poll_timer.timeout.connect(self.poll)
        self._running = False
        #: (config, weights or None) requested while a job runs: the latest wins
        self._pending: tuple[Config, dict | None] | None = None
        self.last_seconds = 0.0
        self._per_unit = 0.0
        #: inline compute time spent in this event-loop turn, and the request left for
        #: the next turn once it exceeds TURN_BUDGET (the latest wins)
        self._turn_spent: float | None = None
        self._deferred: tuple[Config, dict | None] | None = None
        #: (config, runs) the session showed before a preview installed forward passes:
        #: put back if that recompute is cancelled or fails
        self._before_preview: tuple[Config, dict] | None = None

    @property
    def busy(self) -> bool:
        """A request is computing in the background or waits for the next turn."""
        return self._running or self._deferred is not None

    def _defer(self, config: Config, weights: dict | None) -> None:
        if weights is None and self._deferred is not None:
            weights = self._deferred[1]
        first = self._deferred is None
        self._deferred = (config, weights)
        if first:
            QTimer.singleShot(0, self, self._run_deferred)

    def _run_deferred(self) -> None:
        deferred, self._deferred = self._deferred, None
        if deferred is not None:
            self.request(*deferred)

    def _new_turn(self) -> None:
        self._turn_spent = None

    def request(self, config: Config, weights: dict | None = None) -> None:
        """Compute `config`'s runs (with `weights`, imported weights that replace the
        session's once computed; default: the session's) and install them."""
        if self._running:
            if weights is None and self._pending is not None:
                weights = self._pending[1]
            self._pending = (config, weights)
            return
        predicted = self.predict_seconds(config)
        if self._deferred is not None or (
                self._turn_spent is not None and self._turn_spent + predicted > TURN_BUDGET):
            self._defer(config, weights)
            return
        if predicted <= FRAME_SECONDS:
            if self._turn_spent is None:
                self._turn_spent = 0.0
                QTimer.singleShot(0, self, self._new_turn)
            start = time.perf_counter()
            try:
                runs = compute_runs(config, self.session.weights if weights is None
                                    else weights, jacobians=False)
            except Exception as exc:  # noqa: BLE001
                self.failed.emit(str(exc))
                return
            self._measured(config, time.perf_counter() - start)
            self._turn_spent += self.last_seconds
            if weights is not None:
                self.session.weights = dict(weights)
            self.session.apply(config, runs)
            self.applied.emit()
            self.complete_jacobians()
            return
        self._running = True
        self.busyChanged.emit(True)
        new_weights = weights
        weights = dict(self.session.weights if weights is None else weights)

        preview = predicted > PREVIEW_SECONDS

        def work(job: _Job):
            def first_picture(runs) -> None:
                job.post("preview", (config, runs))

            start = time.perf_counter()
            runs = compute_runs(config, weights, jacobians=False, progress=job.report,
                                on_forward=first_picture if preview else None)
            return config, runs, time.perf_counter() - start, new_weights

        self._start("recompute", work)

    def _start(self, kind: str, work: Callable[[_Job], Any]) -> None:
        self._jobs.add(_Job(kind, work, self._outbox))
        self._poll_timer.start()

    def predict_seconds(self, config: Config) -> float:
        """Time the recompute of `config` will take, scaled from the last one measured."""
        units = work_units(config)
        if units <= INLINE_LIMIT:
            return 0.0
        if not self._per_unit:
            return float("inf")  # unknown: never risk blocking the window
        return units * self._per_unit

    def _measured(self, config: Config, seconds: float) -> None:
        self.last_seconds = seconds
        self._per_unit = seconds / max(work_units(config), 1)

    def complete_jacobians(self) -> None:
        """Compute the exact Jacobian norms of the current runs in the background."""
        if self.session.jacobians_ready or not self.session.gradients_ready:
            return  # (forward passes shown alone: their full runs bring the norms)
        for job in self._jobs:  # stale ones stop at their next check
            if job.kind == "jacobians":
                job.cancel()
        self.jacobiansPending.emit(True)
        self._start("jacobians", _jacobians(self.session))

    def poll(self) -> None:
        """Install what finished jobs computed (GUI thread; the timer calls this)."""
        for job, status, value in drain(self._outbox):
            if status == "progress":
                if job in self._jobs and not job.cancelled.is_set():
                    (self.progress if job.kind == "recompute" else
                     self.jacobiansProgress).emit(value)
                continue
            if status == "preview":
                if job in self._jobs and not job.cancelled.is_set():
                    self._preview(*value)
                continue
            self._jobs.discard(job)
            if job.kind == "recompute":
                if status == "ok":
                    self._finished(*value)
                else:
                    self._errored(value)
            elif status == "ok" and value is not None:
                self._completed(*value)
        self._jobs = {j for j in self._jobs if j.thread.is_alive() or not j.cancelled.is_set()}
        if not self._jobs:
            self._poll_timer.stop()

    def _preview(self, config: Config, runs) -> None:
        """Install a recompute's forward passes (the first picture) unless a newer request
        waits (it would replace them at once)."""
        if self._pending is not None:
            return
        for job in self._jobs:  # the Jacobian norms of the runs replaced: stale now
            if job.kind == "jacobians":
                job.cancel()
        if self._before_preview is None:
            self._before_preview = (self.session.config, self.session.runs)
        self.session.apply(config, runs)
        self.previewed.emit()

    def _restore(self) -> None:
        """Put back the runs shown before a preview (its recompute stopped or failed)."""
        before, self._before_preview = self._before_preview, None
        if before is not None:
            self.session.apply(*before)
            self.complete_jacobians()
            if self.session.jacobians_ready:
                self.jacobiansPending.emit(False)

    def _completed(self, generation: int, runs) -> None:
        if self.session.complete_jacobians(generation, runs):
            self.jacobiansPending.emit(False)

    def wait(self, msecs: int = 60000, *, jacobians: bool = True) -> None:
        """Block until the runs (and, with `jacobians`, their exact Jacobian norms) are
        computed and installed (for scripts and `apply_config(wait=True)`; joining a
        thread releases the GIL, so this cannot deadlock)."""
        deadline = time.monotonic() + msecs / 1000
        while True:
            if self._deferred is not None:
                self._turn_spent = None
                self._run_deferred()
            self.poll()
            live = [j for j in self._jobs if not j.cancelled.is_set()
                    and (jacobians or j.kind != "jacobians")]
            if (not live and self._deferred is None) or time.monotonic() >= deadline:
                break
            for job in live:
                job.thread.join(min(0.05, max(deadline - time.monotonic(), 0)))
        self.poll()

    def cancel(self) -> bool:
        """Stop the recompute computing in the background and drop the requests waiting
        for it: the session keeps the runs it shows (their Jacobian norms go on). False if
        nothing was computing."""
        if not self.busy:
            return False
        self._pending = None
        self._deferred = None
        for job in [j for j in self._jobs if j.kind == "recompute"]:
            job.cancel()
            self._jobs.discard(job)
        self._restore()
        self._running = False
        self.busyChanged.emit(False)
        self.cancelled.emit()
        return True

    def shutdown(self) -> None:
        """The window is closing: cancel every job and drop its result, at once (a
        cancelled job stops at its next check; nothing waits for it)."""
        self._pending = None
        self._deferred = None
        for job in self._jobs:
            job.cancel()
        self._jobs.clear()
        self._poll_timer.stop()
        if self._running:
            self._running = False
            self.busyChanged.emit(False)

    def _finished(self, config: Config, runs, seconds: float, weights: dict | None) -> None:
        self._measured(config, seconds)
        self._running = False
        if weights is not None:  # imported weights computed fine: they are the session's now
            self.session.weights = dict(weights)
        previewed, self._before_preview = self._before_preview is not None, None
        # installed unless a newer request replaces them, and always after a preview
        # (forward passes are never left alone on screen)
        if self._pending is None or previewed:
            if not (previewed and self.session.complete_gradients(config, runs)):
                self.session.apply(config, runs)
            self.applied.emit()
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.request(*pending)
            if self._running:
                return
        else:
            self.complete_jacobians()
        self.busyChanged.emit(False)

    def _errored(self, message: str) -> None:
        self._running = False
        self._restore()
        self.failed.emit(message)
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.request(*pending)
        if not self._running:
            self.busyChanged.emit(False)
