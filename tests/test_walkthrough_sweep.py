"""A step's `sweep` key (the Training dock's sweep, preset): parsing, defaults, one clear
message per bad value, and `{sweep.key}` placeholders."""

from __future__ import annotations

import pytest

from lstmviz.engine.training.sweep import SWEEP_CONFIG
from lstmviz.walkthrough import (
    WalkthroughError,
    find_walkthrough,
    load_walkthrough,
    parse_walkthrough,
    render_narration,
    unchecked_figures,
)


def _doc(sweep, narration: str = "Run it.") -> dict:
    step = {"title": "Sweep", "narration": narration,
            "setup": {"models": ["rnn", "lstm"], "seq_len": 20}}
    if sweep is not None:
        step["sweep"] = sweep
    return {"title": "L", "step": [step]}


GOOD = {"task": "adding", "lengths": [200, 100, 100], "iterations": 300}


def test_sweep_parses_with_models_from_setup():
    step = parse_walkthrough(_doc(GOOD), "l.toml").steps[0]
    s = step.sweep
    assert (s.task, s.lengths, s.iterations) == ("adding", (100, 200), 300)
    assert s.models == ("rnn", "lstm") and s.points == 4
    assert s.config == SWEEP_CONFIG.replace(task="adding")


def test_sweep_models_given_and_no_sweep_by_default():
    step = parse_walkthrough(_doc({**GOOD, "models": ["gru", "lru", "gru"]}), "l.toml").steps[0]
    assert step.sweep.models == ("gru", "lru")
    assert parse_walkthrough(_doc(None), "l.toml").steps[0].sweep is None


@pytest.mark.parametrize(("sweep", "key", "problem"), [
    ("adding", "sweep", "expected a table"),
    ({**GOOD, "seeds": [1]}, "sweep.seeds", "unknown key; expected one of task, lengths"),
    ({"lengths": [10], "iterations": 5}, "sweep.task", "missing"),
    ({**GOOD, "task": "copy"}, "sweep.task", "unknown task 'copy'; expected one of adding, "
                                             "recall"),
    ({**GOOD, "task": 3}, "sweep.task", "expected a task name, got an integer 3"),
    ({**GOOD, "lengths": 100}, "sweep.lengths", "expected a list of lengths, got an integer"),
    ({**GOOD, "lengths": []}, "sweep.lengths", "empty"),
    ({**GOOD, "lengths": [100, 1001]}, "sweep.lengths", "1001 is out of range; adding takes 2 "
                                                        "to 1000"),
    ({**GOOD, "lengths": [1]}, "sweep.lengths", "1 is out of range; adding takes 2"),
    ({**GOOD, "lengths": [10.5]}, "sweep.lengths", "expected whole numbers, got a number 10.5"),
    ({**GOOD, "iterations": "many"}, "sweep.iterations", "expected a whole number of "
                                                         "minibatches per point, got a string"),
    ({**GOOD, "iterations": 0}, "sweep.iterations", "0 is out of range; expected 1 to"),
    ({**GOOD, "iterations": True}, "sweep.iterations", "got a boolean"),
    ({**GOOD, "models": ["lstm", "transformer"]}, "sweep.models",
     "unknown model 'transformer'; expected some of rnn, lstm"),
    ({**GOOD, "models": "lstm"}, "sweep.models", "expected a list of model names"),
    ({**GOOD, "models": []}, "sweep.models", "empty"),
])
def test_bad_sweep_gets_one_clear_message(sweep, key, problem):
    with pytest.raises(WalkthroughError) as err:
        parse_walkthrough(_doc(sweep), "l.toml")
    text = str(err.value)
    assert text.startswith(f"l.toml: step 1: {key}: "), text
    assert problem in text, text
    assert "\n" not in text


def test_recall_takes_lag_one():
    step = parse_walkthrough(_doc({**GOOD, "task": "recall", "lengths": [1, 5]}), "l").steps[0]
    assert step.sweep.lengths == (1, 5)


def test_sweep_placeholders_render_and_are_not_unchecked_figures():
    text = ("{sweep.points} points at T = {sweep.lengths}: {sweep.iterations} minibatches of "
            "{sweep.batch_size}, {sweep.optimizer} at {sweep.lr}, clip {sweep.clip}, "
            "H = {sweep.hidden_size}, {sweep.models} on {sweep.task}.")
    step = parse_walkthrough(_doc(GOOD, text), "l.toml").steps[0]
    assert unchecked_figures(step) == []
    c = SWEEP_CONFIG
    assert render_narration(step, None).replace("\u00a0", " ") == (
        f"4 points at T = 100, 200: 300 minibatches of {c.batch_size}, {c.optimizer} at "
        f"{c.lr:g}, clip {c.clip:g}, H = {c.hidden_size}, rnn, lstm on adding.")


@pytest.mark.parametrize(("text", "problem"), [
    ("{sweep.iterations}", "this step has no sweep"),
])
def test_sweep_placeholder_needs_a_sweep(text, problem):
    with pytest.raises(WalkthroughError, match=problem):
        parse_walkthrough(_doc(None, text), "l.toml")


def test_unknown_sweep_placeholder():
    with pytest.raises(WalkthroughError,
                       match=r"l\.toml: step 1: narration: \{sweep\.seeds\}: unknown sweep "
                             r"value 'seeds'; expected one of task, lengths"):
        parse_walkthrough(_doc(GOOD, "{sweep.seeds}"), "l.toml")


def test_modern_lecture_ends_with_the_sweep():
    wt = load_walkthrough(find_walkthrough("modern"))
    step = wt.steps[4]
    assert step.title == "Success against length" and len(wt.steps) == 5
    assert step.docks == ("training", "gradients")
    models = ("rnn", "lstm", "indrnn", "mingru", "lru", "slstm")
    assert step.config.models == models
    assert step.sweep.task == "adding" and step.sweep.models == models
    assert step.sweep.lengths == (100, 200, 500, 1000) and step.sweep.points == 24
    text = " ".join(render_narration(step, None).replace("\u00a0", " ").split())
    # the budget per point is stated, from the preset
    assert f"{step.sweep.iterations} minibatches" in text
    assert f"of {SWEEP_CONFIG.batch_size} sequences" in text
    assert SWEEP_CONFIG.optimizer in text
    assert unchecked_figures(step) == []
