"""Walkthrough files: a TOML lecture -> a validated `Walkthrough` of `Step`s (pure, no Qt).

Format (lstmviz/resources/walkthroughs/FORMAT.md has the annotated version): top-level `title`,
`description` and `[[step]]` tables with `title`, `narration` (Markdown), `setup` (Config
fields on top of the previous step's config), `docks`, `cursor = {phase, t}`, `play`,
`highlight = {cell = {model, t}, gate, steps = [a, b]}`, `y_range`, `sweep = {task, lengths,
iterations, models}` (the Training dock's sweep, preset, never started) and `claims`, the numbers
the narration states, which `check_claim` measures on the computed runs (ratios and norms as
exact log10 values, returned as a `Measured`) and `claim_sentence` writes for the screen.
Narration may hold placeholders (`{rnn.grad_ratio}`, `{lstm.grad_norm@t=5}`,
`{setup.seq_len}`, `{sweep.iterations}`) that `render_narration` fills from the runs on
screen; every other figure it states must be a claim's bound (`unchecked_figures`).
Every problem is one `WalkthroughError` naming the file, the step and the key.

Modules: vocabulary (keys, docks, quantities), model (the dataclasses), parse (file ->
Walkthrough), library (the built-in lectures), claims (measuring), narration (the screen's
text and the every-number rule).
"""

from lstmviz.walkthrough.claims import (
    check_claim,
    claim_sentence,
    measure,
    measure_quantity,
    pending,
    pending_sentence,
)
from lstmviz.walkthrough.library import BUILTIN_DIR, find_walkthrough, list_builtin
from lstmviz.walkthrough.model import (
    Claim,
    Highlight,
    Measured,
    Step,
    Sweep,
    Walkthrough,
    WalkthroughError,
)
from lstmviz.walkthrough.narration import (
    narration_markdown,
    render_narration,
    unchecked_figures,
)
from lstmviz.walkthrough.parse import (
    PLACEHOLDER,
    Placeholder,
    load_walkthrough,
    parse_placeholders,
    parse_walkthrough,
)
from lstmviz.walkthrough.vocabulary import (
    DOCKS,
    PHASES,
    PHRASES,
    QUANTITIES,
    STEP_QUANTITIES,
    Y_RANGE_LIMIT,
    all_gates,
    gates,
)

__all__ = [
    "BUILTIN_DIR", "DOCKS", "PHASES", "PHRASES", "PLACEHOLDER", "QUANTITIES", "STEP_QUANTITIES",
    "Y_RANGE_LIMIT", "Claim", "Highlight", "Measured", "Placeholder", "Step", "Sweep",
    "Walkthrough", "WalkthroughError", "all_gates", "check_claim", "claim_sentence",
    "find_walkthrough", "gates", "list_builtin", "load_walkthrough", "measure", "measure_quantity",
    "narration_markdown", "parse_placeholders", "parse_walkthrough", "pending",
    "pending_sentence", "render_narration",
    "unchecked_figures",
]
