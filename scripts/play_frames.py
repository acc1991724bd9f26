"""Play many frames through the main window and every panel; exit 0 if nothing crashed.

Guards against the PySide6 6.12 / Python 3.11 crash during animation (none_dealloc):
run by tests/ui/test_animation_stress.py in a subprocess.

    python scripts/play_frames.py --frames 3000 --seq-len 200 --hidden 16
"""

import argparse
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=3000)
    p.add_argument("--seq-len", type=int, default=200)
    p.add_argument("--hidden", type=int, default=16)
    args = p.parse_args()

    import tempfile

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from lstmviz.config import Config
    from lstmviz.session import Session
    from lstmviz.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat)
        config = Config(models=("rnn", "lstm", "gru"), seq_len=args.seq_len,
                        hidden_size=args.hidden)
        window = MainWindow(Session(config), settings=settings, restore=False)
        window.show()
        # every panel visible: untabify by showing each dock in turn while playing
        docks = list(window.docks.values())
        session = window.session
        played = 0
        while played < args.frames:
            if not session.step():
                session.to_start()
            if played % 200 == 0:
                docks[(played // 200) % len(docks)].raise_()
            app.processEvents()
            played += 1
        window.close()
    print(f"played {played} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
