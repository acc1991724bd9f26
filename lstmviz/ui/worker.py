"""Recompute off the GUI thread: one job at a time, the latest request wins."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from lstmviz.config import Config
from lstmviz.session import Session, compute_runs

#: Work units (T * H^2 * models) that surely compute within a frame: always inline.
INLINE_LIMIT = 40 * 16 * 16 * 2
#: A recompute predicted to take longer than this (s) goes to the worker thread.
FRAME_SECONDS = 0.016


def work_units(config: Config) -> int:
    return config.seq_len * config.batch_size * max(config.hidden_size, 8) ** 2 * len(
        config.models)


class _Signals(QObject):
    finished = Signal(object, object, float)  # config, runs, seconds
    errored = Signal(object, str)  # config, message
    completed = Signal(int, object)  # session generation, runs with Jacobian norms


class _Job(QRunnable):
    def __init__(self, config: Config, weights, signals: _Signals) -> None:
        super().__init__()
        self.config, self.weights, self.signals = config, weights, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        start = time.perf_counter()
        try:
            runs = compute_runs(self.config, self.weights, jacobians=False)
        except Exception as exc:  # noqa: BLE001 - reported to the user, never raised into Qt
            self.signals.errored.emit(self.config, str(exc))
            return
        self.signals.finished.emit(self.config, runs, time.perf_counter() - start)


class _JacobianJob(QRunnable):
    """Completes the exact Jacobian norms of a session's runs; gives up once they are stale."""

    def __init__(self, session: Session, signals: _Signals) -> None:
        super().__init__()
        self.session, self.signals = session, signals
        self.generation, self.runs = session.generation, dict(session.runs)
        self.setAutoDelete(True)

    def run(self) -> None:
        done = {}
        for kind, run in self.runs.items():
            if self.session.generation != self.generation:
                return  # newer runs arrived: their own job is queued
            try:
                done[kind] = run.completed()
            except Exception:  # noqa: BLE001 - never raise into Qt; norms stay NaN
                return
        self.signals.completed.emit(self.generation, done)


class Recomputer(QObject):
    """Applies configs to the session: inline when small, else in a worker thread.

    Signals: `busyChanged(bool)`, `failed(str)` with a message naming the problem
    (the session keeps what it had), `applied()` after new runs are installed.
    """

    busyChanged = Signal(bool)
    failed = Signal(str)
    applied = Signal()
    jacobiansPending = Signal(bool)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.signals = _Signals(self)
        self.signals.finished.connect(self._finished)
        self.signals.errored.connect(self._errored)
        self.signals.completed.connect(self._completed)
        self.jacobian_pool = QThreadPool(self)
        self.jacobian_pool.setMaxThreadCount(1)
        self._running = False
        self._pending: Config | None = None
        self.last_seconds = 0.0
        self._per_unit = 0.0

    @property
    def busy(self) -> bool:
        return self._running

    def request(self, config: Config) -> None:
        if self._running:
            self._pending = config
            return
        if self.predict_seconds(config) <= FRAME_SECONDS:
            start = time.perf_counter()
            try:
                runs = compute_runs(config, self.session.weights, jacobians=False)
            except Exception as exc:  # noqa: BLE001
                self.failed.emit(str(exc))
                return
            self._measured(config, time.perf_counter() - start)
            self.session.apply(config, runs)
            self.applied.emit()
            self.complete_jacobians()
            return
        self._running = True
        self.busyChanged.emit(True)
        self.pool.start(_Job(config, dict(self.session.weights), self.signals))

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
        if self.session.jacobians_ready:
            return
        self.jacobiansPending.emit(True)
        self.jacobian_pool.start(_JacobianJob(self.session, self.signals))

    def _completed(self, generation: int, runs) -> None:
        if self.session.complete_jacobians(generation, runs):
            self.jacobiansPending.emit(False)

    def wait(self, msecs: int = 60000) -> None:
        """Block until the runs and their Jacobian norms are computed and installed."""
        from PySide6.QtCore import QCoreApplication

        self.pool.waitForDone(msecs)
        QCoreApplication.processEvents()  # deliver `finished`, which may queue Jacobians
        self.jacobian_pool.waitForDone(msecs)
        QCoreApplication.processEvents()

    def _finished(self, config: Config, runs, seconds: float) -> None:
        self._measured(config, seconds)
        self._running = False
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.request(pending)
            if self._running:
                return
        else:
            self.session.apply(config, runs)
            self.applied.emit()
            self.complete_jacobians()
        self.busyChanged.emit(False)

    def _errored(self, config: Config, message: str) -> None:
        self._running = False
        self.failed.emit(message)
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.request(pending)
        if not self._running:
            self.busyChanged.emit(False)
