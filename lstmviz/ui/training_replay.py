"""The Training dock's history tab: a training-time slider and Play scrub through the
history's snapshots; the main window (unrolled view and every panel) shows the models as
they were at that iteration on the history's probe sequence, through the window's own
weights path (session weights + apply_config, recomputed off the GUI thread when large).
Beside it ui.history_view draws the loss, heatmaps and keep gates; the verdict goes where
the user looks.

`ReplayTab` is a mixin of TrainingPanel: its widgets and state live on the panel.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from lstmviz.engine.training.history import PROBE_SEED, History, verdict
from lstmviz.ui.history_view import HistoryView, kind_label
from lstmviz.ui.panels.base import safe_log10


class ReplayTab:
    """History, verdict and replay (mixed into TrainingPanel)."""

    def _build_history(self) -> QWidget:
        host = QWidget()
        col = QVBoxLayout(host)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        row = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Replay the training: the main window steps through the "
                                    "snapshots")
        self.play_button.clicked.connect(self.toggle_play)
        self.history_slider = QSlider(Qt.Orientation.Horizontal)
        self.history_slider.setRange(0, 0)
        self.history_slider.setToolTip("Training time: the main window (unrolled view and every "
                                       "panel) shows the models as they were at this snapshot, "
                                       "on the history's probe sequence")
        self.history_slider.valueChanged.connect(self.replay)
        self.history_label = QLabel("No history yet: Start records one.")
        row.addWidget(self.play_button)
        row.addWidget(self.history_slider, 1)
        row.addWidget(self.history_label)
        col.addLayout(row)
        self.history_view = HistoryView(self.theme)
        col.addWidget(self.history_view, 1)
        return host

    def verdicts(self) -> dict[str, str]:
        """Per model: 'solved at iteration N (eval MSE …)', 'at chance (…)', 'learning: …'."""
        out = {}
        for kind, s in self.series.items():
            text = verdict(self.trainers[kind].config, s.snapshots)
            if text:
                out[kind] = text
        return out

    def histories(self) -> dict[str, History]:
        return {k: History(self.trainers[k].config, tuple(s.snapshots))
                for k, s in self.series.items() if s.snapshots}

    def _update_history(self) -> None:
        """Eval dots, verdict, history view and slider from the snapshots so far."""
        for kind, s in self.series.items():
            ev = [(sn.iteration, sn.eval_mse) for sn in s.snapshots if sn.eval_mse is not None]
            dots = self.curves.get((kind, "eval"))
            if dots is not None and ev:
                x, y = zip(*ev, strict=True)
                dots.setData(np.array(x, float), safe_log10(np.array(y, float)))
        v = self.verdicts()
        html = []
        for kind, text in v.items():
            color = self.theme.model_color(kind).name()
            html.append(f"<b style='color:{color}'>{kind_label(kind)}</b>: <b>{text}</b>")
        self.verdict.setText("<br>".join(html))
        histories = self.histories()
        self.history_view.set_histories(histories)
        n = max((len(h.snapshots) for h in histories.values()), default=0)
        at_end = self.history_slider.value() >= self.history_slider.maximum()
        self.history_slider.blockSignals(True)
        self.history_slider.setRange(0, max(0, n - 1))
        if at_end and self.replayed is None:
            self.history_slider.setValue(max(0, n - 1))
        self.history_slider.blockSignals(False)
        self._history_label()

    def _history_label(self) -> None:
        histories = self.histories()
        if not histories:
            self.history_label.setText("No history yet: Start records one.")
            return
        i = self.history_slider.value()
        its = [h.snapshots[min(i, len(h.snapshots) - 1)].iteration for h in histories.values()]
        shown = " (shown)" if self.replayed is not None else ""
        self.history_label.setText(f"iteration {max(its)}{shown}")
        self.history_view.set_cursor(max(its) if self.replayed is not None else None)

    def replay(self, index: int | None = None) -> bool:
        """Show every trained model as it was at snapshot `index` (default: the slider's)
        in the main window, on the history's probe sequence (batch 1, seed PROBE_SEED)."""
        histories = self.histories()
        if not histories:
            return False
        if index is None:
            index = self.history_slider.value()
        w = self.window_
        weights = {}
        for kind, h in histories.items():
            snap = h.snapshots[min(index, len(h.snapshots) - 1)]
            weights[kind] = snap.model_and_readout(h.config)
        cfg = next(iter(histories.values())).config
        try:
            config = w.session.config.replace(
                task=cfg.task, seq_len=cfg.seq_len, hidden_size=cfg.hidden_size,
                batch_size=1, seed=PROBE_SEED, loss_where="last", models=tuple(histories))
            w.session.weights = weights
            w.apply_config(config, wait=False)
        except ValueError as exc:
            w.show_error(str(exc))
            return False
        self.replayed = index
        if self.history_slider.value() != index:
            self.history_slider.blockSignals(True)
            self.history_slider.setValue(index)
            self.history_slider.blockSignals(False)
        self._history_label()
        return True

    def toggle_play(self) -> None:
        if self.play_timer.isActive():
            self.play_timer.stop()
            self.play_button.setText("Play")
            return
        if self.history_slider.value() >= self.history_slider.maximum():
            self.history_slider.setValue(0)
        self.play_timer.start()
        self.play_button.setText("Pause")

    def _play_tick(self) -> None:
        if self.window_.recomputer.busy:
            return  # the last snapshot is still being computed: never queue a backlog
        i = self.history_slider.value()
        if i >= self.history_slider.maximum():
            self.toggle_play()
            return
        self.history_slider.setValue(i + 1)

