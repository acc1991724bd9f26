"""The pure walkthrough loader: built-ins load, their claims hold, bad files get one clear error."""

from __future__ import annotations

import functools
import math
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmviz.config import Config
from lstmviz.numfmt import superscript
from lstmviz.session import compute_runs
from lstmviz.walkthrough import (
    BUILTIN_DIR,
    QUANTITIES,
    WalkthroughError,
    check_claim,
    find_walkthrough,
    list_builtin,
    load_walkthrough,
    narration_markdown,
    parse_walkthrough,
)

BUILTIN_FILES = sorted(BUILTIN_DIR.glob("*.toml"))
COURSE = ["01_bptt", "02_vanishing", "03_exploding", "04_lstm", "05_compare", "06_limits",
          "07_modern", "08_after_training"]

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


# -- measured in log10 --------------------------------------------------------------------
def _rnn_log10_grads(run) -> np.ndarray:
    """log10 ||dL/dh_t|| for a tanh RNN with the loss at T only, by a backward pass written
    here, rescaled every step with its log10 kept apart (independent of the engine's)."""
    w_hh = run.model.params["weight_hh"]
    h = run.trace.h[:, 0, :]
    g = run.dh_loss[-1, 0, :].astype(np.float64)
    n = np.linalg.norm(g)
    scale, g = math.log10(n), g / n
    logs = [scale]
    for t in range(h.shape[0] - 1, 0, -1):  # dL/dh_{t-1} = W_hh^T (tanh'(a_t) * dL/dh_t)
        g = w_hh.T @ ((1.0 - h[t] ** 2) * g)
        n = np.linalg.norm(g)
        scale, g = scale + math.log10(n), g / n
        logs.append(scale)
    return np.array(logs[::-1])


@functools.lru_cache(maxsize=1)
def _tiny_run():
    """tanh RNN, sigma_max 0.3, T = 1000: the true ratio is near 10^-777 (beyond float64)."""
    config = Config(models=("rnn",), seq_len=1000, weight_scale=0.3, activation="tanh")
    run = _runs(config)["rnn"]
    return run, _rnn_log10_grads(run)


def test_independent_backward_agrees_where_float64_holds():
    run, exact = _tiny_run()
    norms = run.diagnostics.grad_h_norm
    ok = norms > 1e-290  # where the float norm is still meaningful
    assert ok.sum() > 50
    assert np.allclose(exact[ok], np.log10(norms[ok]), atol=1e-9)
    assert exact[0] - exact[-1] < -700  # the ratio the claims must measure exactly


def test_claims_measure_10_to_the_minus_777_from_the_log_fields():
    from dataclasses import replace

    from lstmviz.walkthrough import Claim, measure

    run, exact = _tiny_run()
    d = replace(run.diagnostics, log10_grad_h=exact)  # the exact logs (H1's engine gives them)
    runs = {"rnn": replace(run, diagnostics=d)}
    expected = exact[0] - exact[-1]
    below = _claim_from_toml('{ model = "rnn", quantity = "grad_ratio", op = "<", '
                             'value = "1e-700" }')
    m = measure(below, runs)
    assert m.log10 == pytest.approx(expected, abs=1e-9)
    assert m.value == 0.0  # as float64 it underflows; the log keeps it
    assert below.value == 0.0 and below.log10_value == -700  # TOML floats stop at 1e-308
    assert below.holds(m)
    assert Claim("rnn", "grad_ratio", ">", 0.0).holds(m)  # 10^-777 is not zero
    assert not _claim_from_toml('{ model = "rnn", quantity = "grad_ratio", op = "<", '
                                'value = "10^-800" }').holds(m)
    between = _claim_from_toml('{ model = "rnn", quantity = "grad_ratio", op = "between", '
                               'value = ["1e-800", "1e-700"] }')
    assert between.holds(m)
    mantissa = 10 ** (expected - math.floor(expected))
    assert m.text() == f"{mantissa:.2f} × 10{superscript(math.floor(expected))}"
    ok, value = check_claim(below, runs)
    assert ok and value == m
    from lstmviz.walkthrough import claim_sentence

    assert claim_sentence(below, m, "RNN (tanh)") == (
        f"RNN (tanh): ||dL/dh_1|| / ||dL/dh_T|| = {m.text()} — below 10⁻⁷⁰⁰ ✓")
    assert below.describe() == "rnn grad_ratio < 1.00e-700"


