"""`lstmviz` on the command line: the screenshot option and its errors, end to end."""

import os
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage


def run(*args, env_extra=None):
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # the CLI must choose offscreen itself without a display
    env.pop("DISPLAY", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "lstmviz", *args], capture_output=True,
                          text=True, timeout=180, env=env)


def test_screenshot_writes_a_png_of_the_window_size(tmp_path):
    out = tmp_path / "shot.png"
    proc = run("--screenshot", str(out), "--frame", "-5", "--size", "1280x800")
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    # not blank: many distinct colours across the image
    colours = {image.pixel(x, y) for x in range(0, 1280, 16) for y in range(0, 800, 16)}
    assert len(colours) > 50


def test_screenshot_with_a_config_file_and_dark_theme(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[settings]\nmodels = ["gru"]\nseq_len = 7\nhidden_size = 4\n')
    out = tmp_path / "shot.png"
    proc = run("--config", str(cfg), "--screenshot", str(out), "--theme", "dark")
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(out))
    assert not image.isNull()
    assert image.pixelColor(image.width() // 2, image.height() - 40).lightness() < 128


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frame", "999"], "--frame: 999 is out of range"),
        (["--size", "big"], "--size: expected WIDTHxHEIGHT"),
        (["--config", "/nonexistent/x.toml"], "x.toml: file not found"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, args, message):
    proc = run(*args, "--screenshot", str(tmp_path / "s.png"))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.png").exists()


def test_bad_config_value_names_file_and_key(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[settings]\nweight_scale = 42\n")
    proc = run("--config", str(cfg), "--screenshot", str(tmp_path / "s.png"))
    assert proc.returncode == 2
    assert "bad.toml" in proc.stderr
    assert "weight_scale" in proc.stderr


def test_help_exits_0():
    proc = run("--help")
    assert proc.returncode == 0
    assert "--screenshot" in proc.stdout
