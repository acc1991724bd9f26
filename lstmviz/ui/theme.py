"""Light and dark themes: colours of the window, the plots and each model."""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


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
        return QColor(self.model_colors.get(kind, self.foreground))

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
    # Okabe-Ito colours: distinguishable for colour-blind students and on projectors.
    model_colors={"rnn": "#d55e00", "lstm": "#0072b2", "gru": "#009e73", "bound": "#7f7f7f"},
    colormap="viridis",
)
DARK = Theme(
    name="dark",
    background="#1e1f22",
    foreground="#e8eaed",
    grid_alpha=0.3,
    muted="#9aa0a6",
    highlight="#fdd663",
    model_colors={"rnn": "#ff8c42", "lstm": "#56b4e9", "gru": "#3ddc97", "bound": "#b0b0b0"},
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
