"""lstmviz.ui.startup (issue 16, launch): pyqtgraph's Qt shims forward names to PySide6 on
first use instead of copying (and so building) every class, and PySide6's per-import source
check reads the module's file. Both must give the same objects and answers as before."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import lstmviz.ui
import pyqtgraph as pg
import PySide6.QtCore, PySide6.QtGui, PySide6.QtWidgets
from lstmviz.ui.startup import STATE
app = PySide6.QtWidgets.QApplication([])
w = pg.PlotWidget()
w.plot([1.0, 2.0, 3.0])
w.show()
app.processEvents()
same = all(getattr(getattr(pg.Qt, m), n) is getattr(getattr(PySide6, m), n)
           for m, n in (("QtCore", "Qt"), ("QtCore", "QPointF"), ("QtGui", "QPen"),
                        ("QtWidgets", "QGraphicsView"), ("QtCore", "Signal")))
print("STATE", int(STATE["lazy_qt_shim"]), int(STATE["fast_feature_check"]))
print("SAME", int(same), pg.Qt.QtCore.__version__ == PySide6.QtCore.__version__)
print("EXTRA", int(pg.Qt.QtWidgets.QOpenGLWidget is not None),
      int(pg.Qt.QtGui.QFileSystemModel is PySide6.QtWidgets.QFileSystemModel))
print("NAMES", len(vars(pg.Qt.QtWidgets)), len(dir(PySide6.QtWidgets)))
try:
    pg.Qt.QtCore.NoSuchName
except AttributeError:
    print("MISSING raises")
sys.stdout.flush()
os._exit(0)
"""


def _run(**env_extra) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "QT_QPA_PLATFORM": "offscreen", **env_extra}
    if not env_extra:
        env.pop("LSTMVIZ_PLAIN_QT_IMPORTS", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, env=env)
    out = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line}
    assert "NAMES" in out, proc.stdout + proc.stderr
    return out


def test_the_shims_forward_lazily_and_give_the_same_objects():
    out = _run()
    assert out["STATE"] == ["1", "1"]
    assert out["SAME"] == ["1", "True"] and out["EXTRA"] == ["1", "1"]
    used, available = map(int, out["NAMES"])
    assert used < available / 2  # only what a plot used was built
    assert out["MISSING"] == ["raises"]


def test_plain_imports_when_switched_off():
    out = _run(LSTMVIZ_PLAIN_QT_IMPORTS="1")
    assert out["STATE"] == ["0", "0"]
    assert out["SAME"] == ["1", "True"]
    used, available = map(int, out["NAMES"])
    assert used >= available  # pyqtgraph copied every name, as without lstmviz


def test_the_fast_source_check_answers_as_pyside_does():
    import pyqtgraph  # noqa: F401

    import lstmviz.ui.main_window  # noqa: F401  (lstmviz.ui installs it)

    feature = sys.modules["shibokensupport.feature"]
    fast = feature._mod_uses_pyside
    assert getattr(fast, "lstmviz_fast", False)
    modules = [m for name, m in sorted(sys.modules.items())
               if name.startswith(("lstmviz", "pyqtgraph", "json", "numpy.linalg"))]
    assert len(modules) > 50
    answers = [fast(m) for m in modules]
    assert answers == [fast.original(m) for m in modules]
    assert any(answers) and not all(answers)
