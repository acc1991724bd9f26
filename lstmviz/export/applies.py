"""Which views and sub-plots apply to the models shown (from the cell registry's gates,
keep gate and cell path); the rest are skipped, and the manifest says why. No Qt."""

from __future__ import annotations

from collections.abc import Iterable

#: Roles (engine.cells Gate.role) of real gates; "pre", "slope" and "decay" are not.
GATE_ROLES = ("keep", "write", "read", "reset", "gate", "candidate")


def skip_reasons(names: Iterable[str], kinds: Iterable[str]) -> dict[str, str]:
    """View -> why it does not apply to the models shown (views that apply are absent):
    the forget-gate view needs a kind with a keep gate, the gates view a gated kind."""
    from lstmviz.engine.cells import registry

    specs = []
    for k in kinds:
        try:
            specs.append(registry.get(k))
        except (KeyError, ValueError):  # an unknown kind: nothing to say about it
            continue
    if not specs:
        return {}
    label = " and ".join(s.label for s in specs)
    out = {}
    if "forget" in names and not any(s.keep is not None for s in specs):
        out["forget"] = (f"{label}: no model shown has a gate that keeps the old state "
                         "(a vanilla RNN has no gates)")
    if "gates" in names and not any(g.role in GATE_ROLES for s in specs for g in s.gates):
        out["gates"] = f"{label}: no model shown has gates (a vanilla RNN has no gates)"
    return out


def subplot_skips(names: Iterable[str], kinds: Iterable[str]) -> list[dict[str, str]]:
    """Sub-plots left out of a view because no model shown has what they plot."""
    from lstmviz.engine.cells import registry

    specs = []
    for k in kinds:
        try:
            specs.append(registry.get(k))
        except (KeyError, ValueError):
            continue
    if specs and "jacobians" in names and not any(s.cell_path is not None for s in specs):
        return [{"view": "jacobians", "subplot": "cell path",
                 "reason": "no model shown has a separate cell path c_t-1 -> c_t "
                           "(only an LSTM has)"}]
    return []
