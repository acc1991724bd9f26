"""What every exported CSV column is: ONE table, which writes both the `columns.md` an export
puts beside its CSVs and the docs page docs/DATA.md (`python -m lstmviz.columns > docs/DATA.md`).

Pure (no Qt). A column name pattern may hold <kind> (a cell kind: engine.cells.kinds()),
<u> (a unit, 0-based), <l> (a layer of a stacked model, 1 = bottom),
<symbol> (a gate or state symbol such as f or h_t), <name> and <t> (a step, 1-based).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lstmviz.engine import cells

COLUMNS_FILE = "columns.md"


@dataclass(frozen=True)
class Column:
    file: str  # e.g. "gradients.csv"
    name: str  # the header, with <kind> / <u> / <l> / <symbol> / <name> / <t> placeholders
    meaning: str  # what it is (formula)
    norm: str  # which norm ("-" for none)
    batch: str  # "whole batch" or "batch element 0"

    def regex(self) -> re.Pattern[str]:
        parts = re.split(r"(<kind>|<u>|<l>|<symbol>|<name>|<t>)", self.name)
        sub = {"<kind>": r"[a-z]+", "<u>": r"\d+", "<l>": r"\d+", "<symbol>": r"[A-Za-z_]+",
               "<t>": r"\d+", "<name>": r".+?"}
        return re.compile("".join(sub.get(p, re.escape(p)) for p in parts) + r"\Z")


_FLOAT = ("float64 value: 0 where the true value underflows float64, inf where it overflows; "
          "the log10 column beside it is exact")
_LOG = ("exact log10 of the column before it, from the rescaled backward pass (exact from "
        "10^-10000 to 10^+10000): finite wherever the forward pass is finite, -inf only for "
        "an exact zero")

#: Every exported column. Order: per file, as the file writes them.
COLUMNS: tuple[Column, ...] = (
    Column("*.csv", "t", "time step, 1-based integer (row t-1 is step t)", "-", "-"),
    # gradients.csv
    Column("gradients.csv", "<kind> ||dL/dh_t||",
           "total dL/dh_t (the loss term at t plus what flows back from t+1); " + _FLOAT,
           "Frobenius over the B x H matrix", "whole batch"),
    Column("gradients.csv", "<kind> log10 ||dL/dh_t||", _LOG, "Frobenius over B x H",
           "whole batch"),
    Column("gradients.csv", "<kind> ||dL/dc_t||",
           "kinds with a cell state c (LSTM; sLSTM: its stabilised c): total dL/dc_t, "
           "including the path through h_t; " + _FLOAT,
           "Frobenius over the B x H matrix", "whole batch"),
    Column("gradients.csv", "<kind> log10 ||dL/dc_t||", _LOG, "Frobenius over B x H",
           "whole batch"),
    Column("gradients.csv", "<kind> layer <l> ||dL/dh_t||",
           "stacked models (num_layers > 1) only, one column per layer l = 1 (bottom) .. L "
           "(top): the total gradient dL/dh^(l)_t at that layer's output at step t (what "
           "comes from layer l+1 through its input, from t+1 through time and, for the top "
           "layer, from the loss; layer L equals <kind> ||dL/dh_t||, whose columns are the "
           "top layer's); " + _FLOAT, "Frobenius over the B x H matrix", "whole batch"),
    Column("gradients.csv", "<kind> layer <l> log10 ||dL/dh_t||", _LOG,
           "Frobenius over B x H", "whole batch"),
    Column("gradients.csv", "<kind> bound (sigma_max*gamma)^(T-t) * ||dL/dh_T||",
           "kinds where the bound applies (the vanilla RNN: rnn): the bound ||dL/dh_T|| "
           "(sigma_max(W_hh) gamma)^(T-t), gamma = "
           "sup|phi'| (1 tanh, 1 relu, 1/4 sigmoid); written only when the loss is at the "
           "last step; " + _FLOAT, "spectral (sigma_max)", "whole batch"),
    Column("gradients.csv", "<kind> log10 bound (sigma_max*gamma)^(T-t) * ||dL/dh_T||",
           "exact log10 of the bound: log10 ||dL/dh_T|| + (T - t) log10(sigma_max gamma)",
           "spectral (sigma_max)", "whole batch"),
    # jacobians.csv
    Column("jacobians.csv", "<kind> ||dh_T/dh_t||_2",
           "norm of the Jacobian product dh_T/dh_t (1 at t = T); LSTM: the h->h block of the "
           "product of full (h, c) state Jacobians, so paths through the cell are included; "
           + _FLOAT, "spectral (2-norm)", "batch element 0"),
    Column("jacobians.csv", "<kind> log10 ||dh_T/dh_t||_2",
           "exact log10 of the product norm (the product is carried rescaled)",
           "spectral (2-norm)", "batch element 0"),
    Column("jacobians.csv", "<kind> ||dh_t/dh_t-1||_2",
           "one step's Jacobian: rnn diag(phi'(pre_t)) W_hh; gru through z, r and n; LSTM "
           "A_t = dh_t/dh_{t-1} with c_{t-1} held fixed", "spectral (2-norm)",
           "batch element 0"),
    Column("jacobians.csv", "<kind> log10 ||dh_t/dh_t-1||_2", "log10 of the column before it",
           "spectral (2-norm)", "batch element 0"),
    Column("jacobians.csv", "<kind> ||dL/dW_hh term t||",
           "step t's term dgates_t^T h_{t-1} of dL/dW_hh (the sum over t of these terms is "
           "dL/dW_hh); " + _FLOAT, "Frobenius", "whole batch (the term sums over it)"),
    Column("jacobians.csv", "<kind> log10 ||dL/dW_hh term t||", _LOG, "Frobenius",
           "whole batch (the term sums over it)"),
    Column("jacobians.csv", "<kind> cell path direct ||diag(f_t)||",
           "LSTM dc_t/dc_{t-1}, direct term: ||diag(f_t)|| = max_j f_t[j]", "spectral (2-norm)",
           "batch element 0"),
    Column("jacobians.csv", "<kind> cell path indirect norm",
           "LSTM dc_t/dc_{t-1}, the part through h_{t-1} and the gates: "
           "||C_t diag(o_{t-1} tanh'(c_{t-1}))|| with C_t = dc_t/dh_{t-1}; 0 at t = 1",
           "spectral (2-norm)", "batch element 0"),
    # gates.csv, forget.csv, cellstate.csv, inspector.csv
    Column("gates.csv", "<kind> <symbol>_t[unit <u>]",
           "a gate's activation of unit u at step t (each kind's gates in [0, 1]: lstm i, f, "
           "o; gru r, z; mingru z, keep; minlstm f, i, fp, ip; slstm ip, fp, o)", "-",
           "batch element 0"),
    Column("forget.csv", "<kind> mean <symbol>_t",
           "the kind's keep factor averaged over the H units: forget gate f (lstm), update "
           "gate z (gru), keep = 1 - z (mingru), normalised f' fp (minlstm, slstm), |lambda| "
           "modulus (lru)",
           "-", "batch element 0"),
    Column("forget.csv", "<kind> <symbol>_t[unit <u>]", "the gate of unit u at step t", "-",
           "batch element 0"),
    Column("cellstate.csv", "<kind> <symbol>[unit <u>]",
           "the state of unit u after step t (h_t, or c_t for the LSTM when shown)", "-",
           "batch element 0"),
    Column("inspector.csv", "unit", "hidden unit index, 0-based", "-", "-"),
    Column("inspector.csv", "<kind> <name> (t=<t>)",
           "per-unit values of the cell inspected at step t: its gates, the state path "
           "(c_prev, f*c_prev, i*g, c; gru h_prev, z*h_prev, (1-z)*n, h; each kind its own: "
           "engine.cells CellKind.state_path) and dL/dh", "-",
           "batch element 0"),
)

NOTES = (
    "Indexing: `t` is 1-based (step t is row t-1); units are 0-based (`[unit 0]`).",
    "Batch: every norm of a loss gradient is over the whole batch (the loss is the batch mean, "
    "so dL/dh_t is a B x H matrix); everything per example (states, gates, Jacobians, the "
    "inspector) is batch element 0. With the default batch size 1 they coincide.",
    "Loss normalisation: gradients are of the mean loss. MSE is the mean over batch, outputs "
    "(and steps when the loss is at every step): factor 1/(B O) or 1/(B O T). Cross-entropy is "
    "the mean over batch (and steps): 1/B or 1/(B T).",
    "Norms: Frobenius for gradient matrices and W_hh terms, spectral (largest singular value) "
    "for Jacobians, as each column says. Every norm is computed scaled (no overflow or "
    "underflow on the way).",
    "Values: `nan` after a non-finite forward state (a value stopped being finite in "
    "float64: then every dependent quantity is NaN, never 0); `inf` / 0 in a float column only "
    "where the true value is beyond float64, with the exact figure in its log10 column.",
    "Stacked models: the views that show one layer (forget.csv, gates.csv, cellstate.csv, "
    "jacobians.csv, inspector.csv) show the top layer under the names below; a layer l below "
    "the top (the window's Settings > Show layer) is named `<kind> layer <l> ...` instead of "
    "`<kind> ...` (l = 1 bottom), with the same meaning for that layer.",
    "The CSVs hold the whole run (all frames), independent of the frame shown in the images; "
    "inspector.csv holds the cell inspected at that frame. manifest.json gives each model's "
    "sigma_max (of W_hh, or its largest H x H gate block) and gamma, and `layer`: the layer "
    "of stacked models the one-layer views and their CSVs show (1 = the bottom; the number "
    "of layers when the top, as for one-layer models; `lstmviz export --layer`).",
)


def describe(name: str, file: str) -> Column | None:
    """The table row documenting column `name` of `file` (None: undocumented)."""
    for col in COLUMNS:
        if col.file in (file, "*.csv") and col.regex().match(name):
            return col
    layer = re.match(r"([a-z]+) layer (\d+) (.+)\Z", name)  # a lower layer's (NOTES)
    if layer is not None:
        col = describe(f"{layer[1]} {layer[3]}", file)
        if col is not None:
            return Column(col.file, col.name.replace("<kind>", "<kind> layer <l>", 1),
                          f"layer {layer[2]} of a stacked model: {col.meaning}", col.norm,
                          col.batch)
    return None


def _row(name: str, col: Column | None) -> str:
    if col is None:
        return f"| `{name}` | (undocumented) | | |"
    return f"| `{name}` | {col.meaning} | {col.norm} | {col.batch} |"


def _table(rows: Sequence[str]) -> list[str]:
    return ["| column | meaning | norm | batch |", "| --- | --- | --- | --- |", *rows]


def columns_markdown(files: Mapping[str, Sequence[str]]) -> str:
    """columns.md for one export: every column of every CSV written (file -> header names)."""
    lines = ["# Columns of the CSV files in this folder", "", *(f"- {n}" for n in NOTES)]
    for file, names in files.items():
        lines += ["", f"## {file}", "", *_table([_row(n, describe(n, file)) for n in names])]
    return "\n".join(lines) + "\n"


def data_markdown() -> str:
    """docs/DATA.md: the same table, every pattern of every file."""
    lines = ["# Exported data", "",
             "`lstmviz export --format csv` writes one CSV per view and, beside them, "
             f"`{COLUMNS_FILE}` describing every column written. This page is generated from "
             "the same table (`lstmviz/columns.py`; regenerate with "
             "`python -m lstmviz.columns > docs/DATA.md`).", "", "## Conventions", "",
             *(f"- {n}" for n in NOTES), "",
             "Placeholders: `<kind>` a cell kind (" + ", ".join(cells.kinds())
             + "); `<u>` a unit (0-based); `<l>` a layer of a stacked model (1 = bottom); "
             "`<symbol>` a "
             "gate or state symbol; `<name>` a quantity; `<t>` a step (1-based)."]
    files = list(dict.fromkeys(c.file for c in COLUMNS))
    for file in files:
        rows = [_row(c.name, c) for c in COLUMNS if c.file == file]
        title = "every CSV" if file == "*.csv" else file
        lines += ["", f"## {title}", "", *_table(rows)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(data_markdown())
