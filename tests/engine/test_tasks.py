"""The toy tasks: shapes, seeding, and the task-specific structure of inputs and targets."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.engine import (
    TASKS,
    EngineError,
    build_model,
    build_readout,
    forward,
    loss_and_grad,
    make_task,
)


@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize(("T", "B"), [(2, 1), (30, 4)])
def test_every_task_feeds_a_model_and_a_loss(name, T, B):
    task = make_task(name, T, B, seed=1)
    assert task.xs.shape == (T, B, task.input_size)
    assert task.description.endswith(".")
    model = build_model("lstm", task.input_size, 4)
    ro = build_readout(4, task.output_size)
    val, dh, _ = loss_and_grad(
        ro, forward(model, task.xs).h, task.targets, loss=task.loss, where=task.where
    )
    assert np.isfinite(val)
    assert dh.shape == (T, B, 4)
    again = make_task(name, T, B, seed=1)
    np.testing.assert_array_equal(again.xs, task.xs)
    np.testing.assert_array_equal(again.targets, task.targets)


def test_adding_task_marks_one_value_per_half_and_sums_them():
    task = make_task("adding", 50, 8, seed=4)
    marks = task.xs[:, :, 1]
    assert np.all(marks.sum(axis=0) == 2)
    assert np.all(marks[:25].sum(axis=0) == 1)
    values = (task.xs[:, :, 0] * marks).sum(axis=0)
    np.testing.assert_allclose(task.targets[:, 0], values)
    assert np.all((task.xs[:, :, 0] >= 0) & (task.xs[:, :, 0] <= 1))


def test_recall_task_shows_symbol_first_and_cues_last():
    task = make_task("recall", 10, 6, seed=2, n_symbols=5)
    assert task.input_size == 6
    assert task.output_size == 5
    assert task.loss == "xent"
    np.testing.assert_array_equal(task.xs[0, :, :5].argmax(axis=1), task.targets)
    assert np.all(task.xs[-1, :, 5] == 1)
    assert np.all(task.xs[1:-1] == 0)


def test_sine_targets_are_the_next_value_with_period_20():
    task = make_task("sine", 45, 2, seed=0)
    assert task.where == "every"
    np.testing.assert_allclose(task.targets[:-1], task.xs[1:])
    np.testing.assert_allclose(task.xs[20:40], task.xs[0:20], atol=1e-12)


def test_impulse_and_noise_targets_are_the_first_input():
    imp = make_task("impulse", 5, 2, amplitude=0.5)
    assert np.all(imp.xs[0] == 0.5)
    assert np.all(imp.xs[1:] == 0)
    np.testing.assert_array_equal(imp.targets, np.full((2, 1), 0.5))
    noise = make_task("noise", 5, 3, seed=9)
    np.testing.assert_array_equal(noise.targets, noise.xs[0])


def test_bad_task_arguments():
    with pytest.raises(EngineError, match="name: expected one of"):
        make_task("copy", 5)
    with pytest.raises(EngineError, match="seq_len: expected an integer >= 1, got 0"):
        make_task("noise", 0)
    with pytest.raises(EngineError, match="seq_len: expected >= 2 for the adding task"):
        make_task("adding", 1)
    with pytest.raises(EngineError, match="period: not an option of task 'noise'"):
        make_task("noise", 5, period=3)
    with pytest.raises(EngineError, match="n_symbols: expected an integer >= 2"):
        make_task("recall", 5, n_symbols=1)
