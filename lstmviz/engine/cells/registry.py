"""The cell kinds, in course order, and the one lookup every layer uses: `get(kind)`.

An unknown kind is an EngineError naming the known ones, never a fallback. `register` adds a
kind (a CellKind, or a module with a KIND attribute) so tests can add a dummy one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from ..errors import EngineError
from . import gru, indrnn, lru, lstm, mingru, minlstm, rnn, slstm
from .base import CellKind

_KINDS: dict[str, CellKind] = {
    m.KIND.name: m.KIND for m in (rnn, lstm, gru, indrnn, mingru, minlstm, lru, slstm)
}

#: The built-in kinds in course order (classic cells, then the modern answers).
BUILTIN = tuple(_KINDS)


@dataclass(frozen=True)
class Preset:
    """A named configuration of a kind that the course shows as its own model (IRNN)."""

    name: str
    kind: str
    label: str
    options: dict = field(default_factory=dict)  # equation options, e.g. activation
    init_options: dict = field(default_factory=dict)  # init_params options, e.g. init
    note: str = ""


#: IRNN (Le, Jaitly & Hinton 2015) is the vanilla RNN with relu and W_hh = weight_scale * I.
PRESETS: dict[str, Preset] = {
    "irnn": Preset("irnn", "rnn", "IRNN", {"activation": "relu"}, {"init": "identity"},
                   "a relu RNN whose W_hh starts as weight_scale * I"),
}


def kinds() -> tuple[str, ...]:
    """Every registered kind name in course order (built-ins first, then registered ones)."""
    return tuple(_KINDS)


def get(kind: str) -> CellKind:
    """The CellKind named `kind`; EngineError (naming the known kinds) for anything else."""
    try:
        return _KINDS[kind]
    except (KeyError, TypeError):
        known = ", ".join(map(repr, _KINDS))
        raise EngineError(f"kind: expected one of {known}, got {kind!r}") from None


def register(kind_module: CellKind | ModuleType, *, replace: bool = False) -> CellKind:
    """Add a kind (a CellKind or a module with KIND); EngineError if its name is taken."""
    kind = kind_module if isinstance(kind_module, CellKind) else getattr(kind_module, "KIND",
                                                                          None)
    if not isinstance(kind, CellKind):
        raise EngineError(f"register: expected a CellKind or a module with KIND, got "
                          f"{type(kind_module).__name__}")
    if kind.name in _KINDS and not replace:
        raise EngineError(f"register: kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a registered (non-built-in) kind; EngineError for a built-in or unknown one."""
    if name in BUILTIN:
        raise EngineError(f"unregister: {name!r} is a built-in kind")
    get(name)
    del _KINDS[name]
