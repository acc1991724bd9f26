"""`lstmviz --config big.toml` (issue 17, "Freezes"): the window opens first and the runs
of large settings compute after it, in the background with the busy bar; the event loop
keeps beating meanwhile (the audit's start computed 14 s before any window appeared)."""

from __future__ import annotations

import sys
import time

import pytest
from PySide6.QtCore import QSettings

from lstmviz import config as config_module
from lstmviz.config import Config
from lstmviz.ui.app import open_window
from lstmviz.ui.worker import placeholder, starts_in_background


def settings_in(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


def test_small_settings_open_computed(qtbot, tmp_path):
    config = Config(seq_len=30)
    assert not starts_in_background(config)
    window = open_window(config, frame=-1, settings=settings_in(tmp_path))
    qtbot.addWidget(window)
    assert window.session.config == config and not window.recomputer.busy
    assert window.session.cursor == window.session.n_frames - 1


def test_the_placeholder_keeps_the_models_and_drops_the_size():
    big = Config(models=("gru", "lstm"), seq_len=1000, hidden_size=512, num_layers=2,
                 batch_size=8)
    assert starts_in_background(big)
    small = placeholder(big)
    assert small.models == big.models and small.seq_len <= 40 and small.hidden_size <= 16
    assert not starts_in_background(small)


def test_a_start_too_large_for_memory_is_refused_before_any_window(qtbot, tmp_path,
                                                                   monkeypatch):
    from PySide6.QtWidgets import QApplication

    from lstmviz.config import ConfigError

    big = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=512)
    monkeypatch.setattr(config_module, "available_memory", lambda: 2**28)
    before = set(QApplication.topLevelWidgets())
    with pytest.raises(ConfigError, match="seq_len = 1000.*memory"):
        open_window(big, settings=settings_in(tmp_path))
    assert set(QApplication.topLevelWidgets()) == before  # (the CLI prints it in one line)


@pytest.mark.slow
def test_start_with_the_largest_config_shows_the_window_first(qtbot, tmp_path):
    from tests.ui.test_heartbeat import GOAL_MS, LARGE, MAX_GAP_MS, Heartbeat, idle, run_loop

    big = Config(**LARGE)
    start = time.monotonic()
    window = open_window(big, frame=-1, settings=settings_in(tmp_path))
    opened = time.monotonic() - start
    qtbot.addWidget(window)
    assert window.isVisible()
    assert window.session.seq_len < big.seq_len  # the window is up before the big runs
    busy = []
    window.recomputer.busyChanged.connect(lambda on: busy.append(
        (on, window.busy_bar.isVisibleTo(window))))
    # the window's own first paint and build (at the placeholder's small settings, as at
    # the default settings) comes first; the compute starts after it, measured from there
    with Heartbeat() as first:
        run_loop(lambda: busy, timeout=60, settle=0)
    with Heartbeat() as beat:
        run_loop(lambda: idle(window) and window.session.seq_len == big.seq_len,
                 timeout=300)
    assert window.session.config == big
    assert window.session.cursor == window.session.n_frames - 1  # --frame -1, once arrived
    assert busy[0] == (True, True) and busy[-1] == (False, False)  # the busy bar meanwhile
    sys.stderr.write(f"\nstart at T=1000, H=512, 3 models: window after {opened:.2f} s, "
                     f"its first build {first.largest} ms, then the compute: largest "
                     f"event-loop gap {beat.largest} ms (goal {GOAL_MS} ms)\n")
    assert beat.largest < MAX_GAP_MS, f"the start froze the window {beat.largest} ms"
    window.recomputer.shutdown()
    window.close()
