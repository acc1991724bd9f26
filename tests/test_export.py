"""lstmviz.export, lstmviz.ui.export and lstmviz.ui.render: PNG sizes and content, themes,
CSV against the engine, SVG (both writers), GIF frames, errors that leave nothing behind,
the manifest."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from lstmviz.config import Config
from lstmviz.export import (
    GIF_NAME,
    MANIFEST,
    Cancelled,
    ExportError,
    ExportRequest,
    csv_bytes,
    gif_frames,
    parse_formats,
    parse_names,
    read_csv,
)
from lstmviz.session import Session
from lstmviz.ui.export.writer import run_export as export

SMALL = Config(models=("rnn", "lstm", "gru"), seq_len=6, hidden_size=4)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def app(qapp):
    return qapp


def run(tmp_path, config=SMALL, **kw):
    from lstmviz.cli.export import _window_factory
    from lstmviz.ui.main_window import MainWindow

    kw.setdefault("names", ("gradients",))
    request = ExportRequest(out_dir=tmp_path, **kw)
    return export(config, request, window=_window_factory(MainWindow, request.theme))


def qimage(path):
    from PySide6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), path
    return image


def pixels(image) -> np.ndarray:
    """(H, W, 4) uint8 BGRA array of a QImage."""
    from PySide6.QtGui import QImage

    img = image.convertToFormat(QImage.Format.Format_ARGB32)
    raw = np.frombuffer(bytes(img.constBits()), np.uint8)
    return raw.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width()]


def lightness(px) -> float:
    b, g, r = (float(v) for v in px[:3])
    return (max(r, g, b) + min(r, g, b)) / 2


def assert_not_blank(image, min_fraction=0.01):
    a = pixels(image)
    colours = np.unique(a.reshape(-1, 4), axis=0)
    assert len(colours) > 1
    corner = a[2, 2]
    other = np.any(a != corner, axis=-1).mean()
    assert other > min_fraction, f"only {other:.3%} of pixels differ from the background"


# -- PNG ---------------------------------------------------------------------------------
@pytest.mark.parametrize("width", [1920, 800])
def test_png_has_the_requested_width_and_content(app, tmp_path, width):
    run(tmp_path, formats=("png",), width=width)
    image = qimage(tmp_path / "gradients.png")
    assert image.width() == width
    assert 0.3 < image.height() / image.width() < 1.0
    assert_not_blank(image)


def test_every_view_renders_at_1920(app, tmp_path):
    names = ("gradients", "jacobians", "forget", "gates", "cellstate", "inspector", "unrolled",
             "window")
    run(tmp_path, formats=("png",), names=names, width=1920)
    for name in names:
        image = qimage(tmp_path / f"{name}.png")
        assert image.width() == 1920, name
        assert_not_blank(image)


@pytest.mark.parametrize(("theme", "light"), [("light", True), ("dark", False)])
def test_theme_background(app, tmp_path, theme, light):
    run(tmp_path, formats=("png",), names=("gradients", "unrolled"), theme=theme, width=600)
    for name in ("gradients", "unrolled"):
        corner = pixels(qimage(tmp_path / f"{name}.png"))[1, 1]
        if light:
            assert lightness(corner) > 200, (name, corner)
        else:
            assert lightness(corner) < 80, (name, corner)


def test_transparent_png_has_a_clear_background(app, tmp_path):
    run(tmp_path, formats=("png",), transparent=True, width=600)
    a = pixels(qimage(tmp_path / "gradients.png"))
    assert a[1, 1, 3] == 0
    assert (a[..., 3] > 0).mean() > 0.01  # the curves and labels are there


def test_render_is_what_the_panel_shows(app, qtbot):
    """The rendered image is the panel's own grab, scaled: same picture at 1x."""
    from lstmviz.ui.export.scene import HeadlessScene
    from lstmviz.ui.render import render_image

    scene = HeadlessScene(Session(SMALL), ["gradients"])
    try:
        widget = scene.widgets["gradients"]
        ours = pixels(render_image(widget, width=widget.width()))
        grab = widget.grab().toImage()
        theirs = pixels(grab.scaled(widget.width(), widget.height()))
        assert ours.shape == theirs.shape
        assert (np.abs(ours.astype(int) - theirs.astype(int)).max(axis=-1) > 40).mean() < 0.02
    finally:
        scene.close()


