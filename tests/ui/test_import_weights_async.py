"""File > Import weights recomputes off the GUI thread: the event loop keeps running."""

from __future__ import annotations

import sys
import time

from lstmviz.config import Config
from lstmviz.engine import build_model, build_readout, save_weights
from lstmviz.ui.worker import live_jobs


def test_importing_large_weights_leaves_the_event_loop_responsive(make_window, qtbot, tmp_path):
    """The issue's case: T = 1000, H = 128 froze the window 30 s (recompute on the GUI
    thread). Now a 10 ms QTimer keeps ticking while the import computes; closing cancels."""
    from PySide6.QtCore import QTimer

    window = make_window(Config(models=("lstm",), seq_len=1000, hidden_size=8))
    path = tmp_path / "big.safetensors"
    save_weights(path, build_model("lstm", 1, 128, seed=1), build_readout(128, 1, seed=2))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    qtbot.wait(100)
    start = time.perf_counter()
    assert window.import_weights(path) is True
    returned = time.perf_counter() - start
    assert window.recomputer.busy and window.busy_bar.isVisible()
    qtbot.waitUntil(lambda: window.session.config.hidden_size == 128, timeout=60000)
    installed = time.perf_counter()
    qtbot.wait(300)  # the exact Jacobian norms go on computing in the background
    timer.stop()
    during = [t for t in ticks if t >= start]
    gaps = [b - a for a, b in zip([start, *during], during, strict=False)]
    assert returned < 1.0, f"import_weights blocked {returned:.2f} s"
    sys.stderr.write(f"import: returned {returned * 1000:.0f} ms, installed after "
                     f"{installed - start:.2f} s, {len(during)} ticks, largest gap "
                     f"{max(gaps) * 1000:.0f} ms\n")
    # the loop kept turning (a frozen one ticks once, at the end); how often it turns
    # depends on the machine's load and the compute thread's share of the GIL (3 ticks
    # over ~1 s were seen at load 4 on 2 cores, 20+ unloaded): the freeze check is the
    # gap bound below
    assert len(during) >= 3, len(during)
    # no freeze (the old import froze 30 s here); 1 s like the heartbeat tests, since this
    # 2-core machine is shared and a 250 ms bound flaked under load
    assert max(gaps) < 1.0, f"largest gap between ticks {max(gaps):.3f} s"
    assert window.session.runs["lstm"].imported
    window.close()  # cancel-safe: the job is dropped, nothing waits for it
    qtbot.waitUntil(lambda: live_jobs() == 0, timeout=10000)


def test_imported_weights_are_installed_once_computed(make_window, qtbot, tmp_path):
    window = make_window(Config(models=("rnn",), seq_len=300, hidden_size=8))
    model = build_model("gru", 1, 24, seed=4)
    save_weights(tmp_path / "g.npz", model)
    assert window.import_weights(tmp_path / "g.npz")
    qtbot.waitUntil(lambda: not window.recomputer.busy and "gru" in window.session.runs,
                    timeout=20000)
    run = window.session.runs["gru"]
    assert run.imported and run.model.hidden_size == 24
    assert window.session.config.models == ("rnn", "gru")
    assert window.session.config.hidden_size == 24
    assert window.controls.read_config().hidden_size == 24
    assert set(window.session.weights) == {"gru"}
    # a later settings change keeps the imported weights
    window.request_config(window.session.config.replace(seed=5))
    qtbot.waitUntil(lambda: window.session.config.seed == 5, timeout=20000)
    assert window.session.runs["gru"].imported


def test_a_refused_file_is_one_message_and_changes_nothing(make_window, tmp_path,
                                                           monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    messages = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: messages.append(a[2]))
    window = make_window()
    before = window.session.config
    (tmp_path / "m.pt").write_bytes(b"\x80\x02.")
    assert window.import_weights(tmp_path / "m.pt") is False
    assert len(messages) == 1 and "m.pt: a PyTorch pickle" in messages[0]
    assert window.session.config == before
    assert not window.recomputer.busy


def test_a_lecture_step_naming_weights_shows_them_over_imported_ones(make_window, qtbot,
                                                                       tmp_path):
    from lstmviz.named_weights import load_file

    window = make_window(Config(models=("lstm",), seq_len=20, task="adding"))
    mine = build_model("lstm", 2, 16, seed=8)
    save_weights(tmp_path / "mine.npz", mine)
    assert window.import_weights(tmp_path / "mine.npz")
    qtbot.waitUntil(lambda: not window.recomputer.busy and "lstm" in window.session.weights,
                    timeout=20000)
    panel = window.tools["walkthrough"]
    assert panel.open("08_after_training", animate=False)
    panel.wait_step()
    assert not window.session.runs["lstm"].imported  # step 1: the untrained LSTM
    panel.go_to(1, animate=False)
    window.recomputer.wait(jacobians=False)
    shipped, _ = load_file("builtin:adding_lstm", "lstm")
    assert window.session.runs["lstm"].model is shipped
    panel.go_to(2, animate=False)
    window.recomputer.wait(jacobians=False)
    assert set(window.session.runs) == {"rnn", "lstm"}
    assert window.session.runs["rnn"].imported and window.session.runs["lstm"].model is shipped


def test_importing_a_two_layer_file_sets_the_layers_and_says_so(make_window, qtbot, tmp_path):
    """File > Import weights of an nn.LSTM(num_layers=2) file: the session and the Settings
    dock take 2 layers, every layer of the file is shown, and the status bar says so."""
    from lstmviz.engine.stack import build_stack

    window = make_window(Config(models=("lstm",), seq_len=20, hidden_size=8))
    stack = build_stack("lstm", 1, 6, num_layers=2, seed=4)
    save_weights(tmp_path / "l2.safetensors", stack)
    assert window.import_weights(tmp_path / "l2.safetensors")
    assert "num_layers set to 2: the file has 2 layers" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.recomputer.busy
                    and window.session.config.num_layers == 2, timeout=20000)
    assert window.controls.read_config().num_layers == 2
    run = window.session.runs["lstm"]
    assert run.imported and run.num_layers == 2
    for k in ("weight_hh_l0", "weight_hh_l1"):
        assert (run.stack[0].params[k] == stack.params[k]).all()
