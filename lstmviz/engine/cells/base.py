"""What one cell kind provides: the `CellKind` spec every module in this package ends with.

A kind module holds its equations (docstring), parameter shapes, initialisation, one step
forward and its backward side by side, its state, gates and per-step Jacobian pieces, and
builds one `KIND = CellKind(...)` from them. Nothing outside the kind module branches on it.

Conventions shared by every kind (shapes for batch B, input size I, hidden size H):

- `state` is a tuple of (B, H) arrays named by `CellKind.state`; `CellKind.h_of(state)` is the
  h the readout and panels see (state[0], or Re s for the LRU's complex s).
- `step(p, o, x, state, xproj=None) -> (state, cache)`: p the params dict, o the resolved
  options (`CellKind.resolve`), x (B, I), xproj = x @ W_in.T + b_in precomputed for all steps
  (`CellKind.input_weights`). cache is the kind's `Cache` NamedTuple: x, the previous state
  components, then the extra fields (`CellKind.extras`).
- `step_back(p, o, dstate, cache) -> (dstate_prev, StepGrad)`: dstate = total dL/d(state_t)
  (the loss term plus what flows back from t+1). StepGrad holds the gradient at the input
  projection (dgi), at the recurrent pre-activation (dgh) and any elementwise parameter
  factors (other), so parameter gradients are one product after the loop (`param_grads`).
- Complex state (LRU): the gradient of a real loss w.r.t. s = a + ib is carried as
  dL/da + i dL/db; then s_t = lam s_{t-1} gives ds_{t-1} = conj(lam) ds_t.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import EngineError
from ..init import init_params as base_init
from ..init import rescale_recurrent
from ..linalg import spectral_norms

Params = dict[str, np.ndarray]


class StepGrad(NamedTuple):
    """One step's gradients below the state (each with the batch axis first).

    dgi: dL/d(xproj) (B, P), P = rows of the stacked input weights.
    dgh: dL/d(recurrent pre-activation incl. bias_hh) (B, GH) for kinds with a recurrent
         weight (dense W_hh h_{t-1} + b_hh, or the IndRNN's u * h_{t-1} + b_hh), else None.
    other: name -> (B, ...) elementwise factors summed over steps and batch by param_grads.
    total: the total dL/d(state_t) per component including the paths through h_t (e.g. the
           LSTM's dL/dc_t), or None when that is the dstate passed in.
    """

    dgi: np.ndarray
    dgh: np.ndarray | None
    other: dict[str, np.ndarray] | None = None
    total: tuple[np.ndarray, ...] | None = None


@dataclass(frozen=True, eq=False)
class StepJacobians:
    """One-step state Jacobians for n steps of batch element 0.

    state: the state components the Jacobian acts on (h first, each H wide): S = H * len.
    full: (n, S, S) dense d(state_t)/d(state_{t-1}) or, when `diagonal`, its diagonal (n, S)
          (real, or complex for the LRU) so that products are elementwise and exact.
    step: (n, H, H), or (n, H) when diagonal: what jac_step_norm plots, dh_t/dh_{t-1} with the
          other state components held fixed (the h->h block of `full`).
    """

    state: tuple[str, ...]
    full: np.ndarray
    step: np.ndarray
    diagonal: bool


@dataclass(frozen=True)
class Gate:
    """A per-step (T, B, H) array the views may show: trace.gates[name] = cache field `field`.

    role: "keep" (multiplies the old state), "write" (scales what is written), "read"
    (output gate), "candidate" (the proposed new content), "reset", "pre" (pre-activation),
    "slope" (phi'), "decay" (a fixed per-unit factor such as the LRU's |lambda|).
    """

    name: str
    field: str
    label: str
    role: str
    #: fixed value range for views (e.g. (-1, 1) for a tanh candidate), None: the data's
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class Keep:
    """The factor the forget panel shows: keep = gate (complement False) or 1 - gate (True).

    text: one sentence for the panel, e.g. "GRU: keep = z (PyTorch's convention)".
    bias_block: which H-row block of bias_ih (+ bias_hh) holds the keep gate's pre-activation
    (the training dock's mean gate bias), None when it has none; bias_sign -1 when the keep
    factor is sigma(-pre) (minGRU's 1 - z).
    """

    gate: str
    complement: bool
    text: str
    bias_block: int | None = None
    bias_sign: int = 1


@dataclass(frozen=True)
class Option:
    """One keyword option: name, default and either a tuple of choices or a numeric check.

    number: None (choices apply), "real" (any finite float) or "positive" (finite > 0).
    """

    name: str
    default: Any
    choices: tuple[Any, ...] = ()
    number: str | None = None
    doc: str = ""

    def check(self, kind: str, value: Any) -> Any:
        if self.number is None:
            if not isinstance(value, str) or value not in self.choices:
                raise EngineError(
                    f"{kind}: {self.name}: expected one of "
                    f"{', '.join(map(repr, self.choices))}, got {value!r}"
                )
            return value
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if ok:
            value = float(value)
            ok = bool(np.isfinite(value)) and (value > 0 or self.number != "positive")
        if not ok:
            want = "a finite number > 0" if self.number == "positive" else "a finite number"
            raise EngineError(f"{kind}: {self.name}: expected {want}, got {value!r}")
        return value


def check_options(kind: str, specs: tuple[Option, ...], given: Mapping[str, Any]) -> dict:
    """Validated options with defaults filled in; an unknown name is an EngineError."""
    names = {s.name for s in specs}
    extra = [k for k in given if k not in names]
    if extra:
        valid = ", ".join(sorted(names)) or "none"
        raise EngineError(f"{kind}: unknown option(s) {extra}; valid: {valid}")
    out = {}
    for s in specs:
        v = given.get(s.name, s.default)
        out[s.name] = v if v is None else s.check(kind, v)
    return out


def h_first(state: tuple[np.ndarray, ...]) -> np.ndarray:
    """The default `h_of`: h is the first state component."""
    return state[0]


def standard_input(p: Params) -> tuple[np.ndarray, np.ndarray | None]:
    """Default input projection: (weight_ih (P, I), bias_ih (P,))."""
    return p["weight_ih"], p["bias_ih"]


def folded_input(p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Input projection with bias_hh folded in: (weight_ih, bias_ih + bias_hh), for kinds
    whose pre-activation is W_ih x + b_ih + W_hh h + b_hh (one add per step fewer; the
    gradient of both biases is the same dL/d(pre-activation) sum)."""
    return p["weight_ih"], p["bias_ih"] + p["bias_hh"]


def standard_input_grads(dw: np.ndarray, db: np.ndarray) -> Params:
    return {"weight_ih": dw, "bias_ih": db}


def block_sigma_max(p: Params) -> float:
    """Largest sigma_max over the H x H gate blocks of weight_hh (G*H, H)."""
    w = p["weight_hh"]
    H = w.shape[1]
    return float(np.max(spectral_norms(w.reshape(-1, H, H))))


@dataclass(frozen=True, eq=False)
class CellKind:
    """Everything about one recurrent cell kind (see the module docstring for conventions).

    Identity: name (the config/CLI/file key), label (for people), colour (theme key).
    Parameters: param_shapes(I, H) -> {name: PyTorch shape}; init_params(I, H, rng, **init
      options) -> fresh float64 params; inits (valid `init` schemes, the first the default);
      init_options (Option specs accepted by init_params); weight_scale: what weight_scale
      means for this kind, or None when it does not apply (init_params then rejects it).
    Equations: options (Option specs that change the equations, e.g. the activation);
      resolve(options) -> o passed to step/step_back; step, step_back, Cache, extras.
    Projection: input_weights(p) -> (W (P, I), b (P,) | None) stacked so all inputs are one
      matmul; input_grads(dW, db) -> param grads; recurrent: "dense" (W_hh (GH, H) and
      bias_hh (GH)), "diagonal" (IndRNN: u (H,), bias_hh (H,)) or None; param_grads(p, xs,
      prev, dgi, dgh, other) -> {name: grad} from the stacked per-step StepGrads.
    Diagnostics: jacobian(p, o, caches) -> StepJacobians for stacked caches (batch 0);
      prod_block "h" (jac_prod_norm is the h->h block of the product of full state
      Jacobians, as diagnostics does for the LSTM) or "state" (the whole product; LRU);
      jacobian_note says which; sigma_max(p) -> largest singular value of the recurrent
      matrix (None: no recurrent matrix); bound_applies with bound_note (why not).
    Views: gates (Gate per trace array), keep (the forget panel's factor, or None with
      keep_note saying why).
      cell_path(p, o, run, sl, jac) -> (direct (n,), indirect (n, H, H)) for the steps sl of
      batch element 0 of a forward run (cells.Forward), for kinds with an LSTM-style cell
      path (the cell panel), else None; jac=None -> (direct, None) without the Jacobians.
    Speed: scan (vectorised forward/backward over all T steps, see scan.py) or None; loop
      (the forward time loop in place) or None; train_kernel (a lean last-step-loss kernel)
      or None.
    Inspector: equations (HTML), path (the state update as bar series), eigenvalues.
    """

    name: str
    label: str
    colour: str
    summary: str
    param_shapes: Callable[[int, int], dict[str, tuple[int, ...]]]
    init_params: Callable[..., Params]
    inits: tuple[str, ...]
    init_options: tuple[Option, ...]
    weight_scale: str | None
    options: tuple[Option, ...]
    resolve: Callable[[dict], Any]
    state: tuple[str, ...]
    Cache: type
    extras: tuple[str, ...]
    step: Callable
    step_back: Callable
    recurrent: str | None
    param_grads: Callable[..., Params]
    jacobian: Callable[..., StepJacobians]
    prod_block: str
    jacobian_note: str
    sigma_max: Callable[[Params], float | None]
    bound_applies: bool
    bound_note: str
    gates: tuple[Gate, ...]
    keep: Keep | None
    keep_note: str = ""
    input_weights: Callable[[Params], tuple[np.ndarray, np.ndarray | None]] = standard_input
    input_grads: Callable[[np.ndarray, np.ndarray], Params] = standard_input_grads
    h_of: Callable[[tuple], np.ndarray] = h_first
    state_dtype: type = np.float64
    scan: Any = None
    #: loop(p, o, xproj, state0) -> (states, extras, advance): the forward pass's (T, B, ...)
    #: buffers, the gate arrays possibly views of xproj (which it may overwrite), and
    #: advance(t), which runs step t in place in them: the numbers of `step`, without a
    #: per-step allocation or copy. None: run.py loops over `step` and copies.
    loop: Callable | None = None
    cell_path: Callable | None = None
    #: jac_left(r, full) -> r @ full for one step's full state Jacobian (S, S), using its
    #: structure (the LSTM's diagonal c->c and c->h blocks: half the work); None: dense.
    jac_left: Callable | None = None
    train_kernel: Callable | None = None
    refs: tuple[str, ...] = field(default=())
    #: the equations as HTML for the inspector ("" : `summary` is shown)
    equations: str = ""
    #: path(p, o, cache, state) -> (title, ((csv name, html label, (B, H) values), ...)):
    #: how one step builds the state the inspector draws (default: h_{t-1} and h_t)
    path: Callable | None = None
    #: eigenvalues(p) -> (H,) complex, for kinds whose recurrence is diag(lambda) (the LRU):
    #: the inspector draws them on the unit circle
    eigenvalues: Callable | None = None
    #: the torch.nn module whose state_dict holds exactly these parameters ("nn.LSTM"), None
    #: if PyTorch has none: a weight file without "__kind__" whose keys and shapes fit several
    #: kinds (an LSTM's fit the sLSTM) is read as the one PyTorch saves (engine.weights_io)
    pytorch: str | None = None

    def state_path(self, p: Params, o: Any, cache, state: tuple) -> tuple[str, tuple]:
        """The inspector's state path of one step (see `path`)."""
        if self.path is not None:
            return self.path(p, o, cache, state)
        prev = self.h_of(tuple(cache[1 : 1 + len(self.state)]))
        return "hidden state", (("h_prev", "h<sub>t−1</sub>", prev),
                                ("h", "h<sub>t</sub>", self.h_of(state)))

    @property
    def has_cell(self) -> bool:
        return "c" in self.state

    def gate_fields(self) -> dict[str, str]:
        """trace.gates name -> cache field."""
        return {g.name: g.field for g in self.gates}

    def check_options(self, given: Mapping[str, Any]) -> dict:
        return check_options(self.name, self.options, given)

    def make_opts(self, **options: Any) -> Any:
        """Validated equation options -> the `o` that step and step_back take."""
        return self.resolve(self.check_options(options))

    def zero_state(self, batch_size: int, hidden_size: int) -> tuple[np.ndarray, ...]:
        return tuple(
            np.zeros((batch_size, hidden_size), dtype=self.state_dtype) for _ in self.state
        )

    def step_dparams(self, p: Params, o: Any, dstate: tuple, cache) -> tuple:
        """One step backward with this step's full parameter-gradient terms (the app's
        step-back animation): -> (dstate_prev, dx_t, dparams_t)."""
        dprev, sg = self.step_back(p, o, dstate, cache)
        prev = tuple(np.asarray(v)[None] for v in cache[1 : 1 + len(self.state)])
        dgh = None if sg.dgh is None else sg.dgh[None]
        other = None if sg.other is None else {k: v[None] for k, v in sg.other.items()}
        dparams = self.param_grads(p, cache.x[None], prev, sg.dgi[None], dgh, other)
        w, _ = self.input_weights(p)
        return dprev, sg.dgi @ w, dparams


#: A product with a weight matrix of at least ROWS_BYTES and 2..ROWS_B batch rows is one
#: matrix-vector product per row (`rec_matmul`): OpenBLAS's GEMM packs the whole matrix each
#: call, which at H=512 made a B=2 LSTM step 4-7x slower than a B=1 step (GEMV); per row it
#: is B times the B=1 time. Measured on 2 MB-L2 cores (scripts/bench_engine.py --goal).
ROWS_BYTES = 4 << 20
ROWS_B = 4


def rec_matmul(a: np.ndarray, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a @ w for a (B, K), w (K, N): the recurrent products of the time loops (forward h_{t-1}
    W_hh^T, backward dpre W_hh), per row for a few rows and a large w (ROWS_BYTES)."""
    B = a.shape[0]
    if 1 < B <= ROWS_B and w.nbytes >= ROWS_BYTES:
        if out is None:
            out = np.empty((B, w.shape[1]), dtype=np.result_type(a, w))
        for b in range(B):
            np.matmul(a[b], w, out=out[b])
        return out
    return np.matmul(a, w, out=out)


#: A w of this many bytes or more is read once for a whole sequence (`seq_matmul`).
SEQ_BYTES = 4 << 20


def seq_matmul(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a @ w for a (..., K) over all steps and batch elements, w (K, N). For a large w
    (SEQ_BYTES or more) one GEMM over the rows of a: NumPy's matmul of a (T, B, K) stack
    loops over T, reading w once per step (at T = 1000, H = 512, B = 1 a stacked layer's
    input projection took 0.29 s instead of 0.028 s). Below that, numpy's per-step products,
    bit for bit those of `CellKind.step` (the GEMM rounds in another order: the two agree
    to ~1e-16 relative, not bit for bit)."""
    if a.ndim <= 2 or w.nbytes < SEQ_BYTES:
        return a @ w
    return (a.reshape(-1, a.shape[-1]) @ w).reshape(*a.shape[:-1], w.shape[-1])


def outer_sum(d: np.ndarray, v: np.ndarray) -> np.ndarray:
    """sum_k outer(d[k], v[k]) = d.T @ v (P, N) for d (K, P), v (K, N), as one GEMM over all
    steps and batch elements, computed as (v.T @ d).T (the same products and sums; 15-45%
    faster in OpenBLAS for K >> P, N) and returned C-contiguous."""
    return np.ascontiguousarray((v.T @ d).T)


def scaled_blocks(w: np.ndarray, terms, outs) -> None:
    """outs[m] = sum_k diag(terms[m][k]) W_k for the row blocks W_k = w[k H:(k + 1) H] (H, H)
    of a stacked weight w (K H, H): the dense one-step Jacobians of gated cells. terms[m][k]
    (n, H) per step and row, or None for a zero term; outs[m] (n, H, H), views allowed.

    One einsum per output over the rows j, (H, n, K) x (H, K, H), instead of K broadcast
    products and sums over (n, H, H) (2.4x faster for the LSTM's A and C at n = 200, H = 64).
    Each entry is summed over k in order, as the broadcast sums were, whatever n is: the
    values do not depend on how the steps are split (a GEMM's would, at the last bit)."""
    H = w.shape[1]
    blocks = w.reshape(-1, H, H).transpose(1, 0, 2)  # (H rows j, K, H)
    for row, out in zip(terms, outs, strict=True):
        ks = [k for k, d in enumerate(row) if d is not None]
        coef = np.empty((H, out.shape[0], len(ks)))
        for i, k in enumerate(ks):
            coef[:, :, i] = row[k].T
        np.einsum("jtk,jkh->tjh", coef, blocks[:, ks], out=out)


def projection_grads(
    kind: CellKind,
    p: Params,
    xs: np.ndarray,
    prev: tuple[np.ndarray, ...],
    dgi: np.ndarray,
    dgh: np.ndarray | None,
) -> Params:
    """Parameter gradients of the input and recurrent projections, one product each.

    xs (T, B, I), prev = stacked previous states (h_{t-1} first) (T, B, H), dgi (T, B, P),
    dgh (T, B, GH) or None.
    """
    T, B, P = dgi.shape
    flat = dgi.reshape(T * B, P)
    w, b = kind.input_weights(p)
    db = flat.sum(axis=0) if b is not None else None
    out = kind.input_grads(outer_sum(flat, xs.reshape(T * B, -1)), db)
    if kind.recurrent is not None:
        h_prev = prev[0]
        GH = dgh.shape[2]
        fh = dgh.reshape(T * B, GH)
        if kind.recurrent == "dense":
            out["weight_hh"] = outer_sum(fh, h_prev.reshape(T * B, -1))
        else:  # diagonal: pre = u * h_prev + ...
            out["weight_hh"] = np.einsum("ij,ij->j", fh, h_prev.reshape(T * B, -1))
        out["bias_hh"] = db.copy() if dgh is dgi and db is not None else fh.sum(axis=0)
    return out


def check_params(kind: CellKind, params: Mapping[str, Any], I: int, H: int) -> Params:
    """params as read-only float64 arrays of the kind's shapes; a clear EngineError if not."""
    if not isinstance(params, Mapping):
        raise EngineError(f"params: expected a dict, got {type(params).__name__}")
    shapes = kind.param_shapes(I, H)
    missing = [k for k in shapes if k not in params]
    extra = [k for k in params if k not in shapes]
    if missing or extra:
        raise EngineError(
            f"params ({kind.name}): expected keys {list(shapes)}, got {list(params)}"
            + (f" (missing {missing})" if missing else "")
            + (f" (unexpected {extra})" if extra else "")
        )
    out = {}
    for k, shape in shapes.items():
        a = np.asarray(params[k])
        if a.dtype.kind not in "biuf":
            raise EngineError(f"params[{k!r}]: expected a real numeric array, got dtype {a.dtype}")
        if a.shape != shape:
            raise EngineError(f"params[{k!r}] ({kind.name}): expected shape {shape}, "
                              f"got {a.shape}")
        if a.dtype != np.float64 or a.flags.writeable:
            a = np.array(a, dtype=np.float64, copy=True)
            a.setflags(write=False)
        out[k] = a
    return out


def reject(kind: str, name: str, why: str) -> EngineError:
    """The error for an option that exists elsewhere but not for this kind."""
    return EngineError(f"{kind}: {name} does not apply: {why}")



def init_option(inits: tuple[str, ...]) -> Option:
    """The `init` option of a kind: one of its schemes, the first the default."""
    return Option("init", inits[0], choices=inits, doc="initialisation scheme")


WEIGHT_SCALE = Option("weight_scale", None, number="positive", doc="see CellKind.weight_scale")
FORGET_BIAS = Option("forget_bias", 0.0, number="real", doc="effective forget-gate bias")


def stacked_init(
    name: str, G: int, I: int, H: int, rng: np.random.Generator, init: str,
    weight_scale: float | None,
) -> Params:
    """weight_ih (GH, I), weight_hh (GH, H), bias_ih, bias_hh (GH) from engine.init, each
    gate's H x H recurrent block rescaled to sigma_max = weight_scale if given."""
    params = base_init(init, G, I, H, rng)
    if weight_scale is not None:
        params["weight_hh"] = rescale_recurrent(params["weight_hh"], G, weight_scale)
    return params


def input_only_init(G: int, I: int, H: int, rng: np.random.Generator, init: str) -> Params:
    """weight_ih (GH, I), bias_ih (GH,) for kinds without recurrent weights: "pytorch"
    uniform(-1/sqrt(H), 1/sqrt(H)) for both, or "xavier" Glorot-uniform per gate block and
    zero bias. Draw order weight_ih, bias_ih."""
    if init == "pytorch":
        k = 1.0 / np.sqrt(H)
        return {"weight_ih": rng.uniform(-k, k, size=(G * H, I)),
                "bias_ih": rng.uniform(-k, k, size=G * H)}
    a = np.sqrt(6.0 / (I + H))
    return {"weight_ih": rng.uniform(-a, a, size=(G * H, I)), "bias_ih": np.zeros(G * H)}


def sigmoid_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sigma(x), sigma(-x), exp(-|x|)) from one exp: the same values as activations.sigmoid
    of x and of -x (so 1 - sigma is never formed by subtraction), at half the cost."""
    e = np.exp(-np.abs(x))
    s = 1.0 / (1.0 + e)
    es = e * s
    pos = x >= 0
    return np.where(pos, s, es), np.where(pos, es, s), e


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log sigma(x) = min(x, 0) - log1p(exp(-|x|)), finite for every finite x."""
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


# --- lean training kernels (CellKind.train_kernel) share these ------------------------

@dataclass(frozen=True, eq=False)
class LastStep:
    """A training step's result when the loss scores only h_T: loss, h_T (B, H), the
    parameter gradients, ||dL/dh_1|| and ||dL/dh_T|| (total, over the batch), the keep factor
    (T, B, H) of the kind's Keep gate (None without one) and loss_fn's extra."""

    loss: float
    h_last: np.ndarray
    grads: dict[str, np.ndarray]
    dh_first_norm: float
    dh_last_norm: float
    keep: np.ndarray | None
    extra: Any


def fast_tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """tanh(x) = 2 / (1 + e^-2x) - 1 into out (exp is cheaper than np.tanh; +-inf safe)."""
    np.multiply(x, -2.0, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.divide(2.0, out, out=out)
    out -= 1.0
    return out


def fast_sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) into out."""
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def kernel_param_grads(
    da: np.ndarray, dgh: np.ndarray, xs: np.ndarray, h_prev: np.ndarray
) -> dict[str, np.ndarray]:
    T, B, G = da.shape
    fa = da.reshape(T * B, G)
    fh = dgh.reshape(T * B, G)
    return {
        "weight_ih": outer_sum(fa, xs.reshape(T * B, -1)),
        "weight_hh": outer_sum(fh, h_prev.reshape(T * B, -1)),
        "bias_ih": fa.sum(axis=0),
        "bias_hh": fh.sum(axis=0),
    }
