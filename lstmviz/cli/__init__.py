"""The `lstmviz` command: open the app, take a screenshot, and the headless subcommands."""

from __future__ import annotations

import argparse
import sys

from lstmviz import __version__
from lstmviz.config import Config, ConfigError, load_config


class UsageError(Exception):
    """A bad command line: printed as one line, exit status 2."""


def _app_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lstmviz",
        description="Watch gradients vanish and explode in an unrolled RNN, LSTM and GRU.",
        epilog="Subcommands: 'lstmviz walkthroughs' lists the built-in lectures; "
        "'lstmviz export --help' and 'lstmviz train --help' for the headless tools.",
    )
    p.add_argument("--version", action="version", version=f"lstmviz {__version__}")
    p.add_argument("--config", metavar="FILE", help="open with the settings of a TOML file")
    p.add_argument("--screenshot", metavar="PATH",
                   help="render the window to a PNG and exit (works without a display)")
    p.add_argument("--frame", type=int, metavar="N",
                   help="frame to show: 0 .. 2T (negative counts from the end)")
    p.add_argument("--size", default="1500x950", metavar="WxH", help="window size for --screenshot")
    p.add_argument("--theme", choices=["light", "dark"], help="colour theme")
    p.add_argument("--walkthrough", metavar="NAME_OR_FILE",
                   help="open a lecture walkthrough (a built-in name or a .toml file)")
    p.add_argument("--step", type=int, metavar="K", help="walkthrough step to open at (1..N)")
    return p


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size: expected WIDTHxHEIGHT such as 1500x950, got {text!r}") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise UsageError(f"--size: {text} is out of range; each side must be 200 to 8000")
    return w, h


def run_app(argv: list[str]) -> int:
    args = _app_parser().parse_args(argv)
    config = load_config(args.config) if args.config else Config()
    size = _size(args.size)
    if args.frame is not None and not -(2 * config.seq_len + 1) <= args.frame <= 2 * config.seq_len:
        raise UsageError(f"--frame: {args.frame} is out of range; this run has frames "
                         f"0 to {2 * config.seq_len}")
    walkthrough = _walkthrough_args(args.walkthrough, args.step)
    if not args.screenshot:
        # before Qt starts: Qt aborts the process (exit 134) when no window can open
        from lstmviz.ui.display import window_problem

        problem = window_problem()
        if problem:
            print(problem, file=sys.stderr)
            return 1
    from lstmviz.ui.app import run

    return run(config, screenshot=args.screenshot, frame=args.frame, size=size, theme=args.theme,
               walkthrough=walkthrough, step=args.step)


def _walkthrough_args(name: str | None, step: int | None) -> str | None:
    """Check --walkthrough/--step before any window opens (errors exit with status 2)."""
    if name is None:
        if step is not None:
            raise UsageError("--step: needs --walkthrough")
        return None
    from lstmviz.walkthrough import find_walkthrough, load_walkthrough

    path = find_walkthrough(name)
    n = len(load_walkthrough(path).steps)
    if step is not None and not 1 <= step <= n:
        raise UsageError(f"--step: {step} is out of range; {path.name} has steps 1 to {n}")
    return str(path)


SUBCOMMANDS = ("export", "walkthroughs", "train")


def _subcommand(name: str):
    """The module that runs `lstmviz NAME` (imported on use: the app never loads them)."""
    if name == "export":
        from lstmviz.cli import export as module
    elif name == "walkthroughs":
        from lstmviz.cli import walkthroughs as module
    else:
        from lstmviz.cli import train as module
    return module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return int(_subcommand(argv[0]).main(argv[1:]) or 0)
        return run_app(argv)
    except (UsageError, ConfigError, ValueError) as exc:
        print(f"lstmviz: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"lstmviz: error: {exc}", file=sys.stderr)
        return 1
