"""The settings dock: every field of `Config` as a widget; a change emits the new config."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lstmviz.config import ACTIVATIONS, HELP, RANGES, Config, ConfigError, inits, model_kinds
from lstmviz.engine import cells
from lstmviz.ui.wheel import guard_wheel

TASK_LABELS = {
    "impulse": "Impulse at t = 1",
    "noise": "Gaussian noise",
    "sine": "Sine wave",
    "adding": "Adding problem",
    "recall": "First-symbol recall",
}
INIT_LABELS = {"pytorch": "PyTorch default", "xavier": "Xavier / Glorot",
               "orthogonal": "Orthogonal", "identity": "Identity (IRNN)",
               "ring": "Eigenvalue ring (LRU)"}
#: Model checkboxes per row of the Settings dock (8 kinds in four rows fit its width at
#: 1280 x 720).
MODEL_COLUMNS = 2


def applies(option: str, kinds: tuple[str, ...]) -> bool:
    """Whether any of `kinds` declares `option` (an init or equation option)."""
    for k in kinds:
        spec = cells.get(k)
        if any(o.name == option for o in (*spec.init_options, *spec.options)):
            return True
    return False

GUIDE = (
    "<b>How to read it</b><br>"
    "Play (Space) runs the forward pass left to right, scores the loss, then backpropagates "
    "right to left. Each cell shows its hidden units (blue −, red +).<br><br>"
    "Backward arrows carry ‖dL/dh<sub>t</sub>‖: their width and colour are its size on a "
    "log scale. The RNN's arrows fade toward t = 1 (vanishing); the LSTM's cell-state "
    "highway keeps them.<br><br>"
    "σ<sub>max</sub>·γ &lt; 1 guarantees vanishing; above 1 it only allows exploding. "
    "With ReLU a weight scale above 1 is not enough: with the default init the gradient "
    "still vanishes at 2 and explodes from about 3 to 4, depending on the seed; with "
    "orthogonal init it grows from about 1.5 (T = 40).<br><br>"
    "The Walkthroughs menu tells the whole story step by step."
)


class LayerPicker(QComboBox):
    """THE choice of the layer of stacked models that the forget-gate, gates, cell-state,
    Jacobians panels and the cell inspector show (`SessionAdapter.layer`, which they
    observe); the gradient panel and the unrolled view show every layer. Items run from
    the top layer down; `availableChanged(False)` when no model has more than one layer
    (the Settings dock then hides the row)."""

    availableChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view_layer")
        self.setToolTip(
            "Which layer of the stacked models the forget-gate, gates, cell-state and "
            "Jacobians panels and the cell inspector show: layer 1 reads the input, the top "
            "layer feeds the readout. The gradient panel and the unrolled network show "
            "every layer.")
        self.adapter = None
        self._count = 0
        self.activated.connect(self._chosen)

    def bind(self, adapter) -> None:
        """Follow and drive `adapter`'s viewed layer (a SessionAdapter)."""
        self.adapter = adapter
        adapter.runsChanged.connect(self.refresh)
        adapter.layerChanged.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args) -> None:
        """Items for the runs' layer count, the adapter's layer current."""
        L = 1 if self.adapter is None else self.adapter.num_layers
        self.blockSignals(True)
        try:
            if L != self._count:
                self.clear()
                for l in range(L - 1, -1, -1):
                    extra = " (top)" if l == L - 1 else " (bottom)" if l == 0 else ""
                    self.addItem(f"layer {l + 1}{extra}", l)
                self._count = L
            layer = L - 1 if self.adapter is None or self.adapter.layer is None \
                else self.adapter.layer
            self.setCurrentIndex(self.findData(layer))
        finally:
            self.blockSignals(False)
        self.setEnabled(L > 1)
        self.availableChanged.emit(L > 1)

    def _chosen(self, index: int) -> None:
        layer = self.itemData(index)
        if self.adapter is not None and layer is not None:
            self.adapter.set_layer(int(layer))


