"""The pure-Python state of one visualisation: config, computed runs and the frame cursor.

Frames (DESIGN.md): forward t = 1..T, then the loss, then backward t = T..1, so a run of
length T has 2T + 1 frames. Views show what is known at the cursor: the forward states up
to `Frame.fwd_t` and the gradients from T down to `Frame.bwd_t`.
The session is plain Python with callbacks; `lstmviz.ui.adapter` turns them into signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from lstmviz import engine
from lstmviz.config import Config, ConfigError, check_memory
from lstmviz.engine.cancel import carried, checkpoint
from lstmviz.engine.readout import log10_loss
from lstmviz.engine.stack import (
    StackedModel,
    StackGrads,
    StackTrace,
    build_stack,
    num_layers_of,
    stack_backward,
    stack_forward,
)
from lstmviz.named_weights import named_weights

FORWARD, LOSS, BACKWARD = "forward", "loss", "backward"


@dataclass(frozen=True)
class Frame:
    """Where the cursor is. fwd_t: forward steps computed so far (0..T);
    bwd_t: the earliest step whose gradient is known (T + 1 means none yet)."""

    index: int
    phase: str
    t: int
    seq_len: int

    @property
    def fwd_t(self) -> int:
        return self.t if self.phase == FORWARD else self.seq_len

    @property
    def bwd_t(self) -> int:
        return self.t if self.phase == BACKWARD else self.seq_len + 1

    @property
    def label(self) -> str:
        if self.phase == LOSS:
            return "loss"
        return f"{self.phase} t={self.t}"


def frame_at(index: int, seq_len: int) -> Frame:
    """Frame number `index` (0 .. 2T) of a run of length T."""
    T = seq_len
    if not 0 <= index <= 2 * T:
        raise IndexError(f"frame {index} is out of range 0..{2 * T}")
    if index < T:
        return Frame(index, FORWARD, index + 1, T)
    if index == T:
        return Frame(index, LOSS, T, T)
    return Frame(index, BACKWARD, 2 * T + 1 - index, T)


def frame_index(phase: str, t: int, seq_len: int) -> int:
    """Inverse of `frame_at`, with t clamped into 1..T."""
    T = seq_len
    t = min(max(int(t), 1), T)
    if phase == FORWARD:
        return t - 1
    if phase == LOSS:
        return T
    if phase == BACKWARD:
        return 2 * T + 1 - t
    raise ValueError(f"phase: expected one of {FORWARD}, {LOSS}, {BACKWARD}, got {phase!r}")


@dataclass(frozen=True)
class Run:
    """One model's computed forward and backward pass over the shared input."""

    kind: str
    model: engine.Model
    readout: engine.Readout
    task: engine.Task
    trace: engine.Trace
    #: None while the backward pass is not computed (`gradients_ready`, `with_backward`)
    grads: engine.Grads | None
    loss: float
    dh_loss: np.ndarray  # dL/dh_t from the loss alone, (T, B, H)
    diagnostics: engine.Diagnostics
    imported: bool = False
    #: log10 of the loss, exact where the float `loss` overflows (None: not computed)
    loss_log10: float | None = None
    #: settings that did not apply to this kind and what was used instead (for people)
    notes: tuple[str, ...] = ()
    #: the whole stack when the model has several layers (engine.stack): model, trace and
    #: grads above are then its TOP layer's (what the readout sees; every view shows it);
    #: its grads are None while the backward pass is not computed (`gradients_ready`)
    stack: tuple[StackedModel, StackTrace, StackGrads | None] | None = None
    #: diagnostics of the layers below the top (bottom first, L - 1 of them) of a stack, as
    #: `diagnostics` is the top layer's: what `layer_view` shows (computed with the run's,
    #: completed with them by `completed()`)
    layer_diagnostics: tuple[engine.Diagnostics, ...] = ()
    #: the layer (0-based, bottom first) this run shows, when it is a `layer_view` below
    #: the top; None: the top layer (the run itself)
    layer: int | None = None
    _views: dict[int, Run] = field(init=False, repr=False, compare=False,
                                   default_factory=dict)

    @property
    def num_layers(self) -> int:
        return 1 if self.stack is None else self.stack[0].num_layers

    @property
    def layer_index(self) -> int:
        """The layer shown (0-based, bottom first): `layer`, or the top one."""
        return self.num_layers - 1 if self.layer is None else self.layer

    @property
    def layer_name(self) -> str:
        """'layer l/L' of a stacked model's run (1 = bottom), '' for one layer."""
        L = self.num_layers
        return "" if L == 1 else f"layer {self.layer_index + 1}/{L}"

    @property
    def gradients_ready(self) -> bool:
        """The backward pass is computed (False for a forward-only run of
        `compute_runs(backward=False)`, whose diagnostics hold NaN gradient series)."""
        return self.grads is not None

    def with_backward(self, progress: Callable[[float], None] | None = None) -> Run:
        """This run with its backward pass and diagnostics (Jacobian norms pending) computed
        from its forward trace (itself if they already are): the same numbers as
        `compute_run` gives in one go. progress(fraction) as compute_run reports it (the
        forward share counted as done)."""
        if self.gradients_ready:
            return self
        return self._backward(_stage_reporter(progress, ("forward",)), False)

    def _backward(self, done: Callable[[str], None], jacobians: bool) -> Run:
        """This forward-only run with its backward pass (through every layer of a stack) and
        diagnostics computed (`done` hears the stages)."""
        stack, layer_diagnostics = self.stack, self.layer_diagnostics
        if stack is not None:
            s_grads = stack_backward(stack[0], stack[1], self.dh_loss)
            stack = (stack[0], stack[1], s_grads)
            grads = s_grads.top
        else:
            grads = engine.backward(self.model, self.trace, self.dh_loss)
        done("backward")
        diagnostics = engine.compute_diagnostics(self.model, self.trace, grads,
                                                 jacobians=jacobians)
        if stack is not None:
            layer_diagnostics = tuple(
                engine.compute_diagnostics(m, tr, g, jacobians=jacobians)
                for m, tr, g in zip(stack[0].layers[:-1], stack[1].layers[:-1],
                                    stack[2].layers[:-1], strict=True))
        done("diagnostics")
        return replace(self, grads=grads, diagnostics=diagnostics, stack=stack,
                       layer_diagnostics=layer_diagnostics)

    @property
    def jacobians_ready(self) -> bool:
        """The exact Jacobian norms of every layer are computed."""
        return self.diagnostics.jacobians_ready and all(
            d.jacobians_ready for d in self.layer_diagnostics)

    @property
    def log10_h_layers(self) -> np.ndarray:
        """(L, T) exact log10 ||dL/dh^(l)_t|| per layer, bottom first (L = 1: the model's
        grads.log10_h)."""
        if not self.gradients_ready:  # the forward pass alone: not computed, never a 0
            return np.full((self.num_layers, self.trace.T), np.nan)
        if self.stack is None:
            return self.grads.log10_h[None]
        return self.stack[2].log10_h_layers

    @property
    def log10_x_layers(self) -> np.ndarray:
        """(L, T) exact log10 ||dL/dx^(l)_t|| per layer, bottom first: the gradient passed
        down through depth into each layer's input (`engine.stack.StackGrads`); NaN while
        the backward pass is not computed, and for a one-layer run."""
        if not self.gradients_ready or self.stack is None:
            return np.full((self.num_layers, self.trace.T), np.nan)
        return self.stack[2].log10_x_layers

    def layer_view(self, layer: int | None) -> Run:
        """This run as seen at layer `layer` (0-based, bottom first; None: the top) of its
        stack: model, trace, grads and diagnostics of that layer, for the views that show
        one layer (forget gate, gates, cell state, Jacobians, inspector). The top layer (or
        a one-layer run) is the run itself; the views are made once per run (no numerics:
        the diagnostics come from `layer_diagnostics`)."""
        if layer is None or self.stack is None or layer == self.num_layers - 1:
            return self
        if not 0 <= layer < self.num_layers:
            raise IndexError(f"layer {layer} is out of range 0..{self.num_layers - 1}")
        view = self._views.get(layer)
        if view is None:
            s_grads = self.stack[2]
            model, trace = self.stack[0].layers[layer], self.stack[1].layers[layer]
            grads = None if s_grads is None else s_grads.layers[layer]
            diagnostics = (self.layer_diagnostics[layer] if self.layer_diagnostics else
                           engine.forward_diagnostics(model, trace) if grads is None else
                           engine.compute_diagnostics(model, trace, grads, jacobians=False))
            view = replace(self, model=model, trace=trace, grads=grads,
                           diagnostics=diagnostics, layer=layer)
            self._views[layer] = view
        return view

    @property
    def grad_h_norm_layers(self) -> np.ndarray:
        """(L, T) ||dL/dh^(l)_t|| as float64 (0 / inf only beyond float64; the logs above
        are exact)."""
        from lstmviz.engine.linalg import pow10

        return pow10(self.log10_h_layers)

    @property
    def label(self) -> str:
        return model_label(self.model)

    def completed(self, progress: Callable[[int, int], None] | None = None) -> Run:
        """This run with the exact Jacobian norms of every layer computed (itself if they
        already are); progress(done, total) after each chunk of steps, counted over every
        layer (bottom first, then the top: total = L * T), so a stack's bar moves from its
        first layer on (engine.complete_diagnostics)."""
        if self.jacobians_ready:
            return self
        if not self.gradients_ready:
            return self.with_backward().completed(progress)
        T, L = self.trace.T, self.num_layers

        def layer_progress(l: int):
            if progress is None:
                return None
            return lambda done, total: progress(l * T + done, L * T)

        layers = tuple(
            engine.complete_diagnostics(self.stack[0].layers[l], self.stack[1].layers[l], d,
                                        layer_progress(l))
            for l, d in enumerate(self.layer_diagnostics))
        return replace(self, diagnostics=engine.complete_diagnostics(
            self.model, self.trace, self.diagnostics, layer_progress(L - 1)),
            layer_diagnostics=layers)

    @property
    def overflow_step(self) -> int | None:
        """0-based step where numbers first stop being finite (forward or backward)."""
        return self.diagnostics.overflow_step


