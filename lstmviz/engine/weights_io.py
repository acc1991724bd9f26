"""Save and load a model's weights (one layer or a stack, engine.stack), with PyTorch
state_dict keys, as .npz or .safetensors.

Files hold every parameter the kind's `param_shapes` names with a layer suffix ("weight_ih_l0",
"weight_hh_l0", ... for the LSTM; "nu_log_l0", "weight_ih_re_l0", ... for the LRU), metadata
"__kind__", "__activation__" and, for kinds with equation options, "__options__" (JSON, e.g.
{"forget_gate": "exp"}) (0-d string arrays in an .npz, the safetensors header's
"__metadata__" in a .safetensors), and optionally "readout.weight" / "readout.bias". Loading
also accepts the keys without "_l0".

Reading is header-first in both formats: every shape and dtype is checked (and the total size
bounded) before an array is allocated. `split_layers` is the one parser of the `_l<k>` and
`_reverse` suffixes; the kind is inferred by matching every registered kind's `param_shapes`
(engine.cells), so a new kind needs no table here. Where several kinds fit the keys and
shapes (an LSTM's fit the sLSTM; minGRU's and minLSTM's share keys) the file's "__kind__"
decides; without it the kind PyTorch saves (`CellKind.pytorch`) is taken if exactly one fits,
else the message names the candidates and says "__kind__" is missing. A .pt/.pth file is
never unpickled: its message gives the two-line conversion (TORCH_RECIPE, also in the README).
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from lstmviz.numfmt import format_bytes

from . import cells
from .errors import EngineError, WeightFileError
from .files import atomic_write, atomic_write_bytes
from .model import Model, _activations
from .readout import Readout
from .stack import MAX_LAYERS, StackedModel


def __getattr__(name: str):
    """KINDS: the kinds these files can hold, every registered one (read when asked)."""
    if name == "KINDS":
        return cells.kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def save_weights(path: str | os.PathLike, model: Model | StackedModel,
                 readout: Readout | None = None) -> None:
    """Write model (and readout) to `path` atomically: a temp file in the same folder, then
    os.replace, so a crash never leaves a half-written file."""
    path = Path(path)
    layers = model.layers if isinstance(model, StackedModel) else (model,)
    arrays: dict[str, np.ndarray] = {f"{k}_l{l}": np.asarray(v)
                                     for l, m in enumerate(layers) for k, v in m.params.items()}
    if readout is not None:
        arrays["readout.weight"] = readout.weight
        arrays["readout.bias"] = readout.bias
    meta = {"__kind__": model.kind, "__activation__": model.activation}
    if layers[0].options:
        meta["__options__"] = json.dumps(layers[0].options, sort_keys=True)
    if path.suffix.lower() == ".safetensors":
        from safetensors.numpy import save

        tensors = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()}
        atomic_write_bytes(path, save(tensors, metadata=meta))
        return
    arrays.update({k: np.array(v) for k, v in meta.items()})
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
    if dtype == np.float16 or (dtype.kind == "V" and dtype.itemsize == 2):
        raise WeightFileError(f"{path}: {key}: {_half(dtype)}")
    if dtype.kind == "c":
        raise WeightFileError(
            f"{path}: {key}: expected real numbers, got complex dtype {dtype}")
    if dtype.kind not in "biufU":
        raise WeightFileError(f"{path}: {key}: expected real numbers, got dtype {dtype}")
    return shape, dtype


def _half(dtype) -> str:
    name = "float16" if dtype == np.float16 or str(dtype).upper() == "F16" else "bfloat16"
    return (f"{name} tensors are not supported: save the weights as float32 or float64 "
            "(e.g. {k: v.float() for k, v in state_dict.items()})")


#: How to turn a PyTorch .pt/.pth file into one this app reads (README: "Weights").
TORCH_RECIPE = (
    'sd = torch.load("model.pt", map_location="cpu")  # or: sd = model.rnn.state_dict()\n'
    'numpy.savez("model.npz", **{k: v.double().numpy() for k, v in sd.items()})'
)


def _read(path: Path) -> dict[str, np.ndarray]:
    """Every array of a weight file (.npz, or .safetensors by extension), each header checked
    (shape, dtype, size) before reading. A .pt/.pth file is refused with TORCH_RECIPE."""
    if path.suffix.lower() in (".pt", ".pth", ".ckpt", ".bin"):
        raise WeightFileError(
            f"{path}: a PyTorch pickle ({path.suffix}); it is never unpickled here (unpickling "
            "runs code). Convert it once, in Python with torch:\n" + TORCH_RECIPE
            + "\nthen open model.npz (or save a .safetensors with safetensors.torch.save_file)")
    if not path.is_file():
        raise WeightFileError(f"{path}: weight file not found")
    if path.suffix.lower() == ".safetensors":
        return _read_safetensors(path)
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
        names = archive.namelist()
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names[:1000]):
            raise WeightFileError(
                f"{path}: a PyTorch zip pickle (torch.save), not an .npz; it is never unpickled "
                "here. Convert it once, in Python with torch:\n" + TORCH_RECIPE)
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


#: Largest safetensors JSON header read (64 arrays need a few kB).
MAX_SAFETENSORS_HEADER = 1 << 20
#: safetensors dtype names -> NumPy dtypes this app accepts.
_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "I64": np.int64, "I32": np.int32,
              "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32,
              "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_}


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file: the JSON header is read and checked (dtypes,
    shapes, offsets, total size) before `safetensors.numpy.load_file` allocates anything.
    Its "__metadata__" strings (_META_KEYS: "__kind__", ...) become 0-d string arrays."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise WeightFileError(f"{path}: not a .safetensors file ({size} bytes, too "
                                      "short for its 8-byte header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_SAFETENSORS_HEADER or n + 8 > size:
                raise WeightFileError(
                    f"{path}: not a readable .safetensors file (header length {n:,} bytes; "
                    f"the file has {size:,} bytes, a header at most "
                    f"{format_bytes(MAX_SAFETENSORS_HEADER)})")
            raw = fh.read(n)
    except OSError as exc:
        raise WeightFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WeightFileError(f"{path}: not a readable .safetensors file (its header is not "
                              f"JSON: {str(exc)[:80]})") from None
    if not isinstance(header, dict):
        raise WeightFileError(f"{path}: not a readable .safetensors file (its header is not a "
                              "JSON object)")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise WeightFileError(f"{path}: __metadata__: expected a table of strings")
    if len(header) > MAX_WEIGHT_ARRAYS:
        raise WeightFileError(f"{path}: holds {len(header)} arrays; a weight file has at "
                              f"most {MAX_WEIGHT_ARRAYS}")
    total = 0
    for key, entry in header.items():
        if not isinstance(entry, dict):
            raise WeightFileError(f"{path}: {key[:60]}: a broken header entry")
        dtype, shape = entry.get("dtype"), entry.get("shape")
        if dtype in ("F16", "BF16"):
            raise WeightFileError(f"{path}: {key}: {_half(dtype)}")
        if dtype not in _ST_DTYPES:
            raise WeightFileError(f"{path}: {key}: expected real numbers (F64, F32 or "
                                  f"integers), got dtype {short(dtype)}")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d
                           for d in shape)):
            raise WeightFileError(f"{path}: {key}: a broken shape {short(shape)}")
        nbytes = math.prod(shape) * np.dtype(_ST_DTYPES[dtype]).itemsize
        total += nbytes
        if total > MAX_WEIGHT_BYTES or total > size:
            raise WeightFileError(
                f"{path}: {key}: declares {tuple(shape)} {dtype} ({format_bytes(nbytes)}); "
                f"a weight file holds at most {format_bytes(min(MAX_WEIGHT_BYTES, size))} "
                "in all")
    from safetensors.numpy import load_file

    try:
        arrays = dict(load_file(str(path)))
    except Exception as exc:  # the package's own SafetensorError, OSError, ...
        detail = f"{type(exc).__name__}: {exc}"[:120]
        raise WeightFileError(f"{path}: not a readable .safetensors file ({detail})") from None
    for key in _META_KEYS:
        if key in meta:
            arrays[key] = np.array(str(meta[key]))
    return arrays


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


_LAYER_KEY = re.compile(r"^(?P<name>.+?)_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
_META_KEYS = ("__kind__", "__activation__", "__options__")


def split_layers(path: Path, arrays: dict[str, np.ndarray]) -> list[dict[str, str]]:
    """The parameter keys of each layer: [{parameter name: key in the file}, ...], bottom
    layer first. The one parser of PyTorch's suffixes: "weight_ih_l0" (layer 0), a bare
    "weight_ih" (a single layer), "_reverse" (bidirectional: one clear error). A gap in the
    layers (l0 and l2 but no l1) or a parameter missing from some layers is an error naming
    it. "readout.*" and the metadata keys are not layer parameters."""
    layers: dict[int, dict[str, str]] = {}
    bare: dict[str, str] = {}
    reverse = []
    for key in arrays:
        if key.startswith("readout.") or key in _META_KEYS:
            continue
        m = _LAYER_KEY.match(key)
        if m is None:
            bare[key] = key
        elif m["reverse"]:
            reverse.append(key)
        else:
            layers.setdefault(int(m["layer"]), {})[m["name"]] = key
    if reverse:
        raise WeightFileError(
            f"{path}: {reverse[0]}: a bidirectional model (bidirectional=True: "
            f"{len(reverse)} _reverse key{'s' if len(reverse) > 1 else ''}); bidirectional "
            "models are not supported yet: save the forward direction's keys only")
    if not layers:
        return [bare]
    if bare:
        layers.setdefault(0, {})
        for name, key in bare.items():
            layers[0].setdefault(name, key)
    top = max(layers)
    for l in range(top + 1):
        if l not in layers:
            raise WeightFileError(
                f"{path}: missing layer {l}: the file has keys for layers "
                f"{sorted(layers)} (e.g. {next(iter(layers[top].values()))}) but none ending "
                f"_l{l}")
    names = [n for n in layers[0]]
    for l in range(1, top + 1):
        for name in names:
            if name not in layers[l] and name not in bare:
                raise WeightFileError(f"{path}: missing key {name}_l{l}: layer {l} lacks a "
                                      f"parameter layer 0 has")
    return [layers[l] for l in range(top + 1)]


def infer_kinds(params: dict[str, np.ndarray]
                ) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """(exact, partial): every registered kind (course order) whose `param_shapes(I, H)`
    equals the shapes of `params` for some I, H taken from the arrays' own sizes, as
    [(kind, I, H), ...]; and the kinds whose matrices (2-D parameters) all match, so that a
    message can name the one vector of the wrong shape."""
    got = {k: tuple(a.shape) for k, a in params.items()}
    sizes = sorted({d for shape in got.values() for d in shape})
    # H may be a fraction of a stacked dimension (4H rows for an LSTM): try divisors too
    hidden = sorted({d // g for d in sizes for g in range(1, 9) if d % g == 0} | {0})
    exact, partial = [], []
    for kind in cells.kinds():
        shapes_of = cells.get(kind).param_shapes
        if set(shapes_of(1, 1)) != set(got):
            continue
        for H in hidden:
            for I in sizes:
                want = shapes_of(I, H)
                if want == got:
                    exact.append((kind, I, H))
                elif all(want[k] == s for k, s in got.items() if 2 in (len(want[k]), len(s))):
                    partial.append((kind, I, H))
    return _first_per_kind(exact), _first_per_kind(partial)


def _first_per_kind(found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    seen: dict[str, tuple[str, int, int]] = {}
    for match in found:
        seen.setdefault(match[0], match)
    return list(seen.values())


def _closest_kind(names: set[str]) -> str:
    """The registered kind whose parameter names overlap `names` most (course order on ties):
    the kind a "missing key" message speaks of."""
    best = max(cells.kinds(), key=lambda k: (len(set(cells.get(k).param_shapes(1, 1)) & names),
                                             -cells.kinds().index(k)))
    return best


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
    path: str | os.PathLike, kind: str | None = None, *,
    model: Model | StackedModel | None = None, notes: list[str] | None = None
) -> tuple[Model | StackedModel, Readout | None]:
    """Read a weight file -> (Model, Readout or None), for every registered kind.

    kind comes from `kind`, else `model.kind`, else the file's "__kind__", else the one
    registered kind whose `param_shapes(I, H)` the file's keys and shapes match (rnn: weight_hh
    (H, H); gru (3H, H); lstm (4H, H); indrnn (H,); the LRU's nu_log ...). Where several fit
    (an sLSTM has an LSTM's shapes, minGRU and minLSTM share their keys) and the file has no
    "__kind__", the kind PyTorch saves is taken if exactly one of them is one (a PyTorch LSTM
    file reads as the LSTM), else the message names the candidates. With `model`, shapes must
    match that model and its activation is kept unless the file names one. Keys with _l0 …
    _l{L-1} (up to MAX_LAYERS) give a StackedModel of L layers (one layer: a Model, as
    before); layer l > 0 must read the H outputs of the layer below. A bidirectional file gets
    one message saying that is not supported yet (see split_layers). notes: a list that gets
    one sentence for people when the kind was chosen among several that fit (no __kind__).
    """
    path = Path(path)
    arrays = _read(path)
    layers = split_layers(path, arrays)
    if len(layers) > MAX_LAYERS:
        raise WeightFileError(
            f"{path}: holds {len(layers)} layers (keys up to _l{len(layers) - 1}); at most "
            f"{MAX_LAYERS} stacked layers are supported")
    given_models = (model.layers if isinstance(model, StackedModel)
                    else (model,) if model is not None else ())
    if given_models and len(given_models) != len(layers):
        raise WeightFileError(f"{path}: holds {len(layers)} layer(s), expected "
                              f"{len(given_models)} (the model's num_layers)")
    models = []
    for l, keys in enumerate(layers):
        m = _load_layer(path, arrays, keys, l, kind if l == 0 else models[0].kind,
                        given_models[l] if given_models else None,
                        None if l == 0 else models[0].hidden_size, notes if l == 0 else None)
        models.append(m)
    readout = _readout(path, arrays, models[0].hidden_size)
    if len(models) == 1:
        return models[0], readout
    return StackedModel(tuple(models)), readout


def _fit(want: str, params: dict[str, np.ndarray], I: int | None = None,
         H: int | None = None) -> tuple[int, int]:
    """The (I, H) for which the kind's shapes fit `params` best (most parameters of the right
    shape, then most matching dimensions, then the smaller H); I or H fixed when given. 0 is
    a candidate, so that empty arrays get the message that says I or H must be >= 1."""
    got = {k: tuple(a.shape) for k, a in params.items()}
    sizes = sorted({d for shape in got.values() for d in shape}) or [1]
    hidden = sorted({d // g for d in sizes for g in range(1, 9) if d % g == 0} | {0})
    shapes_of = cells.get(want).param_shapes
    best = None
    for h in ([H] if H is not None else hidden):
        for i in ([I] if I is not None else sizes):
            want_shapes = shapes_of(i, h)
            whole = sum(want_shapes[k] == s for k, s in got.items())
            dims = sum(a == b for k, s in got.items()
                       for a, b in zip(want_shapes[k], s, strict=False))
            score = (whole, dims, -h, -i)
            if best is None or score > best[0]:
                best = (score, i, h)
    return best[1], best[2]


def _pick_kind(path: Path, matches: list[tuple[str, int, int]],
               notes: list[str] | None = None) -> str:
    """The kind of a file without "__kind__" that several kinds' shapes fit: the one PyTorch
    saves if exactly one of them is (a sentence saying so into `notes`), else a message
    naming them all."""
    if len(matches) == 1:
        return matches[0][0]
    native = [k for k, _, _ in matches if cells.get(k).pytorch]
    if len(native) == 1:
        if notes is not None:
            spec = cells.get(native[0])
            others = ", ".join(cells.get(k).label for k, _, _ in matches if k != native[0])
            notes.append(f"{path.name} has no __kind__: read as the {spec.label} "
                         f"({spec.pytorch}'s keys and shapes, which the {others} shares); "
                         "save it with __kind__ to say otherwise")
        return native[0]
    fits = ", ".join(f"{k} (H={h}, I={i})" for k, i, h in matches)
    raise WeightFileError(
        f"{path}: __kind__: missing, and the keys and shapes fit several kinds alike: {fits}; "
        "pass the kind (lstmviz names it from the model it imports into) or save the file "
        "with lstmviz (save_weights writes __kind__)")


def _load_layer(path: Path, arrays: dict[str, np.ndarray], keys: dict[str, str], layer: int,
                kind: str | None, model: Model | None, below: int | None,
                notes: list[str] | None = None) -> Model:
    """One layer's Model from its keys (parameter name -> key in the file). below: the
    layer below's hidden size (this layer's input size), None for the bottom layer."""
    sfx = f"_l{layer}"

    def lbl(name: str) -> str:  # how a message names a parameter: the key above layer 0
        return name if layer == 0 else keys.get(name, name + sfx)

    def missing(name: str) -> WeightFileError:
        return WeightFileError(f"{path}: missing key {name}{sfx}"
                               + (f" (or {name}); " if layer == 0 else "; ")
                               + _keys_found(arrays, name))
    params = {name: arrays[key] for name, key in keys.items()}
    for name, a in params.items():
        if a.dtype.kind not in "biuf":
            raise WeightFileError(
                f"{path}: {keys[name]}: expected real numbers, got dtype {a.dtype}")
    file_kind = _meta(path, arrays, "__kind__")
    for source, value in (("kind", kind), ("model", model and model.kind), ("__kind__", file_kind)):
        if value is not None:
            try:
                cells.get(value)
            except EngineError as exc:
                raise WeightFileError(f"{path}: {source}: {exc}") from None
    given = kind or (model.kind if model is not None else None) or file_kind
    matches, partial = infer_kinds(params)
    empty = [m for m in matches if min(m[1:]) < 1]  # empty arrays fit I = 0 or H = 0:
    matches = [m for m in matches if m not in empty]  # not a kind, a message below
    partial = empty + partial
    if given is None and not matches:
        closest = _closest_kind(set(params))
        for name in cells.get(closest).param_shapes(1, 1):
            if name not in params:
                raise missing(name)
        extra = sorted(set(params) - set(cells.get(closest).param_shapes(1, 1)))
        if extra:
            raise WeightFileError(
                f"{path}: {keys[extra[0]]}: unexpected key (not a parameter of any kind: "
                f"{', '.join(cells.kinds())}); {_keys_found(arrays, extra[0])}")
        if not partial:  # right names, no kind's shapes: name the one that fits least
            I, H = _fit(closest, params)
            want_shapes = cells.get(closest).param_shapes(I, H)
            bad = next((k for k in want_shapes if tuple(params[k].shape) != want_shapes[k]),
                       next(iter(want_shapes)))
            raise WeightFileError(
                f"{path}: {lbl(bad)}: cannot infer the kind from shape {params[bad].shape} "
                f"(no registered kind's parameters have these shapes; a {closest} with H={H}, "
                f"I={I} would have {want_shapes[bad]})")
    if given is not None:
        want = given
    elif matches:
        want = _pick_kind(path, matches, notes)
    else:
        want = partial[0][0]
    if file_kind is not None and file_kind != want:
        raise WeightFileError(f"{path}: __kind__: file holds a {file_kind} model, expected {want}")
    spec = cells.get(want)
    for name in spec.param_shapes(1, 1):
        if name not in params:
            raise missing(name)
    extra = sorted(set(params) - set(spec.param_shapes(1, 1)))
    if extra:
        raise WeightFileError(
            f"{path}: {keys[extra[0]]}: unexpected key (not a parameter of the {spec.label} "
            f"({want}): {', '.join(spec.param_shapes(1, 1))}); {_keys_found(arrays, extra[0])}")
    if model is not None:
        I, H = model.input_size, model.hidden_size
    else:
        I, H = next(((i, h) for k, i, h in matches if k == want), None) or _fit(want, params)
    if I < 1 or H < 1:  # empty arrays fit any kind with I = 0 or H = 0
        dim = "I" if I < 1 else "H"
        name = next(k for k in spec.param_shapes(1, 1)
                    if spec.param_shapes(1, 1)[k] != (spec.param_shapes(2, 1) if dim == "I"
                                                      else spec.param_shapes(1, 2))[k])
        want = "shape (G*H, I) with I >= 1" if dim == "I" else "a hidden size H >= 1"
        raise WeightFileError(f"{path}: {lbl(name)}: expected {want}, got shape "
                              f"{params[name].shape}")
    want_shapes = spec.param_shapes(I, H)
    order = list(want_shapes)
    if model is not None:  # the hidden size must agree: the shapes without I name it first
        order.sort(key=lambda k: spec.param_shapes(I + 1, H)[k] != want_shapes[k])
    for name in order:
        shape, got = want_shapes[name], tuple(params[name].shape)
        if got == shape:
            continue
        if model is not None:
            raise WeightFileError(
                f"{path}: {lbl(name)}: expected shape {shape}, got {got} (the {want} it "
                f"replaces has H={H}, I={I})")
        other = next((f"; its keys and shapes are a {k}'s (H={h}, I={i})" for k, i, h in matches
                      if k != want), "")
        raise WeightFileError(
            f"{path}: {lbl(name)}: expected shape {shape} for a {want} with H={H}, I={I}, got "
            f"{got}{other}")
    if below is not None and I != below:
        wih = next(k for k in order if spec.param_shapes(I + 1, H)[k] != want_shapes[k])
        raise WeightFileError(
            f"{path}: {keys[wih]}: expected shape {spec.param_shapes(below, H)[wih]} (layer "
            f"{layer} reads the {below} outputs of layer {layer - 1}), got "
            f"{params[wih].shape}")
    activation = _meta(path, arrays, "__activation__")
    if activation is None:
        activation = (model.activation if model is not None
                      else next((o.default for o in spec.options if o.name == "activation"),
                                "tanh"))
    if activation not in _activations(spec):
        raise WeightFileError(
            f"{path}: __activation__: expected one of {_activations(spec)}, got {activation!r}")
    options = _options(path, arrays, model)
    try:
        return Model(want, I, H, activation, params, options)
    except EngineError as exc:
        raise WeightFileError(f"{path}: {exc}") from None


def _options(path: Path, arrays: dict[str, np.ndarray], model: Model | None) -> dict:
    """The equation options in "__options__" (a JSON table), else the model's, else {}."""
    text = _meta(path, arrays, "__options__")
    if text is None:
        return dict(model.options) if model is not None else {}
    try:
        options = json.loads(text)
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise WeightFileError(f"{path}: __options__: expected a JSON table such as "
                              f'{{"forget_gate": "exp"}}, got {short(text)}')
    return options


def _readout(path: Path, arrays: dict[str, np.ndarray], H: int) -> Readout | None:
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
    return readout
