"""A walkthrough as a deck: file names and the page plan (no Qt; rendering is
lstmviz.ui.export.deck).

`--format pdf`: one file, `NAME.pdf`, a 16:9 page per step; `--format png`: one image per
step, `NAME_step_01.png` .. (two digits, three from 100 steps on); a `NAME_deck.json`
manifest lists them with the step titles.
"""

from __future__ import annotations

DECK_FORMATS = ("pdf", "png")
#: Logical size of a deck page (a 1280 x 720 window's lecture layout), 16:9.
PAGE_LOGICAL = (1280, 720)
#: Height of the title row of a page, logical pixels.
TITLE_H = 56


def step_file(name: str, k: int, n: int) -> str:
    return f"{name}_step_{k:0{max(2, len(str(n)))}d}.png"


def deck_files(name: str, n_steps: int, formats) -> list[str]:
    """The files a deck export writes (manifest last)."""
    out = []
    if "pdf" in formats:
        out.append(f"{name}.pdf")
    if "png" in formats:
        out += [step_file(name, k, n_steps) for k in range(1, n_steps + 1)]
    return [*out, f"{name}_deck.json"]


def step_views(docks: tuple[str, ...] | None, panels: list[str]) -> tuple[list[str], list[str]]:
    """(bottom row, tall column) of a step's panels, as its lecture layout places them:
    the inspector is the tall column on the right; None (the step names none) shows the
    gradient plot."""
    names = [d for d in (docks if docks is not None else ("gradients",)) if d in panels]
    tall = [n for n in names if n == "inspector"]
    return [n for n in names if n != "inspector"], tall
