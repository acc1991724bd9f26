"""Images and data out: PNG, SVG and CSV per view, an animated GIF of a run, a manifest.

Files have predictable names in one folder: `<view>.png`, `<view>.svg`, `<view>.csv`
(view = a panel name, `unrolled` or `window`), `animation.gif` and `manifest.json`, which
lists what was written with the configuration, frame and versions that produced it.

Nothing is half-written: every file goes to a temporary name in the output folder and is
renamed into place only when all of them are ready; an error or a cancelled animation
removes the temporaries. Qt is used only through `lstmviz.ui.render` (imported lazily).

CSV holds the numbers of the whole run (all frames computed), independent of the frame
shown in the images, except the inspector's, which describes the cell inspected at that
frame; the first line of each CSV says so.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import platform
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import lstmviz
from lstmviz.columns import COLUMNS_FILE, columns_markdown
from lstmviz.config import Config

FORMATS = ("png", "svg", "csv", "gif")
IMAGE_FORMATS = ("png", "svg")
#: Views that plot no numbers of their own (no CSV): the network drawing, the window.
NO_DATA = ("unrolled", "window")
GIF_NAME = "animation.gif"
MANIFEST = "manifest.json"
DEFAULT_WIDTH = 1920
DEFAULT_GIF_WIDTH = 960
#: An animation keeps at most this many frames unless a --stride is given.
MAX_GIF_FRAMES = 400

#: Called with (done, total); returning False cancels.
Progress = Callable[[int, int], bool | None]


class ExportError(ValueError):
    """A request that cannot be exported (bad name, folder, format): one-line message."""


class Cancelled(Exception):  # noqa: N818 - a normal outcome, not an error
    """The user cancelled a long export; nothing was written."""


@dataclass
class ExportRequest:
    out_dir: Path
    formats: tuple[str, ...] = ("png", "csv")
    names: tuple[str, ...] = ()  # views; empty: every panel and the unrolled network
    width: int | None = None
    theme: str = "light"
    force: bool = False
    frame: int | None = None  # None: the last frame (the whole backward pass shown)
    fps: float = 10.0
    gif_target: str = "unrolled"
    stride: int | None = None
    frames_dir: Path | None = None
    transparent: bool = False
    source: dict[str, Any] = field(default_factory=dict)  # config file / walkthrough step


# -- names and checks ---------------------------------------------------------------------
def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text)]
    items = [f for f in items if f]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise ExportError(f"--format: unknown format {bad[0] if bad else text!r}; "
                          f"choose from {','.join(FORMATS)}")
    return tuple(dict.fromkeys(items))


def parse_names(text: str | Iterable[str] | None, valid: list[str],
                default: list[str]) -> tuple[str, ...]:
    if text is None:
        return tuple(default)
    items = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    items = [n for n in items if n]
    if items == ["all"]:
        return tuple(valid)
    for n in items:
        if n not in valid:
            raise ExportError(f"--panels: unknown panel {n!r}; valid names are "
                              f"{', '.join(valid)} (or all)")
    if not items:
        raise ExportError(f"--panels: name at least one of {', '.join(valid)}")
    return tuple(dict.fromkeys(items))


def planned_files(request: ExportRequest) -> list[str]:
    """File names the request will write, in order (manifest last)."""
    names = [f"{n}.{fmt}" for n in request.names for fmt in request.formats
             if fmt in IMAGE_FORMATS or (fmt == "csv" and n not in NO_DATA)]
    if "gif" in request.formats:
        names.append(GIF_NAME)
    if any(n.endswith(".csv") for n in names):
        names.append(COLUMNS_FILE)
    return [*names, MANIFEST]


def check_out_dir(out_dir: Path, files: list[str], force: bool) -> None:
    """A usable folder and, without `force`, no file that would be overwritten."""
    if not out_dir.exists():
        raise ExportError(f"--out: {out_dir}: no such folder")
    if not out_dir.is_dir():
        raise ExportError(f"--out: {out_dir}: not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lstmviz-probe-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ExportError(f"--out: {out_dir}: cannot write there "
                          f"({exc.strerror or exc})") from None
    if not force:
        existing = [f for f in files if (out_dir / f).exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise ExportError(f"{out_dir / existing[0]} exists{more}; use --force to overwrite")


def gif_frames(n_frames: int, stride: int | None) -> list[int]:
    """Frame indices of an animation: every `stride`-th and always the last; without a
    stride, all of them up to MAX_GIF_FRAMES, else an even stride that fits."""
    if stride is None:
        stride = max(1, math.ceil(n_frames / MAX_GIF_FRAMES))
    if stride < 1:
        raise ExportError(f"--stride: {stride} must be at least 1")
    idx = list(range(0, n_frames, stride))
    if idx[-1] != n_frames - 1:
        idx.append(n_frames - 1)
    return idx


# -- staged, atomic writing ---------------------------------------------------------------
@functools.cache
def _umask() -> int:
    mask = os.umask(0)  # read once: the only way to read it is to set it
    os.umask(mask)
    return mask


class Staging:
    """Temporary files beside their final names; `commit` renames them all into place,
    `discard` (or an exception inside `with`) removes them."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.pending: list[tuple[Path, Path]] = []

    def path_for(self, name: str) -> Path:
        """A fresh temporary path in the output folder that will become `name`."""
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.out_dir)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; exports are ordinary files
        self.pending.append((Path(tmp), self.out_dir / name))
        return Path(tmp)

    def write(self, name: str, data: bytes) -> None:
        self.path_for(name).write_bytes(data)

    def commit(self) -> list[Path]:
        done = []
        for tmp, final in self.pending:
            os.replace(tmp, final)
            done.append(final)
        self.pending = []
        return done

    def discard(self) -> None:
        for tmp, _final in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending = []

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()