def targets_for(task: engine.Task, where: str) -> np.ndarray:
    """The task's targets for a loss at the last step or at every step.

    A last-step task scored at every step asks for its answer at every step (the target
    repeated over t); an every-step task (sine) scored at the last step keeps its final target.
    """
    if where == task.where:
        return task.targets
    if where == "every":
        return np.broadcast_to(task.targets, (task.xs.shape[0], *task.targets.shape))
    return task.targets[-1]


Weights = Mapping[str, tuple[engine.Model, engine.Readout | None]]


def model_label(model: engine.Model) -> str:
    """The kind's label, with the activation for kinds that have one ("RNN (tanh)")."""
    name = model.cell.label
    if any(o.name == "activation" for o in model.cell.options):
        name += f" ({model.activation})"
    return name


def seed_offset(kind: str) -> int:
    """Seed offset of each kind, 1000 x its place in course order (rnn 1000, lstm 2000,
    gru 3000, indrnn 4000 ...): a model's weights do not depend on which others are shown."""
    return 1000 * (engine.cells.kinds().index(engine.cells.get(kind).name) + 1)


#: A run's stages and the share of its time each takes (measured at T=1000, H=512: the
#: forward about a third, the backward half): what the progress of a recompute counts.
STAGE_SHARES = {"forward": 0.35, "backward": 0.5, "diagnostics": 0.15}