def _claim_from_toml(claim: str):
    text = GOOD.replace('claims = [{ model = "rnn", quantity = "grad_ratio", op = "<", '
                        'value = 1e-3 }]', f"claims = [{claim}]")
    return parse_walkthrough(tomllib.loads(text), "mem.toml").steps[1].claims[0]


def test_engine_ratio_at_10_to_the_minus_777_is_exact():
    from lstmviz.walkthrough import Claim, measure

    run, exact = _tiny_run()
    m = measure(Claim("rnn", "grad_ratio", "<", 1e-300), {"rnn": run})
    assert m.log10 == pytest.approx(exact[0] - exact[-1], abs=1e-9)


def test_measured_keeps_the_old_float_interface():
    from lstmviz.walkthrough import Claim

    ok, m = check_claim(Claim("rnn", "grad_ratio", "<", 1e-10), _runs(_vanishing_config()))
    assert ok and isinstance(float(m), float)
    assert float(m) == pytest.approx(10 ** m.log10)
    assert Claim("rnn", "grad_ratio", "<", 1e-10).holds(float(m))  # plain floats still work


# -- claim sentences ----------------------------------------------------------------------
def _vanishing_config() -> Config:
    return load_walkthrough(find_walkthrough("02_vanishing")).steps[2].config


ALL_MODELS = Config(models=("rnn", "lstm", "gru"), seq_len=20, hidden_size=8)


def test_claim_sentence_reads_like_the_issue():
    from lstmviz.walkthrough import Claim, claim_sentence

    runs = _runs(_vanishing_config())
    claim = Claim("rnn", "grad_ratio", "<", 1e-10)
    ok, m = check_claim(claim, runs)
    text = claim_sentence(claim, m, runs["rnn"].label)
    assert ok
    assert text == f"RNN (tanh): ||dL/dh_1|| / ||dL/dh_T|| = {m.text()} — below 10⁻¹⁰ ✓"
    assert m.text() == "1.38 × 10⁻¹²"
    shown = narration_markdown(text)
    assert shown.startswith("RNN (tanh): ‖dL/dh<sub>1</sub>‖ / ‖dL/dh<sub>T</sub>‖ = 1.38 × 10⁻¹²")
    failing = Claim("rnn", "grad_ratio", "<", 1e-13)
    assert claim_sentence(failing, m, "RNN (tanh)").endswith("— stated below 10⁻¹³ ✗")


@pytest.mark.parametrize("quantity", list(QUANTITIES))
def test_claim_sentence_for_every_quantity(quantity):
    from lstmviz.walkthrough import PHRASES, QUANTITIES, Claim, claim_sentence

    _, models, kind = QUANTITIES[quantity]
    model = models[0]
    runs = _runs(ALL_MODELS)
    if kind == "bool":
        claim = Claim(model, quantity, "==", False)
    else:
        claim = Claim(model, quantity, ">", 1e-300)
    ok, m = check_claim(claim, runs)
    text = claim_sentence(claim, m, runs[model].label)
    assert text.startswith(runs[model].label + ": ")
    from lstmviz.walkthrough.vocabulary import DEFAULT_T

    assert PHRASES[quantity].replace("{t}", str(DEFAULT_T.get(quantity, 1))) in text
    assert m.text() in text and m.text() not in ("", "NaN")
    assert text.endswith(" ✓" if ok else " ✗")
    assert quantity not in text.replace(PHRASES[quantity], "")  # no raw identifier
    assert "<" not in text and ">" not in text and "1e" not in text


def test_every_quantity_has_a_phrase():
    from lstmviz.walkthrough import PHRASES, QUANTITIES

    assert set(PHRASES) == set(QUANTITIES)


