"""The one Qt adapter over the pure `Session`: turns its callbacks into signals."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from lstmviz.session import Frame, Run, Session


class SessionAdapter(QObject):
    """Views connect to `runsChanged` (new arrays) and `frameChanged` (cursor moved).

    `runsChanged` is always followed by `frameChanged`, so a view may redraw everything
    frame-dependent in its frame slot only.
    """

    runsChanged = Signal()
    frameChanged = Signal(int)
    diagnosticsChanged = Signal()  # the exact Jacobian norms arrived for the current runs
    #: the backward passes arrived for runs shown by their forward passes alone
    gradientsChanged = Signal()
    busyChanged = Signal(bool)
    selectionChanged = Signal(str, int)  # model kind, t (1-based) of the selected cell
    #: the layer the one-layer views show changed (0-based, bottom first; -1: the top)
    layerChanged = Signal(int)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.selected: tuple[str, int] = (session.config.models[0], 1)
        #: the layer of stacked models that the forget-gate, gates, cell-state, Jacobians
        #: panels and the inspector show (0-based, bottom first); None: each model's top
        self.layer: int | None = None
        session.on_runs.append(self._check_layer)
        session.on_runs.append(self.runsChanged.emit)
        session.on_frame.append(lambda: self.frameChanged.emit(session.cursor))
        session.on_diagnostics.append(self.diagnosticsChanged.emit)
        session.on_gradients.append(self.gradientsChanged.emit)

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

    # -- the viewed layer of stacked models -------------------------------------------
    @property
    def num_layers(self) -> int:
        """The most layers of any model shown (1: no stacked model, nothing to pick)."""
        return max((r.num_layers for r in self.session.runs.values()), default=1)

    def set_layer(self, layer: int | None) -> None:
        """Show layer `layer` (0-based, bottom first; None or the top: each model's top)."""
        if layer is not None and not 0 <= int(layer) < self.num_layers:
            raise IndexError(f"layer {layer} is out of range 0..{self.num_layers - 1}")
        if layer is not None and int(layer) == self.num_layers - 1:
            layer = None
        if layer != self.layer:
            self.layer = None if layer is None else int(layer)
            self.layerChanged.emit(-1 if self.layer is None else self.layer)

    def viewed(self, run: Run) -> Run:
        """`run` at the viewed layer (a model with fewer layers shows its top one)."""
        layer = self.layer
        if layer is None or layer >= run.num_layers - 1:
            return run
        return run.layer_view(layer)

    def _check_layer(self) -> None:
        # new runs with fewer layers: back to the top (the panels rebuild on runsChanged)
        if self.layer is not None and self.layer >= self.num_layers - 1:
            self.layer = None
