"""Every loader of a user's file (configuration, lecture, weights) answers a broken, huge,
deeply nested or oddly encoded file with the project's own error and one clear message:
never a RecursionError, UnicodeDecodeError, zlib.error, MemoryError or TypeError."""

import io
import os
import stat
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmviz import engine
from lstmviz.config import (
    MAX_TOML_BYTES,
    TASK_MIN_SEQ_LEN,
    TASKS,
    Config,
    ConfigError,
    load_config,
    save_config,
)
from lstmviz.engine import WeightFileError, build_model, load_weights, save_weights, weights_io
from lstmviz.engine.tasks import make_task
from lstmviz.walkthrough import WalkthroughError, load_walkthrough

SETTINGS = '[settings]\nmodels = ["gru"]\nseq_len = 7\nhidden_size = 4\n'
LECTURE = ('title = "T"\n[[step]]\ntitle = "one"\nnarration = "text"\n'
           'setup = { seq_len = 5, hidden_size = 3 }\n')


# -- configuration and lecture files -----------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_bom_files_load_as_their_encoding(tmp_path, encoding):
    p = tmp_path / "c.toml"
    text = SETTINGS + "# é\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    p.write_bytes(data)
    assert load_config(p).models == ("gru",)
    w = tmp_path / "w.toml"
    w.write_bytes(LECTURE.encode("utf-8-sig"))
    assert load_walkthrough(w).title == "T"


