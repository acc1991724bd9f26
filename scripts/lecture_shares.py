"""Share of the window the gradients dock covers on every built-in walkthrough step that
names it (issue 10: "at least a fifth of the window at 1920x1080"; the lecture test asks 18%).

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen python scripts/lecture_shares.py [--720]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstmviz.config import Config  # noqa: E402
from lstmviz.session import Session  # noqa: E402
from lstmviz.ui.app import make_app  # noqa: E402
from lstmviz.walkthrough import find_walkthrough, list_builtin, load_walkthrough  # noqa: E402


def main(argv: list[str]) -> None:
    app = make_app()
    from PySide6.QtCore import QSettings

    from lstmviz.ui.main_window import MainWindow

    def settle(n: int = 3) -> None:
        for _ in range(n):
            app.processEvents()

    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat)
        w = MainWindow(Session(Config(models=("rnn", "lstm", "gru"), seq_len=12,
                                      hidden_size=6)), settings=settings, restore=False)
        w.show()
        settle()
        panel = w.tools["walkthrough"]
        for size in [(1920, 1080)] + ([(1280, 720)] if "--720" in argv else []):
            w.resize(*size)
            settle()
            shares = []
            for name, _ in list_builtin():
                wt = load_walkthrough(find_walkthrough(name))
                panel.open(name, 1, animate=False)
                for i, step in enumerate(wt.steps):
                    panel.go_to(i, animate=False)
                    panel.wait_step()
                    settle()
                    if "gradients" in panel.lecture.names:
                        d = w.docks["gradients"]
                        shares.append((d.width() * d.height() / (w.width() * w.height()),
                                       f"{name}.{step.index}", d.width(), d.height()))
                panel.close_walkthrough()
                settle()
            shares.sort()
            low, high = shares[0], shares[-1]
            print(f"{size[0]}x{size[1]}: {len(shares)} steps name gradients; smallest "
                  f"{low[0]:.1%} (step {low[1]}, {low[2]}x{low[3]} px), median "
                  f"{shares[len(shares) // 2][0]:.1%}, largest {high[0]:.1%} (step {high[1]}); "
                  f"under 20%: {[s[1] for s in shares if s[0] < 0.20]}")
        w.close()


if __name__ == "__main__":
    main(sys.argv[1:])
