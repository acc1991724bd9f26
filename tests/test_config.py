"""Configuration: defaults, validation messages, TOML round trip."""

import pytest

from lstmviz.config import Config, ConfigError, load_config, save_config


def test_defaults_show_the_phenomenon():
    c = Config()
    assert c.models == ("rnn", "lstm")
    assert c.activation == "tanh"
    assert c.loss_where == "last"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"models": ()}, "models: choose at least one"),
        ({"models": ("rnn", "cnn")}, "models: unknown model 'cnn'"),
        ({"models": ("rnn", "rnn")}, "names a model twice"),
        ({"hidden_size": 0}, "hidden_size: 0 is out of range; expected 1 to 512"),
        ({"seq_len": 1001}, "seq_len: 1001 is out of range"),
        ({"seq_len": 2.5}, "seq_len: expected an integer"),
        ({"weight_scale": -1.0}, "weight_scale: -1.0 is out of range"),
        ({"forget_bias": float("nan")}, "forget_bias: expected a number, got nan"),
        ({"task": "copy"}, "task: expected one of"),
        ({"activation": "gelu"}, "activation: expected one of"),
        ({"loss_where": "first"}, "loss_where: expected one of"),
        ({"colour": "red"}, "unknown setting 'colour'"),
    ],
)
def test_bad_values_name_the_key(changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Config().replace(**changes)


def test_toml_round_trip(tmp_path):
    c = Config(models=("gru", "lstm"), hidden_size=7, seq_len=33, weight_scale=None,
               forget_bias=2.5, seed=9, loss_where="every", task="adding")
    save_config(tmp_path / "c.toml", c)
    assert load_config(tmp_path / "c.toml") == c
    assert not [p for p in tmp_path.iterdir() if p.name != "c.toml"]  # no temp files left


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seq_len = ", "not valid TOML"),
        ("[settings]\nseq_len = 'long'\n", "seq_len: expected an integer"),
        ("[settings]\nsequence_length = 5\n", "sequence_length: unknown setting"),
        ("[settings]\nseq_len = 5\n[other]\nx = 1\n", "other: unknown key"),
    ],
)
def test_bad_files_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "lecture.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert "lecture.toml" in str(info.value)


def test_missing_file_and_unwritable_folder(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="cannot write"):
        save_config(tmp_path / "no" / "such" / "dir.toml", Config())


def test_kind_options_are_validated_per_kind_and_round_trip(tmp_path):
    from lstmviz.config import Config, ConfigError, load_config, save_config
    from lstmviz.session import Session

    c = Config(models=("lru", "slstm"), seq_len=5, hidden_size=3,
               kind_options={"lru": {"r_min": 0.99, "r_max": 0.999},
                             "slstm": {"forget_gate": "exp"}})
    assert c.options_of("lru") == {"r_max": 0.999, "r_min": 0.99}
    assert c.options_of("gru") == {}
    hash(c)  # stays hashable
    path = tmp_path / "c.toml"
    save_config(path, c)
    assert load_config(path) == c
    s = Session(c)
    lam = s.runs["lru"].model.cell.eigenvalues(s.runs["lru"].model.params)
    assert abs(lam).min() >= 0.99 - 1e-12
    assert s.runs["slstm"].model.options == {"forget_gate": "exp"}
    with pytest.raises(ConfigError, match=r"kind_options\.slstm\.forget_gate: expected one of"):
        Config(kind_options={"slstm": {"forget_gate": "tanh"}})
    with pytest.raises(ConfigError, match=r"kind_options\.gru: r_min: not an option of the GRU"):
        Config(kind_options={"gru": {"r_min": 0.5}})
    with pytest.raises(ConfigError, match="kind_options: unknown model 'transformer'"):
        Config(kind_options={"transformer": {}})
    assert "kind_options" not in Config().to_dict()  # files without it are unchanged
