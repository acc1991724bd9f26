"""The cell registry is the only place a kind is named (issue 12), and a kind registered in a
test alone runs through every layer: config, session, every panel, CSV export, a claim and
a training step, without touching any other file.

The grep rule (test_no_kind_name_literals_outside_the_cells): a string literal whose whole
value is a kind name ("rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru", "slstm")
may appear in the package only under lstmviz/engine/cells/ (the kind modules and the
registry) and lstmviz/resources/ (lectures, docs: data files, not code), plus the lines in
ALLOWED: data, not branches — the app's default comparison (Config.models), the trainer's
default kind, the sweep's default kinds and the theme's colour tables (keyed by the cells'
colour keys). Words
inside longer strings ("the LSTM's forget gate", a column description) are text, not kind
literals, and are not counted. Any other literal (a comparison, a table keyed by kind, a
default in a signature) fails the test.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import numpy as np
import pytest

from lstmviz.engine import cells

PACKAGE = Path(__file__).resolve().parent.parent / "lstmviz"
KIND_NAMES = {"rnn", "lstm", "gru", "indrnn", "mingru", "minlstm", "lru", "slstm"}
EXEMPT_DIRS = ("engine/cells/", "resources/")
#: (file, the stripped source line) -> how many kind literals that line may hold.
ALLOWED: dict[tuple[str, str], int] = {
    ("config.py", 'models: tuple[str, ...] = ("rnn", "lstm")'): 2,
    ("engine/training/trainer.py", 'kind: str = "lstm"'): 1,
    ("engine/training/sweep.py", 'kinds: Sequence[str] = ("rnn", "lstm"),'): 2,
}
#: Files whose every kind literal is a colour-table key (checked: inside model_colors=).
COLOUR_TABLES = ("ui/theme.py",)


def kind_literals(path: Path) -> list[tuple[int, str]]:
    """(line number, literal) of every string literal whose value is a kind name."""
    out = []
    text = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type != tokenize.STRING:
            continue
        body = tok.string
        while body and body[0] in "rbuRBU":
            body = body[1:]
        if body[:1] in "\"'" and body[1:-1] in KIND_NAMES and body[0] == body[-1]:
            out.append((tok.start[0], body[1:-1]))
    return out


def _offences() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(EXEMPT_DIRS):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        per_line: dict[int, list[str]] = {}
        for n, lit in kind_literals(path):
            per_line.setdefault(n, []).append(lit)
        for n, lits in per_line.items():
            line = lines[n - 1].strip()
            if rel in COLOUR_TABLES and _in_colour_table(lines, n):
                continue
            if ALLOWED.get((rel, line)) == len(lits):
                continue
            found.append(f"lstmviz/{rel}:{n}: {line}")
    return found


def _in_colour_table(lines: list[str], n: int) -> bool:
    """Whether line n (1-based) is inside a `model_colors={...}` table."""
    for k in range(n - 1, max(-1, n - 6), -1):
        if "model_colors=" in lines[k]:
            return True
        if lines[k].rstrip().endswith("},") and k != n - 1:
            return False
    return False


def test_no_kind_name_literals_outside_the_cells():
    offences = _offences()
    assert not offences, "kind names outside engine/cells (use the registry):\n" + "\n".join(
        offences)


def test_the_grep_finds_what_it_should(tmp_path):
    """The scanner itself: a comparison and a dict key count, a word in a sentence does not."""
    f = tmp_path / "x.py"
    f.write_text('a = kind == "lstm"\nb = {"gru": 1}\nc = "the lstm cell"\nd = f"{k}"\n'
                 "e = 'rnn'\n")
    assert kind_literals(f) == [(1, "lstm"), (2, "gru"), (5, "rnn")]


def test_allowed_lines_still_exist():
    """Every allowance names a line that is really there (no stale exemptions)."""
    for (rel, line), count in ALLOWED.items():
        path = PACKAGE / rel
        lines = [s.strip() for s in path.read_text(encoding="utf-8").splitlines()]
        assert line in lines, (rel, line)
        n = lines.index(line) + 1
        assert sum(1 for k, _ in kind_literals(path) if k == n) == count


# -- a kind registered here runs everywhere ------------------------------------------------
@pytest.fixture
def leaky():
    from tests.engine.cells.test_registry import _leaky_kind

    kind = cells.register(_leaky_kind())
    yield kind
    cells.unregister("leaky")


def test_an_unknown_kind_is_an_error_in_every_layer():
    from lstmviz.config import Config, ConfigError
    from lstmviz.engine import EngineError, build_model
    from lstmviz.engine.training.kernels import loss_and_grads
    from lstmviz.engine.training.trainer import TrainConfig
    from lstmviz.session import seed_offset

    with pytest.raises(EngineError, match="kind: expected one of"):
        build_model("leaky", 1, 1)
    with pytest.raises(EngineError, match="kind: expected one of"):
        loss_and_grads({}, "leaky", None, np.zeros((1, 1, 1)), None)
    with pytest.raises(EngineError, match="kind"):
        TrainConfig(kind="leaky")
    with pytest.raises(EngineError, match="kind"):
        seed_offset("leaky")
    with pytest.raises(ConfigError, match="unknown model 'leaky'"):
        Config(models=("leaky",))


def test_a_registered_kind_runs_through_every_layer(leaky, qapp, tmp_path):
    from lstmviz.config import Config
    from lstmviz.engine.training.trainer import TrainConfig, Trainer
    from lstmviz.export import ExportRequest, read_csv
    from lstmviz.session import Session, seed_offset
    from lstmviz.ui.adapter import SessionAdapter
    from lstmviz.ui.export.writer import run_export
    from lstmviz.ui.panels.cellstate import CellStatePanel
    from lstmviz.ui.panels.forget import ForgetPanel
    from lstmviz.ui.panels.gates import GatesPanel
    from lstmviz.ui.panels.gradients import GradientPanel
    from lstmviz.ui.panels.inspector import InspectorPanel
    from lstmviz.ui.panels.jacobians import JacobianPanel
    from lstmviz.walkthrough import Claim, check_claim

    config = Config(models=("rnn", "leaky"), seq_len=8, hidden_size=3)
    assert seed_offset("leaky") == 1000 * len(cells.kinds())
    session = Session(config)
    run = session.runs["leaky"]
    assert run.label == "Leaky"
    assert run.notes == ()  # it declares no init option: the config's init is left out
    d = run.diagnostics
    assert np.isfinite(d.log10_grad_h).all() and np.isfinite(d.log10_jac_prod).all()
    assert np.isnan(d.log10_whh).all() and "no recurrent weight matrix" in d.whh_note
    adapter = SessionAdapter(session)
    panels = [cls(adapter) for cls in (GradientPanel, JacobianPanel, ForgetPanel, GatesPanel,
                                       CellStatePanel, InspectorPanel)]
    for i in range(session.n_frames):
        session.seek(i)
    for panel in panels:  # data, or the note saying why there is none
        assert panel.data_columns() or not panel.note.isHidden(), panel.name
    gradients, jacobians, forget, gates, cellstate, inspector = panels
    assert "leaky ||dL/dh_t||" in gradients.data_columns()
    assert "leaky ||dh_T/dh_t||_2" in jacobians.data_columns()
    assert "Leaky: no gate" in forget.note.text()
    assert "Leaky" in gates.note.text()
    assert any(k.startswith("leaky ") for k in cellstate.data_columns())
    adapter.select("leaky", 3)
    inspector.follow.setChecked(False)
    assert any(k.startswith("leaky ") for k in inspector.data_columns())
    run_export(config, ExportRequest(out_dir=tmp_path, formats=("csv",),
                                     names=("gradients", "jacobians")), session=session)
    csv = read_csv(tmp_path / "gradients.csv")
    np.testing.assert_array_equal(csv["leaky log10 ||dL/dh_t||"], d.log10_grad_h)
    holds, measured = check_claim(Claim("leaky", "grad_ratio", "<", 10.0), session.runs)
    assert holds and measured.log10 == pytest.approx(float(d.log10_grad_h[0] -
                                                           d.log10_grad_h[-1]))
    trainer = Trainer(TrainConfig(kind="leaky", length=5, hidden_size=3, batch_size=4))
    metrics = trainer.step()
    assert np.isfinite(metrics.loss) and trainer.iteration == 1


def test_the_new_quantities_measure_what_they_say():
    from lstmviz.config import Config
    from lstmviz.session import Session
    from lstmviz.walkthrough import QUANTITIES, measure_quantity

    s = Session(Config(models=("mingru", "lru", "lstm"), seq_len=10, hidden_size=4))
    for kind in ("mingru", "lru", "lstm"):
        d = s.runs[kind].diagnostics
        for t in (1, 4):
            got = measure_quantity(kind, "jac_prod", s.runs, t).log10
            assert got == float(d.log10_jac_prod[t - 1])
    keep = s.runs["mingru"].trace.gates["keep"]
    assert float(measure_quantity("mingru", "mean_keep", s.runs)) == float(np.mean(keep))
    assert "mingru" not in QUANTITIES["sigma_max"][1] and "lru" in QUANTITIES["sigma_max"][1]
    assert "mingru" not in QUANTITIES["whh_ratio"][1]
    assert list(QUANTITIES["mean_forget"][1]) == ["lstm", "slstm"]
