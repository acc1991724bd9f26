"""The Training dock's sweep tab: success against lag, every checked model at every length
over a process pool (ui.training_workers.SweepWorker), with chance and the success
threshold drawn (adding on a log axis) and the verdict in words
(engine.training.sweep.sweep_summary).
Cancel stops every worker within a minibatch; Run sweep after Cancel runs only the missing
points, Reset starts fresh; only a complete sweep is saved as CSV.

`SweepTab` is a mixin of TrainingPanel: its widgets and state live on the panel.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lstmviz.engine.training import sweep as sweep_mod
from lstmviz.engine.training.history import chance_score
from lstmviz.engine.training.trainer import ADDING_SOLVED_MSE, RECALL_SOLVED_ACCURACY, TrainConfig
from lstmviz.numfmt import format_number
from lstmviz.ui.history_view import kind_label
from lstmviz.ui.panels.base import PowerAxis, safe_log10
from lstmviz.ui.training_workers import SweepWorker


class _SweepAxis(PowerAxis):
    """The sweep's y axis: powers of ten over log10 values (adding: eval MSE), or plain
    numbers (recall: accuracy)."""

    log = True

    def tickValues(self, minVal, maxVal, size):  # noqa: N802
        if self.log:
            return super().tickValues(minVal, maxVal, size)
        return pg.AxisItem.tickValues(self, minVal, maxVal, size)

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        if self.log:
            return super().tickStrings(values, scale, spacing)
        return pg.AxisItem.tickStrings(self, values, scale, spacing)



class SweepTab:
    """The sweep's widgets, settings and runs (mixed into TrainingPanel)."""

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
        self.sweep_button.clicked.connect(lambda: self.start_sweep())
        self.sweep_cancel = QPushButton("Cancel")
        self.sweep_cancel.clicked.connect(self.cancel_sweep)
        self.sweep_reset = QPushButton("Reset")
        self.sweep_reset.setToolTip("Forget the sweep's points: the next run starts fresh "
                                    "(after Cancel, Run sweep runs only the missing points)")
        self.sweep_reset.clicked.connect(self.reset_sweep)
        for b in (self.sweep_button, self.sweep_cancel, self.sweep_reset):
            b.setMinimumWidth(20)
            row.addWidget(b)
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
        self.sweep_axis = _SweepAxis("left")
        self.sweep_plot = self._plot("Success against lag", "eval accuracy", x_label="lag L",
                                     legend=False, left=self.sweep_axis)
        self.sweep_legend = QLabel("")
        self.sweep_legend.setWordWrap(True)
        self.sweep_legend.setAlignment(pg.QtCore.Qt.AlignmentFlag.AlignCenter)
        col = QVBoxLayout()
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.sweep_legend)
        col.addWidget(self.sweep_plot, 1)
        lay.addLayout(col, 1)
        self.sweep_curves: dict[str, pg.PlotDataItem] = {}
        self.sweep_refs: list = []
        return host

    def preset_sweep(self, sweep) -> None:
        """A walkthrough step's `sweep` (lstmviz.walkthrough.Sweep): its task, lengths,
        iterations and models in the form, the budget its narration states (batch,
        optimiser, learning rate, sizes, clip: the sweep's TrainConfig) on the left, the
        Sweep tab current; not started (the lecturer presses Run sweep). Ignored while a
        sweep runs."""
        if self.sweeping:
            return
        cfg = sweep.config
        self.sweep_task.setCurrentIndex(self.sweep_task.findData(sweep.task))
        self.sweep_lags.setText(", ".join(str(n) for n in sweep.lengths))
        self.sweep_iterations.setValue(sweep.iterations)
        self.sweep_forget_bias.setValue(cfg.forget_bias)
        for kind, box in self.model_boxes.items():
            box.setChecked(kind in sweep.models)
        self.optimizer.setCurrentIndex(self.optimizer.findData(cfg.optimizer))
        self.lr.setValue(cfg.lr)
        self.clip.setValue(cfg.clip or 0.0)
        self.batch.setValue(cfg.batch_size)
        self.hidden.setValue(cfg.hidden_size)
        points = sweep_mod.sweep_points(self.sweep_config(), self.selected_kinds,
                                        sweep.lengths, iterations=sweep.iterations)
        if points != self.sweep_points:  # a new sweep (the same one keeps its points)
            self.sweep_results, self.sweep_points = [], points
            self._reset_sweep_plot()
            self.sweep_plot.getPlotItem().setXRange(sweep.lengths[0], sweep.lengths[-1])
            self.sweep_progress.setRange(0, len(points))
            self.sweep_progress.setValue(0)
            self.sweep_status.setText(f"Preset: {len(points)} points; Run sweep trains "
                                      "them.")
            self._update_buttons()
        self.tabs.setCurrentWidget(self.sweep_tab)

    def _on_sweep_task(self, *_args) -> None:
        recall = self.sweep_task.currentData() == "recall"
        p = self.sweep_plot.getPlotItem()
        p.setLabel("bottom", "lag L" if recall else "length T")
        p.setLabel("left", "eval accuracy" if recall else "eval MSE")

    def sweep_config(self) -> TrainConfig:
        """The sweep's base config: its own task, everything else from the form."""
        return self.train_config().replace(task=self.sweep_task.currentData(),
                                           forget_bias=self.sweep_forget_bias.value())

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
        """Run the sweep in the worker; after Cancel, the same sweep runs only the points
        still missing (Reset starts fresh)."""
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
            self.sweep_worker = None
        resume = points == self.sweep_points and bool(self.sweep_results)
        if not resume:
            self.sweep_results = []
            self.sweep_points = points
            self.sweep_elapsed = 0.0
            self._reset_sweep_plot()
        done = {(r.kind, r.length, r.seed) for r in self.sweep_results}
        todo = [p for p in points
                if (p.config.kind, p.config.length, p.config.seed) not in done]
        self.sweep_total = len(points)
        self.sweep_seconds = None
        self.sweep_started = time.perf_counter()
        self.sweep_progress.setRange(0, len(points))
        self.sweep_progress.setValue(len(self.sweep_results))
        if not todo:
            self.sweep_status.setText(f"All {len(points)} points are done; Reset to run again.")
            return
        where = "inline" if workers <= 0 else (
            f"on {workers} process{'es' if workers != 1 else ''}")
        verb = f"Continuing: {len(todo)} of" if resume else "Running"
        self.sweep_status.setText(f"{verb} {len(points)} points {where}…")
        self.sweep_worker = SweepWorker(todo, workers, self)
        self.sweep_worker.result.connect(self._on_sweep_result)
        self.sweep_worker.failed.connect(
            lambda msg: self.sweep_status.setText(f"⚠ Sweep failed: {msg}"))
        self.sweep_worker.finished.connect(self._on_sweep_done)
        self.sweep_worker.start()
        self.sweeping = True
        self.tabs.setCurrentWidget(self.sweep_tab)
        self._update_buttons()

    def cancel_sweep(self) -> None:
        if self.sweep_worker is not None:
            self.sweep_worker.cancel()

    def reset_sweep(self) -> None:
        if self.sweeping:
            return
        self.sweep_results, self.sweep_points = [], []
        self._reset_sweep_plot()
        self.sweep_progress.setValue(0)
        self.sweep_status.setText("")
        self._update_buttons()

    @property
    def sweep_complete(self) -> bool:
        return bool(self.sweep_points) and len(self.sweep_results) == len(self.sweep_points)

    def _reset_sweep_plot(self) -> None:
        p = self.sweep_plot.getPlotItem()
        p.clear()
        p.enableAutoRange(axis="x")
        self.sweep_curves = {}
        cfg = self.sweep_config()
        muted = pg.mkPen(self.theme.muted, width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        opts = {"position": 0.5, "color": self.theme.muted, "anchors": [(0.5, 1), (0.5, 1)]}
        recall = cfg.task == "recall"
        self.sweep_axis.log = not recall
        if recall:
            chance = chance_score(cfg)
            p.addItem(pg.InfiniteLine(chance, angle=0, pen=muted,
                                      label=f"chance 1/{cfg.n_symbols}", labelOpts=opts))
            p.addItem(pg.InfiniteLine(RECALL_SOLVED_ACCURACY, angle=0, pen=muted,
                                      label=f"solved ≥ {RECALL_SOLVED_ACCURACY:g}",
                                      labelOpts={**opts, "anchors": [(0.5, 0), (0.5, 0)]}))
            p.setYRange(0, 1.02, padding=0)
        else:  # log axis: the values drawn are log10 of the MSE
            for y, text in ((chance_score(cfg), f"chance: {format_number(chance_score(cfg))}"
                             "\n(always the mean)"),  # two short lines: narrow docks
                            (ADDING_SOLVED_MSE, f"solved < {ADDING_SOLVED_MSE:g}")):
                p.addItem(pg.InfiniteLine(math.log10(y), angle=0, pen=muted, label=text,
                                          labelOpts=opts))
            p.setYRange(-4, 0.3, padding=0)
        names = []
        for kind in self.selected_kinds:
            color = self.theme.model_color(kind)
            self.sweep_curves[kind] = p.plot(
                [], [], pen=self.theme.pen(kind, width=2), symbol="o", symbolSize=7,
                symbolBrush=color, symbolPen=color, name=kind_label(kind))
            names.append(f"<span style='color:{color.name()}'>●&nbsp;{kind_label(kind)}</span>")
        # the legend lives in the title, never over a point: three names a line, so six
        # fit a narrow dock
        # above the plot in a label that wraps, so six names fit a narrow dock (a plot
        # title holds one line and sets the plot's minimum width)
        p.setTitle("Success against lag", size="10pt")
        self.sweep_legend.setText(" ".join(names))

    def _on_sweep_result(self, r) -> None:
        self.sweep_results.append(r)
        self.sweep_progress.setValue(len(self.sweep_results))
        mine = sorted((x.length, x.score) for x in self.sweep_results if x.kind == r.kind)
        curve = self.sweep_curves.get(r.kind)
        if curve is not None:
            x = np.array([m[0] for m in mine], float)
            y = np.array([m[1] for m in mine], float)
            curve.setData(x, y if r.task == "recall" else safe_log10(y))

    def _on_sweep_done(self) -> None:
        reason = self.sweep_worker.reason if self.sweep_worker is not None else "finished"
        self.sweeping = False
        self.sweep_seconds = time.perf_counter() - self.sweep_started
        n = len(self.sweep_results)
        summary = " · ".join(f"{kind_label(k)}: {t}"
                            for k, t in sweep_mod.sweep_summary(self.sweep_results).items())
        if reason == "cancelled":
            self.sweep_status.setText(f"Cancelled after {n} of {self.sweep_total} points; "
                                      "Run sweep continues, Reset starts fresh.")
        elif reason == "finished":
            self.sweep_status.setText(f"{n} points in {self.sweep_seconds:.1f} s. {summary}.")
        self._update_buttons()

    def save_csv(self, path) -> None:
        """The sweep's CSV; only a complete sweep is written (never a cancelled part)."""
        if not self.sweep_complete:
            raise ValueError(f"{path}: the sweep is not complete ({len(self.sweep_results)} of "
                             f"{len(self.sweep_points)} points); finish it first")
        sweep_mod.write_csv(path, self.sweep_results)

    def save_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save sweep as CSV", "sweep.csv",
                                              "CSV (*.csv)")
        if path:
            try:
                self.save_csv(path)
            except (OSError, ValueError) as exc:
                QMessageBox.warning(self, "Cannot save CSV", str(exc))

