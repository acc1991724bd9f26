"""Save and load one layer's weights as .npz with PyTorch state_dict keys.

Files hold "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", metadata "__kind__" and
"__activation__" (0-d string arrays), and optionally "readout.weight" / "readout.bias".
Loading also accepts the keys without "_l0" (and ignores a leading "rnn." style prefix-free file).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .activations import ACTIVATIONS
from .errors import WeightFileError
from .model import CELLS, KINDS, PARAM_NAMES, Model, check_choice, param_shapes
from .readout import Readout


def save_weights(path: str | os.PathLike, model: Model, readout: Readout | None = None) -> None:
    """Write model (and readout) to `path` atomically: a temp file in the same folder, then
    os.replace, so a crash never leaves a half-written file."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {f"{k}_l0": np.asarray(model.params[k]) for k in PARAM_NAMES}
    arrays["__kind__"] = np.array(model.kind)
    arrays["__activation__"] = np.array(model.activation)
    if readout is not None:
        arrays["readout.weight"] = readout.weight
        arrays["readout.bias"] = readout.bias
    atomic_savez(path, arrays)


def atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez into a temporary file beside `path`, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise WeightFileError(f"{path}: weight file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise WeightFileError(f"{path}: expected an .npz archive of named arrays")
            return {k: data[k] for k in data.files}
    except WeightFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise WeightFileError(f"{path}: not a readable .npz weight file ({exc})") from exc


def _meta(path: Path, arrays: dict[str, np.ndarray], key: str) -> str | None:
    if key not in arrays:
        return None
    a = arrays[key]
    if a.dtype.kind != "U" or a.ndim != 0:
        raise WeightFileError(f"{path}: {key}: expected a string, got {a.dtype} {a.shape}")
    return str(a)


def load_weights(
    path: str | os.PathLike, kind: str | None = None, *, model: Model | None = None
) -> tuple[Model, Readout | None]:
    """Read a weight file -> (Model, Readout or None).

    kind comes from `kind`, else `model.kind`, else the file's "__kind__", else the ratio of
    weight_hh's rows to its columns (H -> rnn, 3H -> gru, 4H -> lstm). With `model`, shapes must
    match that model and its activation is kept unless the file names one.
    """
    path = Path(path)
    arrays = _read(path)
    params: dict[str, np.ndarray] = {}
    for name in PARAM_NAMES:
        for key in (f"{name}_l0", name):
            if key in arrays:
                params[name] = arrays[key]
                break
        else:
            raise WeightFileError(f"{path}: missing key {name}_l0 (or {name})")
    for key in arrays:
        if key.endswith(("_l1", "_reverse")):
            raise WeightFileError(
                f"{path}: {key}: only single-layer, one-direction weights are supported"
            )
    for name, a in params.items():
        if a.dtype.kind not in "biuf":
            raise WeightFileError(f"{path}: {name}: expected real numbers, got dtype {a.dtype}")
    file_kind = _meta(path, arrays, "__kind__")
    activation = _meta(path, arrays, "__activation__")
    whh = params["weight_hh"]
    if whh.ndim != 2 or whh.shape[1] < 1:
        raise WeightFileError(
            f"{path}: weight_hh: expected shape (G*H, H) with G in 1, 3, 4, got {whh.shape}"
        )
    H = whh.shape[1]
    inferred = {1: "rnn", 3: "gru", 4: "lstm"}.get(
        whh.shape[0] // H if whh.shape[0] % H == 0 else 0
    )
    for source, value in (("kind", kind), ("model", model and model.kind), ("__kind__", file_kind)):
        if value is not None:
            try:
                check_choice("kind", value, KINDS)
            except ValueError as exc:
                raise WeightFileError(f"{path}: {source}: {exc}") from exc
    want = kind or (model.kind if model is not None else None) or file_kind or inferred
    if want is None:
        raise WeightFileError(
            f"{path}: weight_hh: cannot infer the kind from shape {whh.shape} "
            "(expected (H, H), (3H, H) or (4H, H))"
        )
    if file_kind is not None and file_kind != want:
        raise WeightFileError(f"{path}: __kind__: file holds a {file_kind} model, expected {want}")
    if activation is None:
        activation = model.activation if model is not None else "tanh"
    if activation not in ACTIVATIONS:
        raise WeightFileError(
            f"{path}: __activation__: expected one of {ACTIVATIONS}, got {activation!r}"
        )
    wih = params["weight_ih"]
    if wih.ndim != 2:
        raise WeightFileError(f"{path}: weight_ih: expected a 2-D array, got shape {wih.shape}")
    I = model.input_size if model is not None else wih.shape[1]
    if model is not None and model.hidden_size != H:
        raise WeightFileError(
            f"{path}: weight_hh: expected shape {model.params['weight_hh'].shape}, got {whh.shape}"
        )
    G = CELLS[want].N_GATES
    for name, shape in param_shapes(want, I, H).items():
        got = params[name].shape
        if got != shape:
            raise WeightFileError(
                f"{path}: {name}: expected shape {shape} for a {want} with H={H}, I={I}"
                f" ({G} gate{'s' if G > 1 else ''}), got {got}"
            )
    readout = None
    if "readout.weight" in arrays or "readout.bias" in arrays:
        w = arrays.get("readout.weight")
        b = arrays.get("readout.bias")
        if w is None or b is None:
            missing = "readout.weight" if w is None else "readout.bias"
            raise WeightFileError(f"{path}: missing key {missing}")
        if w.ndim != 2 or w.shape[1] != H:
            raise WeightFileError(f"{path}: readout.weight: expected shape (O, {H}), got {w.shape}")
        if b.shape != (w.shape[0],):
            raise WeightFileError(
                f"{path}: readout.bias: expected shape ({w.shape[0]},), got {b.shape}"
            )
        readout = Readout(w.astype(np.float64), b.astype(np.float64))
    return Model(want, I, H, activation, params), readout
