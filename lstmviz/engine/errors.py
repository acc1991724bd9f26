"""Errors raised by the engine: every message names the argument, what was expected and got."""

from __future__ import annotations


class EngineError(ValueError):
    """Bad input to an engine function (unknown kind, wrong shape, wrong dtype, ...)."""


class WeightFileError(EngineError):
    """A weight file is missing, unreadable or holds arrays of the wrong shape."""
