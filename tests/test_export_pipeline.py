"""The one export pipeline (lstmviz.export planning, lstmviz.ui.export rendering): sizes
for each destination, pens, vector SVG/PDF, views that do not apply, the set committed all
or nothing, stale temporaries, signals, the lecture deck, the dialog and the CLI alike."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lstmviz.config import Config
from lstmviz.engine.files import umask
from lstmviz.export import (
    MANIFEST,
    PRESETS,
    ExportError,
    ExportRequest,
    destination,
    skip_reasons,
    verify_manifest,
)
from lstmviz.session import Session

SMALL = Config(models=("rnn", "lstm"), seq_len=6, hidden_size=4)
SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(qapp):
    return qapp


def run(tmp_path, config=SMALL, **kw):
    from lstmviz.ui.export.writer import run_export

    kw.setdefault("names", ("gradients",))
    return run_export(config, ExportRequest(out_dir=tmp_path, **kw))


def qimage(path):
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), path
    return image


def pdf_text(path) -> tuple[int, str]:
    pypdf = pytest.importorskip("pypdf", reason="pypdf is in the test extras")
    reader = pypdf.PdfReader(str(path))
    return len(reader.pages), " ".join(p.extract_text() for p in reader.pages).replace("\t", " ")


def cli(*args, check=None, **kw):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "lstmviz", "export", *map(str, args)],
                          capture_output=True, text=True, env=env, **kw)
    if check is not None:
        assert proc.returncode == check, proc.stderr
    return proc


# -- sizes, pens, text --------------------------------------------------------------------
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_has_its_size(app, tmp_path, preset):
    run(tmp_path, formats=("png",), names=("gradients", "unrolled"), preset=preset)
    w, h, dpi = PRESETS[preset]
    for name in ("gradients", "unrolled"):
        image = qimage(tmp_path / f"{name}.png")
        assert (image.width(), image.height()) == (w, h), (preset, name)
    m = json.loads((tmp_path / MANIFEST).read_text())
    assert m["size"]["width"] == w and m["size"]["height"] == h and m["size"]["dpi"] == dpi


def test_any_size_and_dpi(app, tmp_path):
    run(tmp_path, formats=("png",), names=("inspector",), size=(1000, 1000), dpi=192)
    image = qimage(tmp_path / "inspector.png")
    assert (image.width(), image.height()) == (1000, 1000)
    d = destination(ExportRequest(out_dir=tmp_path, size=(1000, 1000), dpi=192))
    assert d.ratio == 2.0 and d.logical == (500, 500)


def test_paper_is_3_5_inches_at_300_dpi_with_9_pt_text(app, tmp_path):
    d = destination(ExportRequest(out_dir=tmp_path, preset="paper"))
    assert d.width / 300 == 3.5 and d.ratio == 300 / 96
    run(tmp_path, formats=("svg",), preset="paper")
    root = ET.parse(tmp_path / "gradients.svg").getroot()
    sizes = {float(e.get("font-size").removesuffix("px")) for e in root.iter()
             if e.get("font-size")}
    # logical pixels at 96 per inch: 12 px = 9 pt (axis ticks and labels)
    assert sizes and all(8 <= s * 72 / 96 <= 9 for s in sizes), sizes


def test_curves_are_at_least_2_5_px_wide_at_1920_and_the_cursor_is_off(app):
    from lstmviz.ui.export.scene import HeadlessScene, cursor_lines, curve_items

    dest = destination(ExportRequest(out_dir=Path(".")))
    for cursor in (False, True):
        scene = HeadlessScene(Session(SMALL), ["gradients", "jacobians", "cellstate"],
                              destination=dest, cursor=cursor)
        try:
            for name, widget in scene.widgets.items():
                pens = [item.opts["pen"] for item in curve_items(widget)
                        if item.opts.get("pen") is not None]
                assert pens, name
                for pen in pens:
                    import pyqtgraph as pg

                    pen = pg.mkPen(pen)
                    px = pen.widthF() * (1 if pen.isCosmetic() else dest.ratio)
                    assert px >= 2.5, (name, px)
                lines = cursor_lines(widget)
                assert lines and all(line.isVisible() == cursor for line in lines), name
        finally:
            scene.close()


def test_svg_holds_the_stroke_width_the_title_and_vector_cells(app, tmp_path):
    run(tmp_path, formats=("svg",), names=("gradients", "unrolled"))
    root = ET.parse(tmp_path / "gradients.svg").getroot()
    widths = [float(g.get("stroke-width")) for g in root.iter(f"{SVG}g")
              if g.get("stroke") == "#d55e00" and g.get("stroke-width")]
    # logical units (the SVG is 960 wide for a 1920 px slide): 2.5 px at 1920 = 1.25
    assert widths and max(widths) >= 1.25, widths
    texts = " ".join("".join(e.itertext()) for e in root.iter(f"{SVG}text"))
    assert "timestep t" in texts and "‖dL/dh_t‖ (log scale)" in texts
    assert "…" not in texts and "..." not in texts
    unrolled = (tmp_path / "unrolled.svg").read_text()
    # the cells are rectangles; the only image left is the legend's colour bar
    assert unrolled.count("<image") <= 1
    assert unrolled.count("<rect") >= SMALL.seq_len * SMALL.hidden_size * 2  # a rect per unit


VIEW_TEXT = {"gradients": "timestep t", "jacobians": "norm", "forget": "unit",
             "gates": "timestep t", "cellstate": "timestep t", "inspector": "pre-activation",
             "unrolled": "cell state c"}


def test_a_pdf_per_view_parses_and_holds_the_axis_text(app, tmp_path):
    run(tmp_path, formats=("pdf",), names=tuple(VIEW_TEXT))
    for name, text in VIEW_TEXT.items():
        data = (tmp_path / f"{name}.pdf").read_bytes()
        assert data.startswith(b"%PDF")
        if name in ("gradients", "jacobians", "cellstate", "inspector"):  # all vector
            assert b"/Subtype /Image" not in data, name
        pages, content = pdf_text(tmp_path / f"{name}.pdf")
        assert pages == 1, name
        assert text in content, (name, content[:300])


def test_vanilla_rnn_export_writes_no_forget_or_gates_image_and_says_why(app, tmp_path):
    config = Config(models=("rnn",), seq_len=5, hidden_size=3)
    names = ("gradients", "jacobians", "forget", "gates", "unrolled")
    paths = run(tmp_path, config, formats=("png", "csv"), names=names, kinds=("rnn",))
    written = {p.name for p in paths}
    assert not any(n.startswith(("forget.", "gates.")) for n in written), written
    assert {"gradients.png", "jacobians.png", "unrolled.png"} <= written
    m = json.loads((tmp_path / MANIFEST).read_text())
    skipped = {s["view"]: s["reason"] for s in m["skipped"]}
    assert set(skipped) == {"forget", "gates"}
    assert "vanilla RNN has no gates" in skipped["gates"]
    assert m["skipped_subplots"][0]["view"] == "jacobians"
    assert skip_reasons(["forget", "gates"], ["rnn", "lstm"]) == {}


# -- all or nothing -----------------------------------------------------------------------
def test_a_folder_under_a_final_name_fails_before_anything_is_replaced(tmp_path):
    """mkdir -p d/manifest.json; lstmviz export --format png,csv --panels gradients --out d
    --force: fails naming manifest.json, and gradients.csv/png are still the old ones."""
    (tmp_path / "manifest.json").mkdir()
    (tmp_path / "gradients.csv").write_text("old csv")
    (tmp_path / "gradients.png").write_text("old png")
    proc = cli("--format", "png,csv", "--panels", "gradients", "--out", tmp_path, "--force",
               check=2)
    assert "manifest.json: is a folder" in proc.stderr
    assert (tmp_path / "gradients.csv").read_text() == "old csv"
    assert (tmp_path / "gradients.png").read_text() == "old png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradients.csv", "gradients.png",
                                                          "manifest.json"]


def test_a_rename_failing_mid_commit_puts_the_old_set_back(app, tmp_path, monkeypatch):
    run(tmp_path, formats=("png", "csv"), names=("gradients",))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(dst)
        if str(dst).endswith("columns.md") and not str(src).endswith(
                "-old-" + str(src).rsplit("-old-", 1)[-1]):  # (not the rollback's rename)
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError, match="No space"):
        run(tmp_path, formats=("png", "csv"), names=("gradients",), force=True, frame=2)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert len(calls) >= 3
    # the old files back, and no manifest describing a set that is not there
    assert set(after) == set(before) - {MANIFEST}
    for name, data in after.items():
        assert data == before[name], name


def test_manifest_is_written_last_and_verifies(app, tmp_path):
    run(tmp_path, formats=("png", "csv", "svg"), names=("gradients",))
    m = json.loads((tmp_path / MANIFEST).read_text())
    assert all(len(f["sha256"]) == 64 for f in m["files"])
    assert verify_manifest(tmp_path) == []
    (tmp_path / "gradients.csv").write_text("changed")
    assert verify_manifest(tmp_path) == [f"{tmp_path / 'gradients.csv'}: not the file the "
                                         "manifest describes"]


def test_files_are_ordinary_0644(app, tmp_path):
    run(tmp_path, formats=("png", "csv", "svg", "pdf"), names=("gradients",))
    want = 0o666 & ~umask()
    for p in tmp_path.iterdir():
        assert p.stat().st_mode & 0o777 == want, p


def test_stale_temporaries_are_swept(app, tmp_path):
    dead = tmp_path / ".gradients.png.999999999-abcd.tmp"
    old = tmp_path / ".gradients.csv.k3j2h1.tmp"  # an older writer's (no PID)
    mine = tmp_path / f".gradients.svg.{os.getpid()}-live.tmp"  # a live writer's
    for p in (dead, old, mine):
        p.write_bytes(b"x" * 100)
    run(tmp_path, formats=("png", "csv"), names=("gradients",))
    assert not dead.exists() and not old.exists()
    assert mine.exists()


# -- signals ------------------------------------------------------------------------------
def _slow_config(tmp_path) -> Path:
    path = tmp_path / "slow.toml"
    path.write_text("seq_len = 60\nhidden_size = 8\nmodels = [\"rnn\", \"lstm\"]\n")
    return path


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_export_exits_130_with_nothing_written(tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmviz", "export", "--config", str(_slow_config(tmp_path)),
         "--out", str(out), "--format", "png,svg,gif", "--panels", "all", "--stride", "1"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stderr.readline()  # the first progress line: rendering the animation
    assert "animation" in line, line
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "cancelled; nothing written" in err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []


def test_a_kill_during_a_deck_leaves_no_file_under_a_final_name(tmp_path):
    from lstmviz.export.deck import deck_files
    from lstmviz.walkthrough import find_walkthrough, load_walkthrough

    path = find_walkthrough("vanishing")
    finals = set(deck_files(path.stem, len(load_walkthrough(path).steps), ("pdf", "png")))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstmviz", "export", "--walkthrough", "vanishing",
         "--all-steps", "--format", "pdf,png", "--out", str(tmp_path)],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    while True:
        line = proc.stderr.readline()
        assert line, "the deck export ended before a step was rendered"
        if "deck: step 2/" in line or "deck: step 3/" in line:
            break
    proc.kill()
    proc.wait(timeout=30)
    assert not {p.name for p in tmp_path.iterdir()} & finals
    # the next export sweeps the dead writer's temporaries
    cli("--walkthrough", "vanishing", "--all-steps", "--format", "pdf", "--out", tmp_path,
        "--quiet", check=0)
    assert {p.name for p in tmp_path.iterdir()} == {f"{path.stem}.pdf",
                                                   f"{path.stem}_deck.json"}


def test_progress_is_plain_lines_when_not_a_terminal():
    from lstmviz.cli.export import _progress_line

    stream = io.StringIO()
    show = _progress_line(stream=stream)
    for i in range(101):
        show(i, 100)
    show.end()
    text = stream.getvalue()
    assert "\r" not in text
    assert 5 <= len(text.splitlines()) <= 11


# -- the deck -----------------------------------------------------------------------------
def test_the_deck_of_a_built_in_walkthrough_has_a_page_per_step(app, tmp_path):
    from lstmviz.ui.export.deck import export_deck
    from lstmviz.walkthrough import find_walkthrough, load_walkthrough

    path = find_walkthrough("vanishing")
    wt = load_walkthrough(path)
    paths = export_deck(wt, path.stem, tmp_path, ("pdf", "png"))
    assert len(paths) == 1 + len(wt.steps) + 1
    pages, text = pdf_text(tmp_path / f"{path.stem}.pdf")
    assert pages == len(wt.steps)
    assert "Checked on this run" in text and "✓" in text
    assert "{" not in text  # every placeholder rendered
    image = qimage(tmp_path / f"{path.stem}_step_01.png")
    assert (image.width(), image.height()) == (1920, 1080)
    import pypdf

    box = pypdf.PdfReader(str(tmp_path / f"{path.stem}.pdf")).pages[0].mediabox
    assert abs(float(box.width) / float(box.height) - 16 / 9) < 1e-3


def test_deck_from_the_cli(tmp_path):
    proc = cli("--walkthrough", "bptt", "--all-steps", "--format", "pdf", "--out", tmp_path,
               check=0)
    assert proc.stdout.strip().splitlines()[0].endswith("01_bptt.pdf")
    proc = cli("--walkthrough", "bptt", "--all-steps", "--format", "svg", "--out", tmp_path,
               check=2)
    assert "not for a deck" in proc.stderr


# -- the dialog and the command line alike --------------------------------------------------
@pytest.fixture
def window(make_window):
    w = make_window(SMALL, theme="dark")
    w.session.to_end()
    return w


def test_dialog_and_cli_write_byte_identical_pngs(window, tmp_path):
    from lstmviz.ui.export.dialog import ExportOptions, export_items, targets

    (tmp_path / "dialog").mkdir()
    (tmp_path / "cli").mkdir()
    export_items(window, targets(window, "gradients"),
                 ExportOptions(fmt="png", theme="light", path=str(tmp_path / "dialog" /
                                                                  "gradients.png")))
    run(tmp_path / "cli", SMALL, formats=("png",), frame=window.session.cursor)
    ours = (tmp_path / "dialog" / "gradients.png").read_bytes()
    assert ours == (tmp_path / "cli" / "gradients.png").read_bytes()
    assert window.theme.name == "dark"


def test_dialog_multi_view_asks_before_overwriting(window, tmp_path, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from lstmviz.ui.export.dialog import ExportDialog

    (tmp_path / "gradients.png").write_text("mine")
    answers = []

    def ask(*a, **k):
        answers.append(a[2])
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", ask)
    dialog = ExportDialog(window, "panels")
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("png"))
    dialog.path.setText(str(tmp_path))
    dialog.accept()
    assert answers and "gradients.png" in answers[0]
    assert (tmp_path / "gradients.png").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradients.png"]
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    dialog.accept()
    window._export_job.wait()  # the export runs in the event loop's turns
    assert (tmp_path / "gradients.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / MANIFEST).exists()


def test_dialog_failing_part_way_leaves_nothing(window, tmp_path, monkeypatch):
    import lstmviz.ui.export.writer as writer
    from lstmviz.ui.export.dialog import ExportOptions, export_items, targets

    real = writer.render_view
    calls = []

    def fail_on_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(writer, "render_view", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        export_items(window, targets(window, "panels"),
                     ExportOptions(fmt="png", path=str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


def test_export_as_slides_from_the_menu(window, tmp_path, qtbot):
    from lstmviz.ui.export.dialog import export_slides
    from lstmviz.walkthrough import find_walkthrough, load_walkthrough

    assert "slides" in window.export_actions
    wt = load_walkthrough(find_walkthrough("bptt"))
    job = export_slides(window, wt, tmp_path, ("pdf",), progress=True)
    with qtbot.waitSignal(job.finished, timeout=120000) as blocker:
        pass
    assert [Path(p).name for p in blocker.args[0]] == ["01_bptt.pdf", "01_bptt_deck.json"]
    pages, _text = pdf_text(tmp_path / "01_bptt.pdf")
    assert pages == len(wt.steps)


def test_cancelled_slides_leave_nothing(window, tmp_path, qtbot):
    from lstmviz.ui.export.dialog import export_slides
    from lstmviz.walkthrough import find_walkthrough, load_walkthrough

    wt = load_walkthrough(find_walkthrough("vanishing"))
    job = export_slides(window, wt, tmp_path, ("pdf", "png"))
    qtbot.waitUntil(lambda: job.k >= 1, timeout=60000)
    with qtbot.waitSignal(job.finished) as blocker:
        job.dialog.canceled.emit()
    assert blocker.args == [[]]
    assert list(tmp_path.iterdir()) == []


# -- checks before any work -----------------------------------------------------------------
def test_bad_numbers_fail_before_rendering(tmp_path):
    start = time.monotonic()
    proc = cli("--format", "gif", "--fps", "nan", "--out", tmp_path, check=2)
    assert "--fps: nan is out of range" in proc.stderr
    assert time.monotonic() - start < 20 and list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match="--preset: unknown preset 'poster'"):
        destination(ExportRequest(out_dir=tmp_path, preset="poster"))


def test_import_contracts_hold():
    proc = subprocess.run(["lint-imports"], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-2000:]
    for name in ("Export planning imports no ui, Qt or pyqtgraph",
                 "Panels are independent of each other",
                 "Layers: cli > ui > export > walkthrough | session > config > engine"):
        assert name in proc.stdout



def test_the_gif_shows_the_whole_sequence_at_the_requested_size(app, tmp_path):
    from PIL import Image

    config = Config(models=("rnn", "lstm"), seq_len=30, hidden_size=4)
    run(tmp_path, config, formats=("gif",), names=(), size=(800, 450), stride=10)
    with Image.open(tmp_path / "animation.gif") as gif:
        assert gif.size == (800, 450)
    from lstmviz.ui.export.scene import HeadlessScene

    dest = destination(ExportRequest(out_dir=tmp_path, size=(800, 450)))
    scene = HeadlessScene(Session(config), ["unrolled"], destination=dest)
    try:
        figure = scene.widgets["unrolled"]
        assert figure.k >= 2  # 30 steps wrap into strips on a 16:9 figure
        for view in figure.views[: figure.k]:
            assert not view.horizontalScrollBar().isVisible()
            # each strip shows its whole stretch: nothing left to scroll to
            assert view.horizontalScrollBar().maximum() <= view.horizontalScrollBar().minimum() + 1
    finally:
        scene.close()