# -- CSV ---------------------------------------------------------------------------------
def test_csv_columns_equal_the_engine(app, tmp_path):
    session = Session(SMALL)
    run(tmp_path, formats=("csv",), names=("gradients", "jacobians"), frame=0)
    cols = read_csv(tmp_path / "gradients.csv")
    np.testing.assert_array_equal(cols["t"], np.arange(1, 7))
    for kind in SMALL.models:
        d = session.runs[kind].diagnostics
        # the whole run, even though frame 0 shows no gradient yet
        np.testing.assert_array_equal(cols[f"{kind} ||dL/dh_t||"], d.grad_h_norm)
    lstm = session.runs["lstm"].diagnostics
    np.testing.assert_array_equal(cols["lstm ||dL/dc_t||"], lstm.grad_c_norm)
    jac = read_csv(tmp_path / "jacobians.csv")
    np.testing.assert_array_equal(jac["rnn ||dh_T/dh_t||_2"],
                                  session.runs["rnn"].diagnostics.jac_prod_norm)
    first = (tmp_path / "gradients.csv").read_text().splitlines()[0]
    assert first.startswith("#") and "independent of the frame" in first
    for kind in SMALL.models:
        d = session.runs[kind].diagnostics
        np.testing.assert_array_equal(cols[f"{kind} log10 ||dL/dh_t||"], d.log10_grad_h)
        np.testing.assert_array_equal(jac[f"{kind} log10 ||dh_T/dh_t||_2"], d.log10_jac_prod)
        np.testing.assert_array_equal(jac[f"{kind} log10 ||dL/dW_hh term t||"], d.log10_whh)
    np.testing.assert_array_equal(cols["lstm log10 ||dL/dc_t||"], lstm.log10_grad_c)
    # t is an integer column: "1", not "1.0"
    rows = (tmp_path / "gradients.csv").read_text().splitlines()
    assert rows[2].split(",")[0] == "1" and rows[-1].split(",")[0] == "6"


def test_columns_md_documents_every_column_written(app, tmp_path):
    from lstmviz.columns import data_markdown, describe

    names = ("gradients", "jacobians", "gates", "forget", "cellstate", "inspector")
    run(tmp_path, formats=("csv",), names=names, frame=-1)
    text = (tmp_path / "columns.md").read_text()
    assert "(undocumented)" not in text
    for name in names:
        header = next(line for line in (tmp_path / f"{name}.csv").read_text().splitlines()
                      if not line.startswith("#"))
        for col in read_csv(tmp_path / f"{name}.csv"):
            assert describe(col, f"{name}.csv") is not None, (name, col)
            assert f"| `{col}` |" in text
        assert f"## {name}.csv" in text and header
    assert "1-based" in text and "0-based" in text and "1/(B O)" in text
    m = json.loads((tmp_path / MANIFEST).read_text())
    session = Session(SMALL)
    for kind, run_ in session.runs.items():
        assert m["models"][kind]["sigma_max"] == run_.diagnostics.sigma_max
    assert m["models"]["rnn"]["gamma"] == 1.0 and m["models"]["lstm"]["gamma"] is None
    # the docs page is generated from the same table
    doc = Path(__file__).resolve().parent.parent / "docs" / "DATA.md"
    assert doc.read_text(encoding="utf-8") == data_markdown()


