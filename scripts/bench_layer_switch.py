"""Cost of showing another layer of stacked models (issue 13), against floors measured in the
same run: the lower layers' diagnostics in compute_runs and the Jacobian job, and the GUI time
of a layer switch (the five one-layer panels rebuild) against a new-runs rebuild of the same
panels. Best of 3 wall times (the machine may be shared).

    QT_QPA_PLATFORM=offscreen python scripts/bench_layer_switch.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstmviz.config import Config  # noqa: E402
from lstmviz.session import Session, compute_runs  # noqa: E402


def best(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="T = 200, H = 32")
    args = ap.parse_args()
    T, H = (200, 32) if args.quick else (1000, 128)
    models = ("lstm", "gru")
    for L in (1, 2):
        cfg = Config(models=models, seq_len=T, hidden_size=H, num_layers=L)
        runs = compute_runs(cfg, jacobians=False)
        t_runs = best(lambda c=cfg: compute_runs(c, jacobians=False), 1 if not args.quick else 3)
        t_jac = best(lambda r=runs: [x.completed() for x in r.values()], 1)
        print(f"T={T} H={H} {'+'.join(models)} L={L}: compute_runs {1000 * t_runs:.0f} ms, "
              f"Jacobian job (background) {1000 * t_jac:.0f} ms")

    from PySide6.QtWidgets import QApplication

    from lstmviz.ui.adapter import SessionAdapter
    from lstmviz.ui.panels.cellstate import CellStatePanel
    from lstmviz.ui.panels.forget import ForgetPanel
    from lstmviz.ui.panels.gates import GatesPanel
    from lstmviz.ui.panels.inspector import InspectorPanel
    from lstmviz.ui.panels.jacobians import JacobianPanel

    app = QApplication.instance() or QApplication([])
    cfg = Config(models=models, seq_len=T, hidden_size=H, num_layers=2)
    session = Session(cfg, runs=compute_runs(cfg, jacobians=False))
    adapter = SessionAdapter(session)
    panels = [cls(adapter) for cls in (ForgetPanel, GatesPanel, CellStatePanel, JacobianPanel,
                                       InspectorPanel)]
    for p in panels:
        p.resize(500, 400)
        p.show()
    session.to_end()
    app.processEvents()
    layers = iter([0, None] * 10)

    def switch() -> None:
        adapter.set_layer(next(layers))
        app.processEvents()

    def runs_again() -> None:
        adapter.runsChanged.emit()
        adapter.frameChanged.emit(session.cursor)
        app.processEvents()

    t_switch, t_floor = best(switch), best(runs_again)
    print(f"layer switch, 5 panels: {1000 * t_switch:.0f} ms (floor: a new-runs rebuild of the "
          f"same panels {1000 * t_floor:.0f} ms; ratio {t_switch / t_floor:.2f}); the window "
          "stages it one panel per event-loop turn when the runs are large (ui/staging.py)")


if __name__ == "__main__":
    main()
