"""Export planning: what to write, names, sizes, manifest, CSV and all-or-nothing staging.

Imports no Qt (a contract in pyproject.toml). Rendering the views into PNG/SVG/PDF/GIF
bytes is the ui layer's: `lstmviz.ui.export` (its `run_export` is the one pipeline the
command line and the dialog share).
"""

from lstmviz.export.plan import *  # noqa: F403
from lstmviz.export.plan import (  # noqa: F401  (names scripts and tests use)
    _cell,
    _column,
    _quote,
)

