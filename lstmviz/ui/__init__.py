"""Everything Qt: the main window, the session adapter, the unrolled view and the panels."""

from lstmviz.ui import startup as _startup

_startup.install()  # before anything here imports pyqtgraph (see lstmviz/ui/startup.py)
