"""Export sizes: presets (slide, slide-4:3, square, paper), --size/--width/--dpi, the
device pixel ratio a figure is rendered at and the pen width of its curves. No Qt."""

from __future__ import annotations

import math
from dataclasses import dataclass


class ExportError(ValueError):
    """A request that cannot be exported (bad name, folder, format): one-line message."""


#: Output sizes by name: (width px, height px, dpi or None). A slide is laid out at
#: 960 x 540 logical pixels and rendered at twice that (text as large on a slide as on a
#: laptop screen); `paper` is a single-column figure, 3.5 in wide at 300 dpi, laid out so
#: that the app's 9 pt text comes out at 9 pt.
PRESETS: dict[str, tuple[int, int, float | None]] = {
    "slide": (1920, 1080, None),
    "slide-4:3": (1440, 1080, None),
    "square": (1080, 1080, None),
    "paper": (1050, 788, 300.0),  # 3.5 x 2.625 in
}
DEFAULT_PRESET = "slide"
#: Logical height of a slide-like figure (the device pixel ratio is height / this).
SLIDE_LOGICAL_HEIGHT = 540
#: Curve pens in device pixels at 1920 px wide (scaled with the width).
CURVE_PX_AT_1920 = 2.5
#: Curve pens on paper, in points (0.75 pt, a usual hairline-plus for a figure).
CURVE_PT_ON_PAPER = 0.75

@dataclass(frozen=True)
class Destination:
    """Pixels of the output and the device pixel ratio it is rendered at: the views are
    laid out at (width / ratio, height / ratio) logical pixels."""

    width: int
    height: int
    ratio: float
    dpi: float | None = None

    @property
    def logical(self) -> tuple[int, int]:
        return (max(1, round(self.width / self.ratio)), max(1, round(self.height / self.ratio)))

    @property
    def curve_px(self) -> float:
        """Width of a data curve in device pixels (at least 2.5 px at 1920 px wide)."""
        px = CURVE_PX_AT_1920 * self.width / 1920
        if self.dpi is not None:
            px = max(px, CURVE_PT_ON_PAPER * self.dpi / 72)
        return px


def destination(request) -> Destination:
    """The output size of `request`: --size, else --width (16:9), else the preset."""
    if request.preset not in PRESETS:
        raise ExportError(f"--preset: unknown preset {request.preset!r}; choose from "
                          f"{', '.join(PRESETS)}")
    pw, ph, pdpi = PRESETS[request.preset]
    if request.size is not None:
        w, h = request.size
    elif request.width is not None:
        w, h = request.width, max(16, round(request.width * ph / pw))
    else:
        w, h = pw, ph
    dpi = request.dpi if request.dpi is not None else pdpi
    ratio = dpi / 96.0 if dpi is not None else h / SLIDE_LOGICAL_HEIGHT
    # never a layout larger than 4000 or smaller than 120 logical pixels
    ratio = min(max(ratio, max(w, h) / 4000, 1e-3), max(1e-3, min(w, h) / 120))
    return Destination(int(w), int(h), float(ratio), dpi)


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080); each side 16 .. 16000 pixels."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise ExportError(f"--size: {text!r} is not WIDTHxHEIGHT in pixels (e.g. 1920x1080)"
                          ) from None
    for side in (w, h):
        if not 16 <= side <= 16000:
            raise ExportError(f"--size: {text}: each side must be 16 to 16000 pixels")
    return w, h


def check_number(name: str, value: float, lo: float, hi: float, *, lo_open=True) -> float:
    """A finite number in (lo, hi] (or [lo, hi]); NaN and inf are refused by name."""
    v = float(value)
    ok = math.isfinite(v) and (lo < v if lo_open else lo <= v) and v <= hi
    if not ok:
        raise ExportError(f"{name}: {value:g} is out of range; "
                          f"{lo:g} {'<' if lo_open else '<='} value <= {hi:g}")
    return v
