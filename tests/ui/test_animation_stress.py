"""A few thousand animation frames through every panel in a subprocess must exit 0.

PySide6 6.12.0 on Python 3.11 killed the interpreter within 3,000 frames of a pyqtgraph
animation ("Fatal Python error: none_dealloc"); this catches a regression of the pin.
"""

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "play_frames.py"


def test_three_thousand_frames_exit_cleanly():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYQTGRAPH_QT_LIB="PySide6")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--frames", "3000", "--seq-len", "60", "--hidden", "8"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "played 3000 frames" in proc.stdout
