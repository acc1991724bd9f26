"""The Training dock: train RNN / LSTM / GRU side by side and watch loss, gradient ratio and
forget-gate bias evolve; sweep success against lag over both cores.

Training runs off the GUI thread: a `TrainWorker` (QThread) starts one process per model
(`engine.training.train_in_process`) and relays their metrics and weights to the GUI in
batches about every 100 ms. A multiprocessing Event checked before every minibatch makes
Stop prompt; Pause blocks the processes on another Event. The sweep runs in a `SweepWorker`
(QThread) that drives `lstmviz.engine.sweep.run_sweep` (2 processes).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from multiprocessing.connection import wait as mp_wait

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QThread, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lstmviz.engine import sweep as sweep_mod
from lstmviz.engine.training import TrainConfig, Trainer, train_in_process
from lstmviz.ui.panels.base import PowerAxis, safe_log10
from lstmviz.ui.theme import Theme

LABELS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
#: Seconds between metric batches sent to the GUI.
EMIT_EVERY = 0.1
#: Seconds a stopped training process gets to finish its minibatch before it is terminated.
STOP_GRACE = 0.5


class TrainWorker(QThread):
    """Trains each model in its own spawned process and relays their metrics.

    Why processes: a Python training loop in a thread holds the GIL, and every Python <-> C++
    hand-over while pyqtgraph repaints then waits for it (measured: a 6.7 s GUI stall per
    repaint on 2 busy cores). This thread only waits on pipes (GIL released), the GUI keeps
    the interpreter, and the models use both cores.

    Signals: metrics(list of (kind, Metrics), dict kind -> Trainer.state()) about every
    100 ms; failed(str); done(str reason: "finished", "stopped" or "failed").
    """

    metrics = Signal(object, object)
    failed = Signal(str)
    done = Signal(str)

    def __init__(self, configs: dict[str, TrainConfig], iterations: int, parent=None) -> None:
        super().__init__(parent)
        self.configs = configs
        self.iterations = iterations
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = self._ctx.Event()  # checked by every process before each minibatch
        self._running = self._ctx.Event()
        self._running.set()
        self._paused = False

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
                    args=(cfg, self.iterations, send, self._stop, self._running, EMIT_EVERY))
                proc.start()
                send.close()
                procs.append(proc)
                conns[recv] = kind
            batch: list = []
            states: dict = {}
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
                    elif msg[0] == "failed":
                        self.failed.emit(f"{LABELS[kind]}: {msg[1]}")
                        reason = "failed"
                        del conns[conn]
                    else:
                        if msg[1] == "stopped" and reason != "failed":
                            reason = "stopped"
                        del conns[conn]
                now = time.monotonic()
                if (batch or states) and (now - last >= EMIT_EVERY or not conns):
                    self.metrics.emit(batch, states)
                    batch, states, last = [], {}, now
        finally:
            self._stop.set()
            deadline = time.monotonic() + STOP_GRACE
            for proc in procs:
                proc.join(max(0.0, deadline - time.monotonic()))
                if proc.is_alive():
                    proc.terminate()
                    proc.join(1.0)
        self.done.emit(reason)


class SweepWorker(QThread):
    """Runs the sweep's points over a process pool; result(SweepResult) per point,
    done(bool cancelled)."""

    result = Signal(object)
    failed = Signal(str)
    done = Signal(bool)

    def __init__(self, points, workers: int = 2, parent=None) -> None:
        super().__init__(parent)
        self.points = points
        self.workers = workers
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            sweep_mod.run_sweep(self.points, self.workers, on_result=self.result.emit,
                                cancelled=self._cancel.is_set)
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        self.done.emit(self._cancel.is_set())


class _Series:
    """Growing per-model arrays of one run (iteration, log10 loss, log10 ratio, gate bias)."""

    def __init__(self) -> None:
        self.it: list[int] = []
        self.loss: list[float] = []
        self.ratio: list[float] = []
        self.bias: list[float] = []

    def add(self, m) -> None:
        self.it.append(m.iteration)
        self.loss.append(m.loss)
        self.ratio.append(m.grad_ratio)
        self.bias.append(np.nan if m.forget_bias is None else m.forget_bias)


class TrainingPanel(QWidget):
    """Tool dock of the main window (see main_window.TOOL_CLASSES)."""

    name = "training"
    title = "Training"
    tooltip = ("Train the models on the adding problem or delayed recall and watch the loss, "
               "the gradient ratio ||dL/dh_1|| / ||dL/dh_T|| and the forget-gate bias; "
               "sweep success against lag.")
    area = "bottom"

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
        self.training = False  # between start() and the worker's done signal
        self.sweeping = False
        self._build()
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
        models = QHBoxLayout()
        self.model_boxes: dict[str, QCheckBox] = {}
        for kind in ("rnn", "lstm", "gru"):
            box = QCheckBox(LABELS[kind])
            box.setChecked(kind in ("rnn", "lstm"))
            box.toggled.connect(self._update_buttons)
            self.model_boxes[kind] = box
            models.addWidget(box)
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
        self.start_button.setToolTip("Train fresh models with these settings")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        for b in (self.start_button, self.pause_button, self.stop_button):
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
        self.loss_plot = self._plot("Minibatch loss", log_y=True)
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
        self.sweep_tab = self._build_sweep()
        self.tabs.addTab(self.sweep_tab, "Sweep: success vs lag")
        outer.addWidget(self.tabs, 1)
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}

    # -- responsive layout ------------------------------------------------------------
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
            self.outer.removeWidget(self.side)
            self.side.setMaximumWidth(16777215)
            self.tabs.insertTab(0, self.side, "Setup")
            self.tabs.setCurrentIndex(0)
        else:
            current = self.tabs.currentIndex()
            self.tabs.removeTab(self.tabs.indexOf(self.side))
            self.side.setMaximumWidth(280)
            self.outer.insertWidget(0, self.side)
            self.side.show()
            self.tabs.setCurrentIndex(max(0, current - 1))

    def _plot(self, title: str, y_label: str = "", *, log_y: bool = False,
              x_label: str = "iteration", legend: bool = True,
              legend_offset: tuple[int, int] = (-5, 5)) -> pg.PlotWidget:
        axis = {"left": PowerAxis("left")} if log_y else None
        w = pg.PlotWidget(axisItems=axis, background=self.theme.background)
        p = w.getPlotItem()
        p.setMenuEnabled(False)
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

    def _build_sweep(self) -> QWidget:
        host = QWidget()
        lay = QHBoxLayout(host)
        lay.setContentsMargins(0, 0, 0, 0)
        box = QGroupBox("Sweep")
        form = QFormLayout(box)
        self.sweep_task = QComboBox()
        self.sweep_task.addItem("Recall (lag L)", "recall")
        self.sweep_task.addItem("Adding (length T)", "adding")
        self.sweep_task.setToolTip("The sweep's task; models, optimiser, sizes and "
                                   "distractors come from the settings on the left")
        self.sweep_task.setCurrentIndex(self.sweep_task.findData(sweep_mod.SWEEP_CONFIG.task))
        self.sweep_task.currentIndexChanged.connect(self._on_sweep_task)
        form.addRow("Task", self.sweep_task)
        self.sweep_lags = QLineEdit(", ".join(str(n) for n in sweep_mod.DEFAULT_LAGS))
        self.sweep_lags.setToolTip("Lengths T (adding) or lags L (recall), comma separated")
        form.addRow("T or L", self.sweep_lags)
        self.sweep_iterations = QSpinBox()
        self.sweep_iterations.setRange(1, 100_000)
        self.sweep_iterations.setSingleStep(50)
        self.sweep_iterations.setValue(sweep_mod.SWEEP_ITERATIONS)
        self.sweep_iterations.setToolTip("Minibatches per (model, lag) point")
        form.addRow("Iterations", self.sweep_iterations)
        self.sweep_forget_bias = QDoubleSpinBox()
        self.sweep_forget_bias.setRange(-10.0, 10.0)
        self.sweep_forget_bias.setSingleStep(0.5)
        self.sweep_forget_bias.setValue(sweep_mod.SWEEP_CONFIG.forget_bias)
        self.sweep_forget_bias.setToolTip("LSTM forget bias of the sweep's runs")
        form.addRow("Forget bias", self.sweep_forget_bias)
        row = QHBoxLayout()
        self.sweep_button = QPushButton("Run sweep")
        self.sweep_button.setToolTip("Train every checked model at every lag (2 processes) "
                                     "with the task, optimiser and sizes set on the left")
        self.sweep_button.clicked.connect(self.start_sweep)
        self.sweep_cancel = QPushButton("Cancel")
        self.sweep_cancel.clicked.connect(self.cancel_sweep)
        row.addWidget(self.sweep_button)
        row.addWidget(self.sweep_cancel)
        form.addRow(row)
        self.sweep_progress = QProgressBar()
        self.sweep_progress.setRange(0, 1)
        self.sweep_progress.setValue(0)
        self.sweep_progress.setFormat("%v / %m points")
        form.addRow(self.sweep_progress)
        self.sweep_status = QLabel("")
        self.sweep_status.setWordWrap(True)
        form.addRow(self.sweep_status)
        self.save_csv_button = QPushButton("Save CSV…")
        self.save_csv_button.clicked.connect(self.save_csv_dialog)
        form.addRow(self.save_csv_button)
        box.setMaximumWidth(240)
        lay.addWidget(box)
        self.sweep_plot = self._plot("Success against lag", "eval accuracy", x_label="lag L",
                                     legend_offset=(5, -5))
        lay.addWidget(self.sweep_plot, 1)
        self.sweep_curves: dict[str, pg.PlotDataItem] = {}
        self.sweep_refs: list = []
        return host

    # -- settings ---------------------------------------------------------------------
    @property
    def selected_kinds(self) -> list[str]:
        return [k for k, b in self.model_boxes.items() if b.isChecked()]

    def train_config(self, kind: str = "lstm") -> TrainConfig:
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

    def _on_sweep_task(self, *_args) -> None:
        recall = self.sweep_task.currentData() == "recall"
        p = self.sweep_plot.getPlotItem()
        p.setLabel("bottom", "lag L" if recall else "length T")
        p.setLabel("left", "eval accuracy" if recall else "eval MSE")

    def sweep_config(self) -> TrainConfig:
        """The sweep's base config: its own task, everything else from the form."""
        return self.train_config().replace(task=self.sweep_task.currentData(),
                                           forget_bias=self.sweep_forget_bias.value())

    def _update_buttons(self, *_args) -> None:
        running, sweeping = self.training, self.sweeping
        self.start_button.setEnabled(not running and bool(self.selected_kinds))
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.pause_button.setText("Resume" if running and self.worker.paused else "Pause")
        self.inspect_button.setEnabled(bool(self.trainers))
        self.sweep_button.setEnabled(not sweeping and bool(self.selected_kinds))
        self.sweep_cancel.setEnabled(sweeping)
        self.save_csv_button.setEnabled(bool(self.sweep_results) and not sweeping)

    # -- training ---------------------------------------------------------------------
    def start(self) -> None:
        """Fresh trainers for the checked models, then train in the worker thread."""
        if self.training:
            return
        kinds = self.selected_kinds
        if not kinds:
            return
        try:
            self.trainers = {k: Trainer(self.train_config(k)) for k in kinds}
        except ValueError as exc:
            self.status.setText(f"⚠ {exc}")
            return
        self.series = {k: _Series() for k in kinds}
        self._reset_curves(kinds)
        self.inspect_model.clear()
        for k in kinds:
            self.inspect_model.addItem(LABELS[k], k)
        if self.worker is not None:  # the previous run's thread has finished
            self.worker.wait(1000)
            self.worker.deleteLater()
        total = self.iterations.value()
        self.progress.setRange(0, total * len(kinds))
        self.progress.setValue(0)
        self.worker = TrainWorker({k: t.config for k, t in self.trainers.items()}, total, self)
        self.worker.metrics.connect(self._on_metrics)
        self.worker.failed.connect(self._on_failed)
        self.worker.done.connect(self._on_done)
        self.worker.start()
        self.training = True
        if self.compact:
            self.tabs.setCurrentWidget(self.curves_tab)
        cfg = self.train_config()
        self.status.setText(f"Training {', '.join(LABELS[k] for k in kinds)} on "
                            f"{self.task.currentText().lower()} ({self.length_label.text()} = "
                            f"{cfg.length})…")
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
        for kind in kinds:
            pen = self.theme.pen(kind, width=1.5)
            label = LABELS[kind]
            for plot, key in ((self.loss_plot, "loss"), (self.ratio_plot, "ratio"),
                              (self.bias_plot, "bias")):
                if key == "bias" and kind == "rnn":
                    continue
                item = plot.getPlotItem().plot([], [], pen=pen, name=label)
                item.setDownsampling(auto=True, method="mean")
                item.setClipToView(True)
                self.curves[(kind, key)] = item

    def _on_metrics(self, batch, states) -> None:
        for kind, state in states.items():
            if kind in self.trainers:
                self.trainers[kind].set_state(state)  # shadow copy: Inspect, Save
        for kind, m in batch:
            s = self.series.get(kind)
            if s is not None:
                s.add(m)
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
        self.progress.setValue(sum(len(s.it) for s in self.series.values()))
        parts = []
        for kind, s in self.series.items():
            if s.loss:
                parts.append(f"{LABELS[kind]} loss {s.loss[-1]:.3g}")
        if parts and not (self.worker and self.worker.paused):
            self.status.setText("Training… " + " · ".join(parts))

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"⚠ Training failed: {message}")

    def _on_done(self, reason: str) -> None:
        self.training = False
        if reason != "failed":
            iters = ", ".join(f"{LABELS[k]} {t.iteration}" for k, t in self.trainers.items())
            verb = "Stopped" if reason == "stopped" else "Finished"
            self.status.setText(f"{verb} after {iters} iterations. Inspect loads the weights.")
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
        w.statusBar().showMessage(
            f"Showing the trained {LABELS[kind]} (iteration {self.trainers[kind].iteration}) "
            f"on {cfg.task}, T = {cfg.seq_len}", 8000)
        return True

    # -- sweep ------------------------------------------------------------------------
    def sweep_lengths(self) -> list[int]:
        """The lags typed in the field; ValueError naming the bad entry."""
        out = []
        for part in self.sweep_lags.text().replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            try:
                n = int(part)
            except ValueError:
                raise ValueError(f"lags: {part!r} is not a whole number") from None
            low = 1 if self.sweep_task.currentData() == "recall" else 2
            if not low <= n <= 1000:
                raise ValueError(f"lags: {n} is out of range; expected {low} to 1000")
            out.append(n)
        if not out:
            raise ValueError("lags: enter at least one lag, e.g. 5, 10, 20")
        return sorted(set(out))

    def start_sweep(self, workers: int = 2) -> None:
        if self.sweeping:
            return
        try:
            lengths = self.sweep_lengths()
            points = sweep_mod.sweep_points(self.sweep_config(), self.selected_kinds, lengths,
                                            iterations=self.sweep_iterations.value())
        except ValueError as exc:
            self.sweep_status.setText(f"⚠ {exc}")
            return
        if self.sweep_worker is not None:
            self.sweep_worker.wait(1000)
            self.sweep_worker.deleteLater()
        self.sweep_results = []
        self.sweep_total = len(points)
        self.sweep_seconds = None
        self.sweep_started = time.perf_counter()
        self._reset_sweep_plot()
        self.sweep_progress.setRange(0, len(points))
        self.sweep_progress.setValue(0)
        self.sweep_status.setText(f"Running {len(points)} points on {workers} processes…")
        self.sweep_worker = SweepWorker(points, workers, self)
        self.sweep_worker.result.connect(self._on_sweep_result)
        self.sweep_worker.failed.connect(
            lambda msg: self.sweep_status.setText(f"⚠ Sweep failed: {msg}"))
        self.sweep_worker.done.connect(self._on_sweep_done)
        self.sweep_worker.start()
        self.sweeping = True
        self.tabs.setCurrentWidget(self.sweep_tab)
        self._update_buttons()

    def cancel_sweep(self) -> None:
        if self.sweep_worker is not None:
            self.sweep_worker.cancel()

    def _reset_sweep_plot(self) -> None:
        p = self.sweep_plot.getPlotItem()
        p.clear()
        if p.legend is not None:
            p.legend.clear()
        self.sweep_curves = {}
        cfg = self.sweep_config()
        muted = pg.mkPen(self.theme.muted, width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        if cfg.task == "recall":
            chance = 1.0 / cfg.n_symbols
            ref = pg.InfiniteLine(chance, angle=0, pen=muted, label=f"chance 1/{cfg.n_symbols}",
                                  labelOpts={"position": 0.5, "color": self.theme.muted,
                                             "anchors": [(0.5, 1), (0.5, 1)]})
            p.addItem(ref)
            p.setYRange(0, 1.02, padding=0)
        else:
            for y, text in ((1 / 6, "always 1: 0.167"), (0.01, "solved < 0.01")):
                p.addItem(pg.InfiniteLine(y, angle=0, pen=muted, label=text,
                                          labelOpts={"position": 0.5, "color": self.theme.muted,
                                                     "anchors": [(0.5, 1), (0.5, 1)]}))
            p.setYRange(0, 0.25, padding=0)
        for kind in self.selected_kinds:
            color = self.theme.model_color(kind)
            self.sweep_curves[kind] = p.plot(
                [], [], pen=self.theme.pen(kind, width=2), symbol="o", symbolSize=7,
                symbolBrush=color, symbolPen=color, name=LABELS[kind])

    def _on_sweep_result(self, r) -> None:
        self.sweep_results.append(r)
        self.sweep_progress.setValue(len(self.sweep_results))
        mine = sorted((x.length, x.score) for x in self.sweep_results if x.kind == r.kind)
        curve = self.sweep_curves.get(r.kind)
        if curve is not None:
            curve.setData([m[0] for m in mine], [m[1] for m in mine])

    def _on_sweep_done(self, cancelled: bool) -> None:
        self.sweeping = False
        self.sweep_seconds = time.perf_counter() - self.sweep_started
        n = len(self.sweep_results)
        if cancelled:
            self.sweep_status.setText(f"Cancelled after {n} of {self.sweep_total} points.")
        else:
            self.sweep_status.setText(f"{n} points in {self.sweep_seconds:.1f} s.")
        self._update_buttons()

    def save_csv(self, path) -> None:
        sweep_mod.write_csv(path, self.sweep_results)

    def save_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save sweep as CSV", "sweep.csv",
                                              "CSV (*.csv)")
        if path:
            try:
                self.save_csv(path)
            except OSError as exc:
                QMessageBox.warning(self, "Cannot save CSV", str(exc))

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
