"""`lstmviz export`: images, data and animations without a window on screen."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lstmviz import views
from lstmviz.cli import UsageError
from lstmviz.config import Config, load_config
from lstmviz.export import (
    DEFAULT_GIF_WIDTH,
    DEFAULT_PRESET,
    FORMATS,
    MAX_GIF_FRAMES,
    PRESETS,
    Cancelled,
    ExportError,
    ExportRequest,
    check_number,
    gif_frames,
    parse_formats,
    parse_names,
    parse_size,
)

#: From lstmviz.views (not the ui package) so `--help` and usage errors stay fast.
VIEWS = list(views.EXPORT_VIEWS)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (lstmviz: error: ...), exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="lstmviz export",
        description="Write the app's plots as PNG/SVG, their numbers as CSV and the run as an "
        "animated GIF, with manifest.json describing what produced them. Shows no window.",
        epilog=f"Views: {', '.join(VIEWS)}. Files: VIEW.png, VIEW.svg, VIEW.pdf, VIEW.csv, "
        "animation.gif, manifest.json (written last; lists each file's sha256, and the "
        "views skipped because they do not apply to the models shown). A walkthrough with "
        "--all-steps: one page per step (pdf: one file, WALKTHROUGH.pdf; png: "
        "step_NN.png). CSV holds the whole run's numbers whatever --frame "
        "(the inspector's: the cell at --frame). Long runs: the GIF keeps at most "
        f"{MAX_GIF_FRAMES} frames (an even stride) unless --stride is given.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", metavar="FILE", help="settings from a TOML file")
    src.add_argument("--walkthrough", metavar="NAME", help="a walkthrough (built-in name or file)")
    src.add_argument("--history", metavar="DIR",
                     help="a training history (lstmviz train --history DIR): writes "
                     "history.csv and history.png (formats csv, png)")
    p.add_argument("--step", type=int, metavar="K", help="walkthrough step (1..N), default 1")
    p.add_argument("--frame", type=int, metavar="N",
                   help="frame shown in the images: 0 .. 2T, negative from the end "
                   "(default: the last, whole backward pass; a walkthrough step: its frame)")
    p.add_argument("--out", required=True, metavar="DIR", help="existing output folder")
    p.add_argument("--format", default="png,csv", metavar="LIST",
                   help=f"comma-separated, of {','.join(FORMATS)} (default png,csv)")
    p.add_argument("--panels", metavar="NAMES",
                   help="comma-separated views, or 'all' (default: every panel and unrolled)")
    p.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS),
                   help="figure size: slide 1920x1080 (default), slide-4:3 1440x1080, square "
                   "1080x1080, paper 3.5 in at 300 dpi (1050x788, 9 pt text)")
    p.add_argument("--size", metavar="WxH", help="figure size in pixels, e.g. 1280x720 "
                   "(overrides --preset)")
    p.add_argument("--dpi", type=float, metavar="N",
                   help="dots per inch of the figure (text size follows: 9 pt is 9 pt)")
    p.add_argument("--width", type=int, metavar="PX",
                   help=f"image width in pixels, 16:9 (older flag: --size; GIF default "
                   f"{DEFAULT_GIF_WIDTH})")
    p.add_argument("--layer", type=int, metavar="K",
                   help="stacked models: the layer the forget-gate, gates, cell-state, "
                   "Jacobians and inspector views show, 1 (the bottom, reading the input) "
                   "to num_layers (the top, default; a walkthrough step: its layer)")
    p.add_argument("--cursor", action="store_true",
                   help="draw the frame's cursor line in the plots (default: none)")
    p.add_argument("--all-steps", action="store_true",
                   help="with --walkthrough: every step, as a deck (--format pdf: one PDF, "
                   "a page per step; png: an image per step)")
    p.add_argument("--theme", choices=["light", "dark"], default="light",
                   help="light (slides, default) or dark (as on screen)")
    p.add_argument("--transparent", action="store_true", help="PNG/SVG without a background")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--fps", type=float, default=10.0, metavar="N", help="GIF frame rate (10)")
    p.add_argument("--gif-target", default="unrolled", metavar="VIEW",
                   help="what the GIF shows: unrolled (default) or a panel name")
    p.add_argument("--stride", type=int, metavar="S", help="GIF: keep every S-th frame")
    p.add_argument("--frames-dir", metavar="DIR", help="GIF: also write each frame as PNG here")
    p.add_argument("--quiet", action="store_true",
                   help="no progress (shown as one updating line on a terminal, as plain "
                   "lines otherwise)")
    return p


def _config_and_frame(args) -> tuple[Config, int | None, dict, int | None]:
    """The config, frame and source of the export, and the layer shown (0-based; None: the
    top): --layer, else the walkthrough step's `layer`."""
    config, frame, source, layer = _source(args)
    if args.layer is not None:
        if not 1 <= args.layer <= config.num_layers:
            raise ExportError(f"--layer: {args.layer} is out of range; the models have "
                              f"{config.num_layers} layer(s): 1 (the bottom) to "
                              f"{config.num_layers} (the top)")
        layer = None if args.layer == config.num_layers else args.layer - 1
    return config, frame, source, layer


