"""Save and load one layer's weights as .npz with PyTorch state_dict keys.

Files hold "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", metadata "__kind__" and
"__activation__" (0-d string arrays), and optionally "readout.weight" / "readout.bias".
Loading also accepts the keys without "_l0" (and ignores a leading "rnn." style prefix-free file).
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from lstmviz.numfmt import format_bytes

from .activations import ACTIVATIONS
from .errors import EngineError, WeightFileError
from .files import atomic_write
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
    """np.savez into a temporary file beside `path`, then rename it into place (0644)."""
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


#: Most a weight file may hold once inflated. The largest model the app accepts (an LSTM
#: with H = 512) needs 17 MB; a user's own model with a wide input may need more.
MAX_WEIGHT_BYTES = 512 * 2**20
#: Most arrays a weight file may hold (a layer has 4 parameters, a readout and metadata).
MAX_WEIGHT_ARRAYS = 64
_NPY_MAGIC = b"\x93NUMPY"
#: Any of these from zipfile, zlib or numpy means the file is broken, not the program.
_BROKEN = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
           RuntimeError, TypeError, AttributeError, KeyError, IndexError, OverflowError,
           MemoryError, UnicodeDecodeError, SyntaxError)


def _header(path: Path, key: str, fh) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an .npy header, read before any array is allocated."""
    version = npformat.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = npformat.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, dtype = npformat.read_array_header_2_0(fh)
    else:
        raise WeightFileError(f"{path}: {key}: unsupported .npy format version {version}")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise WeightFileError(f"{path}: {key}: expected an array of numbers, got dtype {dtype}")
    if dtype.kind == "c":
        raise WeightFileError(
            f"{path}: {key}: expected real numbers, got complex dtype {dtype}")
    if dtype.kind not in "biufU":
        raise WeightFileError(f"{path}: {key}: expected real numbers, got dtype {dtype}")
    return shape, dtype


def _read(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, each header checked (shape, dtype, size) before reading."""
    if not path.is_file():
        raise WeightFileError(f"{path}: weight file not found")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise WeightFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if magic == _NPY_MAGIC:
        raise WeightFileError(f"{path}: a single .npy array; expected an .npz archive of named "
                              "arrays (np.savez(path, weight_ih_l0=..., ...))")
    try:
        archive = zipfile.ZipFile(path)
    except _BROKEN as exc:
        raise WeightFileError(
            f"{path}: not a readable .npz weight file (not a zip archive: {exc})") from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        members = [m for m in archive.infolist() if m.filename.endswith(".npy")]
        if len(members) > MAX_WEIGHT_ARRAYS:
            raise WeightFileError(f"{path}: holds {len(members)} arrays; a weight file has at "
                                  f"most {MAX_WEIGHT_ARRAYS}")
        total = 0
        for member in members:
            key = member.filename[:-4]
            try:
                with archive.open(member) as fh:
                    shape, dtype = _header(path, key, fh)
                    nbytes = math.prod(shape) * dtype.itemsize
                    total += nbytes
                    if total > MAX_WEIGHT_BYTES or member.file_size > MAX_WEIGHT_BYTES:
                        raise WeightFileError(
                            f"{path}: {key}: declares {shape} {dtype} "
                            f"({format_bytes(max(nbytes, member.file_size))}); a weight file "
                            f"holds at most {format_bytes(MAX_WEIGHT_BYTES)} in all")
                with archive.open(member) as fh:
                    a = npformat.read_array(fh, allow_pickle=False)
            except WeightFileError:
                raise
            except _BROKEN as exc:
                detail = f"{type(exc).__name__}: {exc}"[:120]
                raise WeightFileError(
                    f"{path}: {key}: a broken array in the .npz ({detail})") from None
            if a.shape != tuple(shape) or a.dtype != dtype:
                raise WeightFileError(f"{path}: {key}: the array does not match its header")
            arrays[key] = a
    return arrays


def _meta(path: Path, arrays: dict[str, np.ndarray], key: str) -> str | None:
    if key not in arrays:
        return None
    a = arrays[key]
    if a.dtype.kind != "U" or a.ndim != 0:
        raise WeightFileError(f"{path}: {key}: expected a string, got {a.dtype} {a.shape}")
    return str(a)


def _keys_found(arrays: dict[str, np.ndarray], name: str) -> str:
    keys = sorted(arrays)
    shown = ", ".join(k[:60] for k in keys[:12]) + (f", … ({len(keys)} in all)"
                                                    if len(keys) > 12 else "")
    found = f"keys found: {shown}" if keys else "the file holds no arrays"
    prefixed = [k for k in keys if k.endswith((f".{name}_l0", f".{name}"))]
    if prefixed:
        prefix = prefixed[0][: prefixed[0].rindex(".") + 1]
        found += (f" (a prefixed state_dict: save it without the {prefix!r} prefix, "
                  "e.g. from the layer's own state_dict())")
    return found


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
    keys: dict[str, str] = {}  # parameter name -> the key it was found under
    for name in PARAM_NAMES:
        for key in (f"{name}_l0", name):
            if key in arrays:
                params[name] = arrays[key]
                keys[name] = key
                break
        else:
            raise WeightFileError(f"{path}: missing key {name}_l0 (or {name}); "
                                  f"{_keys_found(arrays, name)}")
    for key in arrays:
        if key.endswith(("_l1", "_reverse")):
            raise WeightFileError(
                f"{path}: {key}: only single-layer, one-direction weights are supported"
            )
    for name, a in params.items():
        if a.dtype.kind not in "biuf":
            raise WeightFileError(
                f"{path}: {keys[name]}: expected real numbers, got dtype {a.dtype}")
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
    if I < 1:
        raise WeightFileError(f"{path}: weight_ih: expected shape (G*H, I) with I >= 1, "
                              f"got {wih.shape}")
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
        for key, a in (("readout.weight", w), ("readout.bias", b)):
            if a.dtype.kind not in "biuf":
                raise WeightFileError(f"{path}: {key}: expected real numbers, got dtype {a.dtype}")
        try:
            readout = Readout(w.astype(np.float64), b.astype(np.float64))
        except EngineError as exc:
            raise WeightFileError(f"{path}: readout: {exc}") from None
    try:
        return Model(want, I, H, activation, params), readout
    except EngineError as exc:
        raise WeightFileError(f"{path}: {exc}") from None
