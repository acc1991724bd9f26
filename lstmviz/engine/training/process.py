"""Process entry point of the Training dock: train one model, keep its history, report.

Runs in a spawned process (so the GUI keeps the interpreter, see ui.training_workers) or
inline (tests). Messages over `conn`, batched about every `every` seconds (a few per second,
never per iteration): ("metrics", [Metrics], Trainer.state(), [history Snapshot]) (a
snapshot of an iteration already sent replaces it: the last one is taken again with its
evaluation), then
("done", "finished" | "stopped") or ("failed", message).
"""

from __future__ import annotations

import os
import time

from .history import Recorder
from .trainer import Metrics, TrainConfig, Trainer

#: Niceness of a training process: the GUI (and its playback) comes first on a busy machine.
NICENESS = 10


def train_in_process(config: TrainConfig, iterations: int, conn, stop, running,
                     every: float = 0.25, state: dict | None = None, history: bool = True,
                     snapshots_before: int = 0, nice: bool = False) -> None:
    """Train to `iterations` in all (continuing from `state`, a Trainer.state(), if given).
    `stop` / `running` are multiprocessing Events: stop is checked before every minibatch;
    while `running` is clear the loop waits (pause). With `history`, snapshots follow the
    engine.training.history schedule for this budget (`snapshots_before` taken by earlier legs)."""
    try:
        if nice and hasattr(os, "nice"):
            os.nice(NICENESS)
        trainer = Trainer(config)
        if state is not None:
            trainer.set_state(state)
        recorder = Recorder(iterations=iterations, count=snapshots_before) if history else None
        if recorder is not None:
            recorder.start(trainer, take=state is None)
        batch: list[Metrics] = []
        sent = 0
        last = time.monotonic()

        def send() -> None:
            nonlocal batch, sent
            snaps = [] if recorder is None else recorder.snapshots[sent:]
            sent += len(snaps)
            conn.send(("metrics", batch, trainer.state(), snaps))
            batch = []

        while trainer.iteration < iterations and not stop.is_set():
            if not running.is_set():
                if batch:
                    send()
                running.wait(0.05)
                continue
            m = trainer.step()
            batch.append(m)
            if recorder is not None:
                recorder.after_step(trainer, m.loss)
            now = time.monotonic()
            if now - last >= every:
                send()
                last = now
        if recorder is not None:
            n = len(recorder.snapshots)
            if recorder.finish(trainer) is not None and len(recorder.snapshots) == n:
                sent = min(sent, n - 1)  # the last one was replaced: send it again
        send()
        conn.send(("done", "stopped" if stop.is_set() else "finished"))
    except (BrokenPipeError, EOFError):  # the app went away
        pass
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
