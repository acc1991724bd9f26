"""The pure walkthrough loader: built-ins load, their claims hold, bad files get one clear error."""

from __future__ import annotations

import functools
import math
import warnings
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmviz.config import Config
from lstmviz.session import compute_runs
from lstmviz.walkthrough import (
    BUILTIN_DIR,
    WalkthroughError,
    check_claim,
    find_walkthrough,
    list_builtin,
    load_walkthrough,
    narration_markdown,
    parse_walkthrough,
)

BUILTIN_FILES = sorted(BUILTIN_DIR.glob("*.toml"))
COURSE = ["01_bptt", "02_vanishing", "03_exploding", "04_lstm", "05_compare", "06_limits"]

GOOD = """
title = "A lecture"
description = "Two steps."

[[step]]
title = "Start"
narration = "h_t depends on h_{t-1}."
setup = { models = ["rnn"], seq_len = 20 }
docks = ["gradients", "inspector"]
cursor = { phase = "forward", t = 1 }

[[step]]
title = "Back"
narration = "Backward."
setup = { weight_scale = 0.5 }
cursor = { phase = "backward", t = -1 }
play = true
highlight = { cell = { model = "rnn", t = "T" }, steps = [1, 5] }
claims = [{ model = "rnn", quantity = "grad_ratio", op = "<", value = 1e-3 }]
"""


def write(tmp_path: Path, text: str, name: str = "lecture.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the good path ------------------------------------------------------------------------
def test_good_file_loads_with_configs_chained(tmp_path):
    wt = load_walkthrough(write(tmp_path, GOOD))
    assert wt.title == "A lecture"
    assert len(wt.steps) == 2
    first, second = wt.steps
    assert first.config == Config().replace(models=("rnn",), seq_len=20)
    assert second.config == first.config.replace(weight_scale=0.5)  # on top of the previous
    assert first.docks == ("gradients", "inspector")
    assert second.docks is None
    assert (first.phase, first.t, first.play) == ("forward", 1, False)
    assert (second.phase, second.t, second.play) == ("backward", 20, True)
    assert second.highlight.cell == ("rnn", 20)
    assert second.highlight.steps == (1, 5)
    assert second.claims[0].describe() == "rnn grad_ratio < 0.001"
    assert wt.name == "lecture"


def test_cursor_t_forms(tmp_path):
    text = GOOD.replace('t = -1 }\nplay', 't = "T" }\nplay')
    assert load_walkthrough(write(tmp_path, text)).steps[1].t == 20
    text = GOOD.replace('t = -1 }\nplay', "t = -20 }\nplay")
    assert load_walkthrough(write(tmp_path, text)).steps[1].t == 1


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.stem)
def test_every_builtin_loads(path):
    wt = load_walkthrough(path)
    assert wt.title and wt.description
    assert wt.steps
    for step in wt.steps:
        assert step.title and step.narration.strip()


def test_course_is_complete():
    names = [name for name, _ in list_builtin()]
    for name in COURSE:
        assert name in names
    for name in COURSE:
        steps = load_walkthrough(find_walkthrough(name)).steps
        assert 4 <= len(steps) <= 8, name


def test_find_walkthrough(tmp_path):
    assert find_walkthrough("02_vanishing").name == "02_vanishing.toml"
    assert find_walkthrough("vanishing").name == "02_vanishing.toml"
    path = write(tmp_path, GOOD)
    assert find_walkthrough(str(path)) == path
    with pytest.raises(WalkthroughError, match="no such walkthrough"):
        find_walkthrough("nonsense")
    with pytest.raises(WalkthroughError, match="gone.toml: file not found"):
        find_walkthrough(str(tmp_path / "gone.toml"))


# -- claims -------------------------------------------------------------------------------
def _all_claims():
    out = []
    for path in BUILTIN_FILES:
        for step in load_walkthrough(path).steps:
            for i, claim in enumerate(step.claims):
                out.append(pytest.param(step.config, claim,
                                        id=f"{path.stem}-step{step.index}-{i + 1}"))
    return out


