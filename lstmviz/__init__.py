"""lstmviz: watch gradients vanish and explode in an unrolled RNN, LSTM and GRU."""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of built-in walkthroughs, icons and the README screenshot.
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
