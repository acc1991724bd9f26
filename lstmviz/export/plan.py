"""Images and data out: PNG, SVG and CSV per view, an animated GIF of a run, a manifest.

Files have predictable names in one folder: `<view>.png`, `<view>.svg`, `<view>.csv`
(view = a panel name, `unrolled` or `window`), `animation.gif` and `manifest.json`, which
lists what was written with the configuration, frame and versions that produced it.

manifest.json keys: created, config, source, frame, theme, transparent, csv, files (each:
file, view, format, width/height, sha256; svg/pdf sizes in logical px at 96 per inch),
versions, models, size (width, height, preset, dpi, device_pixel_ratio), cursor, skipped
(view, reason: views that do not apply to the models shown), skipped_subplots (view,
subplot, reason). It is written last; `verify_manifest` checks a folder against it.

This module plans (names, sizes, what applies to the shown models), writes CSV and the
manifest and stages files so that a set is committed all or nothing (`Staging`). It
imports no Qt: rendering is `lstmviz.ui.export` (import-linter checks it).

CSV holds the numbers of the whole run (all frames computed), independent of the frame
shown in the images, except the inspector's, which describes the cell inspected at that
frame; the first line of each CSV says so.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import lstmviz
from lstmviz.columns import COLUMNS_FILE
from lstmviz.config import Config
from lstmviz.engine.files import temp_beside, write_file
from lstmviz.export.applies import GATE_ROLES, skip_reasons, subplot_skips  # noqa: F401
from lstmviz.export.sizes import (  # noqa: F401
    CURVE_PT_ON_PAPER,
    CURVE_PX_AT_1920,
    DEFAULT_PRESET,
    PRESETS,
    SLIDE_LOGICAL_HEIGHT,
    Destination,
    ExportError,
    check_number,
    destination,
    parse_size,
)

FORMATS = ("png", "svg", "pdf", "csv", "gif")
IMAGE_FORMATS = ("png", "svg", "pdf")
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
    size: tuple[int, int] | None = None  # output pixels; None: the preset's
    preset: str = DEFAULT_PRESET
    dpi: float | None = None
    cursor: bool = False  # draw the frame cursor line in the plots
    #: planned file name -> the name actually written (the dialog's single-file save)
    rename: dict[str, str] = field(default_factory=dict)
    manifest: bool = True
    skip_inapplicable: bool = True
    kinds: tuple[str, ...] = ()  # the models shown (for `skipped`); empty: no skipping
    #: the layer of stacked models the one-layer views show (0-based from the bottom;
    #: None: each model's top layer), as the window's layer picker and `--layer`
    layer: int | None = None


# -- names and checks ---------------------------------------------------------------------

def _sha256(data: bytes) -> str:
    """Hex SHA-256 of a written file (hashlib, ~3 ms to import, loads with the first export)."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


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


def shown_views(request: ExportRequest) -> list[str]:
    """The views of `request` that apply to its models (see `skip_reasons`)."""
    skipped = skip_reasons(request.names, request.kinds) if request.skip_inapplicable else {}
    return [n for n in request.names if n not in skipped]


def planned_files(request: ExportRequest) -> list[str]:
    """File names the request will write, in order (manifest last), after `rename`."""
    names = [f"{n}.{fmt}" for n in shown_views(request) for fmt in request.formats
             if fmt in IMAGE_FORMATS or (fmt == "csv" and n not in NO_DATA)]
    if "gif" in request.formats:
        names.append(GIF_NAME)
    if any(n.endswith(".csv") for n in names):
        names.append(COLUMNS_FILE)
    if request.manifest:
        names.append(MANIFEST)
    return [request.rename.get(n, n) for n in names]


def check_out_dir(out_dir: Path, files: list[str], force: bool) -> None:
    """A usable folder; every final name free or an ordinary file that may be replaced
    (a folder or a special file under a final name fails here, before anything is
    written); without `force`, no file that would be overwritten."""
    if not out_dir.exists():
        raise ExportError(f"--out: {out_dir}: no such folder")
    if not out_dir.is_dir():
        raise ExportError(f"--out: {out_dir}: not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lstmviz-probe-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.errno in (errno.ENOENT, errno.EINVAL, errno.EOPNOTSUPP) or str(
                out_dir.resolve()).startswith(("/proc", "/sys")):
            # (ENOENT for a folder that exists: /proc and /sys take no new files)
            why = "it is a system folder that takes no new files (like /proc or /sys)"
        elif exc.errno == errno.EROFS:
            why = "a read-only file system"
        raise ExportError(f"--out: {out_dir}: cannot write there ({why})") from None
    for f in files:
        target = out_dir / f
        if target.is_symlink() and not target.exists():
            continue  # a dangling link is replaced like a file
        if target.exists() and not target.is_file():
            kind = "a folder" if target.is_dir() else "not an ordinary file"
            raise ExportError(f"{target}: is {kind}; the export cannot replace it "
                              "(nothing was written)")
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


