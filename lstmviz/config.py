"""Typed configuration of one visualisation: validation with clear errors, TOML in and out.

A `Config` is immutable; `config.replace(**changes)` returns a validated copy. Every
error is a `ConfigError` whose message names the key (and file, when loaded from one).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from lstmviz.engine import cells
from lstmviz.engine.activations import ACTIVATIONS
from lstmviz.engine.errors import EngineError
from lstmviz.engine.files import atomic_write_bytes  # noqa: F401  (re-exported: one writer)


def model_kinds() -> tuple[str, ...]:
    """Every model kind a configuration may name: the cell registry, in course order."""
    return cells.kinds()


def inits() -> tuple[str, ...]:
    """Every initialisation scheme some kind offers, in course order (a kind without the
    chosen one uses its own default, and the app says so: engine.options_for)."""
    out: list[str] = []
    for k in cells.kinds():
        out.extend(i for i in cells.get(k).inits if i not in out)
    return tuple(out)


def __getattr__(name: str):
    """MODEL_KINDS and INITS are read from the registry when asked (registered kinds too)."""
    if name == "MODEL_KINDS":
        return model_kinds()
    if name == "INITS":
        return inits()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


TASKS = ("impulse", "noise", "sine", "adding", "recall")
LOSS_WHERE = ("last", "every")

#: Inclusive ranges of the numeric settings: (low, high).
RANGES: dict[str, tuple[float, float]] = {
    "hidden_size": (1, 512),
    "num_layers": (1, 4),
    "seq_len": (1, 1000),
    "batch_size": (1, 256),
    "seed": (0, 2**31 - 1),
    "weight_scale": (0.01, 10.0),
    "forget_bias": (-20.0, 20.0),
}

#: Shortest sequence each task can be built for (the engine refuses shorter; a test checks
#: this table against engine.tasks).
TASK_MIN_SEQ_LEN: dict[str, int] = {"adding": 2}

#: One line per setting, used for tooltips and error messages.
HELP: dict[str, str] = {
    "models": "Which networks to unroll on the same input (several = compare mode).",
    "hidden_size": "Number of hidden units H of every model.",
    "num_layers": (
        "Stacked recurrent layers of every model, 1 to 4 (PyTorch's num_layers: layer l's "
        "outputs are layer l+1's inputs, no dropout; the readout sees the top layer)."
    ),
    "seq_len": "Sequence length T: how many timesteps the network is unrolled over.",
    "batch_size": "Sequences per batch; plots show the batch as a whole.",
    "task": "The input sequence and target the loss is computed against.",
    "activation": "Nonlinearity phi of the kinds that have one (RNN; IndRNN: relu or tanh).",
    "init": "Weight initialisation scheme (a kind without it uses its own default).",
    "weight_scale": (
        "Largest singular value of each recurrent weight block (IndRNN: max |u|); below 1 "
        "the RNN's gradient must vanish, well above 1 it can explode. Empty: as "
        "initialised. Kinds without recurrent weights ignore it."
    ),
    "forget_bias": "Bias of the forget gate (LSTM, minLSTM, sLSTM); large values keep f "
                   "near 1.",
    "kind_options": (
        "Per-kind options, a table per kind, e.g. [settings.kind_options.lru] r_min = 0.99 "
        "or [settings.kind_options.slstm] forget_gate = \"exp\" (each kind's init and "
        "equation options; they override the shared settings above for that kind)."
    ),
    "seed": "Random seed of weights and input: the same seed gives the same lecture.",
    "loss_where": (
        "Loss at the last step only (the error must travel back T steps) or at every step."
    ),
    "weights": (
        "Trained weights per model: a weight file (.npz or .safetensors; relative to the "
        "config file) or builtin:NAME (a model shipped with lstmviz). Unnamed models are "
        "built from the settings."
    ),
}

#: A `weights` value naming a model shipped in lstmviz/resources/models (lstmviz.named_weights).
BUILTIN_WEIGHTS = "builtin:"


class ConfigError(ValueError):
    """A setting is missing, of the wrong type or out of range; the message names it."""


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


#: Longest echo of a user's value in an error message.
ECHO_CHARS = 60


def short_text(text: str, limit: int = ECHO_CHARS) -> str:
    """`text` cut to `limit` characters for an error message, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def short_repr(value: Any, limit: int = ECHO_CHARS) -> str:
    """repr(value) for an error message, cut to `limit` characters (a 1,000-character
    string is shown as its start, an ellipsis and its length)."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # a deeply nested list; a huge int (sys limits)
        text = f"<{type(value).__name__}>"
    return short_text(text, limit)


@dataclass(frozen=True)
class Config:
    """Everything that determines the computed runs. Defaults show the phenomenon."""

    models: tuple[str, ...] = ("rnn", "lstm")
    hidden_size: int = 16
    seq_len: int = 40
    batch_size: int = 1
    task: str = "noise"
    activation: str = "tanh"
    init: str = "pytorch"
    weight_scale: float | None = 0.9
    forget_bias: float = 1.0
    seed: int = 0
    loss_where: str = "last"
    #: kind -> {option: value} (a dict in, stored as sorted pairs so a Config stays hashable)
    kind_options: Any = ()
    #: (kind, weight file) pairs, sorted by kind: an absolute path or "builtin:NAME". Set as
    #: a mapping ({kind: "models/x.npz"}); from_dict resolves relative paths.
    weights: tuple[tuple[str, str], ...] = ()
    #: stacked layers per model (engine.stack), 1 to 4
    num_layers: int = 1
    # Not part of equality-relevant numerics, but kept with the config file.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.weights, Mapping):
            try:
                object.__setattr__(self, "weights", tuple(sorted(self.weights.items())))
            except TypeError:  # a non-string key; validate names it
                object.__setattr__(self, "weights", tuple(self.weights.items()))
        self.validate()

    @property
    def weight_files(self) -> dict[str, str]:
        """kind -> weight file (absolute path or builtin:NAME) of the models named in weights."""
        return dict(self.weights)

    # -- validation -----------------------------------------------------------------
    def validate(self, source: str | None = None) -> None:
        """Raise ConfigError naming the first bad key."""
        w = _where(source)
        models = self.models
        MODEL_KINDS = model_kinds()  # noqa: N806  (the registry, read now)
        if isinstance(models, str) or not isinstance(models, tuple | list):
            raise ConfigError(f"{w}models: expected a list of {list(MODEL_KINDS)}, "
                              f"got {short_repr(models)}")
        if not models:
            raise ConfigError(f"{w}models: choose at least one of {list(MODEL_KINDS)}")
        MODEL_KINDS = model_kinds()  # noqa: N806  (the registry, read now)
        for m in models:
            if m not in MODEL_KINDS:
                raise ConfigError(
                    f"{w}models: unknown model {short_repr(m)}; expected one of "
                    f"{list(MODEL_KINDS)}"
                )
        if len(set(models)) != len(models):
            raise ConfigError(f"{w}models: {short_repr(list(models))} names a model twice")
        for key, options in (
            ("task", TASKS),
            ("activation", ACTIVATIONS),
            ("init", inits()),
            ("loss_where", LOSS_WHERE),
        ):
            value = getattr(self, key)
            if value not in options:
                raise ConfigError(f"{w}{key}: expected one of {list(options)}, "
                                  f"got {short_repr(value)}")
        for key in ("hidden_size", "seq_len", "batch_size", "seed", "num_layers"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{w}{key}: expected an integer, got {short_repr(value)}")
            self._check_range(key, value, w)
        for key in ("weight_scale", "forget_bias"):
            value = getattr(self, key)
            if value is None and key == "weight_scale":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{w}{key}: expected a number, got {short_repr(value)}")
            if value != value:  # NaN
                raise ConfigError(f"{w}{key}: expected a number, got nan")
            self._check_range(key, value, w)
        object.__setattr__(self, "kind_options", _check_kind_options(self.kind_options, w))
        weights = self.weights
        if not isinstance(weights, tuple) or not all(
                isinstance(p, tuple) and len(p) == 2 for p in weights):
            raise ConfigError(f"{w}weights: expected a table of model = \"weight file\", "
                              f"got {short_repr(weights)}")
        for kind, ref in weights:
            if kind not in MODEL_KINDS:
                raise ConfigError(f"{w}weights: unknown model {short_repr(kind)}; expected "
                                  f"some of {list(MODEL_KINDS)}")
            if kind not in models:
                raise ConfigError(f"{w}weights.{kind}: {kind} is not among models "
                                  f"{list(models)}; add it there or remove these weights")
            if not isinstance(ref, str) or not ref.strip():
                raise ConfigError(f"{w}weights.{kind}: expected a weight file path or "
                                  f"\"{BUILTIN_WEIGHTS}NAME\", got {short_repr(ref)}")
        shortest = TASK_MIN_SEQ_LEN.get(self.task, 1)
        if self.seq_len < shortest:
            raise ConfigError(f"{w}seq_len: {self.seq_len} is too short for task = "
                              f"{self.task!r}; it needs at least {shortest} steps")

    @staticmethod
    def _check_range(key: str, value: float, w: str) -> None:
        lo, hi = RANGES[key]
        if not lo <= value <= hi:
            raise ConfigError(
                f"{w}{key}: {short_repr(value)} is out of range; expected {lo:g} to {hi:g}")

    def options_of(self, kind: str) -> dict[str, Any]:
        """The kind_options table of `kind` ({} when it has none)."""
        return dict(dict(self.kind_options).get(kind, ()))

    # -- conversion -----------------------------------------------------------------
    def replace(self, **changes: Any) -> Config:
        """A validated copy with `changes` applied (unknown keys are errors)."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise ConfigError(f"unknown setting {short_repr(sorted(unknown)[0])}; "
                              f"expected one of {FIELDS}")
        if "models" in changes:
            changes["models"] = tuple(changes["models"])
            if "weights" not in changes:  # weights of a model no longer shown go with it
                changes["weights"] = tuple((k, v) for k, v in self.weights
                                           if k in changes["models"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for TOML; weight_scale None is written as the string "none"."""
        d: dict[str, Any] = {k: getattr(self, k) for k in FIELDS}
        d["models"] = list(self.models)
        d["weights"] = dict(self.weights)
        if d["weight_scale"] is None:
            d["weight_scale"] = "none"
        if self.kind_options:
            d["kind_options"] = {k: dict(v) for k, v in self.kind_options}
        else:
            del d["kind_options"]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None,
                  base: Config | None = None, base_dir: str | os.PathLike | None = None
                  ) -> Config:
        """Build from a (partial) mapping on top of `base`; unknown keys are errors.

        `weights` (a table kind -> file) replaces base's weights as a whole; a relative file
        is resolved against `base_dir` (the folder of the file it came from; default: the
        working directory). Changing `models` without `weights` keeps base's weights of the
        models still shown."""
        w = _where(source)
        if not isinstance(data, dict):
            raise ConfigError(f"{w}expected a table of settings, got {type(data).__name__}")
        unknown = [k for k in data if k not in FIELDS]
        if unknown:
            raise ConfigError(f"{w}{short_text(str(unknown[0]))}: unknown setting; "
                              f"expected one of {list(FIELDS)}")
        values = dict(data)
        if values.get("weight_scale") in ("none", "None", ""):
            values["weight_scale"] = None
        if "models" in values:
            models = values["models"]
            if isinstance(models, str):
                models = [models]
            if not isinstance(models, list | tuple):
                raise ConfigError(
                    f"{w}models: expected a list of {list(model_kinds())}, got {short_repr(models)}"
                )
            values["models"] = tuple(models)
        for key in ("weight_scale", "forget_bias"):  # TOML integers are fine for floats
            v = values.get(key)
            if isinstance(v, int) and not isinstance(v, bool):
                values[key] = float(v)
        base = base or cls()
        if "weights" in values:
            values["weights"] = resolve_weights(values["weights"], base_dir, w)
        elif "models" in values:
            values["weights"] = tuple((k, v) for k, v in base.weights if k in values["models"])
        try:
            return dataclasses.replace(base, **values)
        except ConfigError as exc:
            if source and not str(exc).startswith(w):
                raise ConfigError(f"{w}{exc}") from None
            raise


def resolve_weights(table: Any, base_dir: str | os.PathLike | None, w: str = ""
                    ) -> tuple[tuple[str, str], ...]:
    """A `weights` table as written (kind -> file) -> sorted (kind, absolute path or
    builtin:NAME) pairs; relative paths are taken from `base_dir` (else the working folder)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{w}weights: expected a table of model = \"weight file\" (e.g. "
                          f"{{ lstm = \"models/adding_lstm.npz\" }}), got {short_repr(table)}")
    pairs = []
    for kind, ref in table.items():
        if isinstance(ref, str) and ref.strip() and not ref.startswith(BUILTIN_WEIGHTS):
            if "\x00" in ref:
                raise ConfigError(f"{w}weights.{kind}: a path cannot hold a NUL character")
            path = Path(os.path.expanduser(ref))
            if not path.is_absolute():
                path = Path(base_dir or os.getcwd()) / path
            ref = os.path.abspath(path)
        pairs.append((kind, ref))
    try:
        return tuple(sorted(pairs))
    except TypeError:
        return tuple(pairs)


#: Bytes the computed runs need, measured with tracemalloc (peak over compute_runs with
#: the exact Jacobian norms). Kept for every model and layer: about 192 bytes per
#: (t, b, h) element (states, gates, gradients, caches) and BYTES_PER_WEIGHT per h x h'
#: weight entry (weights and their gradients, ~100 measured at H = 512). Transient, while
#: the exact Jacobian norms of one layer compute (at most two at once: compute_runs runs
#: two models in parallel): BYTES_PER_JACOBIAN per (t, h, h') up to JACOBIAN_CAP, since
#: the stacks are built in chunks (diagnostics._CHUNK_ENTRIES; 84-101 MiB measured at
#: H = 512 for rnn, gru, lstm and slstm, the same at T = 24 and 64, L = 1 and 2); plus a
#: base (small runs peak at 10-51 MB).
BYTES_PER_STATE = 192
BYTES_PER_WEIGHT = 160
BYTES_PER_JACOBIAN = 48
JACOBIAN_CAP = 160 * 2**20
BYTES_BASE = 48 * 2**20
#: Share of the machine's available memory a computation may plan to use.
MEMORY_SHARE = 0.8


def estimate_bytes(config: Config) -> int:
    """Peak memory of computing `config`'s runs (an upper estimate; see BYTES_PER_STATE)."""
    T, B, H = config.seq_len, config.batch_size, config.hidden_size
    models = len(config.models)
    kept = models * config.num_layers * (BYTES_PER_STATE * T * B * H + BYTES_PER_WEIGHT * H * H)
    transient = min(models, 2) * min(BYTES_PER_JACOBIAN * T * H * H, JACOBIAN_CAP)
    return kept + transient + BYTES_BASE


def available_memory() -> int | None:
    """Bytes this machine can still give (Linux MemAvailable, else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(config: Config, source: str | None = None,
                 available: int | None = None) -> None:
    """Raise ConfigError when `config`'s runs would not fit in this machine's memory (a
    clear message instead of a MemoryError half-way, or the machine swapping)."""
    available = available_memory() if available is None else available
    need = estimate_bytes(config)
    if available is None or need <= MEMORY_SHARE * available:
        return
    from lstmviz.numfmt import format_bytes

    raise ConfigError(
        f"{_where(source)}seq_len = {config.seq_len}, hidden_size = {config.hidden_size}, "
        f"batch_size = {config.batch_size} with {len(config.models)} model"
        f"{'s' if len(config.models) > 1 else ''} need about {format_bytes(need)} of memory; "
        f"this machine has {format_bytes(available)} available: make them smaller")


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Config) if f.name != "extra")


def _check_kind_options(value: Any, w: str) -> tuple:
    """kind_options as sorted ((kind, ((name, value), ...)), ...), each option validated by
    the kind (engine.cells Option); ConfigError naming kind_options.KIND.NAME otherwise."""
    if isinstance(value, tuple) and all(isinstance(v, tuple) for v in value):
        value = {k: dict(v) for k, v in value}
    if not isinstance(value, dict):
        raise ConfigError(f"{w}kind_options: expected a table of kinds, got {short_repr(value)}")
    out = []
    for kind, table in value.items():
        if kind not in model_kinds():
            raise ConfigError(f"{w}kind_options: unknown model {short_repr(kind)}; expected "
                              f"one of {list(model_kinds())}")
        if not isinstance(table, dict):
            raise ConfigError(f"{w}kind_options.{kind}: expected a table of options, got "
                              f"{short_repr(table)}")
        spec = cells.get(kind)
        specs = {o.name: o for o in (*spec.init_options, *spec.options)}
        for name, v in table.items():
            if name not in specs:
                raise ConfigError(f"{w}kind_options.{kind}: {short_text(str(name))}: not an "
                                  f"option of the {spec.label}; expected one of "
                                  f"{sorted(specs) or 'none'}")
            try:
                specs[name].check(kind, float(v) if isinstance(v, int) and not
                                  isinstance(v, bool) else v)
            except EngineError as exc:
                raise ConfigError(f"{w}kind_options.{kind}.{name}: "
                                  f"{str(exc).split(': ', 2)[-1]}") from None
        out.append((kind, tuple(sorted(table.items()))))
    return tuple(sorted(out))


#: Largest TOML file read (configurations and lectures are a few kB); refused beyond,
#: before reading (so `--config /dev/zero` cannot fill the memory).
MAX_TOML_BYTES = 1 << 20
#: Deepest nesting of arrays and tables a TOML file may have (lectures use 3).
MAX_TOML_DEPTH = 32


def _decode(raw: bytes) -> str:
    """UTF-8 with or without a BOM (Notepad writes one), UTF-16/32 with a BOM."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"),
                       (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
                       (b"\xfe\xff", "utf-16-be")):
        if raw.startswith(bom):
            return raw[len(bom):].decode(codec)
    return raw.decode("utf-8")