@functools.lru_cache(maxsize=64)
def _runs(config: Config):
    with warnings.catch_warnings():  # exploding setups overflow on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        return compute_runs(config)


@pytest.mark.parametrize(("config", "claim"), _all_claims())
def test_claim_holds(config, claim):
    ok, actual = check_claim(claim, _runs(config))
    assert ok, f"{claim.describe()} does not hold: measured {actual!r}"


def test_every_numbered_step_has_claims():
    """A step whose narration states a number (a digit outside code) lists claims."""
    import re

    for path in BUILTIN_FILES:
        if path.stem == "example":
            continue
        for step in load_walkthrough(path).steps:
            prose = re.sub(r"`[^`]*`", "", step.narration)
            if re.search(r"\d+(\.\d+)?\s*(%|×|x\b)|10\^", prose):
                assert step.claims, f"{path.stem} step {step.index} states numbers, no claims"


def test_claim_describe_and_holds():
    from lstmviz.walkthrough import Claim

    assert Claim("rnn", "grad_ratio", "<", 1e-6).holds(1e-9)
    assert not Claim("rnn", "grad_ratio", "<", 1e-6).holds(math.nan)
    assert Claim("rnn", "overflow", "==", True).holds(True)
    assert Claim("lstm", "mean_forget", "between", (0.5, 0.9)).holds(0.7)
    assert "in [0.5, 0.9]" in Claim("lstm", "mean_forget", "between", (0.5, 0.9)).describe()


# -- errors -------------------------------------------------------------------------------
BAD = [
    ("bad_toml", "title = \n", r"lecture\.toml: not valid TOML"),
    ("unknown_top", GOOD.replace('description = "Two steps."', 'descripton = "x"'),
     r"lecture\.toml: descripton: unknown key"),
    ("unknown_step_key", GOOD.replace('title = "Back"', 'title = "Back"\nnaraton = "x"'),
     r"lecture\.toml: step 2: naraton: unknown key"),
    ("unknown_setup", GOOD.replace("weight_scale = 0.5", "weigth_scale = 0.5"),
     r"lecture\.toml: step 2: setup\.weigth_scale: unknown setting"),
    ("wrong_type", GOOD.replace("seq_len = 20", 'seq_len = "long"'),
     r"lecture\.toml: step 1: setup\.seq_len: expected an integer"),
    ("out_of_range", GOOD.replace("weight_scale = 0.5", "weight_scale = 42"),
     r"lecture\.toml: step 2: setup\.weight_scale: 42\.0 is out of range; expected 0\.01 to 10"),
    ("unknown_dock", GOOD.replace('"inspector"]', '"inspektor"]'),
     r"lecture\.toml: step 1: docks: unknown dock 'inspektor'"),
    ("unknown_model_setup", GOOD.replace('models = ["rnn"]', 'models = ["transformer"]'),
     r"lecture\.toml: step 1: setup\.models: unknown model 'transformer'"),
    ("unknown_model_claim", GOOD.replace('model = "rnn", quantity', 'model = "tcn", quantity'),
     r"lecture\.toml: step 2: claims\[1\]\.model: unknown model 'tcn'"),
    ("model_not_in_step", GOOD.replace('model = "rnn", t = "T"', 'model = "lstm", t = "T"'),
     r"lecture\.toml: step 2: highlight\.cell\.model: 'lstm' is not among"),
    ("bad_phase", GOOD.replace('phase = "forward"', 'phase = "sideways"'),
     r"lecture\.toml: step 1: cursor\.phase: unknown phase 'sideways'"),
    ("t_out_of_range", GOOD.replace("t = -1 }", "t = 99 }"),
     r"lecture\.toml: step 2: cursor\.t: 99 is out of range; expected 1 to 20"),
    ("play_type", GOOD.replace("play = true", 'play = "yes"'),
     r"lecture\.toml: step 2: play: expected true or false"),
    ("unknown_quantity", GOOD.replace('"grad_ratio"', '"grad_ration"'),
     r"lecture\.toml: step 2: claims\[1\]\.quantity: unknown quantity 'grad_ration'"),
    ("bad_op", GOOD.replace('op = "<"', 'op = "=="'),
     r"lecture\.toml: step 2: claims\[1\]\.op: '==' cannot compare grad_ratio"),
    ("no_steps", 'title = "x"\n', r"lecture\.toml: step: missing"),
    ("step_title_missing", GOOD.replace('title = "Start"\n', ""),
     r"lecture\.toml: step 1: title: missing"),
    ("unknown_gate", GOOD.replace('steps = [1, 5]', 'gate = "forgot"'),
     r"lecture\.toml: step 2: highlight\.gate: unknown gate 'forgot'"),
]


