"""`lstmviz walkthroughs` and `lstmviz --walkthrough NAME --step K` end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lstmviz.cli import main
from lstmviz.walkthrough import list_builtin


def test_lists_builtins_with_titles(capsys):
    assert main(["walkthroughs"]) == 0
    out = capsys.readouterr().out
    for name, title in list_builtin():
        assert name in out and title in out
    assert "02_vanishing" in out and "example" not in out


def test_checks_files(capsys, tmp_path):
    assert main(["walkthroughs", "vanishing"]) == 0
    assert "vanishing: ok, 7 steps" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\n[[step]]\ntitle = "a"\ndocks = ["nope"]\n')
    assert main(["walkthroughs", str(bad)]) == 2
    assert "bad.toml: step 1: docks: unknown dock 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--walkthrough", "nonsense"], "nonsense: no such walkthrough"),
    (["--walkthrough", "01_bptt", "--step", "99"], "--step: 99 is out of range"),
    (["--step", "2"], "--step: needs --walkthrough"),
])
def test_bad_walkthrough_arguments(capsys, args, message):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_screenshot_of_a_step(tmp_path):
    out = tmp_path / "step.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "lstmviz", "--walkthrough", "02_vanishing", "--step", "3",
         "--screenshot", str(out), "--size", "1200x800"],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 10_000