def test_utf16_without_a_bom_is_one_clear_message(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(SETTINGS.encode("utf-16-le"))
    with pytest.raises(ConfigError, match=r"c.toml: not UTF-8 text \(it looks like UTF-16"):
        load_config(p)
    p.write_bytes(b"task = '\xff\xfe\xfa'\n")
    with pytest.raises(ConfigError, match="byte 0xff at position 8; save the file as UTF-8"):
        load_config(p)


@pytest.mark.parametrize("doc", ["v = " + "[" * 2000 + "]" * 2000,
                                 "v = " + "{a = " * 2000 + "1" + "}" * 2000,
                                 "v = " + "[" * 40 + "]" * 40])
def test_deep_nesting_is_one_message_not_a_recursion_error(tmp_path, doc):
    p = tmp_path / "deep.toml"
    p.write_text(doc)
    with pytest.raises(ConfigError, match="deep.toml: arrays or tables nested too deeply"):
        load_config(p)
    with pytest.raises(WalkthroughError, match="nested too deeply"):
        load_walkthrough(p)


def test_huge_files_and_devices_are_refused_by_size_before_reading(tmp_path):
    with pytest.raises(ConfigError, match="/dev/zero: more than 1024 KiB; too large"):
        load_config("/dev/zero")
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (MAX_TOML_BYTES + 1))
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=r"big.toml: 1,048,577 bytes is too large"):
            load_config(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_echoed_values_are_truncated(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(f'[settings]\ntask = "{"x" * 1000}"\n')
    with pytest.raises(ConfigError) as err:
        load_config(p)
    message = str(err.value)
    assert "c.toml: task: expected one of" in message
    assert len(message) < 250 and "(1,002 characters)" in message
    with pytest.raises(ConfigError) as err:
        Config.from_dict({"models": ["q" * 5000]})
    assert len(str(err.value)) < 250


def test_adding_task_with_one_step_is_rejected_naming_file_and_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[settings]\ntask = "adding"\nseq_len = 1\n')
    with pytest.raises(ConfigError, match=r"c.toml: seq_len: 1 is too short for task = 'adding'"):
        load_config(p)


@pytest.mark.parametrize("task", TASKS)
def test_task_minimum_lengths_match_the_engine(task):
    shortest = TASK_MIN_SEQ_LEN.get(task, 1)
    make_task(task, shortest)
    Config(task=task, seq_len=shortest)
    if shortest > 1:
        with pytest.raises(engine.EngineError):
            make_task(task, shortest - 1)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_saved_configs_and_weights_are_0644(tmp_path, umask_022):
    save_config(tmp_path / "c.toml", Config())
    save_weights(tmp_path / "w.npz", build_model("lstm", 1, 3))
    for name in ("c.toml", "w.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "w.npz"]


# -- weight files ------------------------------------------------------------------------
def good_arrays(kind="lstm", I=2, H=3):
    model = build_model(kind, I, H)
    return {f"{k}_l0": np.asarray(v) for k, v in model.params.items()}


def npy_bytes(a) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), allow_pickle=True)
    return buf.getvalue()


def write_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_a_npy_renamed_npz_and_a_non_zip(tmp_path):
    p = tmp_path / "one.npz"
    p.write_bytes(npy_bytes(np.zeros(3)))
    with pytest.raises(WeightFileError, match="one.npz: a single .npy array; expected an .npz"):
        load_weights(p)
    p = tmp_path / "text.npz"
    p.write_text("hello")
    with pytest.raises(WeightFileError, match="text.npz: not a readable .npz weight file"):
        load_weights(p)


def test_corrupt_deflate_stream_names_file_and_key(tmp_path):
    members = {f"{k}.npy": npy_bytes(v) for k, v in good_arrays().items()}
    p = write_zip(tmp_path / "z.npz", members, zipfile.ZIP_DEFLATED)
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo("weight_hh_l0.npy")
    start = info.header_offset + 30 + len(info.filename) + 10
    raw[start:start + 40] = bytes(range(40))
    p.write_bytes(bytes(raw))
    with pytest.raises(WeightFileError, match="z.npz: weight_hh_l0: a broken array"):
        load_weights(p)


@pytest.mark.parametrize(("value", "message"), [
    (np.array([object(), 1], dtype=object), "expected an array of numbers, got dtype object"),
    (np.zeros((12, 3), dtype=np.complex128), "expected real numbers, got complex dtype"),
    (np.array(["a", "b"]), "expected real numbers, got dtype <U1"),
    (np.zeros(3, dtype=[("a", "f8")]), "expected an array of numbers"),
])
def test_wrong_dtypes_are_refused_from_the_header(tmp_path, value, message):
    arrays = good_arrays()
    members = {f"{k}.npy": npy_bytes(v) for k, v in arrays.items()}
    members["weight_hh_l0.npy"] = npy_bytes(value)
    p = write_zip(tmp_path / "d.npz", members)
    with pytest.raises(WeightFileError, match=f"d.npz: weight_hh_l0: {message}"):
        load_weights(p)


def test_a_header_declaring_7_tib_is_refused_before_allocating(tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**40 - 1,)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    members = {f"{k}.npy": npy_bytes(v) for k, v in good_arrays().items()}
    members["weight_hh_l0.npy"] = buf.getvalue() + b"\0" * 64
    p = write_zip(tmp_path / "huge.npz", members)
    tracemalloc.start()
    try:
        with pytest.raises(WeightFileError, match=r"huge.npz: weight_hh_l0: declares "
                           r"\(1099511627775,\) float64 \(8 TiB\)"):
            load_weights(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000


def test_a_zip_bomb_is_refused_before_inflating(tmp_path, monkeypatch):
    monkeypatch.setattr(weights_io, "MAX_WEIGHT_BYTES", 4 * 2**20)
    members = {f"{k}.npy": npy_bytes(v) for k, v in good_arrays().items()}
    members["weight_hh_l0.npy"] = npy_bytes(np.zeros(2**21))  # 16 MiB of zeros
    p = write_zip(tmp_path / "bomb.npz", members, zipfile.ZIP_DEFLATED)
    assert p.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(WeightFileError, match="bomb.npz: weight_hh_l0: declares"):
            load_weights(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000


def test_a_header_that_lies_about_its_data_is_one_error(tmp_path):
    members = {f"{k}.npy": npy_bytes(v) for k, v in good_arrays().items()}
    members["weight_hh_l0.npy"] = npy_bytes(np.zeros((12, 3)))[:-50]
    p = write_zip(tmp_path / "short.npz", members)
    with pytest.raises(WeightFileError, match="short.npz: weight_hh_l0: a broken array"):
        load_weights(p)


def test_a_prefixed_state_dict_lists_the_keys_found(tmp_path):
    arrays = {f"lstm.{k}": v for k, v in good_arrays().items()}
    p = tmp_path / "sd.npz"
    np.savez(p, **arrays)
    with pytest.raises(WeightFileError) as err:
        load_weights(p)
    message = str(err.value)
    assert "sd.npz: missing key weight_ih_l0 (or weight_ih)" in message
    assert "keys found: lstm.bias_hh_l0, lstm.bias_ih_l0, lstm.weight_hh_l0" in message
    assert "without the 'lstm.' prefix" in message


def test_zero_input_columns_names_file_and_key(tmp_path):
    arrays = good_arrays()
    arrays["weight_ih_l0"] = np.zeros((12, 0))
    p = tmp_path / "i0.npz"
    np.savez(p, **arrays)
    with pytest.raises(WeightFileError, match=r"i0.npz: weight_ih: expected shape \(G\*H, I\)"):
        load_weights(p)


# -- fuzz: only the project's errors come out --------------------------------------------
def error_of(load, path, error) -> str:
    """The message of `error` from `load(path)`, "" when it loads; anything else escapes."""
    try:
        load(path)
    except error as exc:
        return str(exc)
    return ""


def _nested(depth: int, open_: str, close: str) -> str:
    return "v = " + open_ * depth + "1" + close * depth + "\n"


toml_texts = st.one_of(
    st.text(max_size=300),
    st.builds(lambda a, b: SETTINGS[:a] + b + SETTINGS[a:],
              st.integers(0, len(SETTINGS)), st.text(max_size=40)),
    st.builds(lambda a, b: LECTURE[:a] + b + LECTURE[a:],
              st.integers(0, len(LECTURE)), st.text(max_size=40)),
    st.builds(_nested, st.integers(0, 3000), st.sampled_from(["[", "[{a = ", "{a = "]),
              st.sampled_from(["]", "}]", "}"])),
)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1",
                             "cp1252"])


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(text=toml_texts, encoding=encodings, junk=st.binary(max_size=8))
def test_fuzz_config_and_walkthrough_loaders(tmp_path, text, encoding, junk):
    p = tmp_path / "f.toml"
    p.write_bytes(_encode(text, encoding) + junk)
    assert len(error_of(load_config, p, ConfigError)) < 600
    assert len(error_of(load_walkthrough, p, WalkthroughError)) < 1000


def _valid_npz() -> bytes:
    buf = io.BytesIO()
    arrays = good_arrays("gru", 2, 2)
    np.savez_compressed(buf, __kind__=np.array("gru"), **arrays)
    return buf.getvalue()


VALID_NPZ = _valid_npz()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID_NPZ) - 1), st.integers(0, 255)),
                      max_size=6),
       cut=st.one_of(st.none(), st.integers(0, len(VALID_NPZ))))