def _source(args) -> tuple[Config, int | None, dict, int | None]:
    if args.walkthrough is None:
        if args.step is not None:
            raise UsageError("--step: needs --walkthrough")
        if args.config:
            return (load_config(args.config), args.frame, {"config_file": str(args.config)},
                    None)
        return Config(), args.frame, {}, None
    from lstmviz.session import frame_index
    from lstmviz.walkthrough import find_walkthrough, load_walkthrough

    path = find_walkthrough(args.walkthrough)
    wt = load_walkthrough(path)
    k = 1 if args.step is None else args.step
    if not 1 <= k <= len(wt.steps):
        raise UsageError(f"--step: {k} is out of range; {path.name} has steps 1 to "
                         f"{len(wt.steps)}")
    step = wt.steps[k - 1]
    frame = args.frame
    if frame is None and step.phase is not None:
        frame = frame_index(step.phase, step.t or 1, step.config.seq_len)
    return (step.config, frame, {"walkthrough": str(path), "step": k, "title": step.title},
            step.view_layer)


def main(argv: list[str]) -> int:
    with _signals_as_cancel():  # from the start: SIGINT/SIGTERM exit 130, nothing written
        return _main(argv)


def _main(argv: list[str]) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.history is not None:
        return _export_history(args)
    try:
        formats = parse_formats(args.format)
        names = parse_names(args.panels, VIEWS, [v for v in VIEWS if v != "window"])
        if args.gif_target not in VIEWS or args.gif_target == "window":
            raise ExportError(f"--gif-target: unknown view {args.gif_target!r}; valid names "
                              f"are {', '.join(VIEWS[:-1])}")
        if args.width is not None and not 16 <= args.width <= 16000:
            raise ExportError(f"--width: {args.width} is out of range; 16 to 16000 pixels")
        check_number("--fps", args.fps, 0, 100)
        size = parse_size(args.size) if args.size is not None else None
        if args.dpi is not None:
            check_number("--dpi", args.dpi, 0, 2400)
        if args.all_steps:
            if args.layer is not None:
                raise ExportError("--layer: not with --all-steps (each step shows the layer "
                                  "its `layer` key names)")
            return _export_deck(args, formats, size)
        if args.stride is not None and args.stride < 1:
            raise ExportError(f"--stride: {args.stride} must be at least 1")
        config, frame, source, layer = _config_and_frame(args)
        T = config.seq_len
        if frame is not None and not -(2 * T + 1) <= frame <= 2 * T:
            raise ExportError(f"--frame: {frame} is out of range; this run has frames "
                              f"0 to {2 * T}")
        request = ExportRequest(
            out_dir=Path(args.out), formats=formats, names=names, width=args.width,
            theme=args.theme, force=args.force, frame=frame, fps=args.fps,
            gif_target=args.gif_target, stride=args.stride,
            frames_dir=Path(args.frames_dir) if args.frames_dir else None,
            transparent=args.transparent, source=source, size=size, preset=args.preset,
            dpi=args.dpi, cursor=args.cursor, kinds=tuple(config.models), layer=layer)
        from lstmviz.export import check_out_dir, destination, planned_files

        destination(request)
        check_out_dir(request.out_dir, planned_files(request), request.force)
        if request.frames_dir is not None:
            check_out_dir(request.frames_dir, [], True)
    except ExportError as exc:
        raise UsageError(str(exc)) from None

    if "gif" in formats and args.stride is None and 2 * T + 1 > MAX_GIF_FRAMES:
        kept = len(gif_frames(2 * T + 1, None))
        print(f"lstmviz export: animation: {2 * T + 1} frames, keeping {kept} "
              "(an even stride; --stride 1 for all)", file=sys.stderr)

    progress = None if args.quiet else _progress_line()
    try:
        with _signals_as_cancel():
            from lstmviz.ui.app import make_app

            _quiet_qt()
            make_app()
            from lstmviz.ui.export.writer import run_export
            from lstmviz.ui.main_window import MainWindow

            paths = run_export(config, request, progress=progress,
                               window=_window_factory(MainWindow, args.theme))
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    except (Cancelled, KeyboardInterrupt):
        return _cancelled(progress)
    if progress is not None and "gif" in formats:
        progress.end()
    for path in paths:
        print(path)
    return 0


