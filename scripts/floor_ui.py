"""The floors lstmviz's UI is compared against: the same work done by the plainest code.

A bare QMainWindow with 5 pyqtgraph plot docks that, every frame, calls setData on the same
18 curves (3 models x 6 series of T points, revealed up to the cursor) and setImage on the
same 6 heatmaps (H x T) and repaints; and a bare process that imports Python + NumPy + Qt +
pyqtgraph and paints such a window. `scripts/bench_ui.py` runs these in the same run as the
app's figures, so the ratios survive a noisy, shared machine.
"""

from __future__ import annotations

import time

import numpy as np

N_DOCKS = 5
N_CURVES = 18
N_IMAGES = 6

#: Process start to first paint of a bare window with 5 plot docks (run with python -c).
LAUNCH = """
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow
app = QApplication.instance() or QApplication([])
w = QMainWindow()
w.setCentralWidget(pg.PlotWidget())
for k in range(5):
    d = QDockWidget(f"dock {k}", w)
    d.setObjectName(f"dock-{k}")
    p = pg.PlotWidget()
    p.plot(np.arange(200.0), np.sin(np.arange(200.0) / 9 + k))
    d.setWidget(p)
    w.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, d)
w.resize(1500, 950)
w.show()
app.processEvents()
w.repaint()
print("painted", flush=True)
"""


class FloorWindow:
    """The bare window: 5 docks, 18 curves and 6 heatmaps over a run of length T, H units."""

    def __init__(self, T: int, H: int, size: tuple[int, int] = (1500, 950)) -> None:
        import pyqtgraph as pg
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QDockWidget, QMainWindow

        rng = np.random.default_rng(0)
        self.T, self.H = T, H
        self.x = np.arange(1, T + 1, dtype=float)
        self.ys = [np.cumsum(rng.standard_normal(T)) for _ in range(N_CURVES)]
        self.maps = [rng.random((T, H)) for _ in range(N_IMAGES)]
        self.window = QMainWindow()
        self.window.setCentralWidget(pg.PlotWidget())
        plots = []
        for k in range(N_DOCKS):
            dock = QDockWidget(f"floor {k}", self.window)
            dock.setObjectName(f"dock-floor-{k}")
            widget = pg.GraphicsLayoutWidget()
            dock.setWidget(widget)
            self.window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            plots.append(widget)
        # one curve plot per dock (the 18 curves dealt over them), heatmaps below
        curve_plots = [w.addPlot(row=0, col=0) for w in plots]
        self.curves = [curve_plots[k % N_DOCKS].plot(pen=pg.mkPen(width=2))
                       for k in range(N_CURVES)]
        self.images = []
        for k in range(N_IMAGES):
            plot = plots[k % N_DOCKS].addPlot(row=1 + k // N_DOCKS, col=0)
            img = pg.ImageItem()
            plot.addItem(img)
            self.images.append(img)
        self.window.resize(*size)

    def show(self, app) -> None:
        self.window.show()
        for _ in range(5):
            app.processEvents()

    def frame(self, t: int) -> None:
        """The naive frame: every curve and heatmap set again up to step t."""
        for c, y in zip(self.curves, self.ys, strict=True):
            c.setData(self.x[:t], y[:t])
        for img, m in zip(self.images, self.maps, strict=True):
            img.setImage(m[:t], autoLevels=False, levels=(0.0, 1.0))

    def close(self) -> None:
        self.window.close()


def floor_frames(app, T: int = 500, H: int = 64, n: int | None = None) -> list[float]:
    """Per-frame wall times (ms) of the floor window over n frames (default 2T)."""
    floor = FloorWindow(T, H)
    floor.show(app)
    times = []
    n = n or 2 * T
    for i in range(n):
        t = i % T + 1
        t0 = time.perf_counter()
        floor.frame(t)
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000)
    floor.close()
    return times