def test_param_count_is_measured():
    from lstmviz.walkthrough import Claim, measure

    runs = _runs(ALL_MODELS)
    counts = {k: measure(Claim(k, "param_count", ">", 0), runs) for k in ("rnn", "lstm", "gru")}
    H, I = 8, runs["rnn"].model.input_size
    assert counts["rnn"].value == H * (I + H + 2)
    assert counts["lstm"].value == 4 * counts["rnn"].value
    assert counts["gru"].value == 3 * counts["rnn"].value
    assert counts["lstm"].text() == f"{4 * H * (I + H + 2):,}".replace(",", "\u2009")


# -- placeholders -------------------------------------------------------------------------
PLACES = GOOD.replace('narration = "Backward."', 'narration = """T = {setup.seq_len}, '
                      'scale {setup.weight_scale}: ratio {rnn.grad_ratio}, at t = 5 '
                      '{rnn.grad_norm@t=5}, at T {rnn.grad_norm@t=-1}, h_{t-1} stays."""')


def test_placeholders_render_measured_values(tmp_path):
    from lstmviz.numfmt import format_magnitude
    from lstmviz.walkthrough import render_narration

    step = load_walkthrough(write(tmp_path, PLACES)).steps[1]
    runs = _runs(step.config)
    norms = runs["rnn"].diagnostics.grad_h_norm  # independent of the log fields

    def shown(x):
        return format_magnitude(math.log10(x)).replace(" ", "\u00a0")

    text = render_narration(step, runs)
    assert text == (f"T = 20, scale 0.5: ratio {shown(norms[0] / norms[-1])}, at t = 5 "
                    f"{shown(norms[4])}, at T {shown(norms[-1])}, h_{{t-1}} stays.")
    # recomputed for other runs: a different weight scale, different numbers
    other = _runs(step.config.replace(weight_scale=0.9))
    assert render_narration(step, other) != text
    assert "…" in render_narration(step, {})  # no run yet: no number invented


BAD_PLACEHOLDERS = [
    ("{tcn.grad_ratio}", r"narration: \{tcn\.grad_ratio\}: unknown model 'tcn'"),
    ("{rnn.grad_rato}", r"narration: \{rnn\.grad_rato\}: unknown quantity 'grad_rato'"),
    ("{lstm.grad_ratio}", r"narration: \{lstm\.grad_ratio\}: 'lstm' is not among this step"),
    ("{rnn.grad_c_ratio}", r"grad_c_ratio applies to lstm, slstm only, not rnn"),
    ("{rnn.loss@t=3}", r"narration: \{rnn\.loss@t=3\}: loss has no step"),
    ("{rnn.grad_ratio@t=99}", r"narration: \{rnn\.grad_ratio@t=99\}: 99 is out of range"),
    ("{rnn.grad_ratio@5}", r"narration: \{rnn\.grad_ratio@5\}: expected \{model\.quantity\}"),
    ("{setup.seqlen}", r"narration: \{setup\.seqlen\}: unknown setting 'seqlen'"),
]


@pytest.mark.parametrize(("placeholder", "pattern"), BAD_PLACEHOLDERS)
def test_bad_placeholder_gives_one_clear_error(tmp_path, placeholder, pattern):
    text = GOOD.replace('narration = "Backward."', f'narration = "See {placeholder}."')
    with pytest.raises(WalkthroughError, match=r"^lecture\.toml: step 2: " + ".*" + pattern):
        load_walkthrough(write(tmp_path, text))


# -- every number is checked --------------------------------------------------------------
def _step(narration: str, claims=()) -> object:
    from lstmviz.walkthrough import Step

    return Step(1, "t", narration, Config(), claims=tuple(claims))


@pytest.mark.parametrize(("narration", "unchecked"), [
    ("The bound gives 0.9^39 ≈ 0.016 here.", ["0.9", "39", "0.016"]),
    ("It is below 10^-7.", ["10^-7"]),
    ("float64 stops at 1.8 · 10^308 and 1.8e308.", ["1.8 · 10^308", "1.8e308"]),
    ("At t = 1, h_{t-1}, x_1 and T − 1 steps; lecture 2, step 3 (Pascanu, 2013).", []),
    ("`value = 0.5` in code, {rnn.grad_ratio} measured, between 0 and 1.", []),
    ("Then\n\n**L = (ŷ_T − x_1)^2 + 2 W**\n\nand W^T.", []),
    ("Four times the parameters: 4 of them, 1/4 of it.", ["4", "1/4"]),
])
def test_unchecked_figures_rule(narration, unchecked):
    from lstmviz.walkthrough import unchecked_figures

    assert unchecked_figures(_step(narration)) == unchecked