class ControlsPanel(QWidget):
    """Form over the configuration. `configRequested(Config)` fires on every valid edit."""

    configRequested = Signal(object)

    def __init__(self, config: Config, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("controls")
        self._updating = False
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)

        models_row = QGridLayout()
        models_row.setContentsMargins(0, 0, 0, 0)
        models_row.setHorizontalSpacing(8)
        models_row.setVerticalSpacing(2)
        self.model_boxes: dict[str, QCheckBox] = {}
        for n, kind in enumerate(model_kinds()):
            spec = cells.get(kind)
            box = QCheckBox(spec.label)
            box.setObjectName(f"model-{kind}")
            box.setToolTip(f"{spec.label}: {spec.summary}\n{HELP['models']}")
            box.toggled.connect(self._emit)
            models_row.addWidget(box, n // MODEL_COLUMNS, n % MODEL_COLUMNS)
            self.model_boxes[kind] = box
        models_row.setColumnStretch(MODEL_COLUMNS, 1)
        form.addRow("Models", models_row)

        self.hidden = self._spin("hidden_size", form, "Hidden size H")
        self.num_layers = self._spin("num_layers", form, "Layers")
        # which layer the one-layer views show: a view setting, not part of the config
        self.layer_picker = LayerPicker()
        form.addRow("Show layer", self.layer_picker)
        self.layer_picker.availableChanged.connect(
            lambda on: form.setRowVisible(self.layer_picker, on))
        form.setRowVisible(self.layer_picker, False)
        self.seq_len = self._spin("seq_len", form, "Sequence length T")
        self.task = self._combo("task", TASK_LABELS, form, "Task")
        self.loss_where = self._combo("loss_where", {"last": "Last step only",
                                                     "every": "Every step"}, form, "Loss at")
        self.activation = self._combo("activation", {a: a for a in ACTIVATIONS}, form,
                                      "Activation φ")
        self.init = self._combo("init", {i: INIT_LABELS.get(i, i) for i in inits()}, form,
                                "Initialisation")

        scale_row = QHBoxLayout()
        self.scale_on = QCheckBox()
        self.scale_on.setObjectName("weight_scale_on")
        self.scale_on.setToolTip("Set the largest singular value of the recurrent weights")
        self.scale_on.toggled.connect(self._emit)
        self.scale = QDoubleSpinBox()
        self.scale.setObjectName("weight_scale")
        lo, hi = RANGES["weight_scale"]
        self.scale.setRange(lo, hi)
        self.scale.setSingleStep(0.05)
        self.scale.setDecimals(2)
        self.scale.setKeyboardTracking(False)
        self.scale.setToolTip(HELP["weight_scale"])
        self.scale.valueChanged.connect(self._emit)
        scale_row.addWidget(self.scale_on)
        scale_row.addWidget(self.scale, 1)
        form.addRow("Weight scale σ_max", scale_row)
        self.sigma_label = QLabel()
        self.sigma_label.setObjectName("sigma_label")
        self.sigma_label.setWordWrap(True)
        self.sigma_label.setToolTip(
            "Largest singular value of each model's recurrent matrix W_hh, and for the RNN "
            "the bound σ_max·γ on every step's Jacobian norm (γ = sup|φ'|).")
        form.addRow("", self.sigma_label)

        self.forget_bias = QDoubleSpinBox()
        self.forget_bias.setObjectName("forget_bias")
        lo, hi = RANGES["forget_bias"]
        self.forget_bias.setRange(lo, hi)
        self.forget_bias.setSingleStep(0.5)
        self.forget_bias.setKeyboardTracking(False)
        self.forget_bias.setToolTip(HELP["forget_bias"])
        self.forget_bias.valueChanged.connect(self._emit)
        form.addRow("LSTM forget bias", self.forget_bias)
        self.seed = self._spin("seed", form, "Seed")
        self.error = QLabel()
        self.error.setObjectName("config_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d93025;")
        self.error.hide()

        self.guide = QLabel(GUIDE)
        self.guide.setObjectName("guide")
        self.guide.setWordWrap(True)
        self.guide.setTextFormat(Qt.TextFormat.RichText)
        self.guide.setStyleSheet("QLabel { color: palette(placeholder-text); padding-top: 10px; }")
        outer = QVBoxLayout(self)
        outer.addLayout(form)
        outer.addWidget(self.error)
        outer.addWidget(self.guide)
        outer.addStretch(1)
        guard_wheel(self)
        self.set_config(config)

    def _spin(self, key: str, form: QFormLayout, label: str) -> QSpinBox:
        w = QSpinBox()
        w.setObjectName(key)
        lo, hi = RANGES[key]
        w.setRange(int(lo), int(hi))
        w.setKeyboardTracking(False)
        w.setToolTip(HELP[key])
        w.valueChanged.connect(self._emit)
        form.addRow(label, w)
        return w

    def _combo(self, key: str, options: dict[str, str], form: QFormLayout,
               label: str) -> QComboBox:
        w = QComboBox()
        w.setObjectName(key)
        for value, text in options.items():
            w.addItem(text, value)
        w.setToolTip(HELP[key])
        w.currentIndexChanged.connect(self._emit)
        form.addRow(label, w)
        return w

    # -- config <-> widgets ---------------------------------------------------------
    def set_config(self, config: Config) -> None:
        """Show `config` without emitting."""
        self._updating = True
        try:
            for kind, box in self.model_boxes.items():
                box.setChecked(kind in config.models)
            self.hidden.setValue(config.hidden_size)
            self.num_layers.setValue(config.num_layers)
            self.seq_len.setValue(config.seq_len)
            for combo, value in ((self.task, config.task), (self.loss_where, config.loss_where),
                                 (self.activation, config.activation), (self.init, config.init)):
                combo.setCurrentIndex(combo.findData(value))
            self.scale_on.setChecked(config.weight_scale is not None)
            self.scale.setEnabled(config.weight_scale is not None)
            if config.weight_scale is not None:
                self.scale.setValue(config.weight_scale)
            self.forget_bias.setValue(config.forget_bias)
            self.seed.setValue(config.seed)
            self._enable(config)
        finally:
            self._updating = False
        self.config = config

    def read_config(self) -> Config:
        """The config the widgets show (raises ConfigError if invalid)."""
        models = tuple(k for k, b in self.model_boxes.items() if b.isChecked())
        return self.config.replace(
            models=models,
            hidden_size=self.hidden.value(),
            num_layers=self.num_layers.value(),
            seq_len=self.seq_len.value(),
            task=self.task.currentData(),
            loss_where=self.loss_where.currentData(),
            activation=self.activation.currentData(),
            init=self.init.currentData(),
            weight_scale=self.scale.value() if self.scale_on.isChecked() else None,
            forget_bias=round(self.forget_bias.value(), 6),
            seed=self.seed.value(),
        )

    def _enable(self, config: Config) -> None:
        """Enable the settings some selected kind uses (engine.cells options)."""
        self.activation.setEnabled(applies("activation", config.models))
        self.forget_bias.setEnabled(applies("forget_bias", config.models))
        self.scale_on.setEnabled(applies("weight_scale", config.models))

    def show_sigma(self, text: str) -> None:
        self.sigma_label.setText(text)

    def _emit(self, *_args) -> None:
        if self._updating:
            return
        self.scale.setEnabled(self.scale_on.isChecked())
        try:
            config = self.read_config()
        except ConfigError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.error.hide()
        self._enable(config)
        self.config = config
        self.configRequested.emit(config)
