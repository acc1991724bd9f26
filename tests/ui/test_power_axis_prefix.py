"""A power-of-ten axis never takes an SI prefix: on a range narrower than a decade
(IndRNN's ‖∂h_T/∂h_t‖ ≈ 10⁰ in walkthrough 7.3) pyqtgraph titled it "norm (x0.001)"."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from lstmviz.ui.panels.base import PowerAxis


def test_power_axis_has_no_si_prefix(qtbot):
    axis = PowerAxis("left")
    widget = pg.PlotWidget(axisItems={"left": axis})
    qtbot.addWidget(widget)
    plot = widget.getPlotItem()
    plot.setLabel("left", "norm")
    plot.setYRange(-0.002, 0.002, padding=0)
    widget.resize(300, 200)
    widget.show()
    for _ in range(3):
        QApplication.processEvents()
    assert axis.autoSIPrefixScale == 1.0
    assert "x0" not in axis.labelString() and "norm" in axis.labelString()