def test_a_claim_backs_a_figure():
    from lstmviz.walkthrough import Claim, unchecked_figures

    claims = [Claim("rnn", "grad_ratio", "<", 1e-7), Claim("rnn", "sigma_max", "between",
                                                            (0.899, 0.901))]
    assert unchecked_figures(_step("below 10^-7, sigma_max = 0.9", claims)) == []
    assert unchecked_figures(_step("below 10^-8, sigma_max = 0.95", claims)) == ["10^-8",
                                                                                  "0.95"]


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.stem)
def test_every_builtin_number_is_a_claim_or_a_placeholder(path):
    from lstmviz.walkthrough import unchecked_figures

    for step in load_walkthrough(path).steps:
        assert unchecked_figures(step) == [], (
            f"{path.name} step {step.index} states {unchecked_figures(step)}: make each a "
            "claim's bound or a {model.quantity} placeholder (FORMAT.md)")


def test_builtin_placeholders_render_for_every_step():
    from lstmviz.walkthrough import PLACEHOLDER, render_narration

    for path in BUILTIN_FILES:
        for step in load_walkthrough(path).steps:
            text = render_narration(step, _runs(step.config))
            assert not PLACEHOLDER.search(text), (path.name, step.index)


def test_format_md_documents_every_quantity():
    text = (BUILTIN_DIR / "FORMAT.md").read_text(encoding="utf-8")
    for quantity in QUANTITIES:
        assert f"`{quantity}`" in text, quantity
    for word in ("{rnn.grad_ratio}", "@t=", "{setup.seq_len}", "Every number is checked"):
        assert word in text


STACKED = """
title = "Depth"
description = "A two-layer LSTM."
[[step]]
title = "Bottom"
narration = "The bottom layer."
setup = { models = ["lstm"], num_layers = 2, seq_len = 8, hidden_size = 3 }
layer = LAYER
[[step]]
title = "Top"
narration = "Back to the top."
"""


def test_a_step_names_the_layer_the_views_show(tmp_path):
    wt = load_walkthrough(write(tmp_path, STACKED.replace("LAYER", "1")))
    bottom, top = wt.steps
    assert (bottom.layer, bottom.view_layer) == (1, 0)
    assert (top.layer, top.view_layer) == (None, None)  # a step without: the top layer
    wt = load_walkthrough(write(tmp_path, STACKED.replace("LAYER", "2")))
    assert (wt.steps[0].layer, wt.steps[0].view_layer) == (2, None)  # 2 of 2: the top


@pytest.mark.parametrize(("value", "pattern"), [
    ("3", r"step 1: layer: 3 is out of range; this step's models have 2 layer\(s\): "
          r"expected 1 to 2"),
    ("0", r"step 1: layer: 0 is out of range"),
    ('"top"', r"step 1: layer: expected a whole number, 1 \(the bottom layer\) to 2"),
    ("true", r"step 1: layer: expected a whole number"),
])
def test_a_bad_layer_is_one_message(tmp_path, value, pattern):
    with pytest.raises(WalkthroughError, match=r"lecture\.toml: " + pattern):
        load_walkthrough(write(tmp_path, STACKED.replace("LAYER", value)))


def test_titles_read_from_the_head_of_the_file_equal_the_whole_files(tmp_path):
    """The menu's titles are parsed from the lines before the first table (a launch lists
    every built-in); a head that is not a document of its own falls back to the whole."""
    import tomllib

    from lstmviz.walkthrough import library

    for path in library._builtin_paths():
        assert library._read_title(path) == tomllib.loads(path.read_text())["title"]
    tricky = tmp_path / "t.toml"
    tricky.write_text('intro = """\n[not a table]\n"""\ntitle = "Real"\n\n[[steps]]\n'
                      'title = "A step"\n')
    assert library._read_title(tricky) == "Real"
    untitled = tmp_path / "u.toml"
    untitled.write_text('[[steps]]\ntitle = "A step"\n')
    assert library._read_title(untitled) == "u"