def test_nonfinite_forward_run_has_nan_not_0_in_every_dependent_column(app, tmp_path):
    """relu, weight scale 10, T = 320, H = 2 (orthogonal init): the forward pass stops being
    finite at t = 312; every gradient and Jacobian-product column is NaN, never a silent 0."""
    config = Config(models=("rnn",), activation="relu", init="orthogonal", weight_scale=10.0,
                    seq_len=320, hidden_size=2)
    session = Session(config)
    k = session.runs["rnn"].trace.overflow_step
    assert k is not None
    run(tmp_path, config, formats=("csv",), names=("gradients", "jacobians"))
    g = read_csv(tmp_path / "gradients.csv")
    j = read_csv(tmp_path / "jacobians.csv")
    for name in ("rnn ||dL/dh_t||", "rnn log10 ||dL/dh_t||"):
        assert np.all(np.isnan(g[name])), name
    for name in ("rnn ||dL/dW_hh term t||", "rnn log10 ||dL/dW_hh term t||"):
        assert np.all(np.isnan(j[name])), name
    for name in ("rnn ||dh_T/dh_t||_2", "rnn log10 ||dh_T/dh_t||_2"):
        assert np.all(np.isnan(j[name][:-1])), name  # dh_T/dh_T = I depends on nothing
    for name in ("rnn ||dh_t/dh_t-1||_2", "rnn log10 ||dh_t/dh_t-1||_2"):
        assert np.all(np.isnan(j[name][k + 1:])), name  # steps fed a non-finite state
        assert np.all(np.isfinite(j[name][:k])), name
    assert not np.any(g["rnn ||dL/dh_t||"] == 0) and not np.any(j["rnn ||dh_T/dh_t||_2"] == 0)


def test_csv_bytes_round_trip_with_inf_nan_and_quotes(tmp_path):
    cols = {"t": np.arange(3.0), 'a, "b"': np.array([1e-300, np.inf, np.nan]),
            "short": np.array([2.0])}
    (tmp_path / "x.csv").write_bytes(csv_bytes(cols, "note"))
    back = read_csv(tmp_path / "x.csv")
    assert list(back) == list(cols)
    np.testing.assert_array_equal(back['a, "b"'], cols['a, "b"'])
    assert back["short"][0] == 2.0 and np.isnan(back["short"][1:]).all()


# -- SVG ---------------------------------------------------------------------------------
def svg_checks(path, label="timestep t"):
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    shapes = [e for e in root.iter() if e.tag in (f"{SVG}path", f"{SVG}polyline")]
    assert shapes, "no vector paths"
    texts = " ".join("".join(e.itertext()) for e in root.iter(f"{SVG}text"))
    assert label in texts, texts[:300]
    return root


def test_svg_with_pyqtgraph(app, tmp_path, monkeypatch):
    import lstmviz.ui.render as render

    used = []
    real = render.svg_with_pyqtgraph
    monkeypatch.setattr(render, "svg_with_pyqtgraph",
                        lambda *a, **k: used.append("pg") or real(*a, **k))
    monkeypatch.setattr(render, "svg_with_qt", lambda *a, **k: pytest.fail("fell back"))
    run(tmp_path, formats=("svg",), names=("gradients", "cellstate"))
    assert used == ["pg", "pg"]
    svg_checks(tmp_path / "gradients.svg")
    svg_checks(tmp_path / "cellstate.svg")


def test_svg_falls_back_to_qsvggenerator(app, tmp_path, monkeypatch):
    """pyqtgraph 0.14's SVGExporter raises on PySide6 >= 6.11: the Qt writer takes over."""
    import importlib

    svgexp = importlib.import_module("pyqtgraph.exporters.SVGExporter")  # the module

    def broken(*_a, **_k):
        raise ValueError("correctCoordinates: simulated PySide6 6.11 failure")

    monkeypatch.setattr(svgexp, "correctCoordinates", broken)
    run(tmp_path, formats=("svg",), names=("gradients", "gates", "unrolled"))
    root = svg_checks(tmp_path / "gradients.svg")
    assert "Exported by lstmviz" in ET.tostring(root, encoding="unicode")
    svg_checks(tmp_path / "gates.svg")
    svg_checks(tmp_path / "unrolled.svg", label="RNN")


