"""The one Qt adapter over the pure `Session`: turns its callbacks into signals."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from lstmviz.session import Frame, Session


class SessionAdapter(QObject):
    """Views connect to `runsChanged` (new arrays) and `frameChanged` (cursor moved).

    `runsChanged` is always followed by `frameChanged`, so a view may redraw everything
    frame-dependent in its frame slot only.
    """

    runsChanged = Signal()
    frameChanged = Signal(int)
    diagnosticsChanged = Signal()  # the exact Jacobian norms arrived for the current runs
    busyChanged = Signal(bool)
    selectionChanged = Signal(str, int)  # model kind, t (1-based) of the selected cell

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.selected: tuple[str, int] = (session.config.models[0], 1)
        session.on_runs.append(self.runsChanged.emit)
        session.on_frame.append(lambda: self.frameChanged.emit(session.cursor))
        session.on_diagnostics.append(self.diagnosticsChanged.emit)

    @property
    def frame(self) -> Frame:
        return self.session.frame

    def select(self, kind: str, t: int) -> None:
        """Select the cell of `kind` at step t for the inspector."""
        if kind not in self.session.runs:
            kind = next(iter(self.session.runs))
        t = min(max(int(t), 1), self.session.seq_len)
        if (kind, t) != self.selected:
            self.selected = (kind, t)
            self.selectionChanged.emit(kind, t)
