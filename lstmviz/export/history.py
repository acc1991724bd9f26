"""`lstmviz export --history DIR`: a training history (engine.training.history) as CSV and PNG.

history.csv is long format, one row per (model, snapshot, t), columns:
  model, iteration, t, loss, eval_mse, [eval_accuracy,] then per model present
  `<kind> log10 ||dL/dh_t||` (and `lstm log10 ||dL/dc_t||`), filled on that model's rows.
loss: mean minibatch loss since the previous snapshot (blank at iteration 0: no minibatch
yet); eval_mse / eval_accuracy: on fresh sequences, blank where that snapshot was not
evaluated; eval_accuracy only when a history is of the recall task. The log10 values are
exact as the engine reports them (nan where the run was not finite, -inf for an exact 0).
history.png: the Training dock's history view (ui.history_view) of every model.
"""

from __future__ import annotations

import io
import math

from lstmviz.engine.training.history import History
from lstmviz.export import _cell, _quote

CSV_NAME = "history.csv"
PNG_NAME = "history.png"
HISTORY_FORMATS = ("csv", "png")


def grad_column(kind: str, state: str = "h") -> str:
    return f"{kind} log10 ||dL/d{state}_t||"


def _opt(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else _cell(
        value)


def history_csv_bytes(histories: dict[str, History]) -> bytes:
    """The long-format table described in the module docstring."""
    recall = any(h.config.task == "recall" for h in histories.values())
    grads = []
    for kind, h in histories.items():
        grads.append((kind, "log10_grad_h", grad_column(kind)))
        if h.snapshots and h.snapshots[0].log10_grad_c is not None:
            grads.append((kind, "log10_grad_c", grad_column(kind, "c")))
    header = ["model", "iteration", "t", "loss", "eval_mse"]
    if recall:
        header.append("eval_accuracy")
    header += [g[2] for g in grads]
    out = io.StringIO()
    out.write(",".join(_quote(c) for c in header) + "\n")
    for kind, h in histories.items():
        for s in h.snapshots:
            row_head = [kind, str(s.iteration)]
            tail = [_opt(s.loss), _opt(s.eval_mse)]
            if recall:
                tail.append(_opt(s.eval_accuracy))
            for t in range(len(s.log10_grad_h)):
                cells = []
                for gk, attr, _name in grads:
                    cells.append(_cell(getattr(s, attr)[t]) if gk == kind else "")
                out.write(",".join([*row_head, str(t + 1), *tail, *cells]) + "\n")
    return out.getvalue().encode("utf-8")


def export_history(histories: dict[str, History], out_dir, formats, *, force: bool = False,
                   render_png=None) -> list:
    """Write history.csv and / or history.png into `out_dir` all or nothing (the export's
    staging); `render_png(histories) -> bytes` draws the PNG. Returns the paths written."""
    from pathlib import Path

    from lstmviz.export import ExportError, Staging, check_out_dir

    formats = tuple(formats)
    bad = [f for f in formats if f not in HISTORY_FORMATS]
    if bad or not formats:
        raise ExportError(f"--format: {bad[0] if bad else '(none)'!s} is not a format of "
                          f"--history; choose from {', '.join(HISTORY_FORMATS)}")
    out_dir = Path(out_dir)
    names = [n for f, n in (("csv", CSV_NAME), ("png", PNG_NAME)) if f in formats]
    check_out_dir(out_dir, names, force)
    with Staging(out_dir) as staging:
        if "csv" in formats:
            staging.write(CSV_NAME, history_csv_bytes(histories))
        if "png" in formats:
            staging.write(PNG_NAME, render_png(histories))
        return staging.commit()
