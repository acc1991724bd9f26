"""The built-in lectures (package data under lstmviz/resources/walkthroughs): list and find.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import lstmviz
from lstmviz.walkthrough.model import WalkthroughError

BUILTIN_DIR = lstmviz.RESOURCES / "walkthroughs"


# -- built-ins ----------------------------------------------------------------------------
def _builtin_paths() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.toml")) if BUILTIN_DIR.is_dir() else []


#: (path, mtime_ns, size) -> title: the window lists the built-ins twice at launch (menu
#: and the empty walkthrough dock); each parses a whole lecture.
_TITLES: dict[tuple[Path, int, int], str] = {}


def _title_of(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return path.stem
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _TITLES:
        _TITLES[key] = _read_title(path)
    return _TITLES[key]


def _read_title(path: Path) -> str:
    """The file's top-level title: parsed from the lines before its first table header
    (the title is a top-level key, so it is there; a launch lists every built-in), else
    from the whole file (when that prefix is not a document of its own, e.g. it ends
    inside a multi-line string)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return path.stem
    head = _TABLE_HEADER.search(text)
    for part in ((text[: head.start()],) if head else ()) + (text,):
        try:
            title = tomllib.loads(part).get("title")
        except tomllib.TOMLDecodeError:
            continue
        if isinstance(title, str):
            return title
    return path.stem


#: A line that opens a table ("[section]", "[[steps]]"): top-level keys come before it.
_TABLE_HEADER = re.compile(r"^[ \t]*\[", re.MULTILINE)


def list_builtin() -> list[tuple[str, str]]:
    """(name, title) of every built-in walkthrough, in course order."""
    return [(p.stem, _title_of(p)) for p in _builtin_paths() if p.stem != "example"]


def find_walkthrough(name_or_path: str | os.PathLike[str]) -> Path:
    """A built-in's name ("02_vanishing", or just "vanishing") or a file's path -> Path."""
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.is_file():
        return path
    looks_like_path = text.endswith(".toml") or os.sep in text or "/" in text
    if not looks_like_path:
        paths = {p.stem: p for p in _builtin_paths()}
        if text in paths:
            return paths[text]
        matches = [p for stem, p in paths.items() if re.sub(r"^\d+_", "", stem) == text]
        if len(matches) == 1:
            return matches[0]
        names = ", ".join(stem for stem, _ in list_builtin())
        raise WalkthroughError(f"{text}: no such walkthrough; built-ins are {names} "
                               "(or give a .toml file)")
    raise WalkthroughError(f"{path.name or text}: file not found ({path})")
