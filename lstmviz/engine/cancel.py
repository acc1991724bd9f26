"""Cooperative cancel for long computations: the engine's loops call `checkpoint()`; a
background job runs its work inside `cancel_scope(hook)`, and once `hook()` is true the
next checkpoint raises `Cancelled` (the engine is pure: nothing to clean up). Without a
scope a checkpoint costs one attribute lookup (~0.1 us; the hook's own cost comes on top
inside a scope, so loops whose steps take microseconds call it every few steps). Threads a
job starts carry its hook along with `carried(fn)` (a thread-local does not cross into a
pool's threads by itself)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Hook = Callable[[], bool]


class _Local(threading.local):
    #: the current thread's hook; a class default, so that a thread without a scope finds
    #: None without the cost of a failed attribute lookup (~1 us)
    hook: Hook | None = None


_local = _Local()


class Cancelled(BaseException):
    """The computation was cancelled (a BaseException: no `except Exception` swallows it)."""


def checkpoint() -> None:
    """Raise Cancelled if the current thread's job was cancelled."""
    hook = _local.hook
    if hook is not None and hook():
        raise Cancelled("cancelled")


def current() -> Hook | None:
    return _local.hook


@contextmanager
def cancel_scope(hook: Hook | None) -> Iterator[None]:
    """Checkpoints in this thread consult `hook` while the block runs."""
    old = current()
    _local.hook = hook
    try:
        yield
    finally:
        _local.hook = old


def carried(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` wrapped to run under the calling thread's hook in whichever thread runs it."""
    hook = current()
    if hook is None:
        return fn

    def run(*args: Any, **kwargs: Any) -> Any:
        with cancel_scope(hook):
            return fn(*args, **kwargs)

    return run
