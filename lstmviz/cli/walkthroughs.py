"""`lstmviz walkthroughs`: list the built-in lecture walkthroughs (or check a file)."""

from __future__ import annotations

import argparse
import sys

from lstmviz.walkthrough import find_walkthrough, list_builtin, load_walkthrough


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lstmviz walkthroughs",
        description="List the built-in lecture walkthroughs; open one with "
        "'lstmviz --walkthrough NAME [--step K]'.",
    )
    p.add_argument("check", nargs="*", metavar="NAME_OR_FILE",
                   help="instead of listing, load these walkthroughs and report their steps "
                   "(exit status 2 on the first error)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv or [])
    if args.check:
        for item in args.check:
            wt = load_walkthrough(find_walkthrough(item))
            n_claims = sum(len(s.claims) for s in wt.steps)
            sys.stdout.write(f"{item}: ok, {len(wt.steps)} steps, {n_claims} claims: {wt.title}\n")
        return 0
    rows = list_builtin()
    width = max((len(name) for name, _ in rows), default=0)
    for name, title in rows:
        sys.stdout.write(f"{name:<{width}}  {title}\n")
    return 0
