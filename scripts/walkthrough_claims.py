"""Every claim of the named built-in walkthroughs, measured on its step's own run (headless):
the figures a lecture states, with the value measured and whether the claim holds.

    PYTHONPATH=$PWD python scripts/walkthrough_claims.py after_training modern
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstmviz.session import Session  # noqa: E402
from lstmviz.walkthrough import check_claim, find_walkthrough, load_walkthrough  # noqa: E402


def main(names: list[str]) -> int:
    failed = 0
    for name in names:
        wt = load_walkthrough(find_walkthrough(name))
        print(f"== {wt.title}")
        for step in wt.steps:
            if not step.claims:
                continue
            runs = Session(step.config).runs
            print(f"step {step.index} {step.title}:")
            for claim in step.claims:
                holds, measured = check_claim(claim, runs)
                log10 = getattr(measured, "log10", None)
                value = f"10^{log10:.2f}" if log10 is not None else f"{measured.value:.4g}"
                at = "" if getattr(claim, "t", None) is None else f" at t={claim.t}"
                print(f"   {claim.model} {claim.quantity}{at} {claim.op} {claim.value}: "
                      f"{value} {'holds' if holds else 'FAILS'}")
                failed += not holds
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["bptt"]))