# -- CSV ----------------------------------------------------------------------------------
def _cell(value: float) -> str:
    if isinstance(value, int | np.integer):
        return str(int(value))
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def _column(name: str, values) -> np.ndarray:
    a = np.asarray(values).ravel()
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    a = a.astype(float)
    if name == "t" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        return a.astype(np.int64)
    return a


def _quote(name: str) -> str:
    if any(c in name for c in ',"\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


def csv_bytes(columns: Mapping[str, np.ndarray], note: str = "") -> bytes:
    """Columns as CSV: an optional '# note' line, a header of names (with units), then rows.

    Shorter columns are padded with empty cells; values round-trip exactly (repr). Integer
    columns, and the step column `t` (1-based), are written as integers ("3", not "3.0").
    """
    cols = {k: _column(k, v) for k, v in columns.items()}
    out = io.StringIO()
    if note:
        out.write(f"# {note}\n")
    out.write(",".join(_quote(k) for k in cols) + "\n")
    n = max((len(v) for v in cols.values()), default=0)
    for i in range(n):
        out.write(",".join(_cell(v[i]) if i < len(v) else "" for v in cols.values()) + "\n")
    return out.getvalue().encode("utf-8")


def read_csv(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read back a CSV written by `csv_bytes` (for tests and scripts)."""
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.reader(line for line in fh if not line.startswith("#"))]
    header, body = rows[0], rows[1:]
    return {name: np.array([float(r[j]) if r[j] else np.nan for r in body])
            for j, name in enumerate(header)}


def csv_note(name: str, frame_label: str) -> str:
    if name == "inspector":
        return (f"lstmviz {name}: per-unit values of the cell inspected at frame "
                f"'{frame_label}'")
    return (f"lstmviz {name}: the whole run's numbers (all frames computed), independent of "
            f"the frame shown in the images ({frame_label})")


# -- GIF ----------------------------------------------------------------------------------
def write_gif(frames: Iterable[Any], path: Path, fps: float) -> int:
    """Save PIL images as a looping GIF at `fps`; returns the number of frames."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ExportError("animation: no frames to write")
    rest = list(frames)
    duration = max(20, round(1000 / max(fps, 0.1)))
    first.save(path, format="GIF", save_all=True, append_images=rest, duration=duration,
               loop=0, optimize=False, disposal=1)
    return 1 + len(rest)


# -- manifest -----------------------------------------------------------------------------
def versions() -> dict[str, str]:
    out = {"lstmviz": lstmviz.__version__, "python": platform.python_version(),
           "numpy": np.__version__}
    try:
        import pyqtgraph
        import PySide6

        out["PySide6"] = PySide6.__version__
        out["pyqtgraph"] = pyqtgraph.__version__
    except ImportError:  # pragma: no cover
        pass
    try:
        import PIL

        out["Pillow"] = PIL.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def manifest_bytes(config: Config, request: ExportRequest, frame, files: list[dict],
                   extra: dict | None = None) -> bytes:
    data = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "source": request.source,
        "frame": {"index": frame.index, "phase": frame.phase, "t": frame.t,
                  "label": frame.label, "of": 2 * config.seq_len + 1},
        "theme": request.theme,
        "transparent": request.transparent,
        "csv": "whole-run numbers, independent of the frame (inspector: the cell at the frame)",
        "files": files,
        "versions": versions(),
    }
    if extra:
        data.update(extra)
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def model_scalars(session) -> dict[str, dict]:
    """Per model: sigma_max of W_hh (rnn), of its largest H x H gate block (lstm, gru,
    slstm), max |u| (indrnn) or max |lambda| (lru), null with sigma_note where there is none
    (mingru, minlstm); gamma = sup|phi'| and the bound sigma_max * gamma where it applies
    (cells bound_applies; null otherwise, bound_note says why), overflow_t: the 1-based step
    where a value first stops being finite in float64 (null: never)."""
    from lstmviz.engine.activations import GAMMA

    out = {}
    for kind, run in session.runs.items():
        d = run.diagnostics
        spec = run.model.cell
        bound = spec.bound_applies
        of = ("W_hh" if bound else "the largest H x H gate block of W_hh"
              if spec.recurrent == "dense" else "the largest |entry| of the diagonal recurrence")
        sigma = float(d.sigma_max)
        out[kind] = {
            "label": run.label,
            "sigma_max": sigma if math.isfinite(sigma) else None,
            "sigma_max_of": of if math.isfinite(sigma) else None,
            "sigma_note": d.sigma_note or None,
            "gamma": GAMMA[run.model.activation] if bound else None,
            "rnn_bound": None if d.rnn_bound is None else float(d.rnn_bound),
            "bound_note": d.bound_note or None,
            "overflow_t": None if run.overflow_step is None else run.overflow_step + 1,
        }
    return out


# -- the whole export ---------------------------------------------------------------------
def default_names() -> list[str]:
    from lstmviz.ui.render import target_names

    return [n for n in target_names() if n != "window"]


def export(config: Config, request: ExportRequest, *, session=None,
           progress: Progress | None = None) -> list[Path]:
    """Render and write everything `request` asks for; returns the written paths.

    Raises ExportError for a bad request (before anything is written) and Cancelled when
    `progress` returns False (nothing is written). Needs a QApplication.
    """
    from lstmviz.session import Session
    from lstmviz.ui.render import HeadlessScene, png_bytes, render_image, render_svg

    files = planned_files(request)
    check_out_dir(request.out_dir, files, request.force)
    if request.frames_dir is not None:
        check_out_dir(request.frames_dir, [], True)
    session = session or Session(config)
    last = session.n_frames - 1
    frame_index = last if request.frame is None else request.frame
    if not -session.n_frames <= frame_index <= last:
        raise ExportError(f"--frame: {frame_index} is out of range; this run has frames "
                          f"0 to {last}")
    frame_index %= session.n_frames
    gif = "gif" in request.formats
    still = [n for n in request.names if any(f in request.formats for f in ("png", "svg", "csv"))]
    build = list(dict.fromkeys(still + ([request.gif_target] if gif else [])))
    scene = HeadlessScene(session, build, request.theme)
    written: list[dict] = []
    width = request.width or DEFAULT_WIDTH
    encoded: dict[str, Future] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
    try:
        with Staging(request.out_dir) as staging:
            scene.seek(frame_index)
            frame = session.frame
            for name in still:
                widget = scene.widgets[name]
                bg = scene.theme.background
                for fmt in request.formats:
                    if fmt == "png":
                        image = render_image(widget, width=width, background=bg,
                                             transparent=request.transparent)
                        # PNG compression is the slow part: in threads (Qt releases the GIL)
                        encoded[f"{name}.png"] = pool.submit(png_bytes, image)
                        written.append({"file": f"{name}.png", "view": name, "format": "png",
                                        "width": image.width(), "height": image.height()})
                    elif fmt == "svg":
                        title = f"lstmviz {name} — {frame.label}"
                        staging.write(f"{name}.svg", render_svg(
                            widget, title=title, background=bg,
                            transparent=request.transparent))
                        written.append({"file": f"{name}.svg", "view": name, "format": "svg",
                                        "width": widget.width(), "height": widget.height()})
                    elif fmt == "csv" and name not in NO_DATA:
                        cols = scene.columns(name)
                        staging.write(f"{name}.csv", csv_bytes(cols, csv_note(name, frame.label)))
                        written.append({"file": f"{name}.csv", "view": name, "format": "csv",
                                        "columns": list(cols)})
            for file, future in encoded.items():
                staging.write(file, future.result())
            if gif:
                info = _animate(scene, request, staging, progress)
                written.append(info)
                scene.seek(frame_index)
            csvs = {f["file"]: f["columns"] for f in written if f["format"] == "csv"}
            if csvs:  # what every column is, from the one table in lstmviz.columns
                staging.write(COLUMNS_FILE, columns_markdown(csvs).encode("utf-8"))
                written.append({"file": COLUMNS_FILE, "format": "md",
                                "describes": list(csvs)})
            staging.write(MANIFEST, manifest_bytes(config, request, frame, written,
                                                   {"models": model_scalars(session)}))
            paths = staging.commit()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        scene.close()
    return paths


def _animate(scene, request: ExportRequest, staging: Staging,
             progress: Progress | None) -> dict:
    """Render the run frame by frame into a staged GIF (and PNG frames if asked)."""
    from lstmviz.ui.render import png_bytes, progress_strip, qimage_to_pil, render_image

    session = scene.session
    indices = gif_frames(session.n_frames, request.stride)
    widget = scene.widgets[request.gif_target]
    width = request.width or DEFAULT_GIF_WIDTH
    frames_stage = Staging(request.frames_dir) if request.frames_dir is not None else None
    images = []
    try:
        for i, index in enumerate(indices):
            if progress is not None and progress(i, len(indices)) is False:
                raise Cancelled("animation cancelled")
            scene.seek(index)
            image = render_image(widget, width=width, background=scene.theme.background)
            if frames_stage is not None:  # the frames as the app shows them
                frames_stage.write(f"frame_{index:05d}.png", png_bytes(image))
            progress_strip(image, i + 1, len(indices), scene.theme.highlight)
            images.append(qimage_to_pil(image))
        if progress is not None and progress(len(indices), len(indices)) is False:
            raise Cancelled("animation cancelled")
        path = staging.path_for(GIF_NAME)
        n = write_gif(images, path, request.fps)
        if frames_stage is not None:
            frames_stage.commit()
    except BaseException:
        if frames_stage is not None:
            frames_stage.discard()
        raise
    return {"file": GIF_NAME, "view": request.gif_target, "format": "gif", "frames": n,
            "frame_indices": indices if len(indices) < session.n_frames else "all",
            "stride": indices[1] - indices[0] if len(indices) > 1 else 1,
            "fps": request.fps, "width": images[0].width, "height": images[0].height}