def test_svg_renders_to_a_picture(app, tmp_path):
    from lstmviz.ui.render import svg_to_image

    run(tmp_path, formats=("svg",))
    image = svg_to_image((tmp_path / "gradients.svg").read_bytes(), 800)
    assert image.width() == 800
    assert_not_blank(image)


# -- GIF ---------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["unrolled", "gradients"])
def test_gif_has_one_frame_per_run_frame(app, tmp_path, target):
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    run(tmp_path, formats=("gif",), names=(), gif_target=target, width=320, fps=5,
        frames_dir=frames)
    with Image.open(tmp_path / GIF_NAME) as gif:
        assert gif.n_frames == 2 * SMALL.seq_len + 1
        assert gif.size[0] == 320
        assert gif.info["duration"] == 200
    assert len(list(frames.glob("frame_*.png"))) == 2 * SMALL.seq_len + 1
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert manifest["files"][0]["frames"] == 13


def test_gif_stride_and_cap():
    assert gif_frames(13, 1) == list(range(13))
    assert gif_frames(13, 5) == [0, 5, 10, 12]
    idx = gif_frames(2001, None)
    assert len(idx) <= 401 and idx[0] == 0 and idx[-1] == 2000


def test_cancelled_animation_leaves_no_file(app, tmp_path):
    seen = []

    def progress(done, total):
        seen.append(done)
        return done < 4

    request = ExportRequest(out_dir=tmp_path, formats=("png", "gif"), names=("gradients",),
                            width=200)
    with pytest.raises(Cancelled):
        export(SMALL, request, progress=progress)
    assert seen[-1] == 4
    assert list(tmp_path.iterdir()) == []


# -- errors and the manifest ---------------------------------------------------------------
def test_missing_folder(app, tmp_path):
    with pytest.raises(ExportError, match="no such folder"):
        run(tmp_path / "nope", formats=("png",))
    assert list(tmp_path.iterdir()) == []


def test_existing_file_needs_force(app, tmp_path):
    (tmp_path / "gradients.csv").write_text("mine")
    with pytest.raises(ExportError, match="exists.*--force"):
        run(tmp_path, formats=("png", "csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradients.csv"]
    assert (tmp_path / "gradients.csv").read_text() == "mine"
    run(tmp_path, formats=("png", "csv"), force=True)
    assert (tmp_path / "gradients.csv").read_text() != "mine"


def test_failure_midway_leaves_no_partial_files(app, tmp_path, monkeypatch):
    import lstmviz.ui.export.writer as writer

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "render_svg", boom)
    with pytest.raises(OSError, match="disk full"):
        run(tmp_path, formats=("png", "csv", "svg"))
    assert list(tmp_path.iterdir()) == []


def test_names_and_formats():
    valid = ["gradients", "unrolled"]
    assert parse_names("gradients, unrolled", valid, []) == ("gradients", "unrolled")
    assert parse_names("all", valid, []) == tuple(valid)
    with pytest.raises(ExportError, match="unknown panel 'grads'; valid names are gradients"):
        parse_names("grads", valid, [])
    assert parse_formats("PNG,svg,png") == ("png", "svg")
    with pytest.raises(ExportError, match="unknown format 'jpg'"):
        parse_formats("png,jpg")


def test_manifest_lists_the_files(app, tmp_path):
    paths = run(tmp_path, formats=("png", "csv"), names=("gradients", "unrolled"), frame=3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["gradients.png", "gradients.csv", "unrolled.png", "columns.md",
                            MANIFEST])
    assert sorted(p.name for p in paths) == names
    m = json.loads((tmp_path / MANIFEST).read_text())
    assert [f["file"] for f in m["files"]] == ["gradients.png", "gradients.csv",
                                               "unrolled.png", "columns.md"]
    assert m["config"] == SMALL.to_dict()
    assert m["frame"]["index"] == 3 and m["frame"]["phase"] == "forward"
    assert {"lstmviz", "PySide6", "pyqtgraph", "numpy"} <= set(m["versions"])
    assert m["files"][0]["width"] == 1920