class _signals_as_cancel:  # noqa: N801 - a context manager
    """Until the export pipeline takes over (its own handlers poll a flag and remove its
    temporaries): SIGINT or SIGTERM during start-up (imports, the QApplication), when
    nothing is staged yet, ends the process at once with status 130. (Raising from the
    handler could land inside an import hook or a Qt call and be printed there.)"""

    def __enter__(self):
        import signal

        def handler(_signum, _frame):
            import os

            sys.stderr.write("lstmviz export: cancelled; nothing written\n")
            sys.stderr.flush()
            os._exit(130)

        self.old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)
                    if signal.getsignal(s) is not signal.SIG_IGN}
        return self

    def __exit__(self, *exc):
        import signal

        for s, h in self.old.items():
            signal.signal(s, h)
        return False


def _cancelled(progress) -> int:
    if progress is not None:
        progress.end()
    print("lstmviz export: cancelled; nothing written", file=sys.stderr)
    return 130


def _window_factory(main_window_cls, theme: str):
    """The "window" view: a MainWindow of the session, its settings in a temporary file."""

    def make(session):
        import tempfile

        from PySide6.QtCore import QSettings

        folder = tempfile.mkdtemp(prefix="lstmviz-export-")
        settings = QSettings(str(Path(folder) / "export.ini"), QSettings.Format.IniFormat)
        window = main_window_cls(session, settings=settings, theme=theme,
                                 restore=False)
        window.destroyed.connect(lambda *_: __import__("shutil").rmtree(folder, True))
        return window

    return make




def _export_deck(args, formats: tuple[str, ...], size) -> int:
    """--walkthrough NAME --all-steps: the lecture as a deck (lstmviz.ui.export.deck)."""
    if args.walkthrough is None:
        raise ExportError("--all-steps: needs --walkthrough NAME")
    bad = [f for f in formats if f not in ("pdf", "png")]
    if bad:
        raise ExportError(f"--all-steps: format {bad[0]} is not for a deck; use pdf or png")
    from lstmviz.walkthrough import find_walkthrough, load_walkthrough

    path = find_walkthrough(args.walkthrough)
    wt = load_walkthrough(path)
    from lstmviz.export.deck import deck_files

    out = Path(args.out)
    files = deck_files(path.stem, len(wt.steps), formats)
    from lstmviz.export import check_out_dir

    check_out_dir(out, files, args.force)
    progress = None if args.quiet else _progress_line("deck: step")
    try:
        with _signals_as_cancel():
            from lstmviz.ui.app import make_app

            _quiet_qt()
            make_app()
            from lstmviz.ui.export.deck import export_deck

            paths = export_deck(wt, path.stem, out, formats, theme=args.theme,
                                size=size or (1920, 1080), progress=progress)
    except (Cancelled, KeyboardInterrupt):
        return _cancelled(progress)
    if progress is not None:
        progress.end()
    for p in paths:
        print(p)
    return 0


def _export_history(args) -> int:
    """--history DIR: history.csv / history.png (lstmviz.export.history)."""
    from lstmviz.engine.errors import EngineError
    from lstmviz.engine.training.history import read_history
    from lstmviz.export.history import export_history

    try:
        formats = parse_formats(args.format)
        histories = read_history(args.history)

        def render(hs):
            from lstmviz.ui.app import make_app
            from lstmviz.ui.history_view import render_history_png
            from lstmviz.ui.theme import THEMES

            _quiet_qt()
            make_app()
            return render_history_png(hs, THEMES[args.theme], width=args.width or 1400)

        paths = export_history(histories, Path(args.out), formats, force=args.force,
                               render_png=render)
    except (ExportError, EngineError) as exc:
        raise UsageError(str(exc)) from None
    for path in paths:
        print(path)
    return 0


class _progress_line:  # noqa: N801 - a callable
    """Progress on stderr: one line updated in place on a terminal; elsewhere (a log, a
    pipe) a plain line at most every 10 % (no carriage returns)."""

    def __init__(self, what: str = "animation: frame", stream=None) -> None:
        self.stream = stream or sys.stderr
        self.what = what
        self.start = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.shown = False
        self.last_decile = -1

    def __call__(self, done: int, total: int) -> bool:
        pct = 100 * done // max(total, 1)
        text = f"{self.what} {done}/{total} ({pct}%) {time.monotonic() - self.start:.1f} s"
        if self.tty:
            self.stream.write("\r" + text)
            self.shown = True
        elif pct // 10 != self.last_decile:
            self.last_decile = pct // 10
            self.stream.write(text + "\n")
        self.stream.flush()
        return True

    def end(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def _quiet_qt() -> None:
    """Drop the offscreen platform's 'does not support propagateSizeHints()' chatter."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message: str) -> None:
        if "propagateSizeHints" not in message:
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)
