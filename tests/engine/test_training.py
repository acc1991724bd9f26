"""Optimisers, clipping and the training loop (lstmviz.engine.training.optim / training)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmviz.engine import EngineError, build_model
from lstmviz.engine.readout import Readout
from lstmviz.engine.training.optim import (
    SGD,
    Adam,
    clip_by_norm,
    clip_by_value,
    clip_gradients,
    global_norm,
    make_optimizer,
)
from lstmviz.engine.training.trainer import (
    TrainConfig,
    Trainer,
    sidecar_path,
    train,
    training_task,
)

TINY = {"task": "adding", "length": 5, "hidden_size": 8, "batch_size": 16, "lr": 0.02}


# -- optimisers against hand-computed updates -------------------------------------------
def test_sgd_momentum_matches_hand_computation():
    p = {"w": np.array([1.0, -2.0])}
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(p, {"w": np.array([0.5, 1.0])})
    # v1 = g1 = (0.5, 1); p = (1 - 0.05, -2 - 0.1)
    np.testing.assert_allclose(p["w"], [0.95, -2.1], rtol=0, atol=1e-15)
    opt.step(p, {"w": np.array([-1.0, 0.0])})
    # v2 = 0.9 v1 + g2 = (-0.55, 0.9); p = (0.95 + 0.055, -2.1 - 0.09)
    np.testing.assert_allclose(p["w"], [1.005, -2.19], rtol=0, atol=1e-15)


def test_adam_matches_hand_computation():
    p = {"w": np.array([1.0])}
    opt = Adam(lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    opt.step(p, {"w": np.array([2.0])})
    # m = 0.2, v = 0.004; mhat = 2, vhat = 4 -> step lr * 2 / (2 + eps)
    np.testing.assert_allclose(p["w"], [1.0 - 0.1 * 2.0 / (2.0 + 1e-8)], rtol=0, atol=1e-15)
    opt.step(p, {"w": np.array([-1.0])})
    m = 0.9 * 0.2 + 0.1 * -1.0  # 0.08
    v = 0.999 * 0.004 + 0.001 * 1.0  # 0.004996
    mhat, vhat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    want = 1.0 - 0.1 * 2.0 / (2.0 + 1e-8) - 0.1 * mhat / (math.sqrt(vhat) + 1e-8)
    np.testing.assert_allclose(p["w"], [want], rtol=0, atol=1e-14)
    assert opt.t == 2


def test_optimizer_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [{"a": rng.standard_normal(3), "b": rng.standard_normal((2, 2))} for _ in range(4)]
    for name in ("sgd", "adam"):
        p1 = {"a": np.zeros(3), "b": np.ones((2, 2))}
        o1 = make_optimizer(name, 0.05)
        for g in grads[:2]:
            o1.step(p1, g)
        p2 = {k: v.copy() for k, v in p1.items()}
        o2 = make_optimizer(name, 0.05)
        o2.load_state_dict(o1.state_dict())
        for g in grads[2:]:
            o1.step(p1, g)
            o2.step(p2, g)
        for k in p1:
            np.testing.assert_array_equal(p1[k], p2[k])


def test_bad_optimizer_arguments():
    with pytest.raises(EngineError, match="optimizer"):
        make_optimizer("rmsprop", 0.1)
    with pytest.raises(EngineError, match="lr"):
        SGD(lr=-1.0)
    with pytest.raises(EngineError, match="momentum"):
        SGD(lr=0.1, momentum=1.0)


# -- clipping -----------------------------------------------------------------------------
def test_clip_by_norm_keeps_direction_and_bounds_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}  # global norm 5
    before, after = clip_by_norm(g, 1.0)
    assert before == pytest.approx(5.0)
    assert after == pytest.approx(1.0)
    assert global_norm(g) == pytest.approx(1.0)
    np.testing.assert_allclose(g["a"], [0.6, 0.0])
    np.testing.assert_allclose(g["b"], [[0.0, 0.8]])
    small = {"a": np.array([0.3, 0.4])}
    assert clip_by_norm(small, 1.0) == (pytest.approx(0.5), pytest.approx(0.5))
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])


def test_clip_by_value_bounds_entries():
    g = {"a": np.array([-3.0, 0.2, 7.0])}
    before, after = clip_by_value(g, 0.5)
    np.testing.assert_array_equal(g["a"], [-0.5, 0.2, 0.5])
    assert before == pytest.approx(math.sqrt(9 + 0.04 + 49))
    assert after == pytest.approx(math.sqrt(0.25 + 0.04 + 0.25))
    with pytest.raises(EngineError, match="clip_mode"):
        clip_gradients(g, 1.0, "sideways")


@pytest.mark.parametrize("mode", ["norm", "value"])
def test_training_clip_bounds_the_norm(mode):
    clip = 1e-3
    cfg = TrainConfig(**TINY, kind="lstm", clip=clip, clip_mode=mode)
    _, metrics = train(cfg, iterations=8)
    assert all(m.grad_norm > clip for m in metrics)  # clipping was active
    if mode == "norm":
        assert all(m.clipped_norm <= clip * (1 + 1e-12) for m in metrics)
    else:  # every entry within clip, so the norm is at most clip * sqrt(n_params)
        n = sum(a.size for a in Trainer(cfg).params.values())
        assert all(m.clipped_norm <= clip * math.sqrt(n) for m in metrics)
        assert all(m.clipped_norm < m.grad_norm for m in metrics)


# -- training -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_short_run_lowers_the_loss(kind):
    trainer = Trainer(TrainConfig(**TINY, kind=kind, seed=1))
    before = trainer.evaluate(200).loss
    list(trainer.run(iterations=120))
    after = trainer.evaluate(200).loss
    assert after < 0.6 * before, (before, after)


def test_recall_short_run_beats_chance():
    cfg = TrainConfig(
        task="recall", length=3, kind="lstm", hidden_size=8, batch_size=32, lr=0.03, seed=0
    )
    trainer, metrics = train(cfg, iterations=150)
    assert all(m.accuracy is not None for m in metrics)
    ev = trainer.evaluate(400)
    assert ev.accuracy > 0.6  # chance is 0.25
    assert ev.mse is None


def test_metrics_fields_per_model():
    for kind in ("rnn", "lstm", "gru"):
        _, ms = train(TrainConfig(**TINY, kind=kind), iterations=3)
        assert [m.iteration for m in ms] == [1, 2, 3]
        assert all(m.accuracy is None for m in ms)  # adding: no accuracy
        assert all(m.grad_ratio > 0 and math.isfinite(m.grad_ratio) for m in ms)
        assert ms[0].seconds <= ms[1].seconds <= ms[2].seconds
        if kind == "rnn":
            assert ms[0].forget_gate is None and ms[0].forget_bias is None
        else:
            assert 0 < ms[0].forget_gate < 1
    _, ms = train(TrainConfig(**{**TINY, "lr": 1e-9}, kind="lstm", forget_bias=2.5), iterations=1)
    assert ms[0].forget_bias == pytest.approx(2.5)


def test_grad_ratio_is_dh1_over_dhT():
    from lstmviz.engine import backward, forward, loss_and_grad

    cfg = TrainConfig(**TINY, kind="rnn", seed=3)
    trainer = Trainer(cfg)
    model, readout = trainer.model, trainer.readout
    m = trainer.step()
    from lstmviz.engine.training.trainer import derived_seed

    task = training_task(cfg, cfg.batch_size, derived_seed(cfg.seed, 1, 0))
    trace = forward(model, task.xs)
    _, dh, _ = loss_and_grad(readout, trace.h, task.targets)
    g = backward(model, trace, dh)
    want = np.linalg.norm(g.h[0]) / np.linalg.norm(g.h[-1])
    assert m.grad_ratio == pytest.approx(want, rel=1e-12)


def test_deterministic_for_a_seed():
    cfg = TrainConfig(**TINY, kind="gru", seed=5)
    _, a = train(cfg, iterations=5)
    _, b = train(cfg, iterations=5)
    _, c = train(cfg.replace(seed=6), iterations=5)
    assert [m.loss for m in a] == [m.loss for m in b]
    assert [m.loss for m in a] != [m.loss for m in c]


def test_stop_is_checked_every_iteration():
    trainer = Trainer(TrainConfig(**TINY))
    seen = []
    for m in trainer.run(iterations=100, stop=lambda: len(seen) >= 3):
        seen.append(m)
    assert len(seen) == 3 and trainer.iteration == 3


def test_seconds_budget():
    trainer = Trainer(TrainConfig(**TINY))
    ms = list(trainer.run(seconds=0.2))
    assert ms and 0.2 <= trainer.elapsed < 1.0


def test_save_load_resume_is_identical(tmp_path):
    for kind, opt in (("lstm", "adam"), ("rnn", "sgd")):
        cfg = TrainConfig(**TINY, kind=kind, optimizer=opt, seed=2)
        straight = Trainer(cfg)
        full = list(straight.run(iterations=10))
        first = Trainer(cfg)
        list(first.run(iterations=6))
        path = tmp_path / f"{kind}.npz"
        side = first.save(path)
        assert side == sidecar_path(path) and side.name == f"{kind}.train.npz"
        resumed = Trainer.load(path)
        assert resumed.iteration == 6 and resumed.config == cfg
        rest = list(resumed.run(iterations=4))
        assert [m.loss for m in rest] == [m.loss for m in full[6:]]
        assert [m.iteration for m in rest] == [7, 8, 9, 10]
        for k, v in straight.params.items():
            np.testing.assert_array_equal(resumed.params[k], v)


def test_saved_weights_open_with_engine_load_weights(tmp_path):
    from lstmviz.engine import load_weights

    trainer = Trainer(TrainConfig(**TINY, kind="gru"))
    list(trainer.run(iterations=2))
    trainer.save(tmp_path / "w.npz")
    model, readout = load_weights(tmp_path / "w.npz")
    assert model.kind == "gru"
    np.testing.assert_array_equal(model.params["weight_hh"], trainer.params["weight_hh"])
    np.testing.assert_array_equal(readout.weight, trainer.params["readout.weight"])


def test_load_without_sidecar_is_a_clear_error(tmp_path):
    from lstmviz.engine import WeightFileError, save_weights

    save_weights(tmp_path / "w.npz", build_model("lstm", 2, 4))
    with pytest.raises(WeightFileError, match="training state not found"):
        Trainer.load(tmp_path / "w.npz")


def test_always_answering_one_scores_one_sixth():
    cfg = TrainConfig(task="adding", length=20, kind="rnn", hidden_size=4)
    trainer = Trainer(cfg, readout=Readout(np.zeros((1, 4)), np.ones(1)))
    ev = trainer.evaluate()
    assert ev.n == 1000
    assert ev.mse == pytest.approx(1 / 6, abs=0.02)
    assert not ev.solved


def test_evaluation_is_a_fresh_set_not_a_minibatch():
    cfg = TrainConfig(**TINY)
    from lstmviz.engine.training.trainer import derived_seed

    trainer = Trainer(cfg)
    eval_seed = derived_seed(cfg.seed, 2)
    batch_seeds = {derived_seed(cfg.seed, 1, i) for i in range(1000)}
    assert eval_seed not in batch_seeds
    assert trainer.evaluate(100).loss == trainer.evaluate(100).loss


def test_recall_lag_sets_the_sequence_length():
    cfg = TrainConfig(task="recall", length=7, n_symbols=3)
    task = training_task(cfg, 4, 0)
    assert task.xs.shape == (8, 4, 4)
    assert (task.xs[7, :, 3] == 1).all() and (task.xs[1:7, :, 3] == 0).all()


def test_overflowing_gradient_skips_the_update():
    model = build_model("rnn", 2, 8, activation="relu", weight_scale=10.0, seed=0)
    trainer = Trainer(
        TrainConfig(
            task="adding", length=400, kind="rnn", hidden_size=8, batch_size=2, activation="relu"
        ),
        model=model,
    )
    before = {k: v.copy() for k, v in trainer.params.items()}
    m = trainer.step()
    assert m.skipped and not math.isfinite(m.grad_norm)
    for k, v in before.items():
        np.testing.assert_array_equal(trainer.params[k], v)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"task": "sine"}, "task"),
        ({"kind": "transformer"}, "kind"),
        ({"lr": 0.0}, "lr"),
        ({"clip": -1.0}, "clip"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"length": 1}, "length"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_config_names_the_setting(change, match):
    with pytest.raises(EngineError, match=match):
        TrainConfig(**change)


def test_model_of_the_wrong_kind_is_rejected():
    with pytest.raises(EngineError, match="expected a lstm"):
        Trainer(TrainConfig(kind="lstm"), model=build_model("gru", 2, 4))


@pytest.mark.parametrize(
    ("kind", "activation", "T"),
    [("rnn", "tanh", 7), ("rnn", "relu", 7), ("rnn", "sigmoid", 7), ("rnn", "tanh", 1),
     ("lstm", "tanh", 7), ("lstm", "tanh", 1), ("gru", "tanh", 7), ("gru", "tanh", 1)],
)
def test_training_kernel_matches_engine_bptt(kind, activation, T):
    from lstmviz.engine import backward, build_readout, forward, loss_and_grad, make_task
    from lstmviz.engine.training.kernels import loss_and_grads

    model = build_model(kind, 2, 5, seed=1, activation=activation,
                        forget_bias=1.0 if kind == "lstm" else 0.0)
    readout = build_readout(5, 1, seed=2)
    task = make_task("adding", max(T, 2), 3, seed=4)
    xs = task.xs[:T]
    trace = forward(model, xs)
    loss, dh, _ = loss_and_grad(readout, trace.h, task.targets)
    ref = backward(model, trace, dh)

    def last(h_last):
        value, d, extra = loss_and_grad(readout, h_last[None], task.targets)
        return value, d[0], extra

    got_loss, res = loss_and_grads(model.params, kind, activation, xs, last)
    assert got_loss == pytest.approx(loss, rel=1e-12)
    for k, want in ref.params.items():
        np.testing.assert_allclose(res.grads[k], want, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(res.h_last, trace.h[-1], rtol=1e-12, atol=1e-15)
    assert res.dh_first_norm == pytest.approx(np.linalg.norm(ref.h[0]), rel=1e-9)
    assert res.dh_last_norm == pytest.approx(np.linalg.norm(ref.h[-1]), rel=1e-9)
    if kind != "rnn":
        gate = trace.gates["forget" if kind == "lstm" else "update"]
        np.testing.assert_allclose(res.gate, gate, rtol=1e-12, atol=1e-15)


# -- sweep --------------------------------------------------------------------------------
def test_sweep_points_grid_longest_first():
    from lstmviz.engine.training.sweep import sweep_points

    pts = sweep_points(kinds=("rnn", "lstm"), lengths=(5, 20, 10), seeds=(0, 1), iterations=7)
    assert [p.config.length for p in pts][:4] == [20, 20, 20, 20]
    assert len(pts) == 12 and all(p.iterations == 7 for p in pts)
    assert {(p.config.kind, p.config.seed) for p in pts[:4]} == {
        ("rnn", 0), ("rnn", 1), ("lstm", 0), ("lstm", 1)}


def test_run_sweep_inline_reports_each_result_and_writes_csv(tmp_path):
    from lstmviz.engine.training.sweep import SweepPoint, run_point, run_sweep, write_csv

    base = TrainConfig(task="recall", length=3, hidden_size=6, batch_size=8)
    pts = [SweepPoint(base.replace(kind=k), iterations=5, eval_size=50) for k in ("rnn", "gru")]
    seen = []
    results = run_sweep(pts, workers=0, on_result=seen.append)
    assert seen == results and [r.kind for r in results] == ["rnn", "gru"]
    assert all(0 <= r.score <= 1 and r.iterations == 5 for r in results)
    assert run_point(pts[0]).score == results[0].score  # deterministic
    write_csv(tmp_path / "s.csv", results)
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0].startswith("model,task,length,seed,score,solved")
    assert [ln.split(",")[0] for ln in lines[1:]] == ["gru", "rnn"]


def test_run_sweep_cancel_before_start_runs_nothing():
    from lstmviz.engine.training import sweep
    from lstmviz.engine.training.sweep import sweep_points

    pts = sweep_points(lengths=(3,), iterations=5)
    assert sweep.run_sweep(pts, workers=0, cancelled=lambda: True) == []


def test_run_sweep_in_two_processes():
    from lstmviz.engine.training.sweep import SweepPoint, run_point, run_sweep

    base = TrainConfig(task="recall", length=3, hidden_size=4, batch_size=4)
    pts = [SweepPoint(base.replace(kind=k), iterations=3, eval_size=20) for k in ("rnn", "lstm")]
    results = run_sweep(pts, workers=2)
    assert sorted(r.kind for r in results) == ["lstm", "rnn"]
    by_kind = {r.kind: r for r in results}
    assert by_kind["rnn"].score == run_point(pts[0]).score  # same numbers as inline


def test_state_moves_a_trainer_between_copies():
    cfg = TrainConfig(**TINY, kind="lstm", seed=9)
    a = Trainer(cfg)
    list(a.run(iterations=4))
    b = Trainer(cfg)
    b.set_state(a.state())
    assert b.iteration == 4
    assert [m.loss for m in a.run(iterations=3)] == [m.loss for m in b.run(iterations=3)]


def drain(conn) -> list:
    out = []
    while True:
        try:
            out.append(conn.recv())
        except EOFError:  # the sender closed its end when done
            return out


def test_train_in_process_protocol_and_stop():
    import multiprocessing as mp

    from lstmviz.engine.training.process import train_in_process

    cfg = TrainConfig(**TINY, kind="rnn")
    recv, send = mp.Pipe(duplex=False)
    stop, running = mp.Event(), mp.Event()
    running.set()
    train_in_process(cfg, 5, send, stop, running, every=0.0)  # inline: same code as a process
    msgs = drain(recv)
    assert msgs[-1] == ("done", "finished")
    metrics = [m for msg in msgs if msg[0] == "metrics" for m in msg[1]]
    assert [m.iteration for m in metrics] == [1, 2, 3, 4, 5]
    assert msgs[-2][2]["iteration"] == 5
    recv, send = mp.Pipe(duplex=False)
    stop.set()
    train_in_process(cfg, 5, send, stop, running)
    msgs = drain(recv)
    assert msgs[-1] == ("done", "stopped") and msgs[-2][2]["iteration"] == 0
