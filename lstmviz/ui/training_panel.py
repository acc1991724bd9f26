"""The Training dock: train RNN / LSTM / GRU side by side and watch loss, evaluation against
chance, gradient ratio and forget-gate bias evolve; replay the training history in the main
window; sweep success against lag over both cores.

This module is the view: the form, the run controls and the curves. Its History tab
(replay) is ui.training_replay, its Sweep tab ui.training_sweep (mixins sharing the panel's
state). The work runs in ui.training_workers (one spawned process per model, reporting a few
times per second; the sweep over a process pool); the history (engine.training.history) arrives with
the metrics and is drawn by ui.history_view.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lstmviz.config import Config
from lstmviz.engine import cells
from lstmviz.engine.training import sweep as sweep_mod
from lstmviz.engine.training.history import Snapshot, chance_score
from lstmviz.engine.training.trainer import (
    ADDING_SOLVED_MSE,
    RECALL_SOLVED_ACCURACY,
    TrainConfig,
    Trainer,
)
from lstmviz.numfmt import format_number
from lstmviz.ui.history_view import kind_label
from lstmviz.ui.panels.base import PowerAxis, safe_log10
from lstmviz.ui.registry import TRAINING
from lstmviz.ui.theme import Theme
from lstmviz.ui.training_replay import ReplayTab
from lstmviz.ui.training_sweep import SweepTab
from lstmviz.ui.training_workers import SweepWorker, TrainWorker
from lstmviz.ui.wheel import guard_wheel

#: Milliseconds between replayed snapshots while the history plays.
PLAY_MS = 150


class _Series:
    """Growing per-model values of one run (iteration, loss, ratio, gate bias) and its
    history snapshots (a snapshot of an iteration already held replaces it)."""

    def __init__(self) -> None:
        self.it: list[int] = []
        self.loss: list[float] = []
        self.ratio: list[float] = []
        self.bias: list[float] = []
        self.snapshots: list[Snapshot] = []

    def add(self, m) -> None:
        self.it.append(m.iteration)
        self.loss.append(m.loss)
        self.ratio.append(m.grad_ratio)
        self.bias.append(np.nan if m.forget_bias is None else m.forget_bias)

    def add_snapshot(self, snap: Snapshot) -> None:
        if self.snapshots and self.snapshots[-1].iteration == snap.iteration:
            self.snapshots[-1] = snap
        else:
            self.snapshots.append(snap)


class TrainingPanel(SweepTab, ReplayTab, QWidget):
    """Tool dock of the main window (see main_window.TOOL_CLASSES)."""

    name, title, tooltip, area = TRAINING.name, TRAINING.title, TRAINING.tooltip, TRAINING.area

    def __init__(self, window) -> None:
        super().__init__()
        self.window_ = window
        self.theme: Theme = window.theme
        self.setObjectName("tool-training")
        self.setToolTip(self.tooltip)
        self.trainers: dict[str, Trainer] = {}
        self.series: dict[str, _Series] = {}
        self.worker: TrainWorker | None = None
        self.sweep_worker: SweepWorker | None = None
        self.sweep_results: list[sweep_mod.SweepResult] = []
        self.sweep_total = 0
        self.sweep_started = 0.0
        self.sweep_seconds: float | None = None
        self.training = False  # between start() and the worker's finished signal
        self.sweeping = False
        self.sweep_points: list = []  # of the last sweep started (Start after Cancel resumes)
        self.budget = 0  # iterations per model of the current run
        self.replayed: int | None = None  # snapshot index shown in the main window
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(PLAY_MS)
        self.play_timer.timeout.connect(self._play_tick)
        self._build()
        guard_wheel(self)
        self._on_task()
        self._on_sweep_task()
        self._update_buttons()

    # -- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        d = TrainConfig()
        outer = QHBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.setSpacing(4)

        form_host = QWidget()
        col = QVBoxLayout(form_host)
        col.setContentsMargins(2, 2, 2, 2)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.task = QComboBox()
        self.task.addItem("Adding problem", "adding")
        self.task.addItem("Recall first symbol", "recall")
        self.task.setToolTip("Adding: output the sum of two marked values (solved: MSE < 0.01;"
                             " answering 1 always scores 0.167). Recall: name the symbol shown"
                             " L steps earlier (chance 1/4).")
        self.task.currentIndexChanged.connect(self._on_task)
        form.addRow("Task", self.task)
        self.length = QSpinBox()
        self.length.setRange(2, 1000)
        self.length.setValue(d.length)
        self.length_label = QLabel("Length T")
        form.addRow(self.length_label, self.length)
        models = QGridLayout()
        models.setContentsMargins(0, 0, 0, 0)
        self.model_boxes: dict[str, QCheckBox] = {}
        for n, kind in enumerate(cells.kinds()):
            box = QCheckBox(kind_label(kind))
            box.setObjectName(f"train-model-{kind}")
            box.setChecked(kind in Config().models)  # the app's default comparison
            box.toggled.connect(self._update_buttons)
            self.model_boxes[kind] = box
            models.addWidget(box, n // 4, n % 4)
        form.addRow("Models", models)
        self.optimizer = QComboBox()
        self.optimizer.addItem("Adam", "adam")
        self.optimizer.addItem("SGD + momentum", "sgd")
        form.addRow("Optimiser", self.optimizer)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(4)
        self.lr.setRange(0.0001, 1.0)
        self.lr.setSingleStep(0.001)
        self.lr.setValue(d.lr)
        form.addRow("Learning rate", self.lr)
        self.clip = QDoubleSpinBox()
        self.clip.setDecimals(2)
        self.clip.setRange(0.0, 100.0)
        self.clip.setSingleStep(0.5)
        self.clip.setSpecialValueText("off")
        self.clip.setValue(d.clip or 0.0)
        self.clip.setToolTip("Rescale the gradient to this global norm when it is larger "
                             "(Pascanu et al. 2013); 0 = off")
        form.addRow("Clip norm", self.clip)
        self.batch = QSpinBox()
        self.batch.setRange(1, 256)
        self.batch.setValue(d.batch_size)
        form.addRow("Batch size", self.batch)
        self.hidden = QSpinBox()
        self.hidden.setRange(2, 256)
        self.hidden.setValue(d.hidden_size)
        form.addRow("Hidden units", self.hidden)
        self.forget_bias = QDoubleSpinBox()
        self.forget_bias.setRange(-10.0, 10.0)
        self.forget_bias.setSingleStep(0.5)
        self.forget_bias.setValue(d.forget_bias)
        self.forget_bias.setToolTip("Initial LSTM forget-gate bias: large values keep f near 1 "
                                    "so memories (and gradients) last longer")
        form.addRow("Forget bias", self.forget_bias)
        self.noise = QDoubleSpinBox()
        self.noise.setRange(0.0, 5.0)
        self.noise.setSingleStep(0.25)
        self.noise.setValue(sweep_mod.RECALL_NOISE)
        self.noise.setToolTip("Recall: standard deviation of random distractor inputs between "
                              "the symbol and the cue (0 = silent gap)")
        self.noise_label = QLabel("Distractors")
        form.addRow(self.noise_label, self.noise)
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 1_000_000)
        self.iterations.setSingleStep(100)
        self.iterations.setValue(2000)
        form.addRow("Iterations", self.iterations)
        col.addLayout(form)
        col.addStretch(1)

        side = QWidget()  # run controls stay visible; the settings scroll below them
        side_col = QVBoxLayout(side)
        side_col.setContentsMargins(0, 0, 0, 0)
        side_col.setSpacing(3)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train with these settings: after Stop, continue the "
                                     "stopped models (as lstmviz train --resume); Reset "
                                     "starts fresh")
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the trained models, curves and history: the next "
                                     "Start trains fresh models")
        self.reset_button.clicked.connect(self.reset)
        for b in (self.start_button, self.pause_button, self.stop_button, self.reset_button):
            b.setMinimumWidth(20)
            buttons.addWidget(b)
        side_col.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m iterations")
        side_col.addWidget(self.progress)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        side_col.addWidget(self.status)
        self.verdict = QLabel("")
        self.verdict.setObjectName("training-verdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.verdict.setToolTip("Evaluation on fresh sequences at intervals against chance "
                                "(adding: MSE of always answering the mean, 0.167; solved: "
                                f"MSE < {ADDING_SOLVED_MSE:g}; recall: accuracy >= "
                                f"{RECALL_SOLVED_ACCURACY:g}, chance 1/K)")
        side_col.addWidget(self.verdict)
        inspect = QHBoxLayout()
        self.inspect_model = QComboBox()
        self.inspect_model.setToolTip("Model whose current weights to load into the main view")
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.setToolTip("Load the current trained weights into the stepping view "
                                       "(switches the window to this task)")
        self.inspect_button.clicked.connect(lambda: self.inspect(self.inspect_model.currentData()))
        inspect.addWidget(self.inspect_model, 1)
        inspect.addWidget(self.inspect_button)
        side_col.addLayout(inspect)
        scroll = QScrollArea()
        scroll.setWidget(form_host)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(pg.QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side_col.addWidget(scroll, 1)
        side.setMinimumWidth(220)
        side.setMaximumWidth(280)
        outer.addWidget(side)
        self.side = side
        self.outer = outer

        self.tabs = QTabWidget()
        curves = QWidget()
        grid = QGridLayout(curves)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        self.loss_plot = self._plot("Loss (line) · eval on fresh sequences (dots)", log_y=True)
        self.loss_plot.setToolTip("Minibatch loss, evaluation loss on fresh sequences at "
                                  "intervals, and the chance level (dashed)")
        self.ratio_plot = self._plot("‖dL/dh₁‖ / ‖dL/dh<sub>T</sub>‖", log_y=True,
                                     legend=False)
        self.ratio_plot.setToolTip("How much of the loss gradient at the last step survives "
                                   "back to the first step (log scale): tiny = vanishing")
        self.bias_plot = self._plot("Forget / update gate bias", legend_offset=(-5, -5))
        self.bias_plot.setToolTip("Mean bias of the LSTM forget gate (GRU: update gate); "
                                  "large = remember by default")
        for i, w in enumerate((self.loss_plot, self.ratio_plot, self.bias_plot)):
            grid.addWidget(w, 0, i)
        self.curve_grid = grid
        self.compact = False
        self.curves_tab = curves
        self.tabs.addTab(curves, "Curves")
        self.history_tab = self._build_history()
        self.tabs.addTab(self.history_tab, "History: replay")
        self.sweep_tab = self._build_sweep()
        self.tabs.addTab(self.sweep_tab, "Sweep: success vs lag")
        outer.addWidget(self.tabs, 1)
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}

    # -- responsive layout ------------------------------------------------------------
    def heightForWidth(self, width: int) -> int:  # noqa: N802
        """What the dock's scroll area sizes the panel to (its wrapped status labels make
        the layout height-for-width, which asks for their preferred height): the minimum,
        so a short dock (a lecture's at 1280x720) scrolls only when the panel cannot fit."""
        return self.minimumSizeHint().height()

    #: Below this width the settings become a tab and the three curves stack vertically.
    COMPACT_WIDTH = 760

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.set_compact(event.size().width() < self.COMPACT_WIDTH)

    def set_compact(self, compact: bool) -> None:
        """Narrow dock (e.g. a tab beside other panels): settings in a "Setup" tab first,
        curves one above the other; wide: settings beside the plots, curves side by side."""
        if compact == self.compact:
            return
        self.compact = compact
        plots = (self.loss_plot, self.ratio_plot, self.bias_plot)
        for w in plots:
            self.curve_grid.removeWidget(w)
        for i, w in enumerate(plots):
            self.curve_grid.addWidget(w, i if compact else 0, 0 if compact else i)
            # stacked: one "iteration" label at the bottom is enough
            w.getPlotItem().getAxis("bottom").showLabel(not compact or w is self.bias_plot)
        if compact:
            sweep = self.tabs.currentWidget() is self.sweep_tab  # preset or running: stay
            self.outer.removeWidget(self.side)
            self.side.setMaximumWidth(16777215)
            self.tabs.insertTab(0, self.side, "Setup")
            self.tabs.setCurrentWidget(self.sweep_tab if sweep else self.side)
        else:
            current = self.tabs.currentIndex()
            self.tabs.removeTab(self.tabs.indexOf(self.side))
            self.side.setMaximumWidth(280)
            self.outer.insertWidget(0, self.side)
            self.side.show()
            self.tabs.setCurrentIndex(max(0, current - 1))

    def _plot(self, title: str, y_label: str = "", *, log_y: bool = False,
              x_label: str = "iteration", legend: bool = True,
              legend_offset: tuple[int, int] = (-5, 5), left=None) -> pg.PlotWidget:
        axis = {"left": left} if left is not None else (
            {"left": PowerAxis("left")} if log_y else None)
        w = pg.PlotWidget(axisItems=axis, background=self.theme.background, enableMenu=False)
        p = w.getPlotItem()
        p.hideButtons()
        p.showGrid(x=True, y=True, alpha=self.theme.grid_alpha)
        p.setTitle(title, size="10pt")
        if y_label:
            p.setLabel("left", y_label)
        p.setLabel("bottom", x_label)
        for name in ("left", "bottom"):
            ax = p.getAxis(name)
            ax.setPen(self.theme.foreground)
            ax.setTextPen(self.theme.foreground)
        if legend:
            p.addLegend(offset=legend_offset, labelTextColor=self.theme.foreground)
        w.setMinimumSize(100, 100)
        return w

    # -- settings ---------------------------------------------------------------------
    @property
    def selected_kinds(self) -> list[str]:
        return [k for k, b in self.model_boxes.items() if b.isChecked()]

    def train_config(self, kind: str | None = None) -> TrainConfig:
        """The dock's settings for `kind` (TrainConfig's default kind when None)."""
        kind = TrainConfig.kind if kind is None else kind
        clip = self.clip.value()
        return TrainConfig(
            task=self.task.currentData(), length=self.length.value(), kind=kind,
            hidden_size=self.hidden.value(), batch_size=self.batch.value(),
            optimizer=self.optimizer.currentData(), lr=self.lr.value(),
            clip=clip if clip > 0 else None, forget_bias=self.forget_bias.value(),
            noise=self.noise.value(),
        )

    def _on_task(self, *_args) -> None:
        recall = self.task.currentData() == "recall"
        self.length_label.setText("Lag L" if recall else "Length T")
        self.length.setMinimum(1 if recall else 2)
        self.noise.setEnabled(recall)
        self.noise_label.setEnabled(recall)
        self.length.setToolTip("Steps between the symbol and the cue (T = L + 1)" if recall
                               else "Sequence length T; the two marked values lie one in each "
                               "half")

    def _update_buttons(self, *_args) -> None:
        running, sweeping = self.training, self.sweeping
        self.start_button.setEnabled(not running and bool(self.selected_kinds))
        self.start_button.setText("Continue" if not running and self.can_resume() else "Start")
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.reset_button.setEnabled(not running and bool(self.trainers))
        self.pause_button.setText("Resume" if running and self.worker.paused else "Pause")
        self.inspect_button.setEnabled(bool(self.trainers))
        self.sweep_button.setEnabled(not sweeping and bool(self.selected_kinds))
        self.sweep_cancel.setEnabled(sweeping)
        self.sweep_reset.setEnabled(not sweeping and bool(self.sweep_results))
        self.save_csv_button.setEnabled(self.sweep_complete and not sweeping)

    # -- training ---------------------------------------------------------------------
    def can_resume(self) -> bool:
        """A stopped run of these very settings, short of the Iterations budget, exists."""
        if not self.trainers or list(self.trainers) != self.selected_kinds:
            return False
        try:
            same = all(t.config == self.train_config(k) for k, t in self.trainers.items())
        except ValueError:
            return False
        return same and min(t.iteration for t in self.trainers.values()) < self.iterations.value()

    def start(self, fresh: bool = False) -> None:
        """Train the checked models in the workers: continue a stopped run of the same
        settings (the Start button after Stop), else (or `fresh`) train fresh models."""
        if self.training:
            return
        kinds = self.selected_kinds
        if not kinds:
            return
        resume = not fresh and self.can_resume()
        if not resume:
            try:
                self.trainers = {k: Trainer(self.train_config(k)) for k in kinds}
            except ValueError as exc:
                self.status.setText(f"⚠ {exc}")
                return
            self.series = {k: _Series() for k in kinds}
            self._reset_curves(kinds)
            self.inspect_model.clear()
            for k in kinds:
                self.inspect_model.addItem(kind_label(k), k)
            self.verdict.setText("")
            self.replayed = None
            self._update_history()
        if self.worker is not None:  # the previous run's thread has finished
            self.worker.wait(1000)
            self.worker.deleteLater()
        total = self.budget = self.iterations.value()
        self.progress.setRange(0, total * len(kinds))
        self.progress.setValue(sum(t.iteration for t in self.trainers.values()))
        self.worker = TrainWorker(
            {k: t.config for k, t in self.trainers.items()}, total, self,
            states={k: t.state() for k, t in self.trainers.items()} if resume else None,
            snapshots={k: len(s.snapshots) for k, s in self.series.items()} if resume else None,
            labels={k: kind_label(k) for k in kinds})
        self.worker.progress.connect(self._on_metrics)
        self.worker.failed.connect(self._on_failed)
        self.worker.finished.connect(self._on_done)
        self.worker.start()
        self.training = True
        if self.compact:
            self.tabs.setCurrentWidget(self.curves_tab)
        cfg = self.train_config()
        verb = "Continuing" if resume else "Training"
        self.status.setText(f"{verb} {', '.join(kind_label(k) for k in kinds)} on "
                            f"{self.task.currentText().lower()} ({self.length_label.text()} = "
                            f"{cfg.length})…")
        self._update_buttons()

    def reset(self) -> None:
        """Forget the run: the next Start trains fresh models."""
        if self.training:
            return
        self.trainers, self.series = {}, {}
        self._reset_curves([])
        self.inspect_model.clear()
        self.verdict.setText("")
        self.progress.setValue(0)
        self.replayed = None
        self._update_history()
        self.status.setText("Ready.")
        self._update_buttons()

    def toggle_pause(self) -> None:
        if not self.training:
            return
        if self.worker.paused:
            self.worker.resume()
            self.status.setText("Training…")
        else:
            self.worker.pause()
            self.status.setText("Paused.")
        self._update_buttons()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def wait(self, msecs: int = 10000) -> bool:
        """Block until the workers are idle (tests, closing)."""
        ok = True
        for w in (self.worker, self.sweep_worker):
            if w is not None:
                ok = w.wait(msecs) and ok
        return ok

    def _reset_curves(self, kinds: list[str]) -> None:
        for w in (self.loss_plot, self.ratio_plot, self.bias_plot):
            p = w.getPlotItem()
            p.clear()
            if p.legend is not None:
                p.legend.clear()
        self.curves = {}
        muted = pg.mkPen(self.theme.muted, width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        cfg = self.train_config()
        chance = chance_score(cfg)
        if cfg.task == "adding" and kinds:
            self.chance_line = pg.InfiniteLine(
                math.log10(chance), angle=0, pen=muted, label=f"chance {format_number(chance)}",
                labelOpts={"position": 0.85, "color": self.theme.muted,
                           "anchors": [(0.5, 1), (0.5, 1)]})
            self.loss_plot.getPlotItem().addItem(self.chance_line)
        for kind in kinds:
            pen = self.theme.pen(kind, width=1.5)
            label = kind_label(kind)
            for plot, key in ((self.loss_plot, "loss"), (self.ratio_plot, "ratio"),
                              (self.bias_plot, "bias")):
                keep = cells.get(kind).keep
                if key == "bias" and (keep is None or keep.bias_block is None):
                    continue  # no keep gate with a bias of its own
                item = plot.getPlotItem().plot([], [], pen=pen, name=label)
                item.setDownsampling(auto=True, method="mean")
                item.setClipToView(True)
                self.curves[(kind, key)] = item
            color = self.theme.model_color(kind)
            self.curves[(kind, "eval")] = self.loss_plot.getPlotItem().plot(
                [], [], pen=None, symbol="o", symbolSize=7, symbolBrush=color, symbolPen="w")

    def _on_metrics(self, batch, states, snaps=()) -> None:
        for kind, state in states.items():
            if kind in self.trainers:
                self.trainers[kind].set_state(state)  # shadow copy: Inspect, Save
        for kind, m in batch:
            s = self.series.get(kind)
            if s is not None:
                s.add(m)
        for kind, snap in snaps:
            s = self.series.get(kind)
            if s is not None:
                s.add_snapshot(snap)
        for kind, s in self.series.items():
            if not s.it:
                continue
            x = np.asarray(s.it, dtype=float)
            self.curves[(kind, "loss")].setData(x, safe_log10(np.asarray(s.loss)))
            # no floor: the ratio's own log10; a ratio that underflowed float64 (0) is a gap
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio_log = np.log10(np.asarray(s.ratio, dtype=float))
            ratio_log[~np.isfinite(ratio_log)] = np.nan
            self.curves[(kind, "ratio")].setData(x, ratio_log, connect="finite")
            if (kind, "bias") in self.curves:
                self.curves[(kind, "bias")].setData(x, np.asarray(s.bias))
        if snaps:
            self._update_history()
        self.progress.setValue(sum(t.iteration for t in self.trainers.values()))
        parts = []
        for kind, s in self.series.items():
            if s.loss:
                parts.append(f"{kind_label(kind)} loss {s.loss[-1]:.3g}")
        if parts and not (self.worker and self.worker.paused):
            self.status.setText("Training… " + " · ".join(parts))

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"⚠ Training failed: {message}")

    def _on_done(self) -> None:
        reason = self.worker.reason if self.worker is not None else "finished"
        self.training = False
        if reason != "failed":
            iters = ", ".join(f"{kind_label(k)} {t.iteration}" for k, t in self.trainers.items())
            verb = "Stopped" if reason == "stopped" else "Finished"
            more = " Start continues." if reason == "stopped" else ""
            self.status.setText(f"{verb} after {iters} iterations.{more} Inspect loads the "
                                "weights; the History tab replays them.")
        self._update_buttons()

    # -- inspect ----------------------------------------------------------------------
    def snapshot(self, kind: str):
        """(model, readout, config) of a trainer as last reported by its process."""
        trainer = self.trainers[kind]
        return trainer.model, trainer.readout, trainer.config

    def inspect(self, kind: str | None) -> bool:
        """Load the current weights of `kind` into the main view, on the training task."""
        if kind is None or kind not in self.trainers:
            return False
        model, readout, cfg = self.snapshot(kind)
        w = self.window_
        try:
            config = w.session.config.replace(
                task=cfg.task, seq_len=cfg.seq_len, hidden_size=model.hidden_size,
                loss_where="last")
            w.session.weights = {}  # weights of another task would not fit its input
            w.apply_config(config)
            w.session.set_weights(kind, model, readout)
        except ValueError as exc:
            w.show_error(str(exc))
            return False
        self.replayed = None
        w.statusBar().showMessage(
            f"Showing the trained {kind_label(kind)} (iteration {self.trainers[kind].iteration})"
            f" on {cfg.task}, T = {cfg.seq_len}", 8000)
        return True

    # -- export / theme / lifetime ----------------------------------------------------
    def plot_items(self) -> list[pg.PlotItem]:
        """PlotItems for image export: loss, gradient ratio, gate bias, sweep."""
        return [w.getPlotItem() for w in (self.loss_plot, self.ratio_plot, self.bias_plot,
                                          self.sweep_plot)]

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for w in (self.loss_plot, self.ratio_plot, self.bias_plot, self.sweep_plot):
            w.setBackground(theme.background)
            for axis in ("left", "bottom"):
                ax = w.getPlotItem().getAxis(axis)
                ax.setPen(theme.foreground)
                ax.setTextPen(theme.foreground)
        for (kind, _key), item in self.curves.items():
            item.setPen(theme.pen(kind, width=1.5))
        for kind, item in self.sweep_curves.items():
            item.setPen(theme.pen(kind, width=2))

    def install(self, window) -> None:
        """Menu entry, theme changes and stopping the workers when the window closes."""
        window.installEventFilter(self)
        for action in getattr(window, "theme_actions", {}).values():
            action.triggered.connect(lambda *_: self.set_theme(window.theme))
        self.save_weights_action = QAction("Save &trained weights…", self)
        self.save_weights_action.setToolTip("Save the weights of the model chosen next to "
                                            "Inspect (.npz, opens with Import weights)")
        self.save_weights_action.triggered.connect(self.save_weights_dialog)
        menu = getattr(window, "file_menu", None)
        if menu is not None:
            acts = menu.actions()  # before the separator above Quit
            before = acts[-2] if len(acts) >= 2 and acts[-2].isSeparator() else None
            menu.insertAction(before, self.save_weights_action)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self.window_ and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    def save_weights(self, kind: str, path) -> None:
        """Weights of `kind` (engine.save_weights) plus its training state sidecar."""
        self.trainers[kind].save(path)

    def save_weights_dialog(self) -> None:
        kind = self.inspect_model.currentData()
        if kind is None or kind not in self.trainers:
            QMessageBox.information(self, "Save trained weights", "Train a model first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save trained weights", f"{kind}.npz",
                                              "NumPy weights (*.npz)")
        if path:
            try:
                self.save_weights(kind, path)
            except (OSError, ValueError) as exc:
                QMessageBox.warning(self, "Cannot save weights", str(exc))

    def shutdown(self, msecs: int = 5000) -> None:
        """Stop both workers and wait for them (window close, tests)."""
        self.stop()
        self.cancel_sweep()
        self.wait(msecs)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
