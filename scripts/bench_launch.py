"""Launch time alone: the two launch lines of scripts/bench_ui.py, interleaved and repeated.

    python scripts/bench_launch.py [--repeats 9] [--tree /path/to/other/checkout ...]

Runs the app's LAUNCH script (scripts/bench_ui.py) and the bare window's (scripts/floor_ui.py)
alternately, so a noisy machine slows both alike, and prints the same two lines as
bench_ui.py with medians over the repeats. Each --tree also runs LAUNCH with that checkout
first on PYTHONPATH (e.g. the main branch), interleaved in the same rounds, to compare a
change with what it changes in one run.
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_ui import bench_launch, print_launch  # noqa: E402
from floor_ui import LAUNCH as FLOOR_LAUNCH  # noqa: E402


def rounds(repeats, trees, launch, bare) -> None:
    """Each round: LAUNCH once per tree, then the floor once (each after a warm-up run)."""
    for _ in range(repeats):
        for tree in trees:
            launch[tree] += bench_launch(repeats=1, tree=tree)
        bare += bench_launch(repeats=1, script=FLOOR_LAUNCH)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--tree", action="append", default=[],
                        help="another checkout whose LAUNCH is measured in the same rounds")
    args = parser.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = [here, *args.tree]
    launch: dict[str, list[float]] = {t: [] for t in trees}
    bare: list[float] = []
    # the children's stderr (Qt's offscreen warnings, one a launch) to a file, shown at the
    # end without the known warning
    log = tempfile.TemporaryFile(mode="w+")
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        rounds(args.repeats, trees, launch, bare)
    finally:
        os.dup2(saved, 2)
    log.seek(0)
    sys.stderr.writelines(line for line in log if "propagateSizeHints" not in line)

    for tree in trees:
        print_launch(launch[tree], bare, "" if tree == here else f" [{tree}]")
    print(f"  (ms: launch {sorted(round(x * 1000) for x in launch[here])}, "
          f"floor {sorted(round(x * 1000) for x in bare)}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
