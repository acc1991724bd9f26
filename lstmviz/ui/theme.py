"""Light and dark themes: colours of the window, the plots and each model."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from lstmviz.engine import cells


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    foreground: str
    grid_alpha: float
    muted: str
    highlight: str
    model_colors: dict[str, str]
    colormap: str  # a pyqtgraph colormap name for heatmaps

    def model_color(self, kind: str) -> QColor:
        """The colour of a model kind (its registry colour key) or of a named series
        ("bound"). A registered kind whose key the theme lacks gets a hue from its name."""
        key = kind
        if kind in cells.kinds():
            key = cells.get(kind).colour
        if key in self.model_colors:
            return QColor(self.model_colors[key])
        if kind in cells.kinds():
            hue = zlib.crc32(key.encode("utf-8")) % 360
            return QColor.fromHsv(hue, 200, 200 if self.name == "dark" else 170)
        return QColor(self.foreground)

    def pen(self, kind: str, width: float = 1.0, style=None) -> pg.QtGui.QPen:
        pen = pg.mkPen(self.model_color(kind), width=width)
        if style is not None:
            pen.setStyle(style)
        return pen


LIGHT = Theme(
    name="light",
    background="#ffffff",
    foreground="#202124",
    grid_alpha=0.25,
    muted="#80868b",
    highlight="#f9ab00",
    # Okabe-Ito colours for the classic cells and IndRNN / minGRU, Paul Tol's muted ones for
    # the rest: distinguishable for colour-blind students and on projectors. Keys are the
    # palette names each cell module picks (engine.cells CellKind.colour), not kinds.
    model_colors={"vermillion": "#d55e00", "blue": "#0072b2", "green": "#009e73",
                  "orange": "#e69f00", "pink": "#cc79a7", "wine": "#882255",
                  "olive": "#999933", "indigo": "#332288", "bound": "#7f7f7f"},
    colormap="viridis",
)
DARK = Theme(
    name="dark",
    background="#1e1f22",
    foreground="#e8eaed",
    grid_alpha=0.3,
    muted="#9aa0a6",
    highlight="#fdd663",
    model_colors={"vermillion": "#ff8c42", "blue": "#56b4e9", "green": "#3ddc97",
                  "orange": "#f0c24b", "pink": "#e8a3c8", "wine": "#ee6677",
                  "olive": "#cccc66", "indigo": "#a898f5", "bound": "#b0b0b0"},
    colormap="viridis",
)
THEMES = {"light": LIGHT, "dark": DARK}


def palette_for(theme: Theme) -> QPalette:
    """The Qt palette of `theme` (the app's, or one widget tree's: an export's)."""
    pal = QPalette()
    bg, fg = QColor(theme.background), QColor(theme.foreground)
    base = bg.lighter(112) if theme.name == "dark" else QColor("#ffffff")
    window = bg if theme.name == "dark" else QColor("#f1f3f4")
    pal.setColor(QPalette.ColorRole.Window, window)
    pal.setColor(QPalette.ColorRole.WindowText, fg)
    pal.setColor(QPalette.ColorRole.Base, base)
    pal.setColor(QPalette.ColorRole.AlternateBase, window)
    pal.setColor(QPalette.ColorRole.Text, fg)
    pal.setColor(QPalette.ColorRole.Button, window)
    pal.setColor(QPalette.ColorRole.ButtonText, fg)
    pal.setColor(QPalette.ColorRole.ToolTipBase, base)
    pal.setColor(QPalette.ColorRole.ToolTipText, fg)
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#1a73e8"))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.PlaceholderText, QColor(theme.muted))
    return pal


def apply_app_theme(theme: Theme, app: QApplication | None = None) -> None:
    """Set the Qt palette and pyqtgraph's defaults for new plots."""
    app = app or QApplication.instance()
    pg.setConfigOptions(background=theme.background, foreground=theme.foreground,
                        antialias=False, imageAxisOrder="row-major")
    if app is None:
        return
    app.setStyle("Fusion")
    app.setPalette(palette_for(theme))