def test_fuzz_weight_loader(tmp_path, edits, cut):
    raw = bytearray(VALID_NPZ)
    for at, byte in edits:
        raw[at] = byte
    if cut is not None:
        raw = raw[:cut]
    p = tmp_path / "f.npz"
    p.write_bytes(bytes(raw))
    message = error_of(load_weights, p, WeightFileError)
    assert message == "" or message.startswith(f"{p}: ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(0, 2**40), max_size=4),
       descr=st.sampled_from(["<f8", "<f4", "<i8", "|b1", "<c16", "|O", "<U3", ">f8", "<m8"]))
def test_fuzz_npy_headers(tmp_path, shape, descr):
    header = {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    members = {f"{k}.npy": npy_bytes(v) for k, v in good_arrays().items()}
    members["weight_hh_l0.npy"] = buf.getvalue() + struct.pack("<d", 1.0) * 4
    p = write_zip(tmp_path / "h.npz", members)
    with pytest.raises(WeightFileError, match="h.npz: weight_hh"):
        load_weights(p)


# -- the window: one dialog per broken file, nothing escapes ------------------------------
def test_file_import_and_open_show_one_dialog_for_every_broken_file(make_window, tmp_path,
                                                                    monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    window = make_window()
    messages = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: messages.append(a[2]))
    npy = tmp_path / "a.npz"
    npy.write_bytes(npy_bytes(np.zeros(3)))
    text = tmp_path / "b.npz"
    text.write_text("not a zip")
    huge = tmp_path / "c.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    write_zip(huge, {"weight_hh_l0.npy": header.getvalue()})
    for p in (npy, text, huge):
        assert window.import_weights(p) is False
    deep = tmp_path / "deep.toml"
    deep.write_text("v = " + "[" * 2000 + "]" * 2000)
    zero = Path("/dev/zero")
    for p in (deep, zero):
        assert window.open_config(p) is False
    assert len(messages) == 5
    for p, message in zip((npy, text, huge, deep, zero), messages, strict=True):
        assert message.startswith(str(p)), message
        assert len(message) < 300


def test_long_unknown_keys_are_truncated(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(f"[settings]\n{'k' * 500} = 1\n")
    with pytest.raises(ConfigError, match=r"c.toml: k{60}… \(500 characters\): unknown setting"):
        load_config(p)
    p.write_text(f"{'q' * 500} = 1\n[settings]\nseq_len = 3\n")
    with pytest.raises(ConfigError, match=r"c.toml: q{60}… \(500 characters\): unknown key next"):
        load_config(p)


LONG = "x" * 1000
LONG_VALUES = [f'"{LONG}"', f'["{LONG}"]', '{ a = "' + LONG + '" }']


def _step_with(key: str, value: str) -> str:
    if key.startswith("claims."):
        return ('claims = [ { model = "rnn", quantity = "grad_ratio", op = "<", value = 1.0, '
                f'{key.split(".")[1]} = {value} }} ]')
    if "." in key:
        table, inner = key.split(".")
        return f"{table} = {{ {inner} = {value} }}"
    return f"{key} = {value}"


@pytest.mark.parametrize("value", LONG_VALUES)
def test_long_values_are_shortened_in_every_loader(tmp_path, value):
    """A 1,000-character value under any config key or walkthrough key is echoed cut short
    (the file and key named, the value's start and its length)."""
    from lstmviz.config import FIELDS

    messages = {}
    p = tmp_path / "c.toml"
    for key in FIELDS:
        p.write_text(f"[weights]\nlstm = {value}\n" if key == "weights"
                     else f"[settings]\n{key} = {value}\n")
        with pytest.raises(ConfigError) as err:
            load_config(p)
        messages[f"config {key}"] = str(err.value)
    w = tmp_path / "w.toml"
    for key in ("title", "narration", "setup", "docks", "cursor", "play", "highlight",
                "claims", "y_range", "setup.task", "setup.models", "cursor.phase", "cursor.t",
                "highlight.gate", "highlight.cell", "highlight.steps", "claims.quantity",
                "claims.op", "claims.model"):
        w.write_text('title = "t"\n[[step]]\n' + ('' if key == "title" else 'title = "s"\n')
                     + _step_with(key, value) + "\n")
        try:
            load_walkthrough(w)
        except (WalkthroughError, ConfigError) as exc:
            messages[f"walkthrough {key}"] = str(exc)
    assert len(messages) > len(FIELDS) + 10
    long = {k: len(m) for k, m in messages.items() if len(m) > 300}
    assert not long, long
    for where, message in messages.items():
        assert LONG[:200] not in message, where
