"""Workers of the Training dock: training processes and the sweep, off the GUI thread.

Both speak one signal vocabulary: `started()` and `finished()` (QThread's own),
`progress(...)`, `result(object)`, `failed(str)`; when `finished` arrives, `reason` says how
it ended: "finished", "stopped" (training), "cancelled" (sweep) or "failed". superqt's
`create_worker` runs a generator in a thread; the work here runs in spawned processes (a
thread would hold the GIL the GUI needs), so these are QThreads that only wait on pipes and
futures, with the same signal names.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.connection import wait as mp_wait

from PySide6.QtCore import QThread, Signal

from lstmviz.engine.training import sweep as sweep_mod
from lstmviz.engine.training.process import train_in_process
from lstmviz.engine.training.trainer import TrainConfig

#: Seconds between metric batches sent to the GUI (a few per second, never per iteration).
EMIT_EVERY = 0.25
#: Seconds a stopped training process gets to finish its minibatch before it is terminated.
STOP_GRACE = 0.5


class TrainWorker(QThread):
    """Trains each model in its own spawned, lower-priority process and relays its reports.

    Why processes: a Python training loop in a thread holds the GIL, and every Python <-> C++
    hand-over while pyqtgraph repaints then waits for it (measured: a 6.7 s GUI stall per
    repaint on 2 busy cores). This thread only waits on pipes (GIL released), the GUI keeps
    the interpreter, and the models use both cores at a lower priority than the GUI.

    `states` (kind -> Trainer.state()) continues a stopped run; `snapshots` (kind -> count)
    keeps its history schedule. Signals: progress(list of (kind, Metrics), dict kind ->
    Trainer.state(), list of (kind, Snapshot)) about every EMIT_EVERY s; failed(str);
    finished() with `reason` set.
    """

    progress = Signal(object, object, object)
    result = Signal(object)
    failed = Signal(str)

    def __init__(self, configs: dict[str, TrainConfig], iterations: int, parent=None, *,
                 states: dict | None = None, snapshots: dict | None = None,
                 labels: dict[str, str] | None = None) -> None:
        super().__init__(parent)
        self.configs = configs
        self.iterations = iterations
        self.states = states or {}
        self.snapshots = snapshots or {}
        self.labels = labels or {}
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = self._ctx.Event()  # checked by every process before each minibatch
        self._running = self._ctx.Event()
        self._running.set()
        self._paused = False
        self.reason = ""

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake paused processes so they can exit

    def pause(self) -> None:
        self._paused = True
        self._running.clear()

    def resume(self) -> None:
        self._paused = False
        self._running.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def run(self) -> None:
        procs, conns = [], {}
        reason = "finished"
        try:
            for kind, cfg in self.configs.items():
                recv, send = self._ctx.Pipe(duplex=False)
                proc = self._ctx.Process(
                    target=train_in_process, daemon=True, name=f"lstmviz-train-{kind}",
                    args=(cfg, self.iterations, send, self._stop, self._running, EMIT_EVERY),
                    kwargs={"state": self.states.get(kind), "nice": True,
                            "snapshots_before": self.snapshots.get(kind, 0)})
                proc.start()
                send.close()
                procs.append(proc)
                conns[recv] = kind
            batch: list = []
            states: dict = {}
            snaps: list = []
            last = time.monotonic()
            stop_seen = None
            while conns:
                if self._stop.is_set():  # running processes stop within a minibatch;
                    stop_seen = stop_seen or time.monotonic()  # booting ones are cut short
                    if time.monotonic() - stop_seen > STOP_GRACE:
                        reason = "stopped"
                        break
                for conn in mp_wait(list(conns), timeout=EMIT_EVERY):
                    kind = conns[conn]
                    try:
                        msg = conn.recv()
                    except (EOFError, OSError):
                        del conns[conn]
                        continue
                    if msg[0] == "metrics":
                        batch.extend((kind, m) for m in msg[1])
                        states[kind] = msg[2]
                        snaps.extend((kind, s) for s in msg[3])
                    elif msg[0] == "failed":
                        self.failed.emit(f"{self.labels.get(kind, kind)}: {msg[1]}")
                        reason = "failed"
                        del conns[conn]
                    else:
                        if msg[1] == "stopped" and reason != "failed":
                            reason = "stopped"
                        del conns[conn]
                now = time.monotonic()
                if (batch or states) and (now - last >= EMIT_EVERY or not conns):
                    self.progress.emit(batch, states, snaps)
                    batch, states, snaps, last = [], {}, [], now
            if batch or states or snaps:
                self.progress.emit(batch, states, snaps)
        except Exception as exc:  # noqa: BLE001 - e.g. a process that cannot start
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            reason = "failed"
        finally:
            self._stop.set()
            deadline = time.monotonic() + STOP_GRACE
            for proc in procs:
                proc.join(max(0.0, deadline - time.monotonic()))
                if proc.is_alive():
                    proc.terminate()
                    proc.join(1.0)
        self.reason = reason


class SweepWorker(QThread):
    """Runs the sweep's points over a process pool: result(SweepResult) per point,
    finished() with `reason` "finished" | "cancelled" | "failed"; by then no worker process
    is left."""

    progress = Signal(int, int)  # done, total
    result = Signal(object)
    failed = Signal(str)

    def __init__(self, points, workers: int = 2, parent=None) -> None:
        super().__init__(parent)
        self.points = points
        self.workers = workers
        self._cancel = threading.Event()
        self._done = 0
        self.reason = ""

    def cancel(self) -> None:
        self._cancel.set()

    def _on_result(self, r) -> None:
        self._done += 1
        self.result.emit(r)
        self.progress.emit(self._done, len(self.points))

    def run(self) -> None:
        reason = "finished"
        try:
            sweep_mod.run_sweep(self.points, self.workers, on_result=self._on_result,
                                cancelled=self._cancel.is_set)
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(f"{type(exc).__name__}: {exc}")
            reason = "failed"
        if self._cancel.is_set():
            reason = "cancelled"
        self.reason = reason
