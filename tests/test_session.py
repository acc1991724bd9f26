"""The session: frames, cursor moves, recompute keeping the cursor's place."""

import numpy as np
import pytest

from lstmviz.config import Config
from lstmviz.session import BACKWARD, FORWARD, LOSS, Session, frame_at, frame_index


@pytest.mark.parametrize("T", [1, 2, 7])
def test_frames_are_forward_loss_backward(T):
    frames = [frame_at(i, T) for i in range(2 * T + 1)]
    assert [f.t for f in frames if f.phase == FORWARD] == list(range(1, T + 1))
    assert [f.phase for f in frames].count(LOSS) == 1
    assert [f.t for f in frames if f.phase == BACKWARD] == list(range(T, 0, -1))
    for f in frames:
        assert frame_index(f.phase, f.t, T) == f.index
    with pytest.raises(IndexError):
        frame_at(2 * T + 1, T)


def test_known_steps_follow_the_cursor():
    T = 5
    f = frame_at(2, T)  # forward t = 3
    assert (f.fwd_t, f.bwd_t) == (3, T + 1)
    f = frame_at(T, T)  # loss
    assert (f.fwd_t, f.bwd_t) == (T, T + 1)
    f = frame_at(2 * T, T)  # backward t = 1
    assert (f.fwd_t, f.bwd_t) == (T, 1)


def test_cursor_moves_and_callbacks():
    s = Session(Config(models=("rnn",), seq_len=4, hidden_size=3))
    calls = []
    s.on_frame.append(lambda: calls.append(s.cursor))
    assert s.step_back() is False
    assert s.step() is True
    s.to_end()
    assert s.step() is False
    s.to_backward_start()
    assert s.frame.phase == BACKWARD
    assert s.frame.t == 4
    s.to_start()
    assert calls == [1, 8, 5, 0]


def test_recompute_keeps_the_cursor_place():
    s = Session(Config(models=("rnn", "lstm"), seq_len=10, hidden_size=3))
    s.seek_to(BACKWARD, 4)
    s.set_config(s.config.replace(seq_len=20))
    assert (s.frame.phase, s.frame.t) == (BACKWARD, 4)
    s.set_config(s.config.replace(seq_len=3))  # t = 4 no longer exists: clamped to 3
    assert (s.frame.phase, s.frame.t) == (BACKWARD, 3)


def test_models_share_one_input_and_loss_gradient_matches_engine():
    from lstmviz import engine

    s = Session(Config(models=("rnn", "lstm", "gru"), seq_len=6, hidden_size=4))
    xs = [r.trace.xs for r in s.runs.values()]
    assert all(np.array_equal(xs[0], x) for x in xs)
    run = s.runs["lstm"]
    grads = engine.backward(run.model, run.trace, run.dh_loss)
    assert np.array_equal(grads.h, run.grads.h)


def test_loss_at_every_step_reaches_every_h():
    s = Session(Config(models=("rnn",), seq_len=6, hidden_size=4, loss_where="every"))
    assert np.all(np.abs(s.runs["rnn"].dh_loss).sum(axis=(1, 2)) > 0)
    s = Session(Config(models=("rnn",), seq_len=6, hidden_size=4, loss_where="last"))
    assert np.all(s.runs["rnn"].dh_loss[:-1] == 0)


def test_failed_recompute_keeps_the_old_state():
    s = Session(Config(models=("rnn",), seq_len=4, hidden_size=3))
    model, _ = s.runs["rnn"].model, None
    runs = s.runs
    from lstmviz import engine
    from lstmviz.config import ConfigError

    wrong = engine.build_model("rnn", 5, 3)  # input size 5, the task feeds 1
    with pytest.raises(ConfigError, match="input size 5"):
        s.set_weights("rnn", wrong, None)
    assert s.runs is runs
    assert "rnn" not in s.weights
    assert model is s.runs["rnn"].model


def test_compute_runs_reports_its_progress_by_stage():
    from lstmviz.session import STAGE_SHARES, compute_runs

    for config in (Config(models=("rnn",), seq_len=6, hidden_size=3),
                   Config(models=("rnn", "lstm", "gru"), seq_len=120, hidden_size=32)):
        seen = []
        compute_runs(config, jacobians=False, progress=seen.append)
        assert len(seen) == len(config.models) * len(STAGE_SHARES)  # each stage of each run
        assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
        assert 0 < seen[0] < 1


def test_a_stacks_exact_norms_report_progress_over_every_layer():
    """The bar of a 3-layer run moves while its lower layers compute (it sat at 0 until the
    top layer, most of the time at big sizes), and ends at L * T."""
    from lstmviz.session import compute_runs

    run = compute_runs(Config(models=("lstm",), seq_len=30, hidden_size=8, num_layers=3),
                       jacobians=False)["lstm"]
    seen = []
    done = run.completed(lambda d, total: seen.append((d, total)))
    assert done.jacobians_ready
    assert {total for _, total in seen} == {90}
    steps = [d for d, _ in seen]
    assert steps == sorted(steps) and steps[-1] == 90
    assert any(d <= 30 for d in steps) and any(30 < d <= 60 for d in steps)
