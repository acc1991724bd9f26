"""File > Export of several views (issue 17): never a freeze (the pipeline runs one step per
event-loop turn, with a cancellable progress dialog), never a file replaced without asking,
and all or nothing: a cancel or a failure part-way leaves the folder as it was."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton

from lstmviz.config import Config
from lstmviz.export import MANIFEST, verify_manifest
from lstmviz.ui.export.dialog import ExportDialog, ExportOptions, start_export_job, targets

SMALL = Config(models=("rnn", "lstm", "gru"), seq_len=8, hidden_size=4)
#: The largest event-loop gap (ms) the 7-view export at the largest settings may cause.
EXPORT_MAX_MS = 1000


@pytest.fixture
def window(make_window):
    w = make_window(SMALL)
    w.session.to_end()
    return w


def old_set(folder):
    """A folder holding an earlier export's files (and a file of the user's)."""
    for name in ("gradients.png", "forget.png", "mine.txt"):
        (folder / name).write_text(f"old {name}")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_the_dialog_starts_a_job_and_returns_at_once(window, tmp_path, qtbot):
    dialog = ExportDialog(window, "panels")
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("png"))
    dialog.path.setText(str(tmp_path))
    dialog.accept()
    job = window._export_job
    assert job.running and list(tmp_path.iterdir()) == []  # nothing rendered in accept()
    assert dialog.result() == ExportDialog.DialogCode.Accepted
    paths = job.wait()
    assert {p.name for p in paths} >= {"gradients.png", MANIFEST}
    assert verify_manifest(tmp_path) == []
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


@pytest.mark.parametrize("after", [0, 1, 4, 8])
def test_cancelled_multi_view_export_leaves_nothing(window, tmp_path, qtbot, after):
    before = old_set(tmp_path)
    job = start_export_job(window, targets(window, "panels"),
                           ExportOptions(fmt="png", path=str(tmp_path)))
    finished = []
    job.finished.connect(finished.append)
    steps = 0
    while job.running and steps < after:
        job._tick()
        steps += 1
    assert job.running, "the export ended before the cancel: use fewer steps"
    job.dialog.findChild(QPushButton).click()  # the progress dialog's Cancel button
    assert not job.running and job.result is None
    assert finished == [[]]
    assert contents(tmp_path) == before  # the old files untouched, no temporaries
    assert window.session.cursor == window.session.n_frames - 1


def test_a_cancel_during_a_step_stops_after_it(window, tmp_path, qtbot, monkeypatch):
    import lstmviz.ui.export.writer as writer

    before = old_set(tmp_path)
    job = start_export_job(window, targets(window, "panels"),
                           ExportOptions(fmt="png", path=str(tmp_path)), progress=False)
    real = writer.render_view

    def render_and_cancel(*a, **k):  # the user presses Cancel while a view renders
        job.cancel()
        return real(*a, **k)

    monkeypatch.setattr(writer, "render_view", render_and_cancel)
    job.wait()
    assert job.cancelled and job.result is None
    assert contents(tmp_path) == before


def test_dialog_job_failing_part_way_leaves_the_old_files(window, tmp_path, monkeypatch):
    import lstmviz.ui.export.writer as writer

    before = old_set(tmp_path)
    real = writer.render_view
    calls = []

    def fail_on_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(tmp_path / ".x.tmp"))
        return real(*a, **k)

    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    monkeypatch.setattr(writer, "render_view", fail_on_third)
    job = start_export_job(window, targets(window, "panels"),
                           ExportOptions(fmt="png", path=str(tmp_path)), progress=False)
    assert job.wait() == []
    assert len(calls) == 3
    assert warnings == [job.error] and "No space left on device" in job.error
    assert contents(tmp_path) == before


def test_a_bad_folder_is_refused_before_the_job_starts(window, tmp_path, qtbot, monkeypatch):
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / MANIFEST).mkdir()  # a folder under a final name
    dialog = ExportDialog(window, "panels")
    qtbot.addWidget(dialog)
    dialog.path.setText(str(tmp_path / "d"))
    dialog.accept()
    assert warnings and MANIFEST in warnings[0]
    assert dialog.result() == 0  # the dialog stays open
    assert getattr(window, "_export_job", None) is None


@pytest.mark.slow
def test_multi_view_export_keeps_the_event_loop_alive(qtbot, tmp_path):
    """Seven views at the Settings dock's largest values (T=1000, H=512, three models):
    the 10 s freeze the audit measured becomes one step per event-loop turn."""
    from PySide6.QtCore import QSettings

    from lstmviz.session import Session, compute_runs
    from lstmviz.ui.main_window import MainWindow
    from tests.ui.test_heartbeat import GOAL_MS, LARGE, Heartbeat, run_loop

    config = Config(**LARGE)
    session = Session(config, runs=compute_runs(config, jacobians=False))
    window = MainWindow(session, settings=QSettings(str(tmp_path / "s.ini"),
                                                    QSettings.Format.IniFormat),
                        restore=False)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    run_loop(lambda: not window.stager.pending, settle=0.3)
    # the audit's seven views: every panel (shown or not) and the unrolled network
    items = [*window.panels.items(), ("unrolled", window.unrolled)]
    out = tmp_path / "out"
    out.mkdir()
    with Heartbeat() as beat:
        job = start_export_job(window, items, ExportOptions(fmt="png", path=str(out)))
        run_loop(lambda: not job.running, timeout=300, settle=0.1)
    assert job.error is None, job.error
    assert len([p for p in out.iterdir() if p.suffix == ".png"]) == len(items) == 7
    # the 250 ms goal is measured and reported (-s, or the CI log), not asserted
    sys.stderr.write(f"\nexport of {len(items)} views: largest event-loop gap "
                     f"{beat.largest} ms (goal {GOAL_MS} ms)\n")
    # its own bound, as before the heartbeat tests tightened theirs to 500 ms: alone in a
    # process its steps take at most 150-220 ms, but after the heartbeat tests (their
    # windows' large runs being freed meanwhile) it measured 476 ms (2026-12-03)
    assert beat.largest < EXPORT_MAX_MS, f"the export froze the window {beat.largest} ms"
    window.recomputer.shutdown()
    window.close()
