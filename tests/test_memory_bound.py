"""Sizes that would not fit in memory are refused with a message naming them, before any
array is allocated (not a MemoryError at 5.4 GB, not a swapping machine)."""

import tracemalloc

import pytest

from lstmviz import cli
from lstmviz import config as config_module
from lstmviz.config import Config, ConfigError, check_memory, estimate_bytes, load_config
from lstmviz.session import compute_runs

LARGEST = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=512, batch_size=256)


def test_the_largest_settings_are_refused_on_a_16_gib_machine():
    with pytest.raises(ConfigError) as err:
        check_memory(LARGEST, "big.toml", available=16 * 2**30)
    message = str(err.value)
    assert message.startswith("big.toml: seq_len = 1000, hidden_size = 512, batch_size = 256 "
                              "with 3 models need about 70.8 GiB of memory")
    assert "16 GiB available" in message
    check_memory(Config(), available=16 * 2**30)  # the default fits anywhere


def _peak(config: Config) -> int:
    """tracemalloc's peak over compute_runs(config) with the exact Jacobian norms."""
    tracemalloc.start()
    try:
        compute_runs(config, jacobians=True)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("models", "T", "H", "B"), [
    (("rnn", "lstm", "gru"), 100, 64, 1),
    (("rnn", "lstm", "gru"), 60, 32, 8),
    (("lstm",), 50, 96, 2),
    (("gru", "lstm"), 30, 128, 1),
])
def test_the_estimate_bounds_the_measured_peak(models, T, H, B):
    config = Config(models=models, seq_len=T, hidden_size=H, batch_size=B)
    peak = _peak(config)
    assert peak <= estimate_bytes(config)
    assert estimate_bytes(config) < 8 * peak  # an estimate, not a blanket refusal


@pytest.mark.parametrize("config", [
    Config(models=("lstm", "gru"), seq_len=64, hidden_size=256),  # stacks built in chunks
    Config(models=("slstm",), seq_len=48, hidden_size=256, num_layers=2),
])
def test_the_estimate_bounds_chunked_and_stacked_runs(config):
    """At big H the exact norms build their stacks a chunk at a time, one layer after the
    other: the estimate counts that transient once (per parallel model), not per t."""
    peak = _peak(config)
    assert peak <= estimate_bytes(config) < 8 * peak


def test_every_size_the_settings_dock_allows_fits_a_16_gib_machine_at_batch_1():
    """T = 1000, H = 512, 4 layers of three models peak near 2 GiB, not the 25 GiB a
    per-step count of the Jacobian stacks said (they are built in chunks)."""
    stack = Config(models=("rnn", "lstm", "gru"), seq_len=1000, hidden_size=512, num_layers=4)
    check_memory(stack, available=16 * 2**30)
    assert estimate_bytes(stack) < 2.5 * 2**30


def test_compute_runs_and_files_refuse_before_allocating(tmp_path, monkeypatch):
    monkeypatch.setattr(config_module, "available_memory", lambda: 2**20)
    with pytest.raises(ConfigError, match="need about .* of memory; this machine has 1 MiB"):
        compute_runs(Config())
    p = tmp_path / "c.toml"
    p.write_text("[settings]\nseq_len = 20\n")
    with pytest.raises(ConfigError, match=r"c.toml: seq_len = 20, hidden_size = 16"):
        load_config(p)


def test_export_of_settings_too_large_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    p = tmp_path / "big.toml"
    p.write_text('[settings]\nmodels = ["rnn", "lstm", "gru"]\nseq_len = 1000\n'
                 "hidden_size = 512\nbatch_size = 256\n")
    monkeypatch.setattr(config_module, "available_memory", lambda: 16 * 2**30)
    out = tmp_path / "out"
    out.mkdir()
    status = cli.main(["export", "--config", str(p), "--out", str(out), "--format", "csv"])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "big.toml: seq_len = 1000" in err[0] and "70.8 GiB" in err[0]
    assert list(out.iterdir()) == []


def test_the_settings_dock_largest_values_give_a_message_not_a_memory_error(
        make_window, qtbot, monkeypatch):
    monkeypatch.setattr(config_module, "available_memory", lambda: 16 * 2**30)
    window = make_window()
    before = window.session.config
    with qtbot.waitSignal(window.recomputer.failed, timeout=10000) as signal:
        window.request_config(LARGEST)
    assert "need about 70.8 GiB of memory" in signal.args[0]
    assert window.session.config == before
