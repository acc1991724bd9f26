"""What the first window does not need is not imported before its first paint (issue 16,
launch): the training dock (trainer, sweep, their workers and plots) and the export
pipeline (off-screen scene, writer, render helpers) load on first use. Run in a fresh
interpreter, as `lstmviz` starts."""

from __future__ import annotations

import os
import subprocess
import sys

#: Modules the first painted window must not have imported.
LAZY = (
    "lstmviz.ui.training_panel",
    "lstmviz.ui.training_sweep",
    "lstmviz.ui.training_workers",
    "lstmviz.engine.training.trainer",
    "lstmviz.engine.training.sweep",
    "lstmviz.ui.export.scene",
    "lstmviz.ui.export.writer",
    "lstmviz.ui.render",
    "lstmviz.engine.weights_io",  # weight files: loaded when a model is imported or saved
)

SCRIPT = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings
from lstmviz.ui.app import make_app
app = make_app()
from lstmviz.config import Config
from lstmviz.session import Session, compute_runs
from lstmviz.ui.main_window import MainWindow
c = Config()
w = MainWindow(Session(c, runs=compute_runs(c, jacobians=False)),
               settings=QSettings(sys.argv[1], QSettings.Format.IniFormat), restore=False)
w.show()
app.processEvents()
w.repaint()
print("AT-PAINT", " ".join(sorted(m for m in sys.modules if m.startswith("lstmviz"))))
w.tools["training"]  # asked for: the training dock is made (its module loads now)
w.export_actions["window"]  # the Export menu is there without the pipeline
print("AFTER", " ".join(sorted(m for m in sys.modules if m.startswith("lstmviz"))))
sys.stdout.flush()
os._exit(0)
"""


def test_first_paint_imports_neither_training_nor_the_export_pipeline(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "s.ini")],
                          capture_output=True, text=True, timeout=120, env=env)
    lines = {line.split(" ", 1)[0]: set(line.split()[1:]) for line in proc.stdout.splitlines()
             if line.startswith(("AT-PAINT", "AFTER"))}
    assert "AT-PAINT" in lines and "AFTER" in lines, proc.stdout + proc.stderr
    at_paint = lines["AT-PAINT"]
    assert "lstmviz.ui.main_window" in at_paint and "lstmviz.ui.panels.gradients" in at_paint
    assert not at_paint & set(LAZY), sorted(at_paint & set(LAZY))
    assert "lstmviz.ui.training_panel" in lines["AFTER"]  # loaded on first use