@pytest.mark.parametrize(("text", "pattern"), [pytest.param(t, p, id=i) for i, t, p in BAD])
def test_malformed_file_gets_one_clear_message(tmp_path, text, pattern):
    with pytest.raises(WalkthroughError, match=pattern):
        load_walkthrough(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(WalkthroughError, match=r"nothere\.toml: file not found"):
        load_walkthrough(tmp_path / "nothere.toml")


def test_error_is_a_value_error():
    assert issubclass(WalkthroughError, ValueError)


# -- property: only WalkthroughError ever escapes -----------------------------------------
toml_scalars = (st.booleans() | st.integers(-2**63, 2**63 - 1)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
                | st.sampled_from(["rnn", "lstm", "gru", "T", "forward", "loss", "backward",
                                   "gradients", "grad_ratio", "<", "between", "none"]))
keys = st.sampled_from(["title", "description", "step", "narration", "setup", "docks",
                        "cursor", "phase", "t", "play", "highlight", "cell", "model",
                        "claims", "quantity", "op", "value", "gate", "steps", "seq_len",
                        "models", "weight_scale", "hidden_size", "forget_bias"]) | st.text(
                            max_size=6)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
documents = st.fixed_dictionaries(
    {}, optional={"title": toml_values, "description": toml_values,
                  "step": st.lists(st.dictionaries(keys, toml_values, max_size=8), max_size=3)
                  | toml_values},
) | st.dictionaries(keys, toml_values, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_raise_only_walkthrough_error(tmp_path_factory, doc):
    try:
        text = tomli_w.dumps(doc)
    except (TypeError, ValueError):
        return  # not representable in TOML
    path = tmp_path_factory.mktemp("wt") / "random.toml"
    path.write_text(text, encoding="utf-8")
    message = "random.toml: "
    try:
        load_walkthrough(path)
    except WalkthroughError as exc:
        message = str(exc)
    assert message.startswith("random.toml: ")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_raises_only_walkthrough_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("wt") / "random.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_walkthrough(path)
    except WalkthroughError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, toml_values, max_size=6))
def test_random_parsed_data_raises_only_walkthrough_error(doc):
    try:
        parse_walkthrough({"title": "x", "step": [doc]}, "mem.toml")
    except WalkthroughError:
        pass


# -- narration ----------------------------------------------------------------------------
@pytest.mark.parametrize(("src", "expected"), [
    ("h_t", "h<sub>t</sub>"),
    ("h_{t-1}", "h<sub>t−1</sub>"),
    ("sigma'", "σ′"),
    ("dc_t/dc_{t-1}", "dc<sub>t</sub>/dc<sub>t−1</sub>"),
    ("10^-6", "10<sup>−6</sup>"),
    ("x^{2}", "x<sup>2</sup>"),
    ("sigma_max*gamma", "σ<sub>max</sub>·γ"),
    ("||dL/dh_1|| <= 1", "‖dL/dh<sub>1</sub>‖ ≤ 1"),
    ("`weight_scale` and forget_bias", "`weight_scale` and forget_bias"),
    ("*emphasis* and **bold**", "*emphasis* and **bold**"),
    ("doesn't", "doesn't"),
])
def test_narration_math(src, expected):
    assert narration_markdown(src) == expected


def test_fenced_code_is_left_alone():
    text = "```\nh_t = x^2\n```\nh_t"
    assert narration_markdown(text) == "```\nh_t = x^2\n```\nh<sub>t</sub>"