# -- staged, all-or-nothing writing ------------------------------------------------------
class Staging:
    """Files staged under temporary names beside their final names, committed as a set.

    `commit` first checks every final name again, then removes the old manifest (so a
    manifest never describes an old run), renames the files into place and the manifest
    last; if a rename fails, the files already replaced are put back from hard-link
    backups. A reader that finds a manifest can check each file against its sha256
    (`verify_manifest`). `discard` (or an exception inside `with`) removes the temporaries.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.pending: list[tuple[Path, Path]] = []

    def path_for(self, name: str) -> Path:
        """A fresh temporary path in the output folder that will become `name`."""
        tmp = temp_beside(self.out_dir / name)
        self.pending.append((tmp, self.out_dir / name))
        return tmp

    def write(self, name: str, data: bytes) -> None:
        write_file(self.path_for(name), data, target=self.out_dir / name)

    def digest(self, name: str) -> str:
        """sha256 of the staged file that will become `name`."""
        for tmp, final in self.pending:
            if final.name == name:
                return _sha256(tmp.read_bytes())
        raise KeyError(name)

    def commit(self) -> list[Path]:
        finals = [final for _tmp, final in self.pending]
        check_out_dir(self.out_dir, [f.name for f in finals], True)
        manifest = [(t, f) for t, f in self.pending if f.name == MANIFEST]
        rest = [(t, f) for t, f in self.pending if f.name != MANIFEST]
        backups: list[tuple[Path, Path | None]] = []  # (final, backup or None: was new)
        try:
            for _tmp, final in manifest:
                final.unlink(missing_ok=True)
            for tmp, final in [*rest, *manifest]:
                backup = None
                if final.exists() and final.name != MANIFEST:
                    backup = temp_beside(final, "old")
                    backup.unlink()
                    try:
                        os.link(final, backup)
                    except OSError:
                        backup = None
                backups.append((final, backup))
                os.replace(tmp, final)
        except BaseException:
            for final, backup in reversed(backups):
                try:
                    if backup is not None:
                        os.replace(backup, final)
                    elif final.exists():
                        final.unlink()
                except OSError:
                    pass  # (the old file stays where it is; the manifest is gone)
                if backup is not None:
                    backup.unlink(missing_ok=True)
            self.discard()
            raise
        for _final, backup in backups:
            if backup is not None:
                backup.unlink(missing_ok=True)
        self.pending = []
        return finals

    def discard(self) -> None:
        for tmp, _final in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending = []

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()


def verify_manifest(folder: str | os.PathLike[str]) -> list[str]:
    """Problems with the set in `folder` (empty: every file the manifest lists is there
    with the sha256 it records)."""
    folder = Path(folder)
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{folder / MANIFEST}: {exc}"]
    out = []
    for entry in data.get("files", []):
        path = folder / entry["file"]
        if not path.is_file():
            out.append(f"{path}: missing")
        elif "sha256" in entry and _sha256(path.read_bytes()) != \
                entry["sha256"]:
            out.append(f"{path}: not the file the manifest describes")
    return out


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
def write_gif(frames: Iterable[Any], path: Path, fps: float, *,
              target: Path | None = None) -> int:
    """Save PIL images as a looping GIF at `fps` (through the one writer; an error names
    `target`, the final name of the temporary `path`); returns the number of frames."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ExportError("animation: no frames to write")
    rest = list(frames)
    duration = max(20, round(1000 / max(fps, 0.1)))
    buf = io.BytesIO()
    first.save(buf, format="GIF", save_all=True, append_images=rest, duration=duration,
               loop=0, optimize=False, disposal=1)
    write_file(path, buf.getvalue(), target=target or path)
    return 1 + len(rest)


# -- manifest -----------------------------------------------------------------------------
def versions() -> dict[str, str]:
    out = {"lstmviz": lstmviz.__version__, "python": platform.python_version(),
           "numpy": np.__version__}
    from importlib.metadata import PackageNotFoundError, version

    for dist, module in (("PySide6", "PySide6"), ("pyqtgraph", "pyqtgraph"),
                         ("Pillow", "PIL")):
        loaded = sys.modules.get(module)  # loaded by the renderer; no Qt import here
        if getattr(loaded, "__version__", None):
            out[dist] = loaded.__version__
            continue
        for name in (dist, f"{dist}_Essentials"):
            try:
                out[dist] = version(name)
                break
            except PackageNotFoundError:
                continue
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
