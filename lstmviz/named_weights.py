"""Weights named in a configuration or a lecture step: the one place they are loaded.

`Config.weights` maps a kind to a weight file: an absolute path (the config loader resolved
it against the config file's folder) or `builtin:NAME`, a trained model shipped in
lstmviz/resources/models (listed, with the command that made it, in its manifest.json).
`named_weights(config)` returns {kind: (Model, Readout or None)} (a StackedModel for a file of
several layers: hidden_size and num_layers must be the config's) for `session.compute_runs`;
files are read once and cached by (path, modification time, size), so a recompute (a new
seed, a longer sequence) never reads them again, while an edited file is read afresh.
Every problem is a ConfigError naming `weights.<kind>` and the file.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import lstmviz
from lstmviz import engine
from lstmviz.config import BUILTIN_WEIGHTS, Config, ConfigError
from lstmviz.engine.stack import num_layers_of

MODELS_DIR = lstmviz.RESOURCES / "models"
MANIFEST = MODELS_DIR / "manifest.json"

Loaded = tuple[engine.Model, engine.Readout | None]

_lock = threading.Lock()
_cache: dict[tuple[str, int, int], Loaded] = {}
#: Most files kept in the cache (a lecture names a handful).
CACHE_SIZE = 16


def builtin_models() -> dict[str, dict]:
    """The shipped models: name -> manifest entry (file, kind, command, eval_mse, ...)."""
    with open(MANIFEST, encoding="utf-8") as fh:
        return json.load(fh)["models"]


def weight_path(ref: str) -> Path:
    """The file a `weights` value names (builtin:NAME -> its file in MODELS_DIR)."""
    if ref.startswith(BUILTIN_WEIGHTS):
        name = ref[len(BUILTIN_WEIGHTS):]
        models = builtin_models()
        if name not in models:
            raise engine.WeightFileError(
                f"{ref}: no such built-in model; the built-in models are "
                + ", ".join(BUILTIN_WEIGHTS + n for n in models))
        return MODELS_DIR / models[name]["file"]
    return Path(ref)


def load_file(ref: str, kind: str) -> Loaded:
    """(Model, Readout or None) of one weight file as `kind`, cached by (path, mtime, size);
    a long path is shortened in its messages (a config may hold any string there)."""
    path = weight_path(ref)
    try:
        return _load_file(path, kind)
    except OSError as exc:  # (a path the OS refuses: longer than a file name may be)
        raise engine.WeightFileError(f"{short_path(path)}: {exc.strerror or exc}") from None
    except engine.WeightFileError as exc:
        raise engine.WeightFileError(str(exc).replace(str(path), short_path(path))) from None


def short_path(path: Path, limit: int = 200) -> str:
    """`path` for a message: whole up to `limit` characters, else its start and its end
    (the file's name) around an ellipsis, with its length."""
    text = str(path)
    if len(text) <= limit:
        return text
    return f"{text[:60]}…{text[-60:]} ({len(text):,} characters)"


def _load_file(path: Path, kind: str) -> Loaded:
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is None:  # let the loader write its message (not found, a folder, ...)
        return engine.load_weights(path, kind)
    key = (f"{kind}:{os.path.abspath(path)}", st.st_mtime_ns, st.st_size)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    loaded = engine.load_weights(path, kind)
    with _lock:
        if len(_cache) >= CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = loaded
    return loaded


def named_weights(config: Config, source: str | None = None) -> dict[str, Loaded]:
    """{kind: (Model, Readout or None)} for every model `config.weights` names.

    A file that cannot be read, holds another kind, or a model whose hidden size is not
    config.hidden_size, is a ConfigError naming `weights.<kind>` (and `source`)."""
    where = f"{source}: " if source else ""
    out: dict[str, Loaded] = {}
    for kind, ref in config.weights:
        try:
            model, readout = load_file(ref, kind)
        except engine.WeightFileError as exc:
            raise ConfigError(f"{where}weights.{kind}: {exc}") from None
        if model.hidden_size != config.hidden_size:
            raise ConfigError(
                f"{where}weights.{kind}: {ref} holds a model with hidden size "
                f"{model.hidden_size}, but hidden_size = {config.hidden_size}; set "
                f"hidden_size = {model.hidden_size} (or leave it out to take the file's)")
        if num_layers_of(model) != config.num_layers:
            raise ConfigError(
                f"{where}weights.{kind}: {ref} holds a model of {num_layers_of(model)} "
                f"layer(s), but num_layers = {config.num_layers}; set num_layers = "
                f"{num_layers_of(model)} (or leave it out to take the file's)")
        out[kind] = (model, readout)
    return out


def adopt_hidden_size(config: Config, source: str | None = None, *, keep: bool = False,
                      keep_layers: bool = False) -> Config:
    """`config` with hidden_size and num_layers taken from its named weights where the files
    agree (unless `keep` / `keep_layers`: the file set hidden_size / num_layers itself), each
    file checked (named_weights' errors): a two-layer file makes num_layers 2."""
    sizes, layers = set(), set()
    for kind, ref in config.weights:
        try:
            model = load_file(ref, kind)[0]
        except engine.WeightFileError as exc:
            where = f"{source}: " if source else ""
            raise ConfigError(f"{where}weights.{kind}: {exc}") from None
        sizes.add(model.hidden_size)
        layers.add(num_layers_of(model))
    if not keep and len(sizes) == 1:
        config = config.replace(hidden_size=sizes.pop())
    if not keep_layers and len(layers) == 1:
        config = config.replace(num_layers=layers.pop())
    named_weights(config, source)
    return config
