"""Shared test set-up: Qt on the offscreen platform, before any QApplication exists."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
import pytest  # noqa: E402

import lstmviz  # noqa: E402,F401  (sets single-threaded BLAS before NumPy loads)
import lstmviz.ui  # noqa: E402,F401  (its import-time changes first, as the app runs: ui.startup)


@pytest.fixture
def held():
    """Strong references to widgets until qtbot has closed them (qtbot holds only weak
    ones; a view and its adapter form a cycle the garbage collector could free mid-paint)."""
    refs = []
    yield refs
    refs.clear()


@pytest.fixture
def settings(tmp_path):
    """A QSettings in a temporary INI file, so tests never touch the user's settings."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "lstmviz.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, settings):
    """Build a MainWindow on a config (small by default), shown offscreen."""
    from lstmviz.config import Config
    from lstmviz.session import Session
    from lstmviz.ui.main_window import MainWindow

    def make(config=None, *, restore=False, show=True, **kw):
        config = config or Config(models=("rnn", "lstm", "gru"), seq_len=12, hidden_size=6)
        window = MainWindow(Session(config), settings=settings, restore=restore, **kw)
        qtbot.addWidget(window)
        if show:
            with qtbot.waitActive(window):
                window.show()
                window.activateWindow()
        return window

    return make


@pytest.fixture
def lecture_window(make_window):
    """A shown MainWindow for walkthrough tests; afterwards the walkthrough is stopped and
    presenter mode left, whatever the test did."""
    w = make_window()
    yield w
    panel = w.tools["walkthrough"]
    panel.stop()
    if panel.presenter.active:
        panel.presenter.set_active(False)


@pytest.fixture(autouse=True)
def gui_thread_gc(request):
    """Tests with Qt collect garbage as the app does, on the GUI thread only
    (lstmviz.ui.app.collect_garbage_on_gui_thread); the others keep Python's automatic
    collection. Autouse fixtures are set up in order: this one before no_leaked_windows, so
    it is torn down after it (its last collection runs once the windows are closed)."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    import gc

    from lstmviz.ui.app import collect_garbage_on_gui_thread, stop_collecting_on_gui_thread

    request.getfixturevalue("qapp")
    collect_garbage_on_gui_thread()
    yield
    stop_collecting_on_gui_thread()
    gc.collect()  # here, on the GUI thread


@pytest.fixture(autouse=True)
def no_leaked_windows(request):
    """silx-style check for every test that uses qtbot: the top-level widgets it opened are
    closed when it ends (after qtbot's own clean-up, since autouse fixtures are set up
    first and torn down last). A window left open fails the test, which names it; it is
    then closed so that the next test starts clean."""
    if "qtbot" not in request.fixturenames:
        yield
        return
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    before = {id(w) for w in app.topLevelWidgets()} if app is not None else set()
    yield
    if QApplication.instance() is None:
        return
    held = wider_fixture_values(request)  # (a module's shared window stays open)
    left = [w for w in open_windows_since(before) if id(w) not in held]
    for w in left:
        w.close()
    if left:
        names = ", ".join(sorted({w.objectName() or type(w).__name__ for w in left}))
        pytest.fail(f"{request.node.nodeid} left {len(left)} window(s) open: {names}",
                    pytrace=False)


def open_windows_since(before: set[int]) -> list:
    """Visible top-level windows not among `before` (ids), once deferred deletes ran."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return [w for w in QApplication.topLevelWidgets()
            if id(w) not in before and w.isVisible() and w.isWindow()]


def wider_fixture_values(request) -> set[int]:
    """ids of the values of the test's fixtures wider than one test (module, session)."""
    held = set()
    for defs in request.node._fixtureinfo.name2fixturedefs.values():
        for fixturedef in defs:
            cached = getattr(fixturedef, "cached_result", None)
            if fixturedef.scope != "function" and cached:
                held.add(id(cached[0]))
    return held
