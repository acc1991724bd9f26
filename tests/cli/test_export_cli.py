"""`lstmviz export` end to end in a subprocess, with no QT_QPA_PLATFORM set."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lstmviz.config import Config, save_config

SMALL = Config(models=("rnn", "lstm"), seq_len=5, hidden_size=4)


def lstmviz(*args, check=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "lstmviz", "export", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "small.toml"
    save_config(path, SMALL)
    return path


def error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("lstmviz: error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_export_png_csv_svg_without_a_display(tmp_path, config_file):
    from PySide6.QtGui import QImage

    out = tmp_path / "out"
    out.mkdir()
    proc = lstmviz("--config", config_file, "--out", out, "--format", "png,svg,csv",
                   "--panels", "gradients,unrolled", "--width", "1000", check=0)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["columns.md", "gradients.csv", "gradients.png", "gradients.svg",
                     "manifest.json", "unrolled.png", "unrolled.svg"]
    assert sorted(os.path.basename(p) for p in proc.stdout.split()) == names
    assert QImage(str(out / "gradients.png")).width() == 1000
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"] == SMALL.to_dict()
    assert manifest["source"] == {"config_file": str(config_file)}
    assert manifest["frame"]["index"] == 2 * SMALL.seq_len  # default: the last frame
    assert [f["file"] for f in manifest["files"]] == [
        "gradients.png", "gradients.svg", "gradients.csv", "unrolled.png", "unrolled.svg",
        "columns.md"]


def test_gif_with_progress(tmp_path, config_file):
    from PIL import Image

    proc = lstmviz("--config", config_file, "--out", tmp_path, "--format", "gif",
                   "--width", "300", "--fps", "4", check=0)
    with Image.open(tmp_path / "animation.gif") as gif:
        assert gif.n_frames == 2 * SMALL.seq_len + 1
    assert "animation: frame 11/11 (100%)" in proc.stderr


def test_walkthrough_step(tmp_path):
    from lstmviz.walkthrough import find_walkthrough, list_builtin, load_walkthrough

    name = list_builtin()[0][0]
    step = load_walkthrough(find_walkthrough(name)).steps[0]
    lstmviz("--walkthrough", name, "--step", "1", "--out", tmp_path, "--format", "csv",
            "--panels", "gradients", check=0)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["config"] == step.config.to_dict()
    assert manifest["source"]["step"] == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--panels", "gradients,grads"],
     "--panels: unknown panel 'grads'; valid names are gradients, jacobians, forget, gates, "
     "cellstate, inspector, unrolled, window (or all)"),
    (["--format", "png,jpg"], "--format: unknown format 'jpg'; choose from png,svg,pdf,csv,gif"),
        (["--fps", "nan"], "--fps: nan is out of range"),
        (["--size", "12x9"], "--size: 12x9: each side must be 16 to 16000 pixels"),
        (["--size", "wide"], "--size: 'wide' is not WIDTHxHEIGHT"),
        (["--all-steps"], "--all-steps: needs --walkthrough NAME"),
    (["--frame", "99"], "--frame: 99 is out of range; this run has frames 0 to 10"),
    (["--gif-target", "window"], "--gif-target: unknown view 'window'"),
    (["--width", "0"], "--width: 0 is out of range"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_usage_errors(tmp_path, config_file, args, message):
    out = tmp_path / "out"
    out.mkdir()
    proc = lstmviz("--config", config_file, "--out", out, *args, check=2)
    assert message in error_line(proc)
    assert list(out.iterdir()) == []


def test_missing_and_unwritable_folders(tmp_path, config_file):
    proc = lstmviz("--config", config_file, "--out", tmp_path / "nope", check=2)
    assert "no such folder" in error_line(proc)
    assert not (tmp_path / "nope").exists()
    # /proc refuses new files even to root (a chmod 500 folder would not stop root)
    proc = lstmviz("--config", config_file, "--out", "/proc", "--panels", "gradients", check=2)
    assert "/proc: cannot write there" in error_line(proc)
    proc = lstmviz("--config", config_file, "--out", "/proc/self", "--panels", "gradients",
                   check=2)
    assert "/proc/self: cannot write there (it is a system folder" in error_line(proc)
    assert "No such file" not in error_line(proc)
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    proc = lstmviz("--config", config_file, "--out", a_file, check=2)
    assert "not a folder" in error_line(proc)
    assert a_file.read_text() == "mine"


def test_existing_file_without_force(tmp_path, config_file):
    (tmp_path / "gradients.png").write_bytes(b"mine")
    proc = lstmviz("--config", config_file, "--out", tmp_path, "--panels", "gradients,jacobians",
                   check=2)
    assert "gradients.png exists; use --force to overwrite" in error_line(proc)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradients.png", "small.toml"]
    lstmviz("--config", config_file, "--out", tmp_path, "--panels", "gradients", "--force",
            check=0)
    assert (tmp_path / "gradients.png").read_bytes() != b"mine"


def test_views_match_the_app():
    from lstmviz.cli.export import VIEWS
    from lstmviz.ui.export.scene import target_names

    assert VIEWS == target_names()


def test_layer_chooses_what_the_one_layer_views_show(tmp_path):
    path = tmp_path / "stack.toml"
    save_config(path, Config(models=("lstm",), seq_len=6, hidden_size=3, num_layers=2))
    outs = {}
    for layer in ("1", "2"):
        out = tmp_path / f"layer{layer}"
        out.mkdir()
        lstmviz("--config", path, "--layer", layer, "--out", out, "--format", "csv",
                "--panels", "forget", check=0)
        assert json.loads((out / "manifest.json").read_text())["layer"] == int(layer)
        outs[layer] = (out / "forget.csv").read_text()
    default = tmp_path / "default"
    default.mkdir()
    lstmviz("--config", path, "--out", default, "--format", "csv", "--panels", "forget",
            check=0)
    assert (default / "forget.csv").read_text() == outs["2"]  # the top by default
    assert outs["1"] != outs["2"]
    proc = lstmviz("--config", path, "--layer", "3", "--out", default, "--force", check=2)
    assert "--layer: 3 is out of range; the models have 2 layer(s): 1 (the bottom) to 2 " \
           "(the top)" in error_line(proc)
