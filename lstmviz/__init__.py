"""lstmviz: watch gradients vanish and explode in an unrolled RNN, LSTM and GRU."""

import os
from pathlib import Path

# The engine multiplies small matrices (H <= 256) step by step; BLAS threads only add
# overhead there, and on a loaded 2-core machine they made a recompute 10x slower.
# Effective only when lstmviz is imported before NumPy (the CLI and the app do that).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"

#: Folder of the package data: built-in walkthroughs (and, as they come, trained models
#: and icons). Inside the package, so a wheel or `pipx install .` ships it.
RESOURCES = Path(__file__).resolve().parent / "resources"