def _stage_reporter(progress: Callable[[float], None] | None,
                    done_before: tuple[str, ...] = ()) -> Callable[[str], None]:
    reached = [sum(STAGE_SHARES[s] for s in done_before)]

    def done(stage: str) -> None:
        reached[0] += STAGE_SHARES[stage]
        if progress is not None:
            progress(min(reached[0], 1.0))

    return done


class _Shares:
    """The mean of several runs' progress, reported as one fraction (thread-safe)."""

    def __init__(self, n: int, report: Callable[[float], None]) -> None:
        self.parts, self.report, self.lock = [0.0] * n, report, threading.Lock()

    def part(self, i: int) -> Callable[[float], None]:
        def update(fraction: float) -> None:
            with self.lock:  # (reported under the lock: the fractions arrive in order)
                self.parts[i] = fraction
                self.report(sum(self.parts) / len(self.parts))

        return update


def compute_run(config: Config, task: engine.Task, kind: str,
                imported: tuple[engine.Model, engine.Readout | None] | None = None, *,
                jacobians: bool = True, backward: bool = True,
                progress: Callable[[float], None] | None = None) -> Run:
    """Build one model (or take imported weights) and run it forward and backward on `task`.

    jacobians=False leaves the exact Jacobian norms for `Run.completed()` (see engine).
    backward=False stops after the forward pass and the loss (of every layer of a stack):
    the run's `gradients_ready` is False until `Run.with_backward()`.
    `progress(fraction)` hears the share of this run done after each stage (STAGE_SHARES)."""
    done = _stage_reporter(progress)
    if imported is not None:
        model, readout = imported
        if model.input_size != task.input_size:
            raise ConfigError(
                f"weights for {kind}: input size {model.input_size} does not match task "
                f"{config.task!r}, which feeds {task.input_size} input(s)"
            )
    else:
        model, notes = build_for(config, task.input_size, kind)
        readout = None
    if readout is None or readout.weight.shape != (task.output_size, model.hidden_size):
        readout = engine.build_readout(model.hidden_size, task.output_size,
                                       seed=config.seed + 7)
    stack = None
    if isinstance(model, StackedModel):
        s_trace = stack_forward(model, task.xs)
        trace = s_trace.top
    else:
        trace = engine.forward(model, task.xs)
    checkpoint()  # a cancelled background job stops between the stages too
    done("forward")
    loss, dh, _ = engine.loss_and_grad(
        readout, trace.h, targets_for(task, config.loss_where), loss=task.loss,
        where=config.loss_where,
    )
    loss_log10 = float(np.log10(loss)) if 0 < loss < np.inf else log10_loss(
        readout, trace.h, targets_for(task, config.loss_where), loss=task.loss,
        where=config.loss_where)
    notes = tuple(notes) if imported is None else ()
    if isinstance(model, StackedModel):
        stack = (model, s_trace, None)
        layer_diagnostics = tuple(engine.forward_diagnostics(m, tr) for m, tr in
                                  zip(model.layers[:-1], s_trace.layers[:-1], strict=True))
        model = model.top
    else:
        layer_diagnostics = ()
    run = Run(kind, model, readout, task, trace, None, float(loss), dh,
              engine.forward_diagnostics(model, trace), imported is not None, loss_log10,
              notes, stack, layer_diagnostics)
    if not backward:
        return run
    return run._backward(done, jacobians)


