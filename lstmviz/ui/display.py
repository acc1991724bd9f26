"""Can a window open here? Checked before Qt starts, because Qt aborts the process
(exit 134, a core dump and "Reinstalling the application may fix this problem") when it
cannot load its platform plugin. No Qt import in this module.

`window_problem()` returns None when a window can open, else one line saying what is
missing and what to install; `lstmviz` prints it and exits 1. The headless paths
(`lstmviz export`, `lstmviz --screenshot`) never need a display: `use_offscreen_if_needed`
switches them to Qt's offscreen platform instead.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

#: Qt 6.10's xcb platform plugin (libqxcb.so and libQt6XcbQpa.so.6, from `objdump -p`)
#: links these system libraries; each with the Debian/Ubuntu package that provides it.
#: Qt 6.5+ added libxcb-cursor0, the one most systems lack.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}

#: Platforms that draw into memory or a framebuffer: no display server needed.
HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs",
                                "vkkhrdisplay"})

HEADLESS_HINT = ("`lstmviz export` and `lstmviz --screenshot FILE.png` work without a display")


def _loadable(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def _x_server_reachable(display: str) -> bool:
    """Connect to the X server the way Qt will (libxcb's xcb_connect), then hang up."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return False
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    try:
        return bool(conn) and xcb.xcb_connection_has_error(conn) == 0
    finally:
        if conn:
            xcb.xcb_disconnect(conn)


def window_problem(environ: os._Environ | dict[str, str] | None = None, *,
                   platform: str | None = None,
                   loadable: Callable[[str], bool] = _loadable,
                   reachable: Callable[[str], bool] = _x_server_reachable) -> str | None:
    """None when Qt can open a window here, else one line: what is missing, what to install."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None
    requested = [p.split(":")[0].strip() for p in env.get("QT_QPA_PLATFORM", "").split(";")]
    requested = [p for p in requested if p]
    if requested and requested[0] in HEADLESS_PLATFORMS:
        return None
    if env.get("WAYLAND_DISPLAY") and (not requested or requested[0].startswith("wayland")):
        return None  # Qt's wayland plugin; it needs no xcb library
    display = env.get("DISPLAY", "")
    if not display:
        return ("lstmviz: cannot open a window: no display (DISPLAY and WAYLAND_DISPLAY are "
                "unset); run it in a desktop session or under a virtual display "
                "(sudo apt-get install xvfb; xvfb-run lstmviz); " + HEADLESS_HINT)
    missing = [lib for lib in XCB_LIBRARIES if not loadable(lib)]
    if missing:
        packages = " ".join(dict.fromkeys(XCB_LIBRARIES[lib] for lib in missing))
        return (f"lstmviz: cannot open a window: Qt's xcb platform needs {', '.join(missing)}, "
                f"missing here; on Debian/Ubuntu: sudo apt-get install {packages}; "
                + HEADLESS_HINT)
    if not reachable(display):
        return (f"lstmviz: cannot open a window: no X server answers on DISPLAY={display[:60]}; "
                "check DISPLAY (or ssh -X), or run under a virtual display "
                "(sudo apt-get install xvfb; xvfb-run lstmviz); " + HEADLESS_HINT)
    return None


def use_offscreen_if_needed() -> None:
    """For the headless paths: Qt's offscreen platform when no window could open here."""
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    if "QT_QPA_PLATFORM" not in os.environ and window_problem() is not None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
