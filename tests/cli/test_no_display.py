"""No display, or Qt's xcb libraries missing: one line and exit 1, never Qt's abort (134)."""

import os
import subprocess
import sys

from lstmviz.ui.display import XCB_LIBRARIES, window_problem


def run(*args, env_extra=None, drop=("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "lstmviz", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_no_display_prints_one_line_and_exits_1():
    proc = run()
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no display" in lines[0]
    assert "lstmviz export" in lines[0] and "--screenshot" in lines[0]
    assert "xvfb" in lines[0]


def test_unreachable_x_server_is_one_line_not_an_abort():
    # a display number no X server listens on; whatever this machine's xcb libraries,
    # the answer is one line and exit 1 (missing libraries or no server), never 134
    proc = run(env_extra={"DISPLAY": ":87"})
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "cannot open a window" in lines[0]
    assert "lstmviz export" in lines[0]


def test_screenshot_and_export_work_without_a_display(tmp_path):
    shot = tmp_path / "s.png"
    assert run("--screenshot", str(shot), "--size", "640x480").returncode == 0
    assert shot.stat().st_size > 1000
    out = tmp_path / "out"
    out.mkdir()
    proc = run("export", "--out", str(out), "--format", "csv", "--panels", "gradients")
    assert proc.returncode == 0, proc.stderr
    assert (out / "gradients.csv").exists()


def test_missing_xcb_libraries_are_named_with_their_debian_packages():
    missing = {"libxcb-cursor.so.0", "libxcb-icccm.so.4"}
    line = window_problem({"DISPLAY": ":0"}, platform="linux",
                          loadable=lambda lib: lib not in missing, reachable=lambda d: True)
    assert line is not None and "\n" not in line
    assert "libxcb-cursor.so.0" in line and "libxcb-icccm.so.4" in line
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4;" in line
    assert "lstmviz export" in line


def test_every_library_is_checked_and_all_present_means_a_window_can_open():
    seen = []
    assert window_problem({"DISPLAY": ":0"}, platform="linux",
                          loadable=lambda lib: seen.append(lib) or True,
                          reachable=lambda d: True) is None
    assert seen == list(XCB_LIBRARIES)
    assert "libxcb-cursor.so.0" in seen  # Qt 6.5+


def test_headless_platforms_and_wayland_need_no_x_and_other_systems_are_not_checked():
    never = {"loadable": lambda lib: False, "reachable": lambda d: False}
    assert window_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="linux", **never) is None
    assert window_problem({"QT_QPA_PLATFORM": "minimal"}, platform="linux", **never) is None
    assert window_problem({"WAYLAND_DISPLAY": "wayland-0"}, platform="linux", **never) is None
    assert window_problem({}, platform="darwin", **never) is None
    assert window_problem({"QT_QPA_PLATFORM": "xcb"}, platform="linux", **never) is not None
    assert "no X server answers on DISPLAY=:5" in window_problem(
        {"DISPLAY": ":5"}, platform="linux", loadable=lambda lib: True,
        reachable=lambda d: False)