def _depth(value: Any) -> int:
    """Nesting depth of parsed TOML (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


def read_toml(path: Path, error: type[ValueError], label: str | None = None) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable, oversized, wrongly encoded, too deeply
    nested or malformed file raises `error` whose message starts with `label` (default:
    the path)."""
    path = Path(path)
    label = label or str(path)
    where = "" if label == str(path) else f" ({path})"
    limit = f"{MAX_TOML_BYTES // 1024} KiB"
    try:
        if path.is_file() and path.stat().st_size > MAX_TOML_BYTES:
            raise error(f"{label}: {path.stat().st_size:,} bytes is too large for a "
                        f"configuration or lecture file (at most {limit}){where}")
        with open(path, "rb") as fh:  # a device or pipe has no size: read one byte more
            raw = fh.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise error(f"{label}: file not found{where}") from None
    except IsADirectoryError:
        raise error(f"{label}: is a folder, expected a .toml file{where}") from None
    except OSError as exc:
        raise error(f"{label}: cannot read ({exc.strerror or exc}){where}") from None
    if len(raw) > MAX_TOML_BYTES:
        raise error(f"{label}: more than {limit}; too large for a configuration or "
                    f"lecture file{where}")
    try:
        text = _decode(raw)
    except UnicodeDecodeError as exc:
        raise error(f"{label}: not UTF-8 text: byte {raw[exc.start]:#04x} at "
                    f"position {exc.start}; save the file as UTF-8{where}") from None
    if "\x00" in text:  # TOML has no NUL; in a file, it means UTF-16 or UTF-32 sans BOM
        raise error(f"{label}: not UTF-8 text (it looks like UTF-16 or UTF-32 without a "
                    f"byte-order mark); save the file as UTF-8{where}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{label}: not valid TOML ({str(exc)[:200]}){where}") from None
    except RecursionError:
        data = None
    if data is None or _depth(data) > MAX_TOML_DEPTH:
        raise error(f"{label}: arrays or tables nested too deeply (at most "
                    f"{MAX_TOML_DEPTH} levels){where}")
    return data


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read a TOML configuration file ([settings] table or top-level keys)."""
    path = Path(path)
    data = read_toml(path, ConfigError)
    if "settings" in data and isinstance(data["settings"], dict):
        extra = {k: v for k, v in data.items() if k not in ("settings", "weights")}
        if extra:
            raise ConfigError(f"{path}: {short_text(next(iter(extra)))}: unknown key next to "
                              "[settings]")
        if "weights" in data["settings"] and "weights" in data:
            raise ConfigError(f"{path}: weights: given twice (in [settings] and as [weights])")
        data = {**data["settings"], **({"weights": data["weights"]} if "weights" in data
                                       else {})}
    config = Config.from_dict(data, source=str(path), base_dir=path.parent)
    if config.weights:
        from lstmviz.named_weights import adopt_hidden_size

        config = adopt_hidden_size(config, str(path), keep="hidden_size" in data,
                                   keep_layers="num_layers" in data)
    check_memory(config, str(path))
    return config


def save_config(path: str | os.PathLike[str], config: Config) -> None:
    """Write the configuration as TOML, atomically; `weights` as a [weights] table, paths
    relative to the file's folder where they are inside it."""
    settings = config.to_dict()
    weights = settings.pop("weights")
    text = "# lstmviz configuration\n" + tomli_w.dumps({"settings": settings})
    if weights:
        folder = Path(os.path.abspath(Path(path).parent))
        for kind, ref in weights.items():
            p = Path(ref)
            if not ref.startswith(BUILTIN_WEIGHTS) and p.is_relative_to(folder):
                weights[kind] = p.relative_to(folder).as_posix()
        text += "\n[weights]\n" + tomli_w.dumps(weights)
    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