def build_for(config: Config, input_size: int, kind: str) -> tuple[engine.Model, list[str]]:
    """The model of `kind` the config describes: the shared settings that apply to the kind
    (engine.options_for) plus the config's per-kind options; -> (model, notes)."""
    opts, notes = engine.options_for(kind, activation=config.activation, init=config.init,
                                     weight_scale=config.weight_scale,
                                     forget_bias=config.forget_bias)
    opts.update(config.options_of(kind))
    act = opts.pop("activation", None)
    if config.num_layers > 1:  # layer 0 is the one-layer model; layer l from seed + l
        model = build_stack(kind, input_size, config.hidden_size,
                            num_layers=config.num_layers, seed=config.seed + seed_offset(kind),
                            activation=act, **opts)
        return model, notes
    model = engine.build_model(kind, input_size, config.hidden_size,
                               seed=config.seed + seed_offset(kind), activation=act, **opts)
    return model, notes


def compute_runs(config: Config, weights: Weights | None = None, *,
                 jacobians: bool = True, backward: bool = True,
                 progress: Callable[[float], None] | None = None,
                 on_forward: Callable[[dict[str, Run]], None] | None = None
                 ) -> dict[str, Run]:
    """Build every model of `config`, run it forward and backward on one shared input.

    Pure and thread-safe: the app calls it off the GUI thread for large settings. Models
    are computed on two threads when there are several (NumPy's LAPACK calls release the
    GIL, and the Jacobian norms are most of the work).
    `weights` maps a kind to an imported (model, readout) that replaces the built one; the
    weights `config` names (lstmviz.named_weights, cached) take precedence over those (a
    lecture step naming weights shows them), and an import drops its kind from
    config.weights (`Session.with_weights`). `progress(fraction)` hears how much of the
    whole is done (0..1) after each stage of each run (from the threads computing them).
    backward=False: forward passes only (`compute_run`), completed by `Run.with_backward`.
    on_forward(runs), if given, hears the forward-only runs (`gradients_ready` False) once
    every forward pass is done, from the thread that finished the last, while the backward
    passes go on: every forward is computed before any backward (the first picture of a
    long recompute), with no wait between the stages (a thread free after its forward
    starts a backward). The runs returned are the same numbers either way.
    """
    check_memory(config)  # refuse, with a message, what would not fit in memory
    weights = {**(weights or {}), **named_weights(config)}
    task = engine.make_task(config.task, config.seq_len, config.batch_size, seed=config.seed)
    kinds = list(config.models)
    shares = _Shares(len(kinds), progress) if progress is not None else None

    def one(i: int, backward: bool = backward) -> Run:
        return compute_run(config, task, kinds[i], weights.get(kinds[i]), jacobians=jacobians,
                           backward=backward,
                           progress=None if shares is None else shares.part(i))

    if on_forward is None or not backward:
        return dict(zip(kinds, _per_model(config, one, len(kinds)), strict=True))
    forwards: dict[int, Run] = {}
    lock = threading.Lock()

    def forward(i: int) -> Run:
        run = one(i, False)
        with lock:
            forwards[i] = run
            last = len(forwards) == len(kinds)
        if last:
            on_forward({kinds[j]: forwards[j] for j in range(len(kinds))})
        return run

    def back(i: int, run: Run) -> Run:
        return run.with_backward(None if shares is None else shares.part(i))

    n = len(kinds)
    if not _threaded(config, n):
        fwd = [forward(i) for i in range(n)]
        return {kinds[i]: back(i, fwd[i]) for i in range(n)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        # FIFO: every forward is taken by a thread before any backward, which waits (if
        # at all) only for its own model's forward, already running on the other thread
        futs = [pool.submit(carried(forward), i) for i in range(n)]
        backs = [pool.submit(carried(lambda i: back(i, futs[i].result())), i)
                 for i in range(n)]
        return {kinds[i]: backs[i].result() for i in range(n)}


def _threaded(config: Config, n: int) -> bool:
    """Whether n runs of `config` are big enough to gain from two threads."""
    return n > 1 and config.seq_len * config.hidden_size ** 2 >= 50 * 16 ** 2


def _per_model(config: Config, one: Callable[[int], Run], n: int) -> list[Run]:
    """[one(i) for i < n], on two threads when the runs are big enough to gain from it."""
    if not _threaded(config, n):
        return [one(i) for i in range(n)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # (a job's cancel hook carried)
        return list(pool.map(carried(one), range(n)))


Listener = Callable[[], None]


@dataclass
class Session:
    """One configuration, its computed runs (one per model, same input) and the cursor.

    Listeners: `on_runs` after the runs are replaced, `on_frame` after the cursor moves.
    """

    config: Config = field(default_factory=Config)
    weights: dict[str, tuple[engine.Model, engine.Readout | None]] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    cursor: int = 0
    on_runs: list[Listener] = field(default_factory=list)
    on_frame: list[Listener] = field(default_factory=list)
    on_diagnostics: list[Listener] = field(default_factory=list)
    #: the backward passes arrived for runs shown by their forward passes alone
    #: (`complete_gradients`): the views of gradients redraw, the forward views stay
    on_gradients: list[Listener] = field(default_factory=list)
    #: Incremented whenever the runs are replaced: late Jacobian results check it.
    generation: int = 0

    def __post_init__(self) -> None:
        if not self.runs:
            self.runs = compute_runs(self.config, self.weights)

    # -- runs -----------------------------------------------------------------------
    @property
    def seq_len(self) -> int:
        return self.config.seq_len

    @property
    def n_frames(self) -> int:
        return 2 * self.seq_len + 1

    @property
    def frame(self) -> Frame:
        return frame_at(self.cursor, self.seq_len)

    def set_config(self, config: Config) -> None:
        """Recompute for `config` (raises, keeping the old state, if it cannot)."""
        self.apply(config, compute_runs(config, self.weights))

    def apply(self, config: Config, runs: dict[str, Run]) -> None:
        """Install runs computed elsewhere (e.g. a worker thread) and keep the cursor's place."""
        old = self.frame
        self.config, self.runs = config, runs
        self.generation += 1
        self.cursor = frame_index(old.phase, old.t, config.seq_len)
        for listener in list(self.on_runs):
            listener()
        self._frame_changed()

    @property
    def jacobians_ready(self) -> bool:
        return all(r.jacobians_ready for r in self.runs.values())

    @property
    def gradients_ready(self) -> bool:
        """Every run has its backward pass (False while a recompute shows its forward
        passes first: Recomputer.previewed)."""
        return all(r.gradients_ready for r in self.runs.values())

    def complete_jacobians(self, generation: int | None = None,
                           runs: dict[str, Run] | None = None) -> bool:
        """Install runs completed elsewhere (or complete them here) if still current."""
        if generation is not None and generation != self.generation:
            return False
        if runs is None:
            runs = {k: r.completed() for k, r in self.runs.items()}
        if list(runs) != list(self.runs):
            return False
        self.runs = runs
        for listener in list(self.on_diagnostics):
            listener()
        return True

    def complete_gradients(self, config: Config, runs: dict[str, Run]) -> bool:
        """Install `runs`, the shown forward-only runs of `config` with their backward
        passes (the same forward traces), telling `on_gradients` (not `on_runs`: the views
        of the forward pass keep their items). False, installing nothing, if the session
        does not show forward-only runs of `config` with those traces."""
        if (config != self.config or list(runs) != list(self.runs) or self.gradients_ready
                or any(runs[k].trace is not r.trace for k, r in self.runs.items())):
            return False
        self.runs = runs
        for listener in list(self.on_gradients):
            listener()
        return True

    def set_weights(self, kind: str, model: engine.Model, readout: engine.Readout | None) -> None:
        """Use imported weights for `kind` (adds the model to the config if missing)."""
        config, weights = self.with_weights(kind, model, readout)
        runs = compute_runs(config, weights)
        self.weights = weights
        self.apply(config, runs)

    def with_weights(self, kind: str, model: engine.Model, readout: engine.Readout | None
                     ) -> tuple[Config, dict[str, tuple[engine.Model, engine.Readout | None]]]:
        """(config, weights) that show imported weights for `kind`: the kind added to the
        models if missing and dropped from config.weights, hidden_size and num_layers the
        model's (a two-layer file makes every model two layers), and weights the config
        named for other models kept only if they have that size and layer count."""
        weights = dict(self.weights)
        weights[kind] = (model, readout)
        config = self.config
        if kind in config.weight_files:  # the import replaces the file the config named
            config = config.replace(weights=tuple(p for p in config.weights if p[0] != kind))
        if kind not in config.models:
            config = config.replace(models=(*config.models, kind))
        layers = num_layers_of(model)
        if model.hidden_size != config.hidden_size or layers != config.num_layers:
            named = tuple((k, ref) for k, ref in config.weights if k != kind)
            config = config.replace(hidden_size=model.hidden_size, num_layers=layers,
                                    weights=named)
            try:
                named_weights(config)
            except ConfigError:  # the config's other named weights have another size
                config = config.replace(weights=())
        return config, weights

    def clear_weights(self) -> None:
        self.weights = {}
        self.set_config(self.config)

    # -- cursor ---------------------------------------------------------------------
    def seek(self, index: int) -> None:
        index = min(max(int(index), 0), self.n_frames - 1)
        if index != self.cursor:
            self.cursor = index
            self._frame_changed()

    def seek_to(self, phase: str, t: int) -> None:
        self.seek(frame_index(phase, t, self.seq_len))

    def step(self) -> bool:
        """Advance one frame; False at the end."""
        if self.cursor >= self.n_frames - 1:
            return False
        self.seek(self.cursor + 1)
        return True

    def step_back(self) -> bool:
        if self.cursor <= 0:
            return False
        self.seek(self.cursor - 1)
        return True

    def to_start(self) -> None:
        self.seek(0)

    def to_end(self) -> None:
        self.seek(self.n_frames - 1)

    def to_backward_start(self) -> None:
        """The first backward frame (t = T)."""
        self.seek(self.seq_len + 1)

    def _frame_changed(self) -> None:
        for listener in list(self.on_frame):
            listener()
