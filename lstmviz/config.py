"""Typed configuration of one visualisation: validation with clear errors, TOML in and out.

A `Config` is immutable; `config.replace(**changes)` returns a validated copy. Every
error is a `ConfigError` whose message names the key (and file, when loaded from one).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

MODEL_KINDS = ("rnn", "lstm", "gru")
ACTIVATIONS = ("tanh", "relu", "sigmoid")
INITS = ("pytorch", "xavier", "orthogonal")
TASKS = ("impulse", "noise", "sine", "adding", "recall")
LOSS_WHERE = ("last", "every")

#: Inclusive ranges of the numeric settings: (low, high).
RANGES: dict[str, tuple[float, float]] = {
    "hidden_size": (1, 512),
    "seq_len": (1, 1000),
    "batch_size": (1, 256),
    "seed": (0, 2**31 - 1),
    "weight_scale": (0.01, 10.0),
    "forget_bias": (-20.0, 20.0),
}

#: One line per setting, used for tooltips and error messages.
HELP: dict[str, str] = {
    "models": "Which networks to unroll on the same input (several = compare mode).",
    "hidden_size": "Number of hidden units H of every model.",
    "seq_len": "Sequence length T: how many timesteps the network is unrolled over.",
    "batch_size": "Sequences per batch; plots show the batch as a whole.",
    "task": "The input sequence and target the loss is computed against.",
    "activation": "Nonlinearity phi of the vanilla RNN.",
    "init": "Weight initialisation scheme.",
    "weight_scale": (
        "Largest singular value of each recurrent weight block; below 1 the RNN's "
        "gradient must vanish, well above 1 it can explode. Empty: as initialised."
    ),
    "forget_bias": "Bias of the LSTM forget gate; large values keep f near 1.",
    "seed": "Random seed of weights and input: the same seed gives the same lecture.",
    "loss_where": (
        "Loss at the last step only (the error must travel back T steps) or at every step."
    ),
}


class ConfigError(ValueError):
    """A setting is missing, of the wrong type or out of range; the message names it."""


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


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
    # Not part of equality-relevant numerics, but kept with the config file.
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    # -- validation -----------------------------------------------------------------
    def validate(self, source: str | None = None) -> None:
        """Raise ConfigError naming the first bad key."""
        w = _where(source)
        models = self.models
        if isinstance(models, str) or not isinstance(models, tuple | list):
            raise ConfigError(f"{w}models: expected a list of {list(MODEL_KINDS)}, got {models!r}")
        if not models:
            raise ConfigError(f"{w}models: choose at least one of {list(MODEL_KINDS)}")
        for m in models:
            if m not in MODEL_KINDS:
                raise ConfigError(
                    f"{w}models: unknown model {m!r}; expected one of {list(MODEL_KINDS)}"
                )
        if len(set(models)) != len(models):
            raise ConfigError(f"{w}models: {list(models)} names a model twice")
        for key, options in (
            ("task", TASKS),
            ("activation", ACTIVATIONS),
            ("init", INITS),
            ("loss_where", LOSS_WHERE),
        ):
            value = getattr(self, key)
            if value not in options:
                raise ConfigError(f"{w}{key}: expected one of {list(options)}, got {value!r}")
        for key in ("hidden_size", "seq_len", "batch_size", "seed"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{w}{key}: expected an integer, got {value!r}")
            self._check_range(key, value, w)
        for key in ("weight_scale", "forget_bias"):
            value = getattr(self, key)
            if value is None and key == "weight_scale":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{w}{key}: expected a number, got {value!r}")
            if value != value:  # NaN
                raise ConfigError(f"{w}{key}: expected a number, got nan")
            self._check_range(key, value, w)

    @staticmethod
    def _check_range(key: str, value: float, w: str) -> None:
        lo, hi = RANGES[key]
        if not lo <= value <= hi:
            raise ConfigError(f"{w}{key}: {value!r} is out of range; expected {lo:g} to {hi:g}")

    # -- conversion -----------------------------------------------------------------
    def replace(self, **changes: Any) -> Config:
        """A validated copy with `changes` applied (unknown keys are errors)."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise ConfigError(f"unknown setting {sorted(unknown)[0]!r}; expected one of {FIELDS}")
        if "models" in changes:
            changes["models"] = tuple(changes["models"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for TOML; weight_scale None is written as the string "none"."""
        d: dict[str, Any] = {k: getattr(self, k) for k in FIELDS}
        d["models"] = list(self.models)
        if d["weight_scale"] is None:
            d["weight_scale"] = "none"
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None,
                  base: Config | None = None) -> Config:
        """Build from a (partial) mapping on top of `base`; unknown keys are errors."""
        w = _where(source)
        if not isinstance(data, dict):
            raise ConfigError(f"{w}expected a table of settings, got {type(data).__name__}")
        unknown = [k for k in data if k not in FIELDS]
        if unknown:
            raise ConfigError(f"{w}{unknown[0]}: unknown setting; expected one of {list(FIELDS)}")
        values = dict(data)
        if values.get("weight_scale") in ("none", "None", ""):
            values["weight_scale"] = None
        if "models" in values:
            models = values["models"]
            if isinstance(models, str):
                models = [models]
            if not isinstance(models, list | tuple):
                raise ConfigError(
                    f"{w}models: expected a list of {list(MODEL_KINDS)}, got {models!r}"
                )
            values["models"] = tuple(models)
        for key in ("weight_scale", "forget_bias"):  # TOML integers are fine for floats
            v = values.get(key)
            if isinstance(v, int) and not isinstance(v, bool):
                values[key] = float(v)
        try:
            return dataclasses.replace(base or cls(), **values)
        except ConfigError as exc:
            if source and not str(exc).startswith(w):
                raise ConfigError(f"{w}{exc}") from None
            raise


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Config) if f.name != "extra")


def read_toml(path: Path, error: type[ValueError], label: str | None = None) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file raises `error` whose
    message starts with `label` (default: the path)."""
    label = label or str(path)
    where = "" if label == str(path) else f" ({path})"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{label}: file not found{where}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{label}: cannot read ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{label}: not valid TOML ({exc})") from None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read a TOML configuration file ([settings] table or top-level keys)."""
    path = Path(path)
    data = read_toml(path, ConfigError)
    if "settings" in data and isinstance(data["settings"], dict):
        extra = {k: v for k, v in data.items() if k != "settings"}
        if extra:
            raise ConfigError(f"{path}: {next(iter(extra))}: unknown key next to [settings]")
        data = data["settings"]
    return Config.from_dict(data, source=str(path))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_config(path: str | os.PathLike[str], config: Config) -> None:
    """Write the configuration as TOML, atomically."""
    text = "# lstmviz configuration\n[settings]\n" + tomli_w.dumps(config.to_dict())
    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
